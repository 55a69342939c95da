//! `POST /api/app/organizations/{org}/audit-logs`: newest first, filtered, cursor-paged.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mixpanel_access::api::wire::{AuditLogPage, AuditLogQuery, Pagination};
use mixpanel_access::permissions::{require_org, Capability};

use crate::audit;
use crate::auth::Actor;
use crate::error::{json_response, ApiError, ApiResult};
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

pub async fn query(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    body: Bytes,
) -> ApiResult {
    let org = actor.check_org(org)?;
    let q: AuditLogQuery = if body.iter().all(|b| b.is_ascii_whitespace()) {
        AuditLogQuery::default()
    } else {
        decode_body(&body)?
    };
    require_org(Some(actor.org_role()), Capability::ViewAuditLog)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit: must be between 1 and {MAX_LIMIT}"
        )));
    }
    let before_id = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let limit = limit as usize;
    let mut events = st.db.read(|c| {
        audit::query(
            c,
            &audit::Query {
                org,
                types: &q.types,
                created_gte_micros: q.created_gte.map(|t| t.timestamp_micros()),
                project_ids: &q.project_ids,
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
    let page = AuditLogPage {
        status: "ok".into(),
        results: events,
        pagination: Pagination {
            next_cursor,
            previous_cursor: None,
        },
    };
    Ok(json_response(StatusCode::OK, &page))
}
