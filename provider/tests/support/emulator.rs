//! The emulator, served in-process on a free loopback port with a temporary database, for
//! acceptance tests that run the real terraform against it.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use mixpanel_access::api::{Client, ClientConfig};
use secrecy::SecretString;
use serde_json::{json, Value};

pub struct LocalEmulator {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// Credentials of a bootstrapped organization's first service account.
#[derive(Clone, Debug)]
pub struct Creds {
    pub org_id: u64,
    pub username: String,
    pub secret: String,
}

impl LocalEmulator {
    pub fn start() -> LocalEmulator {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("emulator.db");
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
                mixpanel_emulator::serve(listener, &db, async {
                    let _ = stop_rx.await;
                })
                .await
                .expect("emulator serve");
            });
        });
        let addr = addr_rx.recv().expect("emulator address");
        LocalEmulator {
            url: format!("http://{addr}"),
            stop: Some(stop_tx),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Bootstraps an organization whose first service account has `role` (owner or admin).
    pub fn bootstrap(&self, org: &str, role: &str) -> Creds {
        let url = format!("{}/_emulator/bootstrap", self.url);
        let body = json!({
            "organization_name": org,
            "owner_email": format!("owner@{}.example", org.to_lowercase()),
            "service_account_name": "terraform",
            "service_account_role": role,
        });
        let v: Value = super::runtime().block_on(async {
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
        Creds {
            org_id: r["organization_id"].as_u64().expect("org id"),
            username: r["service_account"]["username"]
                .as_str()
                .expect("username")
                .into(),
            secret: r["service_account"]["secret"]
                .as_str()
                .expect("secret")
                .into(),
        }
    }

    /// An API client acting as `creds`.
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

    /// Requests counted by route name and method since the last reset.
    pub fn counters(&self) -> Value {
        let url = format!("{}/_emulator/counters", self.url);
        super::runtime().block_on(async {
            reqwest::get(url)
                .await
                .expect("counters")
                .json::<Value>()
                .await
                .expect("json")["results"]
                .clone()
        })
    }

    /// Sets the emulator's faults (`PUT /_emulator/faults`); `None` clears them.
    pub fn faults(&self, faults: Option<Value>) {
        let url = format!("{}/_emulator/faults", self.url);
        super::runtime().block_on(async {
            let http = reqwest::Client::new();
            let req = match faults {
                Some(f) => http.put(url).json(&f),
                None => http.delete(url),
            };
            let resp = req.send().await.expect("faults");
            assert!(resp.status().is_success(), "faults: {}", resp.status());
        });
    }

    pub fn reset_counters(&self) {
        let url = format!("{}/_emulator/counters", self.url);
        super::runtime().block_on(async {
            reqwest::Client::new()
                .delete(url)
                .send()
                .await
                .expect("reset counters");
        });
    }
}

impl Drop for LocalEmulator {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
