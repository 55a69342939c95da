//! Fault injection and request counters for every API route (never for `/_emulator/`).
//!
//! Faults fire before the handler runs, so a faulted request changes nothing, unless
//! `error_after_commit` is set: then an injected error replaces the answer of a handler that
//! ran, so the change is stored but the client never learns it (as when a gateway times out
//! after the write); `rate_limit_after_commit` does the same for injected 429s. Counters count every API request by route name and method, faulted ones
//! included.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use mixpanel_access::api::wire::{RouteStatus, ROUTES};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{error_response, ApiError};
use crate::AppState;

/// The fault configuration, as `PUT /_emulator/faults` takes and `GET` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// Share of requests (0..=1) answered with `error_status`.
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default = "default_error_status")]
    pub error_status: u16,
    /// Injected errors replace the answer after the handler ran (the change is kept).
    #[serde(default)]
    pub error_after_commit: bool,
    /// Added to every request of the selected routes before anything else.
    #[serde(default)]
    pub latency_ms: u64,
    /// Share of requests (0..=1) answered 429 with `Retry-After`.
    #[serde(default)]
    pub rate_limit_rate: f64,
    #[serde(default = "default_retry_after")]
    pub retry_after_secs: u64,
    /// Injected 429s replace the answer after the handler ran (the change is kept), as a
    /// gateway that rate-limits the answer of a request it already forwarded.
    #[serde(default)]
    pub rate_limit_after_commit: bool,
    /// Route names (from `wire::ROUTES`) the faults apply to; absent = every API route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<String>>,
    /// Routes whose POST answers 405 (to exercise a POST → DELETE fallback).
    #[serde(default)]
    pub force_405: Vec<String>,
    /// Routes Mixpanel does not have (the emulator-only ones in `wire::ROUTES`) answer 404 as
    /// Mixpanel would: to check that a configuration or a tool works against the real API.
    #[serde(default)]
    pub hide_emulator_only_routes: bool,
    /// Seed of the random draws, for reproducible runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn default_error_status() -> u16 {
    500
}

fn default_retry_after() -> u64 {
    1
}

impl FaultConfig {
    pub fn validate(&self) -> Result<(), ApiError> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ApiError::bad_request(format!(
                    "{name}: must be between 0 and 1, got {rate}"
                )));
            }
        }
        if !(400..=599).contains(&self.error_status) {
            return Err(ApiError::bad_request(format!(
                "error_status: must be an HTTP error status (400 to 599), got {}",
                self.error_status
            )));
        }
        if self.latency_ms > 60_000 {
            return Err(ApiError::bad_request(
                "latency_ms: at most 60000 (one minute)",
            ));
        }
        if self.retry_after_secs > 3600 {
            return Err(ApiError::bad_request("retry_after_secs: at most 3600"));
        }
        let names = self
            .routes
            .iter()
            .flatten()
            .map(|n| ("routes", n))
            .chain(self.force_405.iter().map(|n| ("force_405", n)));
        for (field, n) in names {
            if route_index(n).is_none() {
                let valid: Vec<&str> = ROUTES.iter().map(|r| r.name).collect();
                return Err(ApiError::bad_request(format!(
                    "{field}: unknown route name \"{n}\"; valid names are: {}",
                    valid.join(", ")
                )));
            }
        }
        Ok(())
    }
}

pub fn route_index(name: &str) -> Option<usize> {
    ROUTES.iter().position(|r| r.name == name)
}

struct Active {
    config: FaultConfig,
    /// By route index: whether error, rate-limit and latency faults apply.
    selected: Vec<bool>,
    force_405: Vec<bool>,
    rng: Mutex<StdRng>,
}

/// The fault state.
#[derive(Default)]
pub struct Faults {
    enabled: AtomicBool,
    active: RwLock<Option<Active>>,
}

/// What to do with one request.
enum Outcome {
    Pass,
    /// An emulator-only route, hidden: 404 as upstream.
    Hidden,
    MethodNotAllowed,
    /// The Retry-After seconds, and whether the handler runs first.
    RateLimited(u64, bool),
    /// The status, and whether the handler runs first (its change kept, its answer lost).
    Error(StatusCode, bool),
}

impl Faults {
    pub fn set(&self, config: FaultConfig) {
        let selected = ROUTES
            .iter()
            .map(|r| match &config.routes {
                None => true,
                Some(names) => names.iter().any(|n| n == r.name),
            })
            .collect();
        let force_405 = ROUTES
            .iter()
            .map(|r| config.force_405.iter().any(|n| n == r.name))
            .collect();
        let rng = match config.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_rng(&mut rand::rng()),
        };
        let mut guard = self.active.write().unwrap_or_else(|p| p.into_inner());
        *guard = Some(Active {
            config,
            selected,
            force_405,
            rng: Mutex::new(rng),
        });
        self.enabled.store(true, Ordering::Release);
    }

    pub fn clear(&self) {
        let mut guard = self.active.write().unwrap_or_else(|p| p.into_inner());
        *guard = None;
        self.enabled.store(false, Ordering::Release);
    }

    pub fn get(&self) -> Option<FaultConfig> {
        self.active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|a| a.config.clone())
    }

    fn plan(&self, idx: usize, method: &Method) -> (Option<Duration>, Outcome) {
        if !self.enabled.load(Ordering::Acquire) {
            return (None, Outcome::Pass);
        }
        let guard = self.active.read().unwrap_or_else(|p| p.into_inner());
        let Some(a) = guard.as_ref() else {
            return (None, Outcome::Pass);
        };
        if a.config.hide_emulator_only_routes
            && ROUTES
                .get(idx)
                .is_some_and(|r| r.status == RouteStatus::EmulatorOnly)
        {
            return (None, Outcome::Hidden);
        }
        if a.force_405.get(idx).copied().unwrap_or(false) && method == Method::POST {
            return (None, Outcome::MethodNotAllowed);
        }
        if !a.selected.get(idx).copied().unwrap_or(false) {
            return (None, Outcome::Pass);
        }
        let c = &a.config;
        let latency = (c.latency_ms > 0).then(|| Duration::from_millis(c.latency_ms));
        let mut rng = a.rng.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = if c.rate_limit_rate > 0.0 && rng.random::<f64>() < c.rate_limit_rate {
            Outcome::RateLimited(c.retry_after_secs, c.rate_limit_after_commit)
        } else if c.error_rate > 0.0 && rng.random::<f64>() < c.error_rate {
            Outcome::Error(
                StatusCode::from_u16(c.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                c.error_after_commit,
            )
        } else {
            Outcome::Pass
        };
        (latency, outcome)
    }
}

/// The methods counted separately; anything else counts as "OTHER".
const METHODS: [&str; 6] = ["GET", "POST", "DELETE", "PUT", "PATCH", "OTHER"];

fn method_index(m: &Method) -> usize {
    METHODS
        .iter()
        .position(|x| *x == m.as_str())
        .unwrap_or(METHODS.len() - 1)
}

/// Request counts by route and method.
pub struct Counters {
    counts: Vec<[AtomicU64; 6]>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            counts: ROUTES.iter().map(|_| Default::default()).collect(),
        }
    }
}

impl Counters {
    fn count(&self, idx: usize, method: &Method) {
        if let Some(row) = self.counts.get(idx) {
            row[method_index(method)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Non-zero counts: route name → method → count.
    pub fn snapshot(&self) -> BTreeMap<&'static str, BTreeMap<&'static str, u64>> {
        let mut out = BTreeMap::new();
        for (route, row) in ROUTES.iter().zip(&self.counts) {
            let mut by_method = BTreeMap::new();
            for (m, c) in METHODS.iter().zip(row) {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    by_method.insert(*m, n);
                }
            }
            if !by_method.is_empty() {
                out.insert(route.name, by_method);
            }
        }
        out
    }

    pub fn reset(&self) {
        for row in &self.counts {
            for c in row {
                c.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// Marks a response as an injected fault (so the request log does not report it as a failure).
#[derive(Debug, Clone, Copy)]
pub struct InjectedFault;

/// The middleware in front of every API route: counts, then injects faults.
pub async fn gate(state: AppState, idx: usize, req: Request, next: Next) -> Response {
    state.counters.count(idx, req.method());
    let (latency, outcome) = state.faults.plan(idx, req.method());
    if let Some(d) = latency {
        tokio::time::sleep(d).await;
    }
    let name = ROUTES.get(idx).map(|r| r.name).unwrap_or("?");
    let mut resp = match outcome {
        Outcome::Pass => return next.run(req).await,
        Outcome::Hidden => error_response(
            StatusCode::NOT_FOUND,
            &format!(
                "Not found: {name} is an emulator-only route, hidden (hide_emulator_only_routes)"
            ),
        ),
        Outcome::MethodNotAllowed => {
            let mut resp = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("Method Not Allowed: POST is refused on {name} (injected fault)"),
            );
            if let Some(m) = ROUTES.get(idx).and_then(|r| r.fallback) {
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(m.as_str()));
            }
            resp
        }
        Outcome::RateLimited(secs, after_commit) => {
            if after_commit {
                // The handler runs and commits; its answer is dropped.
                drop(next.run(req).await);
            }
            let mut resp = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Rate limit exceeded on {name} (injected fault{}): retry after {secs} s",
                    if after_commit {
                        ", after the change was stored"
                    } else {
                        ""
                    }
                ),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            resp
        }
        Outcome::Error(status, after_commit) => {
            if after_commit {
                // The handler runs and commits; its answer is dropped.
                drop(next.run(req).await);
            }
            error_response(
                status,
                &format!(
                    "Injected fault on {name}: HTTP {}{}",
                    status.as_u16(),
                    if after_commit {
                        " (after the change was stored)"
                    } else {
                        ""
                    }
                ),
            )
        }
    };
    resp.extensions_mut().insert(InjectedFault);
    resp
}
