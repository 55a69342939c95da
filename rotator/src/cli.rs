//! The command line: `run`, `once`, `rotate`, `inventory add|apply|list|export`, `status`.
//!
//! Human output goes to stdout (tables, results), progress and logs to stderr. Nothing printed
//! ever contains a secret: commands print names, ids, dates and statuses only.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use mixpanel_access::api::wire;
use mixpanel_access::inventory::{
    format_optional_period, parse_duration, parse_inventory_toml, parse_optional_period,
    CredentialKind, CredentialStatus, ExportFormat, IntegrationType, InventoryEntry, METADATA_KEYS,
};
use mixpanel_access::model::{ProjectId, ProjectRole, ServiceAccountId};
use mixpanel_access::provision;
use mixpanel_access::vault::{Credential, Phase, VaultStore};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::api::Mixpanel;
use crate::config::{Config, ProcessEnv};
use crate::election::Elector;
use crate::engine::Engine;
use crate::error::{Result, RotatorError};
use crate::http::{self, HttpState};
use crate::inventory::{self, Record};
use crate::metrics::Metrics;
use crate::table;
use crate::triggers::Scheduler;

/// Rotates Mixpanel service-account secrets and project secrets into Vault/OpenBao and keeps
/// the integration inventory.
#[derive(Debug, Parser)]
#[command(name = "mixpanel-rotator", version, about, long_about = None)]
pub struct Cli {
    /// The TOML configuration file (environment variables override it).
    #[arg(long, short = 'c', global = true, env = "MIXPANEL_ROTATOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log lines on stderr: auto (text on a terminal, JSON otherwise), json or text; overrides
    /// log.format and MIXPANEL_ROTATOR_LOG_FORMAT.
    #[arg(long, global = true)]
    pub log_format: Option<crate::config::LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: elect a leader, rotate on schedule and on events, serve HTTP.
    Run,
    /// One reconcile pass (for cron): rotate what is due, resume open rotations, then exit.
    Once {
        /// Also wait out overlap windows, so every rotation started ends before exiting.
        #[arg(long)]
        wait: bool,
        /// Show what a pass would rotate, resume, mirror and delete, without taking the lease or
        /// changing anything (the membership watcher's changes are not predicted).
        #[arg(long)]
        dry_run: bool,
    },
    /// Rotate credentials now (manual or incident) and wait until the old ones no longer work.
    Rotate(Box<RotateArgs>),
    /// Manage the inventory.
    #[command(subcommand)]
    Inventory(InventoryCommand),
    /// Export the rotation history (from the journals' stored versions) as CSV or JSON.
    History {
        /// Only these credentials (default: every credential with a journal).
        names: Vec<String>,
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write to a file instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// The access review: every member's access with its sources, last logins, two-factor,
    /// and findings (dormant, lingering service accounts, ...). Exits non-zero with
    /// --fail-on when a finding reaches that severity.
    Review(ReviewArgs),
    /// The activity log (the audit log).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Offboard a person in the playbook's order (dry run unless --execute), journaled in
    /// Vault, with an evidence folder; `offboard verify DIR` checks an evidence folder.
    Offboard(OffboardCmd),
    /// Show the leader, the inventory's statuses and open rotations.
    /// Exits 1 when a credential needs attention (overdue, needs_human,
    /// manual_rotation_required, its secret missing or refused by Mixpanel, an invalid entry)
    /// or the inventory is empty.
    Status {
        /// List every credential, not only those that need attention.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct OffboardCmd {
    #[command(subcommand)]
    pub sub: Option<OffboardSub>,
    /// The person's e-mail address.
    #[arg(required = true)]
    pub email: Option<String>,
    /// The ticket (IAM-1234): names the journal and the evidence folder <evidence_dir>/<year>/<ticket>/.
    #[arg(long, required = true)]
    pub ticket: Option<String>,
    /// Carry the plan out (without it, only print it).
    #[arg(long)]
    pub execute: bool,
    /// Downgrade to organization member with no project instead of removing the membership.
    #[arg(long)]
    pub keep_account: bool,
    /// Also reset the tokens of projects the person administered (ingestion with the old
    /// token stops).
    #[arg(long)]
    pub include_tokens: bool,
    /// How long the rotations may take.
    #[arg(long, value_parser = parse_duration_arg, default_value = "10m")]
    pub timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Export the activity log, page by page, streamed to a file or stdout.
    Export {
        /// From this date or time (2026-01-31 or RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Up to this date (the whole day) or time.
        #[arg(long)]
        until: Option<String>,
        /// Only events by or about this person.
        #[arg(long)]
        user: Option<String>,
        /// Only this event type (entity.action; repeat for several).
        #[arg(long = "type")]
        types: Vec<String>,
        /// Only events of this project (repeat for several).
        #[arg(long = "project")]
        projects: Vec<u64>,
        /// csv or ndjson.
        #[arg(long, default_value = "csv", value_parser = parse_export_format)]
        format: wire::AuditExportFormat,
        /// Write to a file instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Use Mixpanel's asynchronous export (create, wait, download) instead of paging;
        /// the value is how long to wait for it (e.g. 10m).
        #[arg(long, value_parser = parse_duration_arg)]
        via_export: Option<Duration>,
    },
}

fn parse_export_format(s: &str) -> std::result::Result<wire::AuditExportFormat, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
pub enum OffboardSub {
    /// Check an evidence folder against its SHA256SUMS.
    Verify { dir: PathBuf },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReviewArgs {
    #[command(subcommand)]
    pub sub: Option<ReviewSub>,
    /// md, csv or json (repeat for several with --output; default md on stdout, all three
    /// with --output).
    #[arg(long = "format", value_parser = parse_report_format)]
    pub formats: Vec<mixpanel_access::governance::report::ReportFormat>,
    /// Write the reports into this folder (access-review-<time>.<ext>) instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Exit non-zero when a finding has this severity or higher (info, low, medium, high).
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<mixpanel_access::governance::Severity>,
    /// Days without a login before a member counts as dormant (default: governance.dormant_days).
    #[arg(long)]
    pub dormant_days: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum ReviewSub {
    /// Carry out the REVOKE and REDUCE decisions of a filled-in review CSV (dry run unless
    /// --execute), each verified by a read, with an evidence folder.
    Apply {
        /// The review's CSV with decision, reviewer and justification filled in.
        decisions: PathBuf,
        /// The ticket: names the evidence folder <evidence_dir>/<year>/<ticket>/.
        #[arg(long)]
        ticket: String,
        #[arg(long)]
        execute: bool,
    },
}

fn parse_report_format(
    s: &str,
) -> std::result::Result<mixpanel_access::governance::report::ReportFormat, String> {
    s.parse()
}

fn parse_severity(s: &str) -> std::result::Result<mixpanel_access::governance::Severity, String> {
    s.parse()
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The credentials' names (their paths under creds/).
    pub names: Vec<String>,
    /// Also every credential the inventory lists on this project.
    #[arg(long)]
    pub project: Option<u64>,
    /// Why (a ticket, an incident); recorded in the journal and the inventory.
    #[arg(long)]
    pub reason: String,
    /// How long the old credential stays valid after the new one is stored (e.g. 0s, 1h);
    /// the entry's own overlap when absent.
    #[arg(long, value_parser = parse_duration_arg)]
    pub overlap: Option<Duration>,
    /// An incident: overlap 0 unless given.
    #[arg(long)]
    pub incident: bool,
    /// Who asks (default: $USER).
    #[arg(long)]
    pub requested_by: Option<String>,
    /// Return once the new credential is stored (or, when another replica leads, once the
    /// request is handed over), leaving the overlap and the revocation of the old one to the
    /// daemon (or the next `once`).
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the rotations to finish; on expiry the command exits non-zero and
    /// says what state each rotation is in.
    #[arg(long, value_parser = parse_duration_arg, default_value = "5m")]
    pub timeout: Duration,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Rotate even where the entry's rotate_on does not name this trigger: the only way to
    /// reset a project token by default (ingestion with the old token stops).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Register one credential.
    Add(Box<AddArgs>),
    /// Create or update entries from an inventory.toml file.
    Apply {
        #[arg(long, short = 'f')]
        file: PathBuf,
        /// Show what would change without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List the inventory as a table.
    List {
        /// Print JSON (the same document as `export --format json`).
        #[arg(long)]
        json: bool,
    },
    /// Export the inventory (csv, json, md).
    Export {
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write to a file instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The credential's name (its path under creds/).
    pub name: String,
    /// service_account | project_secret | project_token
    #[arg(long)]
    pub kind: String,
    /// The person or team accountable.
    #[arg(long)]
    pub owner: String,
    /// data_pipeline | bi_tool | cohort_sync | reverse_etl | custom
    #[arg(long, default_value = "custom")]
    pub integration: String,
    /// A project the credential is used on (repeat for several).
    #[arg(long = "project")]
    pub projects: Vec<u64>,
    #[arg(long, default_value = "")]
    pub created_by: String,
    #[arg(long, default_value = "")]
    pub used_by: String,
    #[arg(long, default_value = "")]
    pub purpose: String,
    /// e.g. 90d, or "never".
    #[arg(long)]
    pub rotation_period: Option<String>,
    /// e.g. 24h (service accounts only: project secrets and tokens are replaced in one step).
    #[arg(long)]
    pub overlap: Option<String>,
    /// The events that may rotate it, comma-separated: admin_removed, admin_downgraded,
    /// incident, schedule, manual, or none. Default: all of them; none for a project token.
    #[arg(long)]
    pub rotate_on: Option<String>,
    /// The service account's role (its organization role and its role on the projects).
    #[arg(long)]
    pub role: Option<String>,
    /// An existing service account's id.
    #[arg(long)]
    pub sa_id: Option<u64>,
    /// An existing service account's full username.
    #[arg(long)]
    pub username: Option<String>,
    /// When it was last rotated (RFC 3339 or YYYY-MM-DD); default: the account's creation.
    #[arg(long)]
    pub last_rotated: Option<String>,
    /// Create a new service account for it (with --role on --project) and store its secret.
    #[arg(long)]
    pub create: bool,
    /// Read the existing account's secret from stdin and store it.
    #[arg(long)]
    pub secret_stdin: bool,
}

fn parse_duration_arg(s: &str) -> std::result::Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// `println!` that ends quietly on a closed pipe (see [`out`]).
macro_rules! outln {
    ($($t:tt)*) => { $crate::cli::out_line(&format!($($t)*)) };
}

/// `print!` that ends quietly on a closed pipe (see [`out`]).
macro_rules! outp {
    ($($t:tt)*) => { $crate::cli::out(&format!($($t)*)) };
}

/// Writes to stdout; a closed pipe (`status --all | head -1`) ends the output quietly
/// instead of panicking.
pub(crate) fn out(text: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|_| o.flush());
}

/// [`out`] with a newline.
pub(crate) fn out_line(text: &str) {
    out(&format!("{text}\n"));
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let config = Config::load(cli.config.as_deref(), &ProcessEnv)?;
    config.validate()?;
    mixpanel_access::inventory::set_max_jitter(config.rotation.max_jitter);
    crate::logging::init(
        cli.log_format.unwrap_or(config.log.format),
        &config.log.filter,
    );
    match cli.command {
        Command::Run => run_daemon(config).await,
        Command::Once { dry_run: true, .. } => once_dry_run(config).await,
        Command::Once { wait, .. } => once(config, wait).await,
        Command::Rotate(args) => crate::rotate_cmd::rotate(config, *args).await,
        Command::Inventory(InventoryCommand::Add(args)) => inventory_add(config, *args).await,
        Command::Inventory(InventoryCommand::Apply { file, dry_run }) => {
            inventory_apply(config, file, dry_run).await
        }
        Command::Inventory(InventoryCommand::List { json }) => inventory_list(config, json).await,
        Command::Inventory(InventoryCommand::Export { format, output }) => {
            inventory_export(config, &format, output).await
        }
        Command::Status { all, json } => status(config, all, json).await,
        Command::Audit(AuditCommand::Export {
            since,
            until,
            user,
            types,
            projects,
            format,
            output,
            via_export,
        }) => {
            crate::governance::audit_export_cmd(
                config,
                crate::governance::AuditExportOptions {
                    since,
                    until,
                    user,
                    types,
                    projects,
                    format,
                    output,
                    via_export,
                },
            )
            .await
        }
        Command::Offboard(OffboardCmd {
            sub: Some(OffboardSub::Verify { dir }),
            ..
        }) => crate::offboard::verify_cmd(&dir),
        Command::Offboard(c) => {
            crate::offboard::offboard_cmd(
                config,
                crate::offboard::OffboardArgs {
                    email: c.email.unwrap_or_default(),
                    ticket: c.ticket.unwrap_or_default(),
                    execute: c.execute,
                    options: mixpanel_access::governance::offboard::OffboardOptions {
                        keep_account: c.keep_account,
                        include_tokens: c.include_tokens,
                    },
                    rotation_timeout: c.timeout,
                },
            )
            .await
        }
        Command::Review(ReviewArgs {
            sub:
                Some(ReviewSub::Apply {
                    decisions,
                    ticket,
                    execute,
                }),
            ..
        }) => crate::governance::apply_cmd(config, &decisions, &ticket, execute).await,
        Command::Review(args) => {
            crate::governance::review_cmd(
                config,
                crate::governance::ReviewOptions {
                    formats: args.formats,
                    output: args.output,
                    fail_on: args.fail_on,
                    dormant_days: args.dormant_days,
                },
            )
            .await
        }
        Command::History {
            names,
            format,
            output,
        } => {
            let store = connect_store(&config).await?;
            let rows = crate::history::collect(&store, &names).await?;
            let text = crate::history::render(&rows, &format)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, &text).map_err(|e| {
                        RotatorError::Io(format!("cannot write {}: {e}", path.display()))
                    })?;
                    eprintln!("{} rotation(s) written to {}", rows.len(), path.display());
                }
                None => out(&text),
            }
            Ok(())
        }
    }
}

pub(crate) async fn connect_store(config: &Config) -> Result<VaultStore> {
    Ok(VaultStore::connect(config.vault_config()?).await?)
}

pub(crate) async fn connect_api(config: &Config) -> Result<Mixpanel> {
    Mixpanel::connect(
        config.client_config()?,
        config.organization(),
        config.mixpanel.requests_per_second,
    )
    .await
}

fn make_engine(
    config: &Config,
    store: VaultStore,
    api: Mixpanel,
    metrics: Arc<Metrics>,
) -> Arc<Engine> {
    Arc::new(Engine::new(store, api, config.rotation.clone(), metrics))
}

/// A token cancelled on SIGTERM or SIGINT.
pub(crate) fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let term = signal(SignalKind::terminate());
            let int = signal(SignalKind::interrupt());
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => tracing::info!("SIGTERM: finishing the current step, then releasing the lease"),
                        _ = int.recv() => tracing::info!("SIGINT: finishing the current step, then releasing the lease"),
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        t.cancel();
    });
    token
}

async fn run_daemon(config: Config) -> Result<()> {
    let shutdown = shutdown_on_signals();
    let store = connect_store(&config).await?;
    let _renewer = store.spawn_token_renewer();
    let api = loop {
        match connect_api(&config).await {
            Ok(api) => break api,
            Err(RotatorError::Api(e)) if e.is_transient() => {
                tracing::warn!(error = %e, "Mixpanel is unreachable; retrying in 5s");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
            Err(e) => return Err(e),
        }
    };
    let metrics = Arc::new(Metrics::default());
    let engine = make_engine(&config, store.clone(), api.clone(), metrics.clone());
    let scheduler = Scheduler::new(engine);
    let holder = config.holder();
    let elector = Elector::new(
        store.clone(),
        holder.clone(),
        config.election.lease_ttl,
        metrics.clone(),
    );
    let addr = config.listen_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| RotatorError::Io(format!("cannot listen on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| RotatorError::Io(e.to_string()))?;
    tracing::info!(
        holder = %holder,
        http = %local,
        organization = api.org().0,
        lease_ttl_secs = config.election.lease_ttl.as_secs(),
        "mixpanel-rotator started"
    );
    let http_state = HttpState::new(
        store.clone(),
        api.clone(),
        metrics.clone(),
        scheduler.clone(),
        &elector,
        holder.clone(),
        config.http.token.clone(),
    );
    let http_stop = CancellationToken::new();
    let http_task = tokio::spawn(http::serve(listener, http_state, http_stop.clone()));
    let reviews = tokio::spawn(crate::governance::review_schedule(
        config.clone(),
        store.clone(),
        api.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));
    elector
        .run(shutdown.clone(), |lead| {
            let s = scheduler.clone();
            async move { s.lead(lead).await }
        })
        .await;
    http_stop.cancel();
    reviews.abort();
    match http_task.await {
        Ok(r) => r?,
        Err(e) => tracing::warn!(error = %e, "the HTTP server task failed"),
    }
    tracing::info!(holder = %holder, "mixpanel-rotator stopped");
    Ok(())
}

/// `once --dry-run`: what a pass would do, from the inventory and the journals (read only).
async fn once_dry_run(config: Config) -> Result<()> {
    use mixpanel_access::inventory::RotateOn;
    let store = connect_store(&config).await?;
    let api = connect_api(&config).await?;
    let engine = make_engine(&config, store.clone(), api, Arc::new(Metrics::default()));
    let now = Utc::now();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in inventory::load(&store).await? {
        let Ok(entry) = &r.entry else {
            rows.push(vec![
                r.name.clone(),
                "skip".into(),
                "not a valid inventory entry".into(),
            ]);
            continue;
        };
        let journal = store.read_journal(&entry.name).await?.map(|(j, _)| j);
        if let Some(j) = journal.as_ref().filter(|j| j.phase.is_open()) {
            let (action, what) = match j.phase {
                Phase::NeedsHuman => (
                    "blocked",
                    format!(
                        "rotation {} needs a human ({}); only a manual request resumes it",
                        j.rotation_id,
                        j.last_error.clone().unwrap_or_default()
                    ),
                ),
                Phase::Promoted | Phase::Overlap => {
                    let end = j.overlap_ends_at().unwrap_or(now);
                    let old = j
                        .old_username
                        .as_ref()
                        .map(|u| u.to_string())
                        .unwrap_or_else(|| "-".into());
                    if end <= now {
                        (
                            "delete",
                            format!(
                                "rotation {}: delete the old account {old} now",
                                j.rotation_id
                            ),
                        )
                    } else {
                        (
                            "wait",
                            format!(
                                "rotation {}: delete the old account {old} after {}",
                                j.rotation_id,
                                inventory::stamp(end)
                            ),
                        )
                    }
                }
                p => (
                    "resume",
                    format!("rotation {} from phase {p}", j.rotation_id),
                ),
            };
            rows.push(vec![entry.name.clone(), action.into(), what]);
            continue;
        }
        if let Some(req) = &r.request {
            let what = match inventory::check_request(entry, req) {
                Ok(()) => format!(
                    "take the {} request: {}",
                    req.trigger,
                    req.reason.clone().unwrap_or_default()
                ),
                Err(e) => format!("drop the refused request: {e}"),
            };
            rows.push(vec![entry.name.clone(), "request".into(), what]);
            continue;
        }
        let mut e = entry.clone();
        if e.status == CredentialStatus::Rotating {
            e.status = CredentialStatus::Ok;
        }
        if e.status == CredentialStatus::NeedsHuman {
            continue;
        }
        let (status, reason) = e.compute_status(now);
        let due = matches!(
            status,
            CredentialStatus::Due
                | CredentialStatus::Overdue
                | CredentialStatus::ManualRotationRequired
        );
        if !due {
            continue;
        }
        let why = reason
            .map(|r| r.split("; ").next().unwrap_or_default().to_string())
            .unwrap_or_default();
        let (action, what) = if !e.allows(RotateOn::Schedule) {
            ("none", format!("{why}; its rotate_on excludes schedule"))
        } else if engine.can_rotate(e.kind) {
            let old = e
                .username
                .as_ref()
                .map(|u| {
                    format!(
                        " (replacing {u}, deleted after an overlap of {})",
                        mixpanel_access::inventory::format_duration(e.overlap)
                    )
                })
                .filter(|_| e.kind == CredentialKind::ServiceAccount)
                .unwrap_or_default();
            ("rotate", format!("{why}{old}"))
        } else {
            ("mirror", format!("{why}; this API cannot reset a {}: mirrored and marked manual_rotation_required", e.kind))
        };
        rows.push(vec![e.name.clone(), action.into(), what]);
    }
    if rows.is_empty() {
        outln!("dry run: a pass would do nothing (the membership watcher is not predicted)");
    } else {
        out(&table::render(
            &["NAME", "ACTION", "DETAIL"],
            &rows
                .iter()
                .map(|r| vec![r[0].clone(), r[1].clone(), table::cell(&r[2], 240)])
                .collect::<Vec<_>>(),
        ));
        outln!(
            "dry run: nothing was changed ({} credential(s) listed; the membership watcher is not predicted)",
            rows.len()
        );
    }
    Ok(())
}

async fn once(config: Config, wait: bool) -> Result<()> {
    let shutdown = shutdown_on_signals();
    let store = connect_store(&config).await?;
    let api = connect_api(&config).await?;
    let metrics = Arc::new(Metrics::default());
    let engine = make_engine(&config, store.clone(), api, metrics.clone());
    let scheduler = Scheduler::new(engine);
    let elector = Elector::new(
        store.clone(),
        config.holder(),
        config.election.lease_ttl,
        metrics.clone(),
    );
    let result = elector
        .try_lead(&shutdown, |lead| {
            let s = scheduler.clone();
            async move { s.once(&lead, wait).await }
        })
        .await?;
    match result {
        None => {
            let holder = crate::election::leader(&store).await?.map(|(h, _)| h);
            outln!(
                "another replica leads ({}): it does the rotations; nothing done",
                holder.unwrap_or_else(|| "unknown".into())
            );
            Ok(())
        }
        Some(report) => {
            let report = report?;
            outln!(
                "reconciled {} credentials: {} rotation(s) started, {} mirrored, {} still open, {} due, {} overdue, {} invalid; {} rotation(s) completed, {} need a human",
                report.credentials,
                report.started,
                report.mirrored,
                report.open,
                report.due,
                report.overdue,
                report.invalid,
                metrics.rotations_with("success"),
                metrics.rotations_with("needs_human"),
            );
            Ok(())
        }
    }
}

// ---- inventory ----

fn parse_arg<T: std::str::FromStr>(field: &str, v: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    v.parse()
        .map_err(|e: T::Err| RotatorError::Invalid(format!("--{field}: {e}")))
}

async fn inventory_add(config: Config, args: AddArgs) -> Result<()> {
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
            // One account, one entry: rotating one name would revoke the other's consumers.
            for r in inventory::load(&store).await? {
                if let Ok(other) = &r.entry {
                    if other.name != e.name
                        && (other.sa_id == Some(found.id)
                            || other.username.as_ref() == Some(&found.username))
                    {
                        return Err(RotatorError::Invalid(format!(
                            "{} (id {}) is already registered as {}: rotating one entry would revoke the credential the other's consumers use; use that entry",
                            found.username, found.id, other.name
                        )));
                    }
                }
            }
            e.sa_id = Some(found.id);
            e.username = Some(found.username.clone());
            e.role = e.role.or(found.role);
            if e.last_rotated.is_none() {
                e.last_rotated = Some(found.created);
            }
            if args.secret_stdin {
                let mut secret = String::new();
                std::io::stdin()
                    .read_to_string(&mut secret)
                    .map_err(|err| {
                        RotatorError::Io(format!("reading the secret from stdin: {err}"))
                    })?;
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
                tracing::info!(credential = %file.name, "the entry changed during apply (a rotation?): reading it again");
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

async fn inventory_apply(config: Config, file: PathBuf, dry_run: bool) -> Result<()> {
    let text = std::fs::read_to_string(&file)
        .map_err(|e| RotatorError::Io(format!("cannot read {}: {e}", file.display())))?;
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
    // One account, one entry: refuse a file that names an account another entry already uses
    // (rotating one name would revoke the credential the other's consumers use).
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for r in existing.values() {
        if let Ok(e) = &r.entry {
            if entries.iter().any(|f| f.name == e.name) {
                continue;
            }
            if let Some(id) = e.sa_id {
                owners.insert(format!("id {id}"), e.name.clone());
            }
            if let Some(u) = &e.username {
                owners.insert(u.to_string(), e.name.clone());
            }
        }
    }
    for f in &entries {
        let stored = existing.get(&f.name).and_then(|r| r.entry.as_ref().ok());
        let sa_id = stored.and_then(|s| s.sa_id).or(f.sa_id);
        let username = stored
            .and_then(|s| s.username.clone())
            .or_else(|| f.username.clone());
        let keys: Vec<String> = sa_id
            .map(|i| format!("id {i}"))
            .into_iter()
            .chain(username.map(|u| u.to_string()))
            .collect();
        for k in keys {
            if let Some(other) = owners.insert(k.clone(), f.name.clone()) {
                if other != f.name {
                    return Err(RotatorError::Invalid(format!(
                        "{}: the service account {k} is already the credential of {other}: one account per entry (rotating one would revoke the other's); nothing was written",
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

async fn inventory_list(config: Config, json: bool) -> Result<()> {
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

async fn inventory_export(config: Config, format: &str, output: Option<PathBuf>) -> Result<()> {
    let format: ExportFormat = parse_arg("format", format)?;
    let store = connect_store(&config).await?;
    let entries = valid_entries(inventory::load(&store).await?);
    let text = format.render(&entries)?;
    match output {
        Some(path) => {
            std::fs::write(&path, &text)
                .map_err(|e| RotatorError::Io(format!("cannot write {}: {e}", path.display())))?;
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

/// One row of `status`.
#[derive(Debug, serde::Serialize)]
struct StatusRow {
    name: String,
    kind: String,
    status: String,
    health: String,
    phase: String,
    rotation_id: Option<String>,
    attempts: Option<u32>,
    next_rotation: Option<String>,
    attention: bool,
    note: String,
}

async fn status(config: Config, all: bool, json: bool) -> Result<()> {
    let store = connect_store(&config).await?;
    let leader = crate::election::leader(&store).await?;
    let leader_line = match &leader {
        Some((holder, token)) => format!("leader: {holder} (fencing token {token})"),
        None => "leader: none (no replica holds the lease)".to_string(),
    };
    let records = inventory::load(&store).await?;
    let api = if config.client_config().is_ok() {
        match connect_api(&config).await {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("warning: cannot reach Mixpanel ({e}): stored secrets are not checked");
                None
            }
        }
    } else {
        None
    };
    let max_age = config.rotation.health_check_interval;
    let mut budget = crate::health::MAX_CHECKS_PER_RUN;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows: Vec<StatusRow> = Vec::new();
    let n = records.len();
    let mut attention_count = 0usize;
    for (i, r) in records.into_iter().enumerate() {
        if n > 50 && (i + 1) % 50 == 0 {
            eprintln!("[{}/{n}] reading journals and checking secrets", i + 1);
        }
        let entry = match r.entry {
            Ok(e) => e,
            Err(err) => {
                *counts.entry("invalid".into()).or_default() += 1;
                attention_count += 1;
                rows.push(StatusRow {
                    name: r.name.clone(),
                    kind: "-".into(),
                    status: "invalid".into(),
                    health: "-".into(),
                    phase: "-".into(),
                    rotation_id: None,
                    attempts: None,
                    next_rotation: None,
                    attention: true,
                    note: err.to_string(),
                });
                continue;
            }
        };
        let journal = store.read_journal(&entry.name).await?.map(|(j, _)| j);
        let health = crate::health::check(
            &store,
            api.as_ref(),
            &entry,
            r.auth_check.as_ref(),
            max_age,
            &mut budget,
        )
        .await?;
        // The journal is the truth about a rotation in progress or stopped.
        let mut status = entry.status;
        if journal
            .as_ref()
            .is_some_and(|j| j.phase == Phase::NeedsHuman)
        {
            status = CredentialStatus::NeedsHuman;
        }
        *counts.entry(status.to_string()).or_default() += 1;
        if health.needs_attention() {
            *counts.entry(health.label().to_string()).or_default() += 1;
        }
        let attention = health.needs_attention()
            || matches!(
                status,
                CredentialStatus::Overdue
                    | CredentialStatus::NeedsHuman
                    | CredentialStatus::ManualRotationRequired
            );
        if attention {
            attention_count += 1;
        }
        let open = journal.as_ref().is_some_and(|j| j.phase.is_open());
        if !(all || attention || open || r.request.is_some()) {
            continue;
        }
        let mut notes: Vec<String> = Vec::new();
        if r.request.is_some() {
            notes.push("request pending".into());
        }
        if health.needs_attention() {
            notes.push(health.detail());
        }
        match &journal {
            Some(j) if j.phase != Phase::Done => {
                if let Some(e) = &j.last_error {
                    notes.push(e.clone());
                } else if let Some(r) = &entry.status_reason {
                    notes.push(r.clone());
                }
            }
            _ => {
                if let Some(r) = &entry.status_reason {
                    notes.push(r.clone());
                }
            }
        }
        rows.push(StatusRow {
            name: entry.name.clone(),
            kind: entry.kind.to_string(),
            status: status.to_string(),
            health: health.label().to_string(),
            phase: journal
                .as_ref()
                .map(|j| j.phase.to_string())
                .unwrap_or_else(|| "-".into()),
            rotation_id: journal.as_ref().map(|j| j.rotation_id.clone()),
            attempts: journal
                .as_ref()
                .filter(|j| j.phase != Phase::Done)
                .map(|j| j.attempts),
            next_rotation: entry.next_rotation.map(inventory::stamp),
            attention,
            note: notes.join("; "),
        });
    }
    let where_ = format!("{}/{}/creds/", store.config().mount, store.config().prefix);
    if n == 0 {
        eprintln!(
            "warning: no credential at all under {where_}: check the Vault mount and prefix (MIXPANEL_ROTATOR_VAULT_MOUNT, MIXPANEL_ROTATOR_VAULT_PREFIX) or add entries with `inventory add` / `inventory apply`"
        );
    }
    if json {
        let doc = serde_json::json!({
            "leader": leader.as_ref().map(|(h, t)| serde_json::json!({"holder": h, "fencing_token": t.0})),
            "location": where_,
            "credentials": n,
            "counts": counts,
            "needs_attention": attention_count,
            "entries": rows,
        });
        out_line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        out_line(&leader_line);
        let summary: Vec<String> = counts.iter().map(|(s, c)| format!("{c} {s}")).collect();
        out_line(&format!(
            "credentials: {n}{}{}",
            if summary.is_empty() { "" } else { " (" },
            if summary.is_empty() {
                String::new()
            } else {
                summary.join(", ") + ")"
            }
        ));
        if rows.is_empty() {
            out_line("nothing needs attention");
        } else {
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.status.clone(),
                        r.health.clone(),
                        r.phase.clone(),
                        r.rotation_id.clone().unwrap_or_else(|| "-".into()),
                        r.attempts
                            .map(|a| a.to_string())
                            .unwrap_or_else(|| "-".into()),
                        r.next_rotation.clone().unwrap_or_else(|| "never".into()),
                        table::cell(&r.note, 80),
                    ]
                })
                .collect();
            out(&table::render(
                &[
                    "NAME",
                    "STATUS",
                    "SECRET",
                    "PHASE",
                    "ROTATION",
                    "ATTEMPTS",
                    "NEXT ROTATION",
                    "NOTE",
                ],
                &table_rows,
            ));
        }
    }
    if n == 0 {
        return Err(RotatorError::Invalid(format!(
            "the inventory under {where_} is empty"
        )));
    }
    if attention_count > 0 {
        return Err(RotatorError::Invalid(format!(
            "{attention_count} credential(s) need attention (see above)"
        )));
    }
    Ok(())
}
