//! Data source `mixpanel_effective_access`: a user's role on every project, with each source
//! of it, computed by `mixpanel_access::permissions` (roles are additive).

use mixpanel_access::model::Email;
use mixpanel_access::permissions::{effective_access, GrantInputs, TeamRole};

use crate::context::{Ctx, EMAIL};
use crate::cty::{Type, Value};
use crate::framework::resource::parse_attr;
use crate::framework::{Attribute, DataSource, Diagnostics, Nesting, Schema};
use crate::resources::{granted_users, list_members, list_projects, list_teams};

pub struct EffectiveAccessDataSource;

#[tonic::async_trait]
impl DataSource<Ctx> for EffectiveAccessDataSource {
    fn type_name(&self) -> &'static str {
        "mixpanel_effective_access"
    }

    fn schema(&self) -> Schema {
        Schema::new("What a user can do on each project: the union of the organization role, individual grants, team grants and the \"All Users\" default role, each source reported.")
            .attr(Attribute::string("email").required().validate(EMAIL).describe("The user's e-mail address."))
            .attr(Attribute::string("organization_role").computed().describe("The user's organization role; null when not a member."))
            .attr(
                Attribute::nested(
                    "projects",
                    Nesting::List,
                    vec![
                        Attribute::string("project_id").computed().describe("The project's id."),
                        Attribute::string("project_name").computed().describe("The project's name."),
                        Attribute::string("role").computed().describe("The effective role: the highest of all sources."),
                        Attribute::of_type("sources", Type::list(Type::String)).computed().describe("Every source as `<source>:<role>`, strongest first; a source is `individual`, `team:<name>`, `organization_role` or `all_users`."),
                        Attribute::of_type("capabilities", Type::list(Type::String)).computed().describe("What the union of roles allows, e.g. `export_data`."),
                    ],
                )
                .computed()
                .describe("One entry per project the user can access."),
            )
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let email: Email = parse_attr(config, "email")?;
        let members = list_members(ctx).await?;
        let org_role = members.get(&email).map(|m| m.role);
        let teams = list_teams(ctx).await?;
        let projects = list_projects(ctx).await?;
        let mut out = Vec::new();
        for p in projects.iter() {
            let individual = if org_role.is_some() {
                granted_users(ctx, p.id).await?.get(&email).map(|g| g.role)
            } else {
                None
            };
            let team_roles = teams
                .iter()
                .filter(|t| t.members.contains(&email))
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
            let strings = |v: Vec<String>| Value::List(v.into_iter().map(Value::from).collect());
            out.push(Value::object([
                ("project_id", Value::string(p.id.to_string())),
                ("project_name", Value::string(&p.name)),
                ("role", Value::string(role.as_str())),
                (
                    "sources",
                    strings(
                        access
                            .sources
                            .iter()
                            .map(|s| format!("{}:{}", s.source, s.role))
                            .collect(),
                    ),
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
                            .collect(),
                    ),
                ),
            ]));
        }
        Ok(Value::object([
            ("email", Value::string(email.as_str())),
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
