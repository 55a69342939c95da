//! Creating a service account whose secret goes straight into Vault, never through the caller:
//! the one implementation behind `mixpanel-rotator inventory add --create` and the provider's
//! `mixpanel_rotated_credential`. The secret exists only in Mixpanel's create answer, so the
//! order matters: check that Vault will take it, create the account, store the secret, and if
//! the store fails delete the account again (verified by a listing), so that no account is left
//! whose secret nobody has.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;

use crate::api::{wire, ApiError, OrgClient};
use crate::inventory::{InventoryEntry, DEFAULT_ROTATION_PERIOD};
use crate::model::{
    Expiry, ProjectRole, ProjectRoleGrant, ServiceAccount, ServiceAccountUsername, TeamId,
};
use crate::vault::{Credential, VaultError, VaultStore};

/// Why a credential could not be provisioned. Messages never carry the secret.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// Bad input or a state that forbids the step; nothing was created.
    #[error("{0}")]
    Refused(String),
    /// The step failed after Mixpanel or Vault changed: the message says what is left.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The base of new usernames: the old account's name without Mixpanel's tag and without an
/// earlier rotation suffix, else the last segment of the credential name.
pub fn username_base(old: Option<&ServiceAccountUsername>, credential: &str) -> String {
    let raw = match old {
        Some(u) => u.base_name().to_string(),
        None => credential
            .rsplit('/')
            .next()
            .unwrap_or(credential)
            .to_string(),
    };
    let stripped = strip_rotation_suffix(&raw);
    let mut base: String = stripped
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    while base.ends_with(['.', '-']) {
        base.pop();
    }
    if base.is_empty() {
        "rotated".into()
    } else {
        base
    }
}

/// `x-20260101-ab12cd` → `x`.
pub fn strip_rotation_suffix(s: &str) -> &str {
    let b = s.as_bytes();
    let n = b.len();
    if n > 16
        && b[n - 7] == b'-'
        && b[n - 16] == b'-'
        && b[n - 15..n - 7].iter().all(u8::is_ascii_digit)
        && b[n - 6..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    {
        &s[..n - 16]
    } else {
        s
    }
}

/// The `expires` of a new account: twice the rotation period from `now`, whole seconds.
pub fn expiry_for(now: DateTime<Utc>, period: Option<Duration>) -> Expiry {
    let period = period.unwrap_or(DEFAULT_ROTATION_PERIOD);
    let span = TimeDelta::from_std(period.saturating_mul(2)).unwrap_or(TimeDelta::MAX);
    Expiry::from_datetime(now.checked_add_signed(span).unwrap_or(now))
}

/// What [`create_service_account_credential`] made.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub account: ServiceAccount,
    /// The entry as stored (with the account's id, username and dates).
    pub entry: InventoryEntry,
}

/// Creates a service account for `entry` (a `service_account` entry, not yet in the inventory),
/// as `entry.role` (default consumer), with each of `entry.projects` at its role from
/// [`InventoryEntry::grants`] and a seat in `teams`, stores its
/// secret in `creds/<name>` and the entry in its metadata, and verifies all of it: the stored
/// credential names the new account, the stored secret authenticates, the account holds every
/// grant and seat. A failure before the secret is stored deletes the account again.
pub async fn create_service_account_credential(
    api: &OrgClient,
    store: &VaultStore,
    mut entry: InventoryEntry,
    teams: &[TeamId],
    now: DateTime<Utc>,
) -> Result<Provisioned, ProvisionError> {
    entry
        .validate()
        .map_err(|e| ProvisionError::Refused(e.to_string()))?;
    if store.read_credential(&entry.name).await?.is_some() {
        return Err(ProvisionError::Refused(format!(
            "creds/{} already holds a credential: choose another name",
            entry.name
        )));
    }
    if let Some(Ok(_)) = store.read_inventory_entry(&entry.name).await? {
        return Err(ProvisionError::Refused(format!(
            "{} is already in the inventory: choose another name, or import it",
            entry.name
        )));
    }
    // The secret exists only in the create's answer: make sure it can be stored before the
    // account exists.
    let missing = store.missing_write_capabilities(&entry.name).await?;
    if !missing.is_empty() {
        return Err(ProvisionError::Refused(format!(
            "the Vault token cannot store the new secret (it lacks {}): no account was created; use a token with the rotator's policy",
            missing.join(", ")
        )));
    }
    let role = entry.role.unwrap_or(ProjectRole::Consumer);
    let request = wire::CreateServiceAccount {
        username: username_base(None, &entry.name),
        role,
        expires: Some(expiry_for(now, entry.rotation_period)),
        projects: entry
            .grants()
            .into_iter()
            .map(|(id, role)| ProjectRoleGrant { id, role })
            .collect(),
    };
    let created = api.create_service_account(&request).await?;
    let account = created.account.clone();
    let cred = Credential::ServiceAccount {
        username: account.username.clone(),
        secret: created.secret,
        sa_id: account.id,
    };
    let stored = async {
        let cas = store
            .read_metadata(&entry.name)
            .await?
            .map(|m| m.current_version)
            .unwrap_or(0);
        store.write_credential(&entry.name, &cred, cas).await
    }
    .await;
    if let Err(err) = stored {
        return Err(undo_create(api, &account, &err.to_string()).await);
    }
    entry.sa_id = Some(account.id);
    entry.username = Some(account.username.clone());
    entry.role = Some(role);
    entry.last_rotated = Some(now);
    entry.last_trigger = Some("created".into());
    entry.refresh(now);
    // From here on the secret is safe in Vault: a failure leaves a working, stored
    // credential, and the message says what is missing.
    store.save_inventory_entry(&entry).await.map_err(|e| {
        ProvisionError::Failed(format!(
            "service account {} (id {}) was created and its secret stored in creds/{}, but its inventory entry could not be saved ({e}); save it with `mixpanel-rotator inventory add {} --sa-id {}`",
            account.username, account.id, entry.name, entry.name, account.id
        ))
    })?;
    for team in teams {
        api.add_service_accounts_to_team(*team, &[account.id])
            .await
            .map_err(|e| {
                ProvisionError::Failed(format!(
                    "service account {} (id {}) is stored in creds/{}, but adding it to team {team} failed: {e}",
                    account.username, account.id, entry.name
                ))
            })?;
    }
    verify_stored(api, store, &entry.name, &account).await?;
    Ok(Provisioned { account, entry })
}

/// Reads `creds/<name>` back: it must name `account`, and its secret must authenticate.
pub async fn verify_stored(
    api: &OrgClient,
    store: &VaultStore,
    name: &str,
    account: &ServiceAccount,
) -> Result<(), ProvisionError> {
    let Some((cred, _)) = store.read_credential(name).await? else {
        return Err(ProvisionError::Failed(format!(
            "creds/{name} holds no credential after it was written"
        )));
    };
    let (username, secret) = match &cred {
        Credential::ServiceAccount {
            username,
            secret,
            sa_id,
        } if *sa_id == account.id => (username.clone(), secret.clone()),
        _ => {
            return Err(ProvisionError::Failed(format!(
                "creds/{name} does not hold service account {} after it was written",
                account.id
            )))
        }
    };
    authenticates(api, &username, secret)
        .await
        .map_err(|e| ProvisionError::Failed(format!("creds/{name}: {e}")))
}

/// Whether `username` with `secret` authenticates (`/api/app/me`).
pub async fn authenticates(
    api: &OrgClient,
    username: &ServiceAccountUsername,
    secret: SecretString,
) -> Result<(), String> {
    let client = api
        .client()
        .with_credentials(username.as_str(), secret)
        .map_err(|e| e.to_string())?;
    match client.me().await {
        Ok(_) => Ok(()),
        Err(ApiError::Unauthorized { .. }) => {
            Err(format!("Mixpanel refuses the stored secret of {username}"))
        }
        Err(e) => Err(format!(
            "the stored secret of {username} could not be checked: {e}"
        )),
    }
}

/// Deletes an account whose secret could not be stored, and says whether that worked.
async fn undo_create(api: &OrgClient, account: &ServiceAccount, cause: &str) -> ProvisionError {
    let deleted = match api.delete_service_account(account.id).await {
        Ok(()) => api
            .list_service_accounts()
            .await
            .map(|l| !l.iter().any(|a| a.id == account.id))
            .unwrap_or(false),
        Err(_) => false,
    };
    if deleted {
        ProvisionError::Refused(format!(
            "the new secret could not be stored in Vault ({cause}); the account {} (id {}) was deleted again, nothing is left behind",
            account.username, account.id
        ))
    } else {
        ProvisionError::Failed(format!(
            "the new secret could not be stored in Vault ({cause}) and the account {} (id {}) could not be deleted: delete it by hand (Organization Settings > Service Accounts), its secret is lost",
            account.username, account.id
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_twice_the_period_in_mixpanel_format() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:00:00.750Z")
            .unwrap()
            .with_timezone(&Utc);
        let e = expiry_for(at, Some(Duration::from_secs(86_400)));
        assert_eq!(e.to_string(), "2026-11-24T10:00:00Z");
        let e = expiry_for(at, None);
        assert_eq!(e.to_string(), "2027-05-21T10:00:00Z");
    }

    #[test]
    fn a_credential_name_without_a_usable_segment_gives_a_fixed_base() {
        assert_eq!(username_base(None, "..."), "rotated");
        assert_eq!(
            strip_rotation_suffix("etl-2026010-ab12cd"),
            "etl-2026010-ab12cd"
        );
    }
}
