//! The underlying error an [`ApiError`](crate::api::ApiError) or
//! [`VaultError`](crate::vault::VaultError) wraps, kept as its `source()`.
//!
//! Both error types are `Clone` (the write batcher hands one failure to every waiter, the
//! caches replay a failed read), and most underlying errors are not (`reqwest::Error`,
//! `std::io::Error`, `serde_json::Error`), so the cause is shared behind an [`Arc`]. [`Cause`]
//! does not implement `Error` itself: it derefs to the wrapped error, so `source()` of the outer
//! error is that error (a `reqwest::Error` can be found with `downcast_ref`), not a wrapper.
//!
//! No secret reaches a cause: a `reqwest::Error` is kept [`without_url`](reqwest::Error::without_url)
//! (the variant's own `url` field is the redacted one), Vault tokens travel in a header, and
//! Mixpanel credentials in the `Authorization` header.

use std::error::Error as StdError;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A shared underlying error; see the [module docs](self).
#[derive(Clone)]
pub struct Cause(Arc<dyn StdError + Send + Sync + 'static>);

impl Cause {
    /// Wraps `error`.
    pub fn new(error: impl StdError + Send + Sync + 'static) -> Self {
        Cause(Arc::new(error))
    }

    /// Wraps a `reqwest` error without the URL it carries.
    pub fn reqwest(error: reqwest::Error) -> Self {
        Cause::new(error.without_url())
    }
}

impl Deref for Cause {
    type Target = dyn StdError + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

/// The text of an error and its sources, joined with ": ", for one line of output.
///
/// The variants' messages keep their cause's words, so a source is left out when the line
/// already holds its text, or holds the text of one of its own sources (the message said that
/// cause in its own words: `connection failed: ... Connection refused` needs no `error sending
/// request` after it).
pub fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut sources = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        sources.push(s.to_string());
        cur = s.source();
    }
    for (i, text) in sources.iter().enumerate() {
        let said = out.contains(text.as_str())
            || sources[i + 1..].iter().any(|t| out.contains(t.as_str()));
        if !said {
            out.push_str(": ");
            out.push_str(text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use crate::api::{ApiError, Client, ClientConfig};
    use crate::vault::{VaultAuth, VaultConfig, VaultError, VaultStore};

    const MIXPANEL_SECRET: &str = "mp-secret-4f1d9c";
    const VAULT_TOKEN: &str = "hvs.vault-token-7c2e";

    use testkit::errors::{assert_reqwest_source_without, closed_port, walk};

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Text(&'static str, #[source] Option<Box<Text>>);

    #[test]
    fn the_chain_leaves_out_what_the_message_already_says() {
        let inner = Text("Connection refused", None);
        let mid = Text("error sending request", Some(Box::new(inner)));
        let said = Text(
            "could not reach it: Connection refused",
            Some(Box::new(mid)),
        );
        assert_eq!(
            super::chain(&said),
            "could not reach it: Connection refused"
        );
        let io = Text("Permission denied", None);
        let bare = Text("cannot write out.csv", Some(Box::new(io)));
        assert_eq!(
            super::chain(&bare),
            "cannot write out.csv: Permission denied"
        );
    }

    #[test]
    fn an_answer_that_does_not_decode_keeps_the_json_error() {
        use crate::api::wire::{Me, Response, Results};
        let e = <Results<Me> as Response>::decode(br#"{"results": 1}"#).expect_err("not a Me");
        let err = ApiError::undecodable("me", e);
        assert!(
            err.to_string().contains("unexpected answer at results"),
            "{err}"
        );
        let source = std::error::Error::source(&err).expect("a source");
        assert!(
            source.downcast_ref::<serde_json::Error>().is_some(),
            "{source:?}"
        );
    }

    #[tokio::test]
    async fn a_mixpanel_transport_failure_keeps_the_reqwest_error_and_no_secret() {
        let port = closed_port();
        let url = format!("http://127.0.0.1:{port}/?api_secret={MIXPANEL_SECRET}");
        let mut cfg = ClientConfig::new(
            &url,
            "robot.4f1d.mp-service-account",
            SecretString::from(MIXPANEL_SECRET),
        )
        .expect("a valid configuration");
        cfg.max_retries = 0;
        cfg.connect_budget = std::time::Duration::ZERO;
        let client = Client::new(cfg).expect("a client");
        let err = client.me().await.expect_err("nothing listens on the port");
        assert!(matches!(err, ApiError::Transport { .. }), "{err:?}");
        assert!(
            err.to_string().contains("could not reach Mixpanel"),
            "{err}"
        );
        assert_reqwest_source_without(&err, MIXPANEL_SECRET);
        // The clone the batcher hands to each waiter keeps the same source.
        assert!(walk(&err.clone()).has_reqwest);
    }

    #[tokio::test]
    async fn a_vault_transport_failure_keeps_the_reqwest_error_and_no_token() {
        let port = closed_port();
        let store = VaultStore::new(VaultConfig::new(
            format!("http://127.0.0.1:{port}"),
            VaultAuth::token(VAULT_TOKEN),
        ))
        .expect("a valid configuration");
        let err = store
            .login()
            .await
            .expect_err("nothing listens on the port");
        assert!(matches!(err, VaultError::Unreachable { .. }), "{err:?}");
        assert!(err.to_string().contains("is unreachable"), "{err}");
        assert_reqwest_source_without(&err, VAULT_TOKEN);
        assert!(walk(&err.clone()).has_reqwest);
    }
}
