//! Rotator benchmarks (`cargo bench -p mixpanel-rotator`), against a real OpenBao dev server
//! and the emulator, both on loopback. Prints its figures:
//!
//! 1. 1,000 due service-account entries rotated by the engine (one `once --wait` pass: the
//!    reconcile scan, the journal, every phase), as a ratio to a bare loop that makes the same
//!    Vault and Mixpanel calls in the same order with the same concurrency, in the same run.
//! 2. The resident memory of an idle `mixpanel-rotator run` leading over 10,000 inventory
//!    entries (nothing due), next to the same daemon over an empty inventory.
//!
//! `ROTATOR_BENCH_ENTRIES` and `ROTATOR_BENCH_IDLE_ENTRIES` change the sizes;
//! `ROTATOR_BENCH_ONLY=rotation|memory` runs one part.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use common::World;
use mixpanel_access::api::{wire, ClientConfig};
use mixpanel_access::inventory::{
    CredentialKind, CredentialStatus, IntegrationType, InventoryEntry,
};
use mixpanel_access::model::{OrgId, ProjectId, ProjectRole, ProjectRoleGrant};
use mixpanel_access::vault::{
    Credential, Journal, Lease, Phase, Trigger, VaultAuth, VaultConfig, VaultStore,
};
use mixpanel_rotator::api::Mixpanel;
use mixpanel_rotator::config::RotationSettings;
use mixpanel_rotator::election::Elector;
use mixpanel_rotator::engine::{self, Engine};
use mixpanel_rotator::metrics::Metrics;
use mixpanel_rotator::triggers::Scheduler;
use secrecy::SecretString;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

const CONCURRENCY: usize = 8;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let only = std::env::var("ROTATOR_BENCH_ONLY").unwrap_or_default();
    runtime.block_on(async {
        if only.is_empty() || only == "rotation" {
            rotation_throughput(env_usize("ROTATOR_BENCH_ENTRIES", 1_000)).await;
        }
        if only.is_empty() || only == "memory" {
            idle_memory(env_usize("ROTATOR_BENCH_IDLE_ENTRIES", 10_000)).await;
        }
    });
}

async fn store_with_prefix(w: &World, prefix: &str) -> VaultStore {
    VaultStore::connect(
        VaultConfig::new(w.bao.address(), VaultAuth::token(w.bao.root_token())).with_prefix(prefix),
    )
    .await
    .expect("store")
}

/// Creates `n` service accounts with an analyst grant on `project`, `CONCURRENCY` at a time.
async fn make_accounts(
    w: &World,
    prefix: &str,
    n: usize,
    project: ProjectId,
) -> Vec<common::wire_created::Created> {
    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::new();
    for i in 0..n {
        let admin = w.admin.clone();
        let org = w.boot.org;
        let sem = sem.clone();
        let name = format!("{prefix}{i}");
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.expect("permit");
            common::create_service_account(&admin, org, &name, ProjectRole::Analyst, &[project])
                .await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

async fn register(
    store: &VaultStore,
    name: &str,
    a: &common::wire_created::Created,
    project: ProjectId,
) {
    let mut e = InventoryEntry::new(
        name,
        CredentialKind::ServiceAccount,
        IntegrationType::DataPipeline,
    );
    e.owner = "bench@acme.example".into();
    e.projects = vec![project];
    e.sa_id = Some(a.id);
    e.username = Some(a.username.parse().expect("username"));
    e.rotation_period = Some(Duration::from_secs(90 * 86_400));
    e.overlap = Duration::ZERO;
    e.last_rotated = Some(Utc::now() - TimeDelta::days(100));
    e.refresh(Utc::now());
    store.save_inventory_entry(&e).await.expect("save");
    let cred = Credential::ServiceAccount {
        username: a.username.parse().expect("username"),
        secret: SecretString::from(a.secret.clone()),
        sa_id: a.id,
    };
    store.write_credential(name, &cred, 0).await.expect("cred");
}

async fn rotation_throughput(n: usize) {
    let w = World::new().await;
    let project = w.project("bench").await;
    println!("rotation: preparing {n} due entries for the engine and {n} for the bare loop...");
    let engine_accounts = make_accounts(&w, "eng", n, project).await;
    let bare_accounts = make_accounts(&w, "bare", n, project).await;
    let engine_store = store_with_prefix(&w, "bench-engine").await;
    let bare_store = store_with_prefix(&w, "bench-bare").await;
    let sem = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for (i, a) in engine_accounts.iter().enumerate() {
        let (store, a, sem) = (engine_store.clone(), a.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.expect("permit");
            register(&store, &format!("e/{i}"), &a, project).await;
        }));
    }
    for (i, a) in bare_accounts.iter().enumerate() {
        let (store, a, sem) = (bare_store.clone(), a.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.expect("permit");
            register(&store, &format!("b/{i}"), &a, project).await;
        }));
    }
    for t in tasks {
        t.await.expect("register");
    }

    let client_config = || {
        let mut c = ClientConfig::new(
            &w.emu.url,
            &w.boot.username,
            SecretString::from(w.boot.secret.clone()),
        )
        .expect("config");
        c.max_concurrency = CONCURRENCY;
        c
    };

    // The engine: one `once --wait` pass over the whole inventory.
    let api = Mixpanel::connect(client_config(), Some(w.boot.org), 1_000_000)
        .await
        .expect("api");
    let settings = RotationSettings {
        max_concurrent: CONCURRENCY,
        membership_interval: Duration::ZERO,
        retry_backoff: Duration::from_millis(100),
        ..RotationSettings::default()
    };
    let metrics = Arc::new(Metrics::default());
    let engine = Arc::new(Engine::new(
        engine_store.clone(),
        api,
        settings,
        metrics.clone(),
    ));
    let scheduler = Scheduler::new(engine);
    let elector = Elector::new(
        engine_store.clone(),
        "bench".into(),
        Duration::from_secs(30),
        metrics.clone(),
    );
    let t0 = Instant::now();
    let report = elector
        .try_lead(&CancellationToken::new(), |lead| {
            let s = scheduler.clone();
            async move { s.once(&lead, true).await }
        })
        .await
        .expect("lease")
        .expect("leader")
        .expect("pass");
    let engine_time = t0.elapsed();
    let done = metrics.rotations_with("success");
    assert_eq!(done as usize, n, "every entry rotated: {report:?}");

    // The bare loop: the same calls, same concurrency, no journal logic, no scheduler.
    let bare = Arc::new(Bare {
        store: bare_store.clone(),
        api: Mixpanel::connect(client_config(), Some(w.boot.org), 1_000_000)
            .await
            .expect("api"),
        org: w.boot.org,
        project,
    });
    // The bare loop does not renew its lease, so it takes one that outlives the run (with
    // 1,000 entries it lasts longer than a minute).
    let guard = Lease::acquire(&bare_store, "bare", Duration::from_secs(3600))
        .await
        .expect("lease")
        .expect("leader");
    let fencing = guard.fencing_token();
    let t0 = Instant::now();
    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::new();
    for (i, a) in bare_accounts.into_iter().enumerate() {
        let (bare, sem) = (bare.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.expect("permit");
            bare.rotate(&format!("b/{i}"), a, fencing).await;
        }));
    }
    for t in tasks {
        t.await.expect("bare rotation");
    }
    let bare_time = t0.elapsed();
    let ratio = engine_time.as_secs_f64() / bare_time.as_secs_f64();
    println!(
        "rotation: {n} due entries rotated by the engine in {:.2}s ({:.1}/s); bare loop with the same Vault and API calls {:.2}s ({:.1}/s); ratio engine/bare = {ratio:.2}",
        engine_time.as_secs_f64(),
        n as f64 / engine_time.as_secs_f64(),
        bare_time.as_secs_f64(),
        n as f64 / bare_time.as_secs_f64(),
    );
}

struct Bare {
    store: VaultStore,
    api: Mixpanel,
    org: OrgId,
    project: ProjectId,
}

impl Bare {
    /// The engine's calls for one rotation, in order, without the state machine around them.
    async fn rotate(
        &self,
        name: &str,
        old: common::wire_created::Created,
        fencing: mixpanel_access::vault::FencingToken,
    ) {
        let s = &self.store;
        let _ = self.org;
        // request
        let meta = s.read_metadata(name).await.expect("meta").expect("meta");
        let _ = s.read_journal(name).await.expect("journal");
        let _ = s.read_credential(name).await.expect("cred");
        let status = std::collections::BTreeMap::from([
            (
                "status".to_string(),
                Some(CredentialStatus::Rotating.to_string()),
            ),
            ("status_reason".to_string(), Some("bench".to_string())),
        ]);
        s.patch_metadata(name, &status).await.expect("patch");
        let mut j = Journal::new(
            engine::new_rotation_id(),
            Trigger::Schedule,
            Duration::ZERO,
            Utc::now(),
        );
        let mut v = s
            .write_journal(name, &j, 0, fencing)
            .await
            .expect("journal");
        // drive
        let _ = s.read_journal(name).await.expect("journal");
        let _ = s.read_metadata(name).await.expect("meta");
        // intent -> created (the old account's projects, with its own credential)
        let _ = self.api.list_service_accounts().await.expect("list");
        let _ = s.read_credential(name).await.expect("cred");
        let old_client = self
            .api
            .client_for(&old.username, SecretString::from(old.secret.clone()))
            .expect("client");
        self.api.me_with(&old_client).await.expect("me old");
        let _ = self
            .api
            .list_project_service_accounts(self.project)
            .await
            .expect("members");
        let created = self
            .api
            .create_service_account(&wire::CreateServiceAccount {
                username: format!("{}-x", old.username.split('.').next().unwrap_or("b")),
                role: ProjectRole::Analyst,
                expires: Some(engine::expiry_for(Utc::now(), None)),
                projects: vec![ProjectRoleGrant {
                    id: self.project,
                    role: ProjectRole::Analyst,
                }],
            })
            .await
            .expect("create");
        j.pending_secret = Some(created.secret.clone());
        j.phase = Phase::Created;
        v = s
            .write_journal(name, &j, v, fencing)
            .await
            .expect("journal");
        // created -> tested
        let _ = self.api.list_teams().await.expect("teams");
        let client = self
            .api
            .client_for(created.account.username.as_str(), created.secret.clone())
            .expect("client");
        self.api.me_with(&client).await.expect("me");
        self.api
            .project_call_with(&client, self.project)
            .await
            .expect("project call");
        // the access comparison before promotion
        let _ = self.api.list_service_accounts().await.expect("list");
        let _ = self.api.list_teams().await.expect("teams");
        let _ = s.read_credential(name).await.expect("cred");
        self.api.me_with(&old_client).await.expect("me old");
        self.api.me_with(&client).await.expect("me new");
        let _ = self
            .api
            .list_project_service_accounts(self.project)
            .await
            .expect("members");
        j.phase = Phase::Tested;
        v = s
            .write_journal(name, &j, v, fencing)
            .await
            .expect("journal");
        // promote
        let _ = Lease::status(s).await.expect("lease");
        let _ = s.read_credential(name).await.expect("cred");
        let cas = s
            .read_metadata(name)
            .await
            .expect("meta")
            .map(|m| m.current_version)
            .unwrap_or(0);
        let cred = Credential::ServiceAccount {
            username: created.account.username.clone(),
            secret: created.secret,
            sa_id: created.account.id,
        };
        s.write_credential(name, &cred, cas).await.expect("cred");
        let _ = s.read_metadata(name).await.expect("meta");
        let fields = std::collections::BTreeMap::from([
            ("status".to_string(), Some("ok".to_string())),
            ("last_rotated".to_string(), Some(Utc::now().to_rfc3339())),
            ("sa_id".to_string(), Some(created.account.id.to_string())),
        ]);
        s.patch_metadata(name, &fields).await.expect("patch");
        j.phase = Phase::Promoted;
        v = s
            .write_journal(name, &j, v, fencing)
            .await
            .expect("journal");
        j.phase = Phase::Overlap;
        v = s
            .write_journal(name, &j, v, fencing)
            .await
            .expect("journal");
        // revoke
        let _ = Lease::status(s).await.expect("lease");
        let _ = s.read_credential(name).await.expect("cred");
        self.api
            .delete_service_account(old.id)
            .await
            .expect("delete");
        j.phase = Phase::RevokedOld;
        v = s
            .write_journal(name, &j, v, fencing)
            .await
            .expect("journal");
        // done
        let _ = self.api.list_service_accounts().await.expect("list");
        j.phase = Phase::Done;
        j.pending_secret = None;
        s.write_journal(name, &j, v, fencing)
            .await
            .expect("journal");
        let _ = meta;
    }
}

/// A process's memory as `/proc/<pid>/status` gives it, in KiB: resident, its peak, and the
/// resident part that is anonymous (heap, stacks) and file-backed (the binary's code pages and
/// shared libraries).
#[derive(Clone, Copy)]
struct Rss {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
}

fn rss_kib(pid: u32) -> Rss {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Rss {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
    }
}

async fn idle_daemon_rss(w: &World, prefix: &str, expect: usize) -> Rss {
    let mut d = w.daemon(
        &format!("idle-{prefix}"),
        &[
            ("MIXPANEL_ROTATOR_VAULT_PREFIX", prefix),
            ("MIXPANEL_ROTATOR_RECONCILE_INTERVAL", "60s"),
            ("MIXPANEL_ROTATOR_MEMBERSHIP_INTERVAL", "5m"),
        ],
    );
    d.wait_http().await;
    let url = d.url();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = reqwest::get(format!("{url}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        let passes = text
            .lines()
            .find(|l| l.starts_with("mixpanel_rotator_reconcile_passes_total{result=\"ok\"}"))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if passes >= 1 {
            let ok = text
                .lines()
                .find(|l| l.starts_with("mixpanel_rotator_credentials{status=\"ok\"}"))
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            assert_eq!(ok, expect, "every entry loaded");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no reconcile pass:\n{}",
            d.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the membership watcher's first pass (it reads the inventory too) finish.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pid = d.pid().expect("pid");
    let rss = rss_kib(pid);
    d.terminate().await;
    rss
}

async fn idle_memory(n: usize) {
    let w = World::new().await;
    let project = w.project("idle").await;
    let store = store_with_prefix(&w, "bench-idle").await;
    println!("memory: loading {n} inventory entries into OpenBao...");
    let t0 = Instant::now();
    let sem = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (store, sem) = (store.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.expect("permit");
            let mut e = InventoryEntry::new(
                format!("team{}/integration-{i}", i % 50),
                CredentialKind::ServiceAccount,
                IntegrationType::DataPipeline,
            );
            e.owner = format!("team{}@acme.example", i % 50);
            e.used_by = "a connector".into();
            e.purpose = "export events to the warehouse".into();
            e.projects = vec![project];
            e.sa_id = Some(mixpanel_access::model::ServiceAccountId(100_000 + i as u64));
            e.username = Some(
                format!("int{i}.abc123.mp-service-account")
                    .parse()
                    .expect("username"),
            );
            e.role = Some(ProjectRole::Analyst);
            e.last_rotated = Some(Utc::now());
            e.refresh(Utc::now());
            store.save_inventory_entry(&e).await.expect("save");
        }));
    }
    for t in tasks {
        t.await.expect("load");
    }
    println!("memory: loaded in {:.1}s", t0.elapsed().as_secs_f64());
    let empty = idle_daemon_rss(&w, "bench-empty", 0).await;
    let full = idle_daemon_rss(&w, "bench-idle", n).await;
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "memory: idle daemon RSS with {n} entries: {:.1} MiB (peak {:.1} MiB; heap and stacks {:.1} MiB, code and files {:.1} MiB); with an empty inventory: {:.1} MiB (peak {:.1} MiB; heap and stacks {:.1} MiB, code and files {:.1} MiB)",
        mib(full.rss),
        mib(full.hwm),
        mib(full.anon),
        mib(full.file),
        mib(empty.rss),
        mib(empty.hwm),
        mib(empty.anon),
        mib(empty.file),
    );
}
