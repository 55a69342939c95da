//! `mixpanel-rotator`: keeps the credentials Mixpanel integrations use fresh in Vault/OpenBao
//! and keeps the integration inventory auditors ask for.
//!
//! - [`engine`]: the rotation state machine (intent → created → tested → promoted → overlap →
//!   revoked_old → done), journaled in Vault with check-and-set and the leader's fencing token
//!   before every external call; project secrets and tokens as a single-phase swap or, where
//!   Mixpanel offers no reset API, a validated mirror marked `manual_rotation_required`.
//! - [`triggers`]: the reconcile loop over `next_rotation`, the membership watcher, manual and
//!   incident requests (coalesced into an open rotation), the concurrency limit.
//! - [`election`]: one active replica through the shared Vault lease (fencing token = KV
//!   version), renewed at a third of its TTL.
//! - [`http`]: `/healthz`, `/readyz`, `/metrics` and the authenticated `POST /rotate`.
//! - [`cli`]: the clap types of the command line and the dispatch to [`cmd`], one module per
//!   subcommand (`run`, `once`, `rotate`, `inventory ...`, `status`, `history`, `review`,
//!   `review apply`, `offboard`, `audit export`); [`cmd::rotate`] waits for rotations and checks
//!   by reads that the old credentials stopped working. [`app`] holds what every command needs
//!   (the store, the API, the engine, stdout); [`evidence`] the evidence folders.
//!
//! Secrets only ever travel in `secrecy::SecretString`: no log line, `Debug` print, error
//! message or CLI output contains one.

#[macro_use]
pub mod app;
pub mod api;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod crash;
pub mod election;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod grants;
pub mod health;
pub mod history;
pub mod http;
pub mod inventory;
pub mod logging;
pub mod metrics;
pub mod policy;
pub mod ports;
pub mod table;
pub mod triggers;

pub use config::Config;
pub use error::RotatorError;
