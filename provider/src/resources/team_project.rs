//! `mixpanel_team_project`: a team's role on a project.

use mixpanel_access::model::{ProjectId, TeamId};
use mixpanel_access::permissions::AssignableRole;
use serde::{Deserialize, Serialize};

use crate::context::{
    api_diag, existing_grant, removed, Ctx, GrantKey, ReadCache, ASSIGNABLE_ROLES, NUMERIC_ID,
};
use crate::cty::Unknowable;
use crate::framework::{
    as_string, Applied, Attribute, Diagnostic, Diagnostics, Schema, TypedResource,
};

use super::split2_parsed;
use super::team::find_team;

pub struct TeamProjectResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamProject {
    id: Unknowable<String>,
    #[serde(with = "as_string")]
    team_id: TeamId,
    #[serde(with = "as_string")]
    project_id: ProjectId,
    role: AssignableRole,
}

async fn read_grant(
    ctx: &Ctx,
    team: TeamId,
    project: ProjectId,
) -> Result<Option<TeamProject>, Diagnostics> {
    let Some(t) = find_team(ctx, team).await? else {
        return Ok(None);
    };
    Ok(t.projects
        .iter()
        .find(|g| g.id == project)
        .map(|g| TeamProject {
            id: Unknowable::Known(format!("{team}/{project}")),
            team_id: team,
            project_id: project,
            role: AssignableRole::from_wire(
                g.role,
                t.custom_roles
                    .iter()
                    .find(|c| c.id == project)
                    .map(|c| c.custom_role_id.as_str()),
            ),
        }))
}

#[tonic::async_trait]
impl TypedResource<Ctx> for TeamProjectResource {
    type Model = TeamProject;

    fn type_name(&self) -> &'static str {
        "mixpanel_team_project"
    }

    fn schema(&self) -> Schema {
        Schema::new("A team's role on a project: every member of the team gets it.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("`<team_id>/<project_id>`."))
            .attr(Attribute::string("team_id").required().requires_replace().validate(NUMERIC_ID).describe("The team's id."))
            .attr(Attribute::string("project_id").required().requires_replace().validate(NUMERIC_ID).describe("The project's id."))
            .attr(
                Attribute::string("role")
                    .required()
                    .validate(ASSIGNABLE_ROLES)
                    .describe("Project role: `owner`, `admin`, `analyst` or `consumer`, or a custom role of the project as `custom:<role_id>` (the emulator only: how Mixpanel assigns custom roles is not known upstream). Only an organization owner may grant `owner`."),
            )
    }

    async fn create(&self, ctx: &Ctx, planned: TeamProject) -> Applied<TeamProject> {
        // Mixpanel's add-to-team changes a role the team already holds: check first.
        let (team, project) = (planned.team_id, planned.project_id);
        let now = ReadCache::any_listing(read_grant(ctx, team, project)).await?;
        let key = GrantKey {
            type_name: self.type_name(),
            who: format!("team {team}"),
            project,
            import_id: format!("{team}/{project}"),
            attr: "role",
        };
        // The check's listing may predate this apply's own writes (a removal of the same
        // grant, in a replacement): adopt only what a listing taken after them still shows.
        if existing_grant(&key, now, |g| &g.role, &planned.role)?.is_some() {
            if let Some(held) = read_grant(ctx, team, project)
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
        state: TeamProject,
    ) -> Result<Option<TeamProject>, Diagnostics> {
        let (team, project) = (state.team_id, state.project_id);
        match read_grant(ctx, team, project).await? {
            Some(g) => Ok(Some(g)),
            None => ctx.not_found(&format!("team {team}'s role on project {project}")),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _prior: TeamProject,
        planned: TeamProject,
    ) -> Applied<TeamProject> {
        grant(ctx, planned).await
    }

    async fn delete(&self, ctx: &Ctx, state: TeamProject) -> Result<(), Diagnostics> {
        let (team, project) = (state.team_id, state.project_id);
        let result = ctx
            .client
            .remove_projects_from_team(ctx.org(), team, &[project])
            .await;
        removed(
            result,
            "Cannot remove the team's project role",
            &format!("Remove project {project} from team {team} in Mixpanel's web app (Organization Settings > Teams), then run terraform apply again."),
            || async { Ok(read_grant(ctx, team, project).await?.is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<TeamProject, Diagnostics> {
        let (team, project): (TeamId, ProjectId) = split2_parsed(id, self.import_id_format())?;
        read_grant(ctx, team, project).await?.ok_or_else(|| {
            Diagnostic::error(
                "Cannot import a grant that does not exist",
                format!("Team {team} has no role on project {project}"),
            )
            .into()
        })
    }

    fn import_id_format(&self) -> &'static str {
        "<team_id>/<project_id>, e.g. 42/3141592"
    }
}

async fn grant(ctx: &Ctx, planned: TeamProject) -> Applied<TeamProject> {
    let (team, project, role) = (planned.team_id, planned.project_id, planned.role);
    ctx.client
        .grant_team_role(ctx.org(), team, project, &role)
        .await
        .map_err(|e| api_diag("Cannot grant the team a project role", &e, Some("role")))?;
    read_grant(ctx, team, project).await?.ok_or_else(|| {
        Diagnostic::error(
            "Grant not applied",
            format!(
                "Team {team} was granted {role} on project {project} but Mixpanel does not list it"
            ),
        )
        .into()
    })
}
