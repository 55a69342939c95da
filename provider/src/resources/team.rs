//! `mixpanel_team`: a team of users and service accounts; its project roles are
//! `mixpanel_team_project`, its members `mixpanel_team_member`.

use mixpanel_access::model::{Team, TeamId};

use crate::cty::Value;
use crate::framework::resource::ApplyError;
use crate::framework::resource::{api_diag, bad_import_id, removed, req_str};
use crate::framework::{
    Attribute, CacheKey, Ctx, Diagnostic, Diagnostics, Indexed, Resource, Schema,
};

use super::id_attr;

pub struct TeamResource;

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

fn state(t: &Team) -> Value {
    Value::object([
        ("id", Value::string(t.id.to_string())),
        ("name", Value::string(&t.name)),
        ("scim_managed", Value::Bool(t.scim_managed)),
    ])
}

#[tonic::async_trait]
impl Resource for TeamResource {
    fn type_name(&self) -> &'static str {
        "mixpanel_team"
    }

    fn schema(&self) -> Schema {
        Schema::new("A team. Members get the team's project roles. Deleting a team revokes the access it granted; access from other grants stays.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("The team's numeric id."))
            .attr(Attribute::string("name").required().describe("The team's name, unique in the organization. With SCIM, use the identity provider's group name."))
            .attr(Attribute::bool("scim_managed").computed().use_state_for_unknown().describe("Whether the team is provisioned by SCIM (then change it in the identity provider)."))
    }

    async fn create(&self, ctx: &Ctx, planned: &Value) -> Result<Value, ApplyError> {
        let org = ctx.org();
        let name = req_str(planned, "name")?;
        let team = ctx
            .client
            .create_team(org, name)
            .await
            .map_err(|e| api_diag("Cannot create the team", &e, Some("name")))?;
        ctx.cache.invalidate();
        match find_team(ctx, team.id).await? {
            Some(t) => Ok(state(&t)),
            None => Err(ApplyError::partial(
                Some(state(&team)),
                Diagnostic::error(
                    "Team not listed after creation",
                    format!("Mixpanel created team {} but does not list it; it is recorded (tainted) so that the next apply does not create a twin.", team.id),
                ),
            )),
        }
    }

    async fn read(&self, ctx: &Ctx, state_in: &Value) -> Result<Option<Value>, Diagnostics> {
        let id: TeamId = id_attr(state_in, "id")?;
        match find_team(ctx, id).await? {
            Some(t) => Ok(Some(state(&t))),
            None => ctx.not_found(&format!("team {id}")),
        }
    }

    async fn update(&self, ctx: &Ctx, prior: &Value, planned: &Value) -> Result<Value, ApplyError> {
        let org = ctx.org();
        let id: TeamId = id_attr(prior, "id")?;
        let name = req_str(planned, "name")?;
        ctx.client
            .rename_team(org, id, name)
            .await
            .map_err(|e| api_diag("Cannot rename the team", &e, Some("name")))?;
        ctx.cache.invalidate();
        find_team(ctx, id)
            .await?
            .as_ref()
            .map(state)
            .ok_or_else(|| Diagnostic::error("Team vanished", format!("Team {id} is gone")).into())
    }

    async fn delete(&self, ctx: &Ctx, state_in: &Value) -> Result<(), Diagnostics> {
        let org = ctx.org();
        let id: TeamId = id_attr(state_in, "id")?;
        let result = ctx.client.delete_team(org, id).await;
        removed(
            ctx,
            result,
            "Cannot delete the team",
            "Delete the team in Mixpanel's web app (Organization Settings > Teams), then run terraform apply again.",
            || async { Ok(find_team(ctx, id).await?.is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let tid: TeamId = id
            .parse()
            .map_err(|_| bad_import_id(id, self.import_id_format()))?;
        find_team(ctx, tid)
            .await?
            .as_ref()
            .map(state)
            .ok_or_else(|| {
                Diagnostic::error(
                    "Cannot import a team that does not exist",
                    format!("The organization has no team {tid}"),
                )
                .into()
            })
    }

    fn import_id_format(&self) -> &'static str {
        "the numeric team id, e.g. 42"
    }
}
