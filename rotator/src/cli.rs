//! The command line's clap types and the dispatch to [`crate::cmd`] (one module per
//! subcommand): `run`, `once`, `rotate`, `inventory add|apply|list|export`, `status`,
//! `history`, `review [apply]`, `offboard [verify]`, `audit export`, `doctor`.
//!
//! Human output goes to stdout (tables, results), progress and logs to stderr. Nothing printed
//! ever contains a secret: commands print names, ids, dates and statuses only.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mixpanel_access::api::wire;
use mixpanel_access::inventory::parse_duration;

use crate::cmd;
use crate::config::{Config, ProcessEnv};
use crate::error::Result;

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
    /// More log lines on stderr: -v for INFO, -vv for DEBUG. Commands other than `run` log only
    /// warnings and errors without it (`run` uses log.filter).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The log filter (error, warn, info, debug, trace, or a tracing filter such as
    /// `info,mixpanel_access=debug`); overrides -v and log.filter.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// How a command prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// `--format text|json`, with `--json` kept as an alias of `--format json`.
#[derive(Debug, Clone, Copy, Args)]
pub struct OutputArgs {
    /// text or json.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// The same as --format json.
    #[arg(long)]
    pub json: bool,
}

impl OutputArgs {
    pub fn json(&self) -> bool {
        self.json || self.format == OutputFormat::Json
    }
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
    Rotate(Box<RotateCmd>),
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
    /// Time-limited access: `access grant` (verified, recorded in Vault; the daemon's leader
    /// revokes it at its expiry), `access list`, `access revoke`.
    #[command(subcommand)]
    Access(AccessCommand),
    /// A read-only preflight against the configured organization: calls once each read route
    /// the provider and the rotator use and prints a table (route, what it serves, result).
    /// Exits 0 when every route the configuration needs answered as expected, 1 when one is
    /// forbidden, missing or answered unexpectedly, 2 when it could not run (no
    /// configuration, Mixpanel unreachable, the credentials refused). Never writes.
    Doctor {
        /// Save each answer, redacted (secrets, tokens, e-mail addresses and service-account
        /// usernames replaced by stable placeholders), as DIR/<route>.json, with DIR/index.json:
        /// to attach to a bug report.
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Show the leader, the inventory's statuses and open rotations.
    /// Exits 1 when a credential needs attention (overdue, needs_human,
    /// manual_rotation_required, its secret missing, refused by Mixpanel or unchecked, an
    /// invalid entry) or the inventory is empty; 2 when it could not run (Vault unreachable,
    /// the rotator's own Mixpanel credential refused, or Mixpanel not answering so that no
    /// stored secret could be checked).
    /// With names, every detail of those credentials: the full note and, for a rotation in
    /// needs_human, what to do by hand.
    Status {
        /// Only these credentials, shown whatever their state.
        names: Vec<String>,
        /// List every credential, not only those that need attention.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: OutputArgs,
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
    /// Who approved the offboarding (required with --execute; recorded in the evidence and
    /// the Vault journal).
    #[arg(long)]
    pub approved_by: Option<String>,
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
pub enum AccessCommand {
    /// Give EMAIL a project role (--project, --role) or a team seat (--team) for a time.
    Grant {
        email: String,
        #[arg(long, required_unless_present = "team")]
        project: Option<u64>,
        #[arg(long, requires = "project")]
        role: Option<String>,
        /// A team's name: a seat on it instead of a project role.
        #[arg(long, conflicts_with_all = ["project", "role"])]
        team: Option<String>,
        /// How long (2w, 14d, 36h, 90m).
        #[arg(long = "for", value_parser = parse_duration_arg)]
        duration: Duration,
        #[arg(long)]
        ticket: String,
        #[arg(long)]
        reason: String,
    },
    /// Every time-limited grant, active and ended.
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// End one grant now.
    Revoke {
        /// The grant's id (`<ticket>-<n>`, from `access list`).
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
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
        /// Who approved the changes (required with --execute; recorded in the evidence and
        /// the Vault journal).
        #[arg(long)]
        approved_by: Option<String>,
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
pub struct RotateCmd {
    /// The credentials' names (their paths under creds/).
    pub names: Vec<String>,
    /// Also every credential the inventory lists on this project.
    #[arg(long)]
    pub project: Option<u64>,
    /// Why (a ticket, an incident); recorded in the journal and the inventory. Optional with
    /// --retry.
    #[arg(long, required_unless_present = "retry")]
    pub reason: Option<String>,
    /// Resume a rotation stopped in needs_human, from its phase with its attempts reset, once
    /// its cause is fixed (see `status NAME`); refused when none of the credentials has one.
    #[arg(long, conflicts_with_all = ["project", "incident", "force"])]
    pub retry: bool,
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
    /// With an overlap, also wait for its end and the revocation of the old credential
    /// (bounded by --timeout); without it the command returns once the successor is promoted
    /// and prints when the old one will be revoked.
    #[arg(long, conflicts_with = "no_wait")]
    pub wait: bool,
    /// How long to wait for the rotations to finish; on expiry the command exits non-zero and
    /// says what state each rotation is in.
    #[arg(long, value_parser = parse_duration_arg, default_value = "5m")]
    pub timeout: Duration,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Rotate even where the entry's rotate_on does not name this trigger: the only way to
    /// reset a project token by default (ingestion with the old token stops).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Register one credential.
    Add(Box<AddCmd>),
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
        /// --format json prints the same document as `export --format json`.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Take a credential out of the inventory: its entry, its stored secret and its journal
    /// in Vault. Nothing in Mixpanel is deleted. Refused while a rotation is open, unless
    /// --force.
    Remove {
        name: String,
        /// Remove it even while a rotation is open (the rotation's new account, if any, is
        /// left in Mixpanel: the command names it).
        #[arg(long)]
        force: bool,
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
pub struct AddCmd {
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
    /// When it was last rotated (RFC 3339 or YYYY-MM-DD); default: the account's creation,
    /// or for a project secret or token the registration (its age is unknown to the API).
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

impl From<RotateCmd> for crate::cmd::rotate::RotateArgs {
    fn from(c: RotateCmd) -> Self {
        Self {
            names: c.names,
            project: c.project,
            reason: c
                .reason
                .unwrap_or_else(|| "retry after the cause of needs_human was fixed".to_string()),
            retry: c.retry,
            overlap: c.overlap,
            incident: c.incident,
            requested_by: c.requested_by,
            no_wait: c.no_wait,
            wait: c.wait,
            timeout: c.timeout,
            json: c.output.json(),
            force: c.force,
        }
    }
}

impl From<AddCmd> for crate::cmd::inventory::AddArgs {
    fn from(c: AddCmd) -> Self {
        Self {
            name: c.name,
            kind: c.kind,
            owner: c.owner,
            integration: c.integration,
            projects: c.projects,
            created_by: c.created_by,
            used_by: c.used_by,
            purpose: c.purpose,
            rotation_period: c.rotation_period,
            overlap: c.overlap,
            rotate_on: c.rotate_on,
            role: c.role,
            sa_id: c.sa_id,
            username: c.username,
            last_rotated: c.last_rotated,
            create: c.create,
            secret_stdin: c.secret_stdin,
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let config = Config::load(cli.config.as_deref(), &ProcessEnv)?;
    config.validate()?;
    mixpanel_access::inventory::set_max_jitter(config.rotation.max_jitter);
    // The daemon logs as configured (JSON when stderr is not a terminal); a one-shot command
    // logs warnings and errors only, as text, unless asked for more.
    let daemon = matches!(cli.command, Command::Run);
    let filter = match (&cli.log_level, cli.verbose) {
        (Some(level), _) => level.clone(),
        (None, 0) if daemon => config.log.filter.clone(),
        (None, 0) => "warn".into(),
        (None, 1) => "info".into(),
        (None, _) => "debug".into(),
    };
    let format = match (cli.log_format, config.log.format) {
        (Some(f), _) => f,
        (None, crate::config::LogFormat::Auto) if !daemon => crate::config::LogFormat::Text,
        (None, f) => f,
    };
    crate::logging::init(format, &filter);
    match cli.command {
        Command::Run => cmd::run::run_daemon(config).await,
        Command::Once { dry_run: true, .. } => cmd::once::once_dry_run(config).await,
        Command::Once { wait, .. } => cmd::once::once(config, wait).await,
        Command::Rotate(args) => cmd::rotate::rotate(config, (*args).into()).await,
        Command::Inventory(InventoryCommand::Add(args)) => {
            cmd::inventory::inventory_add(config, (*args).into()).await
        }
        Command::Inventory(InventoryCommand::Apply { file, dry_run }) => {
            cmd::inventory::inventory_apply(config, file, dry_run).await
        }
        Command::Inventory(InventoryCommand::List { output }) => {
            cmd::inventory::inventory_list(config, output.json()).await
        }
        Command::Inventory(InventoryCommand::Remove { name, force }) => {
            cmd::inventory::inventory_remove(config, &name, force).await
        }
        Command::Inventory(InventoryCommand::Export { format, output }) => {
            cmd::inventory::inventory_export(config, &format, output).await
        }
        Command::Status { names, all, output } => {
            cmd::status::status(config, &names, all, output.json()).await
        }
        Command::Access(AccessCommand::Grant {
            email,
            project,
            role,
            team,
            duration,
            ticket,
            reason,
        }) => {
            cmd::access::grant(
                config,
                cmd::access::GrantArgs {
                    email,
                    project,
                    role,
                    team,
                    duration,
                    ticket,
                    reason,
                },
            )
            .await
        }
        Command::Access(AccessCommand::List { output }) => {
            cmd::access::list(config, output.json()).await
        }
        Command::Access(AccessCommand::Revoke { id, reason }) => {
            cmd::access::revoke(config, &id, reason).await
        }
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
            cmd::audit::audit_export_cmd(
                config,
                cmd::audit::AuditExportOptions {
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
        }) => cmd::offboard::verify_cmd(&config, &dir).await,
        Command::Offboard(c) => {
            cmd::offboard::offboard_cmd(
                config,
                cmd::offboard::OffboardArgs {
                    email: c.email.unwrap_or_default(),
                    ticket: c.ticket.unwrap_or_default(),
                    execute: c.execute,
                    options: mixpanel_access::governance::offboard::OffboardOptions {
                        keep_account: c.keep_account,
                        include_tokens: c.include_tokens,
                    },
                    rotation_timeout: c.timeout,
                    approved_by: c.approved_by,
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
                    approved_by,
                }),
            ..
        }) => cmd::review_apply::apply_cmd(config, &decisions, &ticket, execute, approved_by).await,
        Command::Review(args) => {
            cmd::review::review_cmd(
                config,
                cmd::review::ReviewOptions {
                    formats: args.formats,
                    output: args.output,
                    fail_on: args.fail_on,
                    dormant_days: args.dormant_days,
                },
            )
            .await
        }
        Command::Doctor { record, output } => {
            cmd::doctor::doctor(
                config,
                cmd::doctor::DoctorArgs {
                    json: output.json(),
                    record,
                },
            )
            .await
        }
        Command::History {
            names,
            format,
            output,
        } => cmd::history::history(config, &names, &format, output).await,
    }
}
