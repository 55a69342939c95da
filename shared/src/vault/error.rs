//! Typed errors of the Vault store. Each message says what went wrong and what to do about it;
//! none ever contains a secret.

use std::error::Error as StdError;

/// What went wrong talking to Vault/OpenBao.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VaultError {
    /// The server could not be reached (connection refused, DNS, TLS, timeout).
    #[error("Vault at {address} is unreachable: {reason}; check the address, the network and that the server is running")]
    Unreachable { address: String, reason: String },

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

    /// A value given to the store is not acceptable (a name, a metadata value...).
    #[error("invalid input for {path}: {reason}")]
    InvalidInput { path: String, reason: String },

    /// Logging in (AppRole, Kubernetes) or renewing the token failed.
    #[error("Vault authentication via {method} failed: {reason}")]
    Auth { method: String, reason: String },

    /// The server answered something this store cannot read.
    #[error("unexpected answer from Vault to {method} {path}: {reason}")]
    Decode {
        method: String,
        path: String,
        reason: String,
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

/// The text of an error and its sources, joined with ": ".
pub(crate) fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}
