//! `mixpanel_team_members`: a team's exact users and service accounts (authoritative). Members
//! found in Mixpanel but not in the configuration are planned for removal.

use mixpanel_access::model::{Email, ServiceAccountId, Team, TeamId};
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, removed, Ctx, NUMERIC_ID};
use crate::cty::{CtySet, Unknowable, Value};
use crate::framework::resource::bad_import_id;
use crate::framework::{
    as_string, Applied, Attribute, Diagnostic, Diagnostics, Failed, Plan, Schema, TypedResource,
};

use super::authoritative::{
    check_max_removals, max_removals_attribute, plan_removals, respell, strings, EMAILS, IDS,
};
use super::team::find_team;

pub struct TeamMembersResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamMembers {
    id: Unknowable<String>,
    #[serde(with = "as_string")]
    team_id: TeamId,
    emails: CtySet<Email>,
    service_account_ids: CtySet<String>,
    max_removals: Option<i64>,
}

impl TeamMembers {
    /// The team as Mixpanel lists it, e-mail addresses spelled as in `like`.
    fn of(t: &Team, like: &TeamMembers) -> TeamMembers {
        let mut emails: Vec<Email> = t
            .members
            .iter()
            .map(|e| respell(e, &like.emails.0))
            .collect();
        emails.sort_by_key(|e| e.as_str().to_ascii_lowercase());
        let mut ids = t.service_accounts.clone();
        ids.sort();
        TeamMembers {
            id: Unknowable::Known(t.id.to_string()),
            team_id: t.id,
            emails: CtySet(emails),
            service_account_ids: CtySet(ids.iter().map(|a| a.to_string()).collect()),
            max_removals: like.max_removals,
        }
    }

    fn account_ids(&self) -> Result<Vec<ServiceAccountId>, Diagnostic> {
        self.service_account_ids
            .0
            .iter()
            .map(|s| {
                s.parse().map_err(|_| {
                    Diagnostic::attr_error(
                        "service_account_ids",
                        "Invalid value for service_account_ids",
                        format!("\"{s}\" is not a numeric id"),
                    )
                })
            })
            .collect()
    }
}

fn by_hand(team: TeamId) -> String {
    format!("Remove them from team {team} in Mixpanel's web app (Organization Settings > Teams), then run terraform apply again.")
}

/// Makes the team hold exactly `planned`'s members; the result is what a read then shows.
async fn converge(ctx: &Ctx, planned: TeamMembers, creating: bool) -> Applied<TeamMembers> {
    let team = planned.team_id;
    let Some(current) = find_team(ctx, team).await? else {
        return Err(Diagnostic::attr_error(
            "team_id",
            "No such team",
            format!("The organization has no team {team}."),
        )
        .into());
    };
    let want_ids = planned.account_ids()?;
    let want_emails = &planned.emails.0;
    let extra_users: Vec<Email> = current
        .members
        .iter()
        .filter(|e| !want_emails.contains(e))
        .cloned()
        .collect();
    let extra_ids: Vec<ServiceAccountId> = current
        .service_accounts
        .iter()
        .filter(|a| !want_ids.contains(a))
        .copied()
        .collect();
    let names: Vec<String> = extra_users
        .iter()
        .map(|e| e.to_string())
        .chain(extra_ids.iter().map(|a| format!("service account {a}")))
        .collect();
    if creating && !names.is_empty() {
        return Err(Diagnostic::attr_error(
            "team_id",
            "The team has members the plan did not show",
            format!(
                "Team {team} already holds {} not in the configuration. Nothing was changed: import it first (terraform import <address> {team}) so that the plan shows their removal, or add them to the configuration.",
                names.join(", ")
            ),
        )
        .into());
    }
    check_max_removals(planned.max_removals, &names, "team members")?;

    let mut diags = Diagnostics::new();
    let add_users: Vec<Email> = want_emails
        .iter()
        .filter(|e| !current.members.contains(e))
        .cloned()
        .collect();
    if !add_users.is_empty() {
        if let Err(e) = ctx
            .client
            .add_users_to_team(ctx.org(), team, &add_users)
            .await
        {
            diags.push(api_diag("Cannot add users to the team", &e, Some("emails")));
        }
    }
    let add_ids: Vec<ServiceAccountId> = want_ids
        .iter()
        .filter(|a| !current.service_accounts.contains(a))
        .copied()
        .collect();
    if !add_ids.is_empty() {
        if let Err(e) = ctx
            .client
            .add_service_accounts_to_team(ctx.org(), team, &add_ids)
            .await
        {
            diags.push(api_diag(
                "Cannot add service accounts to the team",
                &e,
                Some("service_account_ids"),
            ));
        }
    }
    if let Err(d) = remove(ctx, team, &extra_users, &extra_ids).await {
        diags.extend(d);
    }

    let Some(after) = find_team(ctx, team).await? else {
        diags.push(Diagnostic::error(
            "The team is gone",
            format!("Team {team} is no longer listed after the change."),
        ));
        return Err(diags.into());
    };
    let got = TeamMembers::of(&after, &planned);
    if diags.has_errors() {
        return Err(Failed::partial(Some(got), diags));
    }
    Ok(got)
}

/// Removes users and service accounts from the team, each removal verified by a read.
async fn remove(
    ctx: &Ctx,
    team: TeamId,
    users: &[Email],
    ids: &[ServiceAccountId],
) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics::new();
    if !users.is_empty() {
        let result = ctx
            .client
            .remove_users_from_team(ctx.org(), team, users)
            .await;
        let listed = || async {
            let t = find_team(ctx, team).await?;
            Ok(t.is_some_and(|t| users.iter().any(|u| t.members.contains(u))))
        };
        let names: Vec<String> = users.iter().map(|u| u.to_string()).collect();
        if let Err(d) = removed(
            result,
            &format!("Cannot remove {} from team {team}", names.join(", ")),
            &by_hand(team),
            listed,
        )
        .await
        {
            diags.extend(d);
        }
    }
    if !ids.is_empty() {
        let result = ctx
            .client
            .remove_service_accounts_from_team(ctx.org(), team, ids)
            .await;
        let listed = || async {
            let t = find_team(ctx, team).await?;
            Ok(t.is_some_and(|t| ids.iter().any(|a| t.service_accounts.contains(a))))
        };
        let names: Vec<String> = ids.iter().map(|a| a.to_string()).collect();
        if let Err(d) = removed(
            result,
            &format!(
                "Cannot remove service accounts {} from team {team}",
                names.join(", ")
            ),
            &by_hand(team),
            listed,
        )
        .await
        {
            diags.extend(d);
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(())
    }
}

#[tonic::async_trait]
impl TypedResource<Ctx> for TeamMembersResource {
    type Model = TeamMembers;

    fn type_name(&self) -> &'static str {
        "mixpanel_team_members"
    }

    fn schema(&self) -> Schema {
        Schema::new("A team's exact members: users (by e-mail) and service accounts (by id). Authoritative: a member added outside Terraform shows in the next plan as a removal. Do not combine it with `mixpanel_team_member` on the same team: the two would fight. Removing a user from a team is not available upstream yet (the emulator only): against Mixpanel such a removal fails with where to make it by hand.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("The team's id."))
            .attr(Attribute::string("team_id").required().requires_replace().validate(NUMERIC_ID).describe("The team's id."))
            .attr(
                Attribute::of_type("emails", crate::cty::Type::set(crate::cty::Type::String))
                    .default_value(Value::Set(Vec::new()))
                    .validate(EMAILS)
                    .describe("The e-mail addresses of the team's users; each must be a member of the organization. Default: none."),
            )
            .attr(
                Attribute::of_type("service_account_ids", crate::cty::Type::set(crate::cty::Type::String))
                    .default_value(Value::Set(Vec::new()))
                    .validate(IDS)
                    .describe("The ids of the team's service accounts. Default: none."),
            )
            .attr(max_removals_attribute("team members"))
    }

    fn modify_plan(&self, prior: &Value, config: &Value, plan: &mut Plan) -> Diagnostics {
        plan_removals(
            prior,
            config,
            &plan.planned,
            strings,
            &["emails", "service_account_ids"],
            "team members",
        )
    }

    async fn create(&self, ctx: &Ctx, planned: TeamMembers) -> Applied<TeamMembers> {
        converge(ctx, planned, true).await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: TeamMembers,
    ) -> Result<Option<TeamMembers>, Diagnostics> {
        match find_team(ctx, state.team_id).await? {
            Some(t) => Ok(Some(TeamMembers::of(&t, &state))),
            None => ctx.not_found(&format!("team {}", state.team_id)),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _prior: TeamMembers,
        planned: TeamMembers,
    ) -> Applied<TeamMembers> {
        converge(ctx, planned, false).await
    }

    async fn delete(&self, ctx: &Ctx, state: TeamMembers) -> Result<(), Diagnostics> {
        let team = state.team_id;
        let Some(t) = find_team(ctx, team).await? else {
            return Ok(());
        };
        let ids = state.account_ids()?;
        let users: Vec<Email> = state
            .emails
            .0
            .iter()
            .filter(|e| t.members.contains(e))
            .cloned()
            .collect();
        let ids: Vec<ServiceAccountId> = ids
            .into_iter()
            .filter(|a| t.service_accounts.contains(a))
            .collect();
        remove(ctx, team, &users, &ids).await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<TeamMembers, Diagnostics> {
        let team: TeamId = id
            .parse()
            .map_err(|_| bad_import_id(id, self.import_id_format()))?;
        let t = find_team(ctx, team).await?.ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "Cannot import the members of a team that does not exist",
                format!("The organization has no team {team}"),
            ))
        })?;
        let none = TeamMembers {
            id: Unknowable::Unknown,
            team_id: team,
            emails: CtySet(Vec::new()),
            service_account_ids: CtySet(Vec::new()),
            max_removals: None,
        };
        Ok(TeamMembers::of(&t, &none))
    }

    fn import_id_format(&self) -> &'static str {
        "<team_id>"
    }
}
