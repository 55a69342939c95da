//! Data source `mixpanel_project`: a project looked up by id or by name.

use mixpanel_access::model::ProjectId;

use crate::context::Ctx;
use crate::cty::Value;
use crate::framework::resource::opt_str;
use crate::framework::{Attribute, DataSource, Diagnostic, Diagnostics, Schema};
use crate::resources::{list_projects, project_state};

use crate::context::NUMERIC_ID;

pub struct ProjectDataSource;

#[tonic::async_trait]
impl DataSource<Ctx> for ProjectDataSource {
    fn type_name(&self) -> &'static str {
        "mixpanel_project"
    }

    fn schema(&self) -> Schema {
        Schema::new("Looks up a project by id or by name.")
            .attr(
                Attribute::string("id")
                    .optional()
                    .computed()
                    .validate(NUMERIC_ID)
                    .describe("The project's id. Set this or name."),
            )
            .attr(
                Attribute::string("name")
                    .optional()
                    .computed()
                    .describe("The project's name. Set this or id; names must then be unique."),
            )
            .attr(
                Attribute::string("timezone")
                    .computed()
                    .describe("IANA time zone."),
            )
            .attr(
                Attribute::string("data_residency")
                    .computed()
                    .describe("`us`, `eu` or `in`."),
            )
            .attr(
                Attribute::string("default_role")
                    .computed()
                    .describe("The \"All Users\" default role, if any (emulator only)."),
            )
            .attr(
                Attribute::string("domain")
                    .computed()
                    .describe("The host serving the project."),
            )
            .attr(
                Attribute::string("token")
                    .computed()
                    .describe("The project token."),
            )
            .attr(
                Attribute::string("api_secret")
                    .computed()
                    .sensitive()
                    .describe("The API secret, where the provider may view access keys."),
            )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let set = |n: &str| config.get_attr(n).map(|v| !v.is_null()).unwrap_or(false);
        let known = |n: &str| config.get_attr(n).map(Value::is_known).unwrap_or(true);
        if known("id") && known("name") && set("id") == set("name") {
            return Diagnostic::attr_error(
                "id",
                "Set exactly one of id and name",
                "Look the project up by id or by name.",
            )
            .into();
        }
        Diagnostics::new()
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let projects = list_projects(ctx).await?;
        let found: Vec<_> = match (opt_str(config, "id"), opt_str(config, "name")) {
            (Some(id), _) => {
                let id: ProjectId =
                    id.parse()
                        .map_err(|e: mixpanel_access::model::ParseError| {
                            Diagnostic::attr_error("id", "Invalid value for id", e.to_string())
                        })?;
                projects.iter().filter(|p| p.id == id).collect()
            }
            (None, Some(name)) => projects.iter().filter(|p| p.name == name).collect(),
            _ => vec![],
        };
        match found.as_slice() {
            [p] => {
                let mut v = project_state(p)?;
                if let Some(m) = v.attrs_mut() {
                    m.remove("deletion_protection");
                }
                Ok(v)
            }
            [] if ctx.sees_whole_organization() => Err(Diagnostic::error(
                "No such project",
                "The organization has no project matching id or name.",
            )
            .into()),
            [] => Err(Diagnostic::error(
                "No such project visible",
                "No project the provider's service account can see matches id or name; its organization role shows only the projects it has a role on, so the project may exist. Use a service account with the organization role owner or admin, or give this one a role on the project.",
            )
            .into()),
            many => Err(Diagnostic::attr_error(
                "name",
                "Several projects match",
                format!(
                    "{} projects are named like this ({}): look the project up by id",
                    many.len(),
                    many.iter()
                        .map(|p| p.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into()),
        }
    }
}
