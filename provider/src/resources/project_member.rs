//! `mixpanel_project_member`: one user's individual grant on a project. Access through teams,
//! the organization role or the "All Users" default role is not this resource's to manage
//! (see the `mixpanel_effective_access` data source).

use mixpanel_access::model::{Email, ProjectId, ProjectRole, TargetType, UserGrant};

use crate::cty::Value;
use crate::framework::resource::ApplyError;
use crate::framework::resource::{api_diag, parse_attr, removed};
use crate::framework::{
    Attribute, CacheKey, Ctx, Diagnostic, Diagnostics, Indexed, Resource, Schema, Validator,
};

use super::{id_attr, split2_parsed, NUMERIC_ID, PROJECT_ROLES};

pub struct ProjectMemberResource;

/// The users granted access to a project, with each individual grant found by e-mail.
pub(crate) async fn granted_users(
    ctx: &Ctx,
    project: ProjectId,
) -> Result<std::sync::Arc<Indexed<Email, UserGrant>>, Diagnostic> {
    ctx.cache
        .get_indexed(
            CacheKey::GrantedUsers(project),
            || ctx.client.granted_users(project),
            |g| (g.target_type == TargetType::Individual).then(|| g.email.clone()),
        )
        .await
        .map_err(|e| api_diag("Cannot list the project's users", &e, Some("project_id")))
}

async fn read_grant(
    ctx: &Ctx,
    project: ProjectId,
    email: &Email,
) -> Result<Option<Value>, Diagnostics> {
    let grants = granted_users(ctx, project).await?;
    Ok(grants.get(email).map(|g| {
        Value::object([
            ("id", Value::string(format!("{project}/{email}"))),
            ("project_id", Value::string(project.to_string())),
            ("email", Value::string(email.as_str())),
            ("role", Value::string(g.role.as_str())),
        ])
    }))
}

#[tonic::async_trait]
impl Resource for ProjectMemberResource {
    fn type_name(&self) -> &'static str {
        "mixpanel_project_member"
    }

    fn schema(&self) -> Schema {
        Schema::new("A user's individual grant on a project. The user must be a member of the organization first (`mixpanel_organization_member`). Removing a grant is not available upstream yet: the emulator only.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().case_insensitive().describe("`<project_id>/<email>`."))
            .attr(
                Attribute::string("project_id")
                    .required()
                    .requires_replace()
                    .validate(NUMERIC_ID)
                    .describe("The project's id."),
            )
            .attr(
                Attribute::string("email")
                    .required()
                    .requires_replace()
                    .case_insensitive()
                    .validate(Validator::Email)
                    .describe("The user's e-mail address."),
            )
            .attr(
                Attribute::string("role")
                    .required()
                    .validate(PROJECT_ROLES)
                    .describe("Project role: `owner`, `admin`, `analyst` or `consumer`. Only a project owner may grant `owner`."),
            )
    }

    async fn create(&self, ctx: &Ctx, planned: &Value) -> Result<Value, ApplyError> {
        self.grant(ctx, planned).await
    }

    async fn read(&self, ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let project: ProjectId = id_attr(state, "project_id")?;
        let email: Email = parse_attr(state, "email")?;
        read_grant(ctx, project, &email).await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _prior: &Value,
        planned: &Value,
    ) -> Result<Value, ApplyError> {
        self.grant(ctx, planned).await
    }

    async fn delete(&self, ctx: &Ctx, state: &Value) -> Result<(), Diagnostics> {
        let org = ctx.org();
        let project: ProjectId = id_attr(state, "project_id")?;
        let email: Email = parse_attr(state, "email")?;
        let result = ctx
            .client
            .remove_users_from_projects(org, std::slice::from_ref(&email), &[project])
            .await;
        removed(
            ctx,
            result,
            "Cannot remove the project grant",
            &format!("Remove {email}'s individual role in Mixpanel's web app (Settings > Project Settings > Users & Teams of project {project}), then run terraform apply again."),
            || async { Ok(granted_users(ctx, project).await?.get(&email).is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let fmt = self.import_id_format();
        let (project, email): (ProjectId, Email) = split2_parsed(id, fmt)?;
        read_grant(ctx, project, &email).await?.ok_or_else(|| {
            Diagnostic::error(
                "Cannot import a grant that does not exist",
                format!("{email} has no individual grant on project {project}"),
            )
            .into()
        })
    }

    fn import_id_format(&self) -> &'static str {
        "<project_id>/<email>, e.g. 3141592/ana@example.com"
    }
}

impl ProjectMemberResource {
    async fn grant(&self, ctx: &Ctx, planned: &Value) -> Result<Value, ApplyError> {
        let org = ctx.org();
        let project: ProjectId = id_attr(planned, "project_id")?;
        let email: Email = parse_attr(planned, "email")?;
        let role: ProjectRole = parse_attr(planned, "role")?;
        ctx.client
            .add_users_to_projects(org, std::slice::from_ref(&email), &[project], role)
            .await
            .map_err(|e| api_diag("Cannot grant the project role", &e, Some("email")))?;
        ctx.cache.invalidate();
        read_grant(ctx, project, &email).await?.ok_or_else(|| {
            Diagnostic::error(
                "Grant not applied",
                format!("{email} was granted {role} on project {project} but Mixpanel does not list the grant"),
            )
            .into()
        })
    }
}
