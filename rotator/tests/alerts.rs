//! The alert rules and the dashboard of `examples/rotator/`:
//!
//! - `promtool check rules` and `promtool test rules` pass, and the unit tests catch a rule
//!   made wrong (each mutation below must fail them);
//! - the dashboard and the rules use only metrics the rotator exports
//!   (`mixpanel_rotator::metrics::METRIC_NAMES`), the dashboard shows every one, and every
//!   alert has a unit test;
//! - a real Prometheus scraping a real daemon (emulator and OpenBao from the test kit) sees the
//!   failed-rotation alert (and the needs_human and refused-secret ones) pending after an
//!   injected failure, every dashboard query evaluates there, and with OpenBao stopped the
//!   no-leader alert fires after two lease periods.
//!
//! Prometheus and promtool come from Debian's `prometheus` package (`make setup`, or the test
//! kit installs it); where it cannot be had the Prometheus tests skip with a banner.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{wait_for, World};
use mixpanel_access::model::ProjectRole;
use mixpanel_rotator::metrics::METRIC_NAMES;
use serde_json::{json, Value};
use testkit::prometheus::{self, Prometheus, ScrapeJob};

fn examples() -> PathBuf {
    testkit::workspace_root().join("examples/rotator")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every `mixpanel_rotator_*` name in `text`, histogram series folded into their family.
fn metric_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("mixpanel_rotator_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let mut name = &tail[..end];
        if !METRIC_NAMES.contains(&name) {
            for suffix in ["_bucket", "_sum", "_count"] {
                if let Some(base) = name.strip_suffix(suffix) {
                    if METRIC_NAMES.contains(&base) {
                        name = base;
                    }
                }
            }
        }
        out.push(name.to_string());
        rest = &tail[end..];
    }
    out
}

/// Every PromQL expression of the dashboard's panels (rows' nested panels included).
fn dashboard_exprs(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for p in panels.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or_default().to_string();
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().unwrap_or_default();
                assert!(
                    !expr.trim().is_empty(),
                    "panel {title:?} has an empty query"
                );
                out.push((title.clone(), expr.to_string()));
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

fn load_dashboard() -> Value {
    let path = examples().join("dashboard.json");
    serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

fn alert_names(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn dashboard_and_rules_use_only_metrics_the_rotator_exports() {
    let dashboard = load_dashboard();
    let exprs = dashboard_exprs(&dashboard);
    assert!(exprs.len() >= 10, "only {} dashboard queries", exprs.len());
    let mut shown = Vec::new();
    for (title, expr) in &exprs {
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "panel {title:?} queries no rotator metric: {expr}"
        );
        for n in names {
            assert!(
                METRIC_NAMES.contains(&n.as_str()),
                "panel {title:?} uses {n}, which the rotator does not export (metrics::METRIC_NAMES): {expr}"
            );
            shown.push(n);
        }
    }
    for m in METRIC_NAMES {
        assert!(
            shown.iter().any(|s| s == m),
            "the dashboard shows no panel for {m}"
        );
    }
    let mut ids: Vec<u64> = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        ids.push(p["id"].as_u64().expect("a panel id"));
        assert!(p["gridPos"]["w"].as_u64().is_some(), "{p}");
        if p["type"] != "row" {
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        }
    }
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "panel ids repeat");

    let rules = read(&examples().join("alerts.yml"));
    let used = metric_names(&rules);
    assert!(used.len() >= 6, "{used:?}");
    for n in &used {
        assert!(
            METRIC_NAMES.contains(&n.as_str()),
            "alerts.yml uses {n}, which the rotator does not export (metrics::METRIC_NAMES)"
        );
    }
    let tests = read(&examples().join("alerts.test.yml"));
    let alerts = alert_names(&rules);
    assert_eq!(alerts.len(), 8, "{alerts:?}");
    for a in &alerts {
        assert!(
            tests.contains(&format!("alertname: {a}\n")),
            "alerts.test.yml has no test of {a}"
        );
    }
    for n in metric_names(&tests) {
        assert!(
            METRIC_NAMES.contains(&n.as_str()),
            "alerts.test.yml feeds {n}, which the rotator does not export"
        );
    }
}

#[test]
fn alert_rules_pass_promtool_and_their_tests_catch_a_wrong_rule() {
    if let Err(why) = prometheus::ensure_installed() {
        prometheus::skip_loudly("promtool test rules examples/rotator/alerts.test.yml", &why);
        return;
    }
    let dir = examples();
    let (ok, out) = prometheus::run_promtool(&dir, &["check", "rules", "alerts.yml"]);
    eprintln!("$ promtool check rules alerts.yml\n{out}");
    assert!(ok, "promtool check rules failed:\n{out}");
    assert!(out.contains("SUCCESS: 8 rules found"), "{out}");
    let (ok, out) = prometheus::run_promtool(&dir, &["test", "rules", "alerts.test.yml"]);
    eprintln!("$ promtool test rules alerts.test.yml\n{out}");
    assert!(ok, "promtool test rules failed:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");

    // Each rule made wrong in a way an edit could: its unit tests must notice.
    let rules = read(&dir.join("alerts.yml"));
    let tests = read(&dir.join("alerts.test.yml"));
    let mutations = [
        (
            "needs_human|error\"}[15m]",
            "error\"}[15m]",
            "RotationFailed ignores needs_human",
        ),
        (
            "        for: 1m\n",
            "        for: 10m\n",
            "RotationFailed waits 10m",
        ),
        (
            "credentials_overdue) > 0",
            "credentials_overdue) > 1",
            "Overdue needs two",
        ),
        (
            "status=~\"needs_human|manual_rotation_required\"",
            "status=~\"needs_human\"",
            "NeedsAttention ignores manual_rotation_required",
        ),
        (
            "> 2 * max(mixpanel_rotator_lease_ttl_seconds)",
            "> 4 * max(mixpanel_rotator_lease_ttl_seconds)",
            "NoLeader waits four lease periods",
        ),
        (
            "min(timestamp(",
            "max(timestamp(",
            "NoLeader takes the stalest replica",
        ),
        (
            "absent(mixpanel_rotator_is_leader)",
            "absent(up)",
            "Absent looks at up",
        ),
        (
            "health=~\"rejected|missing\"",
            "health=~\"missing\"",
            "SecretRejected ignores rejected",
        ),
        (
            "retrying_since_timestamp_seconds > 0) > 1800",
            "retrying_since_timestamp_seconds > 0) > 3600",
            "RotationRetrying waits an hour",
        ),
        (
            "min(mixpanel_rotator_retrying_since_timestamp_seconds > 0)",
            "min(mixpanel_rotator_retrying_since_timestamp_seconds)",
            "RotationRetrying counts replicas that retry nothing",
        ),
        (
            "access_grants_overdue) > 0",
            "access_grants_overdue) > 1",
            "AccessGrantOverdue needs two",
        ),
    ];
    let scratch = tempfile::tempdir().expect("temp dir");
    std::fs::write(scratch.path().join("alerts.test.yml"), &tests).expect("write tests");
    for (from, to, what) in mutations {
        assert!(
            rules.contains(from),
            "mutation {what:?}: {from:?} is not in alerts.yml"
        );
        std::fs::write(
            scratch.path().join("alerts.yml"),
            rules.replacen(from, to, 1),
        )
        .expect("write mutated rules");
        let (ok, out) =
            prometheus::run_promtool(scratch.path(), &["test", "rules", "alerts.test.yml"]);
        assert!(!ok, "the unit tests did not notice: {what}\n{out}");
    }
}

/// The value of the single series `expr` returns, if it returns exactly one.
fn single_value(prom: &Prometheus, expr: &str) -> Option<f64> {
    let result = prom.query(expr).ok()?;
    match result.as_slice() {
        [one] => one["value"][1].as_str()?.parse().ok(),
        _ => None,
    }
}

fn alert<'a>(alerts: &'a [Value], name: &str, label: (&str, &str)) -> Option<&'a Value> {
    alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == name && a["labels"][label.0] == label.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_scraping_the_daemon_sees_the_failed_rotation_alert_pending() {
    if let Err(why) = prometheus::ensure_installed() {
        prometheus::skip_loudly(
            "a real Prometheus scraping the daemon (the failed-rotation alert)",
            &why,
        );
        return;
    }
    let started = Instant::now();
    let mut w = World::new().await;
    let p = w.project("alerting").await;
    let etl = w
        .service_account("alerting", ProjectRole::Analyst, &[p])
        .await;
    let other = w
        .service_account("broken", ProjectRole::Consumer, &[p])
        .await;
    let mut d = w.daemon(
        "alerts",
        &[
            ("MIXPANEL_ROTATOR_MAX_ATTEMPTS", "2"),
            ("MIXPANEL_ROTATOR_RETRY_BACKOFF", "100ms"),
        ],
    );
    d.wait_http().await;
    w.wait_leader("alerts", Duration::from_secs(20)).await;
    // A standby replica: it never leads here, but sees the leader's lease when it polls.
    let mut standby = w.daemon("standby", &[]);
    standby.wait_http().await;

    let rules = examples().join("alerts.yml");
    let target = format!("127.0.0.1:{}", d.port);
    let before_prom = Instant::now();
    let prom = tokio::task::block_in_place(|| {
        Prometheus::start(
            &[ScrapeJob {
                job: "mixpanel-rotator".into(),
                targets: vec![target.clone(), format!("127.0.0.1:{}", standby.port)],
            }],
            &[rules],
            Duration::from_secs(1),
        )
    });
    let prom_started = Instant::now();

    // Prometheus scrapes the daemon: the failure counters are there, at 0, before anything
    // fails (increase() needs a sample before the failure), and the rules have been
    // evaluated over them with nothing pending.
    let failed = r#"mixpanel_rotator_rotations_total{job="mixpanel-rotator",trigger="schedule",outcome="needs_human"}"#;
    let prom_ref = &prom;
    wait_for(
        "Prometheus to scrape the daemon",
        Duration::from_secs(30),
        || async move {
            tokio::task::block_in_place(|| {
                // Both replicas up, each with the failure counter at 0.
                (single_value(prom_ref, &format!("count({failed} == 0)")) == Some(2.0)
                    && single_value(prom_ref, r#"count(up{job="mixpanel-rotator"} == 1)"#)
                        == Some(2.0))
                .then_some(())
            })
        },
    )
    .await;
    let scraped_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = tokio::task::block_in_place(|| prom.alerts());
    assert!(
        !before
            .iter()
            .any(|a| a["labels"]["alertname"] == "MixpanelRotatorRotationFailed"),
        "an alert before any failure: {before:?}"
    );
    let groups = tokio::task::block_in_place(|| prom.rule_groups());
    let loaded: Vec<&str> = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(loaded.len(), 8, "rules loaded: {loaded:?}");
    // Each rule evaluated on the scraped series without an error.
    for r in groups
        .iter()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
    {
        assert_eq!(r["health"], "ok", "{r}");
        assert_eq!(r["state"], "inactive", "{r}");
    }

    // The fault: every service-account create is refused (400, a refusal that repeats; a 503
    // would be transient, retried without end). A due entry starts a scheduled rotation that
    // fails twice and stops in needs_human. A second entry holds a secret Mixpanel refuses:
    // the daemon's check finds it.
    w.emu
        .set_faults(json!({
            "error_rate": 1.0,
            "error_status": 400,
            "routes": ["create_service_account"]
        }))
        .await;
    let failure_at = Instant::now();
    w.register_sa("alerting/etl", &etl, &[p], |e| {
        e.last_rotated = Some(chrono::Utc::now() - chrono::TimeDelta::days(3));
        e.overlap = Duration::ZERO;
    })
    .await;
    let mut refused = other.clone();
    refused.secret = "not-the-secret-mixpanel-issued".into();
    w.register_sa("alerting/broken", &refused, &[p], |_| {})
        .await;

    let store = w.store.clone();
    wait_for(
        "the rotation to stop in needs_human",
        Duration::from_secs(60),
        || {
            let store = store.clone();
            async move {
                let (j, _) = store.read_journal("alerting/etl").await.ok()??;
                (j.phase.as_str() == "needs_human").then_some(())
            }
        },
    )
    .await;
    let needs_human_at = Instant::now();

    let alerts = wait_for(
        "the failed-rotation, needs_human and refused-secret alerts",
        Duration::from_secs(60),
        || async move {
            let alerts = tokio::task::block_in_place(|| prom_ref.alerts());
            let all = alert(
                &alerts,
                "MixpanelRotatorRotationFailed",
                ("outcome", "needs_human"),
            )
            .is_some()
                && alert(
                    &alerts,
                    "MixpanelRotatorNeedsAttention",
                    ("status", "needs_human"),
                )
                .is_some()
                && alert(
                    &alerts,
                    "MixpanelRotatorStoredSecretRejected",
                    ("health", "rejected"),
                )
                .is_some();
            all.then_some(alerts)
        },
    )
    .await;
    let pending_at = Instant::now();
    let failed_alert = alert(
        &alerts,
        "MixpanelRotatorRotationFailed",
        ("outcome", "needs_human"),
    )
    .expect("the failed-rotation alert");
    assert_eq!(failed_alert["state"], "pending", "{failed_alert}");
    assert_eq!(
        failed_alert["labels"]["trigger"], "schedule",
        "{failed_alert}"
    );
    assert_eq!(
        failed_alert["labels"]["severity"], "warning",
        "{failed_alert}"
    );
    let value: f64 = failed_alert["value"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("a value");
    assert!(value > 0.0, "{failed_alert}");
    for a in &alerts {
        eprintln!(
            "alert {} {} {}",
            a["labels"]["alertname"].as_str().unwrap_or_default(),
            a["state"].as_str().unwrap_or_default(),
            a["labels"]
        );
    }
    // The standby knows of the leader (its view is at most a few seconds old: it polls every
    // third of the 3s TTL) and reports no inventory: that is the leader's.
    let standby_target = format!("127.0.0.1:{}", standby.port);
    let standby_view = tokio::task::block_in_place(|| {
        single_value(
            &prom,
            &format!(
                r#"timestamp(mixpanel_rotator_leader_seen_timestamp_seconds{{instance="{standby_target}"}}) - mixpanel_rotator_leader_seen_timestamp_seconds{{instance="{standby_target}"}}"#
            ),
        )
    })
    .expect("the standby's leader_seen");
    assert!(
        standby_view < 6.0,
        "the standby last saw a leader {standby_view}s before its scrape"
    );
    let standby_inventory = tokio::task::block_in_place(|| {
        prom.query(&format!(
            r#"mixpanel_rotator_credentials{{instance="{standby_target}"}} or mixpanel_rotator_credential_secrets{{instance="{standby_target}"}}"#
        ))
    })
    .expect("query");
    assert!(standby_inventory.is_empty(), "{standby_inventory:?}");
    assert_eq!(
        tokio::task::block_in_place(|| single_value(
            &prom,
            &format!(r#"mixpanel_rotator_is_leader{{instance="{standby_target}"}}"#)
        )),
        Some(0.0)
    );

    // Nothing else fired: a leader is there, nothing is overdue.
    for quiet in [
        "MixpanelRotatorNoLeader",
        "MixpanelRotatorAbsent",
        "MixpanelRotatorCredentialOverdue",
    ] {
        assert!(
            !alerts.iter().any(|a| a["labels"]["alertname"] == quiet),
            "{quiet} is active: {alerts:?}"
        );
    }
    // The daemon's own check of the stored secrets, as scraped.
    let secrets = tokio::task::block_in_place(|| {
        prom.query(r#"mixpanel_rotator_credential_secrets{job="mixpanel-rotator"}"#)
    })
    .expect("query");
    let health = |h: &str| {
        secrets
            .iter()
            .find(|s| s["metric"]["health"] == h)
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert_eq!(health("rejected"), Some(1.0), "{secrets:?}");
    assert_eq!(health("ok"), Some(1.0), "{secrets:?}");

    // Every dashboard query evaluates on the real server; all but "time since the last
    // success" (none has succeeded) and the access-review panels (no review is scheduled here)
    // return data.
    let dashboard = load_dashboard();
    for (title, expr) in dashboard_exprs(&dashboard) {
        let q = expr.replace("$job", ".+").replace("$__rate_interval", "1m");
        let result = tokio::task::block_in_place(|| prom.query(&q))
            .unwrap_or_else(|e| panic!("panel {title:?}: {q}: {e}"));
        if !q.contains("last_success_timestamp_seconds") && !q.contains("review") {
            assert!(!result.is_empty(), "panel {title:?} returns nothing: {q}");
        }
    }
    w.emu.clear_faults().await;

    // Vault goes away: the leader's renewals fail, no replica can take the lease, and after
    // two lease periods (2 x 3s here) without one, the no-leader alert fires.
    let prom_ref = &prom;
    tokio::task::block_in_place(|| w.bao.stop());
    let vault_down = Instant::now();
    let no_leader = wait_for(
        "the no-leader alert to fire",
        Duration::from_secs(60),
        || async move {
            let alerts = tokio::task::block_in_place(|| prom_ref.alerts());
            alerts.into_iter().find(|a| {
                a["labels"]["alertname"] == "MixpanelRotatorNoLeader" && a["state"] == "firing"
            })
        },
    )
    .await;
    let no_leader_at = Instant::now();
    let without: f64 = no_leader["value"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("a value");
    assert!(without > 6.0, "{no_leader}");
    assert_eq!(
        tokio::task::block_in_place(|| single_value(
            &prom,
            r#"max(mixpanel_rotator_is_leader{job="mixpanel-rotator"})"#
        )),
        Some(0.0)
    );
    eprintln!(
        "no-leader alert firing {:.1}s after OpenBao stopped (value {without}s)",
        (no_leader_at - vault_down).as_secs_f64()
    );
    d.kill().await;
    standby.kill().await;
    eprintln!(
        "timings: OpenBao+emulator+daemon up {:.1}s; Prometheus ready in {:.1}s; first scrape {:.1}s after start; \
         needs_human {:.1}s after the fault; alerts pending {:.1}s after needs_human ({:.1}s after the fault); whole test {:.1}s",
        (before_prom - started).as_secs_f64(),
        (prom_started - before_prom).as_secs_f64(),
        (scraped_at - prom_started).as_secs_f64(),
        (needs_human_at - failure_at).as_secs_f64(),
        (pending_at - needs_human_at).as_secs_f64(),
        (pending_at - failure_at).as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    drop(prom);
}

/// `mixpanel_rotator_credential_secrets` of a daemon's `/metrics`, once a pass has run
/// since `after` passes were counted: health → count.
async fn secret_health_after_pass(
    d: &common::Daemon,
    after: u64,
) -> std::collections::BTreeMap<String, u64> {
    let url = format!("{}/metrics", d.url());
    wait_for("a reconcile pass", Duration::from_secs(30), || {
        let url = url.clone();
        async move {
            let text = reqwest::get(url).await.ok()?.text().await.ok()?;
            let passes: u64 = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix("mixpanel_rotator_reconcile_passes_total{result=\"ok\"} ")
                })?
                .parse()
                .ok()?;
            (passes > after).then(|| {
                text.lines()
                    .filter_map(|l| l.strip_prefix("mixpanel_rotator_credential_secrets{health=\""))
                    .filter_map(|l| l.split_once("\"} "))
                    .filter_map(|(h, n)| Some((h.to_string(), n.parse().ok()?)))
                    .collect()
            })
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_checks_stored_secrets_unless_turned_off() {
    let w = World::new().await;
    let p = w.project("checked").await;
    let good = w.service_account("good", ProjectRole::Analyst, &[p]).await;
    let mut bad = w.service_account("bad", ProjectRole::Analyst, &[p]).await;
    bad.secret = "not-the-secret-mixpanel-issued".into();
    w.register_sa("checked/good", &good, &[p], |_| {}).await;
    w.register_sa("checked/bad", &bad, &[p], |_| {}).await;
    let me_calls = |c: &Value| c["me"]["GET"].as_u64().unwrap_or(0);

    // Checks off: nothing is checked, nothing is cached, both stay unchecked.
    let before = me_calls(&w.emu.counters().await);
    let mut off = w.daemon("off", &[("MIXPANEL_ROTATOR_SECRET_CHECK_INTERVAL", "0s")]);
    off.wait_http().await;
    w.wait_leader("off", Duration::from_secs(20)).await;
    let health = secret_health_after_pass(&off, 1).await;
    assert_eq!(health.get("unchecked"), Some(&2), "{health:?}");
    assert_eq!(health.get("rejected"), None, "{health:?}");
    let after = me_calls(&w.emu.counters().await);
    off.terminate().await;
    for name in ["checked/good", "checked/bad"] {
        let meta = w
            .store
            .read_metadata(name)
            .await
            .expect("meta")
            .expect("meta");
        assert!(
            !meta.custom_metadata.contains_key("auth_check"),
            "{name}: {:?}",
            meta.custom_metadata.get("auth_check")
        );
    }

    // Checks on (the default): the leader asks Mixpanel once per secret and caches the answer.
    let mut on = w.daemon("on", &[]);
    on.wait_http().await;
    w.wait_leader("on", Duration::from_secs(20)).await;
    let health = secret_health_after_pass(&on, 0).await;
    assert_eq!(health.get("ok"), Some(&1), "{health:?}");
    assert_eq!(health.get("rejected"), Some(&1), "{health:?}");
    let bad_meta = w
        .store
        .read_metadata("checked/bad")
        .await
        .expect("meta")
        .expect("meta");
    let cached = bad_meta
        .custom_metadata
        .get("auth_check")
        .cloned()
        .unwrap_or_default();
    assert!(cached.starts_with("rejected "), "{cached}");
    // Later passes trust the cache (1h): no new check of either secret.
    let checked = me_calls(&w.emu.counters().await);
    let _ = secret_health_after_pass(&on, 2).await;
    assert_eq!(me_calls(&w.emu.counters().await), checked);
    on.terminate().await;
    // GET /api/app/me with a stored secret is the check: none with checks off, one per
    // secret with checks on.
    assert_eq!(after, before, "checks off, yet /api/app/me was called");
    assert_eq!(checked, after + 2, "{after} -> {checked}");
    eprintln!(
        "GET /api/app/me: {before} before, {after} with checks off, {checked} with checks on"
    );
}
