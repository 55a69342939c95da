//! Whether each credential in Vault works, as `status` reports it.
//!
//! A stored secret is checked against Mixpanel (a service account: `GET /api/app/me` with it;
//! a project secret: validated with the project's token). The answer is cached in the entry's
//! metadata under `auth_check` (`ok <time>` or `rejected <time>: <why>`) and trusted for
//! `rotation.health_check_interval`, so a `status` over thousands of entries checks only the
//! stale ones, at most [`MAX_CHECKS_PER_RUN`] per run and within the rotator's Mixpanel rate
//! limit.

use chrono::{DateTime, TimeDelta, Utc};
use mixpanel_access::api::ApiError;
use mixpanel_access::inventory::{CredentialKind, InventoryEntry};
use mixpanel_access::vault::{Credential, VaultStore};

use crate::api::Mixpanel;
use crate::error::Result;
use crate::inventory;

/// The metadata key of the cached check.
pub const AUTH_CHECK_KEY: &str = "auth_check";
/// Fresh checks one `status` run makes at most (the others show their cached answer or
/// `unchecked`).
pub const MAX_CHECKS_PER_RUN: usize = 100;

/// A cached answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCheck {
    pub ok: bool,
    pub at: DateTime<Utc>,
    pub detail: String,
}

impl AuthCheck {
    pub fn to_value(&self) -> String {
        let mut v = format!(
            "{} {}",
            if self.ok { "ok" } else { "rejected" },
            inventory::stamp(self.at)
        );
        if !self.detail.is_empty() {
            v.push_str(": ");
            v.push_str(&self.detail);
        }
        v.chars().take(500).collect()
    }

    pub fn parse(v: &str) -> Option<AuthCheck> {
        let (head, detail) = match v.split_once(": ") {
            Some((h, d)) => (h, d.to_string()),
            None => (v, String::new()),
        };
        let (word, at) = head.split_once(' ')?;
        let at = DateTime::parse_from_rfc3339(at.trim())
            .ok()?
            .with_timezone(&Utc);
        let ok = match word {
            "ok" => true,
            "rejected" => false,
            _ => return None,
        };
        Some(AuthCheck { ok, at, detail })
    }
}

/// The health of one stored credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The stored secret works (checked at this time).
    Ok(DateTime<Utc>),
    /// `creds/<name>` holds nothing.
    SecretMissing,
    /// Mixpanel refuses the stored secret.
    SecretRejected(String),
    /// Not checked in this run (no Mixpanel configuration, the per-run bound, or a transient
    /// failure).
    Unchecked(String),
    /// Nothing to authenticate (a project token identifies, it does not authenticate).
    NotApplicable,
}

impl Health {
    pub fn label(&self) -> &'static str {
        match self {
            Health::Ok(_) => "ok",
            Health::SecretMissing => "secret_missing",
            Health::SecretRejected(_) => "secret_rejected",
            Health::Unchecked(_) => "unchecked",
            Health::NotApplicable => "-",
        }
    }

    pub fn needs_attention(&self) -> bool {
        matches!(self, Health::SecretMissing | Health::SecretRejected(_))
    }

    pub fn detail(&self) -> String {
        match self {
            Health::Ok(at) => format!("secret checked {}", inventory::stamp(*at)),
            Health::SecretMissing => {
                "creds/ holds no secret: consumers have nothing to read".into()
            }
            Health::SecretRejected(why) => format!("Mixpanel refuses the stored secret: {why}"),
            Health::Unchecked(why) => why.clone(),
            Health::NotApplicable => String::new(),
        }
    }
}

/// Checks one credential: the cache when fresh, else Mixpanel (when `api` is given and
/// `budget` allows one more check), and records a definite answer in the cache.
pub async fn check(
    store: &VaultStore,
    api: Option<&Mixpanel>,
    entry: &InventoryEntry,
    cached: Option<&AuthCheck>,
    max_age: std::time::Duration,
    budget: &mut usize,
) -> Result<Health> {
    let Some((cred, _)) = store.read_credential(&entry.name).await? else {
        return Ok(Health::SecretMissing);
    };
    if entry.kind == CredentialKind::ProjectToken {
        return Ok(Health::NotApplicable);
    }
    let now = Utc::now();
    let fresh = TimeDelta::from_std(max_age).unwrap_or(TimeDelta::MAX);
    if let Some(c) = cached.filter(|c| now - c.at < fresh && now >= c.at) {
        return Ok(if c.ok {
            Health::Ok(c.at)
        } else {
            Health::SecretRejected(format!("{} (checked {})", c.detail, inventory::stamp(c.at)))
        });
    }
    let Some(api) = api else {
        return Ok(Health::Unchecked(
            "not checked: no Mixpanel credentials configured".into(),
        ));
    };
    if *budget == 0 {
        return Ok(Health::Unchecked(format!(
            "not checked in this run (at most {MAX_CHECKS_PER_RUN} per run)"
        )));
    }
    *budget -= 1;
    enum Answer {
        Works,
        Refused(String),
        Unknown(String),
    }
    let answer = match &cred {
        Credential::ServiceAccount {
            username, secret, ..
        } => {
            let client = api.client_for(username.as_str(), secret.clone())?;
            match api.me_with(&client).await {
                Ok(_) => Answer::Works,
                Err(e @ ApiError::Unauthorized { .. }) => Answer::Refused(e.to_string()),
                Err(e) => Answer::Unknown(e.to_string()),
            }
        }
        Credential::ProjectSecret {
            secret,
            project_id,
            token,
        } => {
            // The secret is what authenticates: validate it with the project's current token
            // (the one stored beside it may predate a token reset).
            let current = match api.project_metadata(*project_id).await {
                Ok(m) => m.token.or_else(|| token.clone()),
                Err(e) => return Ok(Health::Unchecked(format!("not checked: {e}"))),
            };
            let Some(current) = current else {
                return Ok(Health::Unchecked(
                    "not checked: no project token to validate the secret with".into(),
                ));
            };
            match api.validate_project_credentials(&current, secret).await {
                Ok(true) => Answer::Works,
                Ok(false) => {
                    Answer::Refused("the secret does not validate with the project's token".into())
                }
                Err(e) => Answer::Unknown(e.to_string()),
            }
        }
        Credential::ProjectToken { .. } => return Ok(Health::NotApplicable),
    };
    let result = match answer {
        Answer::Works => AuthCheck {
            ok: true,
            at: now,
            detail: String::new(),
        },
        Answer::Refused(detail) => AuthCheck {
            ok: false,
            at: now,
            detail,
        },
        Answer::Unknown(why) => return Ok(Health::Unchecked(format!("not checked: {why}"))),
    };
    // The cache is an optimisation: a token that cannot write it still gets the answer.
    if let Err(e) =
        inventory::patch_extra(store, &entry.name, AUTH_CHECK_KEY, Some(result.to_value())).await
    {
        tracing::debug!(credential = %entry.name, error = %e, "could not cache the secret check");
    }
    Ok(if result.ok {
        Health::Ok(now)
    } else {
        Health::SecretRejected(result.detail)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_checks_round_trip() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for c in [
            AuthCheck {
                ok: true,
                at,
                detail: String::new(),
            },
            AuthCheck {
                ok: false,
                at,
                detail: "HTTP 401: bad: credentials".into(),
            },
        ] {
            assert_eq!(AuthCheck::parse(&c.to_value()), Some(c));
        }
        assert_eq!(AuthCheck::parse("maybe 2026-11-30T10:00:00Z"), None);
        assert_eq!(AuthCheck::parse("ok yesterday"), None);
    }
}
