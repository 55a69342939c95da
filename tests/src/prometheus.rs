//! Prometheus for tests: `promtool`, and a real server on a free loopback port with a generated
//! configuration, stopped (killed) on drop.
//!
//! Both come from Debian's `prometheus` package, which `make setup` installs through
//! `scripts/install-prometheus.sh`; [`ensure_installed`] runs the same script when a test finds
//! them missing (once per test process). `PROMTOOL_BIN` and `PROMETHEUS_BIN` override where
//! they are looked for. A test that cannot have them calls [`skip_loudly`] and returns.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::block_on;

/// How long a server may take to answer `/-/ready` after start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn on_path(name: &str, env_override: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_override) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `promtool` (`$PROMTOOL_BIN`, else `PATH`).
pub fn promtool() -> Option<PathBuf> {
    on_path("promtool", "PROMTOOL_BIN")
}

/// The `prometheus` server (`$PROMETHEUS_BIN`, else `PATH`).
pub fn prometheus_binary() -> Option<PathBuf> {
    on_path("prometheus", "PROMETHEUS_BIN")
}

/// Makes sure `promtool` and `prometheus` are there, installing Debian's package with
/// `scripts/install-prometheus.sh` when either is missing. `Err` says why they cannot be had.
pub fn ensure_installed() -> Result<(), String> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            if promtool().is_some() && prometheus_binary().is_some() {
                return Ok(());
            }
            for var in ["PROMTOOL_BIN", "PROMETHEUS_BIN"] {
                if let Some(p) = std::env::var_os(var).filter(|p| !Path::new(p).is_file()) {
                    return Err(format!("{var}={} is not a file", Path::new(&p).display()));
                }
            }
            let script = crate::workspace_root().join("scripts/install-prometheus.sh");
            let out = Command::new("sh")
                .arg(&script)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "{} failed ({}): {}",
                    script.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            match (promtool(), prometheus_binary()) {
                (Some(_), Some(_)) => Ok(()),
                _ => Err("promtool or prometheus is still not on PATH after the install".into()),
            }
        })
        .clone()
}

/// Prints a banner no one can miss: `what` was NOT tested, and why. Written to the process's
/// stderr directly, so that `cargo test` shows it even for a test that passes (the test
/// harness captures only `print!`/`eprint!`).
pub fn skip_loudly(what: &str, why: &str) {
    crate::skip_loudly(&format!(
        "{what} was NOT tested: Prometheus (Debian's `prometheus` package, for promtool and the \
         server) cannot be had here: {why}\nInstall it with `apt-get install prometheus` (or \
         `make setup`) to run this test."
    ));
}

/// Runs `promtool` with `args` in `dir`: (success, stdout + stderr).
pub fn run_promtool(dir: &Path, args: &[&str]) -> (bool, String) {
    let bin = promtool().expect("promtool: call ensure_installed() first");
    let out = Command::new(&bin)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A scrape job of the generated configuration.
#[derive(Debug, Clone)]
pub struct ScrapeJob {
    pub job: String,
    /// `host:port` targets (loopback).
    pub targets: Vec<String>,
}

/// A running Prometheus server owned by a test.
pub struct Prometheus {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    http: reqwest::Client,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    l.local_addr().expect("local address").port()
}

impl Prometheus {
    /// Starts `prometheus` on a free loopback port with `scrape_interval` and
    /// `evaluation_interval` both `interval`, the `rule_files` and one job per `jobs` entry;
    /// waits until it is ready. Tries another port when the one picked was taken meanwhile.
    pub fn start(jobs: &[ScrapeJob], rule_files: &[PathBuf], interval: Duration) -> Prometheus {
        let mut last = String::new();
        for _ in 0..3 {
            match Prometheus::try_start(jobs, rule_files, interval) {
                Ok(p) => return p,
                Err(e) => last = e,
            }
        }
        panic!("Prometheus did not start: {last}")
    }

    fn try_start(
        jobs: &[ScrapeJob],
        rule_files: &[PathBuf],
        interval: Duration,
    ) -> Result<Prometheus, String> {
        let bin = prometheus_binary().expect("prometheus: call ensure_installed() first");
        let dir = tempfile::Builder::new()
            .prefix("prometheus-test-")
            .tempdir()
            .expect("create a temp dir");
        let every = format!("{}ms", interval.as_millis().max(1));
        let mut config = format!(
            "global:\n  scrape_interval: {every}\n  scrape_timeout: {every}\n  evaluation_interval: {every}\n"
        );
        if !rule_files.is_empty() {
            config.push_str("rule_files:\n");
            for f in rule_files {
                config.push_str(&format!("  - {}\n", yaml_string(&f.display().to_string())));
            }
        }
        config.push_str("scrape_configs:\n");
        for j in jobs {
            config.push_str(&format!(
                "  - job_name: {}\n    static_configs:\n      - targets: [{}]\n",
                yaml_string(&j.job),
                j.targets
                    .iter()
                    .map(|t| yaml_string(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=1h")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut p = Prometheus {
            port,
            dir,
            child: Some(child),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if p.status("/-/ready") == Some(200) {
                return Ok(p);
            }
            if !p.is_running() {
                return Err(format!("prometheus exited:\n{}", p.log_tail()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not ready within {START_TIMEOUT:?}:\n{}",
                    p.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn status(&self, path: &str) -> Option<u16> {
        let url = format!("{}{path}", self.url());
        let http = self.http.clone();
        block_on(async move { http.get(url).send().await.ok().map(|r| r.status().as_u16()) })
    }

    /// GET `path` with `query` parameters from the HTTP API; the `data` of a `success` answer.
    pub fn api(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, String> {
        let url = format!("{}{path}", self.url());
        let http = self.http.clone();
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body: Value = block_on(async move {
            let resp = http
                .get(url)
                .query(&query)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            resp.json::<Value>().await.map_err(|e| e.to_string())
        })?;
        if body["status"] == "success" {
            Ok(body["data"].clone())
        } else {
            Err(format!("{path}: {body}"))
        }
    }

    /// An instant query: the `result` array.
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api("/api/v1/query", &[("query", expr)])?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// The alerts (`pending` and `firing`) from `/api/v1/alerts`.
    pub fn alerts(&self) -> Vec<Value> {
        self.api("/api/v1/alerts", &[])
            .ok()
            .and_then(|d| d["alerts"].as_array().cloned())
            .unwrap_or_default()
    }

    /// The scrape targets from `/api/v1/targets` (`activeTargets`).
    pub fn targets(&self) -> Vec<Value> {
        self.api("/api/v1/targets", &[])
            .ok()
            .and_then(|d| d["activeTargets"].as_array().cloned())
            .unwrap_or_default()
    }

    /// The rule groups from `/api/v1/rules`.
    pub fn rule_groups(&self) -> Vec<Value> {
        self.api("/api/v1/rules", &[])
            .ok()
            .and_then(|d| d["groups"].as_array().cloned())
            .unwrap_or_default()
    }
}

fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).expect("a JSON string is a YAML string")
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
