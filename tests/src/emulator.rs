//! The Mixpanel emulator for tests: in-process on a thread ([`Emulator::start`]) or as its
//! binary ([`Emulator::spawn`], for restarts and signals), on a free loopback port with a
//! temporary SQLite file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;

use mixpanel_access::api::{Client, ClientConfig};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::block_on;

/// Credentials of a bootstrapped organization's first service account.
#[derive(Clone, Debug)]
pub struct Creds {
    pub org_id: u64,
    pub owner_email: String,
    pub sa_id: u64,
    pub username: String,
    pub secret: String,
}

enum Run {
    Thread {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<JoinHandle<()>>,
    },
    Process(Option<Child>),
}

pub struct Emulator {
    pub url: String,
    pub db: PathBuf,
    run: Run,
    _dir: Option<tempfile::TempDir>,
}

impl Emulator {
    /// The emulator served in-process on a fresh database.
    pub fn start() -> Emulator {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("emulator.db");
        let served = db.clone();
        let (addr_tx, addr_rx) = mpsc::channel::<SocketAddr>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("emulator runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                mixpanel_emulator::serve(listener, &served, async {
                    let _ = stop_rx.await;
                })
                .await
                .expect("emulator serve");
            });
        });
        let addr = addr_rx.recv().expect("emulator address");
        Emulator {
            url: format!("http://{addr}"),
            db,
            run: Run::Thread {
                stop: Some(stop_tx),
                thread: Some(thread),
            },
            _dir: Some(dir),
        }
    }

    /// The emulator binary `bin` on a fresh database.
    pub fn spawn(bin: impl AsRef<Path>) -> Emulator {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("emulator.db");
        let mut e = Emulator::spawn_on(bin, &db);
        e._dir = Some(dir);
        e
    }

    /// The emulator binary `bin` on an existing (or new) database file.
    pub fn spawn_on(bin: impl AsRef<Path>, db: &Path) -> Emulator {
        let mut child = Command::new(bin.as_ref())
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mixpanel-emulator");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("read first line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Emulator {
            url,
            db: db.to_path_buf(),
            run: Run::Process(Some(child)),
            _dir: None,
        }
    }

    /// The process id of a spawned emulator (0 in-process).
    pub fn pid(&self) -> u32 {
        match &self.run {
            Run::Process(Some(c)) => c.id(),
            _ => 0,
        }
    }

    /// Sends SIGTERM to a spawned emulator and waits for its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let Run::Process(child) = &mut self.run else {
            return None;
        };
        let mut child = child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().ok().and_then(|s| s.code())
    }

    /// Bootstraps an organization whose first service account (`bootstrap`) has `role`
    /// (owner or admin); the owner is `owner@<org>.example`.
    pub fn bootstrap(&self, org: &str, role: &str) -> Creds {
        let url = format!("{}/_emulator/bootstrap", self.url);
        let body = json!({
            "organization_name": org,
            "owner_email": format!("owner@{}.example", org.to_lowercase()),
            "service_account_name": "bootstrap",
            "service_account_role": role,
        });
        let v: Value = block_on(async {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("bootstrap")
                .json()
                .await
                .expect("bootstrap json")
        });
        let r = &v["results"];
        let text = |v: &Value, what: &str| {
            v.as_str()
                .unwrap_or_else(|| panic!("{what} in {r}"))
                .to_string()
        };
        Creds {
            org_id: r["organization_id"].as_u64().expect("organization_id"),
            owner_email: text(&r["owner_email"], "owner_email"),
            sa_id: r["service_account"]["id"].as_u64().expect("sa id"),
            username: text(&r["service_account"]["username"], "username"),
            secret: text(&r["service_account"]["secret"], "secret"),
        }
    }

    /// An API client acting as `creds`, with one retry.
    pub fn client(&self, creds: &Creds) -> Client {
        let mut cfg = ClientConfig::new(
            &self.url,
            &creds.username,
            SecretString::from(creds.secret.clone()),
        )
        .expect("client config");
        cfg.max_retries = 1;
        Client::new(cfg).expect("client")
    }

    /// The emulator's OpenAPI document (`GET /_emulator/openapi.json`).
    pub fn openapi(&self) -> Value {
        let url = format!("{}/_emulator/openapi.json", self.url);
        block_on(async {
            reqwest::get(url)
                .await
                .expect("openapi.json")
                .json::<Value>()
                .await
                .expect("openapi json")
        })
    }

    /// Requests counted by route name and method since the last reset.
    pub fn counters(&self) -> Value {
        let url = format!("{}/_emulator/counters", self.url);
        block_on(async {
            reqwest::get(url)
                .await
                .expect("counters")
                .json::<Value>()
                .await
                .expect("json")["results"]
                .clone()
        })
    }

    pub fn reset_counters(&self) {
        let url = format!("{}/_emulator/counters", self.url);
        block_on(async {
            reqwest::Client::new()
                .delete(url)
                .send()
                .await
                .expect("reset counters");
        });
    }

    /// Marks an invited member active with its login (the member list's `last_login`) at
    /// `at` (RFC 3339): a member dormant since.
    pub fn activate_at(&self, email: &str, at: &str) {
        self.admin_post(&format!("/users/{email}/activate"), json!({ "at": at }));
    }

    /// Marks an invited member active, with a login now (`POST /_emulator/users/{email}/activate`).
    pub fn activate(&self, email: &str) {
        let url = format!("{}/_emulator/users/{email}/activate", self.url);
        block_on(async {
            let r = reqwest::Client::new()
                .post(url)
                .send()
                .await
                .expect("activate");
            assert!(r.status().is_success(), "activate: {}", r.status());
        });
    }

    /// `POST /_emulator{path}` with a JSON body; panics unless it succeeds. The `results`.
    pub fn admin_post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/_emulator{path}", self.url);
        block_on(async {
            let r = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("admin request");
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "POST /_emulator{path}: {status} {v}");
            v["results"].clone()
        })
    }

    /// Records a member's login at `at` (RFC 3339), with two-factor enrollment when `twofactor`.
    pub fn record_login(&self, org: u64, email: &str, at: &str, twofactor: bool) {
        self.admin_post(
            &format!("/organizations/{org}/users/{email}/login"),
            json!({"at": at, "login_method": "password", "twofactor_enabled": twofactor,
                   "twofactor_method": if twofactor { Some("totp") } else { None }}),
        );
    }

    /// Sets a service account's creator (a member's e-mail), `created` and `last_used`.
    pub fn service_account_facts(&self, org: u64, sa: u64, facts: Value) {
        self.admin_post(
            &format!("/organizations/{org}/service-accounts/{sa}/facts"),
            facts,
        );
    }

    /// Sets the emulator's faults (`PUT /_emulator/faults`); `None` clears them.
    pub fn faults(&self, faults: Option<Value>) {
        let url = format!("{}/_emulator/faults", self.url);
        block_on(async {
            let http = reqwest::Client::new();
            let req = match faults {
                Some(f) => http.put(url).json(&f),
                None => http.delete(url),
            };
            let resp = req.send().await.expect("faults");
            assert!(resp.status().is_success(), "faults: {}", resp.status());
        });
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        match &mut self.run {
            Run::Thread { stop, thread } => {
                if let Some(s) = stop.take() {
                    let _ = s.send(());
                }
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
            Run::Process(child) => {
                if let Some(mut c) = child.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
    }
}
