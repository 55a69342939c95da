//! `mixpanel_team_member`: a user (by e-mail) or a service account in a team.

use mixpanel_access::model::{Email, ServiceAccountId, TeamId};
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, removed, Ctx, EMAIL, NUMERIC_ID};
use crate::cty::{Unknowable, Value};
use crate::framework::resource::bad_import_id;
use crate::framework::{
    as_string, Applied, Attribute, Diagnostic, Diagnostics, Schema, TypedResource,
};

use super::split2;
use super::team::find_team;

pub struct TeamMemberResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamMember {
    id: Unknowable<String>,
    #[serde(with = "as_string")]
    team_id: TeamId,
    email: Option<Email>,
    service_account_id: Option<String>,
}

#[derive(Debug, Clone)]
enum Who {
    User(Email),
    Account(ServiceAccountId),
}

impl TeamMember {
    fn new(team: TeamId, w: Who) -> TeamMember {
        let (id, email, sa) = match w {
            Who::User(e) => (format!("{team}/{e}"), Some(e), None),
            Who::Account(a) => (
                format!("{team}/service_account/{a}"),
                None,
                Some(a.to_string()),
            ),
        };
        TeamMember {
            id: Unknowable::Known(id),
            team_id: team,
            email,
            service_account_id: sa,
        }
    }

    fn who(&self) -> Result<Who, Diagnostic> {
        match (&self.email, &self.service_account_id) {
            (Some(e), None) => Ok(Who::User(e.clone())),
            (None, Some(a)) => a.parse().map(Who::Account).map_err(|_| {
                Diagnostic::attr_error(
                    "service_account_id",
                    "Invalid value for service_account_id",
                    format!("\"{a}\" is not a numeric id"),
                )
            }),
            _ => Err(one_of()),
        }
    }
}

fn one_of() -> Diagnostic {
    Diagnostic::attr_error(
        "email",
        "Set exactly one of email and service_account_id",
        "A team member is either a user (email) or a service account (service_account_id).",
    )
}

/// Whether Mixpanel lists the member in the team (`false` when the team is not listed).
async fn is_listed(ctx: &Ctx, team: TeamId, w: &Who) -> Result<bool, Diagnostics> {
    let Some(t) = find_team(ctx, team).await? else {
        return Ok(false);
    };
    Ok(match w {
        Who::User(e) => t.members.contains(e),
        Who::Account(a) => t.service_accounts.contains(a),
    })
}

/// The membership, with the e-mail spelled as asked (Mixpanel compares without case).
async fn read_membership(
    ctx: &Ctx,
    team: TeamId,
    w: Who,
) -> Result<Option<TeamMember>, Diagnostics> {
    Ok(is_listed(ctx, team, &w)
        .await?
        .then(|| TeamMember::new(team, w)))
}

fn describe(team: TeamId, w: &Who) -> String {
    match w {
        Who::User(e) => format!("{e} in team {team}"),
        Who::Account(a) => format!("service account {a} in team {team}"),
    }
}

#[tonic::async_trait]
impl TypedResource<Ctx> for TeamMemberResource {
    type Model = TeamMember;

    fn type_name(&self) -> &'static str {
        "mixpanel_team_member"
    }

    fn schema(&self) -> Schema {
        Schema::new("A member of a team: a user (who must be a member of the organization) or a service account. Removing a user from a team is not available upstream yet: the emulator only.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().case_insensitive().describe("`<team_id>/<email>` or `<team_id>/service_account/<id>`."))
            .attr(Attribute::string("team_id").required().requires_replace().validate(NUMERIC_ID).describe("The team's id."))
            .attr(
                Attribute::string("email")
                    .optional()
                    .requires_replace()
                    .case_insensitive()
                    .validate(EMAIL)
                    .describe("The user's e-mail address. Set this or service_account_id."),
            )
            .attr(
                Attribute::string("service_account_id")
                    .optional()
                    .requires_replace()
                    .validate(NUMERIC_ID)
                    .describe("The service account's id. Set this or email."),
            )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let e = config.get_attr("email");
        let s = config.get_attr("service_account_id");
        let set = |v: Option<&Value>| v.map(|v| !v.is_null()).unwrap_or(false);
        let known = |v: Option<&Value>| v.map(Value::is_known).unwrap_or(true);
        if known(e) && known(s) && set(e) == set(s) {
            return one_of().into();
        }
        Diagnostics::new()
    }

    async fn create(&self, ctx: &Ctx, planned: TeamMember) -> Applied<TeamMember> {
        let team = planned.team_id;
        let w = planned.who()?;
        let result = match &w {
            Who::User(e) => {
                ctx.client
                    .add_users_to_team(ctx.org(), team, std::slice::from_ref(e))
                    .await
            }
            Who::Account(a) => {
                ctx.client
                    .add_service_accounts_to_team(ctx.org(), team, &[*a])
                    .await
            }
        };
        let attr = match w {
            Who::User(_) => "email",
            Who::Account(_) => "service_account_id",
        };
        result.map_err(|e| api_diag("Cannot add the team member", &e, Some(attr)))?;
        read_membership(ctx, team, w).await?.ok_or_else(|| {
            Diagnostic::error(
                "Membership not applied",
                format!("Team {team} does not list the new member"),
            )
            .into()
        })
    }

    async fn read(&self, ctx: &Ctx, state: TeamMember) -> Result<Option<TeamMember>, Diagnostics> {
        let (team, w) = (state.team_id, state.who()?);
        let what = describe(team, &w);
        match read_membership(ctx, team, w).await? {
            Some(m) => Ok(Some(m)),
            None => ctx.not_found(&what),
        }
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        _prior: TeamMember,
        planned: TeamMember,
    ) -> Applied<TeamMember> {
        // Every attribute forces replacement: nothing changes in place.
        Ok(planned)
    }

    async fn delete(&self, ctx: &Ctx, state: TeamMember) -> Result<(), Diagnostics> {
        let (team, w) = (state.team_id, state.who()?);
        let result = match &w {
            Who::User(e) => {
                ctx.client
                    .remove_users_from_team(ctx.org(), team, std::slice::from_ref(e))
                    .await
            }
            Who::Account(a) => {
                ctx.client
                    .remove_service_accounts_from_team(ctx.org(), team, &[*a])
                    .await
            }
        };
        removed(
            result,
            "Cannot remove the team member",
            &format!(
                "Remove {} in Mixpanel's web app (Organization Settings > Teams), then run terraform apply again.",
                describe(team, &w)
            ),
            || is_listed(ctx, team, &w),
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<TeamMember, Diagnostics> {
        let fmt = self.import_id_format();
        let (t, rest) = split2(id, fmt)?;
        let team: TeamId = t.parse().map_err(|_| bad_import_id(id, fmt))?;
        let w = match rest.strip_prefix("service_account/") {
            Some(a) => Who::Account(a.parse().map_err(|_| bad_import_id(id, fmt))?),
            None => Who::User(rest.parse().map_err(|_| bad_import_id(id, fmt))?),
        };
        read_membership(ctx, team, w).await?.ok_or_else(|| {
            Diagnostic::error(
                "Cannot import a membership that does not exist",
                format!("Team {team} has no such member ({rest})"),
            )
            .into()
        })
    }

    fn import_id_format(&self) -> &'static str {
        "<team_id>/<email> or <team_id>/service_account/<service_account_id>"
    }
}
