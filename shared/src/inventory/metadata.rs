//! An entry as Vault KV v2 `custom_metadata`: a map of strings with at most 64 keys and values
//! of 1 to 512 characters. Empty fields are stored as a sentinel and read back as empty.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::duration::{format_duration, format_optional_period, parse_duration};
use super::{
    parse_optional_period, CredentialKind, CredentialStatus, IntegrationType, InventoryEntry,
    InventoryError, RotateOn, DEFAULT_OVERLAP, DEFAULT_ROTATION_PERIOD,
};

/// What an entry without its own `rotate_on` stores (its kind's default applies).
pub const DEFAULT_SENTINEL: &str = "default";

/// `rotate_on` as a metadata value: `default`, `none`, or a comma-separated list.
fn rotate_on_value(v: &Option<Vec<RotateOn>>) -> String {
    match v {
        None => DEFAULT_SENTINEL.into(),
        Some(list) if list.is_empty() => EMPTY_SENTINEL.into(),
        Some(list) => list
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Parses a `rotate_on` metadata value.
pub fn parse_rotate_on(v: &str) -> Result<Option<Vec<RotateOn>>, ParseError> {
    match v.trim() {
        "" | DEFAULT_SENTINEL => Ok(None),
        EMPTY_SENTINEL => Ok(Some(Vec::new())),
        list => {
            let mut out = Vec::new();
            for t in list.split(',') {
                let t: RotateOn = t.parse()?;
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            Ok(Some(out))
        }
    }
}
use crate::model::{ParseError, ProjectId, ProjectRole};

/// Parses `project_roles` as stored: `<project id>=<role>` pairs separated by commas.
pub fn parse_project_roles(v: &str) -> Result<BTreeMap<ProjectId, ProjectRole>, String> {
    let mut out = BTreeMap::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (p, r) = pair
            .split_once('=')
            .ok_or_else(|| format!("\"{pair}\" is not <project id>=<role>"))?;
        let p: ProjectId = p.trim().parse().map_err(|e: ParseError| e.to_string())?;
        let r: ProjectRole = r.parse().map_err(|e: ParseError| e.to_string())?;
        out.insert(p, r);
    }
    Ok(out)
}

/// Vault's limit on the number of `custom_metadata` keys.
pub const CUSTOM_METADATA_MAX_KEYS: usize = 64;
/// Vault's limit on the length of a `custom_metadata` value (it must also be non-empty).
pub const CUSTOM_METADATA_MAX_VALUE_LEN: usize = 512;
/// Vault's limit on the length of a `custom_metadata` key.
pub const CUSTOM_METADATA_MAX_KEY_LEN: usize = 128;
/// What an empty text field, list or absent id is stored as.
pub const EMPTY_SENTINEL: &str = "none";
/// What an absent date is stored as.
pub const NEVER_SENTINEL: &str = "never";

/// The keys an entry writes, in a stable order.
pub const METADATA_KEYS: &[&str] = &[
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
    "next_rotation",
    "status",
    "status_reason",
    "last_used",
    "sa_id",
    "username",
    "role",
    "project_roles",
    "rotation_id",
    "last_trigger",
    "rotate_on",
];

fn text(v: &str) -> String {
    if v.is_empty() {
        EMPTY_SENTINEL.to_string()
    } else {
        v.to_string()
    }
}

fn opt_text<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|v| text(&v.to_string()))
        .unwrap_or_else(|| EMPTY_SENTINEL.into())
}

fn date(v: Option<DateTime<Utc>>) -> String {
    v.map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| NEVER_SENTINEL.into())
}

/// Parses an RFC 3339 timestamp or a plain `YYYY-MM-DD` date (midnight UTC).
pub(crate) fn parse_datetime(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(dt.and_utc());
        }
    }
    Err(format!(
        "\"{s}\" is not a date: use RFC 3339 (2026-01-31T09:00:00Z) or YYYY-MM-DD"
    ))
}

impl InventoryEntry {
    /// The entry as `custom_metadata`. Fails if a value is longer than Vault allows.
    pub fn to_custom_metadata(&self) -> Result<BTreeMap<String, String>, InventoryError> {
        let projects = if self.projects.is_empty() {
            EMPTY_SENTINEL.to_string()
        } else {
            self.projects
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        // Only roles declared per project: an entry of the earlier shape (one `role`) stays in
        // it, and the rotator keeps treating it so.
        let project_roles = if !self.has_project_roles() {
            EMPTY_SENTINEL.to_string()
        } else {
            self.grants()
                .iter()
                .map(|(p, r)| format!("{p}={r}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let pairs: [(&str, String); 21] = [
            ("kind", self.kind.to_string()),
            ("integration", self.integration.to_string()),
            ("projects", projects),
            ("owner", text(&self.owner)),
            ("created_by", text(&self.created_by)),
            ("used_by", text(&self.used_by)),
            ("purpose", text(&self.purpose)),
            (
                "rotation_period",
                format_optional_period(self.rotation_period),
            ),
            ("overlap", format_duration(self.overlap)),
            ("last_rotated", date(self.last_rotated)),
            ("next_rotation", date(self.next_rotation)),
            ("status", self.status.to_string()),
            ("status_reason", opt_text(&self.status_reason)),
            ("last_used", date(self.last_used)),
            ("sa_id", opt_text(&self.sa_id)),
            ("username", opt_text(&self.username)),
            ("role", opt_text(&self.role)),
            ("project_roles", project_roles),
            ("rotation_id", opt_text(&self.rotation_id)),
            ("last_trigger", opt_text(&self.last_trigger)),
            ("rotate_on", rotate_on_value(&self.rotate_on)),
        ];
        let mut map = BTreeMap::new();
        for (key, value) in pairs {
            let len = value.chars().count();
            if len > CUSTOM_METADATA_MAX_VALUE_LEN {
                return Err(InventoryError::Field {
                    entry: self.name.clone(),
                    field: key.into(),
                    message: format!(
                        "is {len} characters long; Vault custom_metadata values hold at most {CUSTOM_METADATA_MAX_VALUE_LEN}"
                    ),
                });
            }
            map.insert(key.to_string(), value);
        }
        Ok(map)
    }

    /// Reads an entry back from `custom_metadata`. `kind` is required; other missing keys take
    /// their defaults; keys this module does not know (a human's `review_ticket`) are ignored.
    pub fn from_custom_metadata(
        name: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<InventoryEntry, InventoryError> {
        let err = |field: &str, message: String| InventoryError::Field {
            entry: name.to_string(),
            field: field.into(),
            message,
        };
        // A value, with the sentinel (and absence) mapped to None.
        let get = |key: &str| -> Option<&str> {
            map.get(key)
                .map(|v| v.as_str())
                .filter(|v| !v.is_empty() && *v != EMPTY_SENTINEL && *v != NEVER_SENTINEL)
        };
        let text = |key: &str| get(key).unwrap_or_default().to_string();
        let date = |key: &str| -> Result<Option<DateTime<Utc>>, InventoryError> {
            get(key)
                .map(parse_datetime)
                .transpose()
                .map_err(|m| err(key, m))
        };
        fn parsed<T: std::str::FromStr>(
            v: Option<&str>,
        ) -> Result<Option<T>, <T as std::str::FromStr>::Err> {
            v.map(str::parse).transpose()
        }

        let kind: CredentialKind = map
            .get("kind")
            .ok_or_else(|| {
                err(
                    "kind",
                    format!(
                        "missing: not an inventory entry (valid kinds: {})",
                        CredentialKind::NAMES.join(", ")
                    ),
                )
            })?
            .parse()
            .map_err(|e: ParseError| err("kind", e.to_string()))?;
        let mut entry = InventoryEntry::new(name, kind, IntegrationType::Custom);
        if let Some(v) = get("integration") {
            entry.integration = v
                .parse()
                .map_err(|e: ParseError| err("integration", e.to_string()))?;
        }
        if let Some(v) = get("projects") {
            entry.projects = v
                .split(',')
                .map(|p| p.trim().parse::<ProjectId>())
                .collect::<Result<_, _>>()
                .map_err(|e| err("projects", e.to_string()))?;
        }
        entry.owner = text("owner");
        entry.created_by = text("created_by");
        entry.used_by = text("used_by");
        entry.purpose = text("purpose");
        entry.rotation_period = match map.get("rotation_period") {
            None => match kind {
                CredentialKind::ProjectToken => None,
                _ => Some(DEFAULT_ROTATION_PERIOD),
            },
            Some(v) => {
                parse_optional_period(v).map_err(|e| err("rotation_period", e.to_string()))?
            }
        };
        entry.overlap = match get("overlap") {
            // A project secret or token is replaced in one step: whatever an older entry
            // recorded, it has no overlap.
            _ if !entry.kind.has_overlap() => std::time::Duration::ZERO,
            None => DEFAULT_OVERLAP,
            Some(v) => parse_duration(v).map_err(|e| err("overlap", e.to_string()))?,
        };
        entry.last_rotated = date("last_rotated")?;
        entry.next_rotation = date("next_rotation")?;
        entry.status = match get("status") {
            None => CredentialStatus::Ok,
            Some(v) => v
                .parse()
                .map_err(|e: ParseError| err("status", e.to_string()))?,
        };
        entry.status_reason = get("status_reason").map(str::to_string);
        entry.last_used = date("last_used")?;
        entry.sa_id = parsed(get("sa_id")).map_err(|e: ParseError| err("sa_id", e.to_string()))?;
        entry.username =
            parsed(get("username")).map_err(|e: ParseError| err("username", e.to_string()))?;
        entry.role = parsed(get("role")).map_err(|e: ParseError| err("role", e.to_string()))?;
        if let Some(v) = get("project_roles") {
            entry.project_roles = parse_project_roles(v).map_err(|m| err("project_roles", m))?;
            // A project with a role is one of the entry's projects, whatever `projects` says.
            for p in entry.project_roles.keys() {
                if !entry.projects.contains(p) {
                    entry.projects.push(*p);
                }
            }
        }
        entry.rotation_id = get("rotation_id").map(str::to_string);
        entry.last_trigger = get("last_trigger").map(str::to_string);
        entry.rotate_on = match map.get("rotate_on") {
            None => None,
            Some(v) => parse_rotate_on(v).map_err(|e| err("rotate_on", e.to_string()))?,
        };
        Ok(entry)
    }
}
