//! `mixpanel_custom_role`: a project's custom role (Mixpanel Enterprise, at most five per
//! project), its permissions checked against the project's catalogue (`switch-config`).

use mixpanel_access::api::wire::{CustomRole, CustomRoleBody};
use mixpanel_access::model::ProjectId;
use mixpanel_access::permissions::{unknown_permissions, MAX_CUSTOM_ROLES_PER_PROJECT};
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, Ctx, NUMERIC_ID};
use crate::cty::{CtySet, Type, Unknowable, Value};
use crate::framework::{
    as_string, Applied, Attribute, Diagnostic, Diagnostics, Schema, TypedResource,
};

use super::{list_projects, split2};

pub struct CustomRoleResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomRoleModel {
    id: Unknowable<String>,
    role_id: Unknowable<String>,
    #[serde(with = "as_string")]
    project_id: ProjectId,
    name: String,
    description: String,
    permissions: CtySet<String>,
}

impl CustomRoleModel {
    /// The model of `r`, read from the custom roles of `project` (Mixpanel's role may leave
    /// its `project_id` null).
    fn of(project: ProjectId, r: &CustomRole) -> CustomRoleModel {
        let mut perms = r.permissions.clone();
        perms.sort();
        let project_id = r.project_id.unwrap_or(project);
        CustomRoleModel {
            id: Unknowable::Known(format!("{}/{}", project_id, r.role_id)),
            role_id: Unknowable::Known(r.role_id.clone()),
            project_id,
            name: r.name.clone(),
            description: r.description.clone(),
            permissions: CtySet(perms),
        }
    }

    fn body(&self) -> CustomRoleBody {
        CustomRoleBody {
            name: self.name.clone(),
            description: self.description.clone(),
            permissions: self.permissions.0.clone(),
            copied_from_role_id: None,
        }
    }
}

/// The project's custom roles, or `None` when the project is not listed.
async fn roles_of(ctx: &Ctx, project: ProjectId) -> Result<Option<Vec<CustomRole>>, Diagnostics> {
    if list_projects(ctx).await?.get(&project).is_none() {
        return Ok(None);
    }
    ctx.client
        .list_custom_roles(project)
        .await
        .map(Some)
        .map_err(|e| {
            api_diag(
                "Cannot list the project's custom roles",
                &e,
                Some("project_id"),
            )
            .into()
        })
}

async fn find(
    ctx: &Ctx,
    project: ProjectId,
    role: &str,
) -> Result<Option<CustomRole>, Diagnostics> {
    Ok(roles_of(ctx, project)
        .await?
        .and_then(|rs| rs.into_iter().find(|r| r.role_id == role)))
}

/// The permissions checked against the project's catalogue, read from Mixpanel.
async fn check_permissions(ctx: &Ctx, m: &CustomRoleModel) -> Result<(), Diagnostics> {
    let catalogue = ctx
        .client
        .custom_role_catalogue(m.project_id)
        .await
        .map_err(|e| {
            api_diag(
                "Cannot read the project's permission catalogue",
                &e,
                Some("permissions"),
            )
        })?;
    let unknown = unknown_permissions(&catalogue.groups, &m.permissions.0);
    if unknown.is_empty() {
        return Ok(());
    }
    let valid: Vec<&str> = catalogue
        .groups
        .iter()
        .flat_map(|g| g.permissions.iter().map(String::as_str))
        .collect();
    Err(Diagnostic::attr_error(
        "permissions",
        "Unknown permission",
        format!(
            "Project {} has no permission {} in its catalogue; valid: {}",
            m.project_id,
            unknown.join(", "),
            valid.join(", ")
        ),
    )
    .into())
}

fn role_id(m: &CustomRoleModel) -> Result<String, Diagnostic> {
    m.role_id.known().cloned().ok_or_else(|| {
        Diagnostic::attr_error(
            "role_id",
            "Unknown role_id",
            "The role's id is not known yet",
        )
    })
}

#[tonic::async_trait]
impl TypedResource<Ctx> for CustomRoleResource {
    type Model = CustomRoleModel;

    fn type_name(&self) -> &'static str {
        "mixpanel_custom_role"
    }

    fn schema(&self) -> Schema {
        Schema::new("A project's custom role (Mixpanel Enterprise; at most five per project). Its permissions are checked against the project's permission catalogue (`switch-config`) before anything is sent. Deleting a role moves its holders to `consumer`.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("`<project_id>/<role_id>`."))
            .attr(Attribute::string("role_id").computed().use_state_for_unknown().describe("The role's id (a UUID)."))
            .attr(Attribute::string("project_id").required().requires_replace().validate(NUMERIC_ID).describe("The project's id."))
            .attr(Attribute::string("name").required().describe("The role's name, unique in the project, 1 to 255 characters."))
            .attr(Attribute::string("description").default_value("").describe("What the role is for."))
            .attr(Attribute::of_type("permissions", Type::set(Type::String)).required().describe("The role's permissions, by name from the project's catalogue, e.g. `view_reports`, `export_data`, `classified_data_access`."))
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        match config.get_attr("name").and_then(Value::as_str) {
            Some(n) if n.trim().is_empty() || n.chars().count() > 255 => Diagnostic::attr_error(
                "name",
                "Invalid value for name",
                "Give the role a name of 1 to 255 characters.",
            )
            .into(),
            _ => Diagnostics::new(),
        }
    }

    async fn create(&self, ctx: &Ctx, planned: CustomRoleModel) -> Applied<CustomRoleModel> {
        let project = planned.project_id;
        let existing = roles_of(ctx, project).await?.ok_or_else(|| {
            Diagnostic::attr_error(
                "project_id",
                "No such project",
                format!("The provider's service account sees no project {project}."),
            )
        })?;
        if existing.len() >= MAX_CUSTOM_ROLES_PER_PROJECT {
            return Err(Diagnostic::attr_error(
                "project_id",
                "Too many custom roles",
                format!(
                    "Project {project} already has {} custom roles ({}), the most a project may have. Delete one first.",
                    existing.len(),
                    existing.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
            .into());
        }
        check_permissions(ctx, &planned).await?;
        let made = ctx
            .client
            .create_custom_role(project, &planned.body())
            .await
            .map_err(|e| api_diag("Cannot create the custom role", &e, Some("name")))?;
        match find(ctx, project, &made.role_id).await? {
            Some(r) => Ok(CustomRoleModel::of(project, &r)),
            None => Err(crate::framework::Failed::partial(
                Some(CustomRoleModel::of(project, &made)),
                Diagnostic::error(
                    "Custom role not listed",
                    format!(
                        "Mixpanel created role {} but does not list it",
                        made.role_id
                    ),
                ),
            )),
        }
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: CustomRoleModel,
    ) -> Result<Option<CustomRoleModel>, Diagnostics> {
        let id = role_id(&state)?;
        match find(ctx, state.project_id, &id).await? {
            Some(r) => Ok(Some(CustomRoleModel::of(state.project_id, &r))),
            None => ctx.not_found(&format!("custom role {id} of project {}", state.project_id)),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx,
        prior: CustomRoleModel,
        planned: CustomRoleModel,
    ) -> Applied<CustomRoleModel> {
        let id = role_id(&prior)?;
        check_permissions(ctx, &planned).await?;
        ctx.client
            .update_custom_role(planned.project_id, &id, &planned.body())
            .await
            .map_err(|e| api_diag("Cannot change the custom role", &e, None))?;
        find(ctx, planned.project_id, &id)
            .await?
            .map(|r| CustomRoleModel::of(planned.project_id, &r))
            .ok_or_else(|| {
                Diagnostic::error("Custom role gone", format!("Role {id} is no longer listed"))
                    .into()
            })
    }

    async fn delete(&self, ctx: &Ctx, state: CustomRoleModel) -> Result<(), Diagnostics> {
        let id = role_id(&state)?;
        let project = state.project_id;
        let result = ctx
            .client
            .delete_custom_role(project, &id)
            .await
            .map(|_| ());
        crate::context::removed(
            result,
            "Cannot delete the custom role",
            &format!("Delete it in Mixpanel's web app (Settings > Project Settings > Roles of project {project}), then run terraform apply again."),
            || async { Ok(find(ctx, project, &id).await?.is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<CustomRoleModel, Diagnostics> {
        let (p, role) = split2(id, self.import_id_format())?;
        let project: ProjectId = p
            .parse()
            .map_err(|_| crate::framework::resource::bad_import_id(id, self.import_id_format()))?;
        find(ctx, project, role)
            .await?
            .map(|r| CustomRoleModel::of(project, &r))
            .ok_or_else(|| {
                Diagnostic::error(
                    "Cannot import a custom role that does not exist",
                    format!("Project {project} has no custom role {role}"),
                )
                .into()
            })
    }

    fn import_id_format(&self) -> &'static str {
        "<project_id>/<role_id>"
    }
}
