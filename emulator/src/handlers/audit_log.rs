//! The audit log: `POST /api/app/organizations/{org}/audit-logs` and the project variant
//! (newest first, filtered, cursor-paged), and the asynchronous exports
//! (`POST …/audit-logs/exports` → 201 `{export_id}`, the list with each export's status, and
//! `GET …/exports/{id}/download` with the CSV or NDJSON file).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mixpanel_access::api::wire::{
    AuditExport, AuditExportCreated, AuditExportFormat, AuditExportStatus, AuditLogPage,
    AuditLogQuery, CreateAuditExport, Pagination,
};
use mixpanel_access::audit::EventWriter;
use mixpanel_access::model::{OrgId, ProjectId, ProjectRole};
use mixpanel_access::permissions::{require_org, Capability};
use rusqlite::{params, OptionalExtension};

use crate::access;
use crate::audit;
use crate::auth::Actor;
use crate::db;
use crate::error::{json_response, ok, ok_with, ApiError, ApiResult};
use crate::extract::{decode_body, Params};
use crate::AppState;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

fn encode_cursor(id: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("audit:{id}"))
}

fn decode_cursor(c: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::bad_request("cursor: not a cursor this server returned");
    let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    s.strip_prefix("audit:")
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(bad)
}

fn parse_query(body: &Bytes) -> Result<AuditLogQuery, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        Ok(AuditLogQuery::default())
    } else {
        decode_body(body)
    }
}

/// One page of events matching `q` (restricted to `project` when given).
fn page(
    st: &AppState,
    org: OrgId,
    project: Option<ProjectId>,
    q: &AuditLogQuery,
) -> Result<AuditLogPage, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit: must be between 1 and {MAX_LIMIT}"
        )));
    }
    let before_id = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let limit = limit as usize;
    let projects: Vec<ProjectId> = match project {
        Some(p) => {
            if !q.project_ids.is_empty() && !q.project_ids.contains(&p) {
                return Err(ApiError::bad_request(format!(
                    "project_ids: this is the audit log of project {p}; leave project_ids out or name only {p}"
                )));
            }
            vec![p]
        }
        None => q.project_ids.clone(),
    };
    let mut events = st.db.read(|c| {
        audit::query(
            c,
            &audit::Query {
                org,
                types: &q.types,
                created_gte_micros: q.created_gte.map(|t| t.timestamp_micros()),
                created_lte_micros: q.created_lte.map(|t| t.timestamp_micros()),
                project_ids: &projects,
                exclude_actors: &q.exclude_user_emails,
                search: q.search.as_deref(),
                before_id,
                limit,
            },
        )
    })?;
    let next_cursor = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|e| encode_cursor(e.id))
    } else {
        None
    };
    Ok(AuditLogPage {
        status: "ok".into(),
        results: events,
        pagination: Pagination {
            next_cursor,
            previous_cursor: None,
        },
    })
}

pub async fn query(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    body: Bytes,
) -> ApiResult {
    let org = actor.check_org(org)?;
    let q = parse_query(&body)?;
    require_org(Some(actor.org_role()), Capability::ViewAuditLog)?;
    let page = page(&st, org, None, &q)?;
    Ok(json_response(StatusCode::OK, &page))
}

/// The project's audit log: for the organization's owners and admins and the project's own
/// owners and admins.
pub async fn query_project(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
    body: Bytes,
) -> ApiResult {
    let q = parse_query(&body)?;
    let project = ProjectId(project);
    let role = st.db.read(|c| {
        let p = access::project_of_actor(c, &actor, project)?;
        access::actor_role(c, &actor, &p)
    })?;
    if require_org(Some(actor.org_role()), Capability::ViewAuditLog).is_err()
        && !matches!(role, Some(ProjectRole::Owner | ProjectRole::Admin))
    {
        return Err(ApiError::forbidden(format!(
            "User does not have permission to read the audit log of project {project}: it needs the organization role owner or admin, or the project role owner or admin"
        )));
    }
    let page = page(&st, actor.org_id, Some(project), &q)?;
    Ok(json_response(StatusCode::OK, &page))
}

// ----- exports -----

/// Every event matching the filter, streamed into the export's file.
fn render_export(
    st: &AppState,
    org: OrgId,
    filter: &AuditLogQuery,
    format: AuditExportFormat,
) -> Result<Vec<u8>, ApiError> {
    let mut w =
        EventWriter::new(format, Vec::new()).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut q = filter.clone();
    q.limit = Some(MAX_LIMIT);
    q.cursor = None;
    loop {
        let p = page(st, org, None, &q)?;
        for e in &p.results {
            w.write(e).map_err(|e| ApiError::internal(e.to_string()))?;
        }
        match p.pagination.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    w.finish().map_err(|e| ApiError::internal(e.to_string()))
}

pub async fn create_export(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    body: Bytes,
) -> ApiResult {
    let org = actor.check_org(org)?;
    let req: CreateAuditExport = decode_body(&body)?;
    require_org(Some(actor.org_role()), Capability::ViewAuditLog)?;
    if req.filter.cursor.is_some() || req.filter.limit.is_some() {
        return Err(ApiError::bad_request(
            "cursor, limit: an export holds every matching event; leave them out",
        ));
    }
    let filter = serde_json::to_string(&req.filter)
        .map_err(|e| ApiError::internal(format!("filter: {e}")))?;
    let id = st.db.write(|tx| {
        tx.prepare_cached(
            "INSERT INTO audit_exports (org_id, format, status, created, filter) VALUES (?1, ?2, 'IN_PROGRESS', ?3, ?4)",
        )?
        .execute(params![
            org.0 as i64,
            req.export_format.as_str(),
            db::now().timestamp_micros(),
            filter
        ])?;
        Ok(tx.last_insert_rowid())
    })?;
    // The file is written after the answer, as Mixpanel's exports are: the caller polls the
    // list until the status is SUCCEEDED (or FAILED).
    let bg = st.clone();
    let (format, filter) = (req.export_format, req.filter);
    tokio::spawn(async move {
        let outcome = render_export(&bg, org, &filter, format);
        let written = bg.db.write(|tx| {
            match &outcome {
                Ok(bytes) => tx
                    .prepare_cached(
                        "UPDATE audit_exports SET status = 'SUCCEEDED', content = ?1 WHERE id = ?2",
                    )?
                    .execute(params![bytes, id])?,
                Err(e) => tx
                    .prepare_cached(
                        "UPDATE audit_exports SET status = 'FAILED', error = ?1 WHERE id = ?2",
                    )?
                    .execute(params![e.to_string(), id])?,
            };
            Ok(())
        });
        if let Err(e) = written {
            tracing::warn!(export = id, error = %e, "could not store an audit-log export");
        }
    });
    Ok(ok_with(
        StatusCode::CREATED,
        &AuditExportCreated {
            export_id: id.to_string(),
        },
    ))
}

fn status_of(s: &str) -> AuditExportStatus {
    match s {
        "SUCCEEDED" => AuditExportStatus::Succeeded,
        "FAILED" => AuditExportStatus::Failed,
        "CANCELED" => AuditExportStatus::Canceled,
        _ => AuditExportStatus::InProgress,
    }
}

pub async fn list_exports(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ViewAuditLog)?;
    let out = st.db.read(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT id, format, status, created, error FROM audit_exports WHERE org_id = ?1 ORDER BY id DESC",
        )?;
        let rows = stmt.query_map(params![org.0 as i64], |r| {
            let id: i64 = r.get(0)?;
            let format: String = r.get(1)?;
            let status: String = r.get(2)?;
            Ok(AuditExport {
                export_id: id.to_string(),
                status: status_of(&status),
                export_format: format.parse().unwrap_or(AuditExportFormat::Csv),
                created: db::from_micros(r.get(3)?),
                error: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })?;
    Ok(ok(&out))
}

pub async fn download_export(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, export)): Params<(u64, String)>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ViewAuditLog)?;
    let not_found = || ApiError::not_found(format!("Export {export} not found"));
    let id: i64 = export.parse().map_err(|_| not_found())?;
    let row: Option<(String, String, Option<Vec<u8>>)> = st.db.read(|c| {
        Ok(c.prepare_cached(
            "SELECT format, status, content FROM audit_exports WHERE id = ?1 AND org_id = ?2",
        )?
        .query_row(params![id, org.0 as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?)
    })?;
    let (format, status, content) = row.ok_or_else(not_found)?;
    let content = match (status.as_str(), content) {
        ("SUCCEEDED", Some(c)) => c,
        _ => {
            return Err(ApiError::conflict(format!(
                "Export {export} is {status}: download it once the list shows SUCCEEDED"
            )))
        }
    };
    let mut resp = Response::new(Body::from(content));
    let media = if format == "ndjson" {
        "application/x-ndjson"
    } else {
        "text/csv; charset=utf-8"
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    Ok(resp)
}
