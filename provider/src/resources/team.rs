//! `mixpanel_team`: a team of users and service accounts; its project roles are
//! `mixpanel_team_project`, its members `mixpanel_team_member`.

use mixpanel_access::model::{Team, TeamId};
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, planned_before, record_before, removed, CacheKey, Ctx, Indexed};
use crate::cty::Unknowable;
use crate::framework::resource::bad_import_id;
use crate::framework::{
    Applied, Attribute, Diagnostic, Diagnostics, Failed, Schema, TypedResource,
};

pub struct TeamResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamModel {
    id: Unknowable<String>,
    name: String,
    scim_managed: Unknowable<bool>,
}

impl TeamModel {
    fn of(t: &Team) -> TeamModel {
        TeamModel {
            id: Unknowable::Known(t.id.to_string()),
            name: t.name.clone(),
            scim_managed: Unknowable::Known(t.scim_managed),
        }
    }

    fn team_id(&self) -> Result<TeamId, Diagnostic> {
        super::known_id(&self.id, "id")
    }
}

/// The organization's teams, by id.
pub(crate) async fn list_teams(
    ctx: &Ctx,
) -> Result<std::sync::Arc<Indexed<TeamId, Team>>, Diagnostic> {
    let org = ctx.org();
    ctx.cache
        .get_indexed(
            CacheKey::Teams,
            || ctx.client.list_teams(org),
            |t| Some(t.id),
        )
        .await
        .map_err(|e| api_diag("Cannot list the organization's teams", &e, None))
}

pub(crate) async fn find_team(ctx: &Ctx, id: TeamId) -> Result<Option<Team>, Diagnostic> {
    Ok(list_teams(ctx).await?.get(&id).cloned())
}

#[tonic::async_trait]
impl TypedResource<Ctx> for TeamResource {
    type Model = TeamModel;

    fn type_name(&self) -> &'static str {
        "mixpanel_team"
    }

    fn schema(&self) -> Schema {
        Schema::new("A team. Members get the team's project roles. Deleting a team revokes the access it granted; access from other grants stays.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("The team's numeric id."))
            .attr(Attribute::string("name").required().describe("The team's name, unique in the organization. With SCIM, use the identity provider's group name."))
            .attr(Attribute::bool("scim_managed").computed().use_state_for_unknown().describe("Whether the team is provisioned by SCIM (then change it in the identity provider)."))
    }

    async fn plan_private(
        &self,
        ctx: &Ctx,
        prior: Option<TeamModel>,
        planned: TeamModel,
    ) -> Option<Vec<u8>> {
        let teams = list_teams(ctx).await.ok()?;
        record_before(
            teams
                .iter()
                .filter(|t| t.name == planned.name)
                .map(|t| t.id.0),
            prior.and_then(|t| t.team_id().ok()).map(|id| id.0),
        )
    }

    async fn create(&self, ctx: &Ctx, planned: TeamModel) -> Applied<TeamModel> {
        let before = planned_before();
        let team = ctx
            .client
            .create_team_checked(ctx.org(), &planned.name, before.as_deref())
            .await
            .map_err(|e| api_diag("Cannot create the team", &e, Some("name")))?;
        match find_team(ctx, team.id).await? {
            Some(t) => Ok(TeamModel::of(&t)),
            None => Err(Failed::partial(
                Some(TeamModel::of(&team)),
                Diagnostic::error(
                    "Team not listed after creation",
                    format!("Mixpanel created team {} but does not list it; it is recorded (tainted) so that the next apply does not create a twin.", team.id),
                ),
            )),
        }
    }

    async fn read(&self, ctx: &Ctx, state: TeamModel) -> Result<Option<TeamModel>, Diagnostics> {
        let id = state.team_id()?;
        match find_team(ctx, id).await? {
            Some(t) => Ok(Some(TeamModel::of(&t))),
            None => ctx.not_found(&format!("team {id}")),
        }
    }

    async fn update(&self, ctx: &Ctx, prior: TeamModel, planned: TeamModel) -> Applied<TeamModel> {
        let id = prior.team_id()?;
        ctx.client
            .rename_team(ctx.org(), id, &planned.name)
            .await
            .map_err(|e| api_diag("Cannot rename the team", &e, Some("name")))?;
        match find_team(ctx, id).await? {
            Some(t) => Ok(TeamModel::of(&t)),
            None => Err(Diagnostic::error("Team vanished", format!("Team {id} is gone")).into()),
        }
    }

    async fn delete(&self, ctx: &Ctx, state: TeamModel) -> Result<(), Diagnostics> {
        let id = state.team_id()?;
        let result = ctx.client.delete_team(ctx.org(), id).await;
        removed(
            result,
            "Cannot delete the team",
            "Delete the team in Mixpanel's web app (Organization Settings > Teams), then run terraform apply again.",
            || async { Ok(find_team(ctx, id).await?.is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<TeamModel, Diagnostics> {
        let tid: TeamId = id
            .parse()
            .map_err(|_| bad_import_id(id, self.import_id_format()))?;
        match find_team(ctx, tid).await? {
            Some(t) => Ok(TeamModel::of(&t)),
            None => Err(Diagnostic::error(
                "Cannot import a team that does not exist",
                format!("The organization has no team {tid}"),
            )
            .into()),
        }
    }

    fn import_id_format(&self) -> &'static str {
        "the numeric team id, e.g. 42"
    }
}
