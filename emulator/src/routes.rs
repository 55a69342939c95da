//! The router: every route of `wire::ROUTES` behind the counting and fault gate, the
//! slash-less redirects, the admin routes, JSON 404/405, and a request log.

use std::collections::BTreeSet;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use mixpanel_access::api::wire::ROUTES;

use crate::error::error_response;
use crate::{admin, faults, handlers, AppState};

/// Builds the application.
pub fn router(state: AppState) -> Router {
    let mut app: Router<AppState> = Router::new();
    for (idx, route) in ROUTES.iter().enumerate() {
        let Some(mr) = handlers::method_router(route) else {
            tracing::error!(route = route.name, "no handler for this route");
            continue;
        };
        let gate_state = state.clone();
        let mr = mr.layer(middleware::from_fn(move |req: Request, next: Next| {
            let st = gate_state.clone();
            async move { faults::gate(st, idx, req, next).await }
        }));
        app = app.route(route.path, mr);
    }
    // Mixpanel 301-redirects the slash-less form of its organization RPC routes.
    let slashless: BTreeSet<&str> = ROUTES
        .iter()
        .filter(|r| !r.path.starts_with("/api/app") && r.path.ends_with('/'))
        .map(|r| r.path.trim_end_matches('/'))
        .collect();
    for path in slashless {
        app = app.route(path, any(redirect_to_slash));
    }
    app.nest("/_emulator", admin::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn redirect_to_slash(req: Request) -> Response {
    let uri = req.uri();
    let location = match uri.query() {
        Some(q) => format!("{}/?{q}", uri.path()),
        None => format!("{}/", uri.path()),
    };
    let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            resp.headers_mut().insert(header::LOCATION, v);
            resp
        }
        Err(_) => error_response(StatusCode::BAD_REQUEST, "invalid path"),
    }
}

async fn not_found(req: Request) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!(
            "Not found: {} {} is not a route of this API",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn method_not_allowed(req: Request) -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!(
            "Method Not Allowed: {} is not served on {}",
            req.method(),
            req.uri().path()
        ),
    )
}

/// Logs method, path, status and time of each request at debug level (never headers or
/// bodies, which carry credentials).
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let micros = start.elapsed().as_micros() as u64;
    let injected = resp.extensions().get::<faults::InjectedFault>().is_some();
    if status >= 500 && !injected {
        tracing::warn!(%method, %path, status, micros, "request");
    } else {
        tracing::debug!(%method, %path, status, micros, injected, "request");
    }
    resp
}
