use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::*;
use crate::model::{ProjectId, ProjectRole, ServiceAccountId};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamp")
        .with_timezone(&Utc)
}

const DAY: Duration = Duration::from_secs(86_400);

fn sample() -> InventoryEntry {
    let mut e = InventoryEntry::new(
        "warehouse/fivetran-prod",
        CredentialKind::ServiceAccount,
        IntegrationType::DataPipeline,
    );
    e.projects = vec![ProjectId(12345), ProjectId(67890)];
    e.owner = "data-platform@example.com".into();
    e.created_by = "alice@example.com".into();
    e.used_by = "Fivetran prod connector".into();
    e.purpose = "Export events to the warehouse".into();
    e.rotation_period = Some(90 * DAY);
    e.overlap = Duration::from_secs(24 * 3600);
    e.last_rotated = Some(at("2026-09-01T00:00:00Z"));
    e.next_rotation = e.due_date();
    e.last_used = Some(at("2026-11-20T08:30:00Z"));
    e.sa_id = Some(ServiceAccountId(4242));
    e.username = Some(
        "fivetran.1a2b.mp-service-account"
            .parse()
            .expect("username"),
    );
    e.role = Some(ProjectRole::Analyst);
    e
}

// ---- durations ----

#[test]
fn durations_parse_and_display_in_humantime_form() {
    assert_eq!(parse_duration("90d").unwrap(), 90 * DAY);
    assert_eq!(parse_duration("24h").unwrap(), DAY);
    assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
    assert_eq!(parse_duration("2w").unwrap(), 14 * DAY);
    assert_eq!(format_duration(90 * DAY), "90d");
    assert_eq!(format_duration(Duration::from_secs(36 * 3600)), "1d 12h");
    assert_eq!(format_duration(Duration::from_secs(5400)), "1h 30m");
    assert_eq!(format_duration(Duration::ZERO), "0s");
    assert_eq!(format_duration(Duration::from_millis(1500)), "1s 500ms");
    for d in ["90d", "1d 12h", "1h 30m", "45s", "7d 1m"] {
        assert_eq!(format_duration(parse_duration(d).unwrap()), d);
    }
    assert_eq!(parse_optional_period("never").unwrap(), None);
    assert_eq!(parse_optional_period("Never").unwrap(), None);
    assert_eq!(parse_optional_period("30d").unwrap(), Some(30 * DAY));
}

#[test]
fn duration_errors_say_what_was_wrong_and_how_to_write_it() {
    for bad in ["90", "ninety days", "90x", "", "-5d"] {
        let err = parse_duration(bad).expect_err(bad).to_string();
        assert!(err.contains("invalid duration"), "{err}");
        assert!(err.contains("write it like 90d, 24h"), "{err}");
    }
    let err = parse_duration("90x").unwrap_err().to_string();
    assert!(err.contains("\"90x\""), "{err}");
    assert!(err.contains("unknown time unit"), "{err}");
}

// ---- enums ----

#[test]
fn enums_parse_wire_names_and_list_the_valid_ones() {
    assert_eq!(
        "service_account".parse::<CredentialKind>().unwrap(),
        CredentialKind::ServiceAccount
    );
    assert_eq!(
        "reverse_etl".parse::<IntegrationType>().unwrap(),
        IntegrationType::ReverseEtl
    );
    assert_eq!(
        "manual_rotation_required"
            .parse::<CredentialStatus>()
            .unwrap(),
        CredentialStatus::ManualRotationRequired
    );
    let err = "api_key".parse::<CredentialKind>().unwrap_err();
    assert!(matches!(err, crate::model::ParseError::UnknownName { .. }));
    assert_eq!(
        err.to_string(),
        "unknown credential kind \"api_key\"; valid values are: service_account, project_secret, project_token"
    );
    let err = "etl".parse::<IntegrationType>().unwrap_err().to_string();
    assert_eq!(err, "unknown integration type \"etl\"; valid values are: data_pipeline, bi_tool, cohort_sync, reverse_etl, custom");
    for s in CredentialStatus::ALL {
        assert_eq!(s.as_str().parse::<CredentialStatus>().unwrap(), *s);
    }
}

#[test]
fn names_are_vault_path_segments() {
    for ok in ["fivetran", "warehouse/fivetran-prod", "a.b_c-d/e"] {
        validate_name(ok).expect(ok);
    }
    for bad in [
        "",
        "/x",
        "x/",
        "a//b",
        "a/../b",
        "has space",
        "ümlaut",
        "a?b",
    ] {
        assert!(validate_name(bad).is_err(), "{bad:?} accepted");
    }
}

// ---- jitter and due dates ----

#[test]
fn jitter_is_deterministic_and_bounded() {
    let last = at("2026-09-01T00:00:00Z");
    let period = 90 * DAY;
    let a = jitter_for("fivetran", last, period);
    assert_eq!(
        a,
        jitter_for("fivetran", last, period),
        "same inputs, same jitter"
    );
    // Bounded by 12 hours for long periods (5 % of 90 days is 4.5 days).
    let max = TimeDelta::hours(12);
    let mut distinct = std::collections::BTreeSet::new();
    for i in 0..500 {
        let j = jitter_for(&format!("cred-{i}"), last, period);
        assert!(j >= -max && j <= max, "{j} out of bounds");
        distinct.insert(j.num_seconds());
    }
    assert!(
        distinct.len() > 400,
        "jitter should spread: {}",
        distinct.len()
    );
    // Both signs occur.
    assert!(distinct.iter().any(|s| *s < 0) && distinct.iter().any(|s| *s > 0));
    // 5 % for short periods: 1 day -> at most 72 minutes.
    let max_short = TimeDelta::minutes(72);
    for i in 0..200 {
        let j = jitter_for(&format!("c{i}"), last, DAY);
        assert!(j >= -max_short && j <= max_short, "{j}");
    }
    assert_eq!(max_jitter_for(DAY), Duration::from_secs(72 * 60));
    assert_eq!(max_jitter_for(90 * DAY), Duration::from_secs(12 * 3600));
    // A new rotation time gives a new (but again stable) jitter.
    let other = at("2026-12-01T00:00:00Z");
    assert_eq!(
        jitter_for("fivetran", other, period),
        jitter_for("fivetran", other, period)
    );
    // Zero-length jitter for tiny periods.
    assert_eq!(
        jitter_for("x", last, Duration::from_secs(10)),
        TimeDelta::zero()
    );
}

#[test]
fn due_date_is_last_rotated_plus_period_plus_jitter() {
    let e = sample();
    let last = e.last_rotated.unwrap();
    let due = e.due_date().unwrap();
    let expected = last + TimeDelta::days(90) + e.jitter().unwrap();
    assert_eq!(due, expected);
    assert!((due - (last + TimeDelta::days(90))).abs() <= TimeDelta::hours(12));
    let mut never = e.clone();
    never.last_rotated = None;
    assert_eq!(never.due_date(), None);
    let mut no_period = e;
    no_period.rotation_period = None;
    assert_eq!(no_period.due_date(), None);
}

// ---- status ----

#[test]
fn status_follows_the_due_date_and_grace() {
    let e = sample();
    let due = e.next_rotation.unwrap();
    assert_eq!(e.grace(), Some(Duration::from_secs(24 * 3600)));
    let s = |now| e.compute_status(now).0;
    assert_eq!(s(due - TimeDelta::seconds(1)), CredentialStatus::Ok);
    assert_eq!(e.compute_status(due - TimeDelta::days(30)).1, None);
    assert_eq!(s(due), CredentialStatus::Due);
    assert_eq!(s(due + TimeDelta::hours(23)), CredentialStatus::Due);
    assert_eq!(s(due + TimeDelta::hours(24)), CredentialStatus::Overdue);
    let (_, reason) = e.compute_status(due + TimeDelta::days(3));
    assert!(reason.unwrap().starts_with("overdue since"));

    // Grace is 10 % of short periods.
    let mut short = sample();
    short.rotation_period = Some(Duration::from_secs(10 * 3600));
    short.overlap = Duration::from_secs(600);
    short.next_rotation = short.due_date();
    let due = short.next_rotation.unwrap();
    assert_eq!(short.grace(), Some(Duration::from_secs(3600)));
    assert_eq!(
        short.compute_status(due + TimeDelta::minutes(59)).0,
        CredentialStatus::Due
    );
    assert_eq!(
        short.compute_status(due + TimeDelta::minutes(60)).0,
        CredentialStatus::Overdue
    );
}

#[test]
fn status_special_cases() {
    let now = at("2027-06-01T00:00:00Z");
    // Journal-driven statuses are kept.
    let mut e = sample();
    e.status = CredentialStatus::NeedsHuman;
    e.status_reason = Some("create failed 5 times".into());
    assert_eq!(
        e.compute_status(now),
        (
            CredentialStatus::NeedsHuman,
            Some("create failed 5 times".into())
        )
    );
    // Never rotated: due, with a reason.
    let mut e = sample();
    e.last_rotated = None;
    e.next_rotation = None;
    let (status, reason) = e.compute_status(now);
    assert_eq!(status, CredentialStatus::Due);
    assert!(reason.unwrap().contains("never rotated"));
    // No period: always ok.
    let mut e = sample();
    e.rotation_period = None;
    e.next_rotation = None;
    assert_eq!(e.compute_status(now).0, CredentialStatus::Ok);
    // A due project secret needs a person.
    let mut e = InventoryEntry::new(
        "legacy-secret",
        CredentialKind::ProjectSecret,
        IntegrationType::BiTool,
    );
    e.projects = vec![ProjectId(1)];
    e.last_rotated = Some(at("2026-01-01T00:00:00Z"));
    e.next_rotation = e.due_date();
    let due = e.next_rotation.unwrap();
    let (status, reason) = e.compute_status(due + TimeDelta::hours(1));
    assert_eq!(status, CredentialStatus::ManualRotationRequired);
    assert!(reason.unwrap().contains("no API to reset a project secret"));
    assert_eq!(
        e.compute_status(due + TimeDelta::days(2)).0,
        CredentialStatus::Overdue
    );
}

#[test]
fn refresh_and_record_rotation() {
    let mut e = sample();
    let now = e.next_rotation.unwrap() + TimeDelta::hours(1);
    e.refresh(now);
    assert_eq!(e.status, CredentialStatus::Due);
    e.record_rotation(now, Some("01JABC".into()), Some("schedule".into()));
    assert_eq!(e.status, CredentialStatus::Ok);
    assert_eq!(e.status_reason, None);
    assert_eq!(e.last_rotated, Some(now));
    assert_eq!(e.next_rotation, e.due_date());
    assert!(e.next_rotation.unwrap() > now + TimeDelta::days(89));
    assert_eq!(e.rotation_id.as_deref(), Some("01JABC"));
}

// ---- custom_metadata ----

#[test]
fn metadata_round_trip_within_vault_limits() {
    let e = sample();
    let map = e.to_custom_metadata().unwrap();
    assert!(map.len() <= CUSTOM_METADATA_MAX_KEYS);
    for (k, v) in &map {
        assert!(!k.is_empty() && k.len() <= CUSTOM_METADATA_MAX_KEY_LEN);
        assert!(
            !v.is_empty() && v.chars().count() <= CUSTOM_METADATA_MAX_VALUE_LEN,
            "{k}={v:?}"
        );
    }
    assert_eq!(map["kind"], "service_account");
    assert_eq!(map["projects"], "12345,67890");
    assert_eq!(map["rotation_period"], "90d");
    assert_eq!(map["overlap"], "1d");
    assert_eq!(map["last_rotated"], "2026-09-01T00:00:00Z");
    assert_eq!(map["status_reason"], EMPTY_SENTINEL);
    assert_eq!(
        map.keys().map(String::as_str).collect::<Vec<_>>().len(),
        METADATA_KEYS.len()
    );
    let back = InventoryEntry::from_custom_metadata(&e.name, &map).unwrap();
    assert_eq!(back, e);
}

#[test]
fn empty_fields_become_sentinels_and_come_back_empty() {
    let mut e = InventoryEntry::new(
        "bare",
        CredentialKind::ProjectToken,
        IntegrationType::Custom,
    );
    e.projects = vec![];
    let map = e.to_custom_metadata().unwrap();
    assert_eq!(map["owner"], EMPTY_SENTINEL);
    assert_eq!(map["purpose"], EMPTY_SENTINEL);
    assert_eq!(map["projects"], EMPTY_SENTINEL);
    assert_eq!(map["sa_id"], EMPTY_SENTINEL);
    assert_eq!(map["last_rotated"], NEVER_SENTINEL);
    assert_eq!(map["rotation_period"], NEVER);
    assert!(map.values().all(|v| !v.is_empty()));
    let back = InventoryEntry::from_custom_metadata("bare", &map).unwrap();
    assert_eq!(back, e);
    assert_eq!(back.owner, "");
    assert_eq!(back.last_rotated, None);
    assert_eq!(back.rotation_period, None);
}

#[test]
fn metadata_values_over_512_characters_are_refused() {
    let mut e = sample();
    e.purpose = "x".repeat(513);
    let err = e.to_custom_metadata().unwrap_err().to_string();
    assert_eq!(
        err,
        "credential warehouse/fivetran-prod: field `purpose`: is 513 characters long; Vault custom_metadata values hold at most 512"
    );
    e.purpose = "é".repeat(512);
    e.to_custom_metadata().expect("512 characters fit");
}

#[test]
fn metadata_errors_name_the_field_and_unknown_keys_are_ignored() {
    let mut map = sample().to_custom_metadata().unwrap();
    map.insert("review_ticket".into(), "SEC-42".into());
    InventoryEntry::from_custom_metadata("x", &map).expect("extra keys are fine");

    map.insert("integration".into(), "crm".into());
    let err = InventoryEntry::from_custom_metadata("x", &map)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("credential x: field `integration`: unknown integration type \"crm\""),
        "{err}"
    );

    let mut map = sample().to_custom_metadata().unwrap();
    map.insert("overlap".into(), "soon".into());
    let err = InventoryEntry::from_custom_metadata("x", &map)
        .unwrap_err()
        .to_string();
    assert!(err.contains("field `overlap`"), "{err}");

    let mut map = sample().to_custom_metadata().unwrap();
    map.insert("last_rotated".into(), "yesterday".into());
    let err = InventoryEntry::from_custom_metadata("x", &map)
        .unwrap_err()
        .to_string();
    assert!(err.contains("field `last_rotated`"), "{err}");

    let mut map = sample().to_custom_metadata().unwrap();
    map.remove("kind");
    let err = InventoryEntry::from_custom_metadata("x", &map)
        .unwrap_err()
        .to_string();
    assert!(err.contains("field `kind`: missing"), "{err}");
}

// ---- exports ----

const HEADER: &str = "Name,Type,Integration,Created by,Used by,Purpose,Project(s),Owner,Rotation period,Last rotated,Next rotation,Status,Last used";

#[test]
fn csv_export_has_the_inventory_columns() {
    let mut second = InventoryEntry::new(
        "legacy, \"quoted\"",
        CredentialKind::ProjectSecret,
        IntegrationType::BiTool,
    );
    second.projects = vec![ProjectId(7)];
    let csv = to_csv(&[sample(), second]).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let next = sample()
        .next_rotation
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        lines.next().unwrap(),
        format!("warehouse/fivetran-prod,service_account,data_pipeline,alice@example.com,Fivetran prod connector,Export events to the warehouse,12345 67890,data-platform@example.com,90d,2026-09-01T00:00:00Z,{next},ok,2026-11-20T08:30:00Z")
    );
    assert_eq!(
        lines.next().unwrap(),
        "\"legacy, \"\"quoted\"\"\",project_secret,bi_tool,,,,7,,90d,,,ok,"
    );
    assert_eq!(lines.next(), None);
    // Read back with a CSV reader: 13 columns.
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(r.headers().unwrap().len(), 13);
    assert_eq!(r.records().count(), 2);
}

#[test]
fn json_export_is_an_array_of_objects_without_secrets() {
    let json = to_json(&[sample()]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1);
    let o = arr[0].as_object().unwrap();
    assert_eq!(o["name"], "warehouse/fivetran-prod");
    assert_eq!(o["kind"], "service_account");
    assert_eq!(o["integration"], "data_pipeline");
    assert_eq!(o["projects"], serde_json::json!([12345, 67890]));
    assert_eq!(o["rotation_period"], "90d");
    assert_eq!(o["overlap"], "1d");
    assert_eq!(o["last_rotated"], "2026-09-01T00:00:00Z");
    assert_eq!(o["status"], "ok");
    assert_eq!(o["status_reason"], serde_json::Value::Null);
    assert_eq!(o["sa_id"], 4242);
    assert_eq!(o["username"], "fivetran.1a2b.mp-service-account");
    assert!(!o.contains_key("secret"));
    let keys: Vec<&str> = o.keys().map(String::as_str).collect();
    for k in [
        "name",
        "kind",
        "integration",
        "created_by",
        "used_by",
        "purpose",
        "projects",
        "owner",
        "rotation_period",
        "last_rotated",
        "next_rotation",
        "status",
        "last_used",
    ] {
        assert!(keys.contains(&k), "missing {k}");
    }
    assert_eq!(to_json(&[]).unwrap(), "[]");
}

#[test]
fn markdown_export_is_a_pipe_table() {
    let mut e = sample();
    e.purpose = "a | b\nc".into();
    let md = to_markdown(&[e]);
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(
        lines[0],
        "| Name | Type | Integration | Created by | Used by | Purpose | Project(s) | Owner | Rotation period | Last rotated | Next rotation | Status | Last used |"
    );
    assert_eq!(
        lines[1],
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let next = sample()
        .next_rotation
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        lines[2],
        format!("| warehouse/fivetran-prod | service_account | data_pipeline | alice@example.com | Fivetran prod connector | a \\| b c | 12345 67890 | data-platform@example.com | 90d | 2026-09-01 | {next} | ok | 2026-11-20 |")
    );
    assert_eq!(lines.len(), 3);
    let empty = to_markdown(&[InventoryEntry::new(
        "t",
        CredentialKind::ProjectToken,
        IntegrationType::Custom,
    )]);
    assert!(empty
        .lines()
        .nth(2)
        .unwrap()
        .contains("| never | - | - | ok | - |"));
}

#[test]
fn export_format_names() {
    assert_eq!("csv".parse::<ExportFormat>().unwrap(), ExportFormat::Csv);
    assert_eq!(
        "md".parse::<ExportFormat>().unwrap(),
        ExportFormat::Markdown
    );
    assert_eq!(
        "xml".parse::<ExportFormat>().unwrap_err().to_string(),
        "unknown export format \"xml\"; valid values are: csv, json, markdown"
    );
}

// ---- TOML file ----

const FILE: &str = r#"
[[credential]]
name = "warehouse/fivetran-prod"
kind = "service_account"
integration = "data_pipeline"
projects = [12345, 67890]
owner = "data-platform@example.com"
created_by = "alice@example.com"
used_by = "Fivetran prod connector"
purpose = "Export events to the warehouse"
rotation_period = "90d"
overlap = "24h"
last_rotated = 2026-09-01T00:00:00Z
sa_id = 4242
username = "fivetran.1a2b.mp-service-account"
role = "analyst"

[[credential]]
name = "looker-secret"
kind = "project_secret"
integration = "bi_tool"
projects = [7]
owner = "bi@example.com"
last_rotated = "2026-10-01"
"#;

#[test]
fn toml_file_parses() {
    let entries = parse_inventory_toml(FILE).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0], sample_without_last_used());
    let b = &entries[1];
    assert_eq!(b.kind, CredentialKind::ProjectSecret);
    assert_eq!(b.rotation_period, Some(DEFAULT_ROTATION_PERIOD));
    // Replaced in one step: no overlap, so any period is allowed.
    assert_eq!(b.overlap, Duration::ZERO);
    let mut short = b.clone();
    short.rotation_period = Some(Duration::from_secs(12 * 3600));
    short.validate().expect("a 12h period for a project secret");
    assert_eq!(
        b.last_rotated,
        Some(Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap())
    );
    assert!(b.next_rotation.is_some());
    let file: InventoryFile = FILE.parse().unwrap();
    assert_eq!(file.credentials, entries);
    assert!(parse_inventory_toml("").unwrap().is_empty());
}

fn sample_without_last_used() -> InventoryEntry {
    let mut e = sample();
    e.last_used = None;
    e
}

fn toml_err(body: &str) -> String {
    parse_inventory_toml(body).unwrap_err().to_string()
}

#[test]
fn toml_errors_name_the_entry_and_field() {
    let base = "[[credential]]\nname = \"a\"\nkind = \"service_account\"\nowner = \"o\"\n";
    assert_eq!(
        toml_err(&format!("{base}rotation_period = \"90 dayz\"\n")),
        "credential \"a\" (#1): field `rotation_period`: invalid duration \"90 dayz\": unknown time unit \"dayz\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations); write it like 90d, 24h, 2w or 1h 30m"
    );
    assert_eq!(
        toml_err(&format!("{base}integration = \"crm\"\n")),
        "credential \"a\" (#1): field `integration`: unknown integration type \"crm\"; valid values are: data_pipeline, bi_tool, cohort_sync, reverse_etl, custom"
    );
    assert_eq!(
        toml_err("[[credential]]\nname = \"a\"\nowner = \"o\"\n"),
        "credential \"a\" (#1): field `kind`: missing (required); valid values are: service_account, project_secret, project_token"
    );
    assert_eq!(
        toml_err("[[credential]]\nkind = \"service_account\"\nowner = \"o\"\n"),
        "credential #1: field `name`: missing (required)"
    );
    assert_eq!(
        toml_err(&format!(
            "{base}\n[[credential]]\nname = \"b\"\nkind = \"service_account\"\n"
        )),
        "credential \"b\" (#2): field `owner`: missing (required)"
    );
    assert_eq!(
        toml_err(&format!("{base}projects = \"x\"\n")),
        "credential \"a\" (#1): field `projects`: \"x\" is not a numeric id"
    );
    assert_eq!(
        toml_err(&format!("{base}projects = [1, true]\n")),
        "credential \"a\" (#1): field `projects`: expected an integer id, found a boolean"
    );
    assert_eq!(
        toml_err(&format!("{base}overlap = 24\n")),
        "credential \"a\" (#1): field `overlap`: expected a string, found an integer"
    );
    assert_eq!(
        toml_err(&format!("{base}overlap = \"100d\"\n")),
        "credential \"a\" (#1): field `overlap`: the overlap (100d) must be shorter than the rotation period (90d)"
    );
    assert_eq!(
        toml_err(&format!("{base}last_rotated = \"last week\"\n")),
        "credential \"a\" (#1): field `last_rotated`: \"last week\" is not a date: use RFC 3339 (2026-01-31T09:00:00Z) or YYYY-MM-DD"
    );
    assert!(
        toml_err(&format!("{base}last_rotated = 2026-01-01T10:00:00\n"))
            .contains("field `last_rotated`: 2026-01-01T10:00:00 has no time zone")
    );
    assert!(toml_err(&format!("{base}ownr = \"typo\"\n")).starts_with(
        "credential \"a\" (#1): field `ownr`: unknown field; valid fields are: name, kind,"
    ));
    assert_eq!(
        toml_err(&format!("{base}username = \"svc\"\n")),
        "credential \"a\" (#1): field `username`: invalid service account username \"svc\": expected the full form name.<hex>.mp-service-account"
    );
    assert_eq!(
        toml_err("[[credential]]\nname = \"p\"\nkind = \"project_secret\"\nowner = \"o\"\nprojects = [1, 2]\n"),
        "credential \"p\" (#1): field `projects`: a project_secret belongs to exactly one project; found 2"
    );
    assert_eq!(
        toml_err("[[credential]]\nname = \"p\"\nkind = \"project_secret\"\nowner = \"o\"\nprojects = [1]\nsa_id = 3\n"),
        "credential \"p\" (#1): field `sa_id`: only service accounts have one, not a project_secret"
    );
    assert_eq!(
        toml_err("[[credential]]\nname = \"a/../b\"\nkind = \"service_account\"\nowner = \"o\"\n"),
        "credential \"a/../b\" (#1): field `name`: invalid credential name \"a/../b\": '.' and '..' are not allowed as path segments"
    );
    assert_eq!(
        toml_err(&format!("{base}{base}")),
        "credential \"a\" (#2): field `name`: \"a\" appears more than once"
    );
    assert!(toml_err("[[credential]\n").starts_with("inventory file is not valid TOML: "));
    assert_eq!(
        toml_err("[settings]\nx = 1\n"),
        "inventory file is not valid TOML: unknown top-level key `settings`: an inventory file holds only [[credential]] tables"
    );
}

#[test]
fn csv_cells_that_start_a_formula_are_neutralized() {
    let mut e = sample();
    e.owner = "=HYPERLINK(\"http://evil.example\",\"x\")".into();
    e.purpose = "+1 call".into();
    e.used_by = "@SUM(A1)".into();
    e.created_by = "-2+3".into();
    let csv = to_csv(&[e]).unwrap();
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""),
        "{csv}"
    );
    assert!(csv.contains(",'+1 call,"), "{csv}");
    assert!(csv.contains(",'@SUM(A1),"), "{csv}");
    assert!(csv.contains(",'-2+3,"), "{csv}");
    assert_eq!(super::csv_safe("plain"), "plain");
    assert_eq!(super::csv_safe("\tx"), "'\tx");
}

// ---- roles per project ----

#[test]
fn an_entry_keeps_a_role_per_project_through_metadata_and_toml() {
    let mut e = sample();
    e.set_grants(
        [
            (ProjectId(12345), ProjectRole::Analyst),
            (ProjectId(67890), ProjectRole::Admin),
        ]
        .into(),
    );
    let map = e.to_custom_metadata().unwrap();
    assert_eq!(map["project_roles"], "12345=analyst,67890=admin");
    let back = InventoryEntry::from_custom_metadata(&e.name, &map).unwrap();
    assert_eq!(back.grants(), e.grants());
    assert_eq!(back, e);
    // Another role on one project is another entry.
    let mut other = e.clone();
    other.set_grants(
        [
            (ProjectId(12345), ProjectRole::Consumer),
            (ProjectId(67890), ProjectRole::Admin),
        ]
        .into(),
    );
    assert_ne!(other, e);

    let toml = FILE.replace(
        "projects = [12345, 67890]",
        "projects = { \"12345\" = \"analyst\", \"67890\" = \"admin\" }",
    );
    let parsed = parse_inventory_toml(&toml).unwrap();
    assert_eq!(parsed[0].grants(), e.grants());
    for (bad, says) in [
        ("{ \"12345\" = \"superuser\" }", "projects.12345"),
        ("{ \"abc\" = \"analyst\" }", "projects.abc"),
    ] {
        let toml = FILE.replace("projects = [12345, 67890]", &format!("projects = {bad}"));
        let err = parse_inventory_toml(&toml).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
    let err = InventoryEntry::from_custom_metadata(
        &e.name,
        &[
            ("kind".to_string(), "service_account".to_string()),
            ("project_roles".to_string(), "12345:analyst".to_string()),
        ]
        .into(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("project_roles"), "{err}");
}

#[test]
fn an_entry_written_before_roles_per_project_reads_as_its_one_role_on_each() {
    // What Vault holds for an entry of the earlier shape: `projects` and one `role`, no
    // `project_roles` key.
    let mut map = sample().to_custom_metadata().unwrap();
    map.remove("project_roles");
    assert_eq!(map["role"], "analyst");
    let old = InventoryEntry::from_custom_metadata("warehouse/fivetran-prod", &map).unwrap();
    assert!(old.project_roles.is_empty());
    assert_eq!(
        old.grants(),
        [
            (ProjectId(12345), ProjectRole::Analyst),
            (ProjectId(67890), ProjectRole::Analyst)
        ]
        .into()
    );
    // Saved again, it stays in that shape (the rotator carries its old account's grants over).
    assert!(!old.has_project_roles());
    let again = old.to_custom_metadata().unwrap();
    assert_eq!(again["project_roles"], EMPTY_SENTINEL);
    // An old entry without any role: consumer on each.
    map.remove("role");
    let bare = InventoryEntry::from_custom_metadata("warehouse/fivetran-prod", &map).unwrap();
    assert!(bare.grants().values().all(|r| *r == ProjectRole::Consumer));
}
