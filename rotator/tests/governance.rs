//! Governance end to end: the emulator over HTTP, a real OpenBao, the rotator binary.
//! Reviews (dormant and active members from simulated logins, lingering service accounts),
//! offboarding with its evidence folder, `review apply`, `audit export`.

mod common;

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
    w.emu.activate(who).await;
    if let Some(d) = login_days_ago {
        w.emu
            .kit()
            .record_login(w.boot.org.0, who, &days_ago(d), false);
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
    // The owner bootstrapped with no login: "none within the log's retention".
    let md = w.cli(&["review"], &[]).await.ok().stdout;
    assert!(md.contains("none within the log's retention"), "{md}");
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
