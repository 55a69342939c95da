//! The emulator's own routes under `/_emulator/` (no authentication: a loopback tool). See the
//! crate documentation for the list.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Router;
use chrono::{DateTime, Utc};
use mixpanel_access::api::wire::ROUTES;
use mixpanel_access::model::{
    serialize_secret, Email, MemberStatus, OrgId, OrgRole, ProjectId, ProjectRole,
    ServiceAccountId, ServiceAccountUsername,
};
use rusqlite::params;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, kind};
use crate::auth;
use crate::db;
use crate::error::{ok, ok_empty, ok_with, ApiError, ApiResult};
use crate::extract::{decode_body, JsonBody, Params};
use crate::faults::FaultConfig;
use crate::AppState;

/// The actor recorded in the audit log for changes made through the admin API.
pub const ADMIN_ACTOR: &str = "_emulator";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/bootstrap", post(bootstrap))
        .route(
            "/faults",
            put(set_faults).get(get_faults).delete(clear_faults),
        )
        .route("/counters", get(counters).delete(reset_counters))
        .route("/reset", post(reset))
        .route("/users/{email}/activate", post(activate))
        .route(
            "/organizations/{org}/users/{email}/login",
            post(record_login),
        )
        .route(
            "/organizations/{org}/service-accounts/{sa}/facts",
            post(set_service_account_facts),
        )
        .route("/organizations/{org}/audit-events", post(record_event))
        .route("/settings", post(settings))
        .route("/routes", get(routes))
        .route("/openapi.json", get(openapi))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BootstrapRequest {
    #[serde(default)]
    organization_name: Option<String>,
    #[serde(default)]
    owner_email: Option<Email>,
    #[serde(default)]
    service_account_name: Option<String>,
    #[serde(default)]
    service_account_role: Option<ProjectRole>,
}

#[derive(Serialize)]
struct BootstrapAccount {
    id: ServiceAccountId,
    username: ServiceAccountUsername,
    #[serde(serialize_with = "serialize_secret")]
    secret: SecretString,
}

#[derive(Serialize)]
struct Bootstrapped {
    organization_id: OrgId,
    owner_email: Email,
    service_account: BootstrapAccount,
}

async fn bootstrap(State(st): State<AppState>, body: Bytes) -> ApiResult {
    let req: BootstrapRequest = if body.iter().all(|b| b.is_ascii_whitespace()) {
        BootstrapRequest::default()
    } else {
        decode_body(&body)?
    };
    let org_name = req
        .organization_name
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| "Acme".into());
    if org_name.is_empty() {
        return Err(ApiError::bad_request(
            "organization_name: must not be empty",
        ));
    }
    let owner_email = match req.owner_email {
        Some(e) => e,
        None => "owner@acme.example"
            .parse()
            .map_err(|e| ApiError::internal(format!("default owner email: {e}")))?,
    };
    let sa_name = req
        .service_account_name
        .unwrap_or_else(|| "bootstrap".into());
    ServiceAccountUsername::validate_name(&sa_name)
        .map_err(|e| ApiError::bad_request(format!("service_account_name: {e}")))?;
    // Seeded directly, not through the API's rules: the only way to an owner account.
    let role = req.service_account_role.unwrap_or(ProjectRole::Owner);
    let secret = auth::new_secret();
    let salt = auth::new_salt();
    let hash = auth::hash_secret(&salt, &secret);
    let (org, sa) = st.db.write(|tx| {
        let org = OrgId(db::next_id(tx, db::seq::ORGANIZATION)?);
        let now = db::to_secs(db::now());
        tx.prepare_cached("INSERT INTO organizations (id, name, created) VALUES (?1, ?2, ?3)")?
            .execute(params![org.0 as i64, org_name, now])?;
        db::insert_member(
            tx,
            org,
            &owner_email,
            OrgRole::Owner,
            MemberStatus::Active,
            Some(now),
        )?;
        audit::record(
            tx,
            org,
            ADMIN_ACTOR,
            kind::ORG_USER_ADDED,
            None,
            json!({"email": owner_email, "role": OrgRole::Owner, "source": "admin"}),
        )?;
        let mut username = None;
        for _ in 0..16 {
            let u = ServiceAccountUsername::compose(&sa_name, &auth::random_hex(3))
                .map_err(|e| ApiError::bad_request(format!("service_account_name: {e}")))?;
            if !db::username_taken(tx, u.as_str())? {
                username = Some(u);
                break;
            }
        }
        let username =
            username.ok_or_else(|| ApiError::conflict("could not find a free username"))?;
        let sa = db::insert_sa(
            tx,
            db::NewSa {
                org_id: org,
                username: &username,
                role,
                expires: None,
                creator: None,
                salt: &salt,
                hash: &hash,
            },
        )?;
        audit::record(
            tx,
            org,
            ADMIN_ACTOR,
            kind::SA_CREATED,
            None,
            json!({"service_account_id": sa.id, "username": sa.username, "role": role, "expires": null}),
        )?;
        Ok((org, sa))
    })?;
    tracing::info!(organization = %org, username = %sa.username, role = %role, "bootstrapped an organization");
    Ok(ok_with(
        StatusCode::CREATED,
        &Bootstrapped {
            organization_id: org,
            owner_email,
            service_account: BootstrapAccount {
                id: sa.id,
                username: sa.username,
                secret,
            },
        },
    ))
}

async fn set_faults(State(st): State<AppState>, JsonBody(cfg): JsonBody<FaultConfig>) -> ApiResult {
    cfg.validate()?;
    tracing::info!(?cfg, "fault injection set");
    st.faults.set(cfg.clone());
    Ok(ok(&cfg))
}

async fn get_faults(State(st): State<AppState>) -> ApiResult {
    Ok(ok(&st.faults.get()))
}

async fn clear_faults(State(st): State<AppState>) -> ApiResult {
    st.faults.clear();
    tracing::info!("fault injection cleared");
    Ok(ok_empty())
}

async fn counters(State(st): State<AppState>) -> ApiResult {
    Ok(ok(&st.counters.snapshot()))
}

async fn reset_counters(State(st): State<AppState>) -> ApiResult {
    st.counters.reset();
    Ok(ok_empty())
}

async fn reset(State(st): State<AppState>) -> ApiResult {
    st.db.wipe()?;
    st.auth.clear();
    tracing::info!("all data wiped");
    Ok(ok_empty())
}

/// The optional body of `activate`: when the invitation was accepted (its login), now when
/// left out; a member made long ago and dormant since is activated in the past.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateRequest {
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

async fn activate(
    State(st): State<AppState>,
    Params(email): Params<String>,
    body: Bytes,
) -> ApiResult {
    let email: Email = email
        .parse()
        .map_err(|e| ApiError::bad_request(format!("email: {e}")))?;
    let req: ActivateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ActivateRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "body: {e}; send {{\"at\": \"<RFC 3339>\"}} or nothing"
            ))
        })?
    };
    let at = req.at.unwrap_or_else(db::now);
    let n = st.db.write(|tx| {
        let n = tx
            .prepare_cached(
                "UPDATE members SET status = 'active', last_login = ?1 WHERE email_key = ?2",
            )?
            .execute(params![db::to_secs(at), db::email_key(&email)])?;
        Ok(n)
    })?;
    if n == 0 {
        return Err(ApiError::not_found(format!(
            "{email} is not a member of any organization"
        )));
    }
    Ok(ok(&json!({"activated": n})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    /// When the login happened (RFC 3339); now when left out.
    #[serde(default)]
    at: Option<DateTime<Utc>>,
    /// password, sso, magic_link or social.
    #[serde(default)]
    login_method: Option<String>,
    /// totp or sms when the login passed a second factor.
    #[serde(default)]
    twofactor_method: Option<String>,
    /// Also record that the member enrolled in two-factor authentication (at the same time,
    /// with `twofactor_method` or totp), unless already enrolled.
    #[serde(default)]
    twofactor_enabled: bool,
}

const LOGIN_METHODS: &[&str] = &["password", "sso", "magic_link", "social"];
const TWOFACTOR_METHODS: &[&str] = &["totp", "sms"];

/// Records a member's login at a given time, as Mixpanel's audit log would (`session.logged_in`
/// with `login_method` and `twofactor_method`), and optionally their two-factor enrollment
/// (`user.twofactor_enabled`). Tests and the demo make dormant and active people with it.
async fn record_login(
    State(st): State<AppState>,
    Params((org, email)): Params<(u64, String)>,
    body: Bytes,
) -> ApiResult {
    let org = OrgId(org);
    let email: Email = email
        .parse()
        .map_err(|e| ApiError::bad_request(format!("email: {e}")))?;
    let req: LoginRequest = if body.iter().all(|b| b.is_ascii_whitespace()) {
        decode_body(b"{}")?
    } else {
        decode_body(&body)?
    };
    let method = req.login_method.unwrap_or_else(|| "password".into());
    if !LOGIN_METHODS.contains(&method.as_str()) {
        return Err(ApiError::bad_request(format!(
            "login_method: {method:?} is not one of {}",
            LOGIN_METHODS.join(", ")
        )));
    }
    if let Some(m) = &req.twofactor_method {
        if !TWOFACTOR_METHODS.contains(&m.as_str()) {
            return Err(ApiError::bad_request(format!(
                "twofactor_method: {m:?} is not one of {}",
                TWOFACTOR_METHODS.join(", ")
            )));
        }
    }
    let at = req.at.unwrap_or_else(db::now);
    if at > db::now() + chrono::Duration::minutes(5) {
        return Err(ApiError::bad_request("at: a login cannot be in the future"));
    }
    let enrolled = st.db.write(|tx| {
        let m = db::get_member(tx, org, &email)?.ok_or_else(|| {
            ApiError::not_found(format!("{email} is not a member of organization {org}"))
        })?;
        if m.status != MemberStatus::Active {
            return Err(ApiError::conflict(format!(
                "{email} has not accepted the invitation yet: activate them first (POST /_emulator/users/{{email}}/activate)"
            )));
        }
        let enroll = (req.twofactor_enabled || req.twofactor_method.is_some()) && !m.two_factor;
        if enroll {
            let method = req.twofactor_method.clone().unwrap_or_else(|| "totp".into());
            audit::record_at(
                tx,
                org,
                m.email.as_str(),
                kind::USER_TWOFACTOR_ENABLED,
                None,
                json!({"email": m.email, "method": method}),
                at,
            )?;
        }
        audit::record_at(
            tx,
            org,
            m.email.as_str(),
            kind::SESSION_LOGGED_IN,
            None,
            json!({"login_method": method, "twofactor_method": req.twofactor_method}),
            at,
        )?;
        tx.prepare_cached(
            "UPDATE members SET last_login = max(coalesce(last_login, 0), ?1), two_factor = two_factor OR ?2 WHERE id = ?3",
        )?
        .execute(params![db::to_secs(at), enroll, m.id.0 as i64])?;
        Ok(enroll)
    })?;
    Ok(ok(
        &json!({"email": email, "at": at, "twofactor_enrolled": enrolled}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceAccountFacts {
    /// The member recorded as the account's creator (as if they had made it in the web app).
    #[serde(default)]
    creator_email: Option<Email>,
    #[serde(default)]
    created: Option<DateTime<Utc>>,
    #[serde(default)]
    last_used: Option<DateTime<Utc>>,
}

/// Sets facts about a service account that only time or the web app produce: who created it,
/// when, and when it was last used.
async fn set_service_account_facts(
    State(st): State<AppState>,
    Params((org, sa)): Params<(u64, u64)>,
    JsonBody(req): JsonBody<ServiceAccountFacts>,
) -> ApiResult {
    let org = OrgId(org);
    let sa = ServiceAccountId(sa);
    st.db.write(|tx| {
        let row = db::get_sa(tx, sa)?
            .filter(|r| r.org_id == org)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "Service account {sa} not found in organization {org}"
                ))
            })?;
        if let Some(email) = &req.creator_email {
            let m = db::get_member(tx, org, email)?.ok_or_else(|| {
                ApiError::not_found(format!("{email} is not a member of organization {org}"))
            })?;
            tx.prepare_cached("UPDATE service_accounts SET creator = ?1 WHERE id = ?2")?
                .execute(params![m.id.0 as i64, row.id.0 as i64])?;
        }
        if let Some(t) = req.created {
            tx.prepare_cached("UPDATE service_accounts SET created = ?1 WHERE id = ?2")?
                .execute(params![db::to_secs(t), row.id.0 as i64])?;
        }
        if let Some(t) = req.last_used {
            tx.prepare_cached("UPDATE service_accounts SET last_used = ?1 WHERE id = ?2")?
                .execute(params![db::to_secs(t), row.id.0 as i64])?;
        }
        Ok(())
    })?;
    // The authentication cache keeps its own last_used: drop it so the new value stands.
    st.auth.clear();
    Ok(ok_empty())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordEvent {
    #[serde(rename = "type")]
    kind: String,
    actor: String,
    #[serde(default)]
    created: Option<DateTime<Utc>>,
    #[serde(default)]
    project_id: Option<ProjectId>,
    #[serde(default)]
    payload: serde_json::Value,
}

/// Records any audit event at any time (an invitation sent 40 days ago, say).
async fn record_event(
    State(st): State<AppState>,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<RecordEvent>,
) -> ApiResult {
    let org = OrgId(org);
    if !req.kind.contains('.') {
        return Err(ApiError::bad_request(
            "type: an event type is entity.action, such as invitation.sent",
        ));
    }
    st.db.write(|tx| {
        audit::record_at(
            tx,
            org,
            &req.actor,
            &req.kind,
            req.project_id,
            req.payload.clone(),
            req.created.unwrap_or_else(db::now),
        )
    })?;
    Ok(ok_with(StatusCode::CREATED, &json!({"recorded": true})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Audit-log entries per page (Mixpanel's filter takes no page size).
    #[serde(default)]
    audit_page_size: Option<usize>,
}

/// The emulator's own settings.
async fn settings(State(st): State<AppState>, JsonBody(req): JsonBody<Settings>) -> ApiResult {
    if let Some(n) = req.audit_page_size {
        if n == 0 || n > 10_000 {
            return Err(ApiError::bad_request(
                "audit_page_size: between 1 and 10000 entries",
            ));
        }
        st.audit_page_size
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(ok(&json!({ "audit_page_size": st.audit_page_size() })))
}

async fn routes() -> ApiResult {
    Ok(ok(ROUTES))
}

/// The OpenAPI document of the API routes (not wrapped in the envelope: tools read it as is).
async fn openapi() -> ApiResult {
    let doc = crate::openapi::document()
        .map_err(|e| ApiError::internal(format!("the OpenAPI document is incomplete: {e}")))?;
    Ok(crate::error::json_response(StatusCode::OK, &doc))
}
