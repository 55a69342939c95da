//! `shared::vault` against a real OpenBao server (started per test on a free loopback port).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use mixpanel_access::inventory::{
    CredentialKind, CredentialStatus, IntegrationType, InventoryEntry, EMPTY_SENTINEL,
};
use mixpanel_access::model::{ProjectId, ServiceAccountId};
use mixpanel_access::vault::{
    Credential, FencingToken, Journal, Lease, LeaseStatus, Phase, TokenRenewal, Trigger, VaultAuth,
    VaultConfig, VaultError, VaultStore,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use testkit::openbao::OpenBao;

fn config(bao: &OpenBao) -> VaultConfig {
    VaultConfig::new(bao.address(), VaultAuth::token(bao.root_token()))
}

async fn store(bao: &OpenBao) -> VaultStore {
    VaultStore::connect(config(bao))
        .await
        .expect("connect with the root token")
}

fn sa(base: &str, secret: &str, id: u64) -> Credential {
    Credential::ServiceAccount {
        username: format!("{base}.1a2b.mp-service-account").parse().unwrap(),
        secret: SecretString::from(secret.to_string()),
        sa_id: ServiceAccountId(id),
    }
}

fn secret_of(c: &Credential) -> String {
    c.secret().expect("a secret").expose_secret().to_string()
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn entry(name: &str) -> InventoryEntry {
    let mut e = InventoryEntry::new(
        name,
        CredentialKind::ServiceAccount,
        IntegrationType::DataPipeline,
    );
    e.projects = vec![ProjectId(12345)];
    e.owner = "data-platform@example.com".into();
    e.created_by = "alice@example.com".into();
    e.used_by = "Fivetran".into();
    e.purpose = "warehouse export".into();
    e.last_rotated = Some("2026-09-01T00:00:00Z".parse().unwrap());
    e.next_rotation = e.due_date();
    e
}

#[tokio::test]
async fn credential_cas_write_and_read_round_trip() {
    let bao = OpenBao::dev();
    let store = store(&bao).await;

    assert!(store.read_credential("etl").await.unwrap().is_none());
    let v1 = store
        .write_credential("etl", &sa("etl", "first", 11), 0)
        .await
        .unwrap();
    assert_eq!(v1, 1);
    let (cred, info) = store.read_credential("etl").await.unwrap().expect("stored");
    assert_eq!(info.version, 1);
    assert!(info.created_time.is_some());
    assert_eq!(secret_of(&cred), "first");
    assert!(matches!(
        &cred,
        Credential::ServiceAccount {
            sa_id: ServiceAccountId(11),
            ..
        }
    ));

    let v2 = store
        .write_credential("etl", &sa("etl", "second", 12), v1)
        .await
        .unwrap();
    assert_eq!(v2, 2);
    let (cred, info) = store.read_credential("etl").await.unwrap().unwrap();
    assert_eq!((secret_of(&cred), info.version), ("second".into(), 2));
    // Older versions are the history.
    let (old, _) = store
        .read_credential_version("etl", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secret_of(&old), "first");

    // The first write set cas_required and max_versions.
    let meta = store.read_metadata("etl").await.unwrap().unwrap();
    assert!(meta.cas_required);
    assert!(meta.max_versions >= 10);
    assert_eq!(meta.current_version, 2);
    assert_eq!(meta.versions.len(), 2);
    // So a write without cas is refused by the server.
    let (status, body) = bao.request(
        "POST",
        "/v1/secret/data/mixpanel-rotator/creds/etl",
        Some(r#"{"data":{"secret":"x"}}"#),
    );
    assert_eq!(status, 400);
    assert!(body.contains("check-and-set parameter required"), "{body}");

    // The data consumers read: {username, secret, sa_id}.
    let (status, body) = bao.request("GET", "/v1/secret/data/mixpanel-rotator/creds/etl", None);
    assert_eq!(status, 200);
    let data = &json(&body)["data"]["data"];
    assert_eq!(data["username"], "etl.1a2b.mp-service-account");
    assert_eq!(data["secret"], "second");
    assert_eq!(data["sa_id"], 12);

    // Project secrets round-trip too.
    let p = Credential::ProjectSecret {
        project_id: ProjectId(7),
        secret: SecretString::from("psecret".to_string()),
        token: Some("ptoken".into()),
    };
    store
        .write_credential("looker/secret", &p, 0)
        .await
        .unwrap();
    let (back, _) = store
        .read_credential("looker/secret")
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&back, Credential::ProjectSecret { project_id: ProjectId(7), token: Some(t), .. } if t == "ptoken")
    );
    assert!(!format!("{back:?}").contains("psecret"));

    let health = store.health().await.unwrap();
    assert!(health.initialized && !health.sealed);
    assert!(!health.version.is_empty());
}

#[tokio::test]
async fn cas_mismatch_is_a_distinct_error() {
    let bao = OpenBao::dev();
    let store = store(&bao).await;
    store
        .write_credential("etl", &sa("etl", "a", 1), 0)
        .await
        .unwrap();

    let err = store
        .write_credential("etl", &sa("etl", "b", 2), 0)
        .await
        .unwrap_err();
    assert!(err.is_cas_mismatch(), "{err:?}");
    assert!(
        matches!(&err, VaultError::CasMismatch { expected: 0, path } if path == "secret/data/mixpanel-rotator/creds/etl")
    );
    assert!(
        err.to_string().contains("another writer got there first"),
        "{err}"
    );

    store
        .write_credential("etl", &sa("etl", "b", 2), 1)
        .await
        .unwrap();
    let stale = store
        .write_credential("etl", &sa("etl", "stale-secret-value", 3), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(stale, VaultError::CasMismatch { expected: 1, .. }),
        "{stale:?}"
    );
    // The stale writer changed nothing.
    let (cred, info) = store.read_credential("etl").await.unwrap().unwrap();
    assert_eq!((secret_of(&cred), info.version), ("b".into(), 2));
    // Errors never carry secrets.
    assert!(!format!("{stale:?} {stale}").contains("stale-secret-value"));
}

#[tokio::test]
async fn metadata_merge_patch_keeps_other_keys() {
    let bao = OpenBao::dev();
    let store = store(&bao).await;
    let e = entry("etl");
    // Metadata before any data: an inventory entry for a credential not stored yet.
    store.save_inventory_entry(&e).await.unwrap();
    store
        .write_credential("etl", &sa("etl", "a", 1), 0)
        .await
        .unwrap();
    // A key this module does not own, set by a person.
    let mut extra = BTreeMap::new();
    extra.insert("review_ticket".to_string(), Some("SEC-42".to_string()));
    store.patch_metadata("etl", &extra).await.unwrap();

    let mut fields = BTreeMap::new();
    fields.insert(
        "last_rotated".to_string(),
        Some("2026-11-22T00:00:00Z".to_string()),
    );
    store.patch_metadata("etl", &fields).await.unwrap();

    let meta = store.read_metadata("etl").await.unwrap().unwrap();
    let custom = &meta.custom_metadata;
    assert_eq!(custom["last_rotated"], "2026-11-22T00:00:00Z");
    assert_eq!(custom["owner"], "data-platform@example.com");
    assert_eq!(custom["review_ticket"], "SEC-42");
    assert_eq!(custom["kind"], "service_account");
    // The merge kept the KV settings.
    assert!(meta.cas_required);
    assert!(meta.max_versions >= 10);

    // None removes a key.
    let mut remove = BTreeMap::new();
    remove.insert("review_ticket".to_string(), None);
    store.patch_metadata("etl", &remove).await.unwrap();
    let meta = store.read_metadata("etl").await.unwrap().unwrap();
    assert!(!meta.custom_metadata.contains_key("review_ticket"));
    assert_eq!(meta.custom_metadata["owner"], "data-platform@example.com");

    // Saving the entry again merges it and keeps foreign keys.
    store.patch_metadata("etl", &extra).await.unwrap();
    let mut e2 = e.clone();
    e2.owner = "new-owner@example.com".into();
    store.save_inventory_entry(&e2).await.unwrap();
    let back = store
        .read_inventory_entry("etl")
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(back.owner, "new-owner@example.com");
    let meta = store.read_metadata("etl").await.unwrap().unwrap();
    assert_eq!(meta.custom_metadata["review_ticket"], "SEC-42");

    // OpenBao's metadata check-and-set: a stale metadata version is refused.
    let mv = meta
        .current_metadata_version
        .expect("OpenBao reports current_metadata_version");
    store.patch_metadata_cas("etl", &fields, mv).await.unwrap();
    let err = store
        .patch_metadata_cas("etl", &fields, mv)
        .await
        .unwrap_err();
    assert!(err.is_cas_mismatch(), "{err:?}");

    // Patching a credential without metadata is NotFound.
    let err = store.patch_metadata("nope", &fields).await.unwrap_err();
    assert!(matches!(err, VaultError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn custom_metadata_limits_and_sentinels() {
    let bao = OpenBao::dev();
    let store = store(&bao).await;
    let mut e = InventoryEntry::new(
        "bare",
        CredentialKind::ServiceAccount,
        IntegrationType::Custom,
    );
    e.owner = "o".into();
    // purpose, used_by, created_by, projects, last_rotated... are empty.
    store.save_inventory_entry(&e).await.unwrap();

    let (status, body) = bao.request(
        "GET",
        "/v1/secret/metadata/mixpanel-rotator/creds/bare",
        None,
    );
    assert_eq!(status, 200);
    let custom = &json(&body)["data"]["custom_metadata"];
    assert_eq!(custom["purpose"], EMPTY_SENTINEL);
    assert_eq!(custom["projects"], EMPTY_SENTINEL);
    assert_eq!(custom["last_rotated"], "never");
    assert!(custom.as_object().unwrap().len() <= 64);

    let back = store
        .read_inventory_entry("bare")
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(back.purpose, "");
    assert_eq!(back.projects, vec![]);
    assert_eq!(back.last_rotated, None);
    assert_eq!(back.sa_id, None);
    assert_eq!(back, e);

    // The store refuses values Vault would reject, before sending them...
    let mut empty = BTreeMap::new();
    empty.insert("purpose".to_string(), Some(String::new()));
    let err = store.patch_metadata("bare", &empty).await.unwrap_err();
    assert!(matches!(err, VaultError::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("Vault accepts 1 to 512"), "{err}");
    let mut long = BTreeMap::new();
    long.insert("purpose".to_string(), Some("x".repeat(513)));
    assert!(matches!(
        store.patch_metadata("bare", &long).await.unwrap_err(),
        VaultError::InvalidInput { .. }
    ));
    let mut many = BTreeMap::new();
    for i in 0..65 {
        many.insert(format!("k{i}"), Some("v".to_string()));
    }
    assert!(store
        .patch_metadata("bare", &many)
        .await
        .unwrap_err()
        .to_string()
        .contains("at most 64"));
    // ...which it does (the reference's verified behaviour).
    let (status, body) = bao.request(
        "POST",
        "/v1/secret/metadata/mixpanel-rotator/creds/bare2",
        Some(r#"{"custom_metadata":{"purpose":""}}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("0 \\u003c len(value) \\u003c= 512") || body.contains("len(value)"),
        "{body}"
    );
    // 512 characters are accepted.
    let mut max = BTreeMap::new();
    max.insert("purpose".to_string(), Some("y".repeat(512)));
    store.patch_metadata("bare", &max).await.unwrap();
}

#[tokio::test]
async fn list_credentials_with_metadata() {
    let bao = OpenBao::dev();
    let store = store(&bao).await;
    assert!(store.list_credentials().await.unwrap().is_empty());
    assert!(store.list_credentials_plain().await.unwrap().is_empty());

    for (name, id) in [
        ("fivetran", 1),
        ("team-a/looker", 2),
        ("team-a/prod/census", 3),
    ] {
        store
            .write_credential(name, &sa("x", "s", id), 0)
            .await
            .unwrap();
        store.save_inventory_entry(&entry(name)).await.unwrap();
    }
    // Metadata only: declared in the inventory, no secret stored yet.
    store.save_inventory_entry(&entry("pending")).await.unwrap();
    // A journal and a lock are not credentials.
    let guard = Lease::acquire(&store, "a", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let j = Journal::new("r1", Trigger::Manual, Duration::ZERO, Utc::now());
    store
        .write_journal("fivetran", &j, 0, guard.fencing_token())
        .await
        .unwrap();

    let detailed = store.list_credentials().await.unwrap();
    let names: Vec<&str> = detailed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["fivetran", "pending", "team-a/looker", "team-a/prod/census"]
    );
    for (name, meta) in &detailed {
        assert_eq!(
            meta.custom_metadata["owner"], "data-platform@example.com",
            "{name}"
        );
        assert_eq!(
            meta.current_version,
            u64::from(*name != "pending"),
            "{name}"
        );
        assert!(meta.cas_required);
    }
    // The fallback (LIST + GET metadata per key) finds the same.
    let plain = store.list_credentials_plain().await.unwrap();
    assert_eq!(plain, detailed);

    let inventory = store.list_inventory().await.unwrap();
    assert_eq!(inventory.len(), 4);
    for (name, e) in inventory {
        let e = e.unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(e.name, name);
        assert_eq!(e.integration, IntegrationType::DataPipeline);
        assert_eq!(e.status, CredentialStatus::Ok);
    }
    assert_eq!(
        store.list_journals().await.unwrap(),
        vec!["fivetran".to_string()]
    );
}

#[tokio::test]
async fn journal_writes_are_cas_checked_and_fenced() {
    let bao = OpenBao::dev();
    let store = store(&bao).await;
    let guard = Lease::acquire(&store, "replica-a", Duration::from_secs(30))
        .await
        .unwrap()
        .expect("free lease");
    let token = guard.fencing_token();

    let now = Utc::now();
    let mut j = Journal::new("01JROT", Trigger::Incident, Duration::ZERO, now);
    j.reason = Some("user removed from project 7".into());
    j.new_username = Some("etl-20261122-01jrot".into());
    j.old_sa_id = Some(ServiceAccountId(5));
    let v1 = store.write_journal("etl", &j, 0, token).await.unwrap();
    assert_eq!(v1, 1);

    j.advance(Phase::Created, Utc::now());
    j.new_sa_id = Some(ServiceAccountId(6));
    j.pending_secret = Some(SecretString::from("pending-s3cret".to_string()));
    assert!(!format!("{j:?}").contains("pending-s3cret"));
    let v2 = store.write_journal("etl", &j, v1, token).await.unwrap();
    assert_eq!(v2, 2);

    let (back, version) = store.read_journal("etl").await.unwrap().unwrap();
    assert_eq!(version, 2);
    assert_eq!(back.phase, Phase::Created);
    assert_eq!(back.rotation_id, "01JROT");
    assert_eq!(back.fencing_token, token);
    assert_eq!(
        back.pending_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string()),
        Some("pending-s3cret".into())
    );
    assert_eq!(back.new_sa_id, Some(ServiceAccountId(6)));

    // Stale CAS (another writer advanced the journal) is refused and changes nothing.
    let err = store.write_journal("etl", &j, v1, token).await.unwrap_err();
    assert!(err.is_cas_mismatch(), "{err:?}");
    let err = store.write_journal("etl", &j, 0, token).await.unwrap_err();
    assert!(err.is_cas_mismatch(), "{err:?}");
    assert_eq!(store.read_journal("etl").await.unwrap().unwrap().1, 2);

    // A token that is not the live lease's is refused before anything is written.
    let err = store
        .write_journal("etl", &j, v2, FencingToken(token.0 + 7))
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::LostLeadership { .. }), "{err:?}");

    // The journal is stored as JSON with the phase name; done clears the secret.
    j.advance(Phase::Done, Utc::now());
    let v3 = store.write_journal("etl", &j, v2, token).await.unwrap();
    let (status, body) = bao.request("GET", "/v1/secret/data/mixpanel-rotator/state/etl", None);
    assert_eq!(status, 200);
    let data = &json(&body)["data"]["data"];
    assert_eq!(data["phase"], "done");
    assert_eq!(data["trigger"], "incident");
    assert_eq!(data["overlap"], "0s");
    assert_eq!(data["fencing_token"], token.0);
    assert!(data["pending_secret"].is_null());
    assert_eq!(json(&body)["data"]["metadata"]["version"], v3);
    guard.release().await.unwrap();
}

#[tokio::test]
async fn leader_lease_acquire_renew_expire_takeover_release() {
    let bao = OpenBao::dev();
    let store = store(&bao).await;
    let ttl = Duration::from_secs(3);

    let mut a = Lease::acquire(&store, "replica-a", ttl)
        .await
        .unwrap()
        .expect("A takes the free lease");
    let t1 = a.fencing_token();
    assert_eq!(a.version(), t1.0);
    assert!(!a.is_expired());
    // The lease key has the server-side TTL.
    let (_, body) = bao.request(
        "GET",
        "/v1/secret/metadata/mixpanel-rotator/locks/leader",
        None,
    );
    let meta = json(&body);
    assert_eq!(meta["data"]["delete_version_after"], "3s");
    assert_eq!(meta["data"]["cas_required"], true);

    // A second holder is refused while A holds it.
    assert!(Lease::acquire(&store, "replica-b", ttl)
        .await
        .unwrap()
        .is_none());

    // Renew: a new version, the same fencing token.
    let before = a.version();
    a.renew().await.unwrap();
    assert_eq!(a.version(), before + 1);
    assert_eq!(a.fencing_token(), t1);
    a.verify().await.unwrap();
    match Lease::status(&store).await.unwrap() {
        LeaseStatus::Held {
            record,
            version,
            expires_at,
        } => {
            assert_eq!(record.holder, "replica-a");
            assert_eq!(record.fencing_token, t1);
            assert_eq!(version, a.version());
            assert!(expires_at.is_some());
        }
        other => panic!("expected held, got {other:?}"),
    }

    // No renewal for longer than the TTL: the server expires it.
    tokio::time::sleep(ttl + Duration::from_millis(1500)).await;
    assert!(a.is_expired());
    match Lease::status(&store).await.unwrap() {
        LeaseStatus::Free {
            current_version,
            ended_at,
        } => {
            assert_eq!(current_version, a.version());
            assert!(ended_at.expect("deletion_time") <= Utc::now());
        }
        other => panic!("expected free, got {other:?}"),
    }
    let mut b = Lease::acquire(&store, "replica-b", ttl)
        .await
        .unwrap()
        .expect("B takes over");
    let t2 = b.fencing_token();
    assert!(t2 > t1, "{t2} > {t1}");

    // A's stale renewal fails: it has lost leadership.
    let err = a.renew().await.unwrap_err();
    assert!(matches!(err, VaultError::LostLeadership { .. }), "{err:?}");
    assert!(
        err.to_string().contains("another replica took the lease"),
        "{err}"
    );
    let err = a.verify().await.unwrap_err();
    assert!(matches!(err, VaultError::LostLeadership { .. }), "{err:?}");
    // A's journal writes are fenced off.
    let j = Journal::new("r", Trigger::Schedule, Duration::from_secs(60), Utc::now());
    let err = store.write_journal("etl", &j, 0, t1).await.unwrap_err();
    assert!(matches!(err, VaultError::LostLeadership { .. }), "{err:?}");
    store.write_journal("etl", &j, 0, t2).await.unwrap();
    // A cannot release what it no longer holds.
    assert!(matches!(
        a.release().await.unwrap_err(),
        VaultError::LostLeadership { .. }
    ));

    // B renews, then releases: another replica takes over at once, with a higher token.
    b.renew().await.unwrap();
    b.release().await.unwrap();
    assert!(matches!(
        Lease::status(&store).await.unwrap(),
        LeaseStatus::Free { .. }
    ));
    let c = Lease::acquire(&store, "replica-a", ttl)
        .await
        .unwrap()
        .expect("free after release");
    assert!(c.fencing_token() > t2);
    // A restarted holder with the same id re-takes its own live lease with a new token.
    let c2 = Lease::acquire(&store, "replica-a", ttl)
        .await
        .unwrap()
        .expect("same holder");
    assert!(c2.fencing_token() > c.fencing_token());
}

#[tokio::test]
async fn approle_login_policy_errors_and_token_renewal() {
    let bao = OpenBao::dev();
    // Enable AppRole, a policy for creds only, and a role with short token TTLs.
    let (s, b) = bao.request(
        "POST",
        "/v1/sys/auth/approle",
        Some(r#"{"type":"approle"}"#),
    );
    assert!(s == 204 || s == 200, "{s} {b}");
    let policy = r#"path "secret/data/mixpanel-rotator/creds/*" { capabilities = ["create", "read", "update"] }
path "secret/metadata/mixpanel-rotator/creds/*" { capabilities = ["create", "read", "update", "patch", "list"] }"#;
    let body = serde_json::json!({ "policy": policy }).to_string();
    let (s, b) = bao.request("PUT", "/v1/sys/policies/acl/rotator", Some(&body));
    assert!(s == 204 || s == 200, "{s} {b}");
    let (s, b) = bao.request(
        "POST",
        "/v1/auth/approle/role/rotator",
        Some(r#"{"token_policies":["rotator"],"token_ttl":"6s","token_max_ttl":"8s"}"#),
    );
    assert!(s == 204 || s == 200, "{s} {b}");
    let (_, b) = bao.request("GET", "/v1/auth/approle/role/rotator/role-id", None);
    let role_id = json(&b)["data"]["role_id"].as_str().unwrap().to_string();
    let (_, b) = bao.request(
        "POST",
        "/v1/auth/approle/role/rotator/secret-id",
        Some("{}"),
    );
    let secret_id = json(&b)["data"]["secret_id"].as_str().unwrap().to_string();

    // A wrong secret_id is an authentication error.
    let bad = VaultConfig::new(
        bao.address(),
        VaultAuth::approle(&role_id, "not-the-secret"),
    );
    let err = VaultStore::connect(bad).await.unwrap_err();
    assert!(matches!(err, VaultError::Auth { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("Vault authentication via approle failed"),
        "{err}"
    );

    let cfg = VaultConfig::new(bao.address(), VaultAuth::approle(&role_id, &secret_id));
    let store = VaultStore::connect(cfg).await.unwrap();
    let login_at = tokio::time::Instant::now();
    let ttl = store
        .token_ttl_remaining()
        .expect("an AppRole token expires");
    assert!(
        ttl <= Duration::from_secs(6) && ttl > Duration::from_secs(3),
        "{ttl:?}"
    );
    store
        .write_credential("etl", &sa("etl", "s", 1), 0)
        .await
        .unwrap();
    assert!(store.read_credential("etl").await.unwrap().is_some());

    // Outside the policy: permission denied, naming the path and the capability.
    let err = store.read_journal("etl").await.unwrap_err();
    match &err {
        VaultError::PermissionDenied {
            path,
            capability,
            method,
        } => {
            assert_eq!(path, "secret/data/mixpanel-rotator/state/etl");
            assert_eq!(capability, "read");
            assert_eq!(method, "GET");
        }
        other => panic!("expected permission denied, got {other:?}"),
    }
    assert!(
        err.to_string().contains(
            "needs the \"read\" capability on path \"secret/data/mixpanel-rotator/state/etl\""
        ),
        "{err}"
    );

    // Renewal: nothing before 2/3 of the TTL, renew-self after it...
    assert_eq!(
        store.renew_if_needed().await.unwrap(),
        TokenRenewal::NotNeeded
    );
    // (Times count from the login, not from the steps above, whose length varies.)
    tokio::time::sleep_until(login_at + Duration::from_millis(4200)).await;
    match store.renew_if_needed().await.unwrap() {
        TokenRenewal::Renewed { ttl } => assert!(ttl >= Duration::from_secs(2), "{ttl:?}"),
        other => panic!("expected a renewal, got {other:?}"),
    }
    // ...and a new login once the max TTL (8 s) caps the renewals, before the token dies:
    // checked as the renewer does it, every 200 ms, with a read each time.
    let relogin = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match store.renew_if_needed().await.unwrap() {
            TokenRenewal::LoggedIn { ttl } => break ttl,
            other => assert!(
                login_at.elapsed() < Duration::from_secs(12),
                "no new login {:?} after the first (max TTL 8 s); last: {other:?}",
                login_at.elapsed()
            ),
        }
        assert!(store.read_credential("etl").await.unwrap().is_some());
    };
    assert_eq!(relogin, Duration::from_secs(6));
    assert!(
        login_at.elapsed() < Duration::from_secs(9),
        "{:?}",
        login_at.elapsed()
    );
    // The new token works.
    assert!(store.read_credential("etl").await.unwrap().is_some());

    // The background renewer keeps it alive past the max TTL.
    let renewer = store.spawn_token_renewer();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(store.read_credential("etl").await.unwrap().is_some());
    renewer.abort();
}

#[tokio::test]
async fn bad_token_unreachable_and_sealed_errors() {
    let bao = OpenBao::dev();
    let err = VaultStore::connect(VaultConfig::new(
        bao.address(),
        VaultAuth::token("not-a-token"),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, VaultError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("the token was rejected"), "{err}");

    // Nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("http://127.0.0.1:{port}");
    let err = VaultStore::connect(VaultConfig::new(&address, VaultAuth::token("t")))
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&address), "{err}");
    assert!(err.is_transient());

    let store = store(&bao).await;
    bao.seal();
    let err = store.read_credential("etl").await.unwrap_err();
    assert!(matches!(err, VaultError::Sealed { .. }), "{err:?}");
    assert!(err.to_string().contains("is sealed"), "{err}");
    let health = store.health().await.unwrap();
    assert!(health.sealed);
}

#[tokio::test]
async fn persistent_server_keeps_data_across_an_outage() {
    let mut bao = OpenBao::persistent();
    let port = bao.port();
    let store = store(&bao).await;
    store
        .write_credential("etl", &sa("etl", "kept", 9), 0)
        .await
        .unwrap();
    store.save_inventory_entry(&entry("etl")).await.unwrap();
    let lease = Lease::acquire(&store, "replica-a", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let token = lease.fencing_token();

    bao.stop();
    let err = store.read_credential("etl").await.unwrap_err();
    assert!(matches!(err, VaultError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&bao.address()), "{err}");

    bao.start();
    assert_eq!(bao.port(), port);
    // The same store works again, and the data survived.
    let (cred, info) = store.read_credential("etl").await.unwrap().unwrap();
    assert_eq!((secret_of(&cred), info.version), ("kept".into(), 1));
    let back = store
        .read_inventory_entry("etl")
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(back.owner, "data-platform@example.com");
    // So did the lease (its TTL had not passed): the holder keeps it and renews.
    match Lease::status(&store).await.unwrap() {
        LeaseStatus::Held { record, .. } => assert_eq!(record.fencing_token, token),
        other => panic!("expected held, got {other:?}"),
    }
    let mut lease = lease;
    lease.renew().await.unwrap();

    // Sealed, then unsealed.
    bao.seal();
    assert!(matches!(
        store.read_credential("etl").await.unwrap_err(),
        VaultError::Sealed { .. }
    ));
    bao.unseal();
    assert!(store.read_credential("etl").await.unwrap().is_some());
    lease.release().await.unwrap();
}
