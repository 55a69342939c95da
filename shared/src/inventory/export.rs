//! Inventory exports for reviews and audits: CSV, JSON (an array of objects) and Markdown (a
//! pipe table). The CSV and Markdown columns are the inventory table's; the JSON objects carry
//! every field. No export ever contains a secret: entries do not hold any.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::duration::{format_duration, format_optional_period};
use super::{InventoryEntry, InventoryError};
use crate::model::ParseError;

/// The columns of the CSV and Markdown exports, in order.
pub const COLUMNS: [&str; 13] = [
    "Name",
    "Type",
    "Integration",
    "Created by",
    "Used by",
    "Purpose",
    "Project(s)",
    "Owner",
    "Rotation period",
    "Last rotated",
    "Next rotation",
    "Status",
    "Last used",
];

/// An export format, by its name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
    Markdown,
}

impl ExportFormat {
    pub const NAMES: &'static [&'static str] = &["csv", "json", "markdown"];

    /// Renders entries in this format.
    pub fn render(self, entries: &[InventoryEntry]) -> Result<String, InventoryError> {
        match self {
            ExportFormat::Csv => to_csv(entries),
            ExportFormat::Json => to_json(entries),
            ExportFormat::Markdown => Ok(to_markdown(entries)),
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::Markdown => "markdown",
        })
    }
}

impl FromStr for ExportFormat {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            "markdown" | "md" => Ok(ExportFormat::Markdown),
            _ => Err(ParseError::UnknownName {
                kind: "export format",
                value: s.to_string(),
                valid: Self::NAMES,
            }),
        }
    }
}

fn stamp(d: Option<DateTime<Utc>>) -> String {
    d.map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn projects(e: &InventoryEntry) -> String {
    e.projects
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row of the table, as text.
fn row(e: &InventoryEntry) -> [String; 13] {
    [
        e.name.clone(),
        e.kind.to_string(),
        e.integration.to_string(),
        e.created_by.clone(),
        e.used_by.clone(),
        e.purpose.clone(),
        projects(e),
        e.owner.clone(),
        format_optional_period(e.rotation_period),
        stamp(e.last_rotated),
        stamp(e.next_rotation),
        e.status.to_string(),
        stamp(e.last_used),
    ]
}

pub use crate::csv_cells::csv_safe;

/// CSV with a header row of [`COLUMNS`]; dates in RFC 3339, empty cells for unknown values,
/// several projects separated by spaces; cells that would start a formula are neutralized
/// with [`csv_safe`].
pub fn to_csv(entries: &[InventoryEntry]) -> Result<String, InventoryError> {
    let mut w = crate::csv_cells::SafeCsvWriter::in_memory();
    let ex = |e: csv::Error| InventoryError::Export(e.to_string());
    w.write_record(COLUMNS).map_err(ex)?;
    for e in entries {
        w.write_record(row(e)).map_err(ex)?;
    }
    w.into_string()
        .map_err(|e| InventoryError::Export(e.to_string()))
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    name: &'a str,
    kind: &'a str,
    integration: &'a str,
    created_by: &'a str,
    used_by: &'a str,
    purpose: &'a str,
    projects: &'a [crate::model::ProjectId],
    owner: &'a str,
    rotation_period: String,
    overlap: String,
    last_rotated: Option<String>,
    next_rotation: Option<String>,
    status: &'a str,
    status_reason: Option<&'a str>,
    last_used: Option<String>,
    sa_id: Option<crate::model::ServiceAccountId>,
    username: Option<&'a str>,
    role: Option<&'a str>,
    /// The role on each project (service accounts), keyed by project id.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    project_roles: std::collections::BTreeMap<String, &'static str>,
    rotation_id: Option<&'a str>,
    last_trigger: Option<&'a str>,
}

fn opt_stamp(d: Option<DateTime<Utc>>) -> Option<String> {
    d.map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// A JSON array with one object per entry (every field; durations as `90d`, dates in RFC 3339,
/// `null` for unknown values).
pub fn to_json(entries: &[InventoryEntry]) -> Result<String, InventoryError> {
    let rows: Vec<JsonEntry<'_>> = entries
        .iter()
        .map(|e| JsonEntry {
            name: &e.name,
            kind: e.kind.as_str(),
            integration: e.integration.as_str(),
            created_by: &e.created_by,
            used_by: &e.used_by,
            purpose: &e.purpose,
            projects: &e.projects,
            owner: &e.owner,
            rotation_period: format_optional_period(e.rotation_period),
            overlap: if e.kind.has_overlap() {
                format_duration(e.overlap)
            } else {
                String::new()
            },
            last_rotated: opt_stamp(e.last_rotated),
            next_rotation: opt_stamp(e.next_rotation),
            status: e.status.as_str(),
            status_reason: e.status_reason.as_deref(),
            last_used: opt_stamp(e.last_used),
            sa_id: e.sa_id,
            username: e.username.as_ref().map(|u| u.as_str()),
            role: e.role.map(|r| r.as_str()),
            project_roles: if e.kind == super::CredentialKind::ServiceAccount {
                e.grants()
                    .into_iter()
                    .map(|(p, r)| (p.to_string(), r.as_str()))
                    .collect()
            } else {
                Default::default()
            },
            rotation_id: e.rotation_id.as_deref(),
            last_trigger: e.last_trigger.as_deref(),
        })
        .collect();
    serde_json::to_string_pretty(&rows).map_err(|e| InventoryError::Export(e.to_string()))
}

fn md_cell(s: &str) -> String {
    let s = s
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ");
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

/// A Markdown pipe table with the [`COLUMNS`]; dates as `YYYY-MM-DD`, `-` for unknown values.
pub fn to_markdown(entries: &[InventoryEntry]) -> String {
    let mut out = String::new();
    out.push_str("| ");
    out.push_str(&COLUMNS.join(" | "));
    out.push_str(" |\n|");
    for _ in COLUMNS {
        out.push_str("---|");
    }
    out.push('\n');
    let day = |d: Option<DateTime<Utc>>| {
        d.map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    for e in entries {
        let mut cells = row(e);
        cells[9] = day(e.last_rotated);
        cells[10] = day(e.next_rotation);
        cells[12] = day(e.last_used);
        let cells: Vec<String> = cells.iter().map(|c| md_cell(c)).collect();
        out.push_str("| ");
        out.push_str(&cells.join(" | "));
        out.push_str(" |\n");
    }
    out
}
