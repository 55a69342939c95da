//! `mixpanel-rotator inventory add|apply|list|export`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mixpanel_access::inventory::{
    format_optional_period, parse_duration, parse_inventory_toml, parse_optional_period,
    CredentialKind, CredentialStatus, ExportFormat, IntegrationType, InventoryEntry, METADATA_KEYS,
};
use mixpanel_access::model::{ProjectId, ProjectRole, ServiceAccountId};
use mixpanel_access::provision;
use mixpanel_access::vault::{Credential, VaultStore};
use secrecy::SecretString;

use crate::api::Mixpanel;
use crate::app::{connect_api, connect_store, make_engine, out, out_line};
use crate::config::Config;
use crate::error::{Result, RotatorError};
use crate::inventory::{self, Record};
use crate::metrics::Metrics;
use crate::table;

/// What `inventory add` was asked (the command line's `AddCmd`).
#[derive(Debug, Clone)]
pub struct AddArgs {
    /// The credential's name (its path under creds/).
    pub name: String,
    /// service_account | project_secret | project_token
    pub kind: String,
    /// The person or team accountable.
    pub owner: String,
    /// data_pipeline | bi_tool | cohort_sync | reverse_etl | custom
    pub integration: String,
    /// A project the credential is used on (repeat for several).
    pub projects: Vec<u64>,
    pub created_by: String,
    pub used_by: String,
    pub purpose: String,
    /// e.g. 90d, or "never".
    pub rotation_period: Option<String>,
    /// e.g. 24h (service accounts only: project secrets and tokens are replaced in one step).
    pub overlap: Option<String>,
    /// The events that may rotate it, comma-separated: admin_removed, admin_downgraded,
    /// incident, schedule, manual, or none. Default: all of them; none for a project token.
    pub rotate_on: Option<String>,
    /// The service account's role (its organization role and its role on the projects).
    pub role: Option<String>,
    /// An existing service account's id.
    pub sa_id: Option<u64>,
    /// An existing service account's full username.
    pub username: Option<String>,
    /// When it was last rotated (RFC 3339 or YYYY-MM-DD); default: the account's creation.
    pub last_rotated: Option<String>,
    /// Create a new service account for it (with --role on --project) and store its secret.
    pub create: bool,
    /// Read the existing account's secret from stdin and store it.
    pub secret_stdin: bool,
}

fn parse_arg<T: std::str::FromStr>(field: &str, v: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    v.parse()
        .map_err(|e: T::Err| RotatorError::Invalid(format!("--{field}: {e}")))
}

pub async fn inventory_add(config: Config, args: AddArgs) -> Result<()> {
    inventory::check_name(&args.name)?;
    let kind: CredentialKind = parse_arg("kind", &args.kind)?;
    let integration: IntegrationType = parse_arg("integration", &args.integration)?;
    let mut e = InventoryEntry::new(args.name.clone(), kind, integration);
    e.owner = args.owner.clone();
    e.created_by = args.created_by.clone();
    e.used_by = args.used_by.clone();
    e.purpose = args.purpose.clone();
    e.projects = args.projects.iter().map(|p| ProjectId(*p)).collect();
    if let Some(p) = &args.rotation_period {
        e.rotation_period = parse_optional_period(p)
            .map_err(|err| RotatorError::Invalid(format!("--rotation-period: {err}")))?;
    }
    if let Some(o) = &args.overlap {
        e.overlap =
            parse_duration(o).map_err(|err| RotatorError::Invalid(format!("--overlap: {err}")))?;
        if kind != CredentialKind::ServiceAccount && !e.overlap.is_zero() {
            return Err(RotatorError::Invalid(format!(
                "--overlap: a {kind} is replaced in one step, so the old value cannot stay valid for an overlap; leave --overlap out"
            )));
        }
    }
    if let Some(r) = &args.rotate_on {
        e.rotate_on = mixpanel_access::inventory::parse_rotate_on(&r.replace(' ', ""))
            .map_err(|err| RotatorError::Invalid(format!("--rotate-on: {err}")))?;
    }
    e.role = args
        .role
        .as_deref()
        .map(|r| parse_arg::<ProjectRole>("role", r))
        .transpose()?;
    e.last_rotated = args.last_rotated.as_deref().map(parse_date).transpose()?;
    if kind != CredentialKind::ServiceAccount
        && (args.create || args.secret_stdin || args.sa_id.is_some() || args.username.is_some())
    {
        return Err(RotatorError::Invalid(format!(
            "--create, --secret-stdin, --sa-id and --username are for service accounts, not a {kind}"
        )));
    }
    if args.create && (args.sa_id.is_some() || args.username.is_some() || args.secret_stdin) {
        return Err(RotatorError::Invalid(
            "--create makes a new account: do not combine it with --sa-id, --username or --secret-stdin".into(),
        ));
    }
    e.validate()?;
    let store = connect_store(&config).await?;
    if let Some(existing) = inventory::load_one(&store, &e.name).await? {
        if existing.entry.is_ok() {
            return Err(RotatorError::Invalid(format!(
                "{} is already in the inventory: change it with `inventory apply -f`",
                e.name
            )));
        }
    }
    if kind != CredentialKind::ServiceAccount {
        refuse_duplicate(&store, &e).await?;
    }
    let now = Utc::now();
    let mut message = String::new();
    match kind {
        CredentialKind::ServiceAccount if args.create => {
            let api = connect_api(&config).await?;
            e.role = Some(e.role.unwrap_or(ProjectRole::Consumer));
            let made = provision::create_service_account_credential(&api, &store, e, &[], now)
                .await
                .map_err(|err| match err {
                    provision::ProvisionError::Api(a) => RotatorError::from(a),
                    provision::ProvisionError::Vault(v) => RotatorError::from(v),
                    other => RotatorError::Invalid(other.to_string()),
                })?;
            let e = inventory::entry(&store, &made.entry.name).await?;
            outln!(
                "{}: added ({}, next rotation {}): created service account {} (id {}, role {}, expires {}); its secret is stored in Vault and authenticates",
                e.name,
                e.kind,
                e.next_rotation
                    .map(inventory::stamp)
                    .unwrap_or_else(|| "never".into()),
                made.account.username,
                made.account.id,
                e.role.map(|r| r.to_string()).unwrap_or_default(),
                made.account
                    .expires
                    .map(inventory::stamp)
                    .unwrap_or_else(|| "never".into())
            );
            return Ok(());
        }
        CredentialKind::ServiceAccount if args.sa_id.is_some() || args.username.is_some() => {
            let api = connect_api(&config).await?;
            let accounts = api.list_service_accounts().await?;
            let by_id = args
                .sa_id
                .map(|id| accounts.iter().find(|a| a.id == ServiceAccountId(id)));
            let by_name = args
                .username
                .as_deref()
                .map(|u| accounts.iter().find(|a| a.username.as_str() == u));
            let found = match (by_id, by_name) {
                (Some(Some(a)), Some(Some(b))) if a.id != b.id => {
                    return Err(RotatorError::Invalid(format!(
                        "--sa-id {} is {}, but --username names {} (id {}): give one of them, or two that agree",
                        a.id, a.username, b.username, b.id
                    )))
                }
                (Some(Some(a)), None | Some(Some(_))) | (None, Some(Some(a))) => a,
                _ => {
                    return Err(RotatorError::Invalid(format!(
                        "no service account {} in organization {}",
                        args.username
                            .clone()
                            .or(args.sa_id.map(|i| i.to_string()))
                            .unwrap_or_default(),
                        api.org()
                    )))
                }
            };
            e.sa_id = Some(found.id);
            e.username = Some(found.username.clone());
            refuse_duplicate(&store, &e).await?;
            e.role = e.role.or(found.role);
            if e.last_rotated.is_none() {
                e.last_rotated = Some(found.created);
            }
            if args.secret_stdin {
                let mut secret = String::new();
                std::io::stdin()
                    .read_to_string(&mut secret)
                    .map_err(|err| RotatorError::io("reading the secret from stdin", err))?;
                let secret = secret.trim().to_string();
                if secret.is_empty() {
                    return Err(RotatorError::Invalid("stdin held no secret".into()));
                }
                // Only a secret Mixpanel accepts is stored.
                let client =
                    api.client_for(found.username.as_str(), SecretString::from(secret.clone()))?;
                match api.me_with(&client).await {
                    Ok(_) => {}
                    Err(err @ mixpanel_access::api::ApiError::Unauthorized { .. }) => {
                        return Err(RotatorError::Invalid(format!(
                            "Mixpanel refuses the secret given on stdin for {} ({err}): nothing was registered",
                            found.username
                        )))
                    }
                    Err(err) => {
                        return Err(RotatorError::Invalid(format!(
                            "the secret given on stdin for {} could not be checked ({err}): nothing was registered; try again",
                            found.username
                        )))
                    }
                }
                let cred = Credential::ServiceAccount {
                    username: found.username.clone(),
                    secret: SecretString::from(secret),
                    sa_id: found.id,
                };
                let cas = store
                    .read_metadata(&e.name)
                    .await?
                    .map(|m| m.current_version)
                    .unwrap_or(0);
                store.write_credential(&e.name, &cred, cas).await?;
                message = format!(
                    "registered {} (id {}); its secret is stored in Vault",
                    found.username, found.id
                );
            } else {
                message = format!(
                    "registered {} (id {}); no secret stored: the first rotation replaces it with a new account whose secret is",
                    found.username, found.id
                );
            }
        }
        _ => {}
    }
    if kind != CredentialKind::ServiceAccount && e.last_rotated.is_none() {
        // The API cannot tell a project secret's or token's age: the registration, at which
        // the current value is mirrored and validated, counts as its last rotation (otherwise
        // the first pass would reset it at once). --last-rotated says otherwise.
        e.last_rotated = Some(now);
    }
    e.refresh(now);
    store.save_inventory_entry(&e).await?;
    if kind != CredentialKind::ServiceAccount {
        let api = connect_api(&config).await?;
        let status = mirror_now(&config, &store, api, &e).await?;
        message = format!("current value mirrored into Vault and validated; status {status}");
    }
    let e = inventory::entry(&store, &e.name).await?;
    outln!(
        "{}: added ({}, next rotation {}){}{}",
        e.name,
        e.kind,
        e.next_rotation
            .map(inventory::stamp)
            .unwrap_or_else(|| "never".into()),
        if message.is_empty() { "" } else { ": " },
        message
    );
    Ok(())
}

/// `inventory remove NAME [--force]`: deletes the entry, its stored secret (every version) and
/// its journal from Vault, checked by a read. Nothing in Mixpanel is deleted, and the command
/// says what is left there. Refused while a rotation is open unless `force`.
pub async fn inventory_remove(config: Config, name: &str, force: bool) -> Result<()> {
    inventory::check_name(name)?;
    let store = connect_store(&config).await?;
    let Some(record) = inventory::load_one(&store, name).await? else {
        return Err(RotatorError::UnknownCredential(name.to_string()));
    };
    let mut left: Vec<String> = Vec::new();
    if let Ok(e) = &record.entry {
        if let (Some(id), Some(u)) = (e.sa_id, &e.username) {
            left.push(format!("the service account {u} (id {id})"));
        }
    }
    if let Some((j, _)) = store.read_journal(name).await? {
        if j.phase.is_open() {
            if !force {
                return Err(RotatorError::Invalid(format!(
                    "{name}: rotation {} is open (phase {}): removing the entry would drop its journal; let it finish (`mixpanel-rotator rotate {name} --reason ...` resumes it), or remove it anyway with --force",
                    j.rotation_id, j.phase
                )));
            }
            if let (Some(id), Some(u)) = (j.new_sa_id, &j.new_full_username) {
                left.push(format!(
                    "the successor {u} (id {id}) of the open rotation {}",
                    j.rotation_id
                ));
            }
            eprintln!(
                "warning: {name}: removing it with rotation {} open in phase {}",
                j.rotation_id, j.phase
            );
        }
    }
    store.delete_credential(name).await?;
    outln!(
        "{name}: removed from the inventory (its entry, stored secret and journal in Vault); nothing was deleted in Mixpanel{}",
        if left.is_empty() {
            String::new()
        } else {
            format!(
                ": {} still exist(s) there; delete it in Mixpanel if nobody uses it",
                left.join(" and ")
            )
        }
    );
    Ok(())
}

/// One credential, one entry: refuses `e` when another entry names the same service account,
/// project secret or project token (rotating one would leave the other's Vault value refused).
async fn refuse_duplicate(store: &VaultStore, e: &InventoryEntry) -> Result<()> {
    let keys = inventory::entry_keys(e);
    for r in inventory::load(store).await? {
        let Ok(other) = &r.entry else { continue };
        if other.name == e.name {
            continue;
        }
        if let Some(k) = inventory::entry_keys(other)
            .iter()
            .find(|k| keys.contains(k))
        {
            return Err(RotatorError::Invalid(format!(
                "{}: {k} is already registered as {}: two entries for one credential would each replace it and leave the other's Vault value refused; use that entry (nothing was registered)",
                e.name, other.name
            )));
        }
    }
    Ok(())
}

/// Mirrors the current value of a project secret or token into Vault and validates it.
async fn mirror_now(
    config: &Config,
    store: &VaultStore,
    api: Mixpanel,
    e: &InventoryEntry,
) -> Result<CredentialStatus> {
    let engine = make_engine(config, store.clone(), api, Arc::new(Metrics::default()));
    engine.mirror(e, None).await
}

/// An RFC 3339 time or a `YYYY-MM-DD` date (midnight UTC).
fn parse_date(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(d.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| {
            RotatorError::Invalid(format!(
                "--last-rotated: \"{s}\" is not a date: use RFC 3339 (2026-01-31T09:00:00Z) or YYYY-MM-DD"
            ))
        })
}

/// The file's entry merged with what Vault knows: the rotator's own fields (dates, account,
/// status, last rotation) are kept; the file's descriptive fields win.
fn merge(
    file: &InventoryEntry,
    stored: Option<&InventoryEntry>,
    now: DateTime<Utc>,
) -> InventoryEntry {
    let mut e = file.clone();
    if let Some(old) = stored {
        e.last_rotated = old.last_rotated.or(file.last_rotated);
        e.last_used = old.last_used.or(file.last_used);
        e.sa_id = old.sa_id.or(file.sa_id);
        e.username = old.username.clone().or_else(|| file.username.clone());
        e.role = file.role.or(old.role);
        e.rotation_id = old.rotation_id.clone();
        e.last_trigger = old.last_trigger.clone();
        e.status = old.status;
        e.status_reason = old.status_reason.clone();
        e.next_rotation = old.next_rotation;
    }
    let recompute = stored.is_none_or(|old| {
        old.last_rotated != e.last_rotated || old.rotation_period != e.rotation_period
    });
    if recompute {
        e.next_rotation = e.due_date();
    }
    if !e.status.is_journal_driven() {
        let (s, r) = e.compute_status(now);
        if !(e.status == CredentialStatus::ManualRotationRequired && s != CredentialStatus::Ok) {
            e.status = s;
            e.status_reason = r;
        }
    }
    e
}

/// The fields `inventory apply` owns: what the file describes. The rotator's own fields
/// (dates, account, status, last rotation) are written only where the entry has none yet.
const FILE_OWNED: &[&str] = &[
    "integration",
    "projects",
    "owner",
    "created_by",
    "used_by",
    "purpose",
    "rotation_period",
    "overlap",
    "role",
    "rotate_on",
];

/// Updates one stored entry from the file: reads it, merges, and patches only the fields that
/// differ among those the file owns (plus the schedule when the period changed), with
/// check-and-set on the metadata version; a conflict (a rotation promoted meanwhile) reads
/// again. Returns the entry as written.
async fn apply_owned(
    store: &VaultStore,
    file: &InventoryEntry,
    now: DateTime<Utc>,
) -> Result<InventoryEntry> {
    for _ in 0..8 {
        let Some(meta) = store.read_metadata(&file.name).await? else {
            let e = merge(file, None, now);
            store.save_inventory_entry(&e).await?;
            return Ok(e);
        };
        let stored = match InventoryEntry::from_custom_metadata(&file.name, &meta.custom_metadata) {
            Ok(s) => s,
            Err(_) => {
                // Not a valid entry: the file's version replaces it whole.
                let e = merge(file, None, now);
                store.save_inventory_entry(&e).await?;
                return Ok(e);
            }
        };
        if stored.kind != file.kind {
            return Err(RotatorError::Invalid(format!(
                "{}: the kind cannot change from {} to {}: remove the entry and add it again",
                file.name, stored.kind, file.kind
            )));
        }
        let merged = merge(file, Some(&stored), now);
        let (before, after) = (stored.to_custom_metadata()?, merged.to_custom_metadata()?);
        let mut keys: Vec<&str> = FILE_OWNED.to_vec();
        keys.extend(["sa_id", "username", "last_used", "last_rotated"]);
        if stored.rotation_period != merged.rotation_period
            || stored.last_rotated != merged.last_rotated
        {
            keys.extend(["next_rotation", "status", "status_reason"]);
        }
        let fields: BTreeMap<String, Option<String>> = keys
            .iter()
            .filter(|k| before.get(**k) != after.get(**k))
            .filter_map(|k| after.get(*k).map(|v| (k.to_string(), Some(v.clone()))))
            .collect();
        if fields.is_empty() {
            return Ok(stored);
        }
        crate::crash::pause("apply_loaded").await;
        let written = match meta.current_metadata_version {
            Some(v) => store.patch_metadata_cas(&file.name, &fields, v).await,
            None => store.patch_metadata(&file.name, &fields).await,
        };
        match written {
            Ok(()) => return Ok(merged),
            Err(mixpanel_access::vault::VaultError::CasMismatch { .. }) => {
                eprintln!(
                    "note: {}: the entry changed during apply (a rotation?): reading it again",
                    file.name
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(RotatorError::Invalid(format!(
        "{}: the entry kept changing while apply wrote it (a rotation in progress?): run apply again",
        file.name
    )))
}

fn same_metadata(a: &InventoryEntry, b: &InventoryEntry) -> bool {
    match (a.to_custom_metadata(), b.to_custom_metadata()) {
        (Ok(x), Ok(y)) => METADATA_KEYS.iter().all(|k| x.get(*k) == y.get(*k)),
        _ => false,
    }
}

pub async fn inventory_apply(config: Config, file: PathBuf, dry_run: bool) -> Result<()> {
    let text = std::fs::read_to_string(&file)
        .map_err(|e| RotatorError::io(format!("cannot read {}", file.display()), e))?;
    let entries = parse_inventory_toml(&text)
        .map_err(|e| RotatorError::Invalid(format!("{}: {e}", file.display())))?;
    for e in &entries {
        inventory::check_name(&e.name)?;
    }
    let store = connect_store(&config).await?;
    let existing: BTreeMap<String, Record> = inventory::load(&store)
        .await?
        .into_iter()
        .map(|r| (r.name.clone(), r))
        .collect();
    // One credential, one entry: refuse a file that names a service account, project secret or
    // project token another entry already holds (rotating one would revoke the other's).
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for r in existing.values() {
        if let Ok(e) = &r.entry {
            if entries.iter().any(|f| f.name == e.name) {
                continue;
            }
            for k in inventory::entry_keys(e) {
                owners.insert(k, e.name.clone());
            }
        }
    }
    for f in &entries {
        let stored = existing.get(&f.name).and_then(|r| r.entry.as_ref().ok());
        let sa_id = stored.and_then(|s| s.sa_id).or(f.sa_id);
        let username = stored
            .and_then(|s| s.username.clone())
            .or_else(|| f.username.clone());
        let keys = inventory::credential_keys(f.kind, sa_id, username.as_ref(), &f.projects);
        for k in keys {
            if let Some(other) = owners.insert(k.clone(), f.name.clone()) {
                if other != f.name {
                    return Err(RotatorError::Invalid(format!(
                        "{}: {k} is already the credential of {other}: one credential per entry (rotating one would revoke the other's); nothing was written",
                        f.name
                    )));
                }
            }
        }
    }
    let mut api: Option<Mixpanel> = None;
    let api_configured = config.client_config().is_ok();
    let now = Utc::now();
    let n = entries.len();
    let mut rows = Vec::new();
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    for (i, file_entry) in entries.iter().enumerate() {
        let stored = existing
            .get(&file_entry.name)
            .and_then(|r| r.entry.as_ref().ok());
        let mut e = merge(file_entry, stored, now);
        let is_new = stored.is_none();
        // A new service account without a last rotation: its creation date is the best answer.
        if is_new
            && e.kind == CredentialKind::ServiceAccount
            && e.last_rotated.is_none()
            && (e.sa_id.is_some() || e.username.is_some())
            && api_configured
        {
            if api.is_none() {
                api = Some(connect_api(&config).await?);
            }
            if let Some(api) = &api {
                let accounts = api.list_service_accounts().await?;
                if let Some(a) = accounts
                    .iter()
                    .find(|a| Some(a.id) == e.sa_id || e.username.as_ref() == Some(&a.username))
                {
                    e.sa_id = Some(a.id);
                    e.username = Some(a.username.clone());
                    e.last_rotated = Some(a.created);
                    e.next_rotation = e.due_date();
                    let (s, r) = e.compute_status(now);
                    e.status = s;
                    e.status_reason = r;
                }
            }
        }
        let action = match stored {
            None => "created",
            Some(old) if same_metadata(old, &e) => "unchanged",
            Some(_) => "updated",
        };
        match action {
            "created" => created += 1,
            "updated" => updated += 1,
            _ => unchanged += 1,
        }
        eprintln!(
            "[{}/{n}] {}: {action}{}",
            i + 1,
            e.name,
            if dry_run && action != "unchanged" {
                " (dry run)"
            } else {
                ""
            }
        );
        if !dry_run && action != "unchanged" {
            match stored {
                None => store.save_inventory_entry(&e).await?,
                // Only the fields the file owns, against the entry as it is now (check-and-set
                // on the metadata version): a rotation promoted since the load is kept.
                Some(_) => e = apply_owned(&store, file_entry, now).await?,
            }
        }
        // A project secret or token with no value in Vault yet gets its current value now,
        // as `inventory add` does, so consumers can read `creds/<name>` at once.
        if !dry_run
            && e.kind != CredentialKind::ServiceAccount
            && api_configured
            && store.read_credential(&e.name).await?.is_none()
        {
            if api.is_none() {
                api = Some(connect_api(&config).await?);
            }
            if let Some(api) = &api {
                let status = mirror_now(&config, &store, api.clone(), &e).await?;
                e = inventory::entry(&store, &e.name).await?;
                eprintln!(
                    "[{}/{n}] {}: current value mirrored into Vault and validated; status {status}",
                    i + 1,
                    e.name
                );
            }
        }
        rows.push(vec![
            e.name.clone(),
            e.kind.to_string(),
            action.to_string(),
            e.status.to_string(),
            e.next_rotation
                .map(inventory::stamp)
                .unwrap_or_else(|| "never".into()),
        ]);
    }
    outp!(
        "{}",
        table::render(
            &["NAME", "KIND", "ACTION", "STATUS", "NEXT ROTATION"],
            &rows
        )
    );
    outln!(
        "{n} entries: {created} created, {updated} updated, {unchanged} unchanged{}",
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    Ok(())
}

fn valid_entries(records: Vec<Record>) -> Vec<InventoryEntry> {
    let mut out = Vec::new();
    for r in records {
        match r.entry {
            Ok(e) => out.push(e),
            Err(err) => eprintln!("warning: {}: {err}", r.name),
        }
    }
    out
}

pub async fn inventory_list(config: Config, json: bool) -> Result<()> {
    let store = connect_store(&config).await?;
    let entries = valid_entries(inventory::load(&store).await?);
    if json {
        out_line(&mixpanel_access::inventory::to_json(&entries)?);
        return Ok(());
    }
    let day = |d: Option<DateTime<Utc>>| {
        d.map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.name.clone(),
                e.kind.to_string(),
                e.projects
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                table::cell(&e.owner, 30),
                format_optional_period(e.rotation_period),
                day(e.last_rotated),
                day(e.next_rotation),
                e.status.to_string(),
            ]
        })
        .collect();
    outp!(
        "{}",
        table::render(
            &[
                "NAME",
                "KIND",
                "PROJECTS",
                "OWNER",
                "PERIOD",
                "LAST ROTATED",
                "NEXT ROTATION",
                "STATUS"
            ],
            &rows
        )
    );
    outln!("{} credential(s)", rows.len());
    Ok(())
}

pub async fn inventory_export(config: Config, format: &str, output: Option<PathBuf>) -> Result<()> {
    let format: ExportFormat = parse_arg("format", format)?;
    let store = connect_store(&config).await?;
    let entries = valid_entries(inventory::load(&store).await?);
    let text = format.render(&entries)?;
    match output {
        Some(path) => {
            std::fs::write(&path, &text)
                .map_err(|e| RotatorError::io(format!("cannot write {}", path.display()), e))?;
            eprintln!("{} entries written to {}", entries.len(), path.display());
        }
        None => {
            out(&text);
            if !text.ends_with('\n') {
                out("\n");
            }
        }
    }
    Ok(())
}
