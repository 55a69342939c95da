//! `mixpanel_project`: a project, its time zone, data residency and "All Users" default role.

use mixpanel_access::api::ApiError;
use mixpanel_access::model::{DataResidency, Project, ProjectId, ProjectRole, Timezone};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::context::{
    api_diag, existing_at_plan, held_at_plan, planned_before, record_before, removed,
    route_missing, CacheKey, Ctx, Indexed, PROJECT_ROLES, TIMEZONE,
};
use crate::cty::{to_value, AttributePath, Unknowable, Value};
use crate::framework::resource::{bad_import_id, opt_bool, opt_str};
use crate::framework::{
    Applied, Attribute, Diagnostic, Diagnostics, Failed, Plan, Schema, Sensitive, TypedResource,
    Validator,
};

pub struct ProjectResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectModel {
    id: Unknowable<String>,
    name: String,
    timezone: Timezone,
    data_residency: DataResidency,
    default_role: Option<ProjectRole>,
    deletion_protection: bool,
    domain: Unknowable<String>,
    token: Unknowable<Option<String>>,
    api_secret: Unknowable<Option<Sensitive>>,
}

impl ProjectModel {
    /// The project as listed; `deletion_protection` is Terraform's alone (true unless said).
    fn of(p: &Project, deletion_protection: Option<bool>) -> ProjectModel {
        ProjectModel {
            id: Unknowable::Known(p.id.to_string()),
            name: p.name.clone(),
            timezone: p.timezone.clone(),
            data_residency: p.data_residency,
            default_role: p.default_role,
            deletion_protection: deletion_protection.unwrap_or(true),
            domain: Unknowable::Known(p.domain.clone()),
            token: Unknowable::Known(p.token.clone()),
            api_secret: Unknowable::Known(
                p.api_secret
                    .as_ref()
                    .map(|s| Sensitive::new(s.expose_secret())),
            ),
        }
    }

    fn project_id(&self) -> Result<ProjectId, Diagnostic> {
        super::known_id(&self.id, "id")
    }
}

/// The organization's projects, by id.
pub(crate) async fn list_projects(
    ctx: &Ctx,
) -> Result<std::sync::Arc<Indexed<ProjectId, Project>>, Diagnostic> {
    let org = ctx.org();
    ctx.cache
        .get_indexed(
            CacheKey::Projects,
            || ctx.client.list_projects(org),
            |p| Some(p.id),
        )
        .await
        .map_err(|e| api_diag("Cannot list Mixpanel projects", &e, None))
}

/// A project as the `mixpanel_project` data source shows it (the resource's attributes).
pub(crate) fn project_state(p: &Project) -> Result<Value, Diagnostics> {
    to_value(&ProjectModel::of(p, None))
        .map_err(|e| Diagnostic::error("Cannot encode the project", e.to_string()).into())
}

async fn read_project(
    ctx: &Ctx,
    id: ProjectId,
    deletion_protection: Option<bool>,
) -> Result<Option<ProjectModel>, Diagnostics> {
    let projects = list_projects(ctx).await?;
    Ok(projects
        .get(&id)
        .map(|p| ProjectModel::of(p, deletion_protection)))
}

/// A refused default role; a 404 while the project exists is a missing route.
fn default_role_diag(summary: &str, e: &ApiError, id: ProjectId, exists: bool) -> Diagnostic {
    if e.is_not_found() && exists {
        route_missing(
            summary,
            e,
            "default_role",
            &format!("Set the role of \"All Users in the Organization\" in Mixpanel's web app (Settings > Project Settings > Users & Teams of project {id}), or leave default_role unset."),
        )
    } else {
        api_diag(summary, e, Some("default_role"))
    }
}

/// Sets the "All Users" role; on failure, what Mixpanel now holds of the project.
async fn set_default_role(
    ctx: &Ctx,
    id: ProjectId,
    role: Option<ProjectRole>,
    protection: bool,
    summary: &str,
) -> Result<(), Failed<ProjectModel>> {
    let set = ctx.client.set_default_access(id, role).await;
    match set {
        Ok(()) => Ok(()),
        Err(e) => {
            let state = read_project(ctx, id, Some(protection)).await.ok().flatten();
            let d = default_role_diag(summary, &e, id, state.is_some());
            Err(Failed::partial(state, d))
        }
    }
}

#[tonic::async_trait]
impl TypedResource<Ctx> for ProjectResource {
    type Model = ProjectModel;

    fn type_name(&self) -> &'static str {
        "mixpanel_project"
    }

    fn schema(&self) -> Schema {
        Schema::new("A Mixpanel project: its name, time zone, data residency and the default role every organization member gets on it.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("The project's numeric id."))
            .attr(Attribute::string("name").required().describe("The project's name."))
            .attr(
                Attribute::string("timezone")
                    .required()
                    .validate(TIMEZONE)
                    .describe("IANA time zone of the project's reports, e.g. `Europe/Paris`. Changing it affects how data is shown, not the data stored."),
            )
            .attr(
                Attribute::string("data_residency")
                    .default_value("us")
                    .validate(Validator::OneOf(DataResidency::NAMES))
                    .requires_replace()
                    .describe("Where the project's data lives: `us`, `eu` or `in`. Fixed at creation: a change replaces the project, which `deletion_protection` must allow."),
            )
            .attr(
                Attribute::string("default_role")
                    .optional()
                    .validate(PROJECT_ROLES)
                    .describe("The role every organization member gets on this project (\"All Users in the Organization\"). Not available upstream yet: the emulator only."),
            )
            .attr(
                Attribute::bool("deletion_protection")
                    .default_value(true)
                    .describe("While true (the default), Terraform refuses to delete or replace the project. Set it to false and apply before destroying."),
            )
            .attr(Attribute::string("domain").computed().use_state_for_unknown().describe("The host serving the project, e.g. `eu.mixpanel.com`."))
            .attr(Attribute::string("token").computed().use_state_for_unknown().describe("The project token (an identifier sent with events, not a secret)."))
            .attr(
                Attribute::string("api_secret")
                    .computed()
                    .sensitive()
                    .use_state_for_unknown()
                    .describe("The project's API secret (deprecated by Mixpanel). Null when the provider's service account may not view access keys."),
            )
    }

    fn modify_plan(&self, prior: &Value, _config: &Value, plan: &mut Plan) -> Diagnostics {
        let mut d = Diagnostics::new();
        if prior.is_null() {
            return d;
        }
        let protected = opt_bool(prior, "deletion_protection").unwrap_or(true);
        let name = opt_str(prior, "name").unwrap_or("?");
        if plan.planned.is_null() && protected {
            d.push(
                Diagnostic::error(
                    "Project is protected from deletion",
                    format!("Project \"{name}\" has deletion_protection = true. Set deletion_protection = false and apply first if you really mean to delete it (Mixpanel keeps deleted data only 60 to 90 days)."),
                )
                .at(AttributePath::attr("deletion_protection")),
            );
        }
        let residency_change = plan
            .requires_replace
            .contains(&AttributePath::attr("data_residency"));
        if residency_change && protected {
            let from = opt_str(prior, "data_residency").unwrap_or("?");
            let to = opt_str(&plan.planned, "data_residency").unwrap_or("?");
            d.push(Diagnostic::attr_error(
                "data_residency",
                "Data residency cannot change",
                format!("Project \"{name}\" lives in {from}; a project's data residency is fixed at creation, so moving it to {to} means deleting this project and creating a new one. Keep data_residency = \"{from}\", or set deletion_protection = false and apply first to allow the replacement."),
            ));
        }
        d
    }

    async fn plan_private(
        &self,
        ctx: &Ctx,
        prior: Option<ProjectModel>,
        planned: ProjectModel,
    ) -> Option<Vec<u8>> {
        let projects = list_projects(ctx).await.ok()?;
        record_before(
            projects
                .iter()
                .filter(|p| p.name == planned.name)
                .map(|p| p.id.0),
            prior.and_then(|p| p.project_id().ok()).map(|id| id.0),
        )
    }

    async fn create(&self, ctx: &Ctx, planned: ProjectModel) -> Applied<ProjectModel> {
        let held = existing_at_plan();
        if !held.is_empty() {
            return Err(held_at_plan(
                "mixpanel_project",
                &format!("name \"{}\"", planned.name),
                &held,
                " Or give this project another name.",
            )
            .into());
        }
        let before = planned_before();
        let id = ctx
            .client
            .create_project_checked(
                ctx.org(),
                &planned.name,
                planned.data_residency,
                &planned.timezone,
                before.as_deref(),
            )
            .await
            .map_err(|e| api_diag("Cannot create the project", &e, None))?;
        let protection = planned.deletion_protection;
        if planned.default_role.is_some() {
            // The project exists: on failure it is recorded (Terraform taints it), no twin.
            set_default_role(ctx, id, planned.default_role, protection, "Cannot set the project's default role")
                .await
                .map_err(|mut f| {
                    for d in f.diags.0.iter_mut() {
                        d.detail.push_str(&format!(" Project {id} was created and is recorded as tainted: fix the cause and run `terraform untaint` on it to keep it, or apply again to replace it (which needs deletion_protection = false)."));
                    }
                    f
                })?;
        }
        read_project(ctx, id, Some(protection))
            .await?
            .ok_or_else(|| {
                Diagnostic::error(
                    "Project vanished",
                    format!(
                        "Project {id} was created but is not in the organization's project list"
                    ),
                )
                .into()
            })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: ProjectModel,
    ) -> Result<Option<ProjectModel>, Diagnostics> {
        let id = state.project_id()?;
        match read_project(ctx, id, Some(state.deletion_protection)).await? {
            Some(p) => Ok(Some(p)),
            None => ctx.not_found(&format!("project {id}")),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx,
        prior: ProjectModel,
        planned: ProjectModel,
    ) -> Applied<ProjectModel> {
        let id = prior.project_id()?;
        let new_name = (prior.name != planned.name).then_some(planned.name.as_str());
        let new_tz = (prior.timezone != planned.timezone).then_some(&planned.timezone);
        if new_name.is_some() || new_tz.is_some() {
            ctx.client
                .update_project(id, new_name, new_tz)
                .await
                .map_err(|e| api_diag("Cannot update the project", &e, None))?;
        }
        let protection = planned.deletion_protection;
        if prior.default_role != planned.default_role {
            // A rename made before stays recorded.
            set_default_role(
                ctx,
                id,
                planned.default_role,
                protection,
                "Cannot change the project's default role",
            )
            .await?;
        }
        read_project(ctx, id, Some(protection))
            .await?
            .ok_or_else(|| {
                Diagnostic::error("Project vanished", format!("Project {id} is gone")).into()
            })
    }

    async fn delete(&self, ctx: &Ctx, state: ProjectModel) -> Result<(), Diagnostics> {
        if state.deletion_protection {
            return Err(Diagnostic::attr_error(
                "deletion_protection",
                "Project is protected from deletion",
                "Set deletion_protection = false and apply before destroying the project.",
            )
            .into());
        }
        let id = state.project_id()?;
        let result = ctx.client.delete_project(ctx.org(), id).await;
        removed(
            result,
            "Cannot delete the project",
            &format!("Delete project {id} in Mixpanel's web app (Settings > Project Settings > Overview > Delete Project), then run terraform apply again."),
            || async { Ok(list_projects(ctx).await?.get(&id).is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<ProjectModel, Diagnostics> {
        let pid: ProjectId = id
            .parse()
            .map_err(|_| bad_import_id(id, self.import_id_format()))?;
        read_project(ctx, pid, Some(true)).await?.ok_or_else(|| {
            Diagnostic::error(
                "Cannot import a project that does not exist",
                format!("The organization has no project {pid}"),
            )
            .into()
        })
    }

    fn import_id_format(&self) -> &'static str {
        "the numeric project id, e.g. 3141592"
    }
}
