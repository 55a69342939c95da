//! End-to-end tests of the rotator: real OpenBao, the emulator in-process, the rotator binary as
//! a subprocess (killed where the scenario needs it). Every scenario also checks that no secret
//! held in Vault appears in anything the rotator printed.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use common::{wait_for, World};
use mixpanel_access::model::{
    audit_event, Email, OrgRole, ProjectRole, ProjectRoleGrant, TargetType,
};
use mixpanel_access::vault::{Lease, LeaseStatus};
use serde_json::{json, Value};

const DAY: Duration = Duration::from_secs(86_400);

async fn metric(url: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_rotation_keeps_consumers_working_and_revokes_only_after_the_overlap() {
    let w = World::new().await;
    let org = w.boot.org;
    let p = w.project("analytics").await;
    let old = w.service_account("etl", ProjectRole::Analyst, &[p]).await;
    // A grant on a project the inventory does not list: the new account must keep it too.
    let side = w.project("side-reports").await;
    w.admin
        .add_service_accounts_to_projects(
            org,
            &[old.id],
            &[ProjectRoleGrant {
                id: side,
                role: ProjectRole::Consumer,
            }],
        )
        .await
        .expect("side grant");
    let team = w.admin.create_team(org, "data").await.expect("team");
    w.admin
        .add_projects_to_team(
            org,
            team.id,
            &[ProjectRoleGrant {
                id: p,
                role: ProjectRole::Consumer,
            }],
        )
        .await
        .expect("team project");
    w.admin
        .add_service_accounts_to_team(org, team.id, &[old.id])
        .await
        .expect("team member");
    let name = "warehouse/etl";
    w.register_sa(name, &old, &[p], |e| {
        e.role = Some(ProjectRole::Analyst);
        e.rotation_period = Some(2 * DAY);
    })
    .await;

    // A consumer reading creds/<name> from Vault throughout, authenticating with what it reads.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let consumer = {
        let (stop, ok, failures, seen) = (stop.clone(), ok.clone(), failures.clone(), seen.clone());
        let store = w.store.clone();
        let url = w.emu.url.clone();
        tokio::spawn(async move {
            let emu_client = |u: &str, s: &str| {
                let mut c = mixpanel_access::api::ClientConfig::new(
                    &url,
                    u,
                    secrecy::SecretString::from(s.to_string()),
                )
                .expect("config");
                c.max_retries = 0;
                mixpanel_access::api::Client::new(c).expect("client")
            };
            while !stop.load(Ordering::Relaxed) {
                let cred = store.read_credential(name).await.expect("read creds");
                if let Some((
                    mixpanel_access::vault::Credential::ServiceAccount {
                        username, secret, ..
                    },
                    _,
                )) = cred
                {
                    use secrecy::ExposeSecret;
                    let c = emu_client(username.as_str(), secret.expose_secret());
                    match c.me().await {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            seen.lock().expect("seen").insert(username.to_string());
                        }
                        Err(e) => failures
                            .lock()
                            .expect("failures")
                            .push(format!("{username}: {e}")),
                    }
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    };

    let started = Utc::now();
    let run = w
        .cli(
            &[
                "rotate",
                name,
                "--reason",
                "quarterly rotation",
                "--overlap",
                "3s",
                "--wait",
            ],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains("done"), "{}", run.stdout);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    consumer.await.expect("consumer");
    let failures = failures.lock().expect("failures").clone();
    assert!(
        failures.is_empty(),
        "the consumer was refused: {failures:?}"
    );
    assert!(ok.load(Ordering::Relaxed) > 20, "too few consumer reads");
    assert_eq!(
        seen.lock().expect("seen").len(),
        2,
        "the consumer saw both credentials"
    );

    // The old account went only after the overlap that followed the promotion.
    let meta = w
        .store
        .read_metadata(name)
        .await
        .expect("meta")
        .expect("meta");
    assert_eq!(meta.current_version, 2);
    let promoted = meta.versions[&2].created_time.expect("created time");
    let deleted = w.audit("service_account.deleted", started).await;
    let deleted_old = deleted
        .iter()
        .find(|e| e.payload()["service_account_id"].as_u64() == Some(old.id.0))
        .expect("the old account was deleted");
    let gap = deleted_old.created.expect("created") - promoted;
    assert!(
        gap >= TimeDelta::milliseconds(2_900),
        "the old account was deleted {gap} after the promotion, before the 3s overlap ended"
    );

    // The new account: same role, project grant and team; expires after twice the period.
    let (new_id, _, _) = w.stored(name).await.expect("stored");
    assert_ne!(new_id, old.id);
    let accounts = w.accounts().await;
    assert!(
        accounts.iter().all(|a| a.id != old.id),
        "the old account is gone"
    );
    let new = accounts
        .iter()
        .find(|a| a.id == new_id)
        .expect("new account");
    assert_eq!(new.role, Some(ProjectRole::Analyst));
    assert!(
        new.username.base_name().starts_with("etl-"),
        "{}",
        new.username
    );
    let expires = new.expires.expect("an expiry");
    let span = expires - new.created;
    assert!(
        (span - TimeDelta::days(4)).num_seconds().abs() <= 5,
        "expires {expires} is not twice the 2-day period after creation {}",
        new.created
    );
    let members = w
        .admin
        .list_project_service_accounts(p)
        .await
        .expect("project members");
    let m = members
        .iter()
        .find(|m| m.account.id == new_id)
        .expect("member");
    assert_eq!(m.project_role, ProjectRole::Analyst);
    assert_eq!(m.target_type, TargetType::Individual);
    let side_members = w
        .admin
        .list_project_service_accounts(side)
        .await
        .expect("side members");
    let m = side_members
        .iter()
        .find(|m| m.account.id == new_id)
        .expect("the grant outside the inventory's projects was copied");
    assert_eq!(
        (m.project_role, m.target_type),
        (ProjectRole::Consumer, TargetType::Individual)
    );
    let teams = w.admin.list_teams(org).await.expect("teams");
    let t = teams.iter().find(|t| t.id == team.id).expect("team");
    assert!(
        t.service_accounts.contains(&new_id),
        "new account joined the team"
    );

    let e = w.entry(name).await;
    assert_eq!(e.status.as_str(), "ok");
    assert_eq!(e.sa_id, Some(new_id));
    assert!(e.rotation_id.is_some());
    assert!(
        e.last_trigger
            .as_deref()
            .unwrap_or("")
            .starts_with("manual: quarterly rotation"),
        "{:?}",
        e.last_trigger
    );
    let next = e.next_rotation.expect("next rotation");
    assert!(
        (next - Utc::now()).num_hours() >= 40,
        "next rotation {next}"
    );
    w.assert_converged(name, "etl").await;
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_after_any_phase_converges_without_losing_a_secret_or_leaving_an_orphan() {
    let w = World::new().await;
    let p = w.project("crashes").await;
    let holder = [("MIXPANEL_ROTATOR_HOLDER", "crash-test")];
    for phase in [
        "create",
        "intent",
        "created",
        "tested",
        "promoted",
        "overlap",
        "revoked_old",
        "done",
    ] {
        let base = format!("crash-{}", phase.replace('_', "-"));
        let old = w.service_account(&base, ProjectRole::Consumer, &[p]).await;
        let name = format!("crash/{phase}");
        w.register_sa(&name, &old, &[p], |_| {}).await;
        let run = w
            .cli(
                &[
                    "rotate",
                    &name,
                    "--reason",
                    "crash test",
                    "--overlap",
                    "1s",
                    "--wait",
                ],
                &[holder[0], ("MIXPANEL_ROTATOR_CRASH_AFTER", phase)],
            )
            .await;
        assert!(
            !run.success,
            "{phase}: the process should have aborted:\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("aborting the process on purpose"),
            "{phase}: {}",
            run.stderr
        );
        // Whatever the phase, consumers still have a working credential.
        let (_, user, secret) = w.stored(&name).await.expect("stored");
        assert!(
            w.emu.client(&user, &secret).me().await.is_ok(),
            "{phase}: the stored credential stopped working after the crash"
        );
        if phase == "create" {
            let orphans = w
                .accounts()
                .await
                .into_iter()
                .filter(|a| a.username.base_name().starts_with(&format!("{base}-")))
                .count();
            assert_eq!(orphans, 1, "the crash left the new account behind");
        }
        let again = w.cli(&["once", "--wait"], &holder).await.ok();
        assert!(again.stdout.contains("reconciled"), "{}", again.stdout);
        w.assert_converged(&name, &base).await;
        let e = w.entry(&name).await;
        assert!(e.rotation_id.is_some(), "{phase}: rotation recorded");
        assert_eq!(e.status.as_str(), "ok", "{phase}: {:?}", e.status_reason);
    }
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_rotate_each_due_entry_once_and_the_follower_takes_over() {
    let w = World::new().await;
    let p = w.project("fleet").await;
    let n = 10;
    let mut names = Vec::new();
    for i in 0..n {
        let old = w
            .service_account(&format!("fleet{i}"), ProjectRole::Consumer, &[p])
            .await;
        let name = format!("fleet/sa{i}");
        w.register_sa(&name, &old, &[p], |e| {
            e.rotation_period = Some(90 * DAY);
            e.last_rotated = Some(Utc::now() - TimeDelta::days(100));
        })
        .await;
        names.push(name);
    }
    assert_eq!(w.entry("fleet/sa0").await.status.as_str(), "overdue");
    let since = Utc::now();
    let mut a = w.daemon("replica-a", &[]);
    let mut b = w.daemon("replica-b", &[]);
    a.wait_http().await;
    b.wait_http().await;
    for name in &names {
        let store = w.store.clone();
        wait_for(&format!("{name} rotated"), Duration::from_secs(60), || {
            let store = store.clone();
            let name = name.clone();
            async move {
                let j = store.read_journal(&name).await.ok()??;
                (j.0.phase.as_str() == "done").then_some(())
            }
        })
        .await;
    }
    // One rotation per entry: as many creates and deletes as entries, no more.
    assert_eq!(w.audit(audit_event::SA_CREATED, since).await.len(), n);
    assert_eq!(w.audit("service_account.deleted", since).await.len(), n);
    assert_eq!(w.accounts().await.len(), n + 1);
    for (i, name) in names.iter().enumerate() {
        w.assert_converged(name, &format!("fleet{i}")).await;
    }
    // Exactly one leader, and the metrics agree.
    let leader = match Lease::status(&w.store).await.expect("lease") {
        LeaseStatus::Held { record, .. } => record.holder,
        other => panic!("no leader: {other:?}"),
    };
    let (mut leading, follower) = if leader == "replica-a" {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(
        metric(&leading.url(), "mixpanel_rotator_is_leader").await,
        Some(1.0)
    );
    assert_eq!(
        metric(&follower.url(), "mixpanel_rotator_is_leader").await,
        Some(0.0)
    );

    // POST /rotate on the follower: authenticated, then queued for the leader.
    let http = reqwest::Client::new();
    let body = json!({"name": "fleet/sa1", "reason": "failover check", "overlap": "0s"});
    let r = http
        .post(format!("{}/rotate", follower.url()))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 401);
    let r = http
        .post(format!("{}/rotate", follower.url()))
        .bearer_auth("test-bearer-token-value")
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 202);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["result"], "queued", "{v}");
    let before = w.entry("fleet/sa1").await.rotation_id;

    // Kill the leader: the follower takes over within the lease TTL (3s) and does the work.
    let killed = Instant::now();
    leading.kill().await;
    w.wait_leader(&follower.holder, Duration::from_secs(10))
        .await;
    let store = w.store.clone();
    let takeover = killed.elapsed();
    eprintln!("takeover after the leader was killed: {takeover:?} (lease TTL 3s)");
    // The lease expires on the server at most one TTL after the last renewal and the follower
    // polls every TTL/3: about 4s at worst, plus slack for a loaded machine.
    assert!(
        takeover <= Duration::from_secs(6),
        "takeover took {takeover:?}"
    );
    wait_for(
        "the queued request to be done",
        Duration::from_secs(30),
        || {
            let store = store.clone();
            let before = before.clone();
            async move {
                let e = store.read_inventory_entry("fleet/sa1").await.ok()??.ok()?;
                let j = store.read_journal("fleet/sa1").await.ok()??;
                (e.rotation_id != before && j.0.phase.as_str() == "done").then_some(())
            }
        },
    )
    .await;
    let mut follower = follower;
    assert_eq!(
        metric(&follower.url(), "mixpanel_rotator_is_leader").await,
        Some(1.0)
    );
    assert_eq!(w.accounts().await.len(), n + 1);
    w.assert_converged("fleet/sa1", "fleet1").await;
    let e = w.entry("fleet/sa1").await;
    assert!(e
        .last_trigger
        .as_deref()
        .unwrap_or("")
        .contains("failover check"));

    // SIGTERM: a clean exit that releases the lease.
    assert_eq!(follower.terminate().await, Some(0));
    assert!(matches!(
        Lease::status(&w.store).await.expect("lease"),
        LeaseStatus::Free { .. }
    ));
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn openbao_down_during_the_overlap_keeps_the_old_account_until_it_is_back() {
    let bao = common::start_bao(common::OpenBao::persistent);
    let mut w = World::with_bao(bao).await;
    let p = w.project("outage").await;
    let old = w
        .service_account("outage", ProjectRole::Consumer, &[p])
        .await;
    let name = "outage/job";
    w.register_sa(name, &old, &[p], |_| {}).await;
    let mut d = w.daemon("solo", &[]);
    d.wait_http().await;
    let r = reqwest::Client::new()
        .post(format!("{}/rotate", d.url()))
        .bearer_auth("test-bearer-token-value")
        .json(&json!({"name": name, "reason": "outage test", "overlap": "5s"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 202, "{:?}", r.text().await);
    let store = w.store.clone();
    wait_for("the overlap phase", Duration::from_secs(30), || {
        let store = store.clone();
        async move {
            let (j, _) = store.read_journal(name).await.ok()??;
            (j.phase.as_str() == "overlap").then_some(())
        }
    })
    .await;
    tokio::task::block_in_place(|| w.bao.stop());
    // The overlap ends while Vault is down: the old account must stay.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(
        w.accounts().await.iter().any(|a| a.id == old.id),
        "the old account was deleted while Vault was unreachable"
    );
    tokio::task::block_in_place(|| w.bao.start());
    let store = w.store.clone();
    wait_for(
        "the rotation to finish after Vault returned",
        Duration::from_secs(40),
        || {
            let store = store.clone();
            async move {
                let (j, _) = store.read_journal(name).await.ok()??;
                (j.phase.as_str() == "done").then_some(())
            }
        },
    )
    .await;
    assert!(w.accounts().await.iter().all(|a| a.id != old.id));
    w.assert_converged(name, "outage").await;
    assert_eq!(d.terminate().await, Some(0));
    let log = d.log_text();
    assert!(log.contains("leader lease renewal failed"), "{log}");
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn emulator_faults_converge_without_duplicate_accounts() {
    let w = World::new().await;
    let p = w.project("faulty").await;
    let n = 4;
    let mut names = Vec::new();
    for i in 0..n {
        let old = w
            .service_account(&format!("faulty{i}"), ProjectRole::Analyst, &[p])
            .await;
        let name = format!("faulty/sa{i}");
        w.register_sa(&name, &old, &[p], |e| {
            e.last_rotated = Some(Utc::now() - TimeDelta::days(3));
            e.overlap = Duration::ZERO;
        })
        .await;
        names.push(name);
    }
    let since = Utc::now();
    w.emu
        .set_faults(json!({
            "error_rate": 0.2,
            "error_status": 503,
            "rate_limit_rate": 0.15,
            "retry_after_secs": 1,
            "seed": 7
        }))
        .await;
    let env = [
        ("MIXPANEL_ROTATOR_API_MAX_RETRIES", "2"),
        ("MIXPANEL_ROTATOR_MAX_ATTEMPTS", "12"),
        ("MIXPANEL_ROTATOR_RETRY_BACKOFF", "100ms"),
    ];
    let mut passes = 0;
    loop {
        passes += 1;
        let run = w.cli(&["once", "--wait"], &env).await;
        let mut all_done = true;
        for name in &names {
            let j = w.store.read_journal(name).await.expect("journal");
            if j.map(|(j, _)| j.phase.as_str() != "done").unwrap_or(true) {
                all_done = false;
            }
        }
        if all_done {
            break;
        }
        assert!(
            passes < 5,
            "not converged after {passes} passes:\n{}",
            run.stderr
        );
    }
    w.emu.clear_faults().await;
    assert_eq!(
        w.accounts().await.len(),
        n + 1,
        "duplicate or missing accounts"
    );
    assert_eq!(w.audit(audit_event::SA_CREATED, since).await.len(), n);
    for (i, name) in names.iter().enumerate() {
        w.assert_converged(name, &format!("faulty{i}")).await;
    }
    let logs = w.outputs.lock().expect("outputs").join("\n");
    assert!(
        logs.contains("retrying"),
        "faults were injected and retried"
    );
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_reset_route_project_secrets_are_mirrored_and_marked_for_a_human() {
    use mixpanel_access::vault::Credential;
    use secrecy::ExposeSecret;
    let w = World::new().await;
    let p = w.project("upstream").await;
    let ps = p.0.to_string();
    w.cli(
        &[
            "inventory",
            "add",
            "upstream/secret",
            "--kind",
            "project_secret",
            "--owner",
            "ops@acme.example",
            "--project",
            &ps,
        ],
        &[],
    )
    .await
    .ok();
    let stored_secret = |c: Option<(Credential, _)>| match c {
        Some((Credential::ProjectSecret { secret, .. }, _)) => secret.expose_secret().to_string(),
        other => panic!("expected a project secret, got {other:?}"),
    };
    let mixpanel_secret = || async {
        w.admin
            .project_metadata(p)
            .await
            .expect("metadata")
            .secret
            .expect("secret")
            .expose_secret()
            .to_string()
    };
    let before = mixpanel_secret().await;
    assert_eq!(
        stored_secret(w.store.read_credential("upstream/secret").await.unwrap()),
        before
    );

    // As on Mixpanel itself: the emulator's reset routes answer 404.
    w.emu
        .set_faults(json!({"hide_emulator_only_routes": true}))
        .await;
    let run = w
        .cli(
            &[
                "rotate",
                "upstream/secret",
                "--reason",
                "secret in a chat log",
            ],
            &[],
        )
        .await;
    // Nothing was rotated: the command says so and fails.
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stdout.contains("manual_rotation_required") && run.stdout.contains("NOT rotated"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(&before) && !run.stderr.contains(&before));
    let e = w.entry("upstream/secret").await;
    assert_eq!(
        e.status,
        mixpanel_access::inventory::CredentialStatus::ManualRotationRequired,
        "{e:?}"
    );
    let why = e.status_reason.clone().unwrap_or_default();
    assert!(
        why.contains("secret in a chat log") && why.contains("reset it in the settings of project"),
        "{why}"
    );
    // Nothing was reset; Vault holds the current value, which still validates.
    assert_eq!(mixpanel_secret().await, before);
    assert_eq!(
        stored_secret(w.store.read_credential("upstream/secret").await.unwrap()),
        before
    );

    // The owner resets it by hand; the next request mirrors the new value and records it.
    w.emu.clear_faults().await;
    w.admin
        .reset_project_secret(p)
        .await
        .expect("reset by hand");
    w.emu
        .set_faults(json!({"hide_emulator_only_routes": true}))
        .await;
    let after = mixpanel_secret().await;
    assert_ne!(after, before);
    let run = w
        .cli(
            &["rotate", "upstream/secret", "--reason", "reset by hand"],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains("mirrored"), "{}", run.stdout);
    assert_eq!(
        stored_secret(w.store.read_credential("upstream/secret").await.unwrap()),
        after
    );
    let e = w.entry("upstream/secret").await;
    assert_eq!(
        e.last_trigger.as_deref(),
        Some("manual (detected by the mirror)")
    );
    let counters = w.emu.counters().await;
    assert_eq!(counters["reset_project_secret"]["POST"].as_u64(), Some(3));
    w.emu.clear_faults().await;
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_that_fail_after_the_write_leave_no_twin_account() {
    let w = World::new().await;
    let p = w.project("lossy").await;
    let old = w.service_account("lossy", ProjectRole::Analyst, &[p]).await;
    w.register_sa("lossy/etl", &old, &[p], |e| {
        e.last_rotated = Some(Utc::now() - TimeDelta::days(3));
        e.overlap = Duration::ZERO;
    })
    .await;
    // Half the creates are stored by Mixpanel but answered 502: the client must not send
    // them again, and the engine must find and delete what they made.
    w.emu
        .set_faults(json!({
            "error_rate": 0.5,
            "error_status": 502,
            "error_after_commit": true,
            "routes": ["create_service_account"],
            "seed": 11
        }))
        .await;
    let env = [
        ("MIXPANEL_ROTATOR_MAX_ATTEMPTS", "12"),
        ("MIXPANEL_ROTATOR_RETRY_BACKOFF", "100ms"),
    ];
    let mut passes = 0;
    loop {
        passes += 1;
        let run = w.cli(&["once", "--wait"], &env).await;
        let done = w
            .store
            .read_journal("lossy/etl")
            .await
            .expect("journal")
            .is_some_and(|(j, _)| j.phase.as_str() == "done");
        if done {
            break;
        }
        assert!(
            passes < 4,
            "not converged after {passes} passes:\n{}",
            run.stderr
        );
    }
    let creates = w.emu.counters().await["create_service_account"]["POST"]
        .as_u64()
        .unwrap_or(0);
    w.emu.clear_faults().await;
    assert!(creates >= 2, "a fault fired: {creates} creates");
    // The bootstrap account and the new one; every orphan was deleted.
    assert_eq!(w.accounts().await.len(), 2, "twin or orphan accounts left");
    w.assert_converged("lossy/etl", "lossy").await;
    let logs = w.outputs.lock().expect("outputs").join("\n");
    assert!(logs.contains("may have been carried out"), "{logs}");
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_downgraded_on_a_project_rotates_that_projects_credentials() {
    let w = World::new().await;
    let org = w.boot.org;
    let p1 = w.project("watched").await;
    let p2 = w.project("other").await;
    let ana: Email = "ana@acme.example".parse().expect("email");
    w.admin
        .invite_org_users(org, std::slice::from_ref(&ana), OrgRole::Member)
        .await
        .expect("invite");
    w.emu.activate("ana@acme.example").await;
    w.admin
        .add_users_to_projects(org, std::slice::from_ref(&ana), &[p1], ProjectRole::Admin)
        .await
        .expect("grant admin");
    let s1 = w
        .service_account("watched", ProjectRole::Consumer, &[p1])
        .await;
    let s2 = w
        .service_account("other", ProjectRole::Consumer, &[p2])
        .await;
    w.register_sa("watched/job", &s1, &[p1], |_| {}).await;
    w.register_sa("other/job", &s2, &[p2], |_| {}).await;
    let mut d = w.watcher(p1, "ana@acme.example").await;
    w.admin
        .add_users_to_projects(org, std::slice::from_ref(&ana), &[p1], ProjectRole::Analyst)
        .await
        .expect("downgrade");
    w.rotation_done("watched/job", Duration::from_secs(30))
        .await;
    let e = w.entry("watched/job").await;
    let trigger = e.last_trigger.clone().unwrap_or_default();
    let expected = format!(
        "admin ana@acme.example downgraded to analyst on project {}",
        p1.0
    );
    assert!(trigger.starts_with("membership: "), "{trigger}");
    assert!(trigger.contains(&expected), "{trigger}");
    let (j, _) = w
        .store
        .read_journal("watched/job")
        .await
        .expect("j")
        .expect("j");
    assert!(j.reason.unwrap_or_default().contains(&expected));
    assert_eq!(j.trigger.as_str(), "membership");
    w.assert_converged("watched/job", "watched").await;
    // The other project's credential is untouched.
    assert!(w.entry("other/job").await.rotation_id.is_none());
    assert!(w
        .store
        .read_journal("other/job")
        .await
        .expect("j")
        .is_none());
    assert!(metric(&d.url(), "mixpanel_rotator_membership_changes_total").await >= Some(1.0));
    assert_eq!(d.terminate().await, Some(0));
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_inventory_rotate_and_export_never_print_a_secret() {
    let w = World::new().await;
    let p = w.project("cli").await;
    let ps = p.0.to_string();
    let run = w
        .cli(
            &[
                "inventory",
                "add",
                "bi/looker",
                "--kind",
                "service_account",
                "--owner",
                "bi@acme.example",
                "--project",
                &ps,
                "--role",
                "analyst",
                "--create",
                "--rotation-period",
                "30d",
                "--overlap",
                "1s",
                "--integration",
                "bi_tool",
            ],
            &[],
        )
        .await
        .ok();
    assert!(
        run.stdout.contains("created service account looker."),
        "{}",
        run.stdout
    );
    let legacy = w
        .service_account("legacy", ProjectRole::Consumer, &[p])
        .await;
    let id = legacy.id.0.to_string();
    w.cli_stdin(
        &[
            "inventory",
            "add",
            "legacy/job",
            "--kind",
            "service_account",
            "--owner",
            "ops@acme.example",
            "--project",
            &ps,
            "--sa-id",
            &id,
            "--secret-stdin",
        ],
        &[],
        Some(&format!("{}\n", legacy.secret)),
    )
    .await
    .ok();
    let (sid, _, secret) = w.stored("legacy/job").await.expect("stored");
    assert_eq!(sid, legacy.id);
    assert_eq!(secret, legacy.secret);
    let run = w
        .cli(
            &[
                "inventory",
                "add",
                "proj/secret",
                "--kind",
                "project_secret",
                "--owner",
                "ops@acme.example",
                "--project",
                &ps,
            ],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains("mirrored"), "{}", run.stdout);
    let file = w.dir.path().join("inventory.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[credential]]
name = "bi/looker"
kind = "service_account"
integration = "bi_tool"
projects = [{p}]
owner = "bi@acme.example"
purpose = "Dashboards"
rotation_period = "30d"
overlap = "1s"

[[credential]]
name = "proj/token"
kind = "project_token"
projects = [{p}]
owner = "ops@acme.example"
used_by = "web SDK"
"#,
            p = p.0
        ),
    )
    .expect("write inventory");
    let path = file.display().to_string();
    let dry = w
        .cli(&["inventory", "apply", "-f", &path, "--dry-run"], &[])
        .await
        .ok();
    assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
    let run = w.cli(&["inventory", "apply", "-f", &path], &[]).await.ok();
    assert!(
        run.stdout.contains("1 created, 1 updated"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("[2/2] proj/token: created"),
        "{}",
        run.stderr
    );
    assert_eq!(w.entry("bi/looker").await.purpose, "Dashboards");
    let again = w.cli(&["inventory", "apply", "-f", &path], &[]).await.ok();
    assert!(again.stdout.contains("2 unchanged"), "{}", again.stdout);

    let before = w.stored("bi/looker").await.expect("stored");
    let run = w
        .cli(
            &["rotate", "bi/looker", "--reason", "demo", "--overlap", "0s"],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains("done"), "{}", run.stdout);
    let after = w.stored("bi/looker").await.expect("stored");
    assert_ne!(before.0, after.0);
    assert_eq!(
        w.entry("bi/looker").await.last_trigger.as_deref(),
        Some("incident: demo")
    );

    // The project secret rotates on the emulator (single phase) and validates.
    let old_secret = match w.store.read_credential("proj/secret").await.expect("read") {
        Some((mixpanel_access::vault::Credential::ProjectSecret { secret, .. }, _)) => {
            use secrecy::ExposeSecret;
            secret.expose_secret().to_string()
        }
        other => panic!("{other:?}"),
    };
    let run = w
        .cli(
            &["rotate", "proj/secret", "--reason", "leaked", "--incident"],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains("done"), "{}", run.stdout);
    match w.store.read_credential("proj/secret").await.expect("read") {
        Some((mixpanel_access::vault::Credential::ProjectSecret { secret, token, .. }, _)) => {
            use secrecy::ExposeSecret;
            assert_ne!(secret.expose_secret(), old_secret);
            let valid = w
                .admin
                .validate_project_credentials(&token.expect("token"), &secret)
                .await
                .expect("validate");
            assert!(valid);
        }
        other => panic!("{other:?}"),
    }

    // The project token rotates the same way: the new token is the project's token in
    // Mixpanel, it validates with the project's secret, and the old one no longer does.
    let token_of = |c: Option<(mixpanel_access::vault::Credential, _)>| match c {
        Some((mixpanel_access::vault::Credential::ProjectToken { token, .. }, _)) => token,
        other => panic!("expected a project token, got {other:?}"),
    };
    let old_token = token_of(w.store.read_credential("proj/token").await.expect("read"));
    // A project token rotates only on --force: its rotate_on is empty by default.
    let refused = w
        .cli(
            &["rotate", "proj/token", "--reason", "token in a public repo"],
            &[],
        )
        .await;
    assert!(!refused.success);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(
        token_of(w.store.read_credential("proj/token").await.expect("read")),
        old_token
    );
    let run = w
        .cli(
            &[
                "rotate",
                "proj/token",
                "--reason",
                "token in a public repo",
                "--force",
            ],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains("done"), "{}", run.stdout);
    assert!(
        run.stderr.contains("stops being ingested"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains(&old_token), "{}", run.stdout);
    let new_token = token_of(w.store.read_credential("proj/token").await.expect("read"));
    assert_ne!(new_token, old_token);
    let project = w.admin.project_metadata(p).await.expect("project");
    assert_eq!(project.token.as_deref(), Some(new_token.as_str()));
    let secret = match w.store.read_credential("proj/secret").await.expect("read") {
        Some((mixpanel_access::vault::Credential::ProjectSecret { secret, .. }, _)) => secret,
        other => panic!("{other:?}"),
    };
    assert!(w
        .admin
        .validate_project_credentials(&new_token, &secret)
        .await
        .expect("validate"));
    assert!(!w
        .admin
        .validate_project_credentials(&old_token, &secret)
        .await
        .expect("validate"));
    let token_entry = w.entry("proj/token").await;
    assert_eq!(
        token_entry.last_trigger.as_deref(),
        Some("manual: token in a public repo; reset through the API")
    );
    assert!(token_entry.last_rotated.is_some());

    let list = w.cli(&["inventory", "list"], &[]).await.ok();
    assert!(
        list.stdout.contains("bi/looker") && list.stdout.contains("4 credential(s)"),
        "{}",
        list.stdout
    );
    let csv = w
        .cli(&["inventory", "export", "--format", "csv"], &[])
        .await
        .ok();
    assert!(csv.stdout.starts_with("Name,Type,"), "{}", csv.stdout);
    let md = w
        .cli(&["inventory", "export", "--format", "md"], &[])
        .await
        .ok();
    assert!(
        md.stdout.contains("| bi/looker | service_account |"),
        "{}",
        md.stdout
    );
    let json = w
        .cli(&["inventory", "export", "--format", "json"], &[])
        .await
        .ok();
    let v: Value = serde_json::from_str(&json.stdout).expect("json export");
    assert_eq!(v.as_array().map(Vec::len), Some(4));
    let status = w.cli(&["status", "--all"], &[]).await.ok();
    assert!(status.stdout.contains("leader: none"), "{}", status.stdout);
    assert!(status.stdout.contains("proj/secret"), "{}", status.stdout);
    let bad = w
        .cli(&["rotate", "nope/missing", "--reason", "x"], &[])
        .await;
    assert!(!bad.success);
    assert!(
        bad.stderr.contains("not in the inventory"),
        "{}",
        bad.stderr
    );
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_mid_rotation_finishes_the_step_releases_the_lease_and_a_restart_resumes() {
    let w = World::new().await;
    let p = w.project("graceful").await;
    let old = w
        .service_account("graceful", ProjectRole::Consumer, &[p])
        .await;
    let name = "graceful/job";
    w.register_sa(name, &old, &[p], |_| {}).await;
    let mut d = w.daemon("g1", &[]);
    d.wait_http().await;
    let ready = reqwest::get(format!("{}/readyz", d.url()))
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
    assert!(ready.text().await.expect("body").contains("\"ready\""));

    // The CLI while a daemon leads: the request is left for the daemon.
    let run = w
        .cli(
            &[
                "rotate",
                name,
                "--reason",
                "asked while a daemon leads",
                "--overlap",
                "4s",
                "--no-wait",
            ],
            &[],
        )
        .await
        .ok();
    assert!(
        run.stdout.contains("another replica leads (g1)"),
        "{}",
        run.stdout
    );
    let store = w.store.clone();
    wait_for("the overlap phase", Duration::from_secs(20), || {
        let store = store.clone();
        async move {
            let (j, _) = store.read_journal(name).await.ok()??;
            (j.phase.as_str() == "overlap").then_some(())
        }
    })
    .await;
    // A second request while the rotation is open joins it.
    let open_id = w
        .store
        .read_journal(name)
        .await
        .expect("j")
        .expect("j")
        .0
        .rotation_id;
    let r = reqwest::Client::new()
        .post(format!("{}/rotate", d.url()))
        .bearer_auth("test-bearer-token-value")
        .json(&json!({"name": name, "reason": "second request"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 202);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["result"], "joined", "{v}");
    assert_eq!(v["rotation_id"], open_id.as_str());
    let text = reqwest::get(format!("{}/metrics", d.url()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(text.contains("mixpanel_rotator_open_rotations 1"), "{text}");

    // SIGTERM during the overlap: a prompt, clean exit that releases the lease.
    let t = Instant::now();
    assert_eq!(d.terminate().await, Some(0));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t.elapsed()
    );
    assert!(matches!(
        Lease::status(&w.store).await.expect("lease"),
        LeaseStatus::Free { .. }
    ));
    let (j, _) = w.store.read_journal(name).await.expect("j").expect("j");
    assert_eq!(j.phase.as_str(), "overlap");
    assert!(w.accounts().await.iter().any(|a| a.id == old.id));

    // Another replica resumes from the journal and finishes after the overlap.
    let mut d2 = w.daemon("g2", &[]);
    wait_for("the rotation to finish", Duration::from_secs(20), || {
        let store = store.clone();
        async move {
            let (j, _) = store.read_journal(name).await.ok()??;
            (j.phase.as_str() == "done").then_some(())
        }
    })
    .await;
    let e = w.entry(name).await;
    assert!(
        e.last_trigger
            .as_deref()
            .unwrap_or("")
            .contains("asked while a daemon leads"),
        "{:?}",
        e.last_trigger
    );
    w.assert_converged(name, "graceful").await;
    assert_eq!(d2.terminate().await, Some(0));
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bounded_retries_end_in_needs_human_and_a_manual_request_resumes() {
    let w = World::new().await;
    let p = w.project("human").await;
    let old = w
        .service_account("human", ProjectRole::Consumer, &[p])
        .await;
    let name = "human/job";
    // A project that does not exist: every attempt of the first phase fails the same way.
    w.register_sa(
        name,
        &old,
        &[mixpanel_access::model::ProjectId(999_999)],
        |_| {},
    )
    .await;
    let env = [
        ("MIXPANEL_ROTATOR_MAX_ATTEMPTS", "3"),
        ("MIXPANEL_ROTATOR_RETRY_BACKOFF", "50ms"),
    ];
    let run = w
        .cli(
            &["rotate", name, "--reason", "doomed", "--overlap", "0s"],
            &env,
        )
        .await;
    assert!(!run.success);
    assert!(run.stdout.contains("needs a human"), "{}", run.stdout);
    assert!(run.stderr.contains("did not complete"), "{}", run.stderr);
    let (j, _) = w.store.read_journal(name).await.expect("j").expect("j");
    assert_eq!(j.phase.as_str(), "needs_human");
    assert_eq!(j.attempts, 3);
    assert!(j.last_error.unwrap_or_default().contains("intent:"));
    let e = w.entry(name).await;
    assert_eq!(e.status.as_str(), "needs_human");
    assert!(e
        .status_reason
        .unwrap_or_default()
        .contains("stopped after 3 attempts"));
    // Nothing was created, the old credential still works.
    assert!(w.accounts().await.iter().any(|a| a.id == old.id));
    assert_eq!(w.accounts().await.len(), 2);
    // The scheduler leaves it alone, and `once` says it needs a human (exit 1) ...
    let run = w.cli(&["once"], &env).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("need a human: human/job"),
        "{}",
        run.stderr
    );
    assert_eq!(
        w.store
            .read_journal(name)
            .await
            .expect("j")
            .expect("j")
            .0
            .phase
            .as_str(),
        "needs_human"
    );
    let status = w.cli(&["status"], &[]).await;
    assert_eq!(
        status.code,
        Some(1),
        "status must fail while a rotation needs a human"
    );
    assert!(status.stdout.contains("needs_human"), "{}", status.stdout);
    // ... until a person fixes the cause and asks again.
    let mut fixed = w.entry(name).await;
    fixed.projects = vec![p];
    w.store.save_inventory_entry(&fixed).await.expect("fix");
    let run = w
        .cli(
            &[
                "rotate",
                name,
                "--reason",
                "fixed the project list",
                "--overlap",
                "0s",
            ],
            &env,
        )
        .await
        .ok();
    assert!(run.stdout.contains("resumed"), "{}", run.stdout);
    w.assert_converged(name, "human").await;
    assert_eq!(w.entry(name).await.status.as_str(), "ok");
    w.assert_no_secret_leaked().await;
}

fn posts(counters: &Value, route: &str) -> u64 {
    counters[route]["POST"].as_u64().unwrap_or(0)
}

/// A successor's grants are made together: the old account's individual project grants the
/// new one lacks go as one request (the client packs one account's grants), its teams in one
/// round trip (the route names one team, so a request each), every grant read back; a grant
/// that cannot be made is named, the rotation is not promoted, and a resume finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_successors_grants_go_together_and_each_is_read_back() {
    let w = World::new().await;
    let org = w.boot.org;
    let p = w.project("main").await;
    let extra = [
        (w.project("extra-a").await, ProjectRole::Analyst),
        (w.project("extra-b").await, ProjectRole::Consumer),
        (w.project("extra-c").await, ProjectRole::Analyst),
    ];
    let teams = [
        w.admin.create_team(org, "ingest").await.expect("team"),
        w.admin.create_team(org, "reports").await.expect("team"),
    ];
    let holder = ("MIXPANEL_ROTATOR_HOLDER", "grants-test");
    let env = [
        holder,
        ("MIXPANEL_ROTATOR_MAX_ATTEMPTS", "2"),
        ("MIXPANEL_ROTATOR_RETRY_BACKOFF", "50ms"),
    ];
    for (case, base) in [("ok", "grants"), ("refused", "refused")] {
        let old = w.service_account(base, ProjectRole::Consumer, &[p]).await;
        for t in &teams {
            w.admin
                .add_service_accounts_to_team(org, t.id, &[old.id])
                .await
                .expect("team member");
        }
        let name = format!("grants/{case}");
        w.register_sa(&name, &old, &[p], |_| {}).await;
        // The successor exists (with the grants the old account had then) when the process
        // dies; the old account gains three project grants before the rotation resumes.
        let run = w
            .cli(
                &["rotate", &name, "--reason", "grants", "--overlap", "0s"],
                &[holder, ("MIXPANEL_ROTATOR_CRASH_AFTER", "created")],
            )
            .await;
        assert!(!run.success, "{case}: should have aborted: {}", run.stderr);
        for (q, role) in extra {
            w.admin
                .add_service_accounts_to_projects(
                    org,
                    &[old.id],
                    &[ProjectRoleGrant { id: q, role }],
                )
                .await
                .expect("extra grant");
        }
        w.emu.reset_counters().await;
        if case == "refused" {
            w.emu
                .set_faults(json!({
                    "error_rate": 1.0,
                    "error_status": 403,
                    "routes": ["add_service_accounts_to_projects"],
                }))
                .await;
            let run = w.cli(&["once", "--wait"], &env).await;
            let (j, _) = w.store.read_journal(&name).await.expect("j").expect("j");
            assert_eq!(j.phase.as_str(), "needs_human", "{}", run.stdout);
            let error = j.last_error.unwrap_or_default();
            assert!(
                error.contains("not made") && error.contains("made and read back: none"),
                "{error}"
            );
            for (q, role) in extra {
                assert!(
                    error.contains(&format!("{role} on project {q}")),
                    "{q} is not named: {error}"
                );
            }
            // Not promoted: Vault still holds the old account's credential.
            assert_eq!(w.stored(&name).await.expect("stored").0, old.id);
            w.emu.clear_faults().await;
            w.cli(
                &["rotate", &name, "--reason", "fixed", "--overlap", "0s"],
                &env,
            )
            .await
            .ok();
        } else {
            // -v: the INFO lines that say what was added.
            let run = w.cli(&["once", "--wait", "-v"], &env).await.ok();
            let c = w.emu.counters().await;
            assert_eq!(
                posts(&c, "add_service_accounts_to_projects"),
                1,
                "three grants, one request: {c}"
            );
            assert_eq!(
                posts(&c, "add_service_accounts_to_team"),
                teams.len() as u64,
                "one request per team: {c}"
            );
            let logs = format!("{}{}", run.stdout, run.stderr);
            assert_eq!(
                logs.matches("lacked (read back)").count(),
                extra.len(),
                "{logs}"
            );
            assert_eq!(
                logs.matches("old one's team (read back)").count(),
                teams.len(),
                "{logs}"
            );
        }
        w.assert_converged(&name, base).await;
        let (new_id, _, _) = w.stored(&name).await.expect("stored");
        assert_ne!(new_id, old.id, "{case}");
        for (q, role) in extra {
            let members = w
                .admin
                .list_project_service_accounts(q)
                .await
                .expect("members");
            assert!(
                members.iter().any(|m| m.account.id == new_id
                    && m.project_role == role
                    && m.target_type == TargetType::Individual),
                "{case}: the successor lacks {role} on {q}"
            );
        }
        let now = w.admin.list_teams(org).await.expect("teams");
        for t in &teams {
            assert!(
                now.iter()
                    .any(|x| x.id == t.id && x.service_accounts.contains(&new_id)),
                "{case}: the successor is not in team {}",
                t.name
            );
        }
    }
    w.assert_no_secret_leaked().await;
}
