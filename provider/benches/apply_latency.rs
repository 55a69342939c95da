//! `make bench` (provider, latency part): an apply at real-world latency, with and without
//! coalesced writes, as ratios measured in one run.
//!
//! The configuration is an onboarding (`support::onboarding_members` and `onboarding_grants`):
//! one project, N invitations (`mixpanel_organization_member`) and N project grants
//! (`mixpanel_project_member`), N = 1,000, applied in two steps (the project and the
//! invitations, then the grants) whose times and requests add up: a grant that referred to its
//! member would make Terraform's own graph a million edges at this size and cost it minutes
//! of CPU, the same in every run, hiding what the provider does. The emulator answers every API
//! request after an injected 100 ms, as Mixpanel answers in 100-300 ms. Four runs, each into a
//! fresh emulator:
//!
//! - batched: the provider as shipped, Terraform's default `-parallelism=10`;
//! - batched at `-parallelism=50`: with batching, more resources in flight make bigger
//!   requests, not more of them (the client keeps at most 3 requests in flight either way);
//! - one request per resource, 3 in flight (`MIXPANEL_BATCH_WRITES=false`, `-parallelism=3`):
//!   the design of the existing community providers, the baseline;
//! - one request per resource at `-parallelism=10` (`MIXPANEL_BATCH_WRITES=false`): separates
//!   what batching gains from what Terraform's parallelism gains;
//! - and, as a reference, the batched apply without injected latency: what Terraform and the
//!   provider cost on this machine apart from waiting for the API. Subtracted from the others it
//!   gives their latency-bound time.
//!
//! Printed: wall time and the emulator's request count of each, and their ratios. After each
//! apply a read checks that the emulator holds all N members and N grants.
//!
//! The unbatched applies take minutes at N = 1,000 (about 2 requests per resource, 3 at a time,
//! 100 ms each): `MIXPANEL_BENCH_APPLY_N=200` scales the run down, and
//! `MIXPANEL_BENCH_LATENCY_MS` changes the latency.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use mixpanel_access::model::{OrgId, ProjectId};
use serde_json::{json, Value};
use support::emulator::Emulator;
use support::*;

fn env_number(key: &str, default: u64) -> u64 {
    match std::env::var(key) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{key}: expected a whole number, got {v:?}")),
        Err(_) => default,
    }
}

/// Requests by route and method, and their total.
fn requests(counters: &Value) -> (u64, u64, String) {
    let (mut total, mut writes, mut lines) = (0, 0, Vec::new());
    for (route, methods) in counters.as_object().into_iter().flatten() {
        for (method, n) in methods.as_object().into_iter().flatten() {
            let n = n.as_u64().unwrap_or(0);
            total += n;
            if method != "GET" {
                writes += n;
            }
            lines.push(format!("{method} {route} {n}"));
        }
    }
    (total, writes, lines.join(", "))
}

struct Run {
    label: &'static str,
    wall: Duration,
    total: u64,
    writes: u64,
    detail: String,
}

fn apply(label: &'static str, n: usize, latency_ms: u64, batched: bool, parallelism: u32) -> Run {
    let terraform = terraform_binary().expect("terraform on PATH or TF_ACC_TERRAFORM_PATH");
    let emu = Emulator::start();
    let creds = emu.bootstrap("Bench", "owner");
    let head = format!("{REQUIRED_PROVIDERS}\nprovider \"mixpanel\" {{}}\n");
    let members = format!("{head}{}", onboarding_members(n));
    let grants = format!(
        "{members}{}",
        onboarding_grants(n, "\"user${count.index}@acme.example\"")
    );
    let mut dir = dev_overrides_dir(terraform, &members);
    dir.set_env("MIXPANEL_API_URL", &emu.url);
    dir.set_env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", &creds.username);
    dir.set_env("MIXPANEL_SERVICE_ACCOUNT_SECRET", &creds.secret);
    if !batched {
        dir.set_env("MIXPANEL_BATCH_WRITES", "false");
    }
    emu.faults(Some(json!({ "latency_ms": latency_ms })));
    emu.reset_counters();
    let parallelism = format!("-parallelism={parallelism}");
    let args = ["apply", "-auto-approve", "-no-color", &parallelism];
    let t = Instant::now();
    dir.run_ok(&args);
    let mut wall = t.elapsed();
    std::fs::write(dir.path().join("main.tf"), &grants).expect("write main.tf");
    let t = Instant::now();
    dir.run_ok(&args);
    wall += t.elapsed();
    let (total, writes, detail) = requests(&emu.counters());
    emu.faults(None);

    // The apply said it made everything: check by a read that it did.
    let api = emu.client(&creds);
    let org = OrgId(creds.org_id);
    let rt = runtime();
    let members = rt.block_on(api.list_org_users(org)).expect("list members");
    let people = members
        .iter()
        .filter(|m| m.email.as_str().ends_with("@acme.example"))
        .count();
    assert_eq!(people, n, "{label}: members after the apply");
    let projects = rt.block_on(api.list_projects(org)).expect("list projects");
    let project: ProjectId = projects
        .iter()
        .find(|p| p.name == "onboarding")
        .map(|p| p.id)
        .expect("the onboarding project");
    let grants = rt
        .block_on(api.granted_users(project))
        .expect("list grants");
    assert!(
        grants.len() >= n,
        "{label}: {} grants after the apply, expected {n}",
        grants.len()
    );
    Run {
        label,
        wall,
        total,
        writes,
        detail,
    }
}

fn main() {
    let n = usize::try_from(env_number("MIXPANEL_BENCH_APPLY_N", 1000)).expect("N fits");
    let latency = env_number("MIXPANEL_BENCH_LATENCY_MS", 100);
    let resources = 2 * n + 1;
    println!(
        "== apply at {latency} ms per request: {n} invitations + {n} project grants + 1 project = {resources} resources (MIXPANEL_BENCH_APPLY_N, MIXPANEL_BENCH_LATENCY_MS)"
    );
    let runs = [
        apply("batched, -parallelism=10", n, latency, true, 10),
        apply("batched, -parallelism=50", n, latency, true, 50),
        apply(
            "one request per resource, -parallelism=3 (baseline)",
            n,
            latency,
            false,
            3,
        ),
        apply(
            "one request per resource, -parallelism=10",
            n,
            latency,
            false,
            10,
        ),
        apply(
            "batched, -parallelism=10, no latency (reference)",
            n,
            0,
            true,
            10,
        ),
    ];
    for r in &runs {
        println!(
            "{:<52} {:>7.1}s  {:>5} requests ({} writes), {:.3} requests per resource",
            r.label,
            r.wall.as_secs_f64(),
            r.total,
            r.writes,
            r.total as f64 / resources as f64
        );
        println!("    {}", r.detail);
    }
    let (b, b50, base, p10, zero) = (&runs[0], &runs[1], &runs[2], &runs[3], &runs[4]);
    for (what, r) in [("-parallelism=10", b), ("-parallelism=50", b50)] {
        println!(
            "batched at {what} over the baseline: {:.1}x wall time (target >= 5), {:.1}x fewer requests; requests per created resource {:.3} (target <= 0.3)",
            base.wall.as_secs_f64() / r.wall.as_secs_f64(),
            base.total as f64 / r.total as f64,
            r.total as f64 / resources as f64
        );
    }
    println!(
        "at the same -parallelism=10: batching {:.1}x faster, {:.1}x fewer requests",
        p10.wall.as_secs_f64() / b.wall.as_secs_f64(),
        p10.total as f64 / b.total as f64
    );
    let waiting = |r: &Run| (r.wall.as_secs_f64() - zero.wall.as_secs_f64()).max(0.001);
    println!(
        "latency-bound time (wall minus the {:.1}s without latency): baseline {:.1}s, batched {:.1}s at -parallelism=10 ({:.1}x), {:.1}s at -parallelism=50 ({:.1}x)",
        zero.wall.as_secs_f64(),
        waiting(base),
        waiting(b),
        waiting(base) / waiting(b),
        waiting(b50),
        waiting(base) / waiting(b50)
    );
}
