//! Starts the real `mixpanel-emulator` binary on a free loopback port with a temporary SQLite
//! file, bootstraps an organization over HTTP, and stops the process when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

pub struct Emulator {
    pub url: String,
    pub db: PathBuf,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

/// Credentials of a bootstrapped organization's first service account.
#[derive(Clone)]
pub struct Bootstrap {
    pub org_id: u64,
    pub owner_email: String,
    pub sa_id: u64,
    pub username: String,
    pub secret: String,
}

impl Emulator {
    /// Starts an emulator on a fresh database.
    pub fn start() -> Emulator {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("emulator.db");
        let mut e = Emulator::start_on(&db);
        e._dir = Some(dir);
        e
    }

    /// Starts an emulator on an existing (or new) database file.
    pub fn start_on(db: &Path) -> Emulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mixpanel-emulator"))
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mixpanel-emulator");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read first line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Emulator {
            url,
            db: db.to_path_buf(),
            child: Some(child),
            _dir: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Bootstraps an organization whose first service account has `role`.
    pub async fn bootstrap_with(&self, org: &str, role: &str) -> Bootstrap {
        let resp: Value = reqwest::Client::new()
            .post(format!("{}/_emulator/bootstrap", self.url))
            .json(&json!({
                "organization_name": org,
                "owner_email": format!("owner@{}.example", org.to_lowercase()),
                "service_account_name": "bootstrap",
                "service_account_role": role,
            }))
            .send()
            .await
            .expect("bootstrap request")
            .json()
            .await
            .expect("bootstrap json");
        let r = &resp["results"];
        Bootstrap {
            org_id: r["organization_id"].as_u64().expect("organization_id"),
            owner_email: r["owner_email"].as_str().expect("owner_email").into(),
            sa_id: r["service_account"]["id"].as_u64().expect("sa id"),
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

    pub async fn bootstrap(&self) -> Bootstrap {
        self.bootstrap_with("Acme", "owner").await
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
