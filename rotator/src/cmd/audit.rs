//! `mixpanel-rotator audit export`: the activity log, paged or through Mixpanel's export.

use std::path::PathBuf;

use chrono::Utc;

use crate::api::Mixpanel;
use crate::app::connect_api;
use crate::config::Config;
use crate::error::{Result, RotatorError};

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
    let api = connect_api(&config).await?;
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
            |e| RotatorError::io(format!("cannot write {}", p.display()), e),
        )?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut w = EventWriter::new(opts.format, out).map_err(|e| RotatorError::io("", e))?;
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
                Err(err) => return Err(RotatorError::io("", err)),
            }
        }
        w.finish().map_err(|e| RotatorError::io("", e))?;
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
    w.finish().map_err(|e| RotatorError::io("", e))?;
    eprintln!(
        "{count} event(s) exported in {pages} page(s){}",
        opts.output
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    );
    Ok(())
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
