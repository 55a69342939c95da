//! `mixpanel-emulator`: a local, persistent implementation of Mixpanel's management API.
//!
//! It serves every route of [`mixpanel_access::api::wire::ROUTES`] with the wire shapes of
//! `mixpanel_access::api::wire` and `mixpanel_access::model`, keeps its data in one SQLite file
//! (it survives restarts), authenticates service accounts with HTTP Basic (expiry enforced),
//! enforces Mixpanel's role rules through `mixpanel_access::permissions` (never re-implemented
//! here) with Mixpanel's status codes and `{"status":"error","error":...}` bodies, and keeps an
//! audit log of every change.
//!
//! # Admin API (`/_emulator/`, no authentication: a loopback tool)
//!
//! - `POST /_emulator/bootstrap` `{"organization_name","owner_email","service_account_name",
//!   "service_account_role"}` (all optional) → 201 `{"status":"ok","results":{
//!   "organization_id","owner_email","service_account":{"id","username","secret"}}}`. Creates an
//!   organization, an active human owner and a first service account. That account is seeded
//!   directly, not through the API's rules: its role defaults to `owner`, and this is the only
//!   way a service account can be an owner (the API refuses owner for service accounts).
//! - `PUT /_emulator/faults` ([`faults::FaultConfig`]), `GET /_emulator/faults`,
//!   `DELETE /_emulator/faults`.
//! - `GET /_emulator/counters` → `{"status":"ok","results":{"<route>":{"GET":n,...}}}`,
//!   `DELETE /_emulator/counters`.
//! - `POST /_emulator/reset` wipes all data.
//! - `POST /_emulator/users/{email}/activate` marks an invited member active (in every
//!   organization that invited the address), as if they had accepted.
//! - `POST /_emulator/organizations/{org}/users/{email}/login` `{"at","login_method",
//!   "twofactor_method","twofactor_enabled"}` (all optional) records a member's login at a given
//!   time (`session.logged_in`) and optionally their two-factor enrollment
//!   (`user.twofactor_enabled`): dormant and active people for reviews.
//! - `POST /_emulator/organizations/{org}/service-accounts/{sa}/facts` `{"creator_email",
//!   "created","last_used"}` sets what only time or the web app produce.
//! - `POST /_emulator/organizations/{org}/audit-events` `{"type","actor","created","project_id",
//!   "payload"}` records any audit event at any time.
//! - `GET /_emulator/routes` lists the API routes served.
//! - `GET /_emulator/openapi.json`: the API routes as an OpenAPI 3.1 document ([`openapi`]), its
//!   schemas taken from Mixpanel's own files ([`upstream`]) wherever they describe a route.
//!
//! Slash-less forms of the organization RPC routes (outside `/api/app`, ending in `/`) answer
//! 301 to the trailing-slash path, as Mixpanel does, for any method. Redirects are neither
//! counted nor faulted.
//!
//! # Where upstream behaviour is not known, the emulator chooses
//!
//! - An `expires` in the past is refused (400); `""` or `null` means "never expires".
//! - A project of another organization answers 403 (an unknown id 404).
//! - `GET` of one service account omits its role (`org_role: null`), as upstream; the list has it.
//! - A project's service-account list reports, per account, the strongest role and, among
//!   sources of equal strength, the most specific grant type (individual, team, organization).
//! - The "all users" default role reaches service accounts too; so neither it nor a team role
//!   that passes to service accounts may be `owner`.
//! - Removing a grant or membership that does not exist succeeds and changes nothing.
//! - The audit log is newest first; its cursor is opaque; a project role change of a user is
//!   `user.role_changed` with the project id, a team's role change `project.team_added` with
//!   `previous_role`; deleting an account or member also records each grant and team seat lost.

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod db;
pub mod error;
pub mod extract;
pub mod faults;
pub mod handlers;
pub mod openapi;
pub mod routes;
pub mod upstream;

use std::future::Future;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use routes::router;

/// Why the emulator could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot open the database {path}")]
    Database { path: String, source: db::OpenError },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything the handlers share.
pub struct Inner {
    pub db: db::Db,
    pub auth: auth::AuthCache,
    pub faults: faults::Faults,
    pub counters: faults::Counters,
    /// `Timezone::all_names()`, computed once: ids are 1-based indexes into it.
    pub timezones: Vec<&'static str>,
    /// Audit-log entries per page (`POST /_emulator/settings`).
    pub audit_page_size: std::sync::atomic::AtomicUsize,
}

/// The application state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Audit-log entries per page.
    pub fn audit_page_size(&self) -> usize {
        self.audit_page_size
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(1)
    }

    /// Opens (or creates) the database file.
    pub fn open(db_path: &Path) -> Result<AppState, EmulatorError> {
        let db = db::Db::open(db_path).map_err(|source| EmulatorError::Database {
            path: db_path.display().to_string(),
            source,
        })?;
        Ok(AppState(Arc::new(Inner {
            db,
            auth: auth::AuthCache::default(),
            faults: faults::Faults::default(),
            counters: faults::Counters::default(),
            timezones: mixpanel_access::model::Timezone::all_names(),
            audit_page_size: std::sync::atomic::AtomicUsize::new(
                handlers::audit_log::DEFAULT_PAGE_SIZE,
            ),
        })))
    }
}

/// Serves the emulator on `listener` with the database at `db_path` until `shutdown`
/// completes, then finishes the requests in flight and returns.
pub async fn serve(
    listener: TcpListener,
    db_path: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EmulatorError> {
    let state = AppState::open(db_path)?;
    let app = router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
