//! The rotator's error type. Messages say what went wrong and what to do; none contains a
//! secret (Mixpanel and Vault errors never carry one, and secrets are never formatted).

use mixpanel_access::api::ApiError;
use mixpanel_access::inventory::InventoryError;
use mixpanel_access::vault::VaultError;

/// What went wrong in the rotator.
#[derive(Debug, thiserror::Error)]
pub enum RotatorError {
    /// The configuration is incomplete or invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// Vault/OpenBao failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Mixpanel (or the emulator) failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// An inventory entry or file is invalid.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The credential is not in the inventory.
    #[error("credential {0} is not in the inventory: add it with `mixpanel-rotator inventory add` or `inventory apply`")]
    UnknownCredential(String),
    /// The work stopped because leadership was lost or the process is shutting down; the
    /// journal is intact and the next leader resumes it.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// Something a user asked for cannot be done.
    #[error("{0}")]
    Invalid(String),
    /// A rotation step found something no retry can fix (the old account's access cannot be
    /// known, or the successor's access differs): the rotation stops in `needs_human` at once.
    #[error("{0}")]
    NeedsHuman(String),
    /// [`NeedsHuman`](Self::NeedsHuman) because of what Mixpanel answered, which is kept as
    /// the source (the message already names it).
    #[error("{message}")]
    NeedsHumanApi {
        message: String,
        #[source]
        source: ApiError,
    },
    /// A local I/O problem (a file, a socket).
    #[error("{0}")]
    Io(String),
    /// A local I/O or encoding problem, with what was being done and its cause kept as the
    /// source: `cannot write out.csv: Permission denied (os error 13)`.
    #[error("{}", with_cause(.context, .source))]
    IoFailed {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The configuration is invalid, with its cause kept as the source.
    #[error("configuration: {}", with_cause(.context, .source))]
    ConfigFailed {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The command ran and found something a person must look at (a credential that needs
    /// attention, a rotation in `needs_human`): exit code 1, where a failure to run is 2.
    #[error("{0}")]
    Attention(String),
    /// The command could not do its work (Mixpanel unreachable, or its credentials refused, so
    /// that nothing could be checked): exit code 2, whatever it printed before.
    #[error("{0}")]
    CouldNotRun(String),
}

/// `context: cause`, or the cause alone without a context.
fn with_cause(context: &str, source: &dyn std::fmt::Display) -> String {
    if context.is_empty() {
        source.to_string()
    } else {
        format!("{context}: {source}")
    }
}

impl RotatorError {
    /// A local I/O or encoding failure while doing `context` (may be empty).
    pub fn io(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        RotatorError::IoFailed {
            context: context.into(),
            source: source.into(),
        }
    }

    /// An invalid configuration found while doing `context`.
    pub fn config(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        RotatorError::ConfigFailed {
            context: context.into(),
            source: source.into(),
        }
    }

    /// Whether this is an interruption (lost leadership, shutdown) rather than a failure.
    pub fn is_interrupted(&self) -> bool {
        matches!(self, RotatorError::Interrupted(_))
            || matches!(self, RotatorError::Vault(VaultError::LostLeadership { .. }))
    }
}

/// The exit code of a command that ended with `e`: 1 when it ran and found something that
/// needs attention, 2 when it could not do what it was asked (bad input or configuration,
/// Vault or Mixpanel unreachable or refusing, a rotation that failed).
pub fn exit_code(e: &RotatorError) -> u8 {
    match e {
        RotatorError::Attention(_) => 1,
        _ => 2,
    }
}

pub type Result<T, E = RotatorError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use mixpanel_access::vault::{VaultAuth, VaultConfig, VaultStore};
    use testkit::errors::{assert_reqwest_source_without, closed_port, unreachable_client};

    use super::RotatorError;

    const SECRET: &str = "rotator-secret-91ab";
    const TOKEN: &str = "hvs.rotator-token-3d";

    /// The chain of `e` holds a `reqwest::Error` and not `secret`, and the one line `main`
    /// prints says the cause once.
    fn check(e: &RotatorError, secret: &str) {
        assert_reqwest_source_without(e, secret);
        let line = mixpanel_access::cause::chain(e);
        assert_eq!(line.matches("Connection refused").count(), 1, "{line}");
    }

    #[tokio::test]
    async fn a_transport_failure_keeps_its_reqwest_source_through_the_rotator_error() {
        let api = unreachable_client(SECRET);
        check(
            &RotatorError::from(api.me().await.expect_err("nothing listens")),
            SECRET,
        );
        let store = VaultStore::new(VaultConfig::new(
            format!("http://127.0.0.1:{}", closed_port()),
            VaultAuth::token(TOKEN),
        ))
        .expect("a valid configuration");
        check(
            &RotatorError::from(store.login().await.expect_err("nothing listens")),
            TOKEN,
        );
    }
}
