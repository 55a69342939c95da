//! The audit log: one event per affected object, written in the same transaction as the change.

use mixpanel_access::model::{AuditEvent, OrgId, ProjectId};
use rusqlite::{params, Connection};
use serde_json::Value;

use crate::db;
use crate::error::ApiError;

/// Event types: `mixpanel_access::model::audit_event`, shared with the client's users.
pub use mixpanel_access::model::audit_event as kind;

/// Records one event. The payload must never carry a secret.
pub fn record(
    conn: &Connection,
    org: OrgId,
    actor: &str,
    kind: &str,
    project: Option<ProjectId>,
    payload: Value,
) -> Result<(), ApiError> {
    record_at(conn, org, actor, kind, project, payload, db::now())
}

/// Records one event at a given time (the admin API's simulated logins).
pub fn record_at(
    conn: &Connection,
    org: OrgId,
    actor: &str,
    kind: &str,
    project: Option<ProjectId>,
    payload: Value,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let created = at.timestamp_micros();
    conn.prepare_cached(
        "INSERT INTO audit_log (org_id, kind, created, actor, project_id, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        org.0 as i64,
        kind,
        created,
        actor,
        project.map(|p| p.0 as i64),
        payload.to_string(),
    ])?;
    Ok(())
}

/// A filter over the audit log of one organization, newest first.
pub struct Query<'a> {
    pub org: OrgId,
    pub types: &'a [String],
    pub created_gte_micros: Option<i64>,
    pub created_lte_micros: Option<i64>,
    pub project_ids: &'a [ProjectId],
    pub exclude_actors: &'a [String],
    /// Case-insensitive text the actor or the payload contains.
    pub search: Option<&'a str>,
    /// Only events with an id below this one (the cursor).
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// Reads up to `limit + 1` events (the extra one tells whether another page follows).
pub fn query(conn: &Connection, q: &Query<'_>) -> Result<Vec<AuditEvent>, ApiError> {
    let mut sql = String::from(
        "SELECT id, kind, created, actor, project_id, payload FROM audit_log WHERE org_id = ?",
    );
    let mut args: Vec<rusqlite::types::Value> = vec![(q.org.0 as i64).into()];
    if !q.types.is_empty() {
        sql.push_str(" AND kind IN (");
        sql.push_str(&vec!["?"; q.types.len()].join(","));
        sql.push(')');
        args.extend(q.types.iter().map(|t| t.clone().into()));
    }
    if !q.project_ids.is_empty() {
        sql.push_str(" AND project_id IN (");
        sql.push_str(&vec!["?"; q.project_ids.len()].join(","));
        sql.push(')');
        args.extend(q.project_ids.iter().map(|p| (p.0 as i64).into()));
    }
    if let Some(t) = q.created_gte_micros {
        sql.push_str(" AND created >= ?");
        args.push(t.into());
    }
    if let Some(t) = q.created_lte_micros {
        sql.push_str(" AND created <= ?");
        args.push(t.into());
    }
    if !q.exclude_actors.is_empty() {
        sql.push_str(" AND lower(actor) NOT IN (");
        sql.push_str(&vec!["?"; q.exclude_actors.len()].join(","));
        sql.push(')');
        args.extend(q.exclude_actors.iter().map(|a| a.to_lowercase().into()));
    }
    if let Some(text) = q.search.filter(|t| !t.is_empty()) {
        // instr, not LIKE: the text is matched literally, `%` and `_` included.
        sql.push_str(" AND (instr(lower(actor), ?) > 0 OR instr(lower(payload), ?) > 0)");
        let t = text.to_lowercase();
        args.push(t.clone().into());
        args.push(t.into());
    }
    if let Some(b) = q.before_id {
        sql.push_str(" AND id < ?");
        args.push(b.into());
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(((q.limit + 1) as i64).into());
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
        let id: i64 = r.get(0)?;
        let project: Option<i64> = r.get(4)?;
        let payload: String = r.get(5)?;
        Ok(AuditEvent {
            id: u64::try_from(id).unwrap_or(0),
            kind: r.get(1)?,
            created: db::from_micros(r.get(2)?),
            actor: r.get(3)?,
            project_id: project.and_then(|p| u64::try_from(p).ok()).map(ProjectId),
            payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
