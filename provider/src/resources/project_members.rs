//! `mixpanel_project_members`: a project's exact individual grants, e-mail address to role
//! (authoritative). Grants found in Mixpanel but not in the configuration are planned for
//! removal. Access through teams, the organization role or the "All Users" default role is not
//! an individual grant and is left alone.

use std::collections::BTreeMap;

use mixpanel_access::model::{Email, ProjectId, TargetType};
use mixpanel_access::permissions::AssignableRole;
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, removed, Ctx, NUMERIC_ID};
use crate::cty::{Type, Unknowable, Value};
use crate::framework::resource::bad_import_id;
use crate::framework::{
    as_string, Applied, Attribute, Diagnostic, Diagnostics, Failed, Plan, Schema, TypedResource,
};

use super::authoritative::{
    check_max_removals, map_keys, max_removals_attribute, plan_removals, EMAIL_ROLES,
};
use super::{granted_users, list_projects};

pub struct ProjectMembersResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectMembers {
    id: Unknowable<String>,
    #[serde(with = "as_string")]
    project_id: ProjectId,
    members: BTreeMap<String, AssignableRole>,
    max_removals: Option<i64>,
}

impl ProjectMembers {
    fn wanted(&self) -> Result<Vec<(Email, AssignableRole)>, Diagnostic> {
        self.members
            .iter()
            .map(|(e, r)| {
                e.parse::<Email>().map(|e| (e, r.clone())).map_err(|err| {
                    Diagnostic::attr_error("members", "Invalid value for members", err.to_string())
                })
            })
            .collect()
    }
}

/// The project's individual grants, or `None` when the project is not listed.
async fn individual_grants(
    ctx: &Ctx,
    project: ProjectId,
) -> Result<Option<Vec<(Email, AssignableRole)>>, Diagnostics> {
    if list_projects(ctx).await?.get(&project).is_none() {
        return Ok(None);
    }
    let grants = granted_users(ctx, project).await?;
    Ok(Some(
        grants
            .iter()
            .filter(|g| g.target_type == TargetType::Individual)
            .map(|g| {
                (
                    g.email.clone(),
                    AssignableRole::from_wire(g.role, g.custom_role_id.as_deref()),
                )
            })
            .collect(),
    ))
}

/// The grants as the model holds them, e-mail addresses spelled as in `like`.
fn model_of(
    project: ProjectId,
    grants: &[(Email, AssignableRole)],
    like: &ProjectMembers,
) -> ProjectMembers {
    let members = grants
        .iter()
        .map(|(e, r)| {
            let key = like
                .members
                .keys()
                .find(|k| k.eq_ignore_ascii_case(e.as_str()))
                .cloned()
                .unwrap_or_else(|| e.to_string());
            (key, r.clone())
        })
        .collect();
    ProjectMembers {
        id: Unknowable::Known(project.to_string()),
        project_id: project,
        members,
        max_removals: like.max_removals,
    }
}

fn by_hand(project: ProjectId) -> String {
    format!("Remove their individual roles in Mixpanel's web app (Settings > Project Settings > Users & Teams of project {project}), then run terraform apply again.")
}

/// Makes the project hold exactly `planned`'s individual grants; the result is what a read
/// then shows.
async fn converge(ctx: &Ctx, planned: ProjectMembers, creating: bool) -> Applied<ProjectMembers> {
    let project = planned.project_id;
    let Some(current) = individual_grants(ctx, project).await? else {
        return Err(Diagnostic::attr_error(
            "project_id",
            "No such project",
            format!("The provider's service account sees no project {project}."),
        )
        .into());
    };
    let wanted = planned.wanted()?;
    let extra: Vec<Email> = current
        .iter()
        .filter(|(e, _)| !wanted.iter().any(|(w, _)| w == e))
        .map(|(e, _)| e.clone())
        .collect();
    let names: Vec<String> = extra.iter().map(|e| e.to_string()).collect();
    if creating && !extra.is_empty() {
        return Err(Diagnostic::attr_error(
            "project_id",
            "The project has grants the plan did not show",
            format!(
                "Project {project} already grants {} individually, not in the configuration. Nothing was changed: import it first (terraform import <address> {project}) so that the plan shows their removal, or add them to members.",
                names.join(", ")
            ),
        )
        .into());
    }
    check_max_removals(planned.max_removals, &names, "project members")?;

    let mut diags = Diagnostics::new();
    // One request per role: the route takes one role for all its users.
    let mut by_role: BTreeMap<String, (AssignableRole, Vec<Email>)> = BTreeMap::new();
    for (e, r) in &wanted {
        let now = current.iter().find(|(c, _)| c == e).map(|(_, r)| r);
        if now != Some(r) {
            by_role
                .entry(r.to_string())
                .or_insert_with(|| (r.clone(), Vec::new()))
                .1
                .push(e.clone());
        }
    }
    for (role, users) in by_role.values() {
        if let Err(e) = ctx
            .client
            .grant_users_role(ctx.org(), users, &[project], role)
            .await
        {
            diags.push(api_diag(
                "Cannot grant the project roles",
                &e,
                Some("members"),
            ));
        }
    }
    if !extra.is_empty() {
        if let Err(d) = remove(ctx, project, &extra).await {
            diags.extend(d);
        }
    }
    let Some(after) = individual_grants(ctx, project).await? else {
        diags.push(Diagnostic::error(
            "The project is gone",
            format!("Project {project} is no longer listed after the change."),
        ));
        return Err(diags.into());
    };
    let got = model_of(project, &after, &planned);
    if diags.has_errors() {
        return Err(Failed::partial(Some(got), diags));
    }
    Ok(got)
}

/// Removes the users' individual grants, verified by a read.
async fn remove(ctx: &Ctx, project: ProjectId, users: &[Email]) -> Result<(), Diagnostics> {
    let result = ctx
        .client
        .remove_users_from_projects(ctx.org(), users, &[project])
        .await;
    let names: Vec<String> = users.iter().map(|u| u.to_string()).collect();
    removed(
        result,
        &format!(
            "Cannot remove the grants of {} on project {project}",
            names.join(", ")
        ),
        &by_hand(project),
        || async {
            let now = individual_grants(ctx, project).await?.unwrap_or_default();
            Ok(now.iter().any(|(e, _)| users.contains(e)))
        },
    )
    .await
}

#[tonic::async_trait]
impl TypedResource<Ctx> for ProjectMembersResource {
    type Model = ProjectMembers;

    fn type_name(&self) -> &'static str {
        "mixpanel_project_members"
    }

    fn schema(&self) -> Schema {
        Schema::new("A project's exact individual grants: e-mail address to project role. Authoritative: a grant made outside Terraform (say, a project owner added in the web app or through the API) shows in the next plan as a removal. Access through teams, the organization role or the \"All Users\" default role is not an individual grant and is left alone. Do not combine it with `mixpanel_project_member` on the same project: the two would fight. Removing an individual grant is not available upstream yet (the emulator only): against Mixpanel such a removal fails with where to make it by hand.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("The project's id."))
            .attr(Attribute::string("project_id").required().requires_replace().validate(NUMERIC_ID).describe("The project's id."))
            .attr(
                Attribute::of_type("members", Type::map(Type::String))
                    .required()
                    .validate(EMAIL_ROLES)
                    .describe("E-mail address to project role (`owner`, `admin`, `analyst` or `consumer`, or `custom:<role_id>` for a custom role of the project: the emulator only, as how Mixpanel assigns custom roles is not known upstream). Each user must be a member of the organization; only a project owner may grant `owner`."),
            )
            .attr(max_removals_attribute("project members"))
    }

    fn modify_plan(&self, prior: &Value, config: &Value, plan: &mut Plan) -> Diagnostics {
        plan_removals(
            prior,
            config,
            &plan.planned,
            map_keys,
            &["members"],
            "project members",
        )
    }

    async fn create(&self, ctx: &Ctx, planned: ProjectMembers) -> Applied<ProjectMembers> {
        converge(ctx, planned, true).await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: ProjectMembers,
    ) -> Result<Option<ProjectMembers>, Diagnostics> {
        match individual_grants(ctx, state.project_id).await? {
            Some(g) => Ok(Some(model_of(state.project_id, &g, &state))),
            None => ctx.not_found(&format!("project {}", state.project_id)),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _prior: ProjectMembers,
        planned: ProjectMembers,
    ) -> Applied<ProjectMembers> {
        converge(ctx, planned, false).await
    }

    async fn delete(&self, ctx: &Ctx, state: ProjectMembers) -> Result<(), Diagnostics> {
        let project = state.project_id;
        let Some(current) = individual_grants(ctx, project).await? else {
            return Ok(());
        };
        let users: Vec<Email> = state
            .wanted()?
            .into_iter()
            .map(|(e, _)| e)
            .filter(|e| current.iter().any(|(c, _)| c == e))
            .collect();
        if users.is_empty() {
            return Ok(());
        }
        remove(ctx, project, &users).await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<ProjectMembers, Diagnostics> {
        let project: ProjectId = id
            .parse()
            .map_err(|_| bad_import_id(id, self.import_id_format()))?;
        let grants = individual_grants(ctx, project).await?.ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "Cannot import the members of a project that does not exist",
                format!("The provider's service account sees no project {project}"),
            ))
        })?;
        let none = ProjectMembers {
            id: Unknowable::Unknown,
            project_id: project,
            members: BTreeMap::new(),
            max_removals: None,
        };
        Ok(model_of(project, &grants, &none))
    }

    fn import_id_format(&self) -> &'static str {
        "<project_id>"
    }
}
