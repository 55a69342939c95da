//! Governance end to end: the emulator over HTTP, a real OpenBao, the rotator binary.
//! Reviews (dormant and active members from simulated logins, lingering service accounts),
//! offboarding with its evidence folder, `review apply`, `audit export`.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use mixpanel_access::model::{Email, OrgRole, ProjectId, ProjectRole};
use serde_json::Value;

fn email(s: &str) -> Email {
    s.parse().expect("email")
}

fn days_ago(d: i64) -> String {
    (Utc::now() - chrono::Duration::days(d)).to_rfc3339()
}

/// Invites `who` with an organization role, accepts, and records a login `login_days_ago`.
async fn member(w: &World, who: &str, role: OrgRole, login_days_ago: Option<i64>) {
    w.admin
        .invite_org_users(w.boot.org, &[email(who)], role)
        .await
        .expect("invite");
    match login_days_ago {
        // Accepted and last logged in `d` days ago, by the member list and the audit log.
        Some(d) => {
            w.emu.kit().activate_at(who, &days_ago(d));
            w.emu
                .kit()
                .record_login(w.boot.org.0, who, &days_ago(d), false);
        }
        None => w.emu.activate(who).await,
    }
}

async fn grant(w: &World, who: &str, project: ProjectId, role: ProjectRole) {
    w.admin
        .add_users_to_projects(w.boot.org, &[email(who)], &[project], role)
        .await
        .expect("grant");
}

fn findings_for<'a>(review: &'a Value, subject: &str) -> Vec<&'a str> {
    review["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["subject"] == subject)
        .filter_map(|f| f["code"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_reports_dormant_active_and_lingering() {
    let w = World::new().await;
    let web = w.project("web").await;
    member(&w, "active@acme.example", OrgRole::Member, Some(5)).await;
    member(&w, "dormant@acme.example", OrgRole::Member, Some(200)).await;
    grant(&w, "active@acme.example", web, ProjectRole::Analyst).await;
    grant(&w, "dormant@acme.example", web, ProjectRole::Admin).await;
    let registered = w.service_account("etl", ProjectRole::Analyst, &[web]).await;
    w.register_sa("warehouse/etl", &registered, &[web], |_| {})
        .await;
    let lingering = w
        .service_account("forgotten", ProjectRole::Analyst, &[web])
        .await;

    let run = w.cli(&["review", "--format", "json"], &[]).await.ok();
    let review: Value = serde_json::from_str(&run.stdout).expect("json review");
    assert!(
        findings_for(&review, "active@acme.example").is_empty(),
        "{review:#}"
    );
    assert_eq!(
        findings_for(&review, "dormant@acme.example"),
        ["member.dormant"],
        "{review:#}"
    );
    assert!(findings_for(&review, &lingering.username).contains(&"service_account.lingering"));
    assert!(!findings_for(&review, &registered.username).contains(&"service_account.lingering"));
    let members = review["members"].as_array().expect("members");
    let dormant = members
        .iter()
        .find(|m| m["email"] == "dormant@acme.example")
        .expect("dormant member");
    assert_eq!(dormant["projects"][0]["role"], "admin");
    assert_eq!(dormant["projects"][0]["sources"][0]["source"], "individual");
    let active = members
        .iter()
        .find(|m| m["email"] == "active@acme.example")
        .expect("active member");
    assert!(active["last_login"]["at"].is_string(), "{active}");
    // The owner bootstrapped with no login event: the member list's last login, said so, and
    // not dormant.
    let md = w.cli(&["review"], &[]).await.ok().stdout;
    assert!(
        md.contains(&format!(
            "| owner@acme.example | owner | active | {} (member list) |",
            Utc::now().format("%Y-%m-%d")
        )),
        "{md}"
    );
    assert!(findings_for(&review, "owner@acme.example")
        .iter()
        .all(|c| *c != "member.dormant"));
    assert!(md.contains("`service_account.lingering`"), "{md}");

    // --output writes the three reports; the CSV has one row per member and project with empty
    // decision columns.
    let dir = w.dir.path().join("review");
    let run = w
        .cli(&["review", "--output", dir.to_str().expect("utf-8")], &[])
        .await
        .ok();
    let files: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(files.len(), 3, "{}", run.stdout);
    let csv_path = files.iter().find(|f| f.ends_with(".csv")).expect("csv");
    let text = std::fs::read_to_string(csv_path).expect("csv");
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rd
        .headers()
        .expect("headers")
        .iter()
        .map(String::from)
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.expect("row")).collect();
    let on_web = rows
        .iter()
        .filter(|r| &r[col("project_id")] == web.to_string().as_str())
        .count();
    // Owner (organization role), active, dormant.
    assert_eq!(on_web, 3, "{text}");
    assert!(rows.iter().all(|r| r[col("decision")].is_empty()
        && r[col("reviewer")].is_empty()
        && r[col("justification")].is_empty()));

    // --fail-on high: the lingering account is high, so the exit code says so.
    let run = w.cli(&["review", "--fail-on", "high"], &[]).await;
    assert!(!run.success, "{run:?}");
    assert!(
        run.stderr.contains("at severity high or above"),
        "{}",
        run.stderr
    );
}

/// The offboarding scenario's organization: `leaver@` (member) is an individual admin of
/// web and, through team contractors, an analyst of ios; they created `warehouse/leaver-etl`
/// (in the inventory) and `adhoc` (not); `bi/other` works on ios only.
struct Offboarding {
    web: ProjectId,
    ios: ProjectId,
    etl: Created,
    adhoc: Created,
    other: Created,
}

type Created = common::wire_created::Created;

async fn offboarding_org(w: &World) -> Offboarding {
    let web = w.project("web").await;
    let ios = w.project("ios").await;
    member(w, "leaver@acme.example", OrgRole::Member, Some(2)).await;
    member(w, "stays@acme.example", OrgRole::Member, Some(1)).await;
    grant(w, "leaver@acme.example", web, ProjectRole::Admin).await;
    grant(w, "stays@acme.example", web, ProjectRole::Analyst).await;
    let team = w
        .admin
        .create_team(w.boot.org, "contractors")
        .await
        .expect("team");
    w.admin
        .add_projects_to_team(
            w.boot.org,
            team.id,
            &[mixpanel_access::model::ProjectRoleGrant {
                id: ios,
                role: ProjectRole::Analyst,
            }],
        )
        .await
        .expect("team project");
    w.admin
        .add_users_to_team(w.boot.org, team.id, &[email("leaver@acme.example")])
        .await
        .expect("team seat");
    let etl = w
        .service_account("leaver-etl", ProjectRole::Analyst, &[web])
        .await;
    w.register_sa("warehouse/leaver-etl", &etl, &[web], |_| {})
        .await;
    let adhoc = w
        .service_account("adhoc", ProjectRole::Analyst, &[web])
        .await;
    let other = w
        .service_account("other", ProjectRole::Analyst, &[ios])
        .await;
    w.register_sa("bi/other", &other, &[ios], |_| {}).await;
    for sa in [&etl, &adhoc] {
        w.emu.kit().service_account_facts(
            w.boot.org.0,
            sa.id.0,
            serde_json::json!({"creator_email": "leaver@acme.example"}),
        );
    }
    Offboarding {
        web,
        ios,
        etl,
        adhoc,
        other,
    }
}

/// Recomputes a folder's top-level SHA256SUMS the way `sha256sum` would (what someone editing
/// the evidence would do to hide it).
fn resum(dir: &std::path::Path) {
    use sha2::Digest;
    fn walk(d: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).expect("dir").flatten() {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                walk(&e.path(), &format!("{name}/"), out);
            } else if name != "SHA256SUMS" {
                out.push(name);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, "", &mut files);
    files.sort();
    let text: String = files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(f)).expect("file");
            format!("{}  {f}\n", hex::encode(sha2::Sha256::digest(&bytes)))
        })
        .collect();
    std::fs::write(dir.join("SHA256SUMS"), text).expect("sums");
}

fn version(meta: Option<mixpanel_access::vault::KvMetadata>) -> u64 {
    meta.map(|m| m.current_version).unwrap_or(0)
}

fn writes(counters: &Value) -> u64 {
    let mut n = 0;
    if let Some(routes) = counters.as_object() {
        for (route, methods) in routes {
            let write = !matches!(
                route.as_str(),
                "me" | "list_service_accounts"
                    | "get_service_account"
                    | "list_project_service_accounts"
                    | "list_team_service_accounts"
                    | "list_timezones"
                    | "project_metadata"
                    | "list_projects"
                    | "list_teams"
                    | "list_org_users"
                    | "granted_users"
                    | "granted_teams"
                    | "get_default_access"
                    | "validate_project_credentials"
                    | "audit_logs"
                    | "project_audit_logs"
                    | "list_audit_log_exports"
                    | "download_audit_log_export"
            );
            if write {
                n += methods
                    .as_object()
                    .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>())
                    .unwrap_or(0);
            }
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboarding_removes_access_rotates_deletes_and_keeps_evidence() {
    let w = World::new().await;
    let o = offboarding_org(&w).await;
    let evidence = w.dir.path().join("evidence");
    let ev = evidence.to_str().expect("utf-8");
    let env = [("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev)];
    // The project secret and token of web, which leaver administers: the secret rotates, the
    // token only with --include-tokens.
    let web = o.web.to_string();
    w.register_project_credentials(&web).await;
    let meta_before = w.admin.project_metadata(o.web).await.expect("metadata");
    let etl_before = version(
        w.store
            .read_metadata("warehouse/leaver-etl")
            .await
            .expect("meta"),
    );
    let other_before = version(w.store.read_metadata("bi/other").await.expect("meta"));

    // Dry run: the plan, nothing changed.
    let run = w
        .cli(
            &["offboard", "leaver@acme.example", "--ticket", "IAM-7"],
            &env,
        )
        .await
        .ok();
    assert!(run.stdout.contains("dry run"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("remove leaver@acme.example from team contractors"),
        "{}",
        run.stdout
    );
    assert!(w
        .admin
        .list_org_users(w.boot.org)
        .await
        .expect("users")
        .iter()
        .any(|m| m.email.as_str() == "leaver@acme.example"));

    let run = w
        .cli(
            &[
                "offboard",
                "leaver@acme.example",
                "--ticket",
                "IAM-7",
                "--execute",
                "--approved-by",
                "ciso@acme.example",
            ],
            &env,
        )
        .await
        .ok();
    assert!(run.stdout.contains("evidence:"), "{}", run.stdout);
    // No effective access anywhere: not a member, no grant listed on any project.
    let users = w.admin.list_org_users(w.boot.org).await.expect("users");
    assert!(!users
        .iter()
        .any(|m| m.email.as_str() == "leaver@acme.example"));
    for p in [o.web, o.ios] {
        let g = w.admin.granted_users(p).await.expect("granted");
        assert!(
            !g.iter().any(|g| g.email.as_str() == "leaver@acme.example"),
            "{g:?}"
        );
    }
    // Rotated exactly what it should: the account they created, not bi/other.
    assert!(
        version(
            w.store
                .read_metadata("warehouse/leaver-etl")
                .await
                .expect("meta")
        ) > etl_before
    );
    assert_eq!(
        version(w.store.read_metadata("bi/other").await.expect("meta")),
        other_before
    );
    let meta_after = w.admin.project_metadata(o.web).await.expect("metadata");
    {
        use secrecy::ExposeSecret;
        let secret = |m: &mixpanel_access::api::wire::ProjectMetadata| {
            m.secret.as_ref().map(|s| s.expose_secret().to_string())
        };
        assert!(secret(&meta_before).is_some());
        assert_ne!(
            secret(&meta_before),
            secret(&meta_after),
            "the project secret was reset"
        );
    }
    assert_eq!(
        meta_before.token, meta_after.token,
        "the token only with --include-tokens"
    );
    let accounts = w.accounts().await;
    assert!(
        !accounts.iter().any(|a| a.id == o.etl.id),
        "the old etl account is revoked"
    );
    assert!(accounts.iter().any(|a| a.id == o.other.id));
    // The unregistered account they created is deleted.
    assert!(!accounts.iter().any(|a| a.id == o.adhoc.id));
    // The evidence folder.
    let year = Utc::now().format("%Y").to_string();
    let dir = evidence.join(&year).join("IAM-7");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("evidence folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "SHA256SUMS",
            "activity.csv",
            "after.json",
            "before.json",
            "manual-steps.md",
            "rotated-credentials.csv",
            "runs",
            "summary.md"
        ]
    );
    files.retain(|f| f != "runs");
    // The run's own copy, with its own sums; who ran and who approved it.
    for f in &files {
        assert!(dir.join("runs/1").join(f).is_file(), "runs/1/{f}");
    }
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    assert!(
        summary.contains("approved by ciso@acme.example"),
        "{summary}"
    );
    assert!(summary.contains("| 1 | offboard |"), "{summary}");
    assert!(run.stdout.contains("evidence digest"), "{}", run.stdout);
    let before: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("before.json")).expect("before"))
            .expect("json");
    assert_eq!(
        before["person"]["projects"].as_array().map(Vec::len),
        Some(2),
        "{before:#}"
    );
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("after.json")).expect("after"))
            .expect("json");
    assert_eq!(
        after["person"]["projects"],
        serde_json::json!([]),
        "{after:#}"
    );
    assert!(after["person"]["org_role"].is_null());
    let activity = std::fs::read_to_string(dir.join("activity.csv")).expect("activity");
    assert!(activity.contains("session.logged_in"), "{activity}");
    assert!(activity.contains("organization.user_removed"), "{activity}");
    // The credential changes the offboarding itself made.
    assert!(activity.contains("service_account.created"), "{activity}");
    assert!(activity.contains("service_account.deleted"), "{activity}");
    assert!(activity.contains("project.secret_reset"), "{activity}");
    assert!(!activity.contains("stays@acme.example"), "{activity}");
    let rotated = std::fs::read_to_string(dir.join("rotated-credentials.csv")).expect("rotated");
    assert!(rotated.contains("warehouse/leaver-etl"), "{rotated}");
    assert!(rotated.contains("web/secret"), "{rotated}");
    assert!(!rotated.contains("web/token"), "{rotated}");
    assert!(
        !rotated.contains(&o.etl.secret),
        "no secret in the evidence"
    );
    for f in &files {
        let text = std::fs::read_to_string(dir.join(f)).expect("file");
        for s in [&o.etl.secret, &o.adhoc.secret, &o.other.secret] {
            assert!(!text.contains(s.as_str()), "{f} holds a secret");
        }
    }
    let d = dir.to_str().expect("utf-8");
    let ok = w.cli(&["offboard", "verify", d], &[]).await.ok();
    assert!(ok.stdout.contains("OK"), "{}", ok.stdout);

    // A second run changes nothing: no write reaches Mixpanel, nothing rotates again.
    w.emu.kit().reset_counters();
    let etl_after = version(
        w.store
            .read_metadata("warehouse/leaver-etl")
            .await
            .expect("meta"),
    );
    let run = w
        .cli(
            &[
                "offboard",
                "leaver@acme.example",
                "--ticket",
                "IAM-7",
                "--execute",
                "--approved-by",
                "ciso@acme.example",
            ],
            &env,
        )
        .await
        .ok();
    assert!(run.stdout.contains("nothing to change"), "{}", run.stdout);
    assert_eq!(
        writes(&w.emu.counters().await),
        0,
        "{}",
        w.emu.counters().await
    );
    assert_eq!(
        version(
            w.store
                .read_metadata("warehouse/leaver-etl")
                .await
                .expect("meta")
        ),
        etl_after
    );
    // Tampering is caught.
    let original = std::fs::read(dir.join("summary.md")).expect("summary");
    std::fs::write(dir.join("summary.md"), "edited").expect("tamper");
    let bad = w.cli(&["offboard", "verify", d], &[]).await;
    assert!(!bad.success);
    assert!(bad.stdout.contains("summary.md"), "{}", bad.stdout);
    // Edited and re-summed: the folder agrees with itself, not with the Vault journal.
    resum(&dir);
    let bad = w.cli(&["offboard", "verify", d], &[]).await;
    assert!(!bad.success, "{}", bad.stdout);
    assert!(
        bad.stdout
            .contains("not the one the Vault journal recorded"),
        "{}",
        bad.stdout
    );
    // Without Vault it says plainly that it checked the folder against itself only.
    let alone = w
        .cli(
            &["offboard", "verify", d],
            &[("VAULT_ADDR", "http://127.0.0.1:9")],
        )
        .await;
    assert!(alone.success, "{}{}", alone.stdout, alone.stderr);
    assert!(
        alone.stdout.contains("against itself only"),
        "{}",
        alone.stdout
    );
    std::fs::write(dir.join("summary.md"), original).expect("restore");
    resum(&dir);
    let ok = w.cli(&["offboard", "verify", d], &[]).await.ok();
    assert!(
        ok.stdout.contains("Vault journal recorded for 1 run(s)"),
        "{}",
        ok.stdout
    );
    // --execute without --approved-by is refused before anything happens.
    let refused = w
        .cli(
            &[
                "offboard",
                "stays@acme.example",
                "--ticket",
                "IAM-8",
                "--execute",
            ],
            &env,
        )
        .await;
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("--approved-by"),
        "{}",
        refused.stderr
    );
    let _ = o.ios;
}

/// Against an API without the emulator-only routes (as Mixpanel): keeping the account, the
/// grant and the team seat cannot be removed through the API; they are listed as manual steps
/// with where to do them, never as done, and the exit code says how many remain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_emulator_only_routes_the_steps_are_manual_and_the_exit_is_non_zero() {
    let w = World::new().await;
    let o = offboarding_org(&w).await;
    let evidence = w.dir.path().join("evidence");
    let ev = evidence.to_str().expect("utf-8");
    let env = [("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev)];
    w.emu
        .set_faults(serde_json::json!({"hide_emulator_only_routes": true}))
        .await;
    let run = w
        .cli(
            &[
                "offboard",
                "leaver@acme.example",
                "--ticket",
                "IAM-8",
                "--execute",
                "--approved-by",
                "ciso@acme.example",
                "--keep-account",
            ],
            &env,
        )
        .await;
    // It ran to the end; what is left needs a person: 1, not 2 ("could not run").
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("2 manual step(s) remain"),
        "{}",
        run.stderr
    );
    // The grant and the seat are still there: nothing claimed otherwise.
    let g = w.admin.granted_users(o.web).await.expect("granted");
    assert!(g.iter().any(|g| g.email.as_str() == "leaver@acme.example"));
    let dir = evidence
        .join(Utc::now().format("%Y").to_string())
        .join("IAM-8");
    let manual = std::fs::read_to_string(dir.join("manual-steps.md")).expect("manual steps");
    assert!(
        manual.contains("Organization Settings → Users & Seats"),
        "{manual}"
    );
    assert!(
        manual.contains("Organization Settings → Teams → contractors"),
        "{manual}"
    );
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    assert!(summary.contains("| manual |"), "{summary}");
    assert!(!summary.contains("removed from team"), "{summary}");
    let d = dir.to_str().expect("utf-8");
    w.cli(&["offboard", "verify", d], &[]).await.ok();
}

/// A crash in the middle resumes from the journal: a SIGKILL right after the first access step
/// was journaled, then an abort in the middle of the rotation (after the new account was
/// promoted). The next run finishes, rotates once and leaves exactly one successor account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offboarding_killed_in_the_middle_resumes() {
    let w = World::new().await;
    let o = offboarding_org(&w).await;
    let evidence = w.dir.path().join("evidence");
    let ev = evidence.to_str().expect("utf-8");
    let args = [
        "offboard",
        "leaver@acme.example",
        "--ticket",
        "IAM-9",
        "--execute",
        "--approved-by",
        "ciso@acme.example",
    ];
    // SIGKILL while the run pauses right after journaling its first step.
    let mut child = tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("MIXPANEL_ROTATOR_CONFIG")
        .envs(w.env())
        .env("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev)
        .env("MIXPANEL_ROTATOR_PAUSE_AT", "offboard_step_0:30000")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the offboarding");
    let store = w.store.clone();
    wait_for(
        "the first step in the journal",
        Duration::from_secs(30),
        || {
            let store = store.clone();
            async move {
                let (j, _) = store
                    .read_state_document::<Value>("_governance/offboard/IAM-9")
                    .await
                    .ok()
                    .flatten()?;
                (j["steps"][0]["status"] == "done").then_some(())
            }
        },
    )
    .await;
    child.start_kill().expect("SIGKILL");
    let status = child.wait().await.expect("killed");
    assert!(!status.success());
    let users = w.admin.list_org_users(w.boot.org).await.expect("users");
    assert!(
        users
            .iter()
            .any(|m| m.email.as_str() == "leaver@acme.example"),
        "killed before the membership step"
    );
    // Then an abort in the middle of the rotation.
    let run = w
        .cli(
            &args,
            &[
                ("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev),
                ("MIXPANEL_ROTATOR_CRASH_AFTER", "promoted"),
            ],
        )
        .await;
    assert!(!run.success, "{run:?}");
    assert!(
        run.stderr.contains("aborting the process on purpose"),
        "{}",
        run.stderr
    );
    // The lease the killed run held expires (3 s in tests) before the resumed run can rotate.
    let run = w
        .cli(&args, &[("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev)])
        .await
        .ok();
    assert!(
        run.stderr.contains("resuming the offboarding IAM-9"),
        "{}",
        run.stderr
    );
    let accounts = w.accounts().await;
    let successors: Vec<_> = accounts
        .iter()
        .filter(|a| a.username.as_str().starts_with("leaver-etl-"))
        .collect();
    assert_eq!(successors.len(), 1, "{accounts:?}");
    assert!(!accounts
        .iter()
        .any(|a| a.id == o.etl.id || a.id == o.adhoc.id));
    let users = w.admin.list_org_users(w.boot.org).await.expect("users");
    assert!(!users
        .iter()
        .any(|m| m.email.as_str() == "leaver@acme.example"));
    let stored = w.stored("warehouse/leaver-etl").await.expect("stored");
    assert_eq!(stored.0, successors[0].id);
    let dir = evidence
        .join(Utc::now().format("%Y").to_string())
        .join("IAM-9");
    let ok = w
        .cli(&["offboard", "verify", dir.to_str().expect("utf-8")], &[])
        .await
        .ok();
    assert!(
        ok.stdout.contains("Vault journal recorded for 1 run(s)"),
        "{}",
        ok.stdout
    );
    // The two interrupted runs are in the record, not hidden in one clean run.
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    assert_eq!(
        summary.matches("interrupted (no end recorded").count(),
        2,
        "{summary}"
    );
    assert!(summary.contains("This is run 3 of the ticket"), "{summary}");
    assert!(
        summary.contains("approved by ciso@acme.example"),
        "{summary}"
    );
    assert!(dir.join("runs/3/summary.md").is_file());
    assert!(!dir.join("runs/1").exists() && !dir.join("runs/2").exists());
    let mut tree = Vec::new();
    fn walk(d: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(d).expect("dir").flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                walk(&e.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }
    walk(&dir, "", &mut tree);
    println!(
        "--- evidence tree ---\n{}\n--- summary.md ---\n{summary}",
        tree.join("\n")
    );
}

/// `review apply`: a REVOKE on one member and project removes that grant and only that one
/// (the same member's other project and another member's grant on the same project stay); the
/// dry run changes nothing; a second apply finds it already done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_apply_revokes_that_grant_and_only_that_one() {
    let w = World::new().await;
    let web = w.project("web").await;
    let ios = w.project("ios").await;
    member(&w, "ana@acme.example", OrgRole::Member, Some(3)).await;
    member(&w, "bo@acme.example", OrgRole::Member, Some(3)).await;
    grant(&w, "ana@acme.example", web, ProjectRole::Analyst).await;
    grant(&w, "ana@acme.example", ios, ProjectRole::Analyst).await;
    grant(&w, "bo@acme.example", web, ProjectRole::Admin).await;
    let evidence = w.dir.path().join("evidence");
    let ev = evidence.to_str().expect("utf-8");
    let env = [("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev)];
    let csv = w.cli(&["review", "--format", "csv"], &[]).await.ok().stdout;
    // The reviewer's edit: REVOKE ana on web, REDUCE bo on web to analyst, KEEP the rest.
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    let headers = rd.headers().expect("headers").clone();
    let col = |n: &str| headers.iter().position(|h| h == n).expect(n);
    let mut wr = csv::Writer::from_writer(Vec::new());
    wr.write_record(&headers).expect("header");
    for r in rd.records() {
        let r = r.expect("row");
        let mut row: Vec<String> = r.iter().map(String::from).collect();
        let who = row[col("email")].clone();
        let pid = row[col("project_id")].clone();
        if pid == web.to_string() && who == "ana@acme.example" {
            row[col("decision")] = "REVOKE".into();
        } else if pid == web.to_string() && who == "bo@acme.example" {
            row[col("decision")] = "REDUCE:analyst".into();
        } else {
            row[col("decision")] = "KEEP".into();
        }
        row[col("reviewer")] = "rita@acme.example".into();
        row[col("justification")] = if who == "ana@acme.example" {
            "=HYPERLINK(\"http://evil.example\",\"Q4 review\")".into()
        } else {
            "Q4 review".into()
        };
        wr.write_record(&row).expect("row");
    }
    let good = wr.into_inner().expect("csv");
    let path = w.dir.path().join("decisions.csv");
    let p = path.to_str().expect("utf-8");
    let role_of_now = |who: &'static str| {
        let admin = w.admin.clone();
        async move {
            admin
                .granted_users(web)
                .await
                .expect("granted")
                .iter()
                .find(|g| g.email.as_str() == who)
                .map(|g| g.role)
        }
    };
    // A file with a typo in an address and a REDUCE upwards: refused whole, nothing changes.
    let mut bad = String::from_utf8(good.clone()).expect("utf-8");
    let blank: Vec<String> = headers
        .iter()
        .map(|h| match h {
            "email" => "anna@acme.example".to_string(),
            "project_id" => web.to_string(),
            "decision" => "REVOKE".to_string(),
            "reviewer" => "rita@acme.example".to_string(),
            _ => String::new(),
        })
        .collect();
    bad.push_str(&blank.join(","));
    bad.push('\n');
    let bad = bad.replace("REDUCE:analyst", "REDUCE:owner");
    std::fs::write(&path, &bad).expect("write");
    let refused = w
        .cli(
            &[
                "review",
                "apply",
                p,
                "--ticket",
                "REV-0",
                "--execute",
                "--approved-by",
                "ciso@acme.example",
            ],
            &env,
        )
        .await;
    assert!(!refused.success, "{refused:?}");
    assert!(
        refused.stderr.contains("2 problem(s), nothing was applied"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("anna@acme.example is not a member"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("not a reduction"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        role_of_now("ana@acme.example").await,
        Some(ProjectRole::Analyst)
    );
    assert_eq!(
        role_of_now("bo@acme.example").await,
        Some(ProjectRole::Admin)
    );
    std::fs::write(&path, &good).expect("write");

    let role_of = |grants: &[mixpanel_access::model::UserGrant], who: &str| {
        grants
            .iter()
            .find(|g| g.email.as_str() == who)
            .map(|g| g.role)
    };
    let dry = w
        .cli(&["review", "apply", p, "--ticket", "REV-1"], &env)
        .await
        .ok();
    assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
    let g = w.admin.granted_users(web).await.expect("granted");
    assert_eq!(role_of(&g, "ana@acme.example"), Some(ProjectRole::Analyst));

    let run = w
        .cli(
            &[
                "review",
                "apply",
                p,
                "--ticket",
                "REV-1",
                "--execute",
                "--approved-by",
                "ciso@acme.example",
            ],
            &env,
        )
        .await
        .ok();
    assert!(run.stdout.contains("evidence:"), "{}", run.stdout);
    let web_grants = w.admin.granted_users(web).await.expect("granted");
    assert_eq!(role_of(&web_grants, "ana@acme.example"), None, "revoked");
    assert_eq!(
        role_of(&web_grants, "bo@acme.example"),
        Some(ProjectRole::Analyst),
        "reduced"
    );
    let ios_grants = w.admin.granted_users(ios).await.expect("granted");
    assert_eq!(
        role_of(&ios_grants, "ana@acme.example"),
        Some(ProjectRole::Analyst),
        "only that grant"
    );
    let users = w.admin.list_org_users(w.boot.org).await.expect("users");
    assert!(users.iter().any(|m| m.email.as_str() == "ana@acme.example"));
    let dir = evidence
        .join(Utc::now().format("%Y").to_string())
        .join("REV-1");
    w.cli(&["offboard", "verify", dir.to_str().expect("utf-8")], &[])
        .await
        .ok();
    // The evidence copy of the decisions keeps the formula as text.
    let copy = std::fs::read_to_string(dir.join("decisions.csv")).expect("copy");
    assert!(copy.contains("\"'=HYPERLINK("), "{copy}");
    assert!(!copy.contains(",\"=HYPERLINK("), "{copy}");
    let again = w
        .cli(
            &[
                "review",
                "apply",
                p,
                "--ticket",
                "REV-1",
                "--execute",
                "--approved-by",
                "ciso@acme.example",
            ],
            &env,
        )
        .await
        .ok();
    assert!(again.stdout.contains("already_done"), "{}", again.stdout);
}

/// `audit export`: filters by person, type and time, pages past 1,000 events (by time windows), CSV or NDJSON,
/// to stdout or a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_export_filters_pages_and_streams() {
    let w = World::new().await;
    member(&w, "ana@acme.example", OrgRole::Member, None).await;
    member(&w, "bo@acme.example", OrgRole::Member, Some(1)).await;
    for d in 0..1_100 {
        w.emu
            .kit()
            .record_login(w.boot.org.0, "ana@acme.example", &days_ago(d % 300), false);
    }
    let run = w
        .cli(
            &[
                "audit",
                "export",
                "--user",
                "ana@acme.example",
                "--type",
                "session.logged_in",
                "--format",
                "ndjson",
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(run.stdout.lines().count(), 1_100);
    assert!(
        run.stderr.contains("1100 event(s) exported in 2 page(s)"),
        "{}",
        run.stderr
    );
    for l in run.stdout.lines() {
        let e: Value = serde_json::from_str(l).expect("ndjson");
        assert_eq!(e["user_email"], "ana@acme.example");
        assert_eq!(e["entity"]["type"], "session.logged_in");
    }
    // The same through Mixpanel's asynchronous export.
    let via = w
        .cli(
            &[
                "audit",
                "export",
                "--user",
                "ana@acme.example",
                "--type",
                "session.logged_in",
                "--format",
                "ndjson",
                "--via-export",
                "30s",
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(via.stdout, run.stdout);
    assert!(
        via.stderr.contains("through an asynchronous export"),
        "{}",
        via.stderr
    );
    // A time window: the logins of the last 10 days, counted from the dates written.
    let since = (Utc::now() - chrono::Duration::days(10) + chrono::Duration::hours(1)).to_rfc3339();
    let expected = (0..1_100).filter(|d| d % 300 < 10).count();
    let file = w.dir.path().join("activity.csv");
    let run = w
        .cli(
            &[
                "audit",
                "export",
                "--user",
                "ana@acme.example",
                "--type",
                "session.logged_in",
                "--since",
                &since,
                "--output",
                file.to_str().expect("utf-8"),
            ],
            &[],
        )
        .await
        .ok();
    let text = std::fs::read_to_string(&file).expect("csv");
    assert_eq!(text.lines().count(), expected + 1, "{}", run.stderr);
    assert!(text.starts_with("id,created,type,user_email,project_id,payload"));
    // Bo's events only.
    let bo = w
        .cli(&["audit", "export", "--user", "bo@acme.example"], &[])
        .await
        .ok();
    assert!(bo.stdout.contains("bo@acme.example"));
    assert!(!bo.stdout.contains("ana@acme.example"), "{}", bo.stdout);
    let bad = w
        .cli(&["audit", "export", "--since", "last tuesday"], &[])
        .await;
    assert!(!bad.success);
    assert!(bad.stderr.contains("give a date"), "{}", bad.stderr);
}

/// The daemon's review schedule: the leader writes a review into the evidence folder and
/// exposes a gauge per finding code in /metrics (zero included); a second daemon start within
/// the interval does not write another report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reviews_on_schedule_and_exposes_finding_gauges() {
    let w = World::new().await;
    let web = w.project("web").await;
    member(&w, "dormant@acme.example", OrgRole::Member, Some(200)).await;
    w.emu
        .kit()
        .record_login(w.boot.org.0, "owner@acme.example", &days_ago(1), true);
    w.service_account("forgotten", ProjectRole::Analyst, &[web])
        .await;
    let evidence = w.dir.path().join("evidence");
    let ev = evidence.to_str().expect("utf-8");
    let env = [
        ("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev),
        ("MIXPANEL_ROTATOR_REVIEW_INTERVAL", "1h"),
    ];
    let reviews = evidence
        .join(Utc::now().format("%Y").to_string())
        .join("reviews");
    let mut d = w.daemon("reviewer-0", &env);
    d.wait_http().await;
    let url = d.url();
    let text = wait_for("the review gauges", Duration::from_secs(30), || {
        let url = url.clone();
        async move {
            let t = reqwest::get(format!("{url}/metrics"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            t.contains("mixpanel_rotator_review_findings").then_some(t)
        }
    })
    .await;
    assert!(
        text.contains("mixpanel_rotator_review_findings{code=\"service_account.lingering\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("mixpanel_rotator_review_findings{code=\"member.dormant\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("mixpanel_rotator_review_findings{code=\"inventory.account_missing\"} 0"),
        "{text}"
    );
    let files = wait_for("the review reports", Duration::from_secs(10), || {
        let reviews = reviews.clone();
        async move {
            let files: Vec<String> = std::fs::read_dir(&reviews)
                .ok()?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            (files.len() == 3).then_some(files)
        }
    })
    .await;
    assert!(files.iter().any(|f| f.ends_with(".md")), "{files:?}");
    d.terminate().await;
    // A restart within the interval computes the gauges but writes no new report.
    let mut d = w.daemon("reviewer-1", &env);
    d.wait_http().await;
    let url = d.url();
    wait_for(
        "the gauges after a restart",
        Duration::from_secs(30),
        || {
            let url = url.clone();
            async move {
                let t = reqwest::get(format!("{url}/metrics"))
                    .await
                    .ok()?
                    .text()
                    .await
                    .ok()?;
                t.contains("mixpanel_rotator_review_findings").then_some(())
            }
        },
    )
    .await;
    assert_eq!(std::fs::read_dir(&reviews).expect("reviews").count(), 3);
    d.terminate().await;
}

/// A scheduled review that fails (here its report cannot be written: a file stands where the
/// evidence folder should be) moves no timestamp, neither in Vault nor in /metrics; it is
/// counted and logged, and tried again with a growing backoff; once the cause is gone, the
/// next try writes the report and only then does the timestamp move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_scheduled_review_backs_off_and_moves_no_timestamp() {
    let w = World::new().await;
    w.project("web").await;
    let evidence = w.dir.path().join("evidence");
    std::fs::write(&evidence, "a file where the evidence folder should be").expect("block");
    let ev = evidence.to_str().expect("utf-8");
    let env = [
        ("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev),
        ("MIXPANEL_ROTATOR_REVIEW_INTERVAL", "1h"),
    ];
    let mut d = w.daemon("reviewer-fails", &env);
    d.wait_http().await;
    let url = d.url();
    let failures = |t: &str| -> u64 {
        t.lines()
            .find_map(|l| l.strip_prefix("mixpanel_rotator_review_failures_total "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    let text = wait_for("three failed reviews", Duration::from_secs(40), || {
        let url = url.clone();
        async move {
            let t = reqwest::get(format!("{url}/metrics"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            (failures(&t) >= 3).then_some(t)
        }
    })
    .await;
    // Nothing says a review was taken: no record in Vault, no timestamp, no finding gauges.
    assert!(w
        .store
        .read_state_document::<Value>("_governance/review")
        .await
        .expect("read")
        .is_none());
    assert!(
        !text.contains("mixpanel_rotator_last_review_timestamp_seconds"),
        "{text}"
    );
    // Each failure is logged with the wait before the next try, and the waits grow.
    let delays: Vec<u64> = d
        .log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "scheduled access review failed; backing off")
        .filter_map(|v| v["retry_in_ms"].as_u64())
        .collect();
    assert!(delays.len() >= 3, "{delays:?}\n{}", d.log_text());
    assert!(delays[2] > delays[0], "the backoff grows: {delays:?}");
    assert!(
        d.log_text().contains("cannot create"),
        "the log says why: {}",
        d.log_text()
    );

    // The cause removed: the next try writes the report, and only then the timestamp moves.
    std::fs::remove_file(&evidence).expect("unblock");
    let reviews = evidence
        .join(Utc::now().format("%Y").to_string())
        .join("reviews");
    wait_for("the review reports", Duration::from_secs(60), || {
        let reviews = reviews.clone();
        async move {
            let n = std::fs::read_dir(&reviews).ok()?.count();
            (n == 3).then_some(())
        }
    })
    .await;
    let (record, _) = wait_for("the review's record", Duration::from_secs(10), || {
        let store = w.store.clone();
        async move {
            store
                .read_state_document::<Value>("_governance/review")
                .await
                .ok()
                .flatten()
        }
    })
    .await;
    let last = chrono::DateTime::parse_from_rfc3339(record["last"].as_str().expect("last"))
        .expect("time")
        .timestamp();
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains(&format!(
            "mixpanel_rotator_last_review_timestamp_seconds {last}"
        )),
        "{text}"
    );
    d.terminate().await;
}

/// A credential that cannot see the whole organization (a service account below organization
/// admin cannot read the audit log) gets no review at all, not a partial one: the error names
/// the role needed. `review apply` against an API without the emulator-only route lists the
/// REVOKE as manual and exits 1 (it ran; a person must act), the grant untouched; the review
/// that could not run exits 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weaker_credential_gets_no_partial_review_and_a_missing_route_is_manual() {
    let w = World::new().await;
    let web = w.project("web").await;
    member(&w, "ana@acme.example", OrgRole::Member, Some(3)).await;
    grant(&w, "ana@acme.example", web, ProjectRole::Analyst).await;
    let weak = w
        .service_account("viewer", ProjectRole::Analyst, &[web])
        .await;
    let run = w
        .cli(
            &["review"],
            &[
                ("MIXPANEL_SERVICE_ACCOUNT_USERNAME", weak.username.as_str()),
                ("MIXPANEL_SERVICE_ACCOUNT_SECRET", weak.secret.as_str()),
            ],
        )
        .await;
    assert_eq!(run.code, Some(2), "could not run: {run:?}");
    assert!(run.stdout.is_empty(), "no partial report: {}", run.stdout);
    assert!(run.stderr.contains("admin"), "{}", run.stderr);

    let csv = w.cli(&["review", "--format", "csv"], &[]).await.ok().stdout;
    let mut out = String::new();
    for (n, line) in csv.lines().enumerate() {
        if n > 0 && line.starts_with("ana@acme.example,") {
            out.push_str(&format!(
                "{},REVOKE,rita,done\n",
                line.trim_end_matches(",,,")
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let path = w.dir.path().join("decisions.csv");
    std::fs::write(&path, out).expect("write");
    let evidence = w.dir.path().join("evidence");
    w.emu
        .set_faults(serde_json::json!({"hide_emulator_only_routes": true}))
        .await;
    let run = w
        .cli(
            &[
                "review",
                "apply",
                path.to_str().expect("utf-8"),
                "--ticket",
                "REV-2",
                "--execute",
                "--approved-by",
                "ciso@acme.example",
            ],
            &[(
                "MIXPANEL_ROTATOR_EVIDENCE_DIR",
                evidence.to_str().expect("utf-8"),
            )],
        )
        .await;
    assert_eq!(run.code, Some(1), "only a manual action left: {run:?}");
    assert!(run.stdout.contains("manual"), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("not carried out through the API (1 manual, 0 failed)"),
        "{}",
        run.stderr
    );
    let g = w.admin.granted_users(web).await.expect("granted");
    assert!(g.iter().any(|g| g.email.as_str() == "ana@acme.example"));
}

/// A failed step is listed in `manual-steps.md` with what to do, and a rerun never rewrites the
/// first run: `runs/1/` keeps the failure, `runs/2/` the rerun that carried it out, and the
/// step's history shows both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_is_listed_and_a_rerun_keeps_the_first_run() {
    let w = World::new().await;
    let _o = offboarding_org(&w).await;
    let evidence = w.dir.path().join("evidence");
    let ev = evidence.to_str().expect("utf-8");
    let env = [("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev)];
    let args = [
        "offboard",
        "leaver@acme.example",
        "--ticket",
        "IAM-10",
        "--execute",
        "--approved-by",
        "ciso@acme.example",
    ];
    // The successor account of leaver-etl cannot be created: the rotation fails.
    w.emu
        .set_faults(serde_json::json!({
            "routes": ["create_service_account"], "error_rate": 1.0, "error_status": 403
        }))
        .await;
    let run = w.cli(&args, &env).await;
    assert!(!run.success, "{run:?}");
    let dir = evidence
        .join(Utc::now().format("%Y").to_string())
        .join("IAM-10");
    let first = std::fs::read_to_string(dir.join("runs/1/manual-steps.md")).expect("run 1");
    assert!(
        first.contains("rotate warehouse/leaver-etl") && first.contains("(failed)"),
        "{first}"
    );
    assert!(!first.contains("None: every step"), "{first}");
    w.emu.kit().faults(None);
    let run = w.cli(&args, &env).await;
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    assert!(run.success, "{run:?}\n{summary}");
    // Run 1's evidence is as it was; run 2 has its own.
    assert_eq!(
        std::fs::read_to_string(dir.join("runs/1/manual-steps.md")).expect("run 1"),
        first
    );
    let second = std::fs::read_to_string(dir.join("runs/2/manual-steps.md")).expect("run 2");
    assert!(
        second.contains("Manual or failed in an earlier run, carried out since"),
        "{second}"
    );
    assert!(second.contains("run 1: failed"), "{second}");
    assert!(summary.contains("| 2 | offboard |"), "{summary}");
    let d = dir.to_str().expect("utf-8");
    let ok = w.cli(&["offboard", "verify", d], &[]).await.ok();
    assert!(
        ok.stdout.contains("Vault journal recorded for 2 run(s)"),
        "{}",
        ok.stdout
    );
}

/// The grant book is the leader's work: written with check-and-set under the term's fencing
/// token. The leader's term ends (its lease taken over) after it has revoked an expired grant
/// in Mixpanel and before it writes the book (the `grant_book_write` pause): that write does not
/// happen, the book still says `active`; the next term's pass finds the grant gone through the
/// API and records it `revoked`, with its evidence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leader_does_not_write_the_grant_book_and_the_next_leader_does() {
    use mixpanel_access::vault::Lease;
    let w = World::new().await;
    let web = w.project("web").await;
    member(&w, "cy@acme.example", OrgRole::Member, Some(1)).await;
    let evidence = w.dir.path().join("evidence");
    let ev = evidence.to_str().expect("utf-8");
    let env = [
        ("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev),
        ("MIXPANEL_ROTATOR_GRANT_CHECK_INTERVAL", "1s"),
    ];
    let p = web.to_string();
    w.cli(
        &[
            "access",
            "grant",
            "cy@acme.example",
            "--project",
            &p,
            "--role",
            "admin",
            "--for",
            "2s",
            "--ticket",
            "IAM-40",
            "--reason",
            "incident",
        ],
        &env,
    )
    .await
    .ok();
    let held = || async {
        w.admin
            .granted_users(web)
            .await
            .expect("granted")
            .iter()
            .any(|g| g.email.as_str() == "cy@acme.example")
    };
    assert!(held().await);

    let mut d = w.daemon(
        "grants-0",
        &[
            env[0],
            env[1],
            ("MIXPANEL_ROTATOR_PAUSE_AT", "grant_book_write:6000"),
        ],
    );
    d.wait_http().await;
    wait_for(
        "the leader paused before the book write",
        Duration::from_secs(40),
        || async {
            d.log_text()
                .contains("MIXPANEL_ROTATOR_PAUSE_AT=grant_book_write")
                .then_some(())
        },
    )
    .await;
    assert!(!held().await, "revoked in Mixpanel before the book write");
    // Take the lease over (a restart of the same holder gets a new fencing token): the paused
    // pass now belongs to a term that is over.
    let stolen = Lease::acquire(&w.store, "grants-0", Duration::from_secs(3))
        .await
        .expect("vault")
        .expect("the lease, taken over");
    drop(stolen);
    wait_for(
        "the deposed pass refused",
        Duration::from_secs(40),
        || async {
            d.log_text()
                .contains("this replica no longer leads; nothing more was written")
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        grant_status(&w, "IAM-40-1").await.as_deref(),
        Some("active"),
        "the deposed leader wrote the grant book:\n{}",
        d.log_text()
    );
    wait_for(
        "the next leader's record",
        Duration::from_secs(60),
        || async {
            (grant_status(&w, "IAM-40-1").await.as_deref() == Some("revoked")).then_some(())
        },
    )
    .await;
    let summary = std::fs::read_to_string(
        evidence
            .join(Utc::now().format("%Y").to_string())
            .join("IAM-40")
            .join("summary.md"),
    )
    .expect("summary");
    assert!(summary.contains("Status: **revoked**"), "{summary}");
    assert!(
        summary.contains("no longer held (verified by a read)"),
        "{summary}"
    );
    d.terminate().await;
}

async fn metrics_text(url: &str) -> Option<String> {
    reqwest::get(format!("{url}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()
}

async fn grant_status(w: &World, id: &str) -> Option<String> {
    let (book, _) = w
        .store
        .read_state_document::<Value>("_governance/grants")
        .await
        .ok()
        .flatten()?;
    book["grants"]
        .as_array()?
        .iter()
        .find(|g| g["id"] == id)
        .and_then(|g| g["status"].as_str().map(String::from))
}

/// A time-limited grant's life: `access grant` (verified), the daemon's leader revoking it at
/// its expiry (verified through the API, evidence under the ticket, `/metrics` back to zero
/// overdue). With the emulator-only routes hidden (as on Mixpanel), the expired grant is a
/// manual step: `revoke_manual` with the web app's place, counted as overdue, a high finding in
/// the review, and `access revoke` exits non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_limited_grant_is_revoked_by_the_daemon_at_its_expiry() {
    let w = World::new().await;
    let web = w.project("web").await;
    member(&w, "ana@acme.example", OrgRole::Member, Some(1)).await;
    member(&w, "bo@acme.example", OrgRole::Member, Some(1)).await;
    let evidence = w.dir.path().join("evidence");
    let ev = evidence.to_str().expect("utf-8");
    let env = [
        ("MIXPANEL_ROTATOR_EVIDENCE_DIR", ev),
        ("MIXPANEL_ROTATOR_GRANT_CHECK_INTERVAL", "1s"),
    ];
    let admin_of = |who: &'static str| {
        let admin = w.admin.clone();
        async move {
            admin
                .granted_users(web)
                .await
                .expect("granted")
                .iter()
                .find(|g| g.email.as_str() == who)
                .map(|g| g.role)
        }
    };
    let p = web.to_string();
    let granted = w
        .cli(
            &[
                "access",
                "grant",
                "ana@acme.example",
                "--project",
                &p,
                "--role",
                "admin",
                "--for",
                "4s",
                "--ticket",
                "IAM-20",
                "--reason",
                "two-week admin sprint",
            ],
            &env,
        )
        .await
        .ok();
    println!("$ access grant ...\n{}", granted.stdout);
    assert!(
        granted.stdout.contains("verified by a read"),
        "{}",
        granted.stdout
    );
    assert_eq!(admin_of("ana@acme.example").await, Some(ProjectRole::Admin));
    let listed = w.cli(&["access", "list"], &env).await.ok();
    println!("$ access list\n{}", listed.stdout);
    assert!(listed.stdout.contains("IAM-20-1"), "{}", listed.stdout);
    assert!(listed.stdout.contains("active"), "{}", listed.stdout);

    let mut d = w.daemon("grants-0", &env);
    d.wait_http().await;
    let url = d.url();
    wait_for(
        "the daemon's revocation",
        Duration::from_secs(40),
        || async {
            (grant_status(&w, "IAM-20-1").await.as_deref() == Some("revoked")).then_some(())
        },
    )
    .await;
    assert_eq!(
        admin_of("ana@acme.example").await,
        None,
        "revoked in Mixpanel"
    );
    let text = metrics_text(&url).await.expect("metrics");
    assert!(
        text.contains("mixpanel_rotator_access_grants_overdue 0"),
        "{text}"
    );
    let listed = w
        .cli(&["access", "list", "--format", "json"], &env)
        .await
        .ok();
    println!("$ access list --format json\n{}", listed.stdout);
    let rows: Value = serde_json::from_str(&listed.stdout).expect("json");
    assert_eq!(rows[0]["status"], "revoked");
    assert_eq!(rows[0]["expired"], true);
    assert_eq!(rows[0]["overdue"], false);
    let dir = evidence
        .join(Utc::now().format("%Y").to_string())
        .join("IAM-20");
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
    println!("--- IAM-20/summary.md ---\n{summary}");
    assert!(summary.contains("Status: **revoked**"), "{summary}");
    assert!(
        summary.contains("access_grant") && summary.contains("access_expire"),
        "{summary}"
    );
    let ok = w
        .cli(&["offboard", "verify", dir.to_str().expect("utf-8")], &[])
        .await
        .ok();
    assert!(ok.stdout.contains("for 2 run(s)"), "{}", ok.stdout);

    // As on Mixpanel: no route to remove one grant.
    w.cli(
        &[
            "access",
            "grant",
            "bo@acme.example",
            "--project",
            &p,
            "--role",
            "analyst",
            "--for",
            "2s",
            "--ticket",
            "IAM-21",
            "--reason",
            "seasonal campaign",
        ],
        &env,
    )
    .await
    .ok();
    w.emu
        .set_faults(serde_json::json!({"hide_emulator_only_routes": true}))
        .await;
    wait_for("the manual revocation", Duration::from_secs(40), || async {
        (grant_status(&w, "IAM-21-1").await.as_deref() == Some("revoke_manual")).then_some(())
    })
    .await;
    assert_eq!(
        admin_of("bo@acme.example").await,
        Some(ProjectRole::Analyst),
        "still held"
    );
    let text = wait_for("the overdue gauge", Duration::from_secs(20), || async {
        let t = metrics_text(&url).await?;
        t.contains("mixpanel_rotator_access_grants_overdue 1")
            .then_some(t)
    })
    .await;
    assert!(text.contains("mixpanel_rotator_access_grants_overdue 1"));
    let listed = w.cli(&["access", "list"], &env).await.ok();
    println!("$ access list (routes hidden)\n{}", listed.stdout);
    assert!(listed.stdout.contains("revoke_manual"), "{}", listed.stdout);
    let revoke = w.cli(&["access", "revoke", "IAM-21-1"], &env).await;
    assert!(!revoke.success, "{revoke:?}");
    assert!(
        revoke
            .stderr
            .contains("Organization Settings → Users & Seats"),
        "{}",
        revoke.stderr
    );
    let review = w.cli(&["review", "--format", "json"], &env).await;
    let review: Value = serde_json::from_str(&review.stdout).expect("review json");
    let f: Vec<&Value> = review["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "access.grant_overdue")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["severity"], "high");
    assert_eq!(review["timed_grants"].as_array().map(Vec::len), Some(2));
    d.terminate().await;
}
