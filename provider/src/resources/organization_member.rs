//! `mixpanel_organization_member`: a member of the organization and their organization role.
//! Creating it invites the user.

use mixpanel_access::model::{Email, Member, OrgRole};

use crate::cty::Value;
use crate::framework::resource::ApplyError;
use crate::framework::resource::{api_diag, parse_attr, removed};
use crate::framework::{
    Attribute, CacheKey, Ctx, Diagnostic, Diagnostics, Indexed, Resource, Schema, Validator,
};

use super::ORG_ROLES;

pub struct OrganizationMemberResource;

/// The organization's members, by e-mail.
pub(crate) async fn list_members(
    ctx: &Ctx,
) -> Result<std::sync::Arc<Indexed<Email, Member>>, Diagnostic> {
    let org = ctx.org();
    ctx.cache
        .get_indexed(
            CacheKey::OrgUsers,
            || ctx.client.list_org_users(org),
            |m| Some(m.email.clone()),
        )
        .await
        .map_err(|e| api_diag("Cannot list the organization's members", &e, None))
}

/// The member's state, with the e-mail spelled as asked (Mixpanel compares without case).
fn state(email: &Email, m: &Member) -> Value {
    Value::object([
        ("id", Value::string(email.as_str())),
        ("email", Value::string(email.as_str())),
        ("role", Value::string(m.role.as_str())),
        ("status", Value::string(m.status.as_str())),
    ])
}

async fn read_member(ctx: &Ctx, email: &Email) -> Result<Option<Value>, Diagnostics> {
    Ok(list_members(ctx).await?.get(email).map(|m| state(email, m)))
}

#[tonic::async_trait]
impl Resource for OrganizationMemberResource {
    fn type_name(&self) -> &'static str {
        "mixpanel_organization_member"
    }

    fn schema(&self) -> Schema {
        Schema::new("A member of the Mixpanel organization and their organization role. Creating it invites the user by e-mail; destroying it removes them from the organization, its projects and teams.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().case_insensitive().describe("The member's e-mail address."))
            .attr(
                Attribute::string("email")
                    .required()
                    .requires_replace()
                    .case_insensitive()
                    .validate(Validator::Email)
                    .describe("The member's e-mail address."),
            )
            .attr(
                Attribute::string("role")
                    .required()
                    .validate(ORG_ROLES)
                    .describe("Organization role: `owner`, `admin`, `billing_admin` or `member`. Only an owner may assign `owner`."),
            )
            .attr(Attribute::string("status").computed().use_state_for_unknown().describe("`invited` until the user accepts, then `active`."))
    }

    async fn create(&self, ctx: &Ctx, planned: &Value) -> Result<Value, ApplyError> {
        let org = ctx.org();
        let email: Email = parse_attr(planned, "email")?;
        let role: OrgRole = parse_attr(planned, "role")?;
        ctx.client
            .invite_org_users(org, std::slice::from_ref(&email), role)
            .await
            .map_err(|e| api_diag("Cannot invite the member", &e, Some("email")))?;
        ctx.cache.invalidate();
        read_member(ctx, &email).await?.ok_or_else(|| {
            Diagnostic::error(
                "Member vanished",
                format!("{email} was invited but is not listed"),
            )
            .into()
        })
    }

    async fn read(&self, ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let email: Email = parse_attr(state, "email")?;
        match read_member(ctx, &email).await? {
            Some(v) => Ok(Some(v)),
            None => ctx.not_found(&format!("the member {email}")),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _prior: &Value,
        planned: &Value,
    ) -> Result<Value, ApplyError> {
        let org = ctx.org();
        let email: Email = parse_attr(planned, "email")?;
        let role: OrgRole = parse_attr(planned, "role")?;
        ctx.client
            .update_org_user_role(org, &email, role)
            .await
            .map_err(|e| api_diag("Cannot change the member's role", &e, Some("role")))?;
        ctx.cache.invalidate();
        read_member(ctx, &email).await?.ok_or_else(|| {
            Diagnostic::error("Member vanished", format!("{email} is no longer a member")).into()
        })
    }

    async fn delete(&self, ctx: &Ctx, state: &Value) -> Result<(), Diagnostics> {
        let org = ctx.org();
        let email: Email = parse_attr(state, "email")?;
        let result = ctx
            .client
            .remove_org_users(org, std::slice::from_ref(&email))
            .await;
        removed(
            ctx,
            result,
            "Cannot remove the member",
            &format!("Remove {email} in Mixpanel's web app (Organization Settings > Users), then run terraform apply again."),
            || async { Ok(list_members(ctx).await?.get(&email).is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let email: Email = id
            .parse()
            .map_err(|_| crate::framework::resource::bad_import_id(id, self.import_id_format()))?;
        read_member(ctx, &email).await?.ok_or_else(|| {
            Diagnostic::error(
                "Cannot import a member who does not exist",
                format!("{email} is not a member of the organization"),
            )
            .into()
        })
    }

    fn import_id_format(&self) -> &'static str {
        "the member's e-mail address, e.g. ana@example.com"
    }
}
