//! Data source `mixpanel_teams`: the organization's teams with their members, service accounts
//! and project roles.

use serde::Serialize;

use crate::context::Ctx;
use crate::cty::Value;
use crate::framework::{Attribute, DataSource, Diagnostics, Nesting, Schema};
use crate::resources::list_teams;

use super::{completeness, completeness_attributes, list_state};

pub struct TeamsDataSource;

#[derive(Serialize)]
struct Teams {
    teams: Vec<TeamRow>,
}

#[derive(Serialize)]
struct TeamRow {
    id: String,
    name: String,
    scim_managed: bool,
    members: Vec<String>,
    service_account_ids: Vec<String>,
    projects: Vec<ProjectRow>,
}

#[derive(Serialize)]
struct ProjectRow {
    project_id: String,
    role: String,
}

#[tonic::async_trait]
impl DataSource<Ctx> for TeamsDataSource {
    fn type_name(&self) -> &'static str {
        "mixpanel_teams"
    }

    fn schema(&self) -> Schema {
        let [allow, complete] = completeness_attributes();
        let strings = crate::cty::Type::list(crate::cty::Type::String);
        Schema::new("The organization's teams, each with its members, service accounts and project roles. An error, unless `allow_partial` is set, when the provider's account cannot see the whole organization.")
            .attr(allow)
            .attr(complete)
            .attr(
                Attribute::nested(
                    "teams",
                    Nesting::List,
                    vec![
                        Attribute::string("id").computed().describe("The team's id."),
                        Attribute::string("name").computed().describe("The team's name."),
                        Attribute::bool("scim_managed").computed().describe("Whether the team is provisioned by SCIM."),
                        Attribute::of_type("members", strings.clone()).computed().describe("The e-mail addresses of the team's users."),
                        Attribute::of_type("service_account_ids", strings).computed().describe("The ids of the team's service accounts."),
                        Attribute::nested(
                            "projects",
                            Nesting::List,
                            vec![
                                Attribute::string("project_id").computed().describe("The project's id."),
                                Attribute::string("role").computed().describe("The role the team gives on it: a built-in role or `custom:<role_id>`."),
                            ],
                        )
                        .computed()
                        .describe("The team's project roles."),
                    ],
                )
                .computed()
                .describe("Every team, by name."),
            )
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let complete = completeness(ctx, config, "teams")?;
        let all = list_teams(ctx).await?;
        let mut teams: Vec<TeamRow> = all
            .iter()
            .map(|t| TeamRow {
                id: t.id.to_string(),
                name: t.name.clone(),
                scim_managed: t.scim_managed,
                members: t.members.iter().map(|e| e.to_string()).collect(),
                service_account_ids: t.service_accounts.iter().map(|a| a.to_string()).collect(),
                projects: t
                    .projects
                    .iter()
                    .map(|g| ProjectRow {
                        project_id: g.id.to_string(),
                        role: mixpanel_access::permissions::AssignableRole::from_wire(
                            g.role,
                            t.custom_roles
                                .iter()
                                .find(|c| c.id == g.id)
                                .map(|c| c.custom_role_id.as_str()),
                        )
                        .to_string(),
                    })
                    .collect(),
            })
            .collect();
        teams.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        list_state(&Teams { teams }, config, complete)
    }
}
