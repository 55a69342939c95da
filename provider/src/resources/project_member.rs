//! `mixpanel_project_member`: one user's individual grant on a project. Access through teams,
//! the organization role or the "All Users" default role is not this resource's to manage
//! (see the `mixpanel_effective_access` data source).

use mixpanel_access::model::{Email, ProjectId, TargetType, UserGrant};
use mixpanel_access::permissions::AssignableRole;
use serde::{Deserialize, Serialize};

use crate::context::{
    api_diag, existing_grant, removed, CacheKey, Ctx, GrantKey, Indexed, ReadCache,
    ASSIGNABLE_ROLES, EMAIL, NUMERIC_ID,
};
use crate::cty::Unknowable;
use crate::framework::{
    as_string, Applied, Attribute, Diagnostic, Diagnostics, Schema, TypedResource,
};

use super::split2_parsed;

pub struct ProjectMemberResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectMember {
    id: Unknowable<String>,
    #[serde(with = "as_string")]
    project_id: ProjectId,
    email: Email,
    role: AssignableRole,
}

impl ProjectMember {
    fn new(project_id: ProjectId, email: Email, role: AssignableRole) -> ProjectMember {
        ProjectMember {
            id: Unknowable::Known(format!("{project_id}/{email}")),
            project_id,
            email,
            role,
        }
    }
}

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

/// The individual grant, with the e-mail spelled as asked (Mixpanel compares without case).
async fn read_grant(
    ctx: &Ctx,
    project: ProjectId,
    email: Email,
) -> Result<Option<ProjectMember>, Diagnostics> {
    let grants = granted_users(ctx, project).await?;
    let role = grants
        .get(&email)
        .map(|g| AssignableRole::from_wire(g.role, g.custom_role_id.as_deref()));
    Ok(role.map(|r| ProjectMember::new(project, email, r)))
}

#[tonic::async_trait]
impl TypedResource<Ctx> for ProjectMemberResource {
    type Model = ProjectMember;

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
                    .validate(EMAIL)
                    .describe("The user's e-mail address."),
            )
            .attr(
                Attribute::string("role")
                    .required()
                    .validate(ASSIGNABLE_ROLES)
                    .describe("Project role: `owner`, `admin`, `analyst` or `consumer`, or a custom role of the project as `custom:<role_id>` (the `role_id` of a `mixpanel_custom_role`; how Mixpanel assigns custom roles is not known upstream: the emulator only). Only a project owner may grant `owner`."),
            )
    }

    async fn create(&self, ctx: &Ctx, planned: ProjectMember) -> Applied<ProjectMember> {
        // Mixpanel's add-to-project changes a role the user already holds: check first.
        let (project, email) = (planned.project_id, planned.email.clone());
        let now = ReadCache::any_listing(read_grant(ctx, project, email.clone())).await?;
        let key = GrantKey {
            type_name: self.type_name(),
            who: email.to_string(),
            project,
            import_id: format!("{project}/{email}"),
            attr: "role",
        };
        // The check's listing may predate this apply's own writes (a removal of the same
        // grant, in a replacement): adopt only what a listing taken after them still shows.
        if existing_grant(&key, now, |g| &g.role, &planned.role)?.is_some() {
            if let Some(held) = read_grant(ctx, project, email.clone())
                .await?
                .filter(|g| g.role == planned.role)
            {
                return Ok(held);
            }
        }
        grant(ctx, planned).await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: ProjectMember,
    ) -> Result<Option<ProjectMember>, Diagnostics> {
        read_grant(ctx, state.project_id, state.email).await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _prior: ProjectMember,
        planned: ProjectMember,
    ) -> Applied<ProjectMember> {
        grant(ctx, planned).await
    }

    async fn delete(&self, ctx: &Ctx, state: ProjectMember) -> Result<(), Diagnostics> {
        let (project, email) = (state.project_id, state.email);
        let result = ctx
            .client
            .remove_users_from_projects(ctx.org(), std::slice::from_ref(&email), &[project])
            .await;
        removed(
            result,
            "Cannot remove the project grant",
            &format!("Remove {email}'s individual role in Mixpanel's web app (Settings > Project Settings > Users & Teams of project {project}), then run terraform apply again."),
            || async { Ok(granted_users(ctx, project).await?.get(&email).is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<ProjectMember, Diagnostics> {
        let (project, email): (ProjectId, Email) = split2_parsed(id, self.import_id_format())?;
        read_grant(ctx, project, email.clone())
            .await?
            .ok_or_else(|| {
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

async fn grant(ctx: &Ctx, planned: ProjectMember) -> Applied<ProjectMember> {
    let (project, email, role) = (planned.project_id, planned.email, planned.role);
    ctx.client
        .grant_users_role(ctx.org(), std::slice::from_ref(&email), &[project], &role)
        .await
        .map_err(|e| api_diag("Cannot grant the project role", &e, Some("email")))?;
    read_grant(ctx, project, email.clone()).await?.ok_or_else(|| {
        Diagnostic::error(
            "Grant not applied",
            format!("{email} was granted {role} on project {project} but Mixpanel does not list the grant"),
        )
        .into()
    })
}
