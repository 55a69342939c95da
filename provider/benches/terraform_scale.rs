//! `make bench` (provider part): ratios measured in one run, on this machine.
//!
//! - plan and apply of 1,000 `mixpanel_organization_member` resources against the emulator, as
//!   a ratio to the same commands over 1,000 `terraform_data` resources (Terraform's own cost);
//! - the emulator's request count for a refresh of those 1,000 resources;
//! - exec-to-handshake time of the provider, as a ratio to spawning `/bin/true`;
//! - the provider's peak memory during the 1,000-resource plan (via `/usr/bin/time`);
//! - the same plan against the floor provider ([`floor`]: the same protocol stack and schema,
//!   echoing the state without any API call): ours/floor is what the provider adds to
//!   Terraform's own cost of an out-of-process provider, floor/terraform_data what that cost is.

mod floor;
#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use support::emulator::Emulator;
use support::*;

const N: usize = 1000;
const PLAN_ROUNDS: usize = 5;
const APPLY_ROUNDS: usize = 3;

fn timed(dir: &TerraformDir, args: &[&str]) -> Duration {
    let t = Instant::now();
    dir.run_ok(args);
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn total_requests(counters: &serde_json::Value) -> (u64, Vec<String>) {
    let mut total = 0;
    let mut lines = Vec::new();
    if let Some(routes) = counters.as_object() {
        for (route, methods) in routes {
            if let Some(m) = methods.as_object() {
                for (method, n) in m {
                    let n = n.as_u64().unwrap_or(0);
                    if n > 0 {
                        total += n;
                        lines.push(format!("{method} {route}: {n}"));
                    }
                }
            }
        }
    }
    (total, lines)
}

fn main() -> ExitCode {
    // Started by Terraform as the floor provider (see `floor`).
    if std::env::var_os(floor::FLOOR_ENV).is_some() {
        return floor::serve();
    }
    let terraform = terraform_binary().expect("terraform on PATH or TF_ACC_TERRAFORM_PATH");
    println!("== terraform at scale: {N} resources (release provider, emulator in-process)");

    // Applies take seconds each and one run is at the mercy of the machine's noise: apply
    // APPLY_ROUNDS times each into fresh directories (and a fresh emulator), alternating, and
    // compare medians. The last directories serve the plans below.
    let base_body = format!("resource \"terraform_data\" \"d\" {{\n  count = {N}\n  input = \"user${{count.index}}@bench.example\"\n}}\n");
    let body = format!(
        "{REQUIRED_PROVIDERS}\nprovider \"mixpanel\" {{}}\nresource \"mixpanel_organization_member\" \"m\" {{\n  count = {N}\n  email = \"user${{count.index}}@bench.example\"\n  role  = \"member\"\n}}\n"
    );
    let (mut base_applies, mut applies) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..APPLY_ROUNDS {
        // Baseline: Terraform's own cost for N resources.
        let baseline = TerraformDir::plain(terraform.clone(), &base_body);
        base_applies.push(timed(&baseline, &["apply", "-auto-approve", "-no-color"]));
        // The provider against the emulator.
        let emu = Emulator::start();
        let creds = emu.bootstrap("Bench", "owner");
        let mut dir = dev_overrides_dir(terraform.clone(), &body);
        dir.set_env("MIXPANEL_API_URL", &emu.url);
        dir.set_env("MIXPANEL_SERVICE_ACCOUNT_USERNAME", &creds.username);
        dir.set_env("MIXPANEL_SERVICE_ACCOUNT_SECRET", &creds.secret);
        applies.push(timed(&dir, &["apply", "-auto-approve", "-no-color"]));
        last = Some((baseline, emu, dir));
    }
    let (baseline, emu, dir) = last.expect("at least one round");
    let (base_apply, apply) = (median(base_applies), median(applies));
    // The floor provider on the same configuration and state: this binary, through a
    // `dev_overrides` symlink, started with FLOOR_ENV set.
    let me = std::env::current_exe().expect("the bench binary's path");
    let mut floor_dir = TerraformDir::with_dev_overrides(terraform.clone(), &me, &body);
    std::fs::copy(
        dir.path().join("terraform.tfstate"),
        floor_dir.path().join("terraform.tfstate"),
    )
    .expect("copy the state for the floor provider");
    floor_dir.set_env(floor::FLOOR_ENV, "1");
    floor_dir.set_env("MIXPANEL_API_URL", &emu.url);
    emu.reset_counters();
    let first_plan = timed(&dir, &["plan", "-no-color", "-detailed-exitcode"]);
    let (requests, detail) = total_requests(&emu.counters());
    // Plans take about a second, so one run of each is at the mercy of the machine's noise:
    // alternate the two, and compare medians.
    // `plan -refresh=false` too: it separates the refresh (one ReadResource RPC per resource)
    // from the rest of the plan.
    let mut base_plans = Vec::new();
    let mut plans = vec![first_plan];
    let mut floor_plans = Vec::new();
    let (mut base_norefresh, mut norefresh) = (Vec::new(), Vec::new());
    let no_refresh = ["plan", "-refresh=false", "-no-color", "-detailed-exitcode"];
    let plan_args = ["plan", "-no-color", "-detailed-exitcode"];
    for _ in 0..PLAN_ROUNDS {
        base_plans.push(timed(&baseline, &["plan", "-no-color"]));
        if plans.len() < PLAN_ROUNDS {
            plans.push(timed(&dir, &plan_args));
        }
        emu.reset_counters();
        floor_plans.push(timed(&floor_dir, &plan_args));
        let (floor_requests, _) = total_requests(&emu.counters());
        assert_eq!(floor_requests, 0, "the floor provider made API requests");
        base_norefresh.push(timed(&baseline, &no_refresh));
        norefresh.push(timed(&dir, &no_refresh));
    }
    let (base_norefresh, norefresh) = (median(base_norefresh), median(norefresh));
    let spread = |v: &[Duration]| {
        let secs: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
        (
            secs.iter().copied().fold(f64::MAX, f64::min),
            secs.iter().copied().fold(0.0, f64::max),
        )
    };
    let ((bmin, bmax), (pmin, pmax)) = (spread(&base_plans), spread(&plans));
    let (fmin, fmax) = spread(&floor_plans);
    let (base_plan, plan, floor_plan) = (median(base_plans), median(plans), median(floor_plans));

    println!(
        "apply: terraform_data {:.2}s, mixpanel {:.2}s, ratio {:.2} (target <= 1.10; medians of {APPLY_ROUNDS} alternating runs)",
        base_apply.as_secs_f64(),
        apply.as_secs_f64(),
        apply.as_secs_f64() / base_apply.as_secs_f64()
    );
    println!(
        "plan:  terraform_data {:.2}s, mixpanel {:.2}s, ratio {:.2} (target <= 1.10; medians of {PLAN_ROUNDS} alternating runs, ranges {bmin:.2}-{bmax:.2}s and {pmin:.2}-{pmax:.2}s)",
        base_plan.as_secs_f64(),
        plan.as_secs_f64(),
        plan.as_secs_f64() / base_plan.as_secs_f64()
    );
    println!(
        "plan vs floor provider (same protocol stack and schema, echoes state, no API call): mixpanel {:.2}s, floor {:.2}s, terraform_data {:.2}s; mixpanel/floor {:.3} (target <= 1.05), floor/terraform_data {:.2} (medians of {PLAN_ROUNDS} alternating runs, floor range {fmin:.2}-{fmax:.2}s)",
        plan.as_secs_f64(),
        floor_plan.as_secs_f64(),
        base_plan.as_secs_f64(),
        plan.as_secs_f64() / floor_plan.as_secs_f64(),
        floor_plan.as_secs_f64() / base_plan.as_secs_f64()
    );
    println!(
        "plan -refresh=false: terraform_data {:.2}s, mixpanel {:.2}s, ratio {:.2} (medians; the difference from the plan above is the refresh)",
        base_norefresh.as_secs_f64(),
        norefresh.as_secs_f64(),
        norefresh.as_secs_f64() / base_norefresh.as_secs_f64()
    );
    println!(
        "API requests for a {N}-resource refresh: {requests} (target <= 10): {}",
        detail.join(", ")
    );

    // Peak memory of the provider during the plan, through a wrapper in the plugin folder.
    let time_bin = std::path::Path::new("/usr/bin/time");
    if time_bin.is_file() {
        let rss_log = dir.path().join("rss.log");
        let wrapper = dir.path().join("plugins/terraform-provider-mixpanel");
        let _ = std::fs::remove_file(&wrapper);
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/time -a -o {} -f '%M %U %S' {} \"$@\"\n",
                rss_log.display(),
                provider_binary().display()
            ),
        )
        .expect("wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let wall = timed(&dir, &["plan", "-no-color"]);
        let log = std::fs::read_to_string(&rss_log).unwrap_or_default();
        let rows: Vec<Vec<f64>> = log
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .filter(|r: &Vec<f64>| r.len() == 3)
            .collect();
        let peak_kb = rows.iter().map(|r| r[0]).fold(0.0, f64::max);
        let cpu: f64 = rows.iter().map(|r| r[1] + r[2]).sum();
        println!(
            "provider peak memory during the {N}-resource plan: {:.1} MB (target < 15 MB); provider CPU {:.2}s in {} processes, {:.0}% of the plan's {:.2}s wall time",
            peak_kb / 1024.0,
            cpu,
            rows.len(),
            100.0 * cpu / wall.as_secs_f64(),
            wall.as_secs_f64()
        );
    } else {
        println!(
            "provider peak memory: not measured (/usr/bin/time is missing: apt-get install time)"
        );
    }

    // Exec to handshake, against spawning /bin/true.
    let id = ClientIdentity::terraform_like();
    let mut hs = Vec::new();
    let mut spawn = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        Command::new("/bin/true").status().expect("true");
        spawn.push(t.elapsed());

        let t = Instant::now();
        let mut child = provider_command()
            .env(COOKIE_KEY, COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "6")
            .env("PLUGIN_CLIENT_CERT", &id.pem)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn provider");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("handshake");
        hs.push(t.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    let (hs, spawn) = (median(hs), median(spawn));
    println!(
        "exec to handshake: {:.2} ms median (spawning /bin/true: {:.2} ms; ratio {:.2}; target <= 2 ms)",
        hs.as_secs_f64() * 1e3,
        spawn.as_secs_f64() * 1e3,
        hs.as_secs_f64() / spawn.as_secs_f64()
    );
    ExitCode::SUCCESS
}
