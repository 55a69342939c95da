//! `mixpanel_rotated_credential`: a service account that the mixpanel-rotator keeps, declared in
//! Terraform. The provider creates the account, writes its secret straight into Vault in the
//! rotator's layout (`<mount>/<prefix>/creds/<name>`, with the inventory entry in its metadata)
//! and keeps in the state only the Vault path, the current account's id and username, and the
//! inventory fields: the secret never enters the state. The resource follows the inventory
//! entry, so a rotation (a new account, a new secret) is not drift; a change of a project's
//! role, of the projects or of the teams is applied to whichever account is current.
//!
//! Schema version 1 holds `projects` as a map of project id to role; version 0 held a set of
//! ids and one `role` for all of them ([`upgrade_v0`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use mixpanel_access::inventory::{
    format_duration, format_optional_period, parse_duration, parse_optional_period, CredentialKind,
    CredentialStatus, IntegrationType, InventoryEntry,
};
use mixpanel_access::model::{ProjectId, ProjectRole, ProjectRoleGrant, ServiceAccountId, TeamId};
use mixpanel_access::provision::{self, ProvisionError};
use mixpanel_access::vault::VaultStore;
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, removed, Ctx};
use crate::cty::{AttributePath, Type, Unknowable, Value};
use crate::framework::resource::{opt_bool, opt_str};
use crate::framework::{
    Applied, Attribute, Diagnostic, Diagnostics, Failed, Plan, Schema, TypedResource, Validator,
};

use super::service_account::delete_service_account;
use super::service_account_project::project_accounts;
use super::{list_service_accounts, list_teams};

pub struct RotatedCredentialResource;

const TYPE: &str = "mixpanel_rotated_credential";
const SA_ROLES: &[&str] = &["admin", "analyst", "consumer"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotatedCredentialModel {
    id: Unknowable<String>,
    name: String,
    /// Project id -> the account's role on it.
    projects: Option<BTreeMap<String, ProjectRole>>,
    teams: Option<BTreeSet<String>>,
    integration: Option<IntegrationType>,
    owner: Option<String>,
    used_by: Option<String>,
    purpose: Option<String>,
    created_by: Option<String>,
    rotation_period: Option<String>,
    overlap: Option<String>,
    deletion_protection: Option<bool>,
    vault_path: Unknowable<String>,
    service_account_id: Unknowable<String>,
    username: Unknowable<String>,
}

fn text(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn ids<T: std::str::FromStr>(
    set: &Option<BTreeSet<String>>,
    attr: &str,
    what: &str,
) -> Result<Vec<T>, Diagnostic> {
    set.iter()
        .flatten()
        .map(|s| {
            s.parse::<T>().map_err(|_| {
                Diagnostic::attr_error(
                    attr,
                    format!("Invalid value for {attr}"),
                    format!("\"{s}\" is not a {what} id: use the numeric id (e.g. mixpanel_project.x.id)"),
                )
            })
        })
        .collect()
}

/// The planned projects and their roles, or a diagnostic on `projects["<key>"]`.
fn grants(
    projects: &Option<BTreeMap<String, ProjectRole>>,
) -> Result<BTreeMap<ProjectId, ProjectRole>, Diagnostic> {
    let mut out = BTreeMap::new();
    for (key, role) in projects.iter().flatten() {
        let id = key.parse::<ProjectId>().map_err(|_| bad_project_id(key))?;
        out.insert(id, *role);
    }
    Ok(out)
}

fn bad_project_id(key: &str) -> Diagnostic {
    Diagnostic::error(
        "Invalid project id in projects",
        format!("\"{key}\" is not a project id: key each project by its numeric id, e.g. {{ (mixpanel_project.x.id) = \"analyst\" }}"),
    )
    .at(AttributePath::root().then_attr("projects").then_key(key))
}

/// The problems with a configured `projects` map, each on its element's path.
fn check_projects(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let Some(Value::Map(items)) = config.get_attr("projects").map(Value::inner) else {
        return diags;
    };
    for (key, role) in items {
        if key.parse::<ProjectId>().is_err() {
            diags.push(bad_project_id(key));
        }
        let problem = match role.as_str() {
            _ if !role.is_known() || role.is_null() => None,
            Some("owner") => Some(
                "service accounts cannot be project owners; use admin, analyst or consumer"
                    .to_string(),
            ),
            Some(r) if !SA_ROLES.contains(&r) => Some(format!(
                "\"{r}\" is not a role; use one of: admin, analyst, consumer"
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            diags.push(
                Diagnostic::error("Invalid role in projects", problem)
                    .at(AttributePath::root().then_attr("projects").then_key(key)),
            );
        }
    }
    diags
}

/// A version-0 state (`projects` a set of ids, one `role` for all of them) in the version-1
/// shape: each project keyed to the old `role` (consumer when there was none).
pub fn upgrade_v0(mut state: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = state.as_object_mut() {
        let role = obj
            .remove("role")
            .and_then(|r| r.as_str().map(str::to_string))
            .unwrap_or_else(|| ProjectRole::Consumer.to_string());
        let projects = match obj.remove("projects") {
            Some(serde_json::Value::Array(ids)) => serde_json::Value::Object(
                ids.iter()
                    .filter_map(|id| id.as_str())
                    .map(|id| (id.to_string(), serde_json::Value::String(role.clone())))
                    .collect(),
            ),
            _ => serde_json::Value::Null,
        };
        obj.insert("projects".into(), projects);
    }
    state
}

/// `a` written as `b` was, when both mean the same duration (so `90d` stays `90d`).
fn keep_period(asked: &Option<String>, stored: Option<Duration>) -> String {
    if let Some(a) = asked {
        if parse_optional_period(a).ok() == Some(stored) {
            return a.clone();
        }
    }
    format_optional_period(stored)
}

fn keep_duration(asked: &Option<String>, stored: Duration) -> String {
    if let Some(a) = asked {
        if parse_duration(a).ok() == Some(stored) {
            return a.clone();
        }
    }
    format_duration(stored)
}

impl RotatedCredentialModel {
    /// The inventory fields this resource declares, written onto `e`.
    fn fill_entry(&self, e: &mut InventoryEntry) -> Result<(), Diagnostic> {
        e.integration = self.integration.unwrap_or(IntegrationType::Custom);
        e.owner = text(&self.owner);
        e.used_by = text(&self.used_by);
        e.purpose = text(&self.purpose);
        e.created_by = self
            .created_by
            .clone()
            .unwrap_or_else(|| "terraform".into());
        // The account's own role (fixed at creation, kept by rotations) stays as low as it
        // goes; its access is the grants per project.
        if e.role.is_none() {
            e.role = Some(ProjectRole::Consumer);
        }
        e.set_grants(grants(&self.projects)?);
        if let Some(p) = &self.rotation_period {
            e.rotation_period = parse_optional_period(p).map_err(|err| {
                Diagnostic::attr_error(
                    "rotation_period",
                    "Invalid rotation_period",
                    err.to_string(),
                )
            })?;
        }
        if let Some(o) = &self.overlap {
            e.overlap = parse_duration(o).map_err(|err| {
                Diagnostic::attr_error("overlap", "Invalid overlap", err.to_string())
            })?;
        }
        e.validate()
            .map_err(|err| Diagnostic::error("Invalid credential", err.to_string()))
    }
}

async fn entry_of(store: &VaultStore, name: &str) -> Result<Option<InventoryEntry>, Diagnostic> {
    match store.read_inventory_entry(name).await {
        Ok(None) => Ok(None),
        Ok(Some(Ok(e))) => Ok(Some(e)),
        Ok(Some(Err(err))) => Err(Diagnostic::error(
            "Invalid inventory entry in Vault",
            format!("creds/{name} holds metadata that is not a valid inventory entry: {err}. Fix it with `mixpanel-rotator inventory apply`."),
        )),
        Err(err) => Err(Diagnostic::error(
            "Cannot read the inventory entry from Vault",
            format!("creds/{name}: {err}"),
        )),
    }
}

/// The entry's current account, or an error that says why there is none.
fn account_of(e: &InventoryEntry) -> Result<ServiceAccountId, Diagnostic> {
    if e.kind != CredentialKind::ServiceAccount {
        return Err(Diagnostic::attr_error(
            "name",
            "Not a service-account credential",
            format!(
                "{} is a {} in the inventory; {TYPE} manages service accounts only",
                e.name, e.kind
            ),
        ));
    }
    e.sa_id.ok_or_else(|| {
        Diagnostic::error(
            "The inventory entry names no account",
            format!("{} has no service account id in the inventory: its first rotation creates one (mixpanel-rotator rotate {})", e.name, e.name),
        )
    })
}

/// Refuses to change an account while the rotator replaces it.
fn not_rotating(e: &InventoryEntry) -> Result<(), Diagnostic> {
    if e.status == CredentialStatus::Rotating {
        return Err(Diagnostic::error(
            "A rotation is in progress",
            format!("The rotator is replacing the account of {} right now; a change applied to the old account would be lost. Run terraform apply again when `mixpanel-rotator status {}` no longer says rotating.", e.name, e.name),
        ));
    }
    Ok(())
}

/// What Mixpanel and Vault hold for `name`, in the shape of the model. `asked` keeps the
/// user's spelling of durations and the optional attributes left null.
async fn observe(
    ctx: &Ctx,
    store: &VaultStore,
    name: &str,
    asked: &RotatedCredentialModel,
) -> Result<Option<RotatedCredentialModel>, Diagnostics> {
    let Some(e) = entry_of(store, name).await? else {
        return Ok(None);
    };
    let sa = account_of(&e)?;
    if list_service_accounts(ctx).await?.get(&sa).is_none() && !ctx.sees_whole_organization() {
        return ctx.not_found(&format!("service account {sa}"));
    }
    // The grants the current account really holds, each project's role read, on the projects
    // the entry or the state names (a grant removed or changed out of band shows in the plan,
    // and apply puts it back).
    let mut candidates: BTreeSet<ProjectId> = e.projects.iter().copied().collect();
    candidates.extend(grants(&asked.projects).unwrap_or_default().into_keys());
    let mut projects = BTreeMap::new();
    for p in candidates {
        if let Some(m) = project_accounts(ctx, p).await?.get(&sa) {
            projects.insert(p.to_string(), m.project_role);
        }
    }
    let teams: BTreeSet<String> = list_teams(ctx)
        .await?
        .iter()
        .filter(|t| t.service_accounts.contains(&sa))
        .map(|t| t.id.to_string())
        .collect();
    Ok(Some(RotatedCredentialModel {
        id: Unknowable::Known(e.name.clone()),
        name: e.name.clone(),
        projects: none_if_empty(projects, &asked.projects),
        teams: none_if_empty(teams, &asked.teams),
        integration: Some(e.integration),
        owner: opt(&e.owner),
        used_by: opt(&e.used_by),
        purpose: opt(&e.purpose),
        created_by: opt(&e.created_by),
        rotation_period: Some(keep_period(&asked.rotation_period, e.rotation_period)),
        overlap: Some(keep_duration(&asked.overlap, e.overlap)),
        deletion_protection: Some(asked.deletion_protection.unwrap_or(true)),
        vault_path: Unknowable::Known(
            store
                .credential_location(name)
                .map_err(|err| Diagnostic::attr_error("name", "Invalid name", err.to_string()))?,
        ),
        service_account_id: Unknowable::Known(sa.to_string()),
        username: Unknowable::Known(
            e.username
                .as_ref()
                .map(|u| u.as_str().to_string())
                .unwrap_or_default(),
        ),
    }))
}

/// `None` for an empty collection the configuration left null.
fn none_if_empty<T: IntoIterator + Default + PartialEq>(s: T, was: &Option<T>) -> Option<T> {
    if s == T::default() && was.is_none() {
        None
    } else {
        Some(s)
    }
}

fn provision_diag(e: ProvisionError) -> Diagnostic {
    match e {
        ProvisionError::Api(a) => api_diag("Cannot create the service account", &a, Some("name")),
        ProvisionError::Vault(v) => Diagnostic::error("Cannot use Vault", v.to_string()),
        ProvisionError::Refused(m) => {
            Diagnostic::attr_error("name", "Cannot create the credential", m)
        }
        ProvisionError::Failed(m) => {
            Diagnostic::error("The credential was created only in part", m)
        }
    }
}

#[tonic::async_trait]
impl TypedResource<Ctx> for RotatedCredentialResource {
    type Model = RotatedCredentialModel;

    fn type_name(&self) -> &'static str {
        TYPE
    }

    fn schema(&self) -> Schema {
        Schema::new("A service account that the mixpanel-rotator keeps: the provider creates it, writes its secret straight into Vault in the rotator's layout (`<mount>/<prefix>/creds/<name>`, the inventory entry in its metadata) and keeps only the Vault path, the current account's id and username and the inventory fields in the state. The secret never enters the Terraform state. Rotations by the rotator are not drift; a change of a project's role, of the projects or of the teams is applied to the current account, and the rotator gives each successor exactly these grants. Needs the provider's `vault` block.")
            .version(1)
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("The credential's name (the import id)."))
            .attr(Attribute::string("name").required().requires_replace().describe("The credential's name in the inventory: its path under `creds/` (letters, digits, `-`, `_`, `.`, segments separated by `/`)."))
            .attr(Attribute::of_type("projects", Type::map(Type::String)).optional().describe("The projects the account is granted, each project id mapped to its role there: `admin`, `analyst` or `consumer`, e.g. `{ (mixpanel_project.prod.id) = \"consumer\", (mixpanel_project.dev.id) = \"analyst\" }`. A change applies to the current account at once; the rotator gives each successor exactly these grants and reads each project's role back before promoting it. The account's own role is consumer (Mixpanel fixes it at creation); its access is these grants and its teams'."))
            .attr(Attribute::of_type("teams", Type::set(Type::String)).optional().describe("Ids of the teams the account is a member of."))
            .attr(Attribute::string("integration").optional().computed().default_value("custom").validate(Validator::OneOf(IntegrationType::NAMES)).describe("What kind of integration uses it: `data_pipeline`, `bi_tool`, `cohort_sync`, `reverse_etl` or `custom` (default)."))
            .attr(Attribute::string("owner").optional().describe("The person or team accountable for the credential."))
            .attr(Attribute::string("used_by").optional().describe("The system or team that uses it."))
            .attr(Attribute::string("purpose").optional().describe("What it is for."))
            .attr(Attribute::string("created_by").optional().computed().default_value("terraform").describe("Who created it, for the inventory (default `terraform`)."))
            .attr(Attribute::string("rotation_period").optional().computed().default_value("90d").validate(Validator::Custom(|v| v.as_str().and_then(|s| parse_optional_period(s).err().map(|e| e.to_string())))).describe("How often the rotator replaces it, e.g. `90d`, `30d`, or `never` (default `90d`)."))
            .attr(Attribute::string("overlap").optional().computed().default_value("24h").validate(Validator::Custom(|v| v.as_str().and_then(|s| parse_duration(s).err().map(|e| e.to_string())))).describe("How long the old secret keeps working after a rotation (default `24h`)."))
            .attr(Attribute::bool("deletion_protection").optional().computed().default_value(true).describe("While true (the default), destroying the resource fails: set it to false and apply before a destroy deletes the account and its Vault entry."))
            .attr(Attribute::string("vault_path").computed().describe("Where consumers read the credential: `<mount>/<prefix>/creds/<name>` (`username`, `secret`, `sa_id`)."))
            .attr(Attribute::string("service_account_id").computed().describe("The current account's id (a rotation replaces it)."))
            .attr(Attribute::string("username").computed().describe("The current account's full username (a rotation replaces it)."))
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        check_projects(config)
    }

    fn upgrade_state(
        &self,
        from_version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        match from_version {
            0 => Ok(upgrade_v0(state)),
            1 => Ok(state),
            v => Err(Diagnostic::error(
                "Unsupported state version",
                format!("{TYPE} state version {v} is newer than this provider (version 1): use the provider version that wrote it"),
            )
            .into()),
        }
    }

    fn modify_plan(&self, prior: &Value, _config: &Value, plan: &mut Plan) -> Diagnostics {
        // The account changes only when the rotator rotates; keep the known values in plans.
        let same = opt_str(prior, "name") == opt_str(&plan.planned, "name");
        if !prior.is_null() && !plan.planned.is_null() && same {
            for attr in ["vault_path", "service_account_id", "username"] {
                if let Some(v) = prior.get_attr(attr) {
                    plan.planned.set_attr(attr, v.clone());
                }
            }
        }
        // A destroy of a protected credential is refused at plan.
        if plan.planned.is_null()
            && !prior.is_null()
            && opt_bool(prior, "deletion_protection") != Some(false)
        {
            return Diagnostic::attr_error(
                "deletion_protection",
                "The credential is protected",
                format!("Destroying {TYPE} \"{}\" deletes its service account and its Vault entry, and every consumer loses access. Set deletion_protection = false and apply first.", opt_str(prior, "name").unwrap_or_default()),
            )
            .into();
        }
        Diagnostics::new()
    }

    async fn create(
        &self,
        ctx: &Ctx,
        planned: RotatedCredentialModel,
    ) -> Applied<RotatedCredentialModel> {
        let store = ctx.vault(TYPE)?;
        let mut entry = InventoryEntry::new(
            planned.name.clone(),
            CredentialKind::ServiceAccount,
            IntegrationType::Custom,
        );
        planned.fill_entry(&mut entry)?;
        let teams = ids::<TeamId>(&planned.teams, "teams", "team")?;
        let made = provision::create_service_account_credential(
            &ctx.org_client(),
            store,
            entry,
            &teams,
            Utc::now(),
        )
        .await;
        let made = match made {
            Ok(m) => m,
            Err(e @ ProvisionError::Failed(_)) => {
                // The account and its secret exist: record what is there (tainted), so the
                // next apply does not make a twin.
                let d = provision_diag(e);
                let seen = observe(ctx, store, &planned.name, &planned)
                    .await
                    .ok()
                    .flatten();
                return Err(Failed::partial(seen, d));
            }
            Err(e) => return Err(provision_diag(e).into()),
        };
        match observe(ctx, store, &made.entry.name, &planned).await? {
            Some(m) => Ok(m),
            None => Err(Diagnostic::error(
                "The credential is not in Vault after creation",
                format!(
                    "Service account {} was created but creds/{} holds no inventory entry",
                    made.account.id, planned.name
                ),
            )
            .into()),
        }
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: RotatedCredentialModel,
    ) -> Result<Option<RotatedCredentialModel>, Diagnostics> {
        let store = ctx.vault(TYPE)?;
        observe(ctx, store, &state.name, &state).await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        prior: RotatedCredentialModel,
        planned: RotatedCredentialModel,
    ) -> Applied<RotatedCredentialModel> {
        let store = ctx.vault(TYPE)?;
        let Some(mut entry) = entry_of(store, &planned.name).await? else {
            return Err(Diagnostic::error(
                "The credential is gone",
                format!("creds/{} holds no inventory entry any more", planned.name),
            )
            .into());
        };
        not_rotating(&entry)?;
        let sa = account_of(&entry)?;
        let recorded = entry.grants();
        planned.fill_entry(&mut entry)?;
        let org = ctx.org();
        // Projects: grant each planned one whose role the state or the inventory had otherwise
        // (the route also changes a role), remove the others.
        let want = entry.grants();
        let had = grants(&prior.projects)?;
        let to_grant: Vec<ProjectRoleGrant> = want
            .iter()
            .filter(|(p, r)| had.get(p) != Some(r) || recorded.get(p) != Some(r))
            .map(|(p, r)| ProjectRoleGrant { id: *p, role: *r })
            .collect();
        if !to_grant.is_empty() {
            ctx.client
                .add_service_accounts_to_projects(org, &[sa], &to_grant)
                .await
                .map_err(|e| {
                    api_diag(
                        "Cannot grant the account its projects",
                        &e,
                        Some("projects"),
                    )
                })?;
        }
        for p in had.keys().filter(|p| !want.contains_key(p)) {
            let result = ctx
                .client
                .remove_service_accounts_from_projects(org, *p, &[sa])
                .await;
            removed(
                result,
                "Cannot remove the account from a project",
                &format!("Remove service account {sa} from project {p} in Mixpanel's web app (Organization Settings > Service Accounts), then run terraform apply again."),
                || async { Ok(project_accounts(ctx, *p).await?.get(&sa).is_some()) },
            )
            .await?;
        }
        // Teams.
        let want_t: Vec<TeamId> = ids(&planned.teams, "teams", "team")?;
        let had_t: Vec<TeamId> = ids(&prior.teams, "teams", "team")?;
        for t in want_t.iter().filter(|t| !had_t.contains(t)) {
            ctx.client
                .add_service_accounts_to_team(org, *t, &[sa])
                .await
                .map_err(|e| api_diag("Cannot add the account to a team", &e, Some("teams")))?;
        }
        for t in had_t.iter().filter(|t| !want_t.contains(t)) {
            let result = ctx
                .client
                .remove_service_accounts_from_team(org, *t, &[sa])
                .await;
            removed(
                result,
                "Cannot remove the account from a team",
                &format!("Remove service account {sa} from team {t} in Mixpanel's web app (Organization Settings > Teams), then run terraform apply again."),
                || async { Ok(list_teams(ctx).await?.get(t).is_some_and(|x| x.service_accounts.contains(&sa))) },
            )
            .await?;
        }
        entry.refresh(Utc::now());
        store.save_inventory_entry(&entry).await.map_err(|e| {
            Diagnostic::error(
                "Cannot save the inventory entry",
                format!("The account's access was changed, but creds/{}'s inventory entry could not be saved: {e}", entry.name),
            )
        })?;
        match observe(ctx, store, &planned.name, &planned).await? {
            Some(m) => Ok(m),
            None => Err(Diagnostic::error(
                "The credential is gone",
                format!(
                    "creds/{} holds no inventory entry after the update",
                    planned.name
                ),
            )
            .into()),
        }
    }

    async fn delete(&self, ctx: &Ctx, state: RotatedCredentialModel) -> Result<(), Diagnostics> {
        if state.deletion_protection != Some(false) {
            return Err(Diagnostic::attr_error(
                "deletion_protection",
                "The credential is protected",
                "Set deletion_protection = false and apply before destroying it.",
            )
            .into());
        }
        let store = ctx.vault(TYPE)?;
        // The account to delete: the entry's current one, or (the entry gone from Vault) the
        // one the state last saw, so that a missing entry never leaves an account behind.
        let sa = match entry_of(store, &state.name).await? {
            Some(entry) => {
                not_rotating(&entry)?;
                entry.sa_id
            }
            None => state
                .service_account_id
                .known()
                .and_then(|id| id.parse::<ServiceAccountId>().ok()),
        };
        if let Some(sa) = sa {
            if list_service_accounts(ctx).await?.get(&sa).is_some() {
                delete_service_account(ctx, sa).await?;
            }
        }
        store.delete_credential(&state.name).await.map_err(|e| {
            Diagnostic::error(
                "Cannot delete the credential from Vault",
                format!("The service account is deleted, but creds/{} could not be removed from Vault: {e}. Delete it with `bao kv metadata delete`.", state.name),
            )
        })?;
        Ok(())
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<RotatedCredentialModel, Diagnostics> {
        let store = ctx.vault(TYPE)?;
        let asked = RotatedCredentialModel {
            id: Unknowable::Known(id.to_string()),
            name: id.to_string(),
            projects: None,
            teams: None,
            integration: None,
            owner: None,
            used_by: None,
            purpose: None,
            created_by: None,
            rotation_period: None,
            overlap: None,
            deletion_protection: Some(true),
            vault_path: Unknowable::Unknown,
            service_account_id: Unknowable::Unknown,
            username: Unknowable::Unknown,
        };
        match observe(ctx, store, id, &asked).await? {
            Some(m) => Ok(m),
            None => Err(Diagnostic::error(
                "Cannot import a credential that is not in the inventory",
                format!("Vault holds no inventory entry at creds/{id}: import by the credential's name in the rotator's inventory"),
            )
            .into()),
        }
    }

    fn import_id_format(&self) -> &'static str {
        "the credential's name in the rotator's inventory, e.g. warehouse/fivetran"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(projects: &[(&str, &str)]) -> Value {
        Value::object([(
            "projects",
            Value::map(projects.iter().map(|(k, v)| (*k, Value::string(*v)))),
        )])
    }

    #[test]
    fn a_bad_project_key_or_role_is_a_diagnostic_on_its_element() {
        let diags = check_projects(&config(&[
            ("abc", "analyst"),
            ("4040001", "superuser"),
            ("4040002", "owner"),
            ("4040003", "admin"),
        ]));
        let found: Vec<(String, String)> = diags
            .0
            .iter()
            .map(|d| {
                (
                    d.attribute
                        .as_ref()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    d.detail.clone(),
                )
            })
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
        let at = |path: &str| {
            found
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, d)| d.clone())
                .unwrap_or_else(|| panic!("no diagnostic at {path}: {found:?}"))
        };
        assert!(at(r#"projects["abc"]"#).contains("numeric id"));
        assert!(at(r#"projects["4040001"]"#).contains("admin, analyst, consumer"));
        assert!(at(r#"projects["4040002"]"#).contains("cannot be project owners"));
        assert!(
            check_projects(&config(&[("1", "consumer"), ("2", "analyst")]))
                .0
                .is_empty()
        );
        // Unknown values are judged at apply, not refused.
        let unknown = Value::object([("projects", Value::map([("1", Value::unknown())]))]);
        assert!(check_projects(&unknown).0.is_empty());
    }

    #[test]
    fn a_version_0_state_takes_its_one_role_on_each_project() {
        let v0 = serde_json::json!({
            "id": "bi/looker", "name": "bi/looker", "role": "analyst",
            "projects": ["4040001", "4040002"], "teams": null,
        });
        let v1 = RotatedCredentialResource
            .upgrade_state(0, v0)
            .expect("upgrade");
        assert_eq!(
            v1["projects"],
            serde_json::json!({"4040001": "analyst", "4040002": "analyst"})
        );
        assert!(v1.get("role").is_none(), "{v1}");
        // No projects and no role: nothing to key.
        let bare = upgrade_v0(serde_json::json!({"name": "x", "role": null, "projects": null}));
        assert_eq!(bare["projects"], serde_json::Value::Null);
        // The current version passes through; a newer one is refused.
        let same = serde_json::json!({"projects": {"1": "admin"}});
        assert_eq!(
            RotatedCredentialResource
                .upgrade_state(1, same.clone())
                .expect("v1"),
            same
        );
        assert!(RotatedCredentialResource.upgrade_state(2, same).is_err());
    }
}
