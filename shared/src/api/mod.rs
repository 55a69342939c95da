//! The Mixpanel management API: wire shapes and the async client.

pub mod wire;
