//! Error chains in tests: a loopback port nothing listens on, a Mixpanel client pointed at one,
//! and a walk of an error's `source()` chain.

use std::error::Error as StdError;
use std::time::Duration;

use mixpanel_access::api::{Client, ClientConfig};
use secrecy::SecretString;

/// A loopback port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a loopback port")
        .port()
}

/// A Mixpanel client for `http://127.0.0.1:<closed port>` with `secret`, that tries once: its
/// first call fails with a refused connection.
pub fn unreachable_client(secret: &str) -> Client {
    let mut cfg = ClientConfig::new(
        &format!("http://127.0.0.1:{}", closed_port()),
        "unreachable.0001.mp-service-account",
        SecretString::from(secret.to_string()),
    )
    .expect("a valid configuration");
    cfg.max_retries = 0;
    cfg.connect_budget = Duration::ZERO;
    Client::new(cfg).expect("a client")
}

/// What a walk of an error's sources found.
pub struct Chain {
    /// Whether one of the sources is a `reqwest::Error`.
    pub has_reqwest: bool,
    /// The Debug and Display of the error and of each source, one a line.
    pub text: String,
}

/// Walks `e` and its sources.
pub fn walk(e: &(dyn StdError + 'static)) -> Chain {
    let mut has_reqwest = false;
    let mut text = format!("{e:?} / {e}");
    let mut cur = e.source();
    while let Some(s) = cur {
        has_reqwest |= s.downcast_ref::<reqwest::Error>().is_some();
        text.push_str(&format!("\n{s:?} / {s}"));
        cur = s.source();
    }
    Chain { has_reqwest, text }
}

/// Asserts that `e`'s sources hold a `reqwest::Error` and that neither the Debug nor the
/// Display of any link holds `secret`.
pub fn assert_reqwest_source_without(e: &(dyn StdError + 'static), secret: &str) {
    let chain = walk(e);
    assert!(
        chain.has_reqwest,
        "no reqwest::Error among the sources: {}",
        chain.text
    );
    assert!(
        !chain.text.contains(secret),
        "a secret in the chain: {}",
        chain.text
    );
}
