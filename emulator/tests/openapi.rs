//! The emulator's OpenAPI document (`GET /_emulator/openapi.json`) against the emulator itself:
//! a bounded schemathesis run (property-based requests generated from the document, valid and
//! invalid) finds no 5xx and no answer that breaks the document.
//!
//! Bounds: `EMULATOR_FUZZ_MAX_EXAMPLES` cases per operation (default 8), the whole run within
//! `EMULATOR_FUZZ_TIMEOUT_SECS` (default 600) or the test fails, `EMULATOR_FUZZ_SEED` (default
//! a fixed seed, so `make test` is repeatable; `random` for a new one each run). `make fuzz`
//! runs the same test with more examples and a random seed.
//!
//! schemathesis comes from PyPI (`python3 -m pip install schemathesis`, as `make setup` does);
//! only when it cannot be installed does the test skip, loudly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::block_on;
use testkit::emulator::{Creds, Emulator};

fn schemathesis_available() -> bool {
    Command::new("python3")
        .args(["-m", "schemathesis.cli", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// schemathesis, installed with pip when missing; `false` only when that fails.
fn ensure_schemathesis() -> bool {
    if schemathesis_available() {
        return true;
    }
    let installed = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "schemathesis",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    installed && schemathesis_available()
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Some data, so that the lists the fuzzer reads have items whose shape is checked too.
/// The ids of the seeded objects, for the fuzzer's path parameters.
struct Seeded {
    project: u64,
    team: u64,
    service_account: u64,
}

fn seed(emu: &Emulator, creds: &Creds) -> Seeded {
    let http = reqwest::Client::new();
    let org = creds.org_id;
    let post = |path: String, body: Value| {
        let req = http
            .post(format!("{}{path}", emu.url))
            .basic_auth(&creds.username, Some(&creds.secret))
            .json(&body);
        async move {
            let resp = req.send().await.expect("seed request");
            let status = resp.status();
            let body: Value = resp.json().await.expect("seed answer");
            assert!(status.is_success(), "seeding {status}: {body}");
            body
        }
    };
    block_on(async {
        let project = post(
            format!("/api/app/organizations/{org}/create-project"),
            json!({"project_name": "fuzzed", "cluster_id": 5, "timezone_id": 1}),
        )
        .await;
        let project = project["results"]["id"].as_u64().expect("project id");
        post(
            format!("/organizations/{org}/add-users/"),
            json!({"emails": ["ana@example.com"], "role": "member"}),
        )
        .await;
        post(
            format!("/organizations/{org}/add-users-to-projects/"),
            json!({"users": ["ana@example.com"], "projects": [project], "role": "analyst"}),
        )
        .await;
        post(
            format!("/organizations/{org}/add-teams/"),
            json!({"teamNames": ["Fuzzers"]}),
        )
        .await;
        let teams: Value = http
            .get(format!("{}/organizations/{org}/teams/", emu.url))
            .basic_auth(&creds.username, Some(&creds.secret))
            .send()
            .await
            .expect("teams")
            .json()
            .await
            .expect("teams json");
        let team = teams["results"][0]["id"].as_u64().expect("team id");
        post(
            format!("/organizations/{org}/add-users-to-teams/"),
            json!({"teams": [{"id": team, "users": ["ana@example.com"]}]}),
        )
        .await;
        let sa = post(
            format!("/api/app/organizations/{org}/service-accounts"),
            json!({"username": "fuzz", "role": "consumer", "projects": [{"id": project, "role": "analyst"}]}),
        )
        .await;
        let service_account = sa["results"]["id"].as_u64().expect("service account id");
        Seeded {
            project,
            team,
            service_account,
        }
    })
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    if !ensure_schemathesis() {
        testkit::skip_loudly(
            "schemathesis could not be installed (python3 -m pip install schemathesis failed), \
             so the emulator's OpenAPI document was NOT fuzzed.",
        );
        return;
    }
    let emu = Emulator::spawn(env!("CARGO_BIN_EXE_mixpanel-emulator"));
    let creds = emu.bootstrap("Fuzz", "owner");
    let seeded = seed(&emu, &creds);

    // The document lists every route of the table, by name.
    let doc = emu.openapi();
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            ids.push(op["operationId"].as_str().expect("operationId").to_string());
        }
    }
    for route in mixpanel_access::api::wire::ROUTES {
        assert!(
            ids.iter().any(|i| i == route.name),
            "{} missing",
            route.name
        );
    }

    let max_examples: u32 = env_or("EMULATOR_FUZZ_MAX_EXAMPLES", 8);
    let timeout = Duration::from_secs(env_or("EMULATOR_FUZZ_TIMEOUT_SECS", 600));
    let seed = std::env::var("EMULATOR_FUZZ_SEED").unwrap_or_else(|_| "20261130".into());
    let reports = tempfile::tempdir().expect("tempdir");
    let junit = reports.path().join("junit.xml");
    // Path parameters name the seeded objects, so that requests reach the handlers' logic
    // rather than stopping at 403 (another organization) or 404; the bodies stay generated.
    let config = reports.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\"path.org\" = {}\n\"path.project\" = {}\n\"path.team\" = {}\n\"path.sa\" = {}\n\"path.email\" = \"ana@example.com\"\n",
            creds.org_id, seeded.project, seeded.team, seeded.service_account
        ),
    )
    .expect("schemathesis.toml");
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "schemathesis.cli", "--config-file"])
        .arg(&config)
        .arg("run")
        .arg(format!("{}/_emulator/openapi.json", emu.url))
        .args(["--url", &emu.url])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", &max_examples.to_string()])
        .args(["--auth", &format!("{}:{}", creds.username, creds.secret)])
        // One worker: with two, Hypothesis parses lambda sources with `ast` from two threads,
        // which CPython before 3.11.8 and 3.12.1 (gh-106905) can fail with "AST constructor
        // recursion depth mismatch", a runtime error of the tool that CI once hit.
        .args(["--workers", "1", "--request-timeout", "10", "--no-color"])
        .args(["--generation-database", "none"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&junit)
        .current_dir(reports.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if seed != "random" {
        cmd.args(["--seed", &seed]);
    }
    let started = Instant::now();
    let child = cmd.spawn().expect("run schemathesis");
    let pid = child.id();
    // The bound: a watchdog kills the run when it outlasts the timeout.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(timeout).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            return true;
        }
        false
    });
    let out = child.wait_with_output().expect("schemathesis output");
    let _ = done_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "schemathesis ({max_examples} examples per operation, seed {seed}) took {:?}",
        started.elapsed()
    );
    assert!(
        !timed_out,
        "schemathesis did not finish within {timeout:?}:\n{text}"
    );
    assert!(
        out.status.success(),
        "schemathesis found failures (exit {}):\n{text}",
        out.status
    );
    // It did test every operation (a run that tested nothing passes too).
    let report = std::fs::read_to_string(&junit).expect("junit report");
    let cases = report.matches("<testcase").count();
    assert!(
        cases >= ids.len(),
        "schemathesis tested {cases} operations of {}:\n{text}",
        ids.len()
    );
    // The emulator is still up and answering.
    let me: Value = block_on(async {
        reqwest::get(format!("{}/_emulator/routes", emu.url))
            .await
            .expect("emulator still up")
            .json()
            .await
            .expect("json")
    });
    assert_eq!(me["status"], "ok");
}
