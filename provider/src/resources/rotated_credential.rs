//! `mixpanel_rotated_credential`: a service account that the mixpanel-rotator keeps, declared in
//! Terraform. The provider creates the account, writes its secret straight into Vault in the
//! rotator's layout (`<mount>/<prefix>/creds/<name>`, with the inventory entry in its metadata)
//! and keeps in the state only the Vault path, the current account's id and username, and the
//! inventory fields: the secret never enters the state. The resource follows the inventory
//! entry, so a rotation (a new account, a new secret) is not drift; a change of role, projects
//! or teams is applied to whichever account is current.

use std::collections::BTreeSet;
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
use crate::cty::{Type, Unknowable, Value};
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
    role: Option<ProjectRole>,
    projects: Option<BTreeSet<String>>,
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
        e.role = Some(self.role.unwrap_or(ProjectRole::Consumer));
        e.projects = ids::<ProjectId>(&self.projects, "projects", "project")?;
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
    // The grants the current account really holds, on the projects the entry or the state
    // names (a grant removed out of band drops out, and the plan puts it back).
    let wanted = e.role.unwrap_or(ProjectRole::Consumer);
    let mut projects = BTreeSet::new();
    let mut role = wanted;
    let mut candidates: BTreeSet<ProjectId> = e.projects.iter().copied().collect();
    candidates.extend(ids::<ProjectId>(&asked.projects, "projects", "project").unwrap_or_default());
    for p in candidates {
        if let Some(m) = project_accounts(ctx, p).await?.get(&sa) {
            projects.insert(p.to_string());
            if m.project_role != wanted {
                role = m.project_role;
            }
        }
    }
    let teams: BTreeSet<String> = list_teams(ctx)
        .await?
        .iter()
        .filter(|t| t.service_accounts.contains(&sa))
        .map(|t| t.id.to_string())
        .collect();
    let none_if_empty = |s: BTreeSet<String>, was: &Option<BTreeSet<String>>| {
        if s.is_empty() && was.is_none() {
            None
        } else {
            Some(s)
        }
    };
    Ok(Some(RotatedCredentialModel {
        id: Unknowable::Known(e.name.clone()),
        name: e.name.clone(),
        role: Some(role),
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
        Schema::new("A service account that the mixpanel-rotator keeps: the provider creates it, writes its secret straight into Vault in the rotator's layout (`<mount>/<prefix>/creds/<name>`, the inventory entry in its metadata) and keeps only the Vault path, the current account's id and username and the inventory fields in the state. The secret never enters the Terraform state. Rotations by the rotator are not drift; a change of role, projects or teams is applied to the current account. Needs the provider's `vault` block.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("The credential's name (the import id)."))
            .attr(Attribute::string("name").required().requires_replace().describe("The credential's name in the inventory: its path under `creds/` (letters, digits, `-`, `_`, `.`, segments separated by `/`)."))
            .attr(
                Attribute::string("role")
                    .optional()
                    .computed()
                    .default_value("consumer")
                    .validate(Validator::Custom(|v| match v.as_str() {
                        Some("owner") => Some("service accounts cannot be owners; use admin, analyst or consumer".into()),
                        Some(s) if !SA_ROLES.contains(&s) => Some(format!("\"{s}\" is not valid; use one of: admin, analyst, consumer")),
                        _ => None,
                    }))
                    .describe("The role on each of `projects`: `admin`, `analyst` or `consumer` (default); a new account is also created with it as its own role. A change applies to the current account's project grants at once; the account's own role, fixed at creation (Mixpanel cannot change a service account), is kept by rotations."),
            )
            .attr(Attribute::of_type("projects", Type::set(Type::String)).optional().describe("Ids of the projects the account is granted `role` on."))
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
        let old_role = entry.role;
        planned.fill_entry(&mut entry)?;
        let role = entry.role.unwrap_or(ProjectRole::Consumer);
        let org = ctx.org();
        // Projects: grant the planned ones (again, when the role changed), remove the others.
        let want: Vec<ProjectId> = entry.projects.clone();
        let had: Vec<ProjectId> = ids(&prior.projects, "projects", "project")?;
        let grants: Vec<ProjectRoleGrant> = want
            .iter()
            .filter(|p| !had.contains(p) || old_role != Some(role) || prior.role != Some(role))
            .map(|p| ProjectRoleGrant { id: *p, role })
            .collect();
        if !grants.is_empty() {
            ctx.client
                .add_service_accounts_to_projects(org, &[sa], &grants)
                .await
                .map_err(|e| {
                    api_diag(
                        "Cannot grant the account its projects",
                        &e,
                        Some("projects"),
                    )
                })?;
        }
        for p in had.iter().filter(|p| !want.contains(p)) {
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
            role: None,
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
