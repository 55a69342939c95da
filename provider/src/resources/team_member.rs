//! `mixpanel_team_member`: a user (by e-mail) or a service account in a team.

use mixpanel_access::model::{Email, ServiceAccountId, TeamId};

use crate::cty::Value;
use crate::framework::resource::ApplyError;
use crate::framework::resource::{api_diag, bad_import_id, opt_str, removed};
use crate::framework::{Attribute, Ctx, Diagnostic, Diagnostics, Resource, Schema, Validator};

use super::team::find_team;
use super::{id_attr, split2, NUMERIC_ID};

pub struct TeamMemberResource;

#[derive(Debug, Clone)]
enum Who {
    User(Email),
    Account(ServiceAccountId),
}

fn who(v: &Value) -> Result<Who, Diagnostics> {
    match (opt_str(v, "email"), opt_str(v, "service_account_id")) {
        (Some(e), None) => {
            e.parse()
                .map(Who::User)
                .map_err(|err: mixpanel_access::model::ParseError| {
                    Diagnostic::attr_error("email", "Invalid value for email", err.to_string())
                        .into()
                })
        }
        (None, Some(_)) => Ok(Who::Account(id_attr(v, "service_account_id")?)),
        _ => Err(Diagnostic::attr_error(
            "email",
            "Set exactly one of email and service_account_id",
            "A team member is either a user (email) or a service account (service_account_id).",
        )
        .into()),
    }
}

fn state(team: TeamId, w: &Who) -> Value {
    let (id, email, sa) = match w {
        Who::User(e) => (
            format!("{team}/{e}"),
            Value::string(e.as_str()),
            Value::Null,
        ),
        Who::Account(a) => (
            format!("{team}/service_account/{a}"),
            Value::Null,
            Value::string(a.to_string()),
        ),
    };
    Value::object([
        ("id", Value::string(id)),
        ("team_id", Value::string(team.to_string())),
        ("email", email),
        ("service_account_id", sa),
    ])
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

async fn read_membership(ctx: &Ctx, team: TeamId, w: &Who) -> Result<Option<Value>, Diagnostics> {
    Ok(is_listed(ctx, team, w).await?.then(|| state(team, w)))
}

fn describe(team: TeamId, w: &Who) -> String {
    match w {
        Who::User(e) => format!("{e} in team {team}"),
        Who::Account(a) => format!("service account {a} in team {team}"),
    }
}

#[tonic::async_trait]
impl Resource for TeamMemberResource {
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
                    .validate(Validator::Email)
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
            return Diagnostic::attr_error(
                "email",
                "Set exactly one of email and service_account_id",
                "A team member is either a user (email) or a service account (service_account_id).",
            )
            .into();
        }
        Diagnostics::new()
    }

    async fn create(&self, ctx: &Ctx, planned: &Value) -> Result<Value, ApplyError> {
        let org = ctx.org();
        let team: TeamId = id_attr(planned, "team_id")?;
        let w = who(planned)?;
        let result = match &w {
            Who::User(e) => {
                ctx.client
                    .add_users_to_team(org, team, std::slice::from_ref(e))
                    .await
            }
            Who::Account(a) => {
                ctx.client
                    .add_service_accounts_to_team(org, team, &[*a])
                    .await
            }
        };
        ctx.cache.invalidate();
        let attr = match w {
            Who::User(_) => "email",
            Who::Account(_) => "service_account_id",
        };
        result.map_err(|e| api_diag("Cannot add the team member", &e, Some(attr)))?;
        read_membership(ctx, team, &w).await?.ok_or_else(|| {
            Diagnostic::error(
                "Membership not applied",
                format!("Team {team} does not list the new member"),
            )
            .into()
        })
    }

    async fn read(&self, ctx: &Ctx, state_in: &Value) -> Result<Option<Value>, Diagnostics> {
        let (team, w) = (id_attr(state_in, "team_id")?, who(state_in)?);
        match read_membership(ctx, team, &w).await? {
            Some(v) => Ok(Some(v)),
            None => ctx.not_found(&describe(team, &w)),
        }
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        _prior: &Value,
        planned: &Value,
    ) -> Result<Value, ApplyError> {
        // Every attribute forces replacement: nothing changes in place.
        Ok(planned.clone())
    }

    async fn delete(&self, ctx: &Ctx, state_in: &Value) -> Result<(), Diagnostics> {
        let org = ctx.org();
        let team: TeamId = id_attr(state_in, "team_id")?;
        let w = who(state_in)?;
        let result = match &w {
            Who::User(e) => {
                ctx.client
                    .remove_users_from_team(org, team, std::slice::from_ref(e))
                    .await
            }
            Who::Account(a) => {
                ctx.client
                    .remove_service_accounts_from_team(org, team, &[*a])
                    .await
            }
        };
        removed(
            ctx,
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

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let fmt = self.import_id_format();
        let (t, rest) = split2(id, fmt)?;
        let team: TeamId = t.parse().map_err(|_| bad_import_id(id, fmt))?;
        let w = match rest.strip_prefix("service_account/") {
            Some(a) => Who::Account(a.parse().map_err(|_| bad_import_id(id, fmt))?),
            None => Who::User(rest.parse().map_err(|_| bad_import_id(id, fmt))?),
        };
        read_membership(ctx, team, &w).await?.ok_or_else(|| {
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
