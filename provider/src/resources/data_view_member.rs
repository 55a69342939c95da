//! `mixpanel_data_view_member`: a user (by e-mail) or a team in a data view.

use mixpanel_access::api::wire::DataViewMembers;
use mixpanel_access::model::{Email, ProjectId};
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, removed, Ctx, EMAIL, NUMERIC_ID};
use crate::cty::{Unknowable, Value};
use crate::framework::resource::bad_import_id;
use crate::framework::{
    as_string, Applied, Attribute, Diagnostic, Diagnostics, Schema, TypedResource,
};

use super::data_view::find_view;
use super::principal::{validate_one_of, Who};

pub struct DataViewMemberResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataViewMember {
    id: Unknowable<String>,
    #[serde(with = "as_string")]
    project_id: ProjectId,
    #[serde(with = "as_string")]
    data_view_id: u64,
    email: Option<Email>,
    team_id: Option<String>,
}

impl DataViewMember {
    fn new(project: ProjectId, view: u64, w: &Who) -> DataViewMember {
        let (email, team_id) = w.fields();
        DataViewMember {
            id: Unknowable::Known(format!("{project}/{view}/{}", w.key())),
            project_id: project,
            data_view_id: view,
            email,
            team_id,
        }
    }
}

/// Whether the view lists the member (`false` when the view is not listed).
async fn is_listed(ctx: &Ctx, project: ProjectId, view: u64, w: &Who) -> Result<bool, Diagnostics> {
    let Some(v) = find_view(ctx, project, view).await? else {
        return Ok(false);
    };
    Ok(match w {
        Who::User(e) => v.member_list.iter().any(|m| &m.email == e),
        Who::Team(t) => v.team_list.iter().any(|m| &m.id == t),
    })
}

fn body(view: u64, w: &Who) -> DataViewMembers {
    let mut b = DataViewMembers {
        id: view,
        ..Default::default()
    };
    match w {
        Who::User(e) => b.user_emails.push(e.clone()),
        Who::Team(t) => b.team_ids.push(*t),
    }
    b
}

#[tonic::async_trait]
impl TypedResource<Ctx> for DataViewMemberResource {
    type Model = DataViewMember;

    fn type_name(&self) -> &'static str {
        "mixpanel_data_view_member"
    }

    fn schema(&self) -> Schema {
        Schema::new("A member of a data view: a user (who must be a member of the organization) or a team.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().case_insensitive().describe("`<project_id>/<data_view_id>/<email>` or `<project_id>/<data_view_id>/team/<team_id>`."))
            .attr(Attribute::string("project_id").required().requires_replace().validate(NUMERIC_ID).describe("The project's id."))
            .attr(Attribute::string("data_view_id").required().requires_replace().validate(NUMERIC_ID).describe("The data view's id."))
            .attr(Attribute::string("email").optional().requires_replace().case_insensitive().validate(EMAIL).describe("The user's e-mail address. Set this or team_id."))
            .attr(Attribute::string("team_id").optional().requires_replace().validate(NUMERIC_ID).describe("The team's id. Set this or email."))
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate_one_of(config)
    }

    async fn create(&self, ctx: &Ctx, planned: DataViewMember) -> Applied<DataViewMember> {
        let w = Who::of(&planned.email, &planned.team_id)?;
        let (project, view) = (planned.project_id, planned.data_view_id);
        ctx.client
            .upsert_data_view_members(project, &body(view, &w))
            .await
            .map_err(|e| api_diag("Cannot add the data view member", &e, None))?;
        if !is_listed(ctx, project, view, &w).await? {
            return Err(Diagnostic::error(
                "Membership not applied",
                format!("Data view {view} does not list {}", w.describe()),
            )
            .into());
        }
        Ok(DataViewMember::new(project, view, &w))
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: DataViewMember,
    ) -> Result<Option<DataViewMember>, Diagnostics> {
        let w = Who::of(&state.email, &state.team_id)?;
        let (project, view) = (state.project_id, state.data_view_id);
        if is_listed(ctx, project, view, &w).await? {
            Ok(Some(DataViewMember::new(project, view, &w)))
        } else {
            ctx.not_found(&format!("{} in data view {view}", w.describe()))
        }
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        _prior: DataViewMember,
        planned: DataViewMember,
    ) -> Applied<DataViewMember> {
        // Every attribute forces replacement.
        Ok(planned)
    }

    async fn delete(&self, ctx: &Ctx, state: DataViewMember) -> Result<(), Diagnostics> {
        let w = Who::of(&state.email, &state.team_id)?;
        let (project, view) = (state.project_id, state.data_view_id);
        let result = ctx
            .client
            .delete_data_view_members(project, &body(view, &w))
            .await;
        removed(
            result,
            "Cannot remove the data view member",
            &format!("Remove {} from data view {view} in Mixpanel's web app (Settings > Project Settings > Data Views), then run terraform apply again.", w.describe()),
            || is_listed(ctx, project, view, &w),
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<DataViewMember, Diagnostics> {
        let fmt = self.import_id_format();
        let mut parts = id.splitn(3, '/');
        let (Some(p), Some(v), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad_import_id(id, fmt));
        };
        let project: ProjectId = p.parse().map_err(|_| bad_import_id(id, fmt))?;
        let view: u64 = v.parse().map_err(|_| bad_import_id(id, fmt))?;
        let w = Who::parse_key(rest).ok_or_else(|| bad_import_id(id, fmt))?;
        if !is_listed(ctx, project, view, &w).await? {
            return Err(Diagnostic::error(
                "Cannot import a membership that does not exist",
                format!(
                    "Data view {view} of project {project} does not list {}",
                    w.describe()
                ),
            )
            .into());
        }
        Ok(DataViewMember::new(project, view, &w))
    }

    fn import_id_format(&self) -> &'static str {
        "<project_id>/<data_view_id>/<email> or <project_id>/<data_view_id>/team/<team_id>"
    }
}
