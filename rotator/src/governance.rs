//! The governance commands: `review` (the quarterly access review), `review apply`,
//! `offboard`, `offboard verify` and `audit export`, all on `mixpanel_access::governance`.

use std::path::{Path, PathBuf};

use chrono::{Datelike, Utc};
use mixpanel_access::governance::report::{render, ReportFormat};
use mixpanel_access::governance::{self, Review, Severity, Snapshot};
use mixpanel_access::inventory::InventoryEntry;
use mixpanel_access::vault::VaultStore;

use crate::api::Mixpanel;
use crate::config::Config;
use crate::error::{Result, RotatorError};

/// The inventory's valid entries (an invalid one is reported on stderr and left out: the review
/// says so rather than stopping).
pub async fn inventory_entries(store: &VaultStore) -> Result<Vec<InventoryEntry>> {
    let mut out = Vec::new();
    for r in crate::inventory::load(store).await? {
        match r.entry {
            Ok(e) => out.push(e),
            Err(e) => eprintln!(
                "warning: inventory entry {} is invalid and is left out of the review: {e}",
                r.name
            ),
        }
    }
    Ok(out)
}

/// One snapshot of the organization with the inventory.
pub async fn snapshot(config: &Config, store: &VaultStore, api: &Mixpanel) -> Result<Snapshot> {
    let inventory = inventory_entries(store).await?;
    Ok(Snapshot::collect(api, inventory, &config.governance.collect_options()).await?)
}

/// Options of `review`.
#[derive(Debug, Clone)]
pub struct ReviewOptions {
    pub formats: Vec<ReportFormat>,
    pub output: Option<PathBuf>,
    pub fail_on: Option<Severity>,
    pub dormant_days: Option<i64>,
}

/// Writes a review's reports into `dir` as `access-review-<date>.<ext>`; the paths.
pub fn write_reports(
    review: &Review,
    formats: &[ReportFormat],
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| RotatorError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let stamp = review.taken_at.format("%Y-%m-%dT%H%M%SZ");
    let mut out = Vec::new();
    for f in formats {
        let text = render(review, *f).map_err(RotatorError::Io)?;
        let path = dir.join(format!("access-review-{stamp}.{}", f.extension()));
        std::fs::write(&path, text)
            .map_err(|e| RotatorError::Io(format!("cannot write {}: {e}", path.display())))?;
        out.push(path);
    }
    Ok(out)
}

/// `review`.
pub async fn review_cmd(config: Config, opts: ReviewOptions) -> Result<()> {
    let store = crate::cli::connect_store(&config).await?;
    let api = crate::cli::connect_api(&config).await?;
    let snap = snapshot(&config, &store, &api).await?;
    let mut policy = config.governance.policy();
    if let Some(d) = opts.dormant_days {
        if d < 1 {
            return Err(RotatorError::Invalid(
                "--dormant-days must be at least 1".into(),
            ));
        }
        policy.dormant_days = d;
    }
    let review = governance::review(&snap, &policy);
    match &opts.output {
        Some(dir) => {
            let formats = if opts.formats.is_empty() {
                vec![ReportFormat::Md, ReportFormat::Csv, ReportFormat::Json]
            } else {
                opts.formats.clone()
            };
            for p in write_reports(&review, &formats, dir)? {
                crate::cli::out_line(&p.display().to_string());
            }
        }
        None => {
            let format = opts.formats.first().copied().unwrap_or(ReportFormat::Md);
            crate::cli::out(&render(&review, format).map_err(RotatorError::Io)?);
        }
    }
    let counts = review.counts();
    eprintln!(
        "review of organization {}: {} member(s), {} finding(s) ({}), {} API call(s)",
        review.organization,
        review.members.len(),
        review.findings.len(),
        counts
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        review.api_calls
    );
    if let Some(threshold) = opts.fail_on {
        let failing = review
            .findings
            .iter()
            .filter(|f| f.severity >= threshold)
            .count();
        if failing > 0 {
            return Err(RotatorError::Invalid(format!(
                "{failing} finding(s) at severity {threshold} or above (--fail-on {threshold})"
            )));
        }
    }
    Ok(())
}

/// The evidence folder of a ticket: `<evidence_dir>/<year>/<ticket>/`.
pub fn evidence_folder(config: &Config, ticket: &str) -> Result<PathBuf> {
    validate_ticket(ticket)?;
    Ok(config
        .governance
        .evidence_dir
        .join(Utc::now().year().to_string())
        .join(ticket))
}

/// A ticket id becomes a folder name and a Vault path segment: letters, digits, `-`, `_`, `.`.
pub fn validate_ticket(ticket: &str) -> Result<()> {
    let ok = !ticket.is_empty()
        && ticket.len() <= 64
        && !ticket.starts_with('.')
        && ticket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RotatorError::Invalid(format!(
            "--ticket {ticket:?}: use 1 to 64 letters, digits, '-', '_' or '.' (such as IAM-1234), not starting with '.'"
        )))
    }
}

/// The outcome of one action of `review apply`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub line: usize,
    pub reviewer: String,
    pub justification: String,
    #[serde(flatten)]
    pub action: mixpanel_access::governance::decisions::Action,
    /// planned, done, manual, failed, already_done.
    pub result: String,
    pub detail: String,
}

/// `review apply DECISIONS.csv --ticket ID [--execute]`.
pub async fn apply_cmd(config: Config, file: &Path, ticket: &str, execute: bool) -> Result<()> {
    use mixpanel_access::governance::decisions::{actions, parse_decisions, Action};
    use mixpanel_access::model::TargetType;
    validate_ticket(ticket)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| RotatorError::Io(format!("cannot read {}: {e}", file.display())))?;
    let decisions = parse_decisions(&text).map_err(|problems| {
        RotatorError::Invalid(format!(
            "{}: {} problem(s), nothing was applied:\n  {}",
            file.display(),
            problems.len(),
            problems.join("\n  ")
        ))
    })?;
    let store = crate::cli::connect_store(&config).await?;
    let api = crate::cli::connect_api(&config).await?;
    let snap = snapshot(&config, &store, &api).await?;
    let mut applied = Vec::new();
    for d in &decisions {
        for a in actions(&snap, d) {
            let (result, detail) = match &a {
                Action::Manual { what, .. } => ("manual", what.clone()),
                Action::AlreadyDone { what, .. } => ("already_done", what.clone()),
                _ => ("planned", String::new()),
            };
            applied.push(Applied {
                line: d.line,
                reviewer: d.reviewer.clone(),
                justification: d.justification.clone(),
                action: a,
                result: result.into(),
                detail,
            });
        }
    }
    let individual = |grants: &[mixpanel_access::model::UserGrant],
                      email: &mixpanel_access::model::Email| {
        grants
            .iter()
            .find(|g| g.email == *email && g.target_type == TargetType::Individual)
            .map(|g| g.role)
    };
    if execute {
        for a in applied.iter_mut().filter(|a| a.result == "planned") {
            let outcome: std::result::Result<String, (String, String)> = match &a.action {
                Action::RemoveGrant { email, project, .. } => {
                    let call = api
                        .remove_users_from_projects(
                            api.org(),
                            std::slice::from_ref(email),
                            &[*project],
                        )
                        .await;
                    let grants = api.granted_users(*project).await?;
                    match individual(&grants, email) {
                        None => Ok("individual grant removed (verified by granted-users)".into()),
                        Some(r) => Err((
                            "manual".into(),
                            format!(
                                "still granted {r} after the call ({}); remove it by hand: Organization Settings → Users & Seats → {email} → project {project} → \"No Access\"",
                                call.err().map(|e| e.to_string()).unwrap_or_else(|| "the API answered success".into())
                            ),
                        )),
                    }
                }
                Action::SetGrant {
                    email, project, to, ..
                } => {
                    let call = api
                        .add_users_to_projects(
                            api.org(),
                            std::slice::from_ref(email),
                            &[*project],
                            *to,
                        )
                        .await;
                    let grants = api.granted_users(*project).await?;
                    match individual(&grants, email) {
                        Some(r) if r == *to => Ok(format!(
                            "individual grant set to {to} (verified by granted-users)"
                        )),
                        other => Err((
                            "failed".into(),
                            format!(
                                "the individual grant is {} after the call ({})",
                                other
                                    .map(|r| r.to_string())
                                    .unwrap_or_else(|| "gone".into()),
                                call.err()
                                    .map(|e| e.to_string())
                                    .unwrap_or_else(|| "the API answered success".into())
                            ),
                        )),
                    }
                }
                Action::RemoveMember { email } => {
                    let call = api
                        .remove_org_users(api.org(), std::slice::from_ref(email))
                        .await;
                    let still = api
                        .list_org_users()
                        .await?
                        .iter()
                        .any(|m| m.email == *email);
                    if still {
                        Err((
                            "failed".into(),
                            format!(
                                "still a member after the call ({})",
                                call.err()
                                    .map(|e| e.to_string())
                                    .unwrap_or_else(|| "the API answered success".into())
                            ),
                        ))
                    } else {
                        Ok("removed from the organization (verified by the member list)".into())
                    }
                }
                Action::Manual { .. } | Action::AlreadyDone { .. } => continue,
            };
            match outcome {
                Ok(d) => {
                    a.result = "done".into();
                    a.detail = d;
                }
                Err((r, d)) => {
                    a.result = r;
                    a.detail = d;
                }
            }
        }
    }
    // The table.
    let rows: Vec<Vec<String>> = applied
        .iter()
        .map(|a| {
            vec![
                a.line.to_string(),
                serde_json::to_value(&a.action)
                    .ok()
                    .and_then(|v| v["action"].as_str().map(String::from))
                    .unwrap_or_default(),
                describe_action(&a.action),
                a.result.clone(),
                crate::table::cell(&a.detail, 100),
            ]
        })
        .collect();
    crate::cli::out(&crate::table::render(
        &["LINE", "ACTION", "WHO / WHERE", "RESULT", "DETAIL"],
        &rows,
    ));
    if !execute {
        crate::cli::out_line(
            "dry run: nothing was changed; run again with --execute to apply the decisions",
        );
        return Ok(());
    }
    // Evidence.
    let dir = evidence_folder(&config, ticket)?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| RotatorError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| {
            RotatorError::Io(format!("cannot write {}: {e}", dir.join(name).display()))
        })
    };
    write("decisions.csv", &text)?;
    write(
        "applied.json",
        &serde_json::to_string_pretty(&serde_json::json!({
            "ticket": ticket,
            "applied_at": Utc::now(),
            "organization": api.org(),
            "actions": applied,
        }))
        .map_err(|e| RotatorError::Io(e.to_string()))?,
    )?;
    let mut md = format!(
        "# Access review decisions applied ({ticket})\n\nApplied {} from {}.\n\n| Line | Action | Result | Reviewer | Justification | Detail |\n|---|---|---|---|---|---|\n",
        Utc::now().to_rfc3339(),
        file.display()
    );
    for a in &applied {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            a.line,
            describe_action(&a.action).replace('|', "\\|"),
            a.result,
            a.reviewer.replace('|', "\\|"),
            a.justification.replace('|', "\\|"),
            a.detail.replace('|', "\\|")
        ));
    }
    write("summary.md", &md)?;
    crate::offboard::write_sums(&dir)?;
    crate::cli::out_line(&format!("evidence: {}", dir.display()));
    let open = applied
        .iter()
        .filter(|a| a.result == "manual" || a.result == "failed")
        .count();
    if open > 0 {
        return Err(RotatorError::Invalid(format!(
            "{open} decision action(s) were not carried out through the API (manual or failed): see {}/summary.md",
            dir.display()
        )));
    }
    Ok(())
}

fn describe_action(a: &mixpanel_access::governance::decisions::Action) -> String {
    use mixpanel_access::governance::decisions::Action;
    let p = |p: &Option<mixpanel_access::model::ProjectId>| {
        p.map(|p| format!(" on project {p}")).unwrap_or_default()
    };
    match a {
        Action::RemoveGrant {
            email,
            project,
            role,
        } => {
            format!("remove {email}'s individual {role} grant on project {project}")
        }
        Action::SetGrant {
            email,
            project,
            from,
            to,
        } => {
            format!("lower {email}'s individual grant on project {project} from {from} to {to}")
        }
        Action::RemoveMember { email } => format!("remove {email} from the organization"),
        Action::Manual { email, project, .. } => format!("{email}{}", p(project)),
        Action::AlreadyDone { email, project, .. } => format!("{email}{}", p(project)),
    }
}

/// Options of `audit export`.
#[derive(Debug, Clone)]
pub struct AuditExportOptions {
    pub since: Option<String>,
    pub until: Option<String>,
    pub user: Option<String>,
    pub types: Vec<String>,
    pub projects: Vec<u64>,
    pub format: mixpanel_access::api::wire::AuditExportFormat,
    pub output: Option<PathBuf>,
    /// Through Mixpanel's asynchronous export (create, wait for SUCCEEDED, download) instead of
    /// paging, waiting at most this long.
    pub via_export: Option<std::time::Duration>,
}

/// A time given as RFC 3339 or a date (`YYYY-MM-DD`, midnight UTC; `end_of_day` for --until).
pub fn parse_time(what: &str, s: &str, end_of_day: bool) -> Result<chrono::DateTime<Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        let t = if end_of_day {
            d.and_hms_micro_opt(23, 59, 59, 999_999)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        if let Some(t) = t {
            return Ok(t.and_utc());
        }
    }
    Err(RotatorError::Invalid(format!(
        "{what} {s:?}: give a date (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00Z)"
    )))
}

/// `audit export`: the activity log, page by page, streamed to a file or stdout.
pub async fn audit_export_cmd(config: Config, opts: AuditExportOptions) -> Result<()> {
    use mixpanel_access::api::wire::AuditLogQuery;
    use mixpanel_access::audit::{concerns, EventWriter};
    use std::io::Write;
    let since = opts
        .since
        .as_deref()
        .map(|s| parse_time("--since", s, false))
        .transpose()?;
    let until = opts
        .until
        .as_deref()
        .map(|s| parse_time("--until", s, true))
        .transpose()?;
    if let (Some(a), Some(b)) = (since, until) {
        if a > b {
            return Err(RotatorError::Invalid(
                "--since is after --until: nothing could match".into(),
            ));
        }
    }
    let user = match &opts.user {
        Some(u) => Some(
            u.parse::<mixpanel_access::model::Email>()
                .map_err(|e| RotatorError::Invalid(format!("--user: {e}")))?,
        ),
        None => None,
    };
    for t in &opts.types {
        if !t.contains('.') {
            return Err(RotatorError::Invalid(format!(
                "--type {t:?}: an event type is entity.action, such as session.logged_in"
            )));
        }
    }
    let api = crate::cli::connect_api(&config).await?;
    let query = AuditLogQuery {
        types: opts.types.clone(),
        created_gte: since,
        created_lte: until,
        project_ids: opts.projects.iter().map(|p| p.to_string()).collect(),
        search: user.as_ref().map(|u| u.to_string()),
        ..Default::default()
    };
    let out: Box<dyn Write + Send> = match &opts.output {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(
            |e| RotatorError::Io(format!("cannot write {}: {e}", p.display())),
        )?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut w = EventWriter::new(opts.format, out).map_err(|e| RotatorError::Io(e.to_string()))?;
    let mut count = 0usize;
    if let Some(timeout) = opts.via_export {
        let events = via_export(&api, &query, timeout).await?;
        for e in &events {
            if user.as_ref().is_some_and(|u| !concerns(e, u.as_str())) {
                continue;
            }
            match w.write(e) {
                Ok(()) => count += 1,
                Err(err) if err.to_string().contains("Broken pipe") => return Ok(()),
                Err(err) => return Err(RotatorError::Io(err.to_string())),
            }
        }
        w.finish().map_err(|e| RotatorError::Io(e.to_string()))?;
        eprintln!(
            "{count} event(s) exported through an asynchronous export{}",
            opts.output
                .as_ref()
                .map(|p| format!(" to {}", p.display()))
                .unwrap_or_default()
        );
        return Ok(());
    }
    let mut failure: Option<String> = None;
    let pages = api
        .audit_log_each(&query, |page| {
            for e in page {
                if user.as_ref().is_some_and(|u| !concerns(e, u.as_str())) {
                    continue;
                }
                if let Err(err) = w.write(e) {
                    failure.get_or_insert(err.to_string());
                    return Err(mixpanel_access::api::ApiError::Config(
                        "the output could not be written".into(),
                    ));
                }
                count += 1;
            }
            Ok(())
        })
        .await;
    if let Some(f) = failure {
        // A closed pipe (`| head`) ends the export quietly; anything else is an error.
        if f.contains("Broken pipe") {
            return Ok(());
        }
        return Err(RotatorError::Io(f));
    }
    let pages = pages?;
    w.finish().map_err(|e| RotatorError::Io(e.to_string()))?;
    eprintln!(
        "{count} event(s) exported in {pages} page(s){}",
        opts.output
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    );
    Ok(())
}

/// The review schedule's record in Vault (`state/_governance/review`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ReviewSchedule {
    last: chrono::DateTime<Utc>,
    reports: Vec<String>,
}

/// The daemon's review schedule: on the leader, every `governance.review_interval`, a review
/// written to `<evidence_dir>/<year>/reviews/` and its finding counts in `/metrics`. The time
/// of the last one is kept in Vault, so a restart does not review again early; a new leader
/// computes the gauges once without writing a report.
pub async fn review_schedule(
    config: Config,
    store: VaultStore,
    api: Mixpanel,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let interval = config.governance.review_interval;
    if interval.is_zero() {
        return;
    }
    let name = format!("{}/review", crate::inventory::GOVERNANCE_SEGMENT);
    let mut gauges_set = false;
    loop {
        if metrics.is_leader() {
            match review_if_due(&config, &store, &api, &metrics, &name, interval, gauges_set).await
            {
                Ok(true) => gauges_set = true,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "scheduled access review failed; retrying later")
                }
            }
        } else {
            gauges_set = false;
        }
        // Until this replica has reviewed as leader, look again every second (leadership
        // comes and goes); then every 30 s at most.
        let pause = if gauges_set {
            interval.min(std::time::Duration::from_secs(30))
        } else {
            std::time::Duration::from_secs(1)
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

async fn review_if_due(
    config: &Config,
    store: &VaultStore,
    api: &Mixpanel,
    metrics: &crate::metrics::Metrics,
    name: &str,
    interval: std::time::Duration,
    gauges_set: bool,
) -> Result<bool> {
    let prev = store.read_state_document::<ReviewSchedule>(name).await?;
    let due = prev.as_ref().is_none_or(|(s, _)| {
        s.last + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX) <= Utc::now()
    });
    if !due && gauges_set {
        return Ok(false);
    }
    let snap = snapshot(config, store, api).await?;
    let review = governance::review(&snap, &config.governance.policy());
    metrics.review(&review);
    if !due {
        return Ok(true);
    }
    let dir = config
        .governance
        .evidence_dir
        .join(review.taken_at.year().to_string())
        .join("reviews");
    let paths = write_reports(
        &review,
        &[ReportFormat::Md, ReportFormat::Csv, ReportFormat::Json],
        &dir,
    )?;
    let record = ReviewSchedule {
        last: review.taken_at,
        reports: paths.iter().map(|p| p.display().to_string()).collect(),
    };
    let cas = prev.map(|(_, v)| v).unwrap_or(0);
    store
        .write_unfenced_state_document(name, &record, cas)
        .await?;
    tracing::info!(
        findings = review.findings.len(),
        reports = %record.reports.join(", "),
        "scheduled access review written"
    );
    Ok(true)
}

/// Mixpanel's asynchronous export: create it (NDJSON), wait until the list shows it SUCCEEDED
/// (FAILED or CANCELED is an error), download and decode it.
async fn via_export(
    api: &Mixpanel,
    query: &mixpanel_access::api::wire::AuditLogQuery,
    timeout: std::time::Duration,
) -> Result<Vec<mixpanel_access::model::AuditEvent>> {
    use mixpanel_access::api::wire::{AuditExportFormat, AuditExportStatus, CreateAuditExport};
    let filter = query.clone();
    let id = api
        .create_audit_log_export(&CreateAuditExport {
            filter,
            export_format: AuditExportFormat::Ndjson,
        })
        .await?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let list = api.list_audit_log_exports().await?;
        let error = |e: &mixpanel_access::api::wire::AuditExport| {
            e.filters
                .get("error")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        match list.iter().find(|e| e.id == id).map(|e| (e.status, error(e))) {
            Some((AuditExportStatus::Succeeded, _)) => break,
            Some((AuditExportStatus::InProgress, _)) => {}
            Some((status, error)) => {
                return Err(RotatorError::Invalid(format!(
                    "audit-log export {id} ended {status:?}{}: nothing was written; try again or page with audit export (without --via-export)",
                    error.map(|e| format!(" ({e})")).unwrap_or_default()
                )))
            }
            None => {
                return Err(RotatorError::Invalid(format!(
                    "audit-log export {id} is not in the list of exports: nothing was written"
                )))
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(RotatorError::Invalid(format!(
                "audit-log export {id} was still in progress after {}s: nothing was written; try a longer --via-export timeout",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let bytes = api.download_audit_log_export(&id).await?;
    let text = String::from_utf8(bytes)
        .map_err(|_| RotatorError::Invalid(format!("audit-log export {id} is not UTF-8")))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| {
                RotatorError::Invalid(format!(
                    "audit-log export {id}, line {}: not an audit event ({e})",
                    n + 1
                ))
            })
        })
        .collect()
}
