//! `mixpanel_organization_member`: a member of the organization and their organization role.
//! Creating it invites the user.

use mixpanel_access::api::ApiError;
use mixpanel_access::model::{Email, Member, MemberStatus, OrgRole};
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, removed, CacheKey, Ctx, Indexed, EMAIL, ORG_ROLES};
use crate::cty::Unknowable;
use crate::framework::resource::bad_import_id;
use crate::framework::{Applied, Attribute, Diagnostic, Diagnostics, Schema, TypedResource};

pub struct OrganizationMemberResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrganizationMember {
    id: Unknowable<String>,
    email: Email,
    role: OrgRole,
    status: Unknowable<MemberStatus>,
}

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

/// The member, with the e-mail spelled as asked (Mixpanel compares without case).
async fn read_member(ctx: &Ctx, email: Email) -> Result<Option<OrganizationMember>, Diagnostics> {
    let members = list_members(ctx).await?;
    Ok(members.get(&email).map(|m| OrganizationMember {
        id: Unknowable::Known(email.to_string()),
        role: m.role,
        status: Unknowable::Known(m.status),
        email,
    }))
}

async fn listed(ctx: &Ctx, email: Email, what: &str) -> Applied<OrganizationMember> {
    read_member(ctx, email.clone()).await?.ok_or_else(|| {
        Diagnostic::error(
            "Member not listed",
            format!("{email} {what} but Mixpanel does not list the member"),
        )
        .into()
    })
}

#[tonic::async_trait]
impl TypedResource<Ctx> for OrganizationMemberResource {
    type Model = OrganizationMember;

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
                    .validate(EMAIL)
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

    async fn create(&self, ctx: &Ctx, planned: OrganizationMember) -> Applied<OrganizationMember> {
        let (email, role) = (planned.email, planned.role);
        match ctx
            .client
            .invite_org_users(ctx.org(), std::slice::from_ref(&email), role)
            .await
        {
            Ok(()) => listed(ctx, email, "was invited").await,
            // Already a member (an earlier attempt whose answer was lost, an apply that was
            // killed): with the planned role that is the planned end state, verified by a read.
            Err(e @ ApiError::Conflict { .. }) => match read_member(ctx, email.clone()).await? {
                Some(m) if m.role == role => Ok(m),
                Some(m) => Err(Diagnostic::attr_error(
                    "role",
                    "The member exists with another role",
                    format!("{email} is already a member of the organization with the role {}, not {role}. To manage the member as they are, import them: `terraform import mixpanel_organization_member.<name> {email}` or an `import {{ to = mixpanel_organization_member.<name>\n  id = \"{email}\" }}` block; then apply changes the role to {role}.", m.role),
                )
                .into()),
                None => Err(api_diag("Cannot invite the member", &e, Some("email")).into()),
            },
            Err(e) => Err(api_diag("Cannot invite the member", &e, Some("email")).into()),
        }
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: OrganizationMember,
    ) -> Result<Option<OrganizationMember>, Diagnostics> {
        let email = state.email;
        match read_member(ctx, email.clone()).await? {
            Some(m) => Ok(Some(m)),
            None => ctx.not_found(&format!("the member {email}")),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _prior: OrganizationMember,
        planned: OrganizationMember,
    ) -> Applied<OrganizationMember> {
        let (email, role) = (planned.email, planned.role);
        ctx.client
            .update_org_user_role(ctx.org(), &email, role)
            .await
            .map_err(|e| api_diag("Cannot change the member's role", &e, Some("role")))?;
        listed(ctx, email, "was given a new role").await
    }

    async fn delete(&self, ctx: &Ctx, state: OrganizationMember) -> Result<(), Diagnostics> {
        let email = state.email;
        let result = ctx
            .client
            .remove_org_users(ctx.org(), std::slice::from_ref(&email))
            .await;
        removed(
            result,
            "Cannot remove the member",
            &format!("Remove {email} in Mixpanel's web app (Organization Settings > Users), then run terraform apply again."),
            || async { Ok(list_members(ctx).await?.get(&email).is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<OrganizationMember, Diagnostics> {
        let email: Email = id
            .parse()
            .map_err(|_| bad_import_id(id, self.import_id_format()))?;
        read_member(ctx, email.clone()).await?.ok_or_else(|| {
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
