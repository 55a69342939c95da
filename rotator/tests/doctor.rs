//! `mixpanel-rotator doctor` against the emulator (in-process, on a free loopback port): all
//! rows ok or honest emulator-only rows; the emulator-only routes hidden; a weaker credential;
//! a closed port; a bad secret; `--record` with nothing secret left in the files. Every run
//! checks that doctor wrote nothing: the emulator counted only read routes, and its audit log
//! holds the same entries before and after.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Boot, Emu, BIN};
use mixpanel_access::api::wire::{self, route_named};
use mixpanel_access::model::{DataResidency, Email, OrgRole, ProjectId, ProjectRole};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use tokio::process::Command;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn doctor(url: &str, username: &str, secret: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(BIN);
    for k in [
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "RUST_LOG",
        "MIXPANEL_ROTATOR_CONFIG",
        "MIXPANEL_ORGANIZATION_ID",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("MIXPANEL_API_URL", url)
        .env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", username)
        .env("MIXPANEL_SERVICE_ACCOUNT_SECRET", secret)
        .env("MIXPANEL_ROTATOR_API_MIN_BACKOFF", "20ms")
        .env("MIXPANEL_ROTATOR_API_MAX_BACKOFF", "300ms")
        .env("MIXPANEL_ROTATOR_RATE_LIMIT", "200")
        .arg("doctor")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("doctor finished within 90s")
        .expect("doctor output");
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    println!(
        "$ mixpanel-rotator doctor {}\n{}{}(exit {:?})\n",
        args.join(" "),
        run.stdout,
        run.stderr,
        run.code
    );
    run
}

/// An organization with something behind every listing: a project, a team, members, a
/// service account, a custom role, a data view and a finished audit-log export.
struct Org {
    emu: Emu,
    boot: Boot,
    project: ProjectId,
    /// Secrets and addresses that exist in the emulator's state.
    secrets: Vec<String>,
}

async fn org() -> Org {
    let emu = Emu::start().await;
    let boot = emu.bootstrap().await;
    let admin = emu.client(&boot.username, &boot.secret);
    let project = admin
        .create_project(
            boot.org,
            "Web",
            DataResidency::Us,
            &"Europe/Paris".parse().expect("tz"),
        )
        .await
        .expect("project");
    let team = admin.create_team(boot.org, "Analysts").await.expect("team");
    let ana: Email = "ana@acme.example".parse().expect("email");
    admin
        .invite_org_users(boot.org, std::slice::from_ref(&ana), OrgRole::Member)
        .await
        .expect("invite");
    emu.activate(ana.as_str()).await;
    admin
        .add_users_to_projects(
            boot.org,
            std::slice::from_ref(&ana),
            &[project],
            ProjectRole::Analyst,
        )
        .await
        .expect("grant");
    admin
        .add_users_to_team(boot.org, team.id, std::slice::from_ref(&ana))
        .await
        .expect("seat");
    let etl =
        common::create_service_account(&admin, boot.org, "etl", ProjectRole::Analyst, &[project])
            .await;
    admin
        .create_custom_role(
            project,
            &wire::CustomRoleBody {
                name: "Readers".into(),
                description: "read only".into(),
                permissions: vec![],
                copied_from_role_id: None,
            },
        )
        .await
        .expect("custom role");
    admin
        .create_data_view(
            project,
            &wire::CreateDataView {
                name: "EU only".into(),
                is_restricted: true,
                is_visible: true,
                description: None,
            },
        )
        .await
        .expect("data view");
    let export = admin
        .create_audit_log_export(
            boot.org,
            &wire::CreateAuditExport {
                filter: Default::default(),
                export_format: wire::AuditExportFormat::Ndjson,
            },
        )
        .await
        .expect("export");
    common::wait_for("the export to finish", Duration::from_secs(20), || async {
        admin
            .list_audit_log_exports(boot.org)
            .await
            .ok()
            .and_then(|l| {
                l.into_iter()
                    .find(|e| e.id == export && e.status == wire::AuditExportStatus::Succeeded)
            })
    })
    .await;
    let meta = admin.project_metadata(project).await.expect("metadata");
    let mut secrets = vec![
        boot.secret.clone(),
        etl.secret.clone(),
        etl.username.clone(),
        boot.username.clone(),
        ana.to_string(),
        "owner@acme.example".to_string(),
    ];
    secrets.extend(meta.token.clone());
    secrets.extend(meta.secret.as_ref().map(|s| s.expose_secret().to_string()));
    Org {
        emu,
        boot,
        project,
        secrets,
    }
}

/// What the emulator holds that doctor could change: its audit log (every change is logged)
/// and the request counters (only read routes may appear).
async fn assert_read_only<F, Fut>(o: &Org, run: F) -> Run
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Run>,
{
    read_only(&o.emu, &o.boot, run).await
}

async fn read_only<F, Fut>(emu: &Emu, boot: &Boot, run: F) -> Run
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Run>,
{
    let admin = emu.client(&boot.username, &boot.secret);
    let audit = || async {
        admin
            .audit_logs_all(boot.org, &Default::default())
            .await
            .expect("audit log")
            .into_iter()
            .map(|e| e.id)
            .collect::<BTreeSet<String>>()
    };
    let before = audit().await;
    emu.reset_counters().await;
    let r = run().await;
    let counters = emu.counters().await;
    let after = audit().await;
    assert_eq!(before, after, "doctor changed the audit log");
    let called: Vec<String> = counters
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| {
                    v.as_object()
                        .is_some_and(|m| m.values().any(|n| n.as_u64().unwrap_or(0) > 0))
                })
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    assert!(!called.is_empty() || r.code == Some(2), "{counters}");
    for name in &called {
        let route = route_named(name).unwrap_or_else(|| panic!("{name} is no route"));
        assert!(route.read, "doctor sent {name}, which is not a read");
    }
    r
}

fn rows_of(run: &Run) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout));
    doc["rows"].as_array().cloned().unwrap_or_default()
}

fn row<'a>(rows: &'a [Value], route: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["route"] == route)
        .unwrap_or_else(|| panic!("no row {route} in {rows:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_against_the_emulator_is_all_ok_and_records_nothing_secret() {
    let o = org().await;
    let dir = tempfile::tempdir().expect("dir");
    let rec = dir.path().join("rec");
    let rec_arg = rec.display().to_string();
    let args = ["--record", rec_arg.as_str()];
    let text = assert_read_only(&o, || {
        doctor(&o.emu.url, &o.boot.username, &o.boot.secret, &args)
    })
    .await;
    assert_eq!(text.code, Some(0), "{}{}", text.stdout, text.stderr);
    assert!(text.stdout.contains("ROUTE"), "{}", text.stdout);
    assert!(
        text.stdout.contains("0 failing for this configuration"),
        "{}",
        text.stdout
    );

    let json_run = doctor(
        &o.emu.url,
        &o.boot.username,
        &o.boot.secret,
        &["--format", "json"],
    )
    .await;
    assert_eq!(json_run.code, Some(0));
    let rows = rows_of(&json_run);
    // Every read route something uses, each once, in the table's order.
    let expected: Vec<&str> = wire::ROUTES
        .iter()
        .filter(|r| r.read && !r.serves.is_empty())
        .map(|r| r.name)
        .collect();
    let got: Vec<&str> = rows
        .iter()
        .filter(|r| r["called"] == true)
        .filter_map(|r| r["route"].as_str())
        .collect();
    assert_eq!(got, expected);
    // The emulator-only writes something uses are listed, not called, and served here.
    let writes: Vec<&str> = rows
        .iter()
        .filter(|r| r["called"] == false)
        .filter_map(|r| r["route"].as_str())
        .collect();
    assert_eq!(
        writes,
        [
            "remove_users_from_team",
            "remove_users_from_projects",
            "set_default_access",
            "reset_project_secret",
            "reset_project_token"
        ]
    );
    for w in &writes {
        let r = row(&rows, w);
        assert!(
            r["result"]
                .as_str()
                .unwrap()
                .contains("served by this host, as get_classified_access answered"),
            "{r}"
        );
    }
    // No Vault here: the inventory cannot be read, which is said, and every route counts.
    let doc: Value = serde_json::from_str(&json_run.stdout).expect("json");
    assert!(
        doc["inventory"]
            .as_str()
            .unwrap()
            .starts_with("inventory: could not be read (configuration: no Vault address"),
        "{doc}"
    );
    assert_eq!(row(&rows, "reset_project_secret")["needed"], true);
    assert!(text.stdout.contains("NEEDED"), "{}", text.stdout);
    for r in &rows {
        let route = route_named(r["route"].as_str().unwrap()).unwrap();
        if route.status == wire::RouteStatus::EmulatorOnly {
            assert_eq!(r["outcome"], "emulator_only", "{r}");
            assert!(r["result"]
                .as_str()
                .unwrap()
                .starts_with("not available upstream: emulator only"));
        } else {
            assert_eq!(r["outcome"], "ok", "{r}");
        }
        assert_eq!(r["fails"], false, "{r}");
    }
    // The routes that need an object's id found one.
    for needs_id in ["download_audit_log_export", "validate_project_credentials"] {
        assert_eq!(row(&rows, needs_id)["outcome"], "ok");
    }

    // The recording: one file per answered JSON route, an index, nothing secret.
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("index.json")).expect("index"))
            .expect("index json");
    let files = index["files"].as_array().expect("files");
    assert!(files.len() >= 15, "{index}");
    let mut all = String::new();
    for f in files {
        let name = f["file"].as_str().unwrap();
        let route = f["route"].as_str().unwrap();
        assert_eq!(name, format!("{route}.json"));
        let body = std::fs::read(rec.join(name)).expect("file");
        // A recorded body still decodes with the route's type.
        assert_eq!(wire::decode_answer(route, &body), Some(Ok(())), "{name}");
        all.push_str(&String::from_utf8_lossy(&body));
    }
    for s in &o.secrets {
        assert!(!all.contains(s.as_str()), "{s} survived in the recording");
    }
    assert!(!all.contains("acme.example"), "an address survived");
    assert!(
        all.contains("@example.invalid"),
        "addresses are replaced, not dropped"
    );
    assert!(all.contains("<secret-1>") && all.contains("<token-1>"));
    // Stable: the owner's address is one placeholder everywhere it appears.
    let owner_in = |file: &str| std::fs::read_to_string(rec.join(file)).unwrap_or_default();
    let me = owner_in("me.json");
    assert!(me.contains("sa-1.000001.mp-service-account"), "{me}");
    assert!(owner_in("list_service_accounts.json").contains("sa-1.000001.mp-service-account"));
    // To refresh the project's recorded fixture (tests/data/recorded/emulator/):
    // MIXPANEL_DOCTOR_KEEP_RECORDING=<folder> cargo test -p mixpanel-rotator --test doctor.
    if let Some(keep) = std::env::var_os("MIXPANEL_DOCTOR_KEEP_RECORDING") {
        let keep = std::path::PathBuf::from(keep);
        std::fs::create_dir_all(&keep).expect("keep folder");
        for entry in std::fs::read_dir(&rec).expect("recording") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), keep.join(entry.file_name())).expect("copy");
        }
    }
    let _ = o.project;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_emulator_only_routes_hidden_says_so_and_fails() {
    let o = org().await;
    o.emu
        .set_faults(json!({"error_rate": 0.0, "hide_emulator_only_routes": true}))
        .await;
    let text = assert_read_only(&o, || {
        doctor(&o.emu.url, &o.boot.username, &o.boot.secret, &[])
    })
    .await;
    assert_eq!(text.code, Some(1), "{}{}", text.stdout, text.stderr);
    assert!(
        text.stdout
            .contains("not available upstream: emulator only (this API does not serve it either"),
        "{}",
        text.stdout
    );
    assert!(
        text.stderr.contains("get_classified_access"),
        "{}",
        text.stderr
    );
    let j = doctor(&o.emu.url, &o.boot.username, &o.boot.secret, &["--json"]).await;
    assert_eq!(j.code, Some(1));
    let rows = rows_of(&j);
    let failing: Vec<&str> = rows
        .iter()
        .filter(|r| r["fails"] == true)
        .filter_map(|r| r["route"].as_str())
        .collect();
    let emulator_only: Vec<&str> = wire::ROUTES
        .iter()
        .filter(|r| !r.serves.is_empty() && r.status == wire::RouteStatus::EmulatorOnly)
        .map(|r| r.name)
        .collect();
    // The inventory cannot be read (no Vault): the resets count as needed; the writes only
    // the provider and offboarding use are "if used" and do not fail.
    assert_eq!(
        failing,
        [
            "get_classified_access",
            "reset_project_secret",
            "reset_project_token"
        ],
        "only the hidden routes the configuration needs fail"
    );
    for w in [
        "set_default_access",
        "remove_users_from_team",
        "remove_users_from_projects",
    ] {
        let r = row(&rows, w);
        assert_eq!(r["fails"], false, "{r}");
        assert!(
            r["needed_because"].as_str().unwrap().starts_with("if used"),
            "{r}"
        );
    }
    for r in &rows {
        if !emulator_only.contains(&r["route"].as_str().unwrap()) {
            assert_eq!(r["outcome"], "ok", "{r}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_a_weaker_credential_names_the_role_it_needs() {
    let o = org().await;
    let admin = o.emu.client(&o.boot.username, &o.boot.secret);
    let weak = common::create_service_account(
        &admin,
        o.boot.org,
        "viewer",
        ProjectRole::Consumer,
        &[o.project],
    )
    .await;
    let (username, secret) = (weak.username.clone(), weak.secret.clone());
    let text = assert_read_only(&o, || doctor(&o.emu.url, &username, &secret, &[])).await;
    assert_eq!(text.code, Some(1), "{}{}", text.stdout, text.stderr);
    assert!(
        text.stdout
            .contains("forbidden: needs the organization role owner or admin"),
        "{}",
        text.stdout
    );
    let j = doctor(&o.emu.url, &username, &secret, &["--format", "json"]).await;
    assert_eq!(j.code, Some(1));
    let rows = rows_of(&j);
    assert_eq!(row(&rows, "audit_logs")["outcome"], "forbidden");
    assert_eq!(row(&rows, "me")["outcome"], "ok");
    // A consumer reads the project's metadata without its credentials: the rotator could not
    // rotate them.
    assert_eq!(
        row(&rows, "project_metadata")["result"],
        "forbidden: needs the project role owner or admin (the answer holds no token or API secret)"
    );
    assert!(row(&rows, "audit_logs")["result"]
        .as_str()
        .unwrap()
        .starts_with("forbidden: needs "));

    // A service account on no project: every project route says why it was not called.
    let lone =
        common::create_service_account(&admin, o.boot.org, "lone", ProjectRole::Analyst, &[]).await;
    let j = doctor(&o.emu.url, &lone.username, &lone.secret, &["--json"]).await;
    let rows = rows_of(&j);
    for r in rows.iter().filter(|r| r["called"] == true) {
        if r["path"].as_str().unwrap().contains("{project}") {
            assert_eq!(r["outcome"], "skipped", "{r}");
            assert!(
                r["result"]
                    .as_str()
                    .unwrap()
                    .starts_with("skipped: no project to read"),
                "{r}"
            );
            assert_eq!(r["fails"], false);
        }
    }
    assert_eq!(row(&rows, "list_teams")["outcome"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_that_cannot_run_exits_2() {
    // A closed port: a listener bound and dropped.
    let port = common::free_port();
    let started = Instant::now();
    let r = doctor(
        &format!("http://127.0.0.1:{port}"),
        "a.abc123.mp-service-account",
        "x",
        &[],
    )
    .await;
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        r.stderr.contains("could not reach Mixpanel"),
        "{}",
        r.stderr
    );

    // A bad secret.
    let o = org().await;
    let r = assert_read_only(&o, || {
        doctor(&o.emu.url, &o.boot.username, "not-the-secret", &[])
    })
    .await;
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("rejected the service account credentials"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("not-the-secret"));

    // No configuration of the service account at all.
    let mut cmd = Command::new(BIN);
    for k in [
        "MIXPANEL_SERVICE_ACCOUNT_USERNAME",
        "MIXPANEL_SERVICE_ACCOUNT_SECRET",
        "MIXPANEL_ROTATOR_CONFIG",
    ] {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["doctor"])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("doctor");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MIXPANEL_SERVICE_ACCOUNT_USERNAME"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_the_json_path_of_an_answer_it_cannot_read() {
    // A stand-in whose /me types a project's role id as a word: neither a number, null nor
    // digits, as no Mixpanel answer seen does.
    const BAD_ME: &str = r#"{"status":"ok","results":{"user_id":1,"user_email":"a@b.example",
        "organizations":{},"projects":{"9":{"name":"a","organization_id":1,"domain":"mixpanel.com",
        "timezone":"UTC","role":{"id":"owner"}}}}}"#;
    let app = axum::Router::new().route(
        "/api/app/me",
        axum::routing::get(|| async { ([("content-type", "application/json")], BAD_ME) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().expect("dir");
    let rec = dir.path().display().to_string();
    let r = doctor(
        &url,
        "a.abc123.mp-service-account",
        "x",
        &["--record", &rec],
    )
    .await;
    server.abort();
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "unexpected answer at results.projects.9.role.id: expected a number or a string of digits, saw the string \"owner\""
        ),
        "{}",
        r.stderr
    );
    // The body is recorded for the bug report, redacted.
    let me = std::fs::read_to_string(dir.path().join("me.json")).expect("recorded me");
    assert!(
        me.contains("user-1@example.invalid") && !me.contains("a@b.example"),
        "{me}"
    );
    assert!(dir.path().join("index.json").exists());
}

/// doctor through a configured rotator (OpenBao holding the inventory) against the emulator
/// with its emulator-only routes hidden, as on Mixpanel: `inventory` names the credentials.
async fn doctor_with_inventory(w: &common::World) -> (Run, Vec<Value>) {
    // First with every route served: all ok, the inventory read.
    let all = w.cli(&["doctor"], &[]).await;
    println!(
        "$ mixpanel-rotator doctor\n{}{}(exit {:?})",
        all.stdout, all.stderr, all.code
    );
    assert_eq!(all.code, Some(0), "{}{}", all.stdout, all.stderr);
    assert!(all.stdout.contains("NEEDED") && all.stdout.contains("\ninventory: "));
    w.emu
        .set_faults(json!({"error_rate": 0.0, "hide_emulator_only_routes": true}))
        .await;
    let run = read_only(&w.emu, &w.boot, || async {
        let r = w.cli(&["doctor", "--json"], &[]).await;
        println!(
            "$ mixpanel-rotator doctor --json\n{}{}(exit {:?})",
            r.stdout, r.stderr, r.code
        );
        Run {
            code: r.code,
            stdout: r.stdout,
            stderr: r.stderr,
        }
    })
    .await;
    let rows = rows_of(&run);
    let text = w.cli(&["doctor"], &[]).await;
    println!(
        "$ mixpanel-rotator doctor\n{}{}(exit {:?})",
        text.stdout, text.stderr, text.code
    );
    assert_eq!(text.code, run.code);
    (run, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_a_project_secret_it_cannot_reset_where_emulator_only_routes_are_hidden() {
    let w = common::World::new().await;
    let p = w.project("Web").await;
    w.register_project_credentials(&p.0.to_string()).await;
    let (run, rows) = doctor_with_inventory(&w).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(
        doc["inventory"],
        "inventory: 1 project_secret, 1 project_token"
    );
    let reset = row(&rows, "reset_project_secret");
    assert_eq!(reset["called"], false, "doctor never writes");
    assert_eq!(reset["needed"], true);
    assert_eq!(reset["needed_because"], "yes: rotation of web/secret");
    assert_eq!(reset["fails"], true, "{reset}");
    assert!(
        reset["result"].as_str().unwrap().starts_with(
            "not available upstream: emulator only (Mixpanel has no API to reset a project secret"
        ),
        "{reset}"
    );
    assert_eq!(row(&rows, "reset_project_token")["fails"], true);
    assert!(
        run.stderr.contains("reset_project_secret"),
        "{}",
        run.stderr
    );
    // The reads the project secret needs are needed, and ok.
    for r in ["project_metadata", "validate_project_credentials"] {
        assert_eq!(row(&rows, r)["needed"], true, "{r}");
        assert_eq!(row(&rows, r)["outcome"], "ok", "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_only_service_accounts_does_not_need_the_project_secret_routes() {
    let w = common::World::new().await;
    let p = w.project("Web").await;
    let etl = w.service_account("etl", ProjectRole::Analyst, &[p]).await;
    w.register_sa("etl/prod", &etl, &[p], |_| {}).await;
    let (run, rows) = doctor_with_inventory(&w).await;
    let doc: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(doc["inventory"], "inventory: 1 service_account");
    for r in [
        "project_metadata",
        "validate_project_credentials",
        "reset_project_secret",
        "reset_project_token",
    ] {
        let r = row(&rows, r);
        assert_eq!(r["needed"], false, "{r}");
        assert_eq!(r["fails"], false, "{r}");
        assert!(
            r["needed_because"]
                .as_str()
                .unwrap()
                .starts_with("no: the inventory holds no project_"),
            "{r}"
        );
    }
    // What still fails is what Terraform may read: the hidden emulator-only read.
    let failing: Vec<&str> = rows
        .iter()
        .filter(|r| r["fails"] == true)
        .filter_map(|r| r["route"].as_str())
        .collect();
    assert_eq!(failing, ["get_classified_access"]);
    assert_eq!(run.code, Some(1));
    assert!(
        !run.stderr.contains("reset_project_secret"),
        "{}",
        run.stderr
    );
}
