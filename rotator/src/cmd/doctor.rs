//! `mixpanel-rotator doctor`: a read-only preflight against the configured organization.
//!
//! It calls, once each, every read route of the route table (`wire::ROUTES`) that the
//! provider or the rotator uses (the table's `serves`), with the organization and a project
//! taken from `/api/app/me` and, for a route that needs an object's id, the first object of a
//! listing it already read; it decodes each answer with the table's response type and prints
//! one row a route: what it serves and the result. Only routes the table marks as reads are
//! sent ([`Client::read_bytes`] refuses any other), so it never changes anything.
//!
//! Exit codes: 0 when every row the configuration needs is ok; 1 when one of them failed
//! (forbidden, an unexpected answer, a route missing); 2 when it could not run (no
//! configuration, Mixpanel unreachable, the credentials refused).
//!
//! The rule for "needed" (the NEEDED column; only needed rows count in the exit code), read
//! from the inventory in Vault, opened as the other commands open it:
//! - a route a Terraform type uses is always needed: the provider may use it, and doctor
//!   cannot see the Terraform configuration;
//! - a route the governance commands use (`review`, `offboard`, `audit export`, `access
//!   grant`) is always needed: they take no configuration beyond the credentials;
//! - a route only rotation uses (`run`, `once`, `rotate`) is needed when the inventory holds an
//!   entry of a kind that uses it: project secrets and tokens read `project_metadata`, project
//!   secrets are checked with `validate_project_credentials`, each kind resets through its own
//!   emulator-only route;
//! - when the inventory cannot be read, a row says so and every route counts as needed.
//!
//! An emulator-only read on Mixpanel's own hosts does not fail: Mixpanel has no such route,
//! the product knows it and does something else there (the row says what). Against any other
//! `api_url` (the emulator, a proxy) the provider and the rotator do call those routes, so a
//! missing one counts.
//!
//! The emulator-only writes (`reset_project_secret`, `set_default_access`, ...) are listed
//! too, never called (doctor never writes): on Mixpanel's hosts such a write cannot be done,
//! so a needed one fails (an inventory holding a project secret cannot have it reset); on
//! another host it is judged served or not by the emulator-only reads doctor did call. A
//! write that only the provider or offboarding uses is "needed if used" (doctor cannot tell
//! whether the Terraform code sets a default role or an offboarding meets an individual
//! grant) and does not fail; its row says what the product does instead.
//!
//! `--record DIR` writes each answer's body, redacted ([`mixpanel_access::redact`]), to
//! `DIR/<route>.json`, with `DIR/index.json` naming them.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use mixpanel_access::api::wire::{self, PathArgs, Route, RouteStatus, Serves, ROUTES};
use mixpanel_access::api::{ApiError, Client};
use mixpanel_access::model::{OrgId, ProjectId, ServiceAccountId, TeamId};
use mixpanel_access::redact::Redactor;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{json, Value};

use mixpanel_access::inventory::CredentialKind;

use crate::app::connect_store;
use crate::config::Config;
use crate::error::{Result, RotatorError};
use crate::table;

/// What `doctor` was asked.
#[derive(Debug, Clone, Default)]
pub struct DoctorArgs {
    pub json: bool,
    /// Save the redacted answers here.
    pub record: Option<PathBuf>,
}

/// The result of one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Ok,
    Forbidden,
    EmulatorOnly,
    UnexpectedAnswer,
    NotFound,
    Refused,
    Unreachable,
    Skipped,
}

#[derive(Debug, Serialize)]
struct Row {
    route: &'static str,
    method: &'static str,
    path: &'static str,
    upstream: RouteStatus,
    serves: Serves,
    outcome: Outcome,
    /// The row's result as printed.
    result: String,
    /// Whether this row fails the configuration (see the module's rule): only needed rows do.
    fails: bool,
    /// Whether this configuration needs the route, and why (the NEEDED column).
    needed: bool,
    needed_because: String,
    /// Whether doctor sent it (the emulator-only writes are listed, never sent).
    called: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded: Option<String>,
}

/// Where a placeholder's value comes from: the first item of a listing already read.
struct IdSource {
    placeholder: &'static str,
    list: &'static str,
    field: &'static str,
    object: &'static str,
    /// Only items whose `status` is this (a finished export).
    status: Option<&'static str>,
}

const ID_SOURCES: &[IdSource] = &[
    IdSource {
        placeholder: "team",
        list: "list_teams",
        field: "id",
        object: "team",
        status: None,
    },
    IdSource {
        placeholder: "sa",
        list: "list_service_accounts",
        field: "id",
        object: "service account",
        status: None,
    },
    IdSource {
        placeholder: "role",
        list: "list_custom_roles",
        field: "role_id",
        object: "custom role",
        status: None,
    },
    IdSource {
        placeholder: "workspace",
        list: "list_data_views",
        field: "id",
        object: "data view",
        status: None,
    },
    IdSource {
        placeholder: "export",
        list: "list_audit_log_exports",
        field: "id",
        object: "finished audit-log export",
        status: Some("SUCCEEDED"),
    },
];

/// The values found for the placeholders, and the project's credentials for the check.
#[derive(Default)]
struct Found {
    ids: BTreeMap<&'static str, String>,
    project_token: Option<String>,
    project_secret: Option<SecretString>,
}

pub async fn doctor(config: Config, args: DoctorArgs) -> Result<()> {
    let mut cfg = config.client_config()?;
    cfg.batch_writes = false;
    cfg.requests_per_second = NonZeroU32::new(config.mixpanel.requests_per_second);
    let client = Client::new(cfg)?;
    let real = client.is_real_mixpanel();
    let mut recording = match &args.record {
        Some(dir) => Some(Recording::create(dir, &config.mixpanel.api_url, real)?),
        None => None,
    };

    // `/me` first: it says who we are, the organization and the projects. Without an answer
    // nothing else can be checked.
    let me_bytes = client
        .read_bytes(&wire::ME, PathArgs::NONE, None)
        .await
        .map_err(|e| could_not_run("/api/app/me", e))?;
    let mut rows = Vec::new();
    let me = wire::ME.decode(&me_bytes);
    rows.push(answered(
        &wire::ME.route,
        &me_bytes,
        real,
        recording.as_mut(),
    ));
    let (me, me_error) = match me {
        Ok(m) => (Some(m), None),
        Err(e) => (None, Some(e)),
    };

    let org = match config.organization() {
        Some(o) => o,
        None => {
            let orgs: Vec<OrgId> = me
                .iter()
                .flat_map(|m| m.organizations.values().map(|o| o.id))
                .collect();
            match orgs.as_slice() {
                [one] => *one,
                [] if me_error.is_some() => {
                    if let Some(rec) = &recording {
                        rec.finish(&rows)?;
                    }
                    return Err(RotatorError::Attention(format!(
                        "doctor: /api/app/me: {}: without it the organization is unknown, so no other route was called; set organization_id (MIXPANEL_ORGANIZATION_ID) to check them, and attach the body (doctor --record DIR) to a bug report",
                        me_error.unwrap_or_default()
                    )));
                }
                [] => {
                    return Err(RotatorError::Config(
                        "the service account belongs to no organization that /api/app/me names: set organization_id (MIXPANEL_ORGANIZATION_ID)".into(),
                    ))
                }
                many => {
                    return Err(RotatorError::Config(format!(
                        "the service account belongs to {} organizations: set organization_id (MIXPANEL_ORGANIZATION_ID) to one of {}",
                        many.len(),
                        many.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ")
                    )))
                }
            }
        }
    };
    let project: Option<ProjectId> = me.as_ref().and_then(|m| {
        m.projects
            .iter()
            .filter(|(_, p)| p.organization_id == org)
            .filter_map(|(id, _)| id.parse::<u64>().ok())
            .min()
            .map(ProjectId)
    });

    let mut found = Found::default();
    let mut unreachable: Option<String> = None;
    for route in ROUTES
        .iter()
        .filter(|r| r.read && !r.serves.is_empty() && r.name != wire::ME.name)
    {
        let prepared = match &unreachable {
            Some(why) => Err(why.clone()),
            None => path_args(route, org, project, &found)
                .and_then(|a| body_for(route, &found).map(|b| (a, b))),
        };
        let (path_args, body) = match prepared {
            Ok(p) => p,
            Err(why) => {
                rows.push(row(
                    route,
                    Outcome::Skipped,
                    format!("skipped: {why}"),
                    false,
                ));
                continue;
            }
        };
        match client.read_bytes(route, path_args, body.as_ref()).await {
            Ok(bytes) => {
                learn(route, &bytes, &mut found);
                let mut r = answered(route, &bytes, real, recording.as_mut());
                if route.name == wire::PROJECT_METADATA.name
                    && r.outcome == Outcome::Ok
                    && (found.project_token.is_none() || found.project_secret.is_none())
                {
                    // Mixpanel leaves the credentials out for a role that may not see them.
                    r.outcome = Outcome::Forbidden;
                    r.result = format!(
                        "forbidden: needs {} (the answer holds no token or API secret)",
                        needed(route)
                    );
                    r.fails = true;
                }
                rows.push(r);
            }
            Err(e) => {
                let r = failed(route, &e, real);
                if r.outcome == Outcome::Unreachable {
                    unreachable = Some(format!("Mixpanel stopped answering at {}", route.name));
                }
                rows.push(r);
            }
        }
    }
    let inventory = Inventory::open(&config).await;
    for r in rows.iter_mut() {
        if let Some(route) = wire::route_named(r.route) {
            let (needed, because) = need(route, &inventory);
            r.needed = needed != Some(false);
            r.needed_because = because;
            r.fails = r.fails && r.needed;
        }
    }
    let served = rows
        .iter()
        .filter(|r| r.upstream == RouteStatus::EmulatorOnly && r.outcome == Outcome::EmulatorOnly)
        .map(|r| (r.result.contains("answered"), r.route))
        .next();
    rows.extend(write_rows(&inventory, real, served));
    let not_called: Vec<&'static str> = ROUTES
        .iter()
        .filter(|r| r.read && r.serves.is_empty())
        .map(|r| r.name)
        .collect();
    if let Some(rec) = &recording {
        rec.finish(&rows)?;
    }
    let code = if unreachable.is_some() {
        2
    } else if rows.iter().any(|r| r.fails) {
        1
    } else {
        0
    };
    if args.json {
        let doc = json!({
            "api_url": public_url(&config.mixpanel.api_url),
            "real_mixpanel": real,
            "organization": org,
            "project": project,
            "inventory": inventory.summary(),
            "rows": rows,
            "not_called": not_called,
            "recorded": args.record.as_ref().map(|d| d.display().to_string()),
            "exit_code": code,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| RotatorError::Io(e.to_string()))?
        );
    } else {
        outp!(
            "{}",
            render_text(&config, org, project, &inventory, &rows, &not_called, &args)
        );
    }
    let failing: Vec<&str> = rows.iter().filter(|r| r.fails).map(|r| r.route).collect();
    match code {
        0 => Ok(()),
        1 => Err(RotatorError::Attention(format!(
            "doctor: {} of {} routes failed for this configuration: {}",
            failing.len(),
            rows.len(),
            failing.join(", ")
        ))),
        _ => Err(RotatorError::Invalid(format!(
            "doctor could not finish: {}",
            unreachable.unwrap_or_default()
        ))),
    }
}

/// `/me` did not answer: nothing can be checked (exit 2).
fn could_not_run(what: &str, e: ApiError) -> RotatorError {
    RotatorError::Invalid(format!("doctor could not run: {what}: {e}"))
}

fn row(route: &'static Route, outcome: Outcome, result: String, fails: bool) -> Row {
    Row {
        route: route.name,
        method: route.method.as_str(),
        path: route.path,
        upstream: route.status,
        serves: route.serves,
        outcome,
        result,
        fails,
        needed: true,
        needed_because: String::new(),
        called: true,
        recorded: None,
    }
}

/// What the inventory holds, as far as "needed" goes: the entries of each kind, by name.
enum Inventory {
    Read(BTreeMap<CredentialKind, Vec<String>>),
    /// Why it could not be read: every route then counts as needed.
    Unreadable(String),
}

impl Inventory {
    async fn open(config: &Config) -> Inventory {
        let store = match connect_store(config).await {
            Ok(s) => s,
            Err(e) => return Inventory::Unreadable(e.to_string()),
        };
        match crate::inventory::load(&store).await {
            Ok(records) => {
                let mut kinds: BTreeMap<CredentialKind, Vec<String>> = BTreeMap::new();
                for r in records {
                    if let Ok(e) = &r.entry {
                        kinds.entry(e.kind).or_default().push(r.name.clone());
                    }
                }
                Inventory::Read(kinds)
            }
            Err(e) => Inventory::Unreadable(e.to_string()),
        }
    }

    /// One line for the text output.
    fn summary(&self) -> String {
        match self {
            Inventory::Unreadable(why) => {
                format!("inventory: could not be read ({why}): every route counts as needed")
            }
            Inventory::Read(kinds) if kinds.is_empty() => {
                "inventory: empty (no credential registered): rotation routes are not needed".into()
            }
            Inventory::Read(kinds) => format!(
                "inventory: {}",
                kinds
                    .iter()
                    .map(|(k, names)| format!("{} {}", names.len(), k.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The rotator commands that take no configuration beyond the credentials.
const GOVERNANCE: &[&str] = &[
    "review",
    "review apply",
    "offboard",
    "audit export",
    "audit export --via-export",
    "access grant",
];

/// The credential kinds whose rotation uses `route` (for a route only rotation uses).
fn kinds_using(route: &Route) -> &'static [CredentialKind] {
    use CredentialKind::*;
    match route.name {
        n if n == wire::PROJECT_METADATA.name => &[ProjectSecret, ProjectToken],
        n if n == wire::VALIDATE_PROJECT_CREDENTIALS.name => &[ProjectSecret],
        n if n == wire::RESET_PROJECT_SECRET.name => &[ProjectSecret],
        n if n == wire::RESET_PROJECT_TOKEN.name => &[ProjectToken],
        _ => &[ServiceAccount],
    }
}

/// Whether this configuration needs `route`, and why (the module's rule). `None`: only if
/// used, which doctor cannot tell (an emulator-only write of the provider or offboarding).
fn need(route: &Route, inventory: &Inventory) -> (Option<bool>, String) {
    let serves = &route.serves;
    if !route.read
        && (!serves.terraform.is_empty() || serves.rotator.iter().any(|c| GOVERNANCE.contains(c)))
    {
        let unseen = if serves.rotator.is_empty() {
            "doctor cannot see the Terraform code"
        } else {
            "doctor cannot see the Terraform code, nor whom an offboarding or an expiring grant will meet"
        };
        return (None, format!("if used: by {serves} ({unseen})"));
    }
    if !serves.terraform.is_empty() {
        return (
            Some(true),
            format!("yes: Terraform ({})", serves.terraform.join(", ")),
        );
    }
    let governance: Vec<&str> = serves
        .rotator
        .iter()
        .copied()
        .filter(|c| GOVERNANCE.contains(c))
        .collect();
    if !governance.is_empty() {
        return (
            Some(true),
            format!("yes: {} (no configuration needed)", governance.join(", ")),
        );
    }
    let kinds = kinds_using(route);
    let kind_names = kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" or ");
    match inventory {
        Inventory::Unreadable(_) => (Some(true), "yes: the inventory could not be read".into()),
        Inventory::Read(held) => {
            let entries: Vec<&str> = kinds
                .iter()
                .filter_map(|k| held.get(k))
                .flatten()
                .map(String::as_str)
                .collect();
            match entries.as_slice() {
                [] => (
                    Some(false),
                    format!("no: the inventory holds no {kind_names}"),
                ),
                [one] => (Some(true), format!("yes: rotation of {one}")),
                [first, rest @ ..] => (
                    Some(true),
                    format!("yes: rotation of {first} and {} more", rest.len()),
                ),
            }
        }
    }
}

/// The emulator-only writes something uses, listed and not called. `served`: what the
/// emulator-only reads doctor called said of this host (`Some(true)` answered, `Some(false)`
/// missing, `None` none was called).
fn write_rows(inventory: &Inventory, real: bool, served: Option<(bool, &'static str)>) -> Vec<Row> {
    ROUTES
        .iter()
        .filter(|r| !r.read && r.status == RouteStatus::EmulatorOnly && !r.serves.is_empty())
        .map(|route| {
            let (needed, because) = need(route, inventory);
            let instead = route
                .instead
                .unwrap_or("the product reports it cannot do this on Mixpanel");
            let (result, unavailable) = match (real, served) {
                (true, _) => (format!("not available upstream: emulator only ({instead}); not called: doctor never writes"), true),
                (false, Some((true, read))) => (format!("not available upstream: emulator only; served by this host, as {read} answered (not called: doctor never writes)"), false),
                (false, Some((false, read))) => (format!("not available upstream: emulator only ({instead}); this host does not serve it either, as {read} was missing (not called: doctor never writes)"), true),
                (false, None) => (format!("not available upstream: emulator only ({instead}); whether this host serves it is unknown: no emulator-only read could be called (not called: doctor never writes)"), true),
            };
            let mut r = row(route, Outcome::EmulatorOnly, result, unavailable && needed == Some(true));
            r.needed = needed == Some(true);
            r.needed_because = because;
            r.called = false;
            r
        })
        .collect()
}

/// The row of an answer: decoded with the table's type for the route.
fn answered(
    route: &'static Route,
    bytes: &[u8],
    real: bool,
    recording: Option<&mut Recording>,
) -> Row {
    let decoded = wire::decode_answer(route.name, bytes)
        .unwrap_or_else(|| Err(format!("{} is not in the route table", route.name)));
    let mut r = match decoded {
        Err(message) => row(route, Outcome::UnexpectedAnswer, message, true),
        Ok(()) if route.status == RouteStatus::EmulatorOnly => {
            let where_ = if real {
                "answered by this host"
            } else {
                "answered here, by the emulator"
            };
            row(
                route,
                Outcome::EmulatorOnly,
                format!("not available upstream: emulator only ({where_}; what the product does on Mixpanel: below the table)"),
                false,
            )
        }
        Ok(()) => row(route, Outcome::Ok, "ok".into(), false),
    };
    if let Some(rec) = recording {
        r.recorded = rec.save(route, bytes);
    }
    r
}

/// The role a route needs, from the permission table (`shared::permissions`).
fn needed(route: &Route) -> String {
    route
        .capability
        .map(|c| c.required_roles())
        .unwrap_or_else(|| "a role with access to this organization or project".into())
}

/// The row of a call that failed.
fn failed(route: &'static Route, e: &ApiError, real: bool) -> Row {
    match e {
        ApiError::Forbidden { needed, .. } => row(
            route,
            Outcome::Forbidden,
            format!("forbidden: needs {needed}"),
            true,
        ),
        ApiError::NotFound { .. } | ApiError::EmulatorOnly { .. }
            if route.status == RouteStatus::EmulatorOnly =>
        {
            let fails = !real;
            let why = if real {
                "Mixpanel has no such route; the product does without it (see below)"
            } else {
                "this API does not serve it either, yet the product calls emulator-only routes on any api_url that is not Mixpanel's"
            };
            row(
                route,
                Outcome::EmulatorOnly,
                format!("not available upstream: emulator only ({why})"),
                fails,
            )
        }
        ApiError::NotFound { message, .. } => row(
            route,
            Outcome::NotFound,
            format!("not found: {message}"),
            true,
        ),
        ApiError::Invalid {
            status, message, ..
        } => row(
            route,
            Outcome::Refused,
            format!("refused (HTTP {status}): {message}"),
            true,
        ),
        ApiError::Transport { .. }
        | ApiError::Server { .. }
        | ApiError::RateLimited { .. }
        | ApiError::MaybeApplied { .. } => row(
            route,
            Outcome::Unreachable,
            format!("unreachable: {e}"),
            true,
        ),
        other => row(
            route,
            Outcome::Refused,
            format!("unexpected error: {other}"),
            true,
        ),
    }
}

/// The placeholders of `route` filled, or why it cannot be called.
fn path_args<'a>(
    route: &Route,
    org: OrgId,
    project: Option<ProjectId>,
    found: &'a Found,
) -> std::result::Result<PathArgs<'a>, String> {
    let has = |p: &str| route.path.contains(&format!("{{{p}}}"));
    let mut args = PathArgs::default();
    if has("org") {
        args.org = Some(org);
    }
    if has("project") {
        args.project = Some(project.ok_or("no project to read (/api/app/me names none of the organization's projects for this service account)")?);
    }
    for source in ID_SOURCES {
        if !has(source.placeholder) {
            continue;
        }
        let id = found
            .ids
            .get(source.placeholder)
            .ok_or_else(|| format!("no {} to read", source.object))?;
        let number = || {
            id.parse::<u64>()
                .map_err(|_| format!("the {} id {id:?} is not a number", source.object))
        };
        match source.placeholder {
            "team" => args.team = Some(TeamId(number()?)),
            "sa" => args.sa = Some(ServiceAccountId(number()?)),
            "workspace" => args.workspace = Some(number()?),
            "role" => args.custom_role = Some(id.as_str()),
            "export" => args.export = Some(id.as_str()),
            _ => {}
        }
    }
    Ok(args)
}

/// The body of a read that is a POST: a one-day audit-log window, the project's own
/// credentials for the credential check.
fn body_for(route: &Route, found: &Found) -> std::result::Result<Option<Value>, String> {
    if route.method == wire::Method::Get {
        return Ok(None);
    }
    if route.name == wire::VALIDATE_PROJECT_CREDENTIALS.name {
        let (Some(token), Some(secret)) = (&found.project_token, &found.project_secret) else {
            return Err(
                "no project secret to check (project_metadata gave no token and API secret)".into(),
            );
        };
        let body = wire::ValidateProjectCredentials {
            project_token: token.clone(),
            api_secret: secret.clone(),
        };
        return Ok(wire::RequestBody::to_json(&body));
    }
    if route.name == wire::AUDIT_LOGS.name || route.name == wire::PROJECT_AUDIT_LOGS.name {
        let query = wire::AuditLogQuery {
            created_gte: Some(chrono::Utc::now() - chrono::Duration::days(1)),
            ..Default::default()
        };
        return Ok(wire::RequestBody::to_json(&query));
    }
    Err(format!(
        "{} {} is a read with a body doctor does not know how to build",
        route.method, route.path
    ))
}

/// Takes from a listing the ids later routes need.
fn learn(route: &Route, bytes: &[u8], found: &mut Found) {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let results = value.get("results").unwrap_or(&value);
    if route.name == wire::PROJECT_METADATA.name {
        if let Ok(meta) = wire::PROJECT_METADATA.decode(bytes) {
            found.project_token = meta.token;
            found.project_secret = meta.secret;
        }
    }
    for source in ID_SOURCES.iter().filter(|s| s.list == route.name) {
        let items: Vec<&Value> = match results {
            Value::Array(a) => a.iter().collect(),
            Value::Object(m) => m.values().collect(),
            _ => Vec::new(),
        };
        let id = items
            .into_iter()
            .filter(|i| {
                source
                    .status
                    .is_none_or(|s| i.get("status").and_then(Value::as_str) == Some(s))
            })
            .find_map(|i| match i.get(source.field) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            });
        if let Some(id) = id {
            found.ids.insert(source.placeholder, id);
        }
    }
}

/// The scheme, host and port of `api_url` (no credentials, path or query).
fn public_url(api_url: &str) -> String {
    match url::Url::parse(api_url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(invalid api_url)".into(),
    }
}

fn render_text(
    config: &Config,
    org: OrgId,
    project: Option<ProjectId>,
    inventory: &Inventory,
    rows: &[Row],
    not_called: &[&str],
    args: &DoctorArgs,
) -> String {
    let mut out = format!(
        "doctor: read-only check of {} (organization {org}, project {}), {} routes called, {} emulator-only writes listed\n{}\n\n",
        public_url(&config.mixpanel.api_url),
        project
            .map(|p| p.to_string())
            .unwrap_or_else(|| "none".into()),
        rows.iter().filter(|r| r.called).count(),
        rows.iter().filter(|r| !r.called).count(),
        inventory.summary(),
    );
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.route.to_string(),
                format!("{} {}", r.method, r.path),
                r.serves.to_string(),
                r.needed_because.clone(),
                r.result.clone(),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &["ROUTE", "REQUEST", "SERVES", "NEEDED", "RESULT"],
        &cells,
    ));
    let emulator_only: Vec<&Row> = rows
        .iter()
        .filter(|r| r.outcome == Outcome::EmulatorOnly && r.called)
        .collect();
    if !emulator_only.is_empty() {
        out.push_str("\nEmulator-only routes (Mixpanel has none of them):\n");
        for r in emulator_only {
            let instead = wire::route_named(r.route)
                .and_then(|x| x.instead)
                .unwrap_or("the product reports it cannot do this on Mixpanel");
            out.push_str(&format!("  {}: {instead}.\n", r.route));
        }
    }
    if !not_called.is_empty() {
        out.push_str(&format!(
            "\nNot called (read routes of the table that neither the provider nor the rotator uses): {}\n",
            not_called.join(", ")
        ));
    }
    let count = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count();
    out.push_str(&format!(
        "\n{} ok, {} forbidden, {} emulator only, {} unexpected answers, {} not found or refused, {} unreachable, {} skipped; {} failing for this configuration.\n",
        count(Outcome::Ok),
        count(Outcome::Forbidden),
        count(Outcome::EmulatorOnly),
        count(Outcome::UnexpectedAnswer),
        count(Outcome::NotFound) + count(Outcome::Refused),
        count(Outcome::Unreachable),
        count(Outcome::Skipped),
        rows.iter().filter(|r| r.fails).count(),
    ));
    out.push_str("A row fails the configuration when it is needed and neither ok nor skipped; an emulator-only read that is missing fails only where api_url is not Mixpanel's own host; an emulator-only write (listed, never called) fails when needed and this host cannot do it.\n");
    if let Some(dir) = &args.record {
        out.push_str(&format!(
            "\nRecorded {} answers in {} (index.json lists them), with secrets, tokens, e-mail addresses and service-account usernames replaced by placeholders: read them before you attach them to a bug report.\n",
            rows.iter().filter(|r| r.recorded.is_some()).count(),
            dir.display()
        ));
    }
    out
}

/// The answers saved by `--record`, redacted, with one redactor for all of them.
struct Recording {
    dir: PathBuf,
    redactor: Redactor,
    source: String,
}

impl Recording {
    fn create(dir: &Path, api_url: &str, real: bool) -> Result<Recording> {
        std::fs::create_dir_all(dir).map_err(|e| {
            RotatorError::Io(format!("cannot create the folder {}: {e}", dir.display()))
        })?;
        Ok(Recording {
            dir: dir.to_path_buf(),
            redactor: Redactor::new(),
            source: if real {
                public_url(api_url)
            } else {
                "emulator or proxy".into()
            },
        })
    }

    /// Writes the redacted body as `<route>.json`; its file name, or `None` for an answer
    /// that is not JSON (a file download), which is not recorded.
    fn save(&mut self, route: &Route, bytes: &[u8]) -> Option<String> {
        let value: Value = serde_json::from_slice(bytes).ok()?;
        let redacted = self.redactor.redact(&value);
        let name = format!("{}.json", route.name);
        let text = serde_json::to_string_pretty(&redacted).ok()?;
        match std::fs::write(self.dir.join(&name), text + "\n") {
            Ok(()) => Some(name),
            Err(e) => {
                eprintln!(
                    "warning: could not write {}: {e}",
                    self.dir.join(&name).display()
                );
                None
            }
        }
    }

    fn finish(&self, rows: &[Row]) -> Result<()> {
        let files: Vec<Value> = rows
            .iter()
            .filter_map(|r| {
                r.recorded.as_ref().map(|f| {
                    json!({"route": r.route, "method": r.method, "path": r.path, "file": f, "result": r.result})
                })
            })
            .collect();
        let index = json!({
            "recorded_by": format!("mixpanel-rotator doctor {}", env!("CARGO_PKG_VERSION")),
            "recorded_at": chrono::Utc::now().to_rfc3339(),
            "source": self.source,
            "redacted": "secrets, tokens, passwords, e-mail addresses, people's names and service-account usernames replaced by stable placeholders",
            "files": files,
        });
        let text =
            serde_json::to_string_pretty(&index).map_err(|e| RotatorError::Io(e.to_string()))?;
        std::fs::write(self.dir.join("index.json"), text + "\n").map_err(|e| {
            RotatorError::Io(format!(
                "cannot write {}: {e}",
                self.dir.join("index.json").display()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_emulator_only_route_fails_only_off_mixpanel() {
        let route = &wire::GET_CLASSIFIED_ACCESS.route;
        let missing = ApiError::NotFound {
            route: route.name,
            message: "Not found".into(),
        };
        let off = failed(route, &missing, false);
        assert_eq!(off.outcome, Outcome::EmulatorOnly);
        assert!(off.fails);
        let on = failed(route, &ApiError::EmulatorOnly { route: route.name }, true);
        assert_eq!(on.outcome, Outcome::EmulatorOnly);
        assert!(!on.fails);
        assert!(on
            .result
            .starts_with("not available upstream: emulator only"));
        // A route Mixpanel has: a 404 is a failure wherever.
        let teams = failed(&wire::LIST_TEAMS.route, &missing, true);
        assert_eq!(teams.outcome, Outcome::NotFound);
        assert!(teams.fails);
        let forbidden = failed(
            &wire::AUDIT_LOGS.route,
            &ApiError::Forbidden {
                route: "audit_logs",
                message: "no".into(),
                needed: needed(&wire::AUDIT_LOGS.route),
            },
            true,
        );
        assert_eq!(
            forbidden.result,
            "forbidden: needs the organization role owner or admin"
        );
    }

    #[test]
    fn ids_come_from_the_first_fitting_item_of_a_listing() {
        let mut found = Found::default();
        learn(
            &wire::LIST_TEAMS.route,
            br#"{"status":"ok","results":{"7":{"id":7,"name":"a"}}}"#,
            &mut found,
        );
        learn(
            &wire::LIST_AUDIT_LOG_EXPORTS.route,
            br#"{"results":[{"id":"e1","status":"IN_PROGRESS"},{"id":"e2","status":"SUCCEEDED"}]}"#,
            &mut found,
        );
        assert_eq!(found.ids.get("team").map(String::as_str), Some("7"));
        assert_eq!(found.ids.get("export").map(String::as_str), Some("e2"));
        let args = path_args(
            &wire::DOWNLOAD_AUDIT_LOG_EXPORT.route,
            OrgId(1),
            None,
            &found,
        )
        .unwrap();
        assert_eq!(args.export, Some("e2"));
        let err = path_args(
            &wire::GET_DATA_VIEW.route,
            OrgId(1),
            Some(ProjectId(2)),
            &found,
        )
        .unwrap_err();
        assert_eq!(err, "no data view to read");
        let err = path_args(&wire::LIST_DATA_VIEWS.route, OrgId(1), None, &found).unwrap_err();
        assert!(err.starts_with("no project to read"), "{err}");
    }
}
