//! `mixpanel-rotator review`: the quarterly access review on `mixpanel_access::governance`,
//! and the daemon's review schedule.

use std::path::{Path, PathBuf};

use chrono::{Datelike, Utc};
use mixpanel_access::governance::report::{render, ReportFormat};
use mixpanel_access::governance::{self, Review, Severity};
use mixpanel_access::vault::VaultStore;

use crate::api::Mixpanel;
use crate::app::{connect_api, connect_store, out, out_line, snapshot};
use crate::config::Config;
use crate::error::{Result, RotatorError};

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
        .map_err(|e| RotatorError::io(format!("cannot create {}", dir.display()), e))?;
    let stamp = review.taken_at.format("%Y-%m-%dT%H%M%SZ");
    let mut out = Vec::new();
    for f in formats {
        let text = render(review, *f).map_err(RotatorError::Io)?;
        let path = dir.join(format!("access-review-{stamp}.{}", f.extension()));
        std::fs::write(&path, text)
            .map_err(|e| RotatorError::io(format!("cannot write {}", path.display()), e))?;
        out.push(path);
    }
    Ok(out)
}

/// `review`.
pub async fn review_cmd(config: Config, opts: ReviewOptions) -> Result<()> {
    let store = connect_store(&config).await?;
    let api = connect_api(&config).await?;
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
                out_line(&p.display().to_string());
            }
        }
        None => {
            let format = opts.formats.first().copied().unwrap_or(ReportFormat::Md);
            out(&render(&review, format).map_err(RotatorError::Io)?);
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
            return Err(RotatorError::Attention(format!(
                "{failing} finding(s) at severity {threshold} or above (--fail-on {threshold})"
            )));
        }
    }
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
/// of the last one is kept in Vault and moves only once its report is written, so a restart
/// does not review again early and a failed review is not taken for one; a new leader
/// computes the gauges once without writing a report. A review that fails (Mixpanel's reads,
/// the report, Vault) is counted in `mixpanel_rotator_review_failures_total`, logged, and tried
/// again with the backoff of [`crate::policy::review_backoff`] (growing, capped) while this
/// replica leads.
pub async fn review_schedule(
    config: Config,
    store: VaultStore,
    api: Mixpanel,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use backon::Retryable;
    let interval = config.governance.review_interval;
    if interval.is_zero() {
        return;
    }
    let name = format!("{}/review", crate::inventory::GOVERNANCE_SEGMENT);
    let mut gauges_set = false;
    loop {
        if metrics.is_leader() {
            let gauges = gauges_set;
            let attempt =
                || review_if_due(&config, &store, &api, &metrics, &name, interval, gauges);
            let retried = attempt
                .retry(crate::policy::review_backoff(interval))
                .sleep(tokio::time::sleep)
                .when(|_| metrics.is_leader() && !shutdown.is_cancelled())
                .notify(|e: &RotatorError, d: std::time::Duration| {
                    metrics.review_failed();
                    tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "scheduled access review failed; backing off");
                });
            let result = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = retried => r,
            };
            match result {
                Ok(true) => gauges_set = true,
                Ok(false) => {}
                Err(e) => {
                    // The last try, made as this replica stopped leading.
                    metrics.review_failed();
                    tracing::warn!(error = %e, "scheduled access review failed; the next leader tries again");
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
    if let Some((s, _)) = &prev {
        metrics.review_written(s.last);
    }
    let due = prev.as_ref().is_none_or(|(s, _)| {
        s.last + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX) <= Utc::now()
    });
    if !due && gauges_set {
        return Ok(false);
    }
    let snap = snapshot(config, store, api).await?;
    let review = governance::review(&snap, &config.governance.policy());
    if !due {
        metrics.review_findings(&review);
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
    // The report is written and recorded: only now do the gauges and the timestamp move.
    metrics.review_findings(&review);
    metrics.review_written(record.last);
    tracing::info!(
        findings = review.findings.len(),
        reports = %record.reports.join(", "),
        "scheduled access review written"
    );
    Ok(true)
}
