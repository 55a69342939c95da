//! `mixpanel_team_project`: a team's role on a project.

use mixpanel_access::model::{ProjectId, ProjectRole, ProjectRoleGrant, TeamId};

use crate::cty::Value;
use crate::framework::resource::ApplyError;
use crate::framework::resource::{api_diag, parse_attr, removed};
use crate::framework::{Attribute, Ctx, Diagnostic, Diagnostics, Resource, Schema};

use super::team::find_team;
use super::{id_attr, split2_parsed, NUMERIC_ID, PROJECT_ROLES};

pub struct TeamProjectResource;

async fn read_grant(
    ctx: &Ctx,
    team: TeamId,
    project: ProjectId,
) -> Result<Option<Value>, Diagnostics> {
    let Some(t) = find_team(ctx, team).await? else {
        return Ok(None);
    };
    Ok(t.projects.iter().find(|g| g.id == project).map(|g| {
        Value::object([
            ("id", Value::string(format!("{team}/{project}"))),
            ("team_id", Value::string(team.to_string())),
            ("project_id", Value::string(project.to_string())),
            ("role", Value::string(g.role.as_str())),
        ])
    }))
}

#[tonic::async_trait]
impl Resource for TeamProjectResource {
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
                    .validate(PROJECT_ROLES)
                    .describe("Project role: `owner`, `admin`, `analyst` or `consumer`. Only an organization owner may grant `owner`."),
            )
    }

    async fn create(&self, ctx: &Ctx, planned: &Value) -> Result<Value, ApplyError> {
        self.grant(ctx, planned).await
    }

    async fn read(&self, ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let (team, project): (TeamId, ProjectId) =
            (id_attr(state, "team_id")?, id_attr(state, "project_id")?);
        match read_grant(ctx, team, project).await? {
            Some(v) => Ok(Some(v)),
            None => ctx.not_found(&format!("team {team}'s role on project {project}")),
        }
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
        let team: TeamId = id_attr(state, "team_id")?;
        let project: ProjectId = id_attr(state, "project_id")?;
        let result = ctx
            .client
            .remove_projects_from_team(org, team, &[project])
            .await;
        removed(
            ctx,
            result,
            "Cannot remove the team's project role",
            &format!("Remove project {project} from team {team} in Mixpanel's web app (Organization Settings > Teams), then run terraform apply again."),
            || async { Ok(read_grant(ctx, team, project).await?.is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let fmt = self.import_id_format();
        let (team, project): (TeamId, ProjectId) = split2_parsed(id, fmt)?;
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

impl TeamProjectResource {
    async fn grant(&self, ctx: &Ctx, planned: &Value) -> Result<Value, ApplyError> {
        let org = ctx.org();
        let team: TeamId = id_attr(planned, "team_id")?;
        let project: ProjectId = id_attr(planned, "project_id")?;
        let role: ProjectRole = parse_attr(planned, "role")?;
        ctx.client
            .add_projects_to_team(org, team, &[ProjectRoleGrant { id: project, role }])
            .await
            .map_err(|e| api_diag("Cannot grant the team a project role", &e, Some("role")))?;
        ctx.cache.invalidate();
        read_grant(ctx, team, project).await?.ok_or_else(|| {
            Diagnostic::error(
                "Grant not applied",
                format!("Team {team} was granted {role} on project {project} but Mixpanel does not list it"),
            )
            .into()
        })
    }
}
