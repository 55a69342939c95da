//! `mixpanel-rotator once [--wait] [--dry-run]`: one reconcile pass for cron.

use std::sync::Arc;

use chrono::Utc;
use mixpanel_access::inventory::{CredentialKind, CredentialStatus};
use mixpanel_access::vault::Phase;

use crate::app::{connect_api, connect_store, make_engine, out, shutdown_on_signals};
use crate::config::Config;
use crate::election::Elector;
use crate::error::Result;
use crate::inventory;
use crate::metrics::Metrics;
use crate::table;
use crate::triggers::Scheduler;

/// `once --dry-run`: what a pass would do, from the inventory and the journals (read only).
pub async fn once_dry_run(config: Config) -> Result<()> {
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

pub async fn once(config: Config, wait: bool) -> Result<()> {
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
