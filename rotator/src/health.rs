//! Whether each credential in Vault works, as `status` reports it.
//!
//! A stored secret is checked against Mixpanel (a service account: `GET /api/app/me` with it;
//! a project secret: validated with the project's token). The answer is cached in the entry's
//! metadata under `auth_check` ([`AuthCheck`]: `ok <time> v<version> sa<id>` or
//! `rejected ...: <why>`), keyed by what was checked: it vouches only for the same version of
//! `creds/<name>` and the same service account, for `rotation.health_check_interval`, and
//! `status` drops it for an account Mixpanel no longer lists. What the cache cannot vouch for
//! is checked again, at most [`MAX_CHECKS_PER_RUN`] per run and within the rotator's Mixpanel
//! rate limit; what could not be checked is `unchecked` with the reason, never `ok`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use mixpanel_access::api::ApiError;
use mixpanel_access::inventory::{CredentialKind, InventoryEntry};
use mixpanel_access::model::ServiceAccountId;
use mixpanel_access::vault::{Credential, VaultStore};

use crate::api::Mixpanel;
use crate::error::Result;
use crate::inventory::{self, AuthCheck, AUTH_CHECK_KEY};

/// Fresh checks one `status` run makes at most (the others show `unchecked`).
pub const MAX_CHECKS_PER_RUN: usize = 100;

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

    /// Whether a person must look: a missing or refused secret, and a secret that could not
    /// be checked (an `unchecked` is not `ok`: nothing vouches that it works).
    pub fn needs_attention(&self) -> bool {
        matches!(
            self,
            Health::SecretMissing | Health::SecretRejected(_) | Health::Unchecked(_)
        )
    }

    /// Whether Mixpanel answered for this secret (now or in a check the cache vouches for).
    pub fn checked(&self) -> bool {
        matches!(self, Health::Ok(_) | Health::SecretRejected(_))
    }

    /// Whether there is a stored secret Mixpanel could be asked about.
    pub fn checkable(&self) -> bool {
        self.checked() || matches!(self, Health::Unchecked(_))
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
/// `accounts`, when given, is the set of service accounts Mixpanel lists now: a cached answer
/// for an account not in it is checked again.
pub async fn check(
    store: &VaultStore,
    api: Option<&Mixpanel>,
    entry: &InventoryEntry,
    cached: Option<&AuthCheck>,
    max_age: std::time::Duration,
    accounts: Option<&BTreeSet<ServiceAccountId>>,
    budget: &mut usize,
) -> Result<Health> {
    let Some((cred, info)) = store.read_credential(&entry.name).await? else {
        return Ok(Health::SecretMissing);
    };
    if entry.kind == CredentialKind::ProjectToken {
        return Ok(Health::NotApplicable);
    }
    let now = Utc::now();
    let account = match &cred {
        Credential::ServiceAccount { sa_id, .. } => Some(*sa_id),
        _ => None,
    };
    let listed = match (account, accounts) {
        (Some(id), Some(live)) => live.contains(&id),
        _ => true,
    };
    if let Some(c) = cached.filter(|c| listed && c.vouches(info.version, account, max_age, now)) {
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
            version: Some(info.version),
            account,
            detail: String::new(),
        },
        Answer::Refused(detail) => AuthCheck {
            ok: false,
            at: now,
            version: Some(info.version),
            account,
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

/// Drops the cached check of `name`'s stored secret: a 401 seen with that secret anywhere (a
/// rotation step, another command) means no earlier "ok" may vouch for it, so the next
/// `status` or reconcile pass checks it again. A failure to write is logged, not returned:
/// the 401 itself is what the caller reports.
pub async fn forget_check<S: crate::ports::RotationStore + ?Sized>(store: &S, name: &str) {
    match inventory::patch_extra(store, name, AUTH_CHECK_KEY, None).await {
        Ok(()) => {
            tracing::debug!(credential = %name, "a 401 with the stored secret: its cached check is dropped")
        }
        Err(e) => {
            tracing::warn!(credential = %name, error = %e, "a 401 with the stored secret, but its cached check could not be dropped")
        }
    }
}
