//! Terraform's value model (go-cty) and its two wire encodings.
//!
//! - [`Type`]: cty types, read from and written to cty's compact type JSON (schema `Attribute.type`).
//! - [`Value`]: an untyped value tree; the [`Type`] travels alongside and drives the codecs.
//!   Values of `dynamic`-typed attributes carry their concrete type in [`Value::Dynamic`].
//! - [`encode`]/[`decode`]: the msgpack encoding of `DynamicValue.msgpack` (with unknowns).
//! - [`encode_json`]/[`decode_json`]: the JSON encoding of `DynamicValue.json` and
//!   `RawState.json` (no unknowns).
//! - [`AttributePath`]: paths for diagnostics and `requires_replace`.
//! - [`from_value`]/[`to_value`]: serde between values and typed models ([`Unknowable`] for
//!   values a plan may not know yet).
//!
//! Decoders never panic on untrusted input: nesting is capped at [`MAX_DEPTH`] and no buffer is
//! sized from a length read off the wire.

mod bridge;
mod json;
mod msgpack;
mod number;
mod path;
mod types;
mod value;

pub use bridge::{from_value, to_value, CtySet, Unknowable};
pub use json::{decode_json, encode_json};
pub use msgpack::{decode, encode};
pub use number::Number;
pub use path::{AttributePath, PathStep};
pub use types::Type;
pub use value::{NumberBound, Refinements, TypedValue, Value};

/// Deepest nesting of values or types the decoders accept.
pub const MAX_DEPTH: usize = 100;

/// An encoding or decoding error, located by the path of the offending value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", location(path))]
pub struct CtyError {
    /// Where in the value the problem is; empty for the root.
    pub path: AttributePath,
    pub message: String,
}

impl CtyError {
    pub(crate) fn new(path: &[PathStep], message: impl Into<String>) -> CtyError {
        CtyError {
            path: AttributePath(path.to_vec()),
            message: message.into(),
        }
    }
}

fn location(path: &AttributePath) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}
