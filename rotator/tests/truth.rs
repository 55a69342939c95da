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
    let store = w.store.clone();
    wait_for("the daemon to lead", Duration::from_secs(15), || {
        let store = store.clone();
        async move {
            match Lease::status(&store).await.ok()? {
                LeaseStatus::Held { record, .. } if record.holder == "leader-1" => Some(()),
                _ => None,
            }
        }
    })
    .await;
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
