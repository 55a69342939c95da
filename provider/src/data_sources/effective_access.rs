//! Data source `mixpanel_effective_access`: a person's or a service account's role on every
//! project, with each source of it, computed by `mixpanel_access::permissions` (roles are
//! additive).

use mixpanel_access::model::GrantSource;
use mixpanel_access::model::{Email, OrgRole, ServiceAccountId, TargetType};
use mixpanel_access::permissions::{
    custom_role_permissions, effective_access, CustomRoleHold, GrantInputs, TeamRole,
};

use crate::context::{Ctx, EMAIL, NUMERIC_ID};
use crate::cty::{Type, Value};
use crate::framework::resource::{opt_str, parse_attr};
use crate::framework::{Attribute, DataSource, Diagnostic, Diagnostics, Nesting, Schema};
use crate::resources::{
    granted_users, list_members, list_projects, list_service_accounts, list_teams, project_accounts,
};

use super::completeness;

pub struct EffectiveAccessDataSource;

/// Whose access: a person or a service account.
enum Principal {
    Person(Email),
    Account(ServiceAccountId),
}

#[tonic::async_trait]
impl DataSource<Ctx> for EffectiveAccessDataSource {
    fn type_name(&self) -> &'static str {
        "mixpanel_effective_access"
    }

    fn schema(&self) -> Schema {
        Schema::new("What a person or a service account can do on each project: the union of the organization role, individual grants, team grants and the \"All Users\" default role, each source reported. An error when the provider's account cannot see the whole organization (a missing project or team would understate the access). For a service account, Mixpanel lists one role per project (the strongest): an individual grant weaker than a team's role is not reported.")
            .attr(Attribute::string("email").optional().validate(EMAIL).describe("The person's e-mail address. Set this or service_account_id."))
            .attr(Attribute::string("service_account_id").optional().validate(NUMERIC_ID).describe("The service account's id. Set this or email."))
            .attr(Attribute::string("organization_role").computed().describe("The organization role (for a service account, the one its role implies); null when not a member."))
            .attr(
                Attribute::nested(
                    "projects",
                    Nesting::List,
                    vec![
                        Attribute::string("project_id").computed().describe("The project's id."),
                        Attribute::string("project_name").computed().describe("The project's name."),
                        Attribute::string("role").computed().describe("The effective role: the highest of all sources."),
                        Attribute::of_type("sources", Type::list(Type::String)).computed().describe("Every source as `<source>:<role>`, strongest first; a source is `individual`, `team:<name>`, `organization_role` or `all_users`, and a custom role shows as `custom:<role_id>` (it counts as consumer toward `role`)."),
                        Attribute::of_type("capabilities", Type::list(Type::String)).computed().describe("What the union of roles allows, e.g. `export_data`, custom roles' permissions included."),
                    ],
                )
                .computed()
                .describe("One entry per project the principal can access."),
            )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let set = |n: &str| config.get_attr(n).map(|v| !v.is_null()).unwrap_or(false);
        let known = |n: &str| config.get_attr(n).map(Value::is_known).unwrap_or(true);
        if known("email")
            && known("service_account_id")
            && set("email") == set("service_account_id")
        {
            return Diagnostic::attr_error(
                "email",
                "Set exactly one of email and service_account_id",
                "Effective access is computed for one person (email) or one service account (service_account_id).",
            )
            .into();
        }
        Diagnostics::new()
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let who = match opt_str(config, "service_account_id") {
            Some(_) => Principal::Account(parse_attr(config, "service_account_id")?),
            None => Principal::Person(parse_attr(config, "email")?),
        };
        // Not seeing a project or a team would silently understate the access.
        completeness(ctx, &Value::Null, "projects and teams")?;
        let org_role: Option<OrgRole> = match &who {
            Principal::Person(e) => list_members(ctx).await?.get(e).map(|m| m.role),
            Principal::Account(a) => {
                let accounts = list_service_accounts(ctx).await?;
                let Some(acct) = accounts.get(a) else {
                    return Err(Diagnostic::attr_error(
                        "service_account_id",
                        "No such service account",
                        format!("The organization has no service account {a}."),
                    )
                    .into());
                };
                // An account's role is its organization role; every account is a member.
                Some(
                    acct.role
                        .map(|r| r.as_org_role())
                        .unwrap_or(OrgRole::Member),
                )
            }
        };
        let teams = list_teams(ctx).await?;
        let projects = list_projects(ctx).await?;
        let mut out = Vec::new();
        for p in projects.iter() {
            // Each grant's built-in role, and the custom role it is, if any (issue 9).
            let (individual, individual_custom) = match (&who, org_role) {
                (_, None) => (None, None),
                (Principal::Person(e), Some(_)) => granted_users(ctx, p.id)
                    .await?
                    .get(e)
                    .map(|g| (Some(g.role), g.custom_role_id.clone()))
                    .unwrap_or((None, None)),
                (Principal::Account(a), Some(_)) => project_accounts(ctx, p.id)
                    .await?
                    .get(a)
                    .filter(|m| m.target_type == TargetType::Individual)
                    .map(|m| (Some(m.project_role), m.custom_role_id.clone()))
                    .unwrap_or((None, None)),
            };
            let mut custom: Vec<(GrantSource, String)> = Vec::new();
            if let Some(id) = individual_custom {
                custom.push((GrantSource::Individual, id));
            }
            let in_team = |t: &mixpanel_access::model::Team| match &who {
                Principal::Person(e) => t.members.contains(e),
                Principal::Account(a) => t.service_accounts.contains(a),
            };
            for t in teams.iter().filter(|t| in_team(t)) {
                if let Some(c) = t.custom_roles.iter().find(|c| c.id == p.id) {
                    custom.push((
                        GrantSource::Team {
                            id: t.id,
                            name: t.name.clone(),
                        },
                        c.custom_role_id.clone(),
                    ));
                }
            }
            let team_roles = teams
                .iter()
                .filter(|t| in_team(t))
                .filter_map(|t| {
                    t.projects.iter().find(|g| g.id == p.id).map(|g| TeamRole {
                        id: t.id,
                        name: t.name.clone(),
                        role: g.role,
                    })
                })
                .collect();
            let access = effective_access(&GrantInputs {
                org_role,
                individual,
                teams: team_roles,
                all_users: p.default_role,
            });
            let Some(role) = access.role else { continue };
            // Custom roles: their permissions, read from the project, come on top.
            let mut holds = Vec::new();
            if !custom.is_empty() {
                let roles = ctx.client.list_custom_roles(p.id).await.map_err(|e| {
                    crate::context::api_diag("Cannot read the project's custom roles", &e, None)
                })?;
                for (source, id) in &custom {
                    holds.push(CustomRoleHold {
                        source: source.clone(),
                        role_id: id.clone(),
                        permissions: roles
                            .iter()
                            .find(|r| &r.role_id == id)
                            .map(|r| r.permissions.clone())
                            .unwrap_or_default(),
                    });
                }
            }
            let extra = custom_role_permissions(&access, &holds);
            let label = |s: &mixpanel_access::permissions::SourcedRole| match custom
                .iter()
                .find(|(src, _)| *src == s.source)
            {
                Some((_, id)) => format!("{}:custom:{id}", s.source),
                None => format!("{}:{}", s.source, s.role),
            };
            let strings = |v: Vec<String>| Value::List(v.into_iter().map(Value::from).collect());
            out.push(Value::object([
                ("project_id", Value::string(p.id.to_string())),
                ("project_name", Value::string(&p.name)),
                ("role", Value::string(role.as_str())),
                (
                    "sources",
                    strings(access.sources.iter().map(label).collect()),
                ),
                (
                    "capabilities",
                    strings(
                        access
                            .capabilities
                            .iter()
                            .map(|c| {
                                serde_json::to_value(c)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_string))
                                    .unwrap_or_default()
                            })
                            .chain(extra)
                            .collect(),
                    ),
                ),
            ]));
        }
        let echo = |n: &str| config.get_attr(n).cloned().unwrap_or(Value::Null);
        Ok(Value::object([
            ("email", echo("email")),
            ("service_account_id", echo("service_account_id")),
            (
                "organization_role",
                org_role
                    .map(|r| Value::string(r.as_str()))
                    .unwrap_or(Value::Null),
            ),
            ("projects", Value::List(out)),
        ]))
    }
}
