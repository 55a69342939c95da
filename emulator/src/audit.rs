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
    pub entity_types: &'a [String],
    pub actions: &'a [String],
    pub created_gte_micros: Option<i64>,
    pub created_lte_micros: Option<i64>,
    pub project_ids: &'a [ProjectId],
    pub exclude_actors: &'a [String],
    /// Case-insensitive text the actor or the payload contains.
    pub search: Option<&'a str>,
    /// At most this many events (and one more, which tells whether another page follows);
    /// `None`: all of them.
    pub limit: Option<usize>,
}

/// Reads the matching events, newest first (by time, then by id), Mixpanel's `AuditLog`
/// entries.
pub fn query(conn: &Connection, q: &Query<'_>) -> Result<Vec<AuditEvent>, ApiError> {
    let mut sql = String::from(
        "SELECT id, kind, created, actor, project_id, payload FROM audit_log WHERE org_id = ?",
    );
    let mut args: Vec<rusqlite::types::Value> = vec![(q.org.0 as i64).into()];
    let any_of = |sql: &mut String,
                  args: &mut Vec<rusqlite::types::Value>,
                  expr: &str,
                  values: &[String]| {
        if !values.is_empty() {
            sql.push_str(&format!(" AND {expr} IN ("));
            sql.push_str(&vec!["?"; values.len()].join(","));
            sql.push(')');
            args.extend(values.iter().map(|t| t.clone().into()));
        }
    };
    any_of(&mut sql, &mut args, "kind", q.types);
    any_of(
        &mut sql,
        &mut args,
        "substr(kind, 1, instr(kind, '.') - 1)",
        q.entity_types,
    );
    any_of(
        &mut sql,
        &mut args,
        "substr(kind, instr(kind, '.') + 1)",
        q.actions,
    );
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
    sql.push_str(" ORDER BY created DESC, id DESC");
    if let Some(limit) = q.limit {
        sql.push_str(" LIMIT ?");
        args.push(((limit + 1) as i64).into());
    }
    let org = q.org;
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
        let id: i64 = r.get(0)?;
        let kind: String = r.get(1)?;
        let actor: String = r.get(3)?;
        let project: Option<i64> = r.get(4)?;
        let payload: String = r.get(5)?;
        Ok(AuditEvent::new(
            id.to_string(),
            &kind,
            db::from_micros(r.get(2)?),
            &actor,
            Some(org),
            project.and_then(|p| u64::try_from(p).ok()).map(ProjectId),
            serde_json::from_str(&payload).unwrap_or(Value::Null),
        ))
    })?;
    let mut events = rows.collect::<Result<Vec<_>, _>>()?;
    let name = db::get_org(conn, org)?.map(|o| o.name);
    for e in &mut events {
        e.organization_name.clone_from(&name);
    }
    Ok(events)
}
