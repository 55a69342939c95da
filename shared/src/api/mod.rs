//! The Mixpanel management API: wire shapes and the async client.

pub mod batch;
mod client;
mod error;
mod org;
pub mod wire;

pub use client::{route_capability, AuditScope, Before, Client, ClientConfig, AUDIT_LOG_MAX_PAGES};
pub use error::ApiError;
pub use org::OrgClient;
