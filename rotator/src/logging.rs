//! Logs on stderr: human text lines on a terminal, JSON lines otherwise (or as configured), `vaultrs` and `rustify` (its HTTP layer) silenced: they
//! log the expected 404s and check-and-set conflicts at ERROR, and the store returns those as
//! values.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The filter actually used: the configured one plus `vaultrs=off` and `rustify=off` unless it
/// names them.
pub fn effective_filter(filter: &str) -> String {
    let mut out = if filter.trim().is_empty() {
        "info".to_string()
    } else {
        filter.trim().to_string()
    };
    for noisy in ["vaultrs", "rustify"] {
        if !out.contains(noisy) {
            out.push_str(&format!(",{noisy}=off"));
        }
    }
    out
}

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(effective_filter(filter))
        .unwrap_or_else(|_| EnvFilter::new("info,vaultrs=off,rustify=off"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let format = match format {
        LogFormat::Auto => {
            use std::io::IsTerminal;
            if std::io::stderr().is_terminal() {
                LogFormat::Text
            } else {
                LogFormat::Json
            }
        }
        f => f,
    };
    let _ = match format {
        LogFormat::Json | LogFormat::Auto => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn vaultrs_is_off_by_default() {
        assert_eq!(
            super::effective_filter("info"),
            "info,vaultrs=off,rustify=off"
        );
        assert_eq!(super::effective_filter(""), "info,vaultrs=off,rustify=off");
        assert_eq!(
            super::effective_filter("debug,vaultrs=warn"),
            "debug,vaultrs=warn,rustify=off"
        );
    }
}
