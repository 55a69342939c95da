//! Request extractors whose failures answer in Mixpanel's JSON error shape and name the field
//! at fault (`invalid body: projects[0].role: unknown project role ...`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// Turns a serde error with its path into a 400 whose message names the field.
fn body_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.inner().to_string();
    // serde_json appends " at line L column C"; the field path says more.
    let msg = match inner.rsplit_once(" at line ") {
        Some((m, _)) => m.to_string(),
        None => inner,
    };
    if path == "." || path.is_empty() {
        ApiError::bad_request(format!("invalid body: {msg}"))
    } else {
        ApiError::bad_request(format!("invalid body: {path}: {msg}"))
    }
}

/// Parses raw bytes as JSON. An empty body is an error that says so.
pub fn parse_json_value(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request(
            "invalid body: empty body; expected a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let inner = e.to_string();
        ApiError::bad_request(format!("invalid body: not valid JSON: {inner}"))
    })
}

/// Deserializes a JSON value into `T`, naming the field at fault.
pub fn decode_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(body_error)
}

/// Parses a body into `T`, naming the field at fault.
pub fn decode_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    decode_value(parse_json_value(bytes)?)
}

/// A JSON body parsed into `T`; failures are 400s naming the field.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
        decode_body(&bytes).map(JsonBody)
    }
}

/// A JSON body kept as a `serde_json::Value` (for routes that tidy it before decoding).
pub struct JsonValue(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonValue {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
        parse_json_value(&bytes).map(JsonValue)
    }
}

/// Path parameters; a malformed one (`/organizations/abc/...`) is a 400 that says which.
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(Params(v)),
            Err(e) => Err(ApiError::bad_request(format!(
                "invalid path: {}",
                e.body_text()
            ))),
        }
    }
}
