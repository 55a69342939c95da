//! The rotator's store on Vault/OpenBao KV v2.
//!
//! Layout under `<mount>/<prefix>/` (default `secret/mixpanel-rotator/`):
//!
//! - `creds/<name>`: the current credential (latest version; older versions are its history).
//!   Its `custom_metadata` holds the inventory entry ([`crate::inventory`]). Consumers read it.
//! - `state/<name>`: the rotation journal ([`Journal`]). Only the rotator reads it.
//! - `locks/leader`: the leader lease ([`Lease`]).
//! - `locks/requests`: the request doorbell: a process that leaves a rotation request for the
//!   leader writes a new version here, and the leader polls its version (one metadata read)
//!   to pick requests up within seconds instead of at its next reconcile pass.
//!
//! Every data write is check-and-set. `cas_required` and `max_versions` are set on a key's
//! metadata when it is first written.
//!
//! A policy for the rotator (mount `secret`, prefix `mixpanel-rotator`):
//!
//! ```hcl
//! path "secret/data/mixpanel-rotator/*"              { capabilities = ["create", "read", "update", "delete"] }
//! path "secret/metadata/mixpanel-rotator/*"          { capabilities = ["create", "read", "update", "patch", "list"] }
//! path "secret/detailed-metadata/mixpanel-rotator/*" { capabilities = ["list"] }  # OpenBao
//! ```
//!
//! `vaultrs` logs every error answer (including the expected 404s and check-and-set conflicts)
//! at ERROR level under the `vaultrs` target; binaries should filter it (`vaultrs=off`): this
//! module returns those conditions as typed values instead.

mod config;
mod credential;
mod error;
mod journal;
mod lease;
mod store;

use std::collections::BTreeMap;

pub use config::{
    TlsConfig, VaultAuth, VaultConfig, DEFAULT_KUBERNETES_JWT_PATH, DEFAULT_MOUNT, DEFAULT_PREFIX,
    DEFAULT_TIMEOUT,
};
pub use credential::Credential;
pub use error::VaultError;
pub use journal::{FencingToken, Journal, Phase, Trigger};
pub use lease::{Lease, LeaseGuard, LeaseRecord, LeaseStatus, LEADER_LOCK, LEASE_MAX_VERSIONS};
pub use store::{
    KvMetadata, ServerHealth, TokenRenewal, VaultStore, VersionInfo, DEFAULT_MAX_VERSIONS,
};

use crate::cause::Cause;
use crate::inventory::{InventoryEntry, InventoryError};

/// The request doorbell's name under `locks/`.
pub const REQUEST_DOORBELL: &str = "requests";
/// How many versions of the doorbell Vault keeps (only its version number matters).
const DOORBELL_MAX_VERSIONS: u64 = 3;
use store::Area;

impl VaultStore {
    // ---- credentials ----

    /// The latest version of `creds/<name>`; `None` if it has none (or it is deleted).
    pub async fn read_credential(
        &self,
        name: &str,
    ) -> Result<Option<(Credential, VersionInfo)>, VaultError> {
        self.read_credential_at(name, None).await
    }

    /// One version of `creds/<name>` (its history).
    pub async fn read_credential_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<(Credential, VersionInfo)>, VaultError> {
        self.read_credential_at(name, Some(version)).await
    }

    async fn read_credential_at(
        &self,
        name: &str,
        version: Option<u64>,
    ) -> Result<Option<(Credential, VersionInfo)>, VaultError> {
        let path = self.kv_path(Area::Creds, name)?;
        let Some((data, info)) = self.kv_read(&path, version).await? else {
            return Ok(None);
        };
        let cred = Credential::from_data(&data).map_err(|reason| {
            VaultError::decode(
                "GET",
                self.data_policy_path(&path),
                format!("not a credential: {reason}"),
            )
        })?;
        Ok(Some((cred, info)))
    }

    /// Writes a new version of `creds/<name>` with check-and-set: `cas = 0` creates it (and
    /// first sets `cas_required` and `max_versions` on its metadata), `cas = n` replaces
    /// version `n`. Returns the new version. [`VaultError::CasMismatch`] if another writer got
    /// there first.
    pub async fn write_credential(
        &self,
        name: &str,
        credential: &Credential,
        cas: u64,
    ) -> Result<u64, VaultError> {
        let path = self.kv_path(Area::Creds, name)?;
        if cas == 0 {
            self.kv_configure(&path, true, DEFAULT_MAX_VERSIONS, None)
                .await?;
        }
        let info = self.kv_write(&path, &credential.to_data(), cas).await?;
        Ok(info.version)
    }

    /// The metadata of `creds/<name>` (versions and `custom_metadata`).
    pub async fn read_metadata(&self, name: &str) -> Result<Option<KvMetadata>, VaultError> {
        let path = self.kv_path(Area::Creds, name)?;
        self.kv_metadata(&path).await
    }

    /// Merges `fields` into the `custom_metadata` of `creds/<name>` (merge-PATCH): other keys
    /// are kept, `None` removes a key. Values must be 1 to 512 characters.
    /// [`VaultError::NotFound`] if the key has no metadata yet.
    pub async fn patch_metadata(
        &self,
        name: &str,
        fields: &BTreeMap<String, Option<String>>,
    ) -> Result<(), VaultError> {
        let path = self.kv_path(Area::Creds, name)?;
        self.kv_patch_custom_metadata(&path, fields, None).await
    }

    /// Like [`patch_metadata`](Self::patch_metadata) with OpenBao's metadata check-and-set:
    /// applies only if the metadata is still at `metadata_cas`
    /// ([`KvMetadata::current_metadata_version`]).
    pub async fn patch_metadata_cas(
        &self,
        name: &str,
        fields: &BTreeMap<String, Option<String>>,
        metadata_cas: u64,
    ) -> Result<(), VaultError> {
        let path = self.kv_path(Area::Creds, name)?;
        self.kv_patch_custom_metadata(&path, fields, Some(metadata_cas))
            .await
    }

    /// Every credential under `creds/` (names relative to it, recursively) with its metadata:
    /// one `LIST detailed-metadata` per folder on OpenBao, `LIST` + `GET metadata` per key
    /// elsewhere.
    pub async fn list_credentials(&self) -> Result<Vec<(String, KvMetadata)>, VaultError> {
        self.kv_list_with_metadata(&self.folder(Area::Creds)).await
    }

    /// [`list_credentials`](Self::list_credentials) one credential at a time, in no particular
    /// order: `visit` gets each as soon as its folder is read, so a caller keeping only part of
    /// the metadata never holds all of it.
    pub async fn visit_credentials(
        &self,
        visit: &mut (dyn FnMut(String, KvMetadata) + Send),
    ) -> Result<(), VaultError> {
        self.kv_visit_with_metadata(&self.folder(Area::Creds), visit)
            .await
    }

    /// [`list_credentials`](Self::list_credentials) the HashiCorp Vault way (`LIST` + one
    /// `GET metadata` per key), whatever the server supports.
    pub async fn list_credentials_plain(&self) -> Result<Vec<(String, KvMetadata)>, VaultError> {
        self.kv_list_plain(&self.folder(Area::Creds)).await
    }

    /// Destroys `creds/<name>` (every version and its metadata, so the inventory entry too)
    /// and its journal `state/<name>`, then reads both back: `Ok` only when both are gone.
    pub async fn delete_credential(&self, name: &str) -> Result<(), VaultError> {
        let creds = self.kv_path(Area::Creds, name)?;
        let state = self.kv_path(Area::State, name)?;
        self.kv_delete_all(&creds).await?;
        self.kv_delete_all(&state).await?;
        for path in [creds, state] {
            if self.kv_metadata(&path).await?.is_some() {
                return Err(VaultError::InvalidInput {
                    path: self.metadata_policy_path(&path),
                    reason: "still present after it was deleted".into(),
                });
            }
        }
        Ok(())
    }

    /// Where consumers read `creds/<name>`: `<mount>/<prefix>/creds/<name>` (as `bao kv get`
    /// and Terraform's `vault_kv_secret_v2` name it).
    pub fn credential_location(&self, name: &str) -> Result<String, VaultError> {
        Ok(format!(
            "{}/{}",
            self.config().mount,
            self.kv_path(Area::Creds, name)?
        ))
    }

    // ---- inventory ----

    /// The inventory entry kept in the metadata of `creds/<name>`. `Ok(Some(Err(_)))`: the
    /// metadata exists but is not a valid entry.
    pub async fn read_inventory_entry(
        &self,
        name: &str,
    ) -> Result<Option<Result<InventoryEntry, InventoryError>>, VaultError> {
        Ok(self
            .read_metadata(name)
            .await?
            .map(|m| InventoryEntry::from_custom_metadata(name, &m.custom_metadata)))
    }

    /// Stores an inventory entry in the metadata of `creds/<entry.name>`: merges it into
    /// existing metadata (keeping keys it does not own), or creates the metadata (with
    /// `cas_required` and `max_versions`) for a credential not stored yet.
    pub async fn save_inventory_entry(&self, entry: &InventoryEntry) -> Result<(), VaultError> {
        let path = self.kv_path(Area::Creds, &entry.name)?;
        let map = entry
            .to_custom_metadata()
            .map_err(|e| VaultError::InvalidInput {
                path: self.metadata_policy_path(&path),
                reason: e.to_string(),
            })?;
        let fields: BTreeMap<String, Option<String>> = map
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        match self.kv_patch_custom_metadata(&path, &fields, None).await {
            Err(VaultError::NotFound { .. }) => {
                self.kv_create_metadata(&path, &map, DEFAULT_MAX_VERSIONS)
                    .await
            }
            other => other,
        }
    }

    /// Every inventory entry (one per credential under `creds/`), each with its own result.
    pub async fn list_inventory(
        &self,
    ) -> Result<Vec<(String, Result<InventoryEntry, InventoryError>)>, VaultError> {
        let mut out = Vec::new();
        self.visit_credentials(&mut |name, m| {
            let entry = InventoryEntry::from_custom_metadata(&name, &m.custom_metadata);
            out.push((name, entry));
        })
        .await?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    // ---- journal ----

    /// The latest journal of `<name>` and its version.
    pub async fn read_journal(&self, name: &str) -> Result<Option<(Journal, u64)>, VaultError> {
        self.read_state_document(name).await
    }

    /// Writes the journal of `<name>` with check-and-set (`cas = 0` for the first journal of a
    /// credential, else the version read) under the leader's fencing token. Refuses with
    /// [`VaultError::LostLeadership`] unless the live lease carries `fencing`, and with
    /// [`VaultError::CasMismatch`] if the journal changed since version `cas`. Returns the new
    /// version.
    pub async fn write_journal(
        &self,
        name: &str,
        journal: &Journal,
        cas: u64,
        fencing: FencingToken,
    ) -> Result<u64, VaultError> {
        let mut journal = journal.clone();
        journal.fencing_token = fencing;
        self.write_state_document(name, &journal, cas, fencing)
            .await
    }

    /// The latest version of a document the rotator keeps under `state/<name>` (a journal, or
    /// other rotator-private state such as a membership snapshot), and its version.
    pub async fn read_state_document<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<(T, u64)>, VaultError> {
        let path = self.kv_path(Area::State, name)?;
        let Some((data, info)) = self.kv_read(&path, None).await? else {
            return Ok(None);
        };
        let doc = serde_json::from_value(data).map_err(|e| {
            VaultError::decode(
                "GET",
                self.data_policy_path(&path),
                format!("not a {}: {e}", std::any::type_name::<T>()),
            )
            .with_source(Cause::new(e))
        })?;
        Ok(Some((doc, info.version)))
    }

    /// Writes a document under `state/<name>` with check-and-set, under the leader's fencing
    /// token, exactly as [`VaultStore::write_journal`] does. Returns the new version.
    pub async fn write_state_document<T: serde::Serialize>(
        &self,
        name: &str,
        doc: &T,
        cas: u64,
        fencing: FencingToken,
    ) -> Result<u64, VaultError> {
        let path = self.kv_path(Area::State, name)?;
        lease::verify_token(self, fencing).await?;
        let data = serde_json::to_value(doc).map_err(|e| VaultError::InvalidInput {
            path: self.data_policy_path(&path),
            reason: e.to_string(),
        })?;
        if cas == 0 {
            self.kv_configure(&path, true, DEFAULT_MAX_VERSIONS, None)
                .await?;
        }
        Ok(self.kv_write(&path, &data, cas).await?.version)
    }

    /// Writes a document under `state/<name>` with check-and-set only (no fencing token): for
    /// records that are not the leader's work, such as an offboarding's journal, which one
    /// command writes while a daemon may lead. `cas` 0 creates it (and fails if it exists).
    pub async fn write_unfenced_state_document<T: serde::Serialize>(
        &self,
        name: &str,
        doc: &T,
        cas: u64,
    ) -> Result<u64, VaultError> {
        let path = self.kv_path(Area::State, name)?;
        let data = serde_json::to_value(doc).map_err(|e| VaultError::InvalidInput {
            path: self.data_policy_path(&path),
            reason: e.to_string(),
        })?;
        if cas == 0 {
            self.kv_configure(&path, true, DEFAULT_MAX_VERSIONS, None)
                .await?;
        }
        Ok(self.kv_write(&path, &data, cas).await?.version)
    }

    /// What this token lacks to store a new credential under `creds/<name>` (create on its
    /// data path, create/update on its metadata path); empty when it can. Asked before an
    /// account is created, so a token that cannot write never leaves an account whose secret
    /// nobody has.
    pub async fn missing_write_capabilities(&self, name: &str) -> Result<Vec<String>, VaultError> {
        let path = self.kv_path(Area::Creds, name)?;
        let data = self.data_policy_path(&path);
        let meta = self.metadata_policy_path(&path);
        let caps = self
            .capabilities_self(&[data.clone(), meta.clone()])
            .await?;
        let has = |p: &str, c: &str| {
            caps.get(p).is_some_and(|l| {
                l.iter().any(|x| x == c || x == "root") && !l.iter().any(|x| x == "deny")
            })
        };
        let mut missing = Vec::new();
        if !has(&data, "create") && !has(&data, "update") {
            missing.push(format!("create on {data}"));
        }
        if !has(&meta, "create") && !has(&meta, "update") {
            missing.push(format!("update on {meta}"));
        }
        Ok(missing)
    }

    // ---- request doorbell ----

    /// The doorbell's current version (0 if never rung). The leader polls it: a new version
    /// means a request was left in some entry's metadata.
    pub async fn doorbell_version(&self) -> Result<u64, VaultError> {
        let path = self.kv_path(Area::Locks, REQUEST_DOORBELL)?;
        Ok(self
            .kv_metadata(&path)
            .await?
            .map(|m| m.current_version)
            .unwrap_or(0))
    }

    /// Rings the doorbell: writes a new version naming the credential (check-and-set, retried
    /// when another process rang at the same time). Returns the new version.
    pub async fn ring_doorbell(&self, name: &str) -> Result<u64, VaultError> {
        let path = self.kv_path(Area::Locks, REQUEST_DOORBELL)?;
        let data = serde_json::json!({ "name": name, "at": chrono::Utc::now().to_rfc3339() });
        let mut last = None;
        for _ in 0..10 {
            let meta = self.kv_metadata(&path).await?;
            let cas = meta.as_ref().map(|m| m.current_version).unwrap_or(0);
            if meta.is_none() {
                self.kv_configure(&path, true, DOORBELL_MAX_VERSIONS, None)
                    .await?;
            }
            match self.kv_write(&path, &data, cas).await {
                Ok(info) => return Ok(info.version),
                Err(e @ VaultError::CasMismatch { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(VaultError::InvalidInput {
            path: self.data_policy_path(&path),
            reason: "the doorbell could not be written".into(),
        }))
    }

    /// Every stored version of the journal of `<name>`, oldest first (Vault keeps the last
    /// [`DEFAULT_MAX_VERSIONS`]); versions that are deleted or not a journal are skipped.
    pub async fn journal_history(&self, name: &str) -> Result<Vec<(u64, Journal)>, VaultError> {
        let path = self.kv_path(Area::State, name)?;
        let Some(meta) = self.kv_metadata(&path).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (v, info) in &meta.versions {
            if info.destroyed || info.deletion_time.is_some() {
                continue;
            }
            if let Some((data, _)) = self.kv_read(&path, Some(*v)).await? {
                if let Ok(j) = serde_json::from_value::<Journal>(data) {
                    out.push((*v, j));
                }
            }
        }
        Ok(out)
    }

    /// The names of every credential that has a journal (to reconcile open journals at start).
    pub async fn list_journals(&self) -> Result<Vec<String>, VaultError> {
        self.kv_list_names(&self.folder(Area::State)).await
    }
}
