//! Data source `mixpanel_projects`: the organization's projects.

use serde::Serialize;

use crate::context::Ctx;
use crate::cty::Value;
use crate::framework::{Attribute, DataSource, Diagnostics, Nesting, Schema};
use crate::resources::list_projects;

use super::{completeness, completeness_attributes, list_state};

pub struct ProjectsDataSource;

#[derive(Serialize)]
struct Projects {
    projects: Vec<ProjectRow>,
}

#[derive(Serialize)]
struct ProjectRow {
    id: String,
    name: String,
    timezone: String,
    data_residency: String,
    domain: String,
    default_role: Option<String>,
}

#[tonic::async_trait]
impl DataSource<Ctx> for ProjectsDataSource {
    fn type_name(&self) -> &'static str {
        "mixpanel_projects"
    }

    fn schema(&self) -> Schema {
        let [allow, complete] = completeness_attributes();
        Schema::new("The organization's projects (no credentials: see the `mixpanel_project` data source for one project's token and secret). An error, unless `allow_partial` is set, when the provider's account cannot see the whole organization.")
            .attr(allow)
            .attr(complete)
            .attr(
                Attribute::nested(
                    "projects",
                    Nesting::List,
                    vec![
                        Attribute::string("id").computed().describe("The project's id."),
                        Attribute::string("name").computed().describe("The project's name."),
                        Attribute::string("timezone").computed().describe("IANA time zone."),
                        Attribute::string("data_residency").computed().describe("`us`, `eu` or `in`."),
                        Attribute::string("domain").computed().describe("The host serving the project."),
                        Attribute::string("default_role").computed().describe("The \"All Users\" default role, if any (emulator only)."),
                    ],
                )
                .computed()
                .describe("Every project, by id."),
            )
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let complete = completeness(ctx, config, "projects")?;
        let all = list_projects(ctx).await?;
        let mut rows: Vec<(u64, ProjectRow)> = all
            .iter()
            .map(|p| {
                (
                    p.id.0,
                    ProjectRow {
                        id: p.id.to_string(),
                        name: p.name.clone(),
                        timezone: p.timezone.to_string(),
                        data_residency: p.data_residency.to_string(),
                        domain: p.domain.clone(),
                        default_role: p.default_role.map(|r| r.to_string()),
                    },
                )
            })
            .collect();
        rows.sort_by_key(|(id, _)| *id);
        let projects = rows.into_iter().map(|(_, r)| r).collect();
        list_state(&Projects { projects }, config, complete)
    }
}
