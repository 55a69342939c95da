//! Throughput of the emulator against a baseline measured in the same run.
//!
//! Starts, in this process and on loopback only, the emulator (temporary database, one
//! bootstrapped organization with a few projects) and a baseline axum server that answers the
//! same `/api/app/me` body as a static string. Drives each with the same bounded load
//! (`CONCURRENCY` keep-alive connections for `MEASURE` after a warm-up) of authenticated
//! `GET /api/app/me`, and prints requests per second for each and the ratio.
//!
//! Run: `cargo bench -p mixpanel-emulator --bench throughput`.

use std::time::{Duration, Instant};

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

const CONCURRENCY: usize = 64;
const WARMUP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(3);
const PROJECTS: usize = 3;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not: skip there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("throughput: run with `cargo bench -p mixpanel-emulator --bench throughput`");
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}

struct Load {
    ok: u64,
    errors: u64,
    elapsed: Duration,
}

impl Load {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// `CONCURRENCY` workers sending `GET url` with `auth` until `duration` has passed.
async fn drive(url: &str, auth: &str, duration: Duration) -> Result<Load, BoxError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;
    let start = Instant::now();
    let end = start + duration;
    let mut workers = Vec::with_capacity(CONCURRENCY);
    for _ in 0..CONCURRENCY {
        let client = client.clone();
        let url = url.to_string();
        let auth = auth.to_string();
        workers.push(tokio::spawn(async move {
            let (mut ok, mut errors) = (0u64, 0u64);
            while Instant::now() < end {
                match client.get(&url).header(AUTHORIZATION, &auth).send().await {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(_) => ok += 1,
                        Err(_) => errors += 1,
                    },
                    _ => errors += 1,
                }
            }
            (ok, errors)
        }));
    }
    let mut load = Load {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for w in workers {
        let (ok, errors) = w.await?;
        load.ok += ok;
        load.errors += errors;
    }
    load.elapsed = start.elapsed();
    Ok(load)
}

async fn measure(name: &str, url: &str, auth: &str) -> Result<Load, BoxError> {
    drive(url, auth, WARMUP).await?;
    let load = drive(url, auth, MEASURE).await?;
    println!(
        "{name:<9} {:>9.0} req/s  ({} requests in {:.2} s, {} errors)",
        load.rate(),
        load.ok,
        load.elapsed.as_secs_f64(),
        load.errors
    );
    Ok(load)
}

async fn run() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let (stop_tx, stop_rx) = watch::channel(false);

    // The emulator.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let emu_url = format!("http://{}", listener.local_addr()?);
    let mut rx = stop_rx.clone();
    let emulator = tokio::spawn(async move {
        mixpanel_emulator::serve(listener, &db, async move {
            let _ = rx.wait_for(|v| *v).await;
        })
        .await
    });

    let http = reqwest::Client::new();
    let boot: Value = http
        .post(format!("{emu_url}/_emulator/bootstrap"))
        .json(&json!({"organization_name": "Bench", "service_account_name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let r = &boot["results"];
    let org = r["organization_id"].as_u64().ok_or("no organization_id")?;
    let username = r["service_account"]["username"]
        .as_str()
        .ok_or("no username")?;
    let secret = r["service_account"]["secret"].as_str().ok_or("no secret")?;
    let auth = format!("Basic {}", STANDARD.encode(format!("{username}:{secret}")));
    let zones: Value = http
        .get(format!("{emu_url}/api/app/timezones"))
        .header(AUTHORIZATION, &auth)
        .send()
        .await?
        .json()
        .await?;
    let utc = zones["results"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row[1] == "UTC"))
        .and_then(|row| row[0].as_u64())
        .ok_or("no UTC time zone")?;
    for i in 0..PROJECTS {
        let resp = http
            .post(format!(
                "{emu_url}/api/app/organizations/{org}/create-project"
            ))
            .header(AUTHORIZATION, &auth)
            .json(
                &json!({"project_name": format!("bench-{i}"), "cluster_id": 1, "timezone_id": utc}),
            )
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(format!("create-project: HTTP {}", resp.status()).into());
        }
    }
    let me_url = format!("{emu_url}/api/app/me");
    let me_body = http
        .get(&me_url)
        .header(AUTHORIZATION, &auth)
        .send()
        .await?
        .text()
        .await?;

    // The baseline: the same body as a static string.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}/api/app/me", listener.local_addr()?);
    let body: &'static str = Box::leak(me_body.clone().into_boxed_str());
    let app = Router::new().route(
        "/api/app/me",
        get(move || async move { ([(CONTENT_TYPE, "application/json")], body) }),
    );
    let mut rx = stop_rx.clone();
    let baseline = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|v| *v).await;
            })
            .await
    });

    println!(
        "GET /api/app/me, {CONCURRENCY} keep-alive connections, {:.1} s warm-up + {:.1} s, \
         {PROJECTS} projects, {} byte body, {} cores",
        WARMUP.as_secs_f64(),
        MEASURE.as_secs_f64(),
        me_body.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let emu = measure("emulator", &me_url, &auth).await?;
    let base = measure("baseline", &base_url, &auth).await?;
    println!(
        "ratio     {:>9.3} (emulator / baseline)",
        emu.rate() / base.rate()
    );

    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), emulator).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), baseline).await;
    Ok(())
}
