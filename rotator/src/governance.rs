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
