//! `mixpanel_data_view`: a data view (Mixpanel's "workspace") of a project: a named, possibly
//! restricted and filtered view of the project's data; members are `mixpanel_data_view_member`.

use mixpanel_access::api::wire::{CreateDataView, DataView, UpdateDataView};
use mixpanel_access::model::ProjectId;
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, removed, Ctx, NUMERIC_ID};
use crate::cty::{Unknowable, Value};
use crate::framework::resource::bad_import_id;
use crate::framework::{
    as_string, Applied, Attribute, Diagnostic, Diagnostics, Failed, Schema, TypedResource,
    Validator,
};

use super::{list_projects, split2_parsed};

pub struct DataViewResource;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataViewModel {
    id: Unknowable<String>,
    data_view_id: Unknowable<String>,
    #[serde(with = "as_string")]
    project_id: ProjectId,
    name: String,
    description: String,
    restricted: bool,
    visible: bool,
    filters: String,
}

fn parse_filters(s: &str) -> Result<serde_json::Value, Diagnostic> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(Diagnostic::attr_error(
            "filters",
            "Invalid value for filters",
            "Write the filters as a JSON object, e.g. jsonencode({ ... }); \"{}\" for none.",
        )),
    }
}

impl DataViewModel {
    /// The view as Mixpanel holds it; `filters` keeps `like`'s spelling when it means the same.
    fn of(v: &DataView, like: Option<&DataViewModel>) -> DataViewModel {
        let filters = match like.and_then(|l| {
            serde_json::from_str::<serde_json::Value>(&l.filters)
                .ok()
                .map(|f| (f, &l.filters))
        }) {
            Some((f, s)) if f == v.data_filters => s.clone(),
            _ => serde_json::to_string(&v.data_filters).unwrap_or_else(|_| "{}".into()),
        };
        DataViewModel {
            id: Unknowable::Known(format!("{}/{}", v.project_id, v.id)),
            data_view_id: Unknowable::Known(v.id.to_string()),
            project_id: v.project_id,
            name: v.name.clone(),
            description: v.description.clone(),
            restricted: v.is_restricted,
            visible: v.is_visible,
            filters,
        }
    }

    fn view_id(&self) -> Result<u64, Diagnostic> {
        super::known_id(&self.data_view_id, "data_view_id")
    }
}

/// The project's data views, or `None` when the project is not listed.
pub(crate) async fn find_view(
    ctx: &Ctx,
    project: ProjectId,
    id: u64,
) -> Result<Option<DataView>, Diagnostics> {
    if list_projects(ctx).await?.get(&project).is_none() {
        return Ok(None);
    }
    let views = ctx.client.list_data_views(project).await.map_err(|e| {
        api_diag(
            "Cannot list the project's data views",
            &e,
            Some("project_id"),
        )
    })?;
    Ok(views.into_iter().find(|v| v.id == id))
}

#[tonic::async_trait]
impl TypedResource<Ctx> for DataViewResource {
    type Model = DataViewModel;

    fn type_name(&self) -> &'static str {
        "mixpanel_data_view"
    }

    fn schema(&self) -> Schema {
        Schema::new("A data view of a project (Mixpanel's \"workspace\"): a named view of the project's data, optionally restricted to its members and filtered. Members are `mixpanel_data_view_member`. The project's own \"All Project Data\" view is not managed here.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("`<project_id>/<data_view_id>`."))
            .attr(Attribute::string("data_view_id").computed().use_state_for_unknown().describe("The data view's id."))
            .attr(Attribute::string("project_id").required().requires_replace().validate(NUMERIC_ID).describe("The project's id."))
            .attr(Attribute::string("name").required().validate(Validator::Custom(name_ok)).describe("The view's name, 1 to 255 characters."))
            .attr(Attribute::string("description").default_value("").describe("What the view is for."))
            .attr(Attribute::bool("restricted").default_value(false).describe("Whether only the view's members may use it."))
            .attr(Attribute::bool("visible").default_value(true).describe("Whether the view is listed to people who may join it."))
            .attr(Attribute::string("filters").default_value("{}").validate(Validator::Custom(filters_ok)).describe("The view's data filters as a JSON object (`jsonencode({...})`); `{}` for none. Mixpanel publishes no schema for them: they are passed as written."))
    }

    async fn create(&self, ctx: &Ctx, planned: DataViewModel) -> Applied<DataViewModel> {
        let project = planned.project_id;
        let filters = parse_filters(&planned.filters)?;
        let made = ctx
            .client
            .create_data_view(
                project,
                &CreateDataView {
                    name: planned.name.clone(),
                    is_restricted: planned.restricted,
                    is_visible: planned.visible,
                    description: Some(planned.description.clone()),
                },
            )
            .await
            .map_err(|e| api_diag("Cannot create the data view", &e, Some("name")))?;
        let mut diags = Diagnostics::new();
        if filters.as_object().is_some_and(|o| !o.is_empty()) {
            if let Err(e) = ctx
                .client
                .update_data_view(
                    project,
                    &UpdateDataView {
                        id: made.id,
                        data_filters: Some(filters),
                        ..Default::default()
                    },
                )
                .await
            {
                diags.push(api_diag(
                    "Cannot set the data view's filters",
                    &e,
                    Some("filters"),
                ));
            }
        }
        let now = find_view(ctx, project, made.id).await?;
        match now {
            Some(v) if !diags.has_errors() => Ok(DataViewModel::of(&v, Some(&planned))),
            Some(v) => Err(Failed::partial(
                Some(DataViewModel::of(&v, Some(&planned))),
                diags,
            )),
            None => {
                diags.push(Diagnostic::error(
                    "Data view not listed",
                    format!(
                        "Mixpanel created data view {} but does not list it",
                        made.id
                    ),
                ));
                Err(Failed::partial(
                    Some(DataViewModel::of(&made, Some(&planned))),
                    diags,
                ))
            }
        }
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: DataViewModel,
    ) -> Result<Option<DataViewModel>, Diagnostics> {
        let id = state.view_id()?;
        match find_view(ctx, state.project_id, id).await? {
            Some(v) => Ok(Some(DataViewModel::of(&v, Some(&state)))),
            None => ctx.not_found(&format!("data view {id} of project {}", state.project_id)),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx,
        prior: DataViewModel,
        planned: DataViewModel,
    ) -> Applied<DataViewModel> {
        let id = prior.view_id()?;
        let filters = parse_filters(&planned.filters)?;
        ctx.client
            .update_data_view(
                planned.project_id,
                &UpdateDataView {
                    id,
                    name: Some(planned.name.clone()),
                    description: Some(planned.description.clone()),
                    is_restricted: Some(planned.restricted),
                    is_visible: Some(planned.visible),
                    data_filters: Some(filters),
                },
            )
            .await
            .map_err(|e| api_diag("Cannot change the data view", &e, None))?;
        find_view(ctx, planned.project_id, id)
            .await?
            .map(|v| DataViewModel::of(&v, Some(&planned)))
            .ok_or_else(|| {
                Diagnostic::error(
                    "Data view gone",
                    format!("Data view {id} is no longer listed"),
                )
                .into()
            })
    }

    async fn delete(&self, ctx: &Ctx, state: DataViewModel) -> Result<(), Diagnostics> {
        let id = state.view_id()?;
        let project = state.project_id;
        let result = ctx.client.delete_data_view(project, id).await;
        removed(
            result,
            "Cannot delete the data view",
            &format!("Delete it in Mixpanel's web app (Settings > Project Settings > Data Views of project {project}), then run terraform apply again."),
            || async { Ok(find_view(ctx, project, id).await?.is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<DataViewModel, Diagnostics> {
        let (project, view): (ProjectId, u64) = split2_parsed(id, self.import_id_format())?;
        match find_view(ctx, project, view).await? {
            Some(v) if v.is_global => Err(Diagnostic::error("Cannot import the global data view", "The project's \"All Project Data\" view is Mixpanel's own and is not managed by this resource.").into()),
            Some(v) => Ok(DataViewModel::of(&v, None)),
            None => Err(bad_import_id(id, "an existing <project_id>/<data_view_id>")),
        }
    }

    fn import_id_format(&self) -> &'static str {
        "<project_id>/<data_view_id>"
    }
}

fn name_ok(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    (s.trim().is_empty() || s.chars().count() > 255)
        .then(|| "use a name of 1 to 255 characters".to_string())
}

fn filters_ok(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    parse_filters(s).err().map(|d| d.detail)
}
