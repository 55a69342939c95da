//! `mixpanel_project`: a project, its time zone, data residency and "All Users" default role.

use mixpanel_access::api::ApiError;
use mixpanel_access::model::{DataResidency, Project, ProjectId, ProjectRole, Timezone};
use secrecy::ExposeSecret;

use crate::cty::{AttributePath, Value};
use crate::framework::resource::ApplyError;
use crate::framework::resource::{
    api_diag, bad_import_id, opt_bool, opt_str, parse_attr, removed, req_str,
};
use crate::framework::{
    Attribute, CacheKey, Ctx, Diagnostic, Diagnostics, Indexed, Plan, Resource, Schema, Validator,
};

use super::{id_attr, route_missing, PROJECT_ROLES};

pub struct ProjectResource;

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

/// The state of a project as Terraform sees it; `protect` and `default_role` come from the
/// configuration side where the API does not say.
pub(crate) fn project_state(p: &Project, deletion_protection: Option<bool>) -> Value {
    Value::object([
        ("id", Value::string(p.id.to_string())),
        ("name", Value::string(&p.name)),
        ("timezone", Value::string(p.timezone.as_str())),
        ("data_residency", Value::string(p.data_residency.as_str())),
        (
            "default_role",
            p.default_role
                .map(|r| Value::string(r.as_str()))
                .unwrap_or(Value::Null),
        ),
        (
            "deletion_protection",
            Value::Bool(deletion_protection.unwrap_or(true)),
        ),
        ("domain", Value::string(&p.domain)),
        (
            "token",
            p.token.clone().map(Value::from).unwrap_or(Value::Null),
        ),
        (
            "api_secret",
            p.api_secret
                .as_ref()
                .map(|s| Value::string(s.expose_secret()))
                .unwrap_or(Value::Null),
        ),
    ])
}

async fn read_project(
    ctx: &Ctx,
    id: ProjectId,
    deletion_protection: Option<bool>,
) -> Result<Option<Value>, Diagnostics> {
    let projects = list_projects(ctx).await?;
    Ok(projects
        .get(&id)
        .map(|p| project_state(p, deletion_protection)))
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

#[tonic::async_trait]
impl Resource for ProjectResource {
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
                    .validate(Validator::Timezone)
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

    async fn create(&self, ctx: &Ctx, planned: &Value) -> Result<Value, ApplyError> {
        let org = ctx.org();
        let name = req_str(planned, "name")?;
        let tz: Timezone = parse_attr(planned, "timezone")?;
        let residency: DataResidency = parse_attr(planned, "data_residency")?;
        let id = ctx
            .client
            .create_project(org, name, residency, &tz)
            .await
            .map_err(|e| api_diag("Cannot create the project", &e, None))?;
        ctx.cache.invalidate();
        let protection = opt_bool(planned, "deletion_protection");
        if opt_str(planned, "default_role").is_some() {
            let role: ProjectRole = parse_attr(planned, "default_role")?;
            let set = ctx.client.set_default_access(id, Some(role)).await;
            ctx.cache.invalidate();
            if let Err(e) = set {
                // The project exists: record it (Terraform taints it) so that no twin follows.
                let state = read_project(ctx, id, protection).await.ok().flatten();
                let mut d = default_role_diag(
                    "Cannot set the project's default role",
                    &e,
                    id,
                    state.is_some(),
                );
                d.detail.push_str(&format!(" Project {id} was created and is recorded as tainted: fix the cause and run `terraform untaint` on it to keep it, or apply again to replace it (which needs deletion_protection = false)."));
                return Err(ApplyError::partial(state, d));
            }
        }
        read_project(ctx, id, protection).await?.ok_or_else(|| {
            Diagnostic::error(
                "Project vanished",
                format!("Project {id} was created but is not in the organization's project list"),
            )
            .into()
        })
    }

    async fn read(&self, ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let id: ProjectId = id_attr(state, "id")?;
        match read_project(ctx, id, opt_bool(state, "deletion_protection")).await? {
            Some(v) => Ok(Some(v)),
            None => ctx.not_found(&format!("project {id}")),
        }
    }

    async fn update(&self, ctx: &Ctx, prior: &Value, planned: &Value) -> Result<Value, ApplyError> {
        let id: ProjectId = id_attr(prior, "id")?;
        let name = req_str(planned, "name")?;
        let new_name = (opt_str(prior, "name") != Some(name)).then_some(name);
        let tz: Timezone = parse_attr(planned, "timezone")?;
        let new_tz = (opt_str(prior, "timezone") != Some(tz.as_str())).then_some(&tz);
        if new_name.is_some() || new_tz.is_some() {
            ctx.client
                .update_project(id, new_name, new_tz)
                .await
                .map_err(|e| api_diag("Cannot update the project", &e, None))?;
            ctx.cache.invalidate();
        }
        let protection = opt_bool(planned, "deletion_protection");
        if opt_str(prior, "default_role") != opt_str(planned, "default_role") {
            let role = match opt_str(planned, "default_role") {
                Some(_) => Some(parse_attr::<ProjectRole>(planned, "default_role")?),
                None => None,
            };
            let set = ctx.client.set_default_access(id, role).await;
            ctx.cache.invalidate();
            if let Err(e) = set {
                // A rename made before stays recorded.
                let state = read_project(ctx, id, protection).await.ok().flatten();
                let d = default_role_diag(
                    "Cannot change the project's default role",
                    &e,
                    id,
                    state.is_some(),
                );
                return Err(ApplyError::partial(state, d));
            }
        }
        read_project(ctx, id, protection).await?.ok_or_else(|| {
            Diagnostic::error("Project vanished", format!("Project {id} is gone")).into()
        })
    }

    async fn delete(&self, ctx: &Ctx, state: &Value) -> Result<(), Diagnostics> {
        if opt_bool(state, "deletion_protection").unwrap_or(true) {
            return Err(Diagnostic::attr_error(
                "deletion_protection",
                "Project is protected from deletion",
                "Set deletion_protection = false and apply before destroying the project.",
            )
            .into());
        }
        let org = ctx.org();
        let id: ProjectId = id_attr(state, "id")?;
        let result = ctx.client.delete_project(org, id).await;
        removed(
            ctx,
            result,
            "Cannot delete the project",
            &format!("Delete project {id} in Mixpanel's web app (Settings > Project Settings > Overview > Delete Project), then run terraform apply again."),
            || async { Ok(list_projects(ctx).await?.get(&id).is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
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
