//! `mixpanel_classified_data_access`: a user's or a team's access to a project's classified
//! data (the legacy per-user and per-team toggles; since April 2026 custom roles carry it as the
//! permission `classified_data_access`).

use std::collections::BTreeMap;

use mixpanel_access::api::ApiError;
use mixpanel_access::model::{Email, ProjectId};
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, Ctx, EMAIL, NUMERIC_ID};
use crate::cty::{Unknowable, Value};
use crate::framework::resource::bad_import_id;
use crate::framework::{
    as_string, Applied, Attribute, Diagnostic, Diagnostics, Schema, TypedResource,
};

use super::list_projects;
use super::principal::{validate_one_of, Who};

pub struct ClassifiedDataAccessResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifiedAccess {
    id: Unknowable<String>,
    #[serde(with = "as_string")]
    project_id: ProjectId,
    email: Option<Email>,
    team_id: Option<String>,
}

impl ClassifiedAccess {
    fn new(project: ProjectId, w: &Who) -> ClassifiedAccess {
        let (email, team_id) = w.fields();
        ClassifiedAccess {
            id: Unknowable::Known(format!("{project}/{}", w.key())),
            project_id: project,
            email,
            team_id,
        }
    }
}

const BY_HAND: &str = "Check it in Mixpanel's web app (Settings > Project Settings > Users & Teams, the classified data toggle).";

/// Whether the user or team has the access; `None` when the project is not listed. There is
/// no read route upstream: against Mixpanel this is an error that says so.
async fn has_access(ctx: &Ctx, project: ProjectId, w: &Who) -> Result<Option<bool>, Diagnostics> {
    if list_projects(ctx).await?.get(&project).is_none() {
        return Ok(None);
    }
    let access = ctx.client.get_classified_access(project).await.map_err(|e| {
        let mut d = api_diag("Cannot read classified-data access", &e, Some("project_id"));
        if matches!(e, ApiError::EmulatorOnly { .. }) || e.is_not_found() {
            d.detail = format!("{} Mixpanel has no route to read who has classified-data access, so the provider cannot verify it. {BY_HAND}", d.detail);
        }
        d
    })?;
    Ok(Some(match w {
        Who::User(e) => access.users.contains(e),
        Who::Team(t) => access.teams.contains(t),
    }))
}

async fn set(ctx: &Ctx, project: ProjectId, w: &Who, on: bool) -> Result<(), ApiError> {
    let mut body = BTreeMap::new();
    match w {
        Who::User(e) => {
            body.insert(e.to_string(), on);
            ctx.client.set_classified_access(project, &body).await
        }
        Who::Team(t) => {
            body.insert(t.to_string(), on);
            ctx.client.set_team_classified_access(project, &body).await
        }
    }
}

#[tonic::async_trait]
impl TypedResource<Ctx> for ClassifiedDataAccessResource {
    type Model = ClassifiedAccess;

    fn type_name(&self) -> &'static str {
        "mixpanel_classified_data_access"
    }

    fn schema(&self) -> Schema {
        Schema::new("Access to a project's classified data for a user (by e-mail) or a team. Mixpanel has no route to read this access back: the read is the emulator's, so against Mixpanel every operation fails with where to check it by hand rather than report an unverified change. For roles, prefer a `mixpanel_custom_role` with the permission `classified_data_access`.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().case_insensitive().describe("`<project_id>/<email>` or `<project_id>/team/<team_id>`."))
            .attr(Attribute::string("project_id").required().requires_replace().validate(NUMERIC_ID).describe("The project's id."))
            .attr(Attribute::string("email").optional().requires_replace().case_insensitive().validate(EMAIL).describe("The user's e-mail address. Set this or team_id."))
            .attr(Attribute::string("team_id").optional().requires_replace().validate(NUMERIC_ID).describe("The team's id. Set this or email."))
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate_one_of(config)
    }

    async fn create(&self, ctx: &Ctx, planned: ClassifiedAccess) -> Applied<ClassifiedAccess> {
        let w = Who::of(&planned.email, &planned.team_id)?;
        let project = planned.project_id;
        set(ctx, project, &w, true)
            .await
            .map_err(|e| api_diag("Cannot grant classified-data access", &e, None))?;
        if has_access(ctx, project, &w).await? != Some(true) {
            return Err(Diagnostic::error(
                "Access not applied",
                format!(
                    "Project {project} does not list {} with classified-data access",
                    w.describe()
                ),
            )
            .into());
        }
        Ok(ClassifiedAccess::new(project, &w))
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: ClassifiedAccess,
    ) -> Result<Option<ClassifiedAccess>, Diagnostics> {
        let w = Who::of(&state.email, &state.team_id)?;
        match has_access(ctx, state.project_id, &w).await? {
            Some(true) => Ok(Some(ClassifiedAccess::new(state.project_id, &w))),
            _ => ctx.not_found(&format!(
                "classified-data access of {} on project {}",
                w.describe(),
                state.project_id
            )),
        }
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        _prior: ClassifiedAccess,
        planned: ClassifiedAccess,
    ) -> Applied<ClassifiedAccess> {
        Ok(planned)
    }

    async fn delete(&self, ctx: &Ctx, state: ClassifiedAccess) -> Result<(), Diagnostics> {
        let w = Who::of(&state.email, &state.team_id)?;
        let project = state.project_id;
        let result = set(ctx, project, &w, false).await;
        crate::context::removed(
            result,
            "Cannot revoke classified-data access",
            BY_HAND,
            || async { Ok(has_access(ctx, project, &w).await? == Some(true)) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<ClassifiedAccess, Diagnostics> {
        let fmt = self.import_id_format();
        let (p, rest) = super::split2(id, fmt)?;
        let project: ProjectId = p.parse().map_err(|_| bad_import_id(id, fmt))?;
        let w = Who::parse_key(rest).ok_or_else(|| bad_import_id(id, fmt))?;
        if has_access(ctx, project, &w).await? != Some(true) {
            return Err(Diagnostic::error(
                "Cannot import access that does not exist",
                format!(
                    "{} has no classified-data access on project {project}",
                    w.describe()
                ),
            )
            .into());
        }
        Ok(ClassifiedAccess::new(project, &w))
    }

    fn import_id_format(&self) -> &'static str {
        "<project_id>/<email> or <project_id>/team/<team_id>"
    }
}
