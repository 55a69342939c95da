//! Typed errors of the Vault store. Each message says what went wrong and what to do about it;
//! none ever contains a secret.
//!
//! A variant that wraps another error (the HTTP client's, a JSON decoder's, a file read's, a
//! nested [`VaultError`]) keeps it as its `source()`, a [`Cause`]; its message keeps the
//! cause's words too. What the server said (an error body) is data, kept as a `String`. The
//! token travels in the `X-Vault-Token` header, never in a URL, so no cause carries it.

use std::error::Error as StdError;

use crate::cause::Cause;

/// What went wrong talking to Vault/OpenBao.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VaultError {
    /// The server could not be reached (connection refused, DNS, TLS, timeout).
    #[error("Vault at {address} is unreachable: {reason}; check the address, the network and that the server is running")]
    Unreachable {
        address: String,
        reason: String,
        /// The HTTP client's error.
        #[source]
        source: Option<Cause>,
    },

    /// The server is sealed.
    #[error("Vault at {address} is sealed: unseal it (`bao operator unseal` / `vault operator unseal`) and retry")]
    Sealed { address: String },

    /// HTTP 403 on a path.
    #[error("permission denied on {method} {path}: the token's policy needs the \"{capability}\" capability on path \"{path}\" (or the token has expired)")]
    PermissionDenied {
        method: String,
        path: String,
        capability: String,
    },

    /// A check-and-set write lost: someone else wrote since the version this writer read.
    #[error("check-and-set mismatch on {path}: the current version is no longer {expected} (another writer got there first); re-read and retry")]
    CasMismatch { path: String, expected: u64 },

    /// The path does not exist (or its latest version is deleted).
    #[error("{path} not found")]
    NotFound { path: String },

    /// The leader lease is no longer ours: a CAS renewal failed, it expired, or another replica
    /// holds it. The holder must stop acting as leader at once.
    #[error("leadership lost on {path}: {reason}")]
    LostLeadership { path: String, reason: String },

    /// The configuration cannot work (bad address, unreadable file, invalid name...).
    #[error("invalid Vault configuration: {0}")]
    BadConfig(String),

    /// The configuration cannot work, because of `source` (a URL that does not parse, an HTTP
    /// client that cannot be built with these settings); `message` says so in words, the
    /// cause's included.
    #[error("invalid Vault configuration: {message}")]
    Setup {
        message: String,
        #[source]
        source: Cause,
    },

    /// A value given to the store is not acceptable (a name, a metadata value...).
    #[error("invalid input for {path}: {reason}")]
    InvalidInput { path: String, reason: String },

    /// Logging in (AppRole, Kubernetes) or renewing the token failed.
    #[error("Vault authentication via {method} failed: {reason}")]
    Auth {
        method: String,
        reason: String,
        /// What failed underneath (the login request, the token file read).
        #[source]
        source: Option<Cause>,
    },

    /// The server answered something this store cannot read.
    #[error("unexpected answer from Vault to {method} {path}: {reason}")]
    Decode {
        method: String,
        path: String,
        reason: String,
        /// The decoder's error.
        #[source]
        source: Option<Cause>,
    },

    /// Any other error status.
    #[error("Vault answered {status} to {method} {path}: {message}")]
    Api {
        method: String,
        path: String,
        status: u16,
        message: String,
    },
}

impl VaultError {
    /// The server at `address` could not be reached because of `error`, kept as the source
    /// (a `reqwest::Error` without its URL).
    pub fn unreachable(
        address: impl Into<String>,
        error: impl StdError + Send + Sync + 'static,
    ) -> Self {
        VaultError::Unreachable {
            address: address.into(),
            reason: chain(&error),
            source: Some(Cause::new(error)),
        }
    }

    /// The answer to `method path` could not be read: `reason` says why.
    pub fn decode(
        method: impl Into<String>,
        path: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        VaultError::Decode {
            method: method.into(),
            path: path.into(),
            reason: reason.into(),
            source: None,
        }
    }

    /// Logging in or renewing via `method` failed: `reason` says why.
    pub fn auth(method: impl Into<String>, reason: impl Into<String>) -> Self {
        VaultError::Auth {
            method: method.into(),
            reason: reason.into(),
            source: None,
        }
    }

    /// The configuration cannot work because of `error`; `message` says so, its words
    /// included.
    pub fn setup(message: impl Into<String>, error: impl StdError + Send + Sync + 'static) -> Self {
        VaultError::Setup {
            message: message.into(),
            source: Cause::new(error),
        }
    }

    /// The same error with `cause` as its source, on the variants that keep one
    /// ([`Unreachable`](Self::Unreachable), [`Auth`](Self::Auth), [`Decode`](Self::Decode));
    /// the others are returned as they are.
    pub fn with_source(mut self, cause: Cause) -> Self {
        match &mut self {
            VaultError::Unreachable { source, .. }
            | VaultError::Auth { source, .. }
            | VaultError::Decode { source, .. } => *source = Some(cause),
            _ => {}
        }
        self
    }

    /// Whether this is a check-and-set conflict.
    pub fn is_cas_mismatch(&self) -> bool {
        matches!(self, VaultError::CasMismatch { .. })
    }

    /// Whether retrying later may help (server down, sealed, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            VaultError::Unreachable { .. } | VaultError::Sealed { .. } => true,
            VaultError::Api { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// The capability a request needs on its path, as a Vault policy names it.
pub(crate) fn capability_for(method: &str, create: bool) -> &'static str {
    match method {
        "GET" => "read",
        "LIST" => "list",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ if create => "create",
        _ => "update",
    }
}

pub(crate) use crate::cause::chain;
