//! Durations written the humantime way (`90d`, `24h`, `1h 30m`) and displayed back in the same
//! form.

use std::time::Duration;

use crate::model::ParseError;

/// The word for "no rotation period".
pub const NEVER: &str = "never";

/// Parses a duration such as `90d`, `24h`, `2w`, `1h 30m` (the `humantime` grammar).
pub fn parse_duration(s: &str) -> Result<Duration, ParseError> {
    humantime::parse_duration(s.trim()).map_err(|e| ParseError::Invalid {
        kind: "duration",
        value: s.to_string(),
        reason: format!("{e}; write it like 90d, 24h, 2w or 1h 30m"),
    })
}

/// Parses a rotation period: a duration, or `never` for a credential that does not rotate.
pub fn parse_optional_period(s: &str) -> Result<Option<Duration>, ParseError> {
    if s.trim().eq_ignore_ascii_case(NEVER) {
        Ok(None)
    } else {
        parse_duration(s).map(Some)
    }
}

/// Formats a duration in the form [`parse_duration`] reads: days, hours, minutes, seconds and
/// milliseconds, largest first, zero parts left out (`90d`, `1d 12h`, `1h 30m`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    let millis = d.subsec_millis();
    if secs == 0 && millis == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400u64), ("h", 3_600), ("m", 60), ("s", 1)] {
        let n = secs / size;
        secs %= size;
        if n > 0 {
            parts.push(format!("{n}{unit}"));
        }
    }
    if millis > 0 {
        parts.push(format!("{millis}ms"));
    }
    parts.join(" ")
}

/// Formats an optional period: `never` for `None`.
pub fn format_optional_period(d: Option<Duration>) -> String {
    d.map(format_duration).unwrap_or_else(|| NEVER.to_string())
}

/// Serde helpers for a `Duration` stored as a humantime string.
pub mod serde_humantime {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}
