//! Errors as Mixpanel answers them: `{"status":"error","error":"..."}` with the matching status,
//! and the success envelope `{"status":"ok","results":...}`.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mixpanel_access::permissions::Refusal;
use serde::Serialize;

/// An error answered to the client. The message is shown as is: it must never carry a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let status =
            StatusCode::from_u16(r.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, r.message())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "database error");
        ApiError::internal(format!("database error: {e}"))
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: &'static str,
    error: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.status, &self.message)
    }
}

/// `{"status":"error","error":message}` with `status`.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let body = ErrorBody {
        status: "error",
        error: message,
    };
    json_response(status, &body)
}

/// Serializes `value` as the whole body.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut resp = Response::new(Body::from(bytes));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "could not serialize a response");
            let mut resp = Response::new(Body::from(
                r#"{"status":"error","error":"internal error: could not serialize the response"}"#,
            ));
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
    }
}

#[derive(Serialize)]
struct OkBody<'a, T: Serialize + ?Sized> {
    status: &'static str,
    results: &'a T,
}

/// `200 {"status":"ok","results":results}`.
pub fn ok<T: Serialize + ?Sized>(results: &T) -> Response {
    ok_with(StatusCode::OK, results)
}

/// `{"status":"ok","results":results}` with another success status (201).
pub fn ok_with<T: Serialize + ?Sized>(status: StatusCode, results: &T) -> Response {
    json_response(
        status,
        &OkBody {
            status: "ok",
            results,
        },
    )
}

/// `200 {"status":"ok","results":{}}`.
pub fn ok_empty() -> Response {
    ok(&serde_json::Map::new())
}

pub type ApiResult = Result<Response, ApiError>;
