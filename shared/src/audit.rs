//! Audit-log files: the CSV and NDJSON forms of audit events, written one event at a time so
//! an export of any size streams. The emulator's export route and the rotator's `audit export`
//! and offboarding evidence write the same columns.

use std::io::Write;

use crate::api::wire::AuditExportFormat;
use crate::csv_cells::SafeCsvWriter;
use crate::model::AuditEvent;

/// The CSV columns, in order. Every cell goes through [`crate::csv_cells::csv_safe`].
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "created",
    "type",
    "user_email",
    "project_id",
    "payload",
];

/// Writes events in one format; the CSV header goes out with the first call to
/// [`EventWriter::header`].
pub struct EventWriter<W: Write> {
    format: AuditExportFormat,
    csv: Option<SafeCsvWriter<W>>,
    raw: Option<W>,
}

/// Why an event could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write the audit events: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write the audit events as CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot encode an audit event: {0}")]
    Json(#[from] serde_json::Error),
}

impl<W: Write> EventWriter<W> {
    /// A writer of `format` over `out`; for CSV the header row is written at once.
    pub fn new(format: AuditExportFormat, out: W) -> Result<Self, WriteError> {
        match format {
            AuditExportFormat::Csv => {
                let mut w = SafeCsvWriter::new(out);
                w.write_record(CSV_COLUMNS)?;
                Ok(EventWriter {
                    format,
                    csv: Some(w),
                    raw: None,
                })
            }
            AuditExportFormat::Ndjson => Ok(EventWriter {
                format,
                csv: None,
                raw: Some(out),
            }),
        }
    }

    pub fn format(&self) -> AuditExportFormat {
        self.format
    }

    /// Writes one event.
    pub fn write(&mut self, e: &AuditEvent) -> Result<(), WriteError> {
        if let Some(w) = self.csv.as_mut() {
            w.write_record([
                e.id.clone(),
                e.created
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                    .unwrap_or_default(),
                e.kind(),
                e.actor().to_string(),
                e.project_id.clone().unwrap_or_default(),
                e.payload().to_string(),
            ])?;
        } else if let Some(w) = self.raw.as_mut() {
            serde_json::to_writer(&mut *w, e)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Flushes and returns the output.
    pub fn finish(self) -> Result<W, WriteError> {
        if let Some(w) = self.csv {
            return Ok(w.into_inner()?);
        }
        let mut w = self
            .raw
            .ok_or_else(|| WriteError::Io(std::io::Error::other("no output")))?;
        w.flush()?;
        Ok(w)
    }
}

/// Whether an event is by or about `email`: its actor, or an `email` in its payload (the
/// person whose membership, grant, login or team seat it records). Case-insensitive.
pub fn concerns(e: &AuditEvent, email: &str) -> bool {
    if e.actor().eq_ignore_ascii_case(email) {
        return true;
    }
    let mentions =
        |v: &serde_json::Value| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(email));
    match e.payload() {
        serde_json::Value::Object(m) => {
            m.get("email").is_some_and(mentions)
                || m.get("user_email").is_some_and(mentions)
                || m.get("emails")
                    .and_then(|v| v.as_array())
                    .is_some_and(|a| a.iter().any(mentions))
                || m.get("users")
                    .and_then(|v| v.as_array())
                    .is_some_and(|a| a.iter().any(mentions))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProjectId;
    use serde_json::json;

    fn event(actor: &str, payload: serde_json::Value) -> AuditEvent {
        AuditEvent::new(
            "7".into(),
            "session.logged_in",
            "2026-01-02T03:04:05Z".parse().unwrap(),
            actor,
            None,
            Some(ProjectId(3)),
            payload,
        )
    }

    #[test]
    fn csv_and_ndjson_forms() {
        let e = event(
            "ana@x.example",
            json!({"email": "ana@x.example", "login_method": "sso"}),
        );
        let mut w = EventWriter::new(AuditExportFormat::Csv, Vec::new()).unwrap();
        w.write(&e).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("id,created,type,user_email,project_id,payload")
        );
        let row = lines.next().unwrap();
        assert!(
            row.starts_with("7,2026-01-02T03:04:05.000000Z,session.logged_in,ana@x.example,3,"),
            "{row}"
        );
        let mut w = EventWriter::new(AuditExportFormat::Ndjson, Vec::new()).unwrap();
        w.write(&e).unwrap();
        w.write(&e).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(text.lines().count(), 2);
        let back: AuditEvent = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn csv_cells_that_would_run_as_formulas_are_quoted() {
        let e = event(
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            json!({"email": "ana@x.example"}),
        );
        let mut w = EventWriter::new(AuditExportFormat::Csv, Vec::new()).unwrap();
        w.write(&e).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let row = rd.records().next().unwrap().unwrap();
        assert_eq!(&row[3], "'=HYPERLINK(\"http://evil.example\",\"x\")");
    }

    #[test]
    fn concerns_matches_actor_and_payload_addresses() {
        assert!(concerns(
            &event("Ana@X.example", json!({})),
            "ana@x.example"
        ));
        assert!(concerns(
            &event("sa.mp-service-account", json!({"email": "ana@x.example"})),
            "ANA@x.example"
        ));
        assert!(concerns(
            &event("sa", json!({"users": ["bo@x.example", "ana@x.example"]})),
            "ana@x.example"
        ));
        assert!(!concerns(
            &event("sa", json!({"email": "anabel@x.example"})),
            "ana@x.example"
        ));
    }
}
