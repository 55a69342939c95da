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
    AuditExport, AuditExportCreated, AuditExportFormat, AuditExportPage, AuditExportStatus,
    AuditLogPage, AuditLogQuery, CreateAuditExport, Pagination,
};
use mixpanel_access::audit::EventWriter;
use mixpanel_access::model::{OrgId, ProjectId, ProjectRole};
use mixpanel_access::permissions::{require_org, Capability};
use rusqlite::{params, OptionalExtension};

use crate::access;
use crate::audit;
use crate::auth::Actor;
use crate::db;
use crate::error::{json_response, ok_with, ApiError, ApiResult};
use crate::extract::{decode_body, Params};
use crate::AppState;

/// Entries per page (Mixpanel's filter takes no page size; the emulator's is set with
/// `POST /_emulator/settings {"audit_page_size": n}`).
pub const DEFAULT_PAGE_SIZE: usize = 1000;

fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("audit:{id}"))
}

fn parse_query(body: &Bytes) -> Result<AuditLogQuery, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        Ok(AuditLogQuery::default())
    } else {
        decode_body(body)
    }
}

/// The project ids of a filter: strings of digits, as Mixpanel types them.
fn project_ids(q: &AuditLogQuery) -> Result<Vec<ProjectId>, ApiError> {
    q.project_ids
        .iter()
        .map(|p| {
            p.trim().parse().map(ProjectId).map_err(|_| {
                ApiError::bad_request(format!("project_ids: {p:?} is not a project id"))
            })
        })
        .collect()
}

/// The events matching `q` (restricted to `project` when given), at most `limit`.
fn matching(
    st: &AppState,
    org: OrgId,
    project: Option<ProjectId>,
    q: &AuditLogQuery,
    limit: Option<usize>,
) -> Result<Vec<mixpanel_access::model::AuditEvent>, ApiError> {
    let asked = project_ids(q)?;
    let projects: Vec<ProjectId> = match project {
        Some(p) => {
            if !asked.is_empty() && !asked.contains(&p) {
                return Err(ApiError::bad_request(format!(
                    "project_ids: this is the audit log of project {p}; leave project_ids out or name only {p}"
                )));
            }
            vec![p]
        }
        None => asked,
    };
    st.db.read(|c| {
        audit::query(
            c,
            &audit::Query {
                org,
                types: &q.types,
                entity_types: &q.entity_types,
                actions: &q.actions,
                created_gte_micros: q.created_gte.map(|t| t.timestamp_micros()),
                created_lte_micros: q.created_lte.map(|t| t.timestamp_micros()),
                project_ids: &projects,
                exclude_actors: &q.exclude_user_emails,
                search: q.search.as_deref(),
                limit,
            },
        )
    })
}

/// One page of events matching `q`: the newest; `next_cursor` set when more match.
fn page(
    st: &AppState,
    org: OrgId,
    project: Option<ProjectId>,
    q: &AuditLogQuery,
) -> Result<AuditLogPage, ApiError> {
    let limit = st.audit_page_size();
    let mut events = matching(st, org, project, q, Some(limit))?;
    let next_cursor = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|e| encode_cursor(&e.id))
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
    for e in matching(st, org, None, filter, None)? {
        w.write(&e).map_err(|e| ApiError::internal(e.to_string()))?;
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
    // The filter plus `export_format` (csv when left out or null, as upstream); the filter is
    // read on its own so that a field Mixpanel refuses is refused here too (a flattened
    // struct cannot deny unknown fields).
    let mut value = crate::extract::parse_json_value(&body)?;
    let format = value
        .as_object_mut()
        .and_then(|o| o.remove("export_format"))
        .filter(|f| !f.is_null())
        .unwrap_or_else(|| serde_json::json!("csv"));
    let req = CreateAuditExport {
        export_format: crate::extract::decode_value(format)
            .map_err(|e| ApiError::bad_request(format!("export_format: {}", e.message)))?,
        filter: crate::extract::decode_value(value)?,
    };
    require_org(Some(actor.org_role()), Capability::ViewAuditLog)?;
    project_ids(&req.filter)?;
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
            export_id: export_uuid(id),
        },
    ))
}

/// An export's id as Mixpanel writes it (a UUID, `AuditLogExportItem.id`), made from its row.
fn export_uuid(row: i64) -> String {
    format!("00000000-0000-4000-8000-{:012x}", row)
}

/// The row of an export id [`export_uuid`] made; `None` for anything else.
fn export_row(id: &str) -> Option<i64> {
    let hex = id.strip_prefix("00000000-0000-4000-8000-")?;
    if hex.len() != 12 {
        return None;
    }
    i64::from_str_radix(hex, 16).ok()
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
            "SELECT id, format, status, created, error, filter FROM audit_exports WHERE org_id = ?1 ORDER BY id DESC",
        )?;
        let rows = stmt.query_map(params![org.0 as i64], |r| {
            let id: i64 = r.get(0)?;
            let format: String = r.get(1)?;
            let status: String = r.get(2)?;
            let filter: String = r.get(5)?;
            let mut filters: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&filter).unwrap_or_default();
            filters.insert("export_format".into(), format.into());
            Ok(AuditExport {
                id: export_uuid(id),
                status: status_of(&status),
                created: db::from_micros(r.get(3)?),
                organization_id: Some(org),
                project_id: None,
                filters,
                ttl_timestamp: None,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })?;
    Ok(json_response(
        StatusCode::OK,
        &AuditExportPage {
            status: "ok".into(),
            results: out,
            pagination: Pagination::default(),
        },
    ))
}

pub async fn download_export(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, export)): Params<(u64, String)>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ViewAuditLog)?;
    let not_found = || ApiError::not_found(format!("Export {export} not found"));
    let id = export_row(&export).ok_or_else(not_found)?;
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
