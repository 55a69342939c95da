//! Authentication of service accounts: HTTP Basic `username:secret` (base64 or plain text,
//! as Mixpanel accepts both), salted SHA-256 secret hashes, expiry, and `last_used`.
//!
//! Verified accounts are cached by username so a request costs one hash and no query; the
//! cache is dropped for an account when it is deleted and wholly on reset.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use mixpanel_access::model::{Expiry, OrgId, OrgRole, ProjectRole, ServiceAccountId, UserId};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::db::{self, Db};
use crate::error::ApiError;
use crate::AppState;

/// `last_used` is written at most this often per account.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

const BASIC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A new service-account secret: 32 random bytes, hex.
pub fn new_secret() -> SecretString {
    SecretString::from(random_hex(32))
}

pub fn new_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    salt
}

/// SHA-256 over salt and secret.
pub fn hash_secret(salt: &[u8], secret: &SecretString) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.expose_secret().as_bytes());
    h.finalize().into()
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The authenticated service account a request acts as.
#[derive(Debug, Clone)]
pub struct Actor {
    pub sa_id: ServiceAccountId,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub username: Arc<str>,
    /// The service account's role; it acts in the organization with `role.as_org_role()`.
    pub role: ProjectRole,
}

impl Actor {
    pub fn org_role(&self) -> OrgRole {
        self.role.as_org_role()
    }

    /// An account only touches its own organization.
    pub fn check_org(&self, org: u64) -> Result<OrgId, ApiError> {
        if org == self.org_id.0 {
            Ok(self.org_id)
        } else {
            Err(ApiError::forbidden(format!(
                "User does not have access to organization {org}: the service account {} belongs to organization {}",
                self.username, self.org_id
            )))
        }
    }
}

struct CachedAccount {
    actor: Actor,
    expires: Option<i64>,
    salt: Vec<u8>,
    hash: Vec<u8>,
    /// The `last_used` value last written (unix seconds).
    last_used: AtomicI64,
}

/// Verified accounts by username.
#[derive(Default)]
pub struct AuthCache {
    map: RwLock<HashMap<String, Arc<CachedAccount>>>,
}

impl AuthCache {
    fn get(&self, username: &str) -> Option<Arc<CachedAccount>> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(username)
            .cloned()
    }

    fn put(&self, username: String, acct: Arc<CachedAccount>) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(username, acct);
    }

    /// Forgets an account (deleted).
    pub fn forget(&self, username: &str) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(username);
    }

    /// Forgets every account (reset).
    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Checks a username and secret; returns the actor or a 401 that says what is wrong.
    pub fn authenticate(
        &self,
        db: &Db,
        username: &str,
        secret: &SecretString,
    ) -> Result<Actor, ApiError> {
        let acct = match self.get(username) {
            Some(a) => a,
            None => {
                let creds = db.read(|c| db::sa_credentials(c, username))?;
                let Some(creds) = creds else {
                    return Err(ApiError::unauthorized(format!(
                        "Invalid credentials: no service account named \"{}\"",
                        printable(username)
                    )));
                };
                let a = creds.account;
                let acct = Arc::new(CachedAccount {
                    actor: Actor {
                        sa_id: a.id,
                        user_id: a.user_id,
                        org_id: a.org_id,
                        username: Arc::from(a.username.as_str()),
                        role: a.role,
                    },
                    expires: a.expires,
                    salt: creds.salt,
                    hash: creds.hash,
                    last_used: AtomicI64::new(a.last_used.unwrap_or(0)),
                });
                self.put(username.to_string(), acct.clone());
                acct
            }
        };
        if !same_bytes(&hash_secret(&acct.salt, secret), &acct.hash) {
            return Err(ApiError::unauthorized(format!(
                "Invalid credentials: wrong secret for service account \"{username}\""
            )));
        }
        let now = db::to_secs(db::now());
        if let Some(exp) = acct.expires {
            if exp <= now {
                return Err(ApiError::unauthorized(format!(
                    "Invalid credentials: service account \"{username}\" expired at {}",
                    Expiry(db::from_secs(exp))
                )));
            }
        }
        let prev = acct.last_used.load(Ordering::Relaxed);
        if now - prev >= LAST_USED_GRANULARITY_SECS
            && acct
                .last_used
                .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let id = acct.actor.sa_id;
            let res = db.write(|tx| {
                tx.prepare_cached("UPDATE service_accounts SET last_used = ?1 WHERE id = ?2")?
                    .execute(rusqlite::params![now, id.0 as i64])?;
                Ok(())
            });
            if let Err(e) = res {
                tracing::warn!(error = %e, "could not record last_used");
            }
        }
        Ok(acct.actor.clone())
    }
}

/// A username as it may be echoed in a message: printable and bounded.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Splits `Authorization: Basic ...` into username and secret.
pub fn parse_basic(value: &HeaderValue) -> Result<(String, SecretString), ApiError> {
    let bad = |why: &str| {
        ApiError::unauthorized(format!(
            "Invalid credentials: {why}; use HTTP Basic auth with the service account's full username and its secret"
        ))
    };
    let s = value
        .to_str()
        .map_err(|_| bad("the Authorization header is not text"))?;
    let (scheme, rest) = s
        .split_once(' ')
        .ok_or_else(|| bad("the Authorization header is not Basic"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad("the Authorization header is not Basic"));
    }
    let rest = rest.trim();
    // Base64 has no ':'; a ':' means the plain-text form Mixpanel also accepts.
    let decoded = if rest.contains(':') {
        SecretString::from(rest.to_string())
    } else {
        let bytes = BASIC
            .decode(rest)
            .map_err(|_| bad("the Basic credentials are not valid base64"))?;
        SecretString::from(
            String::from_utf8(bytes).map_err(|_| bad("the Basic credentials are not UTF-8"))?,
        )
    };
    let (user, secret) = decoded
        .expose_secret()
        .split_once(':')
        .ok_or_else(|| bad("expected username:secret"))?;
    if user.is_empty() {
        return Err(bad("the username is empty"));
    }
    Ok((user.to_string(), SecretString::from(secret.to_string())))
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "Missing credentials: use HTTP Basic auth with the service account's full username (name.<hex>.mp-service-account) and its secret",
            )
        })?;
        let (user, secret) = parse_basic(header)?;
        state.auth.authenticate(&state.db, &user, &secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_accepts_base64_and_plain_text() {
        let b64 = BASIC.encode("a.abc123.mp-service-account:s3cret:with:colons");
        let (u, s) = parse_basic(&HeaderValue::from_str(&format!("Basic {b64}")).unwrap()).unwrap();
        assert_eq!(u, "a.abc123.mp-service-account");
        assert_eq!(s.expose_secret(), "s3cret:with:colons");
        let (u, s) = parse_basic(&HeaderValue::from_static(
            "basic a.abc123.mp-service-account:xyz",
        ))
        .unwrap();
        assert_eq!(u, "a.abc123.mp-service-account");
        assert_eq!(s.expose_secret(), "xyz");
        let unpadded = BASIC.encode("u:p1").trim_end_matches('=').to_string();
        assert!(parse_basic(&HeaderValue::from_str(&format!("Basic {unpadded}")).unwrap()).is_ok());
        for bad in ["Bearer abc", "Basic !!!", "Basic", "Basic dXNlcg=="] {
            let err = parse_basic(&HeaderValue::from_static(bad)).unwrap_err();
            assert_eq!(err.status.as_u16(), 401, "{bad}");
        }
    }

    #[test]
    fn hashes_depend_on_salt_and_secret() {
        let s = SecretString::from("abc".to_string());
        assert_ne!(hash_secret(b"1", &s), hash_secret(b"2", &s));
        assert!(same_bytes(&hash_secret(b"1", &s), &hash_secret(b"1", &s)));
        assert_eq!(new_secret().expose_secret().len(), 64);
    }
}
