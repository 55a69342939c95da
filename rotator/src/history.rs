//! `mixpanel-rotator history`: every rotation the journals' stored versions remember
//! (credential, trigger, reason, who asked, old and new account, times, outcome), as CSV or
//! JSON. Vault keeps the last 20 versions of each journal, about three rotations of a service
//! account; older rotations are in the audit log and in the versions of `creds/<name>`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mixpanel_access::inventory::csv_safe;
use mixpanel_access::vault::{Journal, Phase, VaultStore};
use serde::Serialize;

use crate::error::{Result, RotatorError};
use crate::inventory;

/// One rotation.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub credential: String,
    pub rotation_id: String,
    pub trigger: String,
    pub reason: Option<String>,
    pub requested_by: Option<String>,
    pub old_account: Option<String>,
    pub old_sa_id: Option<u64>,
    pub new_account: Option<String>,
    pub new_sa_id: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub promoted_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `done`, `needs_human`, or `open (<phase>)`.
    pub outcome: String,
    pub last_error: Option<String>,
}

const COLUMNS: &[&str] = &[
    "credential",
    "rotation_id",
    "trigger",
    "reason",
    "requested_by",
    "old_account",
    "old_sa_id",
    "new_account",
    "new_sa_id",
    "started_at",
    "promoted_at",
    "finished_at",
    "outcome",
    "last_error",
];

fn row(name: &str, j: &Journal) -> HistoryRow {
    HistoryRow {
        credential: name.to_string(),
        rotation_id: j.rotation_id.clone(),
        trigger: j.trigger.to_string(),
        reason: j.reason.clone(),
        requested_by: j.requested_by.clone(),
        old_account: j.old_username.as_ref().map(|u| u.to_string()),
        old_sa_id: j.old_sa_id.map(|i| i.0),
        new_account: j
            .new_full_username
            .as_ref()
            .map(|u| u.to_string())
            .or_else(|| j.new_username.clone()),
        new_sa_id: j.new_sa_id.map(|i| i.0),
        started_at: j.started_at,
        promoted_at: j.promoted_at,
        finished_at: j.finished_at,
        outcome: match j.phase {
            Phase::Done => "done".into(),
            Phase::NeedsHuman => "needs_human".into(),
            p => format!("open ({p})"),
        },
        last_error: j.last_error.clone(),
    }
}

/// The rotations of the given credentials (all journals when empty), oldest first.
pub async fn collect(store: &VaultStore, names: &[String]) -> Result<Vec<HistoryRow>> {
    let names: Vec<String> = if names.is_empty() {
        store
            .list_journals()
            .await?
            .into_iter()
            .filter(|n| !inventory::is_reserved(n))
            .collect()
    } else {
        for n in names {
            inventory::check_name(n)?;
        }
        names.to_vec()
    };
    let mut rows = Vec::new();
    for name in names {
        // The last version of each rotation id is its latest state.
        let mut latest: BTreeMap<String, (u64, Journal)> = BTreeMap::new();
        for (v, j) in store.journal_history(&name).await? {
            latest.insert(j.rotation_id.clone(), (v, j));
        }
        let mut versions: Vec<(u64, Journal)> = latest.into_values().collect();
        versions.sort_by_key(|(v, _)| *v);
        rows.extend(versions.iter().map(|(_, j)| row(&name, j)));
    }
    rows.sort_by(|a, b| {
        a.started_at
            .cmp(&b.started_at)
            .then(a.credential.cmp(&b.credential))
    });
    Ok(rows)
}

fn csv_cell(s: &str) -> String {
    let s = csv_safe(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// The rows as CSV with a header (formula cells neutralized).
pub fn to_csv(rows: &[HistoryRow]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    let t = |d: Option<DateTime<Utc>>| d.map(inventory::stamp).unwrap_or_default();
    for r in rows {
        let cells = [
            r.credential.clone(),
            r.rotation_id.clone(),
            r.trigger.clone(),
            r.reason.clone().unwrap_or_default(),
            r.requested_by.clone().unwrap_or_default(),
            r.old_account.clone().unwrap_or_default(),
            r.old_sa_id.map(|i| i.to_string()).unwrap_or_default(),
            r.new_account.clone().unwrap_or_default(),
            r.new_sa_id.map(|i| i.to_string()).unwrap_or_default(),
            inventory::stamp(r.started_at),
            t(r.promoted_at),
            t(r.finished_at),
            r.outcome.clone(),
            r.last_error.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// The rows in the requested format (`csv` or `json`).
pub fn render(rows: &[HistoryRow], format: &str) -> Result<String> {
    match format {
        "csv" => Ok(to_csv(rows)),
        "json" => serde_json::to_string_pretty(rows)
            .map(|s| s + "\n")
            .map_err(|e| RotatorError::io("cannot encode the history", e)),
        other => Err(RotatorError::Invalid(format!(
            "--format: \"{other}\" is not csv or json"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_neutralizes() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
