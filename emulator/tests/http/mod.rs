//! A small raw-HTTP helper for the emulator's tests: Basic auth, no redirects followed, and
//! every answer as (status, JSON body).
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use testkit::emulator::{Creds as Bootstrap, Emulator};

pub struct Api {
    pub base: String,
    pub username: String,
    secret: String,
    client: reqwest::Client,
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Answer {
    /// The error message of an error answer ("" if none).
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

impl Api {
    pub fn new(emu: &Emulator, b: &Bootstrap) -> Api {
        Api::with(&emu.url, &b.username, &b.secret)
    }

    pub fn with(base: &str, username: &str, secret: &str) -> Api {
        Api {
            base: base.to_string(),
            username: username.to_string(),
            secret: secret.to_string(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.username, Some(&self.secret));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    /// GET that must succeed; returns `results`.
    pub async fn ok_get(&self, path: &str) -> Value {
        let a = self.get(path).await;
        assert_eq!(a.status, 200, "GET {path}: {}", a.body);
        a.body["results"].clone()
    }

    /// POST that must succeed (2xx); returns `results`.
    pub async fn ok_post(&self, path: &str, body: Value) -> Value {
        let a = self.post(path, body).await;
        assert!(
            (200..300).contains(&a.status),
            "POST {path}: {} {}",
            a.status,
            a.body
        );
        a.body["results"].clone()
    }

    /// The id of a time zone in `/api/app/timezones`.
    pub async fn timezone_id(&self, name: &str) -> u64 {
        let rows = self.ok_get("/api/app/timezones").await;
        rows.as_array()
            .expect("rows")
            .iter()
            .find(|r| r[1] == name)
            .and_then(|r| r[0].as_u64())
            .expect("time zone listed")
    }

    /// Creates a US project in UTC; returns its id.
    pub async fn create_project(&self, org: u64, name: &str) -> u64 {
        let tz = self.timezone_id("UTC").await;
        let r = self
            .ok_post(
                &format!("/api/app/organizations/{org}/create-project"),
                json!({"project_name": name, "cluster_id": 1, "timezone_id": tz}),
            )
            .await;
        r["id"].as_u64().expect("project id")
    }

    /// Creates a service account; returns (id, username, secret).
    pub async fn create_sa(&self, org: u64, name: &str, role: &str) -> (u64, String, String) {
        let a = self
            .post(
                &format!("/api/app/organizations/{org}/service-accounts"),
                json!({"username": name, "role": role}),
            )
            .await;
        assert_eq!(a.status, 201, "create {name}: {}", a.body);
        let r = &a.body["results"];
        (
            r["id"].as_u64().expect("id"),
            r["username"].as_str().expect("username").to_string(),
            r["token"].as_str().expect("token").to_string(),
        )
    }

    /// Creates a team; returns its id.
    pub async fn create_team(&self, org: u64, name: &str) -> u64 {
        let r = self
            .ok_post(
                &format!("/organizations/{org}/add-teams/"),
                json!({"teamNames": [name]}),
            )
            .await;
        assert_eq!(r[0]["created"], true, "{r}");
        let teams = self.ok_get(&format!("/organizations/{org}/teams/")).await;
        teams
            .as_array()
            .expect("teams")
            .iter()
            .find(|t| t["name"] == name)
            .and_then(|t| t["id"].as_u64())
            .expect("team listed")
    }
}

/// `PUT`/`DELETE`/`GET` on the admin API (no auth).
pub async fn admin(base: &str, method: Method, path: &str, body: Option<Value>) -> Answer {
    let api = Api::with(base, "", "");
    let mut req = api.client.request(method, format!("{base}{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("admin request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        headers,
    }
}
