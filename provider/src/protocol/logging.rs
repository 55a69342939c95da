//! Logs to stderr, where Terraform (go-plugin) picks them up line by line.
//!
//! Lines start with `[TRACE]`/`[DEBUG]`/`[INFO]`/`[WARN]`/`[ERROR]`, the prefixes go-plugin maps to
//! hclog levels, so they appear under `TF_LOG`/`TF_LOG_PROVIDER` at the right level. Stdout is never
//! written to after the handshake line.
//!
//! Level: `RUST_LOG` (full `EnvFilter` syntax) when set; else `TF_LOG_PROVIDER`, else `TF_LOG`
//! (`trace|debug|info|warn|error|off`; any other non-empty value means trace, as in Terraform) for the
//! provider's own crates, with dependencies capped at `warn`; else `warn`.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

/// Crates whose logs follow `TF_LOG`; everything else stays at `warn` so that `TF_LOG=trace`
/// does not drown Terraform's log in HTTP/2 frames.
const OWN_CRATES: &[&str] = &["terraform_provider_mixpanel", "mixpanel_access"];

/// Installs the global subscriber. `get` looks environment variables up. Safe to call once; later
/// calls are ignored.
pub fn init(get: impl Fn(&str) -> Option<String>) {
    let fmt_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(TerraformFormat);
    let registry = tracing_subscriber::registry().with(fmt_layer);
    let result = match get("RUST_LOG").filter(|v| !v.is_empty()) {
        Some(directives) => registry
            .with(EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("warn")))
            .try_init(),
        None => registry.with(targets_from_tf_log(&get)).try_init(),
    };
    // Already initialised (tests running servers in-process): keep the first subscriber.
    let _ = result;
}

fn targets_from_tf_log(get: &impl Fn(&str) -> Option<String>) -> Targets {
    let level = get("TF_LOG_PROVIDER")
        .filter(|v| !v.is_empty())
        .or_else(|| get("TF_LOG").filter(|v| !v.is_empty()))
        .map_or(LevelFilter::WARN, |v| tf_log_level(&v));
    let mut targets = Targets::new().with_default(LevelFilter::WARN.min(level));
    for krate in OWN_CRATES {
        targets = targets.with_target(*krate, level);
    }
    targets
}

/// Terraform's reading of a `TF_LOG` value.
fn tf_log_level(value: &str) -> LevelFilter {
    match value.trim().to_ascii_lowercase().as_str() {
        "off" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "info" => LevelFilter::INFO,
        "debug" => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// `[LEVEL] target: span{fields}: message key=value`.
struct TerraformFormat;

impl<S, N> FormatEvent<S, N> for TerraformFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::TRACE => "TRACE",
            Level::DEBUG => "DEBUG",
            Level::INFO => "INFO",
            Level::WARN => "WARN",
            Level::ERROR => "ERROR",
        };
        write!(writer, "[{level}] {}: ", meta.target())?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(writer, "{{{fields}}}")?;
                    }
                }
                write!(writer, ": ")?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_log_values() {
        assert_eq!(tf_log_level("DEBUG"), LevelFilter::DEBUG);
        assert_eq!(tf_log_level("off"), LevelFilter::OFF);
        assert_eq!(tf_log_level("json"), LevelFilter::TRACE);
        assert_eq!(tf_log_level("1"), LevelFilter::TRACE);
    }

    #[test]
    fn dependencies_stay_at_warn() {
        let get = |k: &str| (k == "TF_LOG").then(|| "trace".to_string());
        let targets = targets_from_tf_log(&get);
        assert!(targets.would_enable("terraform_provider_mixpanel::protocol", &Level::TRACE));
        assert!(!targets.would_enable("h2::codec", &Level::DEBUG));
        assert!(targets.would_enable("h2::codec", &Level::WARN));
        let quiet = targets_from_tf_log(&|_: &str| None);
        assert!(!quiet.would_enable("terraform_provider_mixpanel", &Level::INFO));
        assert!(quiet.would_enable("terraform_provider_mixpanel", &Level::WARN));
    }
}
