//! The HTTP port (every replica, leader or not):
//!
//! - `GET /healthz`: the process is alive.
//! - `GET /readyz`: Vault answers (unsealed) and Mixpanel accepts the rotator's credentials
//!   (checked at most every 10 s); 503 with the failing part otherwise.
//! - `GET /metrics`: Prometheus text ([`crate::metrics`]).
//! - `POST /rotate` with `Authorization: Bearer <http.token>` and
//!   `{"name": "...", "reason": "...", "overlap": "0s", "incident": true, "requested_by": "..."}`:
//!   on the leader the rotation is journaled at once (or joins the open one); on a follower the
//!   request is left in the entry's metadata for the leader. 202 either way.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mixpanel_access::inventory::parse_duration;
use mixpanel_access::vault::{Trigger, VaultStore};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::api::Mixpanel;
use crate::election::Leadership;
use crate::engine::Requested;
use crate::error::{Result, RotatorError};
use crate::inventory::{self, RotationRequest};
use crate::metrics::Metrics;
use crate::triggers::Scheduler;

/// What the handlers share.
pub struct HttpState {
    pub store: VaultStore,
    pub api: Mixpanel,
    pub metrics: Arc<Metrics>,
    pub scheduler: Arc<Scheduler>,
    pub leader: watch::Receiver<Option<Leadership>>,
    pub holder: String,
    pub token: Option<SecretString>,
    /// Why the replica cannot read or write its lease, if it cannot.
    pub lease_error: watch::Receiver<Option<String>>,
    ready: Mutex<Option<(Instant, std::result::Result<(), String>)>>,
}

impl HttpState {
    pub fn new(
        store: VaultStore,
        api: Mixpanel,
        metrics: Arc<Metrics>,
        scheduler: Arc<Scheduler>,
        elector: &crate::election::Elector,
        holder: String,
        token: Option<SecretString>,
    ) -> Arc<HttpState> {
        let leader = elector.subscribe();
        let lease_error = elector.lease_health();
        Arc::new(HttpState {
            store,
            api,
            metrics,
            scheduler,
            leader,
            holder,
            token,
            lease_error,
            ready: Mutex::new(None),
        })
    }
}

/// The router.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/rotate", post(rotate))
        .with_state(state)
}

/// Serves until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    shutdown: CancellationToken,
) -> Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| RotatorError::io("HTTP server", e))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"status": "error", "error": message.into()})),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(st): State<Arc<HttpState>>) -> Response {
    // First what the elector knows at once (a lease that cannot be read, written or renewed):
    // not cached, and asked before anything that could wait on a hung Vault.
    let lease_error = st.lease_error.borrow().clone();
    if let Some(why) = lease_error {
        return error(StatusCode::SERVICE_UNAVAILABLE, why);
    }
    let cached = st
        .ready
        .lock()
        .ok()
        .and_then(|c| c.clone())
        .filter(|(at, _)| at.elapsed() < Duration::from_secs(10));
    let result = match cached {
        Some((_, r)) => r,
        None => {
            let r = check_ready(&st).await;
            if let Ok(mut c) = st.ready.lock() {
                *c = Some((Instant::now(), r.clone()));
            }
            r
        }
    };
    let leader = st.leader.borrow().is_some();
    match result {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "vault": "ok", "mixpanel": "ok", "leader": leader})),
        )
            .into_response(),
        Err(why) => error(StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

async fn check_ready(st: &HttpState) -> std::result::Result<(), String> {
    match st.store.health().await {
        Ok(h) if h.sealed => return Err("vault: sealed".into()),
        Ok(_) => {}
        Err(e) => return Err(format!("vault: {e}")),
    }
    let r = match tokio::time::timeout(Duration::from_secs(10), st.api.me()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("mixpanel: {e}")),
        Err(_) => Err("mixpanel: no answer within 10s".into()),
    };
    st.metrics.mixpanel_reached(r.is_ok());
    r
}

/// Whether Mixpanel answers the rotator's credentials (a list of the organization's
/// projects, at most 10 s; not `/api/app/me`, which Mixpanel may count as a use), recorded in
/// the `mixpanel_up` gauges.
pub async fn probe_mixpanel(api: &Mixpanel, metrics: &Metrics) -> bool {
    let ok = matches!(
        tokio::time::timeout(Duration::from_secs(10), api.list_projects()).await,
        Ok(Ok(_))
    );
    metrics.mixpanel_reached(ok);
    ok
}

async fn metrics(State(st): State<Arc<HttpState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        st.metrics.render(),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    name: String,
    reason: String,
    #[serde(default)]
    overlap: Option<String>,
    #[serde(default)]
    incident: bool,
    #[serde(default)]
    requested_by: Option<String>,
    /// Rotate even where the entry's rotate_on does not name this trigger.
    #[serde(default)]
    force: bool,
}

/// Compares two byte strings in time independent of where they differ.
fn same_token(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn rotate(State(st): State<Arc<HttpState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(expected) = &st.token else {
        return error(
            StatusCode::FORBIDDEN,
            "POST /rotate is disabled: set http.token (MIXPANEL_ROTATOR_HTTP_TOKEN) to enable it",
        );
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if same_token(t.as_bytes(), expected.expose_secret().as_bytes()) => {}
        _ => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                Json(json!({"status": "error", "error": "a valid bearer token is required"})),
            )
                .into_response()
        }
    }
    let req: RotateBody = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid body ({e}): send {{\"name\": \"...\", \"reason\": \"...\", \"overlap\": \"0s\"}}"),
            )
        }
    };
    if let Err(e) = inventory::check_name(&req.name) {
        return error(StatusCode::BAD_REQUEST, e.to_string());
    }
    if req.reason.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "reason must not be empty");
    }
    let overlap = match req.overlap.as_deref().map(parse_duration).transpose() {
        Ok(o) => o,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("overlap: {e}")),
    };
    let incident = req.incident || overlap.is_some_and(|o| o.is_zero());
    let mut request = RotationRequest::new(
        if incident {
            Trigger::Incident
        } else {
            Trigger::Manual
        },
        Some(req.reason.clone()),
        overlap.or(if req.incident {
            Some(Duration::ZERO)
        } else {
            None
        }),
    );
    request.requested_by = Some(req.requested_by.unwrap_or_else(|| "http".into()));
    request.force = req.force;
    let lead = st.leader.borrow().clone();
    match lead {
        Some(lead) => match st.scheduler.submit(&req.name, &request, &lead).await {
            Ok(res) => {
                let (kind, rid) = match &res {
                    Requested::Started { rotation_id } => ("started", Some(rotation_id.clone())),
                    Requested::Joined { rotation_id } => ("joined", Some(rotation_id.clone())),
                    Requested::Resumed { rotation_id } => ("resumed", Some(rotation_id.clone())),
                    Requested::Blocked { rotation_id } => ("blocked", Some(rotation_id.clone())),
                    Requested::Mirrored { .. } => ("manual_rotation_required", None),
                };
                (
                    StatusCode::ACCEPTED,
                    Json(json!({"status": "accepted", "result": kind, "rotation_id": rid, "leader": st.holder})),
                )
                    .into_response()
            }
            Err(RotatorError::UnknownCredential(n)) => error(
                StatusCode::NOT_FOUND,
                format!("credential {n} is not in the inventory"),
            ),
            // Permanent: asking again does not help (a refused trigger or overlap, an invalid
            // entry, the rotator's own account).
            Err(e @ (RotatorError::Invalid(_) | RotatorError::Inventory(_))) => {
                error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        },
        None => {
            match inventory::load_one(&st.store, &req.name).await {
                Ok(Some(r)) => match &r.entry {
                    Ok(e) => {
                        if let Err(err) = inventory::check_request(e, &request) {
                            return error(StatusCode::UNPROCESSABLE_ENTITY, err.to_string());
                        }
                    }
                    Err(err) => return error(StatusCode::UNPROCESSABLE_ENTITY, err.to_string()),
                },
                Ok(None) => {
                    return error(
                        StatusCode::NOT_FOUND,
                        format!("credential {} is not in the inventory", req.name),
                    )
                }
                Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            }
            match inventory::leave_request(&st.store, &req.name, &request).await {
                Ok(()) => {
                    let leader = crate::election::leader(&st.store)
                        .await
                        .ok()
                        .flatten()
                        .map(|(h, _)| h);
                    (
                        StatusCode::ACCEPTED,
                        Json(json!({"status": "queued", "result": "queued", "leader": leader})),
                    )
                        .into_response()
                }
                Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            }
        }
    }
}
