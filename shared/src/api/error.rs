//! Typed errors of the API client. Each message says what the user should do.
//!
//! A variant that wraps another error (the `reqwest` error of a request with no answer, the
//! `serde_json` error of a body that could not be encoded, a URL that could not be parsed) keeps
//! it as its `source()`, a [`Cause`]; its message keeps the cause's words too, so one line says
//! it all. A message Mixpanel sent (an error body) is data, kept as a `String`.

use std::time::Duration;

use crate::cause::Cause;

/// What went wrong talking to Mixpanel (or the emulator).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// HTTP 401.
    #[error("Mixpanel rejected the service account credentials on {route} ({message}): check the full username (name.<hex>.mp-service-account) and the secret, and that the service account has not expired")]
    Unauthorized {
        route: &'static str,
        message: String,
    },

    /// HTTP 403.
    #[error("{message} (on {route}): the service account needs {needed}")]
    Forbidden {
        route: &'static str,
        message: String,
        /// The role that would allow the call, e.g. "the organization role owner or admin".
        needed: String,
    },

    /// HTTP 404 on a route Mixpanel has.
    #[error("not found on {route}: {message}")]
    NotFound {
        route: &'static str,
        message: String,
    },

    /// HTTP 404 from a real Mixpanel host on a route only the emulator serves.
    #[error("{route} is available on the mixpanel-emulator only: Mixpanel has no public API for it yet, so make this change in Mixpanel's web app")]
    EmulatorOnly { route: &'static str },

    /// HTTP 409.
    #[error("conflict on {route}: {message}")]
    Conflict {
        route: &'static str,
        message: String,
    },

    /// HTTP 400 or 422.
    #[error("Mixpanel refused the request on {route} (HTTP {status}): {message}")]
    Invalid {
        route: &'static str,
        status: u16,
        message: String,
    },

    /// HTTP 429 after every retry.
    #[error("rate limited by Mixpanel on {route} after {attempts} attempts: lower the request concurrency or try again later")]
    RateLimited {
        route: &'static str,
        attempts: usize,
        retry_after: Option<Duration>,
    },

    /// HTTP 5xx after every retry.
    #[error("Mixpanel failed on {route} with HTTP {status} after {attempts} attempts: {message}")]
    Server {
        route: &'static str,
        status: u16,
        attempts: usize,
        message: String,
    },

    /// A create whose outcome is unknown: the request was sent, and Mixpanel failed (HTTP 500,
    /// 502, 504) or the answer was lost. It is not retried, since a second create could make a
    /// twin; the caller checks whether it exists first. Transient for callers that do.
    #[error("{route} may have been carried out: {cause}. It was not sent again, since a second create could make a duplicate: {check} to see whether it exists before trying again")]
    MaybeApplied {
        route: &'static str,
        status: Option<u16>,
        cause: String,
        check: &'static str,
        /// The error that lost the answer, when there was one.
        #[source]
        source: Option<Cause>,
    },

    /// A 3xx answer: never followed, since a redirected POST may be replayed as a GET.
    #[error("unexpected redirect on {route} to {location}: check api_url (use the host only, e.g. https://mixpanel.com)")]
    Redirect {
        route: &'static str,
        location: String,
    },

    /// Any other status.
    #[error("unexpected HTTP {status} on {route}: {message}")]
    Unexpected {
        route: &'static str,
        status: u16,
        message: String,
    },

    /// The request did not get an answer.
    #[error("could not reach Mixpanel at {url} for {route}: {message}")]
    Transport {
        route: &'static str,
        url: String,
        message: String,
        /// The `reqwest` error (without its URL), when the request itself failed rather than
        /// its time budget.
        #[source]
        source: Option<Cause>,
    },

    /// The answer did not have the expected shape.
    #[error("unexpected answer from Mixpanel on {route}: {message}")]
    Decode {
        route: &'static str,
        message: String,
        /// The decoder's error, when one was kept.
        #[source]
        source: Option<Cause>,
    },

    /// The client is misconfigured or was asked something impossible.
    #[error("{0}")]
    Config(String),

    /// The client could not do its own part of a call (build its HTTP client, parse a URL,
    /// encode a request, run a task): `what` was being done, `source` is why it failed.
    #[error("{what}: {source}")]
    Local {
        what: String,
        #[source]
        source: Cause,
    },
}

impl ApiError {
    /// A request to `url` that got no answer: `error` is kept as the source, without its URL
    /// (`url` is given redacted).
    pub fn transport(route: &'static str, url: String, error: reqwest::Error) -> Self {
        ApiError::Transport {
            route,
            url,
            message: transport_message(&error),
            source: Some(Cause::reqwest(error)),
        }
    }

    /// A call that got no answer for a reason that is no error value (its time budget ran
    /// out): `message` says which.
    pub fn unanswered(route: &'static str, url: String, message: impl Into<String>) -> Self {
        ApiError::Transport {
            route,
            url,
            message: message.into(),
            source: None,
        }
    }

    /// A create whose outcome is unknown; `cause` says why, `check` how to find out. Give the
    /// underlying error with [`with_source`](Self::with_source).
    pub fn maybe_applied(
        route: &'static str,
        status: Option<u16>,
        cause: impl Into<String>,
        check: &'static str,
    ) -> Self {
        ApiError::MaybeApplied {
            route,
            status,
            cause: cause.into(),
            check,
            source: None,
        }
    }

    /// An answer of `route` that did not have the expected shape.
    pub fn decode(route: &'static str, message: impl Into<String>) -> Self {
        ApiError::Decode {
            route,
            message: message.into(),
            source: None,
        }
    }

    /// An answer of `route` that did not decode, the decoder's error kept as the source.
    pub fn undecodable(route: &'static str, error: super::wire::DecodeError) -> Self {
        ApiError::Decode {
            route,
            message: error.message,
            source: Some(Cause::new(error.source)),
        }
    }

    /// The client's own part of a call failed: while doing `what`, because of `error`.
    pub fn local(
        what: impl Into<String>,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ApiError::Local {
            what: what.into(),
            source: Cause::new(error),
        }
    }

    /// The same error with `source` as its cause, on the variants that keep one
    /// ([`Transport`](Self::Transport), [`MaybeApplied`](Self::MaybeApplied),
    /// [`Decode`](Self::Decode)); the others are returned as they are.
    pub fn with_source(mut self, cause: Cause) -> Self {
        match &mut self {
            ApiError::Transport { source, .. }
            | ApiError::MaybeApplied { source, .. }
            | ApiError::Decode { source, .. } => *source = Some(cause),
            _ => {}
        }
        self
    }

    /// The HTTP status behind the error, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Unauthorized { .. } => Some(401),
            ApiError::Forbidden { .. } => Some(403),
            ApiError::NotFound { .. } | ApiError::EmulatorOnly { .. } => Some(404),
            ApiError::Conflict { .. } => Some(409),
            ApiError::Invalid { status, .. }
            | ApiError::Server { status, .. }
            | ApiError::Unexpected { status, .. } => Some(*status),
            ApiError::MaybeApplied { status, .. } => *status,
            ApiError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::NotFound { .. })
    }

    /// Worth another attempt later (rate limits, server errors, no answer). For
    /// [`ApiError::MaybeApplied`], only after checking whether the first attempt took effect.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ApiError::RateLimited { .. }
                | ApiError::Server { .. }
                | ApiError::Transport { .. }
                | ApiError::MaybeApplied { .. }
        )
    }
}

/// What went wrong with a request that got no answer, in words: the kind, then each source
/// (the `reqwest` error's own text names the URL, which the variant gives redacted).
pub(crate) fn transport_message(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}
