//! Data source `mixpanel_organization`: the organization the provider manages.

use crate::context::api_diag;
use crate::context::Ctx;
use crate::cty::Value;
use crate::framework::{Attribute, DataSource, Diagnostics, Schema};

pub struct OrganizationDataSource;

#[tonic::async_trait]
impl DataSource<Ctx> for OrganizationDataSource {
    fn type_name(&self) -> &'static str {
        "mixpanel_organization"
    }

    fn schema(&self) -> Schema {
        Schema::new("The organization the provider is configured for, and the provider account's role in it.")
            .attr(Attribute::string("id").computed().describe("The organization's id."))
            .attr(Attribute::string("name").computed().describe("The organization's name."))
            .attr(Attribute::string("role").computed().describe("The provider's service account's organization role."))
            .attr(Attribute::of_type("project_ids", crate::cty::Type::list(crate::cty::Type::String)).computed().describe("Ids of the organization's projects."))
    }

    async fn read(&self, ctx: &Ctx, _config: &Value) -> Result<Value, Diagnostics> {
        let org = ctx.org();
        let me = ctx
            .client
            .me()
            .await
            .map_err(|e| api_diag("Cannot read the organization", &e, None))?;
        let o = me.organizations.get(&org.to_string());
        let projects = crate::resources::list_projects(ctx).await?;
        Ok(Value::object([
            ("id", Value::string(org.to_string())),
            (
                "name",
                o.map(|o| Value::string(&o.name)).unwrap_or(Value::Null),
            ),
            (
                "role",
                o.map(|o| Value::string(&o.role)).unwrap_or(Value::Null),
            ),
            (
                "project_ids",
                Value::List(
                    projects
                        .iter()
                        .map(|p| Value::string(p.id.to_string()))
                        .collect(),
                ),
            ),
        ]))
    }
}
