//! The Mixpanel Terraform provider. The protocol layer (tfplugin6 over gRPC) is kept apart from
//! the resources; `cty` holds Terraform's value model and its wire codecs.

pub mod context;
pub mod convert;
pub mod cty;
pub mod data_sources;
pub mod docs;
pub mod ephemeral;
pub mod framework;
pub mod protocol;
pub mod provider;
pub mod provider_config;
pub mod resources;
