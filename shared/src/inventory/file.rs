//! The `inventory.toml` file that `inventory apply -f` reads:
//!
//! ```toml
//! [[credential]]
//! name = "warehouse/fivetran-prod"     # required: the path under creds/
//! kind = "service_account"              # required: service_account | project_secret | project_token
//! integration = "data_pipeline"         # data_pipeline | bi_tool | cohort_sync | reverse_etl | custom (default)
//! projects = [12345, 67890]
//! owner = "data-platform@example.com"   # required
//! created_by = "alice@example.com"
//! used_by = "Fivetran prod connector"
//! purpose = "Export events to the warehouse"
//! rotation_period = "90d"               # default 90d; "never" for no rotation
//! overlap = "24h"                       # default 24h
//! last_rotated = 2026-09-01T00:00:00Z   # optional: TOML date-time, or a string
//! sa_id = 4242                          # optional, service accounts
//! username = "fivetran.1a2b.mp-service-account"
//! role = "analyst"
//! rotate_on = ["admin_removed", "incident", "schedule"]   # optional: the events that may rotate it
//!                                       # (admin_removed, admin_downgraded, incident, schedule, manual);
//!                                       # default: all of them, none for a project token
//! ```
//!
//! Every error names the entry (by name, or by position when the name is missing) and the field.

use std::collections::BTreeSet;

use toml::{Table, Value};

use super::duration::{parse_duration, parse_optional_period};
use super::metadata::parse_datetime;
use super::{CredentialKind, IntegrationType, InventoryEntry, InventoryError, RotateOn};
use crate::model::{ProjectId, ProjectRole, ServiceAccountId};

/// The keys a `[[credential]]` table may hold.
pub const FILE_KEYS: &[&str] = &[
    "name",
    "kind",
    "integration",
    "projects",
    "owner",
    "created_by",
    "used_by",
    "purpose",
    "rotation_period",
    "overlap",
    "last_rotated",
    "last_used",
    "sa_id",
    "username",
    "role",
    "rotate_on",
];

/// A parsed inventory file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryFile {
    pub credentials: Vec<InventoryEntry>,
}

impl std::str::FromStr for InventoryFile {
    type Err = InventoryError;
    fn from_str(s: &str) -> Result<Self, InventoryError> {
        parse_inventory_toml(s).map(|credentials| InventoryFile { credentials })
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

struct Fields<'a> {
    entry: String,
    table: &'a Table,
}

impl Fields<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> InventoryError {
        InventoryError::Field {
            entry: self.entry.clone(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn string(&self, field: &str) -> Result<Option<String>, InventoryError> {
        match self.table.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.err(field, format!("expected a string, found {}", type_name(v)))),
        }
    }

    fn required_string(&self, field: &str) -> Result<String, InventoryError> {
        match self.string(field)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(self.err(field, "must not be empty")),
            None => Err(self.err(field, "missing (required)")),
        }
    }

    fn parsed<T: std::str::FromStr>(&self, field: &str) -> Result<Option<T>, InventoryError>
    where
        T::Err: std::fmt::Display,
    {
        self.string(field)?
            .map(|s| s.parse::<T>().map_err(|e| self.err(field, e.to_string())))
            .transpose()
    }

    fn datetime(
        &self,
        field: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, InventoryError> {
        let text = match self.table.get(field) {
            None => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Datetime(d)) => {
                if d.date.is_some() && d.time.is_some() && d.offset.is_none() {
                    return Err(self.err(
                        field,
                        format!("{d} has no time zone: add Z (UTC) or an offset such as +02:00"),
                    ));
                }
                d.to_string()
            }
            Some(v) => {
                return Err(self.err(
                    field,
                    format!("expected a date-time, found {}", type_name(v)),
                ))
            }
        };
        parse_datetime(&text)
            .map(Some)
            .map_err(|m| self.err(field, m))
    }

    fn id(&self, field: &str, v: &Value) -> Result<u64, InventoryError> {
        match v {
            Value::Integer(i) if *i > 0 => Ok(*i as u64),
            Value::Integer(i) => Err(self.err(field, format!("{i} is not a positive id"))),
            Value::String(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| self.err(field, format!("\"{s}\" is not a numeric id"))),
            v => Err(self.err(
                field,
                format!("expected an integer id, found {}", type_name(v)),
            )),
        }
    }
}

/// Parses an inventory file into entries, each validated, with `next_rotation` computed from
/// `last_rotated`. Their status is `ok` until [`InventoryEntry::refresh`] is called with the
/// current time.
pub fn parse_inventory_toml(text: &str) -> Result<Vec<InventoryEntry>, InventoryError> {
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| InventoryError::Toml(e.to_string()))?;
    for key in doc.keys() {
        if key != "credential" {
            return Err(InventoryError::Toml(format!(
                "unknown top-level key `{key}`: an inventory file holds only [[credential]] tables"
            )));
        }
    }
    let list = match doc.get("credential") {
        None => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(v) => {
            return Err(InventoryError::Toml(format!(
                "`credential` must be an array of tables ([[credential]]), found {}",
                type_name(v)
            )))
        }
    };
    let mut seen = BTreeSet::new();
    let mut entries = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let position = format!("#{}", i + 1);
        let Value::Table(table) = item else {
            return Err(InventoryError::Entry {
                entry: position,
                message: format!("expected a [[credential]] table, found {}", type_name(item)),
            });
        };
        let entry_label = match table.get("name") {
            Some(Value::String(n)) if !n.is_empty() => format!("\"{n}\" ({position})"),
            _ => position.clone(),
        };
        let f = Fields {
            entry: entry_label.clone(),
            table,
        };
        for key in table.keys() {
            if !FILE_KEYS.contains(&key.as_str()) {
                return Err(f.err(
                    key,
                    format!("unknown field; valid fields are: {}", FILE_KEYS.join(", ")),
                ));
            }
        }
        let name = f.required_string("name")?;
        super::validate_name(&name).map_err(|e| f.err("name", e.to_string()))?;
        let kind: CredentialKind = match f.parsed("kind")? {
            Some(k) => k,
            None => {
                return Err(f.err(
                    "kind",
                    format!(
                        "missing (required); valid values are: {}",
                        CredentialKind::NAMES.join(", ")
                    ),
                ))
            }
        };
        let integration: IntegrationType =
            f.parsed("integration")?.unwrap_or(IntegrationType::Custom);
        let mut e = InventoryEntry::new(name.clone(), kind, integration);
        e.owner = f.required_string("owner")?;
        e.created_by = f.string("created_by")?.unwrap_or_default();
        e.used_by = f.string("used_by")?.unwrap_or_default();
        e.purpose = f.string("purpose")?.unwrap_or_default();
        e.projects = match table.get("projects") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| f.id("projects", v).map(ProjectId))
                .collect::<Result<_, _>>()?,
            // Roles per project: `projects = { "12345" = "analyst", "67890" = "admin" }`.
            Some(Value::Table(t)) => {
                let mut grants = std::collections::BTreeMap::new();
                for (p, r) in t {
                    let field = format!("projects.{p}");
                    let id = f.id(&field, &Value::String(p.clone()))?;
                    let Value::String(r) = r else {
                        return Err(f.err(
                            &field,
                            format!("expected a role name, found {}", type_name(r)),
                        ));
                    };
                    let role: ProjectRole = r
                        .parse()
                        .map_err(|e: crate::model::ParseError| f.err(&field, e.to_string()))?;
                    grants.insert(ProjectId(id), role);
                }
                e.project_roles = grants;
                e.project_roles.keys().copied().collect()
            }
            Some(v) => vec![ProjectId(f.id("projects", v)?)],
        };
        if let Some(p) = f.string("rotation_period")? {
            e.rotation_period = parse_optional_period(&p)
                .map_err(|err| f.err("rotation_period", err.to_string()))?;
        }
        if let Some(o) = f.string("overlap")? {
            e.overlap = parse_duration(&o).map_err(|err| f.err("overlap", err.to_string()))?;
        }
        e.last_rotated = f.datetime("last_rotated")?;
        e.last_used = f.datetime("last_used")?;
        e.sa_id = table
            .get("sa_id")
            .map(|v| f.id("sa_id", v).map(ServiceAccountId))
            .transpose()?;
        e.username = f.parsed("username")?;
        e.role = f.parsed("role")?;
        e.rotate_on = match table.get("rotate_on") {
            None => None,
            Some(Value::Array(items)) => {
                let mut list: Vec<RotateOn> = Vec::new();
                for v in items {
                    let Value::String(t) = v else {
                        return Err(f.err(
                            "rotate_on",
                            format!("expected a list of strings, found {}", type_name(v)),
                        ));
                    };
                    let t: RotateOn = t
                        .parse()
                        .map_err(|e: crate::model::ParseError| f.err("rotate_on", e.to_string()))?;
                    if !list.contains(&t) {
                        list.push(t);
                    }
                }
                Some(list)
            }
            Some(v) => {
                return Err(f.err(
                    "rotate_on",
                    format!(
                        "expected a list such as [\"schedule\", \"incident\"], found {}",
                        type_name(v)
                    ),
                ))
            }
        };
        if kind != CredentialKind::ServiceAccount {
            for field in ["sa_id", "username", "role"] {
                if table.contains_key(field) {
                    return Err(f.err(
                        field,
                        format!("only service accounts have one, not a {kind}"),
                    ));
                }
            }
        }
        e.next_rotation = e.due_date();
        e.validate().map_err(|err| match err {
            InventoryError::Field { field, message, .. } => InventoryError::Field {
                entry: entry_label.clone(),
                field,
                message,
            },
            other => other,
        })?;
        if !seen.insert(name.clone()) {
            return Err(f.err("name", format!("\"{name}\" appears more than once")));
        }
        entries.push(e);
    }
    Ok(entries)
}
