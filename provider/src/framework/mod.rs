//! A small framework for the provider: schemas, the resource and data-source traits, the plan
//! algorithm, validators, diagnostics and the per-process read cache. It knows nothing of gRPC;
//! `crate::server` translates between it and tfplugin6.

pub mod cache;
pub mod diag;
pub mod plan;
pub mod resource;
pub mod schema;
pub mod validators;

pub use cache::{CacheKey, Indexed, ReadCache};
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use plan::{plan, Plan};
pub use resource::{ApplyError, Ctx, DataSource, Resource, SharedCtx};
pub use schema::{AttrType, Attribute, BlockType, Nesting, Schema};
pub use validators::{validate_config, Validator};
