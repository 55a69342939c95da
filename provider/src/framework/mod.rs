//! A small framework for the provider: schemas, the resource and data-source traits (over any
//! context), typed models, the plan algorithm, validators and diagnostics. It knows nothing of
//! gRPC (`crate::provider` translates between it and tfplugin6) nor of Mixpanel
//! (`crate::context` holds what the Mixpanel resources share).

pub mod diag;
pub mod plan;
pub mod resource;
pub mod schema;
pub mod typed;
pub mod validators;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use plan::{plan, Plan};
pub use resource::{ApplyError, DataSource, EphemeralResource, Failed, Resource};
pub use schema::{AttrType, Attribute, BlockType, Nesting, Schema};
pub use typed::{as_string, Applied, Sensitive, Typed, TypedResource};
pub use validators::{validate_config, Validator};
