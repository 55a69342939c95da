//! `mixpanel_service_account_project`: a service account's individual role on a project.

use mixpanel_access::model::{ProjectId, ProjectServiceAccount, ServiceAccountId, TargetType};
use mixpanel_access::permissions::AssignableRole;
use serde::{Deserialize, Serialize};

use crate::context::{
    api_diag, existing_grant, removed, CacheKey, Ctx, GrantKey, Indexed, ReadCache, NUMERIC_ID,
};
use crate::cty::Unknowable;
use crate::framework::{
    as_string, Applied, Attribute, Diagnostic, Diagnostics, Schema, TypedResource, Validator,
};

use super::split2_parsed;

pub struct ServiceAccountProjectResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceAccountProject {
    id: Unknowable<String>,
    #[serde(with = "as_string")]
    project_id: ProjectId,
    #[serde(with = "as_string")]
    service_account_id: ServiceAccountId,
    role: AssignableRole,
}

/// A project's service accounts, by account id.
pub(crate) async fn project_accounts(
    ctx: &Ctx,
    project: ProjectId,
) -> Result<std::sync::Arc<Indexed<ServiceAccountId, ProjectServiceAccount>>, Diagnostic> {
    ctx.cache
        .get_indexed(
            CacheKey::ProjectServiceAccounts(project),
            || ctx.client.list_project_service_accounts(project),
            |m| Some(m.account.id),
        )
        .await
        .map_err(|e| {
            api_diag(
                "Cannot list the project's service accounts",
                &e,
                Some("project_id"),
            )
        })
}

async fn read_grant(
    ctx: &Ctx,
    project: ProjectId,
    sa: ServiceAccountId,
    known_role: Option<AssignableRole>,
) -> Result<Option<ServiceAccountProject>, Diagnostics> {
    let accounts = project_accounts(ctx, project).await?;
    let Some(m) = accounts.get(&sa) else {
        return Ok(None);
    };
    // Mixpanel lists one entry per account with its strongest grant; where a team or the
    // organization role outranks the individual grant, the individual role is not visible and
    // the last known one stands.
    let listed = AssignableRole::from_wire(m.project_role, m.custom_role_id.as_deref());
    let role = match (m.target_type, known_role) {
        (TargetType::Individual, _) | (_, None) => listed,
        (_, Some(r)) => r,
    };
    Ok(Some(ServiceAccountProject {
        id: Unknowable::Known(format!("{project}/{sa}")),
        project_id: project,
        service_account_id: sa,
        role,
    }))
}

/// The account's individual role on the project, when Mixpanel lists one (where a team or the
/// organization role outranks it, the listing shows that instead and this is `None`).
async fn individual_grant(
    ctx: &Ctx,
    project: ProjectId,
    sa: ServiceAccountId,
) -> Result<Option<AssignableRole>, Diagnostic> {
    let accounts = project_accounts(ctx, project).await?;
    Ok(accounts
        .get(&sa)
        .filter(|m| m.target_type == TargetType::Individual)
        .map(|m| AssignableRole::from_wire(m.project_role, m.custom_role_id.as_deref())))
}

#[tonic::async_trait]
impl TypedResource<Ctx> for ServiceAccountProjectResource {
    type Model = ServiceAccountProject;

    fn type_name(&self) -> &'static str {
        "mixpanel_service_account_project"
    }

    fn schema(&self) -> Schema {
        Schema::new("A service account's role on a project (an individual grant).")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("`<project_id>/<service_account_id>`."))
            .attr(Attribute::string("project_id").required().requires_replace().validate(NUMERIC_ID).describe("The project's id."))
            .attr(Attribute::string("service_account_id").required().requires_replace().validate(NUMERIC_ID).describe("The service account's id."))
            .attr(
                Attribute::string("role")
                    .required()
                    .validate(Validator::Custom(account_role))
                    .describe("Project role: `admin`, `analyst` or `consumer` (service accounts cannot be owners), or a custom role of the project as `custom:<role_id>` (the emulator only: how Mixpanel assigns custom roles is not known upstream)."),
            )
    }

    async fn create(
        &self,
        ctx: &Ctx,
        planned: ServiceAccountProject,
    ) -> Applied<ServiceAccountProject> {
        // Mixpanel's add-to-project changes a role the account already holds: check first.
        let (project, sa) = (planned.project_id, planned.service_account_id);
        let now = ReadCache::any_listing(individual_grant(ctx, project, sa)).await?;
        let key = GrantKey {
            type_name: self.type_name(),
            who: format!("service account {sa}"),
            project,
            import_id: format!("{project}/{sa}"),
            attr: "role",
        };
        if let Some(role) = existing_grant(&key, now, |r| r, &planned.role)? {
            if let Some(held) = read_grant(ctx, project, sa, Some(role)).await? {
                return Ok(held);
            }
        }
        grant(ctx, planned).await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: ServiceAccountProject,
    ) -> Result<Option<ServiceAccountProject>, Diagnostics> {
        read_grant(
            ctx,
            state.project_id,
            state.service_account_id,
            Some(state.role),
        )
        .await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _prior: ServiceAccountProject,
        planned: ServiceAccountProject,
    ) -> Applied<ServiceAccountProject> {
        grant(ctx, planned).await
    }

    async fn delete(&self, ctx: &Ctx, state: ServiceAccountProject) -> Result<(), Diagnostics> {
        let (project, sa) = (state.project_id, state.service_account_id);
        let result = ctx
            .client
            .remove_service_accounts_from_projects(ctx.org(), project, &[sa])
            .await;
        removed(
            result,
            "Cannot remove the service account from the project",
            &format!("Remove service account {sa} from project {project} in Mixpanel's web app (Organization Settings > Service Accounts), then run terraform apply again."),
            // Mixpanel lists each account's strongest grant: an individual one still listed
            // is one the removal left.
            || async {
                Ok(project_accounts(ctx, project)
                    .await?
                    .get(&sa)
                    .is_some_and(|m| m.target_type == TargetType::Individual))
            },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<ServiceAccountProject, Diagnostics> {
        let (project, sa): (ProjectId, ServiceAccountId) =
            split2_parsed(id, self.import_id_format())?;
        read_grant(ctx, project, sa, None).await?.ok_or_else(|| {
            Diagnostic::error(
                "Cannot import a grant that does not exist",
                format!("Service account {sa} has no role on project {project}"),
            )
            .into()
        })
    }

    fn import_id_format(&self) -> &'static str {
        "<project_id>/<service_account_id>, e.g. 3141592/191160"
    }
}

async fn grant(ctx: &Ctx, planned: ServiceAccountProject) -> Applied<ServiceAccountProject> {
    let (project, sa, role) = (planned.project_id, planned.service_account_id, planned.role);
    ctx.client
        .grant_accounts_role(ctx.org(), &[sa], project, &role)
        .await
        .map_err(|e| {
            api_diag(
                "Cannot grant the service account a project role",
                &e,
                Some("role"),
            )
        })?;
    read_grant(ctx, project, sa, Some(role.clone())).await?.ok_or_else(|| {
        Diagnostic::error(
            "Grant not applied",
            format!("Service account {sa} was granted {role} on project {project} but Mixpanel does not list it"),
        )
        .into()
    })
}

/// A role a service account may hold: below owner, or a custom role.
fn account_role(v: &crate::cty::Value) -> Option<String> {
    let s = v.as_str()?;
    match s.parse::<AssignableRole>() {
        Ok(AssignableRole::Builtin(mixpanel_access::model::ProjectRole::Owner)) => Some(
            "service accounts cannot be owners: use admin, analyst, consumer or custom:<role_id>"
                .into(),
        ),
        Ok(_) => None,
        Err(e) => Some(e),
    }
}
