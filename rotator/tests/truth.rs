//! End-to-end tests of issue 12 ("a reported rotation is a done rotation"): real OpenBao, the
//! emulator in-process, the rotator binary as a subprocess. Each scenario checks by reads
//! (Mixpanel answers, Vault contents) what the rotator reported.

mod common;

use std::time::{Duration, Instant};

use common::{wait_for, World};
use mixpanel_access::api::ApiError;
use mixpanel_access::model::ProjectRole;
use mixpanel_access::vault::{Lease, LeaseStatus};
use serde_json::{json, Value};

/// Whether a credential is refused by the emulator (401).
async fn refused(w: &World, username: &str, secret: &str) -> bool {
    matches!(
        w.emu.client(username, secret).me().await,
        Err(ApiError::Unauthorized { .. })
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_zero_overlap_rotations_all_revoke_their_old_credentials() {
    let w = World::new().await;
    let p = w.project("incident").await;
    let mut olds = Vec::new();
    for name in ["ia", "ib", "ic"] {
        let old = w.service_account(name, ProjectRole::Analyst, &[p]).await;
        w.register_sa(&format!("inc/{name}"), &old, &[p], |_| {})
            .await;
        olds.push(old);
    }
    // No daemon: four CLIs side by side, two of them on the same credential.
    let args = |n: &'static str| {
        vec![
            "rotate",
            n,
            "--reason",
            "INC-1",
            "--overlap",
            "0s",
            "--timeout",
            "60s",
        ]
    };
    let (xa, xb, xc) = (args("inc/ia"), args("inc/ib"), args("inc/ic"));
    let started = Instant::now();
    let (a, a2, b, c) = tokio::join!(
        w.cli(&xa, &[]),
        w.cli(&xa, &[]),
        w.cli(&xb, &[]),
        w.cli(&xc, &[]),
    );
    eprintln!("four parallel rotate commands took {:?}", started.elapsed());
    for run in [a, a2, b, c] {
        let run = run.ok();
        assert!(run.stdout.contains(": done"), "{}", run.stdout);
        assert!(run.stdout.contains("refused (401)"), "{}", run.stdout);
    }
    for (old, name) in olds.iter().zip(["ia", "ib", "ic"]) {
        assert!(
            refused(&w, &old.username, &old.secret).await,
            "the old credential of {name} still works"
        );
        w.assert_converged(&format!("inc/{name}"), name).await;
    }
    // Nothing left behind for a leader to do.
    for name in ["inc/ia", "inc/ib", "inc/ic"] {
        let meta = w.store.read_metadata(name).await.expect("meta").expect("m");
        assert!(
            !meta.custom_metadata.contains_key("rotation_requested"),
            "{name}: a request was left behind"
        );
    }
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_requested_while_a_daemon_leads_returns_only_after_revocation() {
    let w = World::new().await;
    let p = w.project("leader").await;
    let q = w.project("other").await;
    let a = w.service_account("la", ProjectRole::Analyst, &[p]).await;
    let b = w.service_account("lb", ProjectRole::Consumer, &[q]).await;
    let c = w.service_account("lc", ProjectRole::Consumer, &[q]).await;
    w.register_sa("lead/a", &a, &[p], |_| {}).await;
    w.register_sa("lead/b", &b, &[q], |_| {}).await;
    w.register_sa("lead/c", &c, &[q], |_| {}).await;
    // A daemon that reconciles only every minute: requests must come in through the doorbell.
    let mut d = w.daemon("leader-1", &[("MIXPANEL_ROTATOR_RECONCILE_INTERVAL", "1m")]);
    d.wait_http().await;
    w.wait_leader("leader-1", Duration::from_secs(15)).await;
    // Let the first pass finish so that only the doorbell can explain a quick pickup.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let started = Instant::now();
    let run = w
        .cli(
            &[
                "rotate",
                "lead/a",
                "--reason",
                "INC-2",
                "--overlap",
                "0s",
                "--json",
            ],
            &[],
        )
        .await
        .ok();
    let took = started.elapsed();
    // Checked the moment the command returned: the old secret no longer works.
    assert!(
        refused(&w, &a.username, &a.secret).await,
        "rotate returned while the old credential still works"
    );
    eprintln!("rotate through the daemon took {took:?} (reconcile interval 1m)");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(
        run.stderr.contains("another replica leads (leader-1)"),
        "{}",
        run.stderr
    );
    let v: Value = serde_json::from_str(&run.stdout).expect("json output");
    assert_eq!(v[0]["name"], "lead/a", "{v}");
    assert_eq!(v[0]["ok"], true, "{v}");
    assert_eq!(v[0]["state"], "done", "{v}");
    w.assert_converged("lead/a", "la").await;
    assert!(d.log_text().contains("picked up a rotation request"));
    let metrics = reqwest::get(format!("{}/metrics", d.url()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("mixpanel_rotator_rotation_duration_seconds_count 1"),
        "{metrics}"
    );

    // Every credential of a project at once, with a summary table.
    let run = w
        .cli(
            &[
                "rotate",
                "--project",
                &q.0.to_string(),
                "--reason",
                "INC-3",
                "--overlap",
                "0s",
            ],
            &[],
        )
        .await
        .ok();
    assert!(
        run.stdout.contains("2 of 2 rotation(s) completed"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("lead/b") && run.stdout.contains("lead/c"));
    assert!(refused(&w, &b.username, &b.secret).await);
    assert!(refused(&w, &c.username, &c.secret).await);
    w.assert_converged("lead/b", "lb").await;
    w.assert_converged("lead/c", "lc").await;

    // A rotation the leader cannot finish: the CLI gives up at its timeout, exits non-zero,
    // and says where the rotation stands; the old credential is still the one in use.
    let before = w.stored("lead/a").await.expect("stored");
    w.emu
        .set_faults(json!({
            "error_rate": 1.0,
            "error_status": 503,
            "routes": ["create_service_account"],
        }))
        .await;
    let run = w
        .cli(
            &[
                "rotate",
                "lead/a",
                "--reason",
                "INC-4",
                "--overlap",
                "0s",
                "--timeout",
                "6s",
            ],
            &[],
        )
        .await;
    assert!(!run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("timed_out"), "{}", run.stdout);
    assert!(run.stdout.contains("phase intent"), "{}", run.stdout);
    assert!(!refused(&w, &before.1, &before.2).await);
    w.emu.clear_faults().await;
    // Once the fault is gone the leader finishes it; a second request joins and waits.
    let run = w
        .cli(
            &[
                "rotate",
                "lead/a",
                "--reason",
                "INC-4 again",
                "--overlap",
                "0s",
            ],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains("done"), "{}", run.stdout);
    assert!(refused(&w, &before.1, &before.2).await);
    w.assert_converged("lead/a", "la").await;
    d.terminate().await;
    w.assert_no_secret_leaked().await;
}

/// The individual project role of an account, as the organization's admin sees it.
async fn individual_role(
    w: &World,
    project: mixpanel_access::model::ProjectId,
    id: mixpanel_access::model::ServiceAccountId,
) -> Option<ProjectRole> {
    w.admin
        .list_project_service_accounts(project)
        .await
        .expect("project service accounts")
        .into_iter()
        .find(|m| {
            m.account.id == id && m.target_type == mixpanel_access::model::TargetType::Individual
        })
        .map(|m| m.project_role)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_503_on_me_never_yields_a_promoted_successor_with_fewer_grants() {
    let w = World::new().await;
    let org = w.boot.org;
    let p = w.project("listed").await;
    let side = w.project("unlisted").await;
    let old = w
        .service_account("grants", ProjectRole::Analyst, &[p])
        .await;
    w.admin
        .add_service_accounts_to_projects(
            org,
            &[old.id],
            &[mixpanel_access::model::ProjectRoleGrant {
                id: side,
                role: ProjectRole::Consumer,
            }],
        )
        .await
        .expect("side grant");
    // The inventory lists only `p`: the grant on `side` is known only through GET /api/app/me.
    w.register_sa("g/etl", &old, &[p], |_| {}).await;
    let env = [
        ("MIXPANEL_ROTATOR_MAX_ATTEMPTS", "3"),
        ("MIXPANEL_ROTATOR_RETRY_BACKOFF", "50ms"),
    ];
    let rotate = ["rotate", "g/etl", "--reason", "grants", "--overlap", "0s"];

    // /api/app/me keeps failing (503, transient): the old account's projects are unknown, so
    // nothing is created and nothing promoted; the rotation backs off and stays open (not
    // needs_human), and the command gives up at its timeout saying where it stands.
    w.emu
        .set_faults(json!({"error_rate": 1.0, "error_status": 503, "routes": ["me"]}))
        .await;
    let mut timed = rotate.to_vec();
    timed.extend(["--timeout", "5s"]);
    let run = w.cli(&timed, &env).await;
    assert!(!run.success, "{}", run.stdout);
    assert!(run.stdout.contains("timed_out"), "{}", run.stdout);
    let (j, _) = w.store.read_journal("g/etl").await.expect("j").expect("j");
    assert_eq!(j.phase.as_str(), "intent");
    assert!(
        j.last_error.unwrap_or_default().contains("HTTP 503"),
        "the journal says why"
    );
    assert_eq!(w.stored("g/etl").await.expect("stored").0, old.id);
    assert_eq!(w.accounts().await.len(), 2, "an account was created");
    assert_ne!(w.entry("g/etl").await.status.as_str(), "needs_human");

    // Flaky /api/app/me (half the calls answer 503): whatever the draws, a promoted
    // successor has every grant, and an unpromoted rotation leaves the old credential in use.
    for seed in [1u64, 2, 3] {
        w.emu
            .set_faults(
                json!({"error_rate": 0.5, "error_status": 503, "routes": ["me"], "seed": seed}),
            )
            .await;
        let before = w.stored("g/etl").await.expect("stored");
        let run = w.cli(&rotate, &env).await;
        w.emu.clear_faults().await;
        let after = w.stored("g/etl").await.expect("stored");
        eprintln!(
            "seed {seed}: {}",
            run.stdout.lines().next().unwrap_or_default()
        );
        if after.0 != before.0 {
            assert!(run.success, "promoted but reported failed: {}", run.stdout);
            assert_eq!(
                individual_role(&w, p, after.0).await,
                Some(ProjectRole::Analyst)
            );
            assert_eq!(
                individual_role(&w, side, after.0).await,
                Some(ProjectRole::Consumer),
                "seed {seed}: the unlisted grant was lost"
            );
        } else {
            assert!(
                !run.success,
                "seed {seed}: not rotated but reported ok: {}",
                run.stdout
            );
            assert!(!refused(&w, &before.1, &before.2).await);
        }
    }
    // Once /api/app/me answers, a request resumes and the successor keeps both grants.
    let run = w.cli(&rotate, &env).await.ok();
    assert!(run.stdout.contains("done"), "{}", run.stdout);
    let now = w.stored("g/etl").await.expect("stored");
    assert_eq!(
        individual_role(&w, p, now.0).await,
        Some(ProjectRole::Analyst)
    );
    assert_eq!(
        individual_role(&w, side, now.0).await,
        Some(ProjectRole::Consumer)
    );
    assert!(refused(&w, &old.username, &old.secret).await);
    w.assert_converged("g/etl", "grants").await;
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_successor_whose_access_differs_is_not_promoted() {
    let w = World::new().await;
    let p = w.project("same").await;
    let extra = w.project("extra").await;
    let old = w.service_account("diff", ProjectRole::Consumer, &[p]).await;
    w.register_sa("d/etl", &old, &[p], |_| {}).await;
    // The process dies once the new account exists and its secret is journaled; meanwhile
    // someone gives the new account more than the old one had.
    w.successor_with_more_access("d/etl", extra, ProjectRole::Analyst)
        .await;
    let run = w
        .cli(
            &[
                "rotate",
                "d/etl",
                "--reason",
                "diff again",
                "--overlap",
                "0s",
            ],
            &[],
        )
        .await;
    assert!(!run.success, "{}", run.stdout);
    assert!(run.stdout.contains("access differs"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("project {extra}")),
        "{}",
        run.stdout
    );
    let (j, _) = w.store.read_journal("d/etl").await.expect("j").expect("j");
    assert_eq!(j.phase.as_str(), "needs_human");
    // Not promoted: consumers still read the old, working credential.
    let stored = w.stored("d/etl").await.expect("stored");
    assert_eq!(stored.0, old.id);
    assert!(!refused(&w, &old.username, &old.secret).await);
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_kind_rotates_by_its_own_rule_and_an_admin_removal_leaves_a_never_token_working() {
    let w = World::new().await;
    let org = w.boot.org;
    let p = w.project("web").await;
    let ps = p.0.to_string();
    let ana: mixpanel_access::model::Email = "ana@acme.example".parse().expect("email");
    let bob: mixpanel_access::model::Email = "bob@acme.example".parse().expect("email");
    w.admin
        .invite_org_users(
            org,
            &[ana.clone(), bob.clone()],
            mixpanel_access::model::OrgRole::Member,
        )
        .await
        .expect("invite");
    w.emu.activate("ana@acme.example").await;
    w.emu.activate("bob@acme.example").await;
    w.admin
        .add_users_to_projects(org, &[ana.clone(), bob.clone()], &[p], ProjectRole::Admin)
        .await
        .expect("grant admin");
    // A service account that rotates on removals only, the project secret (default: every
    // trigger), and the web token whose period is never (default rotate_on: none).
    let sa = w
        .service_account("web-etl", ProjectRole::Consumer, &[p])
        .await;
    w.register_sa("web/etl", &sa, &[p], |e| {
        e.rotate_on = Some(vec![mixpanel_access::inventory::RotateOn::AdminRemoved]);
    })
    .await;
    w.register_project_credentials(&ps).await;
    // An overlap a project secret cannot honour is refused, not silently zeroed.
    let run = w
        .cli(
            &["rotate", "web/secret", "--reason", "x", "--overlap", "5s"],
            &[],
        )
        .await;
    assert!(!run.success);
    assert!(
        run.stderr.contains("cannot stay valid for an overlap"),
        "{}",
        run.stderr
    );
    let run = w
        .cli(
            &[
                "inventory",
                "add",
                "web/secret2",
                "--kind",
                "project_secret",
                "--owner",
                "o",
                "--project",
                &ps,
                "--overlap",
                "5s",
            ],
            &[],
        )
        .await;
    assert!(!run.success, "{}", run.stdout);
    let token_before = match w.store.read_credential("web/token").await.expect("read") {
        Some((mixpanel_access::vault::Credential::ProjectToken { token, .. }, _)) => token,
        other => panic!("{other:?}"),
    };

    let mut d = w.watcher(p, "bob@acme.example").await;

    // Bob is downgraded: only the project secret (default: every trigger) rotates.
    w.admin
        .add_users_to_projects(org, std::slice::from_ref(&bob), &[p], ProjectRole::Analyst)
        .await
        .expect("downgrade");
    w.rotation_done("web/secret", Duration::from_secs(30)).await;
    let e = w.entry("web/secret").await;
    let trigger = e.last_trigger.clone().unwrap_or_default();
    assert!(
        trigger.contains("admin_downgraded: admin bob@acme.example downgraded to analyst"),
        "{trigger}"
    );
    assert!(trigger.contains("reset through the API"), "{trigger}");
    assert!(!trigger.contains("no API"), "{trigger}");
    // Give the watcher a few passes: the service account (removals only) stays as it is.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(w.store.read_journal("web/etl").await.expect("j").is_none());
    assert_eq!(w.stored("web/etl").await.expect("stored").0, sa.id);

    // Ana leaves the organization: the service account rotates (removed), the token does not.
    w.admin
        .remove_org_users(org, std::slice::from_ref(&ana))
        .await
        .expect("remove ana");
    w.rotation_done("web/etl", Duration::from_secs(30)).await;
    let e = w.entry("web/etl").await;
    let trigger = e.last_trigger.clone().unwrap_or_default();
    assert!(
        trigger.contains("admin_removed: admin ana@acme.example removed from project"),
        "{trigger}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(w
        .store
        .read_journal("web/token")
        .await
        .expect("j")
        .is_none());
    let project = w.admin.project_metadata(p).await.expect("project");
    assert_eq!(
        project.token.as_deref(),
        Some(token_before.as_str()),
        "the web token was reset"
    );
    // Events sent with the token are still accepted: it validates with the current secret.
    let secret = project.secret.expect("secret");
    assert!(w
        .admin
        .validate_project_credentials(&token_before, &secret)
        .await
        .expect("validate"));
    assert!(d
        .log_text()
        .contains("not rotated: its rotate_on names none of these changes"));
    // POST /rotate answers a permanent refusal with 422, not 503.
    let r = reqwest::Client::new()
        .post(format!("{}/rotate", d.url()))
        .bearer_auth("test-bearer-token-value")
        .json(&json!({"name": "web/token", "reason": "leak", "overlap": "0s"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 422);
    let r = reqwest::Client::new()
        .post(format!("{}/rotate", d.url()))
        .bearer_auth("test-bearer-token-value")
        .json(&json!({"name": "web/secret", "reason": "leak", "overlap": "5s"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(d.terminate().await, Some(0));

    // Every credential of the project at once: the token (rotate_on empty) and the service
    // account (removals only) are skipped and say why; the project secret rotates.
    let run = w
        .cli(
            &[
                "rotate",
                "--project",
                &ps,
                "--reason",
                "INC-9",
                "--overlap",
                "0s",
            ],
            &[],
        )
        .await
        .ok();
    assert!(
        run.stdout
            .contains("1 of 1 rotation(s) completed, 2 skipped"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("web/token") && run.stdout.contains("skipped"));
    let project = w.admin.project_metadata(p).await.expect("project");
    assert_eq!(project.token.as_deref(), Some(token_before.as_str()));

    // Only an explicit --force resets the token, and the command says what that stops.
    let run = w
        .cli(&["rotate", "web/token", "--reason", "leak"], &[])
        .await;
    assert!(!run.success);
    assert!(
        run.stderr.contains("stops ingestion") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    let run = w
        .cli(&["rotate", "web/token", "--reason", "leak", "--force"], &[])
        .await
        .ok();
    assert!(
        run.stderr.contains("stops being ingested"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("no longer validates"), "{}", run.stdout);
    let project = w.admin.project_metadata(p).await.expect("project");
    assert_ne!(project.token.as_deref(), Some(token_before.as_str()));
    // The project secret's entry now carries the new token beside its secret.
    match w.store.read_credential("web/secret").await.expect("read") {
        Some((mixpanel_access::vault::Credential::ProjectSecret { token, .. }, _)) => {
            assert_eq!(token, project.token)
        }
        other => panic!("{other:?}"),
    }
    let status = w.cli(&["status", "--all"], &[]).await;
    assert!(
        !status.stdout.contains("secret_rejected"),
        "{}",
        status.stdout
    );
    w.assert_no_secret_leaked().await;
}

/// How many live accounts carry this base name.
async fn named(w: &World, base: &str) -> usize {
    w.accounts()
        .await
        .into_iter()
        .filter(|a| a.username.base_name() == base)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ambiguous_creates_and_a_sigkill_leave_exactly_one_account() {
    let w = World::new().await;
    let p = w.project("twins").await;
    let old = w.service_account("twin", ProjectRole::Consumer, &[p]).await;
    w.register_sa("t/etl", &old, &[p], |_| {}).await;

    // 1. The journal names the new username, then the process dies; two creates under that
    //    username were carried out meanwhile (their answers lost: nobody has their secrets).
    let run = w
        .cli(
            &["rotate", "t/etl", "--reason", "twins", "--overlap", "0s"],
            &[("MIXPANEL_ROTATOR_CRASH_AFTER", "intent")],
        )
        .await;
    assert!(!run.success);
    let (j, _) = w.store.read_journal("t/etl").await.expect("j").expect("j");
    let planned = j.new_username.clone().expect("new username");
    for _ in 0..2 {
        w.admin
            .create_service_account(
                w.boot.org,
                &mixpanel_access::api::wire::CreateServiceAccount {
                    username: planned.clone(),
                    role: ProjectRole::Analyst,
                    expires: None,
                    projects: vec![mixpanel_access::model::ProjectRoleGrant {
                        id: p,
                        role: ProjectRole::Analyst,
                    }],
                },
            )
            .await
            .expect("twin");
    }
    assert_eq!(named(&w, &planned).await, 2);
    let run = w
        .cli(
            &["rotate", "t/etl", "--reason", "twins", "--overlap", "0s"],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains("done"), "{}", run.stdout);
    assert_eq!(named(&w, &planned).await, 0, "a twin was left");
    w.assert_converged("t/etl", "twin").await;

    // 2. Every create answers 503 after it was carried out, under a daemon that is then
    //    SIGKILLed; the next run converges to exactly one account.
    w.emu
        .set_faults(json!({
            "error_rate": 1.0,
            "error_status": 503,
            "error_after_commit": true,
            "routes": ["create_service_account"],
        }))
        .await;
    let before = w.stored("t/etl").await.expect("stored");
    let mut d = w.daemon("doomed", &[("MIXPANEL_ROTATOR_MAX_ATTEMPTS", "50")]);
    d.wait_http().await;
    let r = reqwest::Client::new()
        .post(format!("{}/rotate", d.url()))
        .bearer_auth("test-bearer-token-value")
        .json(&json!({"name": "t/etl", "reason": "flaky creates", "overlap": "0s"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 202);
    let store = w.store.clone();
    wait_for("several ambiguous creates", Duration::from_secs(30), || {
        let store = store.clone();
        async move {
            let (j, _) = store.read_journal("t/etl").await.ok()??;
            (j.abandoned_usernames.len() >= 2).then_some(())
        }
    })
    .await;
    d.kill().await;
    w.emu.clear_faults().await;
    // The killed leader's lease expires on the server (TTL 3s).
    wait_for("the lease to expire", Duration::from_secs(10), || {
        let store = store.clone();
        async move {
            matches!(Lease::status(&store).await.ok()?, LeaseStatus::Free { .. }).then_some(())
        }
    })
    .await;
    let run = w.cli(&["once", "--wait"], &[]).await.ok();
    if std::env::var_os("ROTATOR_TEST_SHOW_OUTPUT").is_some() {
        eprintln!("{}\n{}", run.stdout, run.stderr);
    }
    w.assert_converged("t/etl", "twin").await;
    assert!(refused(&w, &before.1, &before.2).await);
    let (j, _) = w.store.read_journal("t/etl").await.expect("j").expect("j");
    for n in &j.abandoned_usernames {
        assert_eq!(named(&w, n).await, 0, "an account named {n} is left");
    }
    // The bootstrap account and the one in use: nothing else.
    assert_eq!(w.accounts().await.len(), 2);
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_vault_token_leaves_no_account_behind() {
    let w = World::new().await;
    let p = w.project("ro").await;
    let policy = r#"path "secret/data/*" { capabilities = ["read", "list"] }
path "secret/metadata/*" { capabilities = ["read", "list"] }
path "secret/detailed-metadata/*" { capabilities = ["list"] }"#;
    let bao = &w.bao;
    let token = tokio::task::block_in_place(|| bao.token_with_policy("readonly", policy));
    let before = w.accounts().await.len();
    let project = p.0.to_string();
    let add = [
        "inventory",
        "add",
        "ro/etl",
        "--kind",
        "service_account",
        "--owner",
        "o@acme.example",
        "--role",
        "analyst",
        "--project",
        project.as_str(),
        "--create",
    ];
    let run = w.cli(&add, &[("VAULT_TOKEN", token.as_str())]).await;
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stderr.contains("no account was created"),
        "{}",
        run.stderr
    );
    assert_eq!(
        w.accounts().await.len(),
        before,
        "an account was left behind"
    );
    assert!(w
        .store
        .read_metadata("ro/etl")
        .await
        .expect("meta")
        .is_none());
    // The same command with a token that can write creates it and stores its secret.
    let run = w.cli(&add, &[]).await.ok();
    assert!(
        run.stdout.contains("created service account"),
        "{}",
        run.stdout
    );
    assert_eq!(w.accounts().await.len(), before + 1);
    let (_, username, secret) = w.stored("ro/etl").await.expect("stored");
    assert!(!refused(&w, &username, &secret).await);
    w.assert_no_secret_leaked().await;
}

fn run_args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registration_refusals_and_a_status_that_tells_the_truth() {
    let w = World::new().await;
    let p = w.project("reg").await;
    let acct = w
        .service_account("reg-etl", ProjectRole::Consumer, &[p])
        .await;
    let other = w
        .service_account("reg-bi", ProjectRole::Consumer, &[p])
        .await;
    let id = acct.id.0.to_string();
    let add = |name: &'static str, extra: Vec<String>| {
        let mut v: Vec<String> = [
            "inventory",
            "add",
            name,
            "--kind",
            "service_account",
            "--owner",
            "o@acme.example",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra);
        v
    };

    // A wrong secret on stdin: refused, nothing registered.
    let args = add(
        "r/one",
        vec!["--sa-id".into(), id.clone(), "--secret-stdin".into()],
    );
    let run = w
        .cli_stdin(&run_args(&args), &[], Some("not-the-secret-at-all"))
        .await;
    assert!(!run.success);
    assert!(run.stderr.contains("refuses the secret"), "{}", run.stderr);
    assert!(w
        .store
        .read_metadata("r/one")
        .await
        .expect("meta")
        .is_none());
    // The right one: registered and stored.
    w.cli_stdin(&run_args(&args), &[], Some(&acct.secret))
        .await
        .ok();
    assert_eq!(w.stored("r/one").await.expect("stored").0, acct.id);
    // The same account under another name: refused.
    let args2 = add("r/two", vec!["--username".into(), acct.username.clone()]);
    let run = w.cli(&run_args(&args2), &[]).await;
    assert!(!run.success);
    assert!(
        run.stderr.contains("already registered as r/one"),
        "{}",
        run.stderr
    );
    assert!(w
        .store
        .read_metadata("r/two")
        .await
        .expect("meta")
        .is_none());
    // --sa-id and --username that name two accounts: refused.
    let args3 = add(
        "r/three",
        vec![
            "--sa-id".into(),
            other.id.0.to_string(),
            "--username".into(),
            acct.username.clone(),
        ],
    );
    let run = w.cli(&run_args(&args3), &[]).await;
    assert!(!run.success);
    assert!(
        run.stderr.contains("give one of them, or two that agree"),
        "{}",
        run.stderr
    );

    // The same account in an inventory file under another name: refused, nothing written.
    let file = w.dir.path().join("dup.toml");
    std::fs::write(
        &file,
        format!(
            "[[credential]]\nname = \"r/dup\"\nkind = \"service_account\"\nowner = \"o@acme.example\"\nsa_id = {}\n",
            acct.id.0
        ),
    )
    .expect("write");
    let run = w
        .cli(
            &["inventory", "apply", "-f", &file.display().to_string()],
            &[],
        )
        .await;
    assert!(!run.success);
    assert!(
        run.stderr.contains("already the credential of r/one"),
        "{}",
        run.stderr
    );
    assert!(w
        .store
        .read_metadata("r/dup")
        .await
        .expect("meta")
        .is_none());

    // status: everything fine -> 0, and the check is cached in the entry's metadata.
    let run = w.cli(&["status"], &[]).await.ok();
    assert!(
        run.stdout.contains("nothing needs attention"),
        "{}",
        run.stdout
    );
    let meta = w.store.read_metadata("r/one").await.expect("m").expect("m");
    assert!(meta
        .custom_metadata
        .get("auth_check")
        .is_some_and(|v| v.starts_with("ok ")));

    // An entry without a secret: secret_missing, exit 1.
    let args4 = add("r/nosecret", vec!["--sa-id".into(), other.id.0.to_string()]);
    w.cli(&run_args(&args4), &[]).await.ok();
    let run = w.cli(&["status", "--json"], &[]).await;
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let v: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["needs_attention"], 1, "{v}");
    let entries = v["entries"].as_array().expect("entries");
    assert!(
        entries
            .iter()
            .any(|e| e["name"] == "r/nosecret" && e["health"] == "secret_missing"),
        "{v}"
    );

    // The daemon's metrics count the same: one secret checked ok, one missing.
    let mut d = w.daemon("healthy", &[]);
    d.wait_http().await;
    let url = d.url();
    wait_for("the secret health metrics", Duration::from_secs(15), || {
        let url = url.clone();
        async move {
            let text = reqwest::get(format!("{url}/metrics"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            (text.contains("mixpanel_rotator_credential_secrets{health=\"missing\"} 1")
                && text.contains("mixpanel_rotator_credential_secrets{health=\"ok\"} 1"))
            .then_some(())
        }
    })
    .await;
    assert_eq!(d.terminate().await, Some(0));

    // The account behind r/one is deleted in Mixpanel: the cached "ok" was for an account
    // Mixpanel no longer lists, so status checks again at once and says the secret is refused.
    w.admin
        .delete_service_account(w.boot.org, acct.id)
        .await
        .expect("delete");
    let run = w.cli(&["status"], &[]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("secret_rejected"), "{}", run.stdout);
    assert!(
        run.stderr.contains("2 credential(s) need attention"),
        "{}",
        run.stderr
    );

    // An overdue entry needs attention too.
    w.register_sa("r/old", &other, &[p], |e| {
        e.last_rotated = Some(chrono::Utc::now() - chrono::TimeDelta::days(30));
        e.rotation_period = Some(Duration::from_secs(86_400));
    })
    .await;
    let run = w.cli(&["status"], &[]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("overdue"), "{}", run.stdout);

    // A wrong prefix: an empty inventory is a warning and a failure, not "nothing to do".
    let run = w
        .cli(
            &["status"],
            &[("MIXPANEL_ROTATOR_VAULT_PREFIX", "typo-prefix")],
        )
        .await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains("no credential at all under secret/typo-prefix/creds/"),
        "{}",
        run.stderr
    );
    // The daemon's pass (here `once`) warns the same way.
    let run = w
        .cli(
            &["once"],
            &[("MIXPANEL_ROTATOR_VAULT_PREFIX", "typo-prefix")],
        )
        .await
        .ok();
    assert!(
        run.stderr
            .contains("no credential at all under secret/typo-prefix/creds/"),
        "{}",
        run.stderr
    );

    // A daemon pointed at a mount that does not exist cannot write its lease: not ready.
    let mut d = w.daemon("wrong-mount", &[("MIXPANEL_ROTATOR_VAULT_MOUNT", "nope")]);
    d.wait_http().await;
    let url = d.url();
    let body = wait_for("/readyz to answer 503", Duration::from_secs(15), || {
        let url = url.clone();
        async move {
            let r = reqwest::get(format!("{url}/readyz")).await.ok()?;
            (r.status().as_u16() == 503).then_some(())?;
            r.text().await.ok()
        }
    })
    .await;
    assert!(body.contains("lease"), "{body}");
    d.kill().await;
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inventory_apply_during_a_rotation_never_undoes_it_and_last_used_is_filled() {
    let w = World::new().await;
    let p = w.project("apply").await;
    let acct = w
        .service_account("apply-etl", ProjectRole::Consumer, &[p])
        .await;
    w.register_sa("a/etl", &acct, &[p], |_| {}).await;
    // A consumer uses the credential: Mixpanel records last_used.
    w.emu
        .client(&acct.username, &acct.secret)
        .me()
        .await
        .expect("consumer call");
    let file = w.dir.path().join("inventory.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[credential]]
name = "a/etl"
kind = "service_account"
projects = [{p}]
owner = "new-owner@acme.example"
rotation_period = "30d"
overlap = "1s"
sa_id = {id}
username = "{username}"
"#,
            p = p.0,
            id = acct.id.0,
            username = acct.username
        ),
    )
    .expect("write file");
    let path = file.display().to_string();
    // apply reads the entry, then pauses before its write; a rotation is promoted meanwhile.
    let apply_args = ["inventory", "apply", "-f", path.as_str()];
    let pause = [("MIXPANEL_ROTATOR_PAUSE_AT", "apply_loaded:3000")];
    let apply = w.cli(&apply_args, &pause);
    let rotate = async {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        w.cli(
            &[
                "rotate",
                "a/etl",
                "--reason",
                "during apply",
                "--overlap",
                "0s",
            ],
            &[],
        )
        .await
    };
    let (applied, rotated) = tokio::join!(apply, rotate);
    let applied = applied.ok();
    rotated.ok();
    assert!(applied.stderr.contains("pausing"), "{}", applied.stderr);
    assert!(
        applied.stderr.contains("the entry changed during apply"),
        "the rotation did not land inside the apply: {}",
        applied.stderr
    );
    let stored = w.stored("a/etl").await.expect("stored");
    assert_ne!(stored.0, acct.id);
    let e = w.entry("a/etl").await;
    // The rotation's fields are kept ...
    assert_eq!(e.sa_id, Some(stored.0), "apply undid the rotation");
    assert_eq!(
        e.username.as_ref().map(|u| u.to_string()),
        Some(stored.1.clone())
    );
    assert!(e
        .last_trigger
        .clone()
        .unwrap_or_default()
        .contains("during apply"));
    assert_eq!(e.status.as_str(), "ok");
    // ... and the file's fields applied.
    assert_eq!(e.owner, "new-owner@acme.example");
    assert_eq!(e.rotation_period, Some(Duration::from_secs(30 * 86_400)));
    w.assert_converged("a/etl", "apply-etl").await;

    // last_used comes from Mixpanel at the next pass (the new account was used by its test).
    assert!(e.last_used.is_none());
    w.cli(&["once"], &[]).await.ok();
    let e = w.entry("a/etl").await;
    let account = w
        .accounts()
        .await
        .into_iter()
        .find(|a| a.id == stored.0)
        .expect("account");
    assert!(account.last_used.is_some());
    assert_eq!(
        e.last_used.map(|t| t.timestamp()),
        account.last_used.map(|t| t.timestamp())
    );
    let csv = w
        .cli(&["inventory", "export", "--format", "csv"], &[])
        .await
        .ok();
    let day = account
        .last_used
        .expect("used")
        .format("%Y-%m-%d")
        .to_string();
    assert!(csv.stdout.contains(&day), "{}", csv.stdout);
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operators_cli_formula_cells_closed_pipes_logs_json_jitter_and_history() {
    let w = World::new().await;
    let p = w.project("ops").await;
    let ps = p.0.to_string();
    let acct = w
        .service_account("ops-etl", ProjectRole::Consumer, &[p])
        .await;
    w.register_sa("ops/etl", &acct, &[p], |_| {}).await;
    // An owner that a spreadsheet would run as a formula; the jitter turned off.
    w.cli(
        &[
            "inventory",
            "add",
            "ops/secret",
            "--kind",
            "project_secret",
            "--owner",
            "=HYPERLINK(\"http://evil.example\",\"click\")",
            "--project",
            &ps,
            "--last-rotated",
            "2026-11-01",
        ],
        &[("MIXPANEL_ROTATOR_MAX_JITTER", "0s")],
    )
    .await
    .ok();
    let e = w.entry("ops/secret").await;
    let last = e.last_rotated.expect("last rotated");
    assert_eq!(
        e.next_rotation,
        Some(last + chrono::TimeDelta::days(90)),
        "with max_jitter 0s the due date is last_rotated + period"
    );
    let csv = w
        .cli(&["inventory", "export", "--format", "csv"], &[])
        .await
        .ok();
    assert!(csv.stdout.contains("\"'=HYPERLINK("), "{}", csv.stdout);
    assert!(!csv.stdout.contains(",=HYPERLINK") && !csv.stdout.contains(",\"=HYPERLINK"));

    // --json on inventory list.
    let list = w.cli(&["inventory", "list", "--json"], &[]).await.ok();
    let v: Value = serde_json::from_str(&list.stdout).expect("json list");
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");

    // once --dry-run: says what a pass would rotate, and changes nothing.
    let due = w
        .service_account("ops-due", ProjectRole::Consumer, &[p])
        .await;
    w.register_sa("ops/due", &due, &[p], |e| {
        e.last_rotated = Some(chrono::Utc::now() - chrono::TimeDelta::days(3));
    })
    .await;
    let dry = w.cli(&["once", "--dry-run"], &[]).await.ok();
    assert!(
        dry.stdout.contains("ops/due") && dry.stdout.contains("rotate"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains(&due.username), "{}", dry.stdout);
    assert!(dry.stdout.contains("nothing was changed"), "{}", dry.stdout);
    assert!(w.store.read_journal("ops/due").await.expect("j").is_none());
    assert_eq!(w.stored("ops/due").await.expect("stored").0, due.id);

    // A closed pipe ends the output quietly: no panic, no crash exit code.
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg(format!(
            "'{}' status --all | true; echo \"rc=${{PIPESTATUS[0]}}\"",
            common::BIN
        ))
        .envs(w.env())
        .env_remove("MIXPANEL_ROTATOR_CONFIG");
    let out = tokio::task::block_in_place(|| cmd.output()).expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stdout.contains("rc=0") || stdout.contains("rc=1"),
        "{stdout}\n{stderr}"
    );
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg(format!(
            "'{}' inventory export --format csv | head -c 1 >/dev/null; echo \"rc=${{PIPESTATUS[0]}}\"",
            common::BIN
        ))
        .envs(w.env());
    let out = tokio::task::block_in_place(|| cmd.output()).expect("bash");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("rc=0"));

    // Logs of a one-shot command: INFO only with -v, JSON only when asked for.
    let run = w
        .cli(
            &[
                "rotate",
                "ops/etl",
                "--reason",
                "=cmd|' /C calc'!A0",
                "--overlap",
                "0s",
                "-v",
                "--log-format",
                "json",
            ],
            &[],
        )
        .await
        .ok();
    assert!(
        run.stderr.lines().any(|l| l.starts_with('{')),
        "{}",
        run.stderr
    );
    let run = w.cli(&["once", "-v"], &[]).await.ok();
    assert!(
        run.stderr.contains("leader lease acquired"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.lines().any(|l| l.starts_with('{')),
        "{}",
        run.stderr
    );

    // The rotation history, as CSV (formula cells neutralized) and JSON.
    let hist = w.cli(&["history", "--format", "csv"], &[]).await.ok();
    assert!(
        hist.stdout.starts_with("credential,rotation_id,trigger"),
        "{}",
        hist.stdout
    );
    assert!(hist.stdout.contains("'=cmd"), "{}", hist.stdout);
    let hist = w
        .cli(&["history", "ops/etl", "--format", "json"], &[])
        .await
        .ok();
    let v: Value = serde_json::from_str(&hist.stdout).expect("history json");
    let rows = v.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{v}");
    let stored = w.stored("ops/etl").await.expect("stored");
    assert_eq!(rows[0]["outcome"], "done");
    assert_eq!(rows[0]["trigger"], "incident");
    assert_eq!(rows[0]["old_account"], acct.username.as_str());
    assert_eq!(rows[0]["new_account"], stored.1.as_str());
    assert_eq!(rows[0]["old_sa_id"], acct.id.0);
    assert!(rows[0]["finished_at"].is_string());
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_this_process_leads_gives_up_at_its_timeout_and_says_where_it_stands() {
    let w = World::new().await;
    let p = w.project("slow").await;
    let old = w.service_account("slow", ProjectRole::Consumer, &[p]).await;
    w.register_sa("s/etl", &old, &[p], |_| {}).await;
    w.emu
        .set_faults(json!({
            "error_rate": 1.0,
            "error_status": 503,
            "routes": ["create_service_account"],
        }))
        .await;
    let started = Instant::now();
    let run = w
        .cli(
            &[
                "rotate",
                "s/etl",
                "--reason",
                "INC-5",
                "--overlap",
                "0s",
                "--timeout",
                "4s",
            ],
            &[("MIXPANEL_ROTATOR_MAX_ATTEMPTS", "50")],
        )
        .await;
    let took = started.elapsed();
    assert!(!run.success, "{}", run.stdout);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(run.stdout.contains("timed_out"), "{}", run.stdout);
    assert!(run.stdout.contains("phase intent"), "{}", run.stdout);
    assert!(
        run.stderr.contains("1 of 1 rotation(s) did not complete"),
        "{}",
        run.stderr
    );
    // The term ended with the command: the lease is released, the journal kept for the next
    // leader, and the old credential still works.
    assert!(matches!(
        Lease::status(&w.store).await.expect("lease"),
        LeaseStatus::Free { .. }
    ));
    let (j, _) = w.store.read_journal("s/etl").await.expect("j").expect("j");
    assert_eq!(j.phase.as_str(), "intent");
    assert!(!refused(&w, &old.username, &old.secret).await);
    w.emu.clear_faults().await;
    let run = w
        .cli(
            &["rotate", "s/etl", "--reason", "INC-5", "--overlap", "0s"],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains("joined the rotation"), "{}", run.stdout);
    assert!(refused(&w, &old.username, &old.secret).await);
    w.assert_converged("s/etl", "slow").await;
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotate_several_names_in_one_call_reports_each_and_fails_if_one_fails() {
    let w = World::new().await;
    let p = w.project("batch").await;
    let mut olds = Vec::new();
    for n in ["ba", "bb", "bc"] {
        let old = w.service_account(n, ProjectRole::Consumer, &[p]).await;
        w.register_sa(&format!("batch/{n}"), &old, &[p], |_| {})
            .await;
        olds.push(old);
    }
    // batch/bc's stored secret is wrong: its account's grants cannot be listed with it.
    let mut broken = olds[2].clone();
    broken.secret = "0123456789abcdef0123456789abcdef".into();
    w.register_sa("batch/bc", &broken, &[p], |_| {}).await;
    let run = w
        .cli(
            &[
                "rotate",
                "batch/ba",
                "batch/bb",
                "batch/bc",
                "--reason",
                "INC-7",
                "--overlap",
                "0s",
                "--json",
            ],
            &[],
        )
        .await;
    assert!(!run.success, "{}", run.stdout);
    let v: Value = serde_json::from_str(&run.stdout).expect("json");
    let rows = v.as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{v}");
    let by = |n: &str| {
        rows.iter()
            .find(|r| r["name"] == n)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by("batch/ba")["state"], "done", "{v}");
    assert_eq!(by("batch/bb")["state"], "done", "{v}");
    assert_eq!(by("batch/bc")["state"], "needs_human", "{v}");
    assert_eq!(by("batch/bc")["ok"], false, "{v}");
    assert!(
        run.stderr.contains("1 of 3 rotation(s) did not complete"),
        "{}",
        run.stderr
    );
    assert!(refused(&w, &olds[0].username, &olds[0].secret).await);
    assert!(refused(&w, &olds[1].username, &olds[1].secret).await);
    // The broken one was not touched: its account still exists.
    assert!(w.accounts().await.iter().any(|a| a.id == olds[2].id));
    w.assert_converged("batch/ba", "ba").await;
    w.assert_converged("batch/bb", "bb").await;
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn post_rotate_on_a_follower_is_refused_with_422_or_picked_up_by_the_leader_within_seconds() {
    let w = World::new().await;
    let p = w.project("follow").await;
    let old = w.service_account("fol", ProjectRole::Consumer, &[p]).await;
    w.register_sa("f/etl", &old, &[p], |_| {}).await;
    w.cli(
        &[
            "inventory",
            "add",
            "f/token",
            "--kind",
            "project_token",
            "--owner",
            "o@acme.example",
            "--project",
            &p.0.to_string(),
        ],
        &[],
    )
    .await
    .ok();
    let slow = [("MIXPANEL_ROTATOR_RECONCILE_INTERVAL", "1m")];
    let mut a = w.daemon("fa", &slow);
    a.wait_http().await;
    w.wait_leader("fa", Duration::from_secs(15)).await;
    let store = w.store.clone();
    let mut b = w.daemon("fb", &slow);
    b.wait_http().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let http = reqwest::Client::new();
    let post = |body: Value| {
        let http = http.clone();
        let url = format!("{}/rotate", b.url());
        async move {
            http.post(url)
                .bearer_auth("test-bearer-token-value")
                .json(&body)
                .send()
                .await
                .expect("post")
        }
    };
    // Refused on the follower too: 422, and nothing is queued.
    let r = post(json!({"name": "f/token", "reason": "leak", "overlap": "0s"})).await;
    assert_eq!(r.status().as_u16(), 422);
    let meta = w
        .store
        .read_metadata("f/token")
        .await
        .expect("m")
        .expect("m");
    assert!(!meta.custom_metadata.contains_key("rotation_requested"));
    let r = post(json!({"name": "f/nope", "reason": "x"})).await;
    assert_eq!(r.status().as_u16(), 404);
    // Queued on the follower, started by the leader within seconds (it reconciles every 1m).
    let started = Instant::now();
    let r = post(json!({"name": "f/etl", "reason": "INC-8", "overlap": "0s"})).await;
    assert_eq!(r.status().as_u16(), 202);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["result"], "queued", "{v}");
    wait_for(
        "the leader to finish the rotation",
        Duration::from_secs(20),
        || {
            let store = store.clone();
            async move {
                let (j, _) = store.read_journal("f/etl").await.ok()??;
                (j.phase.as_str() == "done").then_some(())
            }
        },
    )
    .await;
    let took = started.elapsed();
    eprintln!("POST /rotate on the follower to done on the leader: {took:?}");
    assert!(took < Duration::from_secs(20));
    assert!(refused(&w, &old.username, &old.secret).await);
    w.assert_converged("f/etl", "fol").await;
    assert_eq!(b.terminate().await, Some(0));
    assert_eq!(a.terminate().await, Some(0));
    w.assert_no_secret_leaked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_incident_during_an_overlap_revokes_the_credential_it_saw() {
    let w = World::new().await;
    let p = w.project("overlap").await;
    let first = w.service_account("ov", ProjectRole::Consumer, &[p]).await;
    w.register_sa("o/etl", &first, &[p], |e| {
        e.overlap = Duration::from_secs(3600)
    })
    .await;
    // A scheduled-style rotation left in its one-hour overlap.
    let run = w
        .cli(
            &[
                "rotate",
                "o/etl",
                "--reason",
                "routine",
                "--overlap",
                "1h",
                "--no-wait",
            ],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains("promoted"), "{}", run.stdout);
    let (j, _) = w.store.read_journal("o/etl").await.expect("j").expect("j");
    assert_eq!(j.phase.as_str(), "overlap");
    let seen = w.stored("o/etl").await.expect("stored");
    // The incident is about the credential in use now (the promoted one): it must be refused
    // when the command returns, as must the first one.
    let run = w
        .cli(
            &["rotate", "o/etl", "--reason", "INC-10", "--overlap", "0s"],
            &[],
        )
        .await
        .ok();
    assert!(run.stdout.contains(": done"), "{}", run.stdout);
    assert!(
        refused(&w, &seen.1, &seen.2).await,
        "the credential in use at the incident still works"
    );
    assert!(refused(&w, &first.username, &first.secret).await);
    w.assert_converged("o/etl", "ov").await;
    w.assert_no_secret_leaked().await;
}
