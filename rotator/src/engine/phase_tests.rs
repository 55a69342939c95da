//! The phase machine on in-memory fakes of Vault and Mixpanel ([`super::fakes`]): every
//! phase's happy path, a resume from each phase after a crash, the error policy's verdicts
//! (503 backs off, 403 and a successor that differs stop in `needs_human`) and fencing.

use std::sync::Arc;
use std::time::Duration;

use mixpanel_access::api::ApiError;
use mixpanel_access::inventory::{
    CredentialKind, CredentialStatus, IntegrationType, InventoryEntry,
};
use mixpanel_access::model::{ProjectId, ProjectRole, ServiceAccountId};
use mixpanel_access::vault::{
    Credential, FencingToken, Phase, Trigger, VaultAuth, VaultConfig, VaultStore,
};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::fakes::{FakeApi, FakeStore};
use super::{Engine, Outcome, Requested};
use crate::config::RotationSettings;
use crate::election::Leadership;
use crate::inventory::{self, RotationRequest};

const NAME: &str = "warehouse/etl";
const PS: &str = "warehouse/ps";
const PROJECT: ProjectId = ProjectId(100);
const TOKEN: FencingToken = FencingToken(7);

struct World {
    engine: Engine<FakeStore, FakeApi>,
    old: ServiceAccountId,
}

fn settings() -> RotationSettings {
    RotationSettings {
        max_attempts: 3,
        retry_backoff: Duration::from_millis(1),
        max_retry_backoff: Duration::from_millis(4),
        test_timeout: Duration::from_millis(50),
        ..RotationSettings::default()
    }
}

/// An organization with the old account `etl` (admin, analyst on project 100, in team 5)
/// stored at `creds/warehouse/etl`, the project's secret at `creds/warehouse/ps`, and the
/// lease held with fencing token 7.
fn world() -> World {
    let api = FakeApi::default();
    let old = api.add_account("etl", ProjectRole::Admin, "old-secret");
    {
        let mut o = api.org();
        o.grants.push((PROJECT, old, ProjectRole::Analyst));
        o.teams.push(
            serde_json::from_value(
                serde_json::json!({"id": 5, "name": "data", "service_accounts": [old.0]}),
            )
            .expect("a team"),
        );
        o.projects
            .insert(PROJECT, ("token-0".into(), "project-secret-0".into()));
    }
    let username = api.org().accounts[0].0.username.clone();
    let store = FakeStore::default();
    {
        let mut s = store.state();
        s.lease = Some(("test".into(), TOKEN));
        let mut e = InventoryEntry::new(
            NAME,
            CredentialKind::ServiceAccount,
            IntegrationType::Custom,
        );
        e.projects = vec![PROJECT];
        e.overlap = Duration::ZERO;
        e.sa_id = Some(old);
        e.username = Some(username.clone());
        e.role = Some(ProjectRole::Admin);
        s.meta
            .insert(NAME.into(), e.to_custom_metadata().expect("metadata"));
        s.creds.insert(
            NAME.into(),
            (
                Credential::ServiceAccount {
                    username,
                    secret: SecretString::from("old-secret".to_string()),
                    sa_id: old,
                },
                1,
            ),
        );
        let mut p = InventoryEntry::new(PS, CredentialKind::ProjectSecret, IntegrationType::Custom);
        p.projects = vec![PROJECT];
        s.meta
            .insert(PS.into(), p.to_custom_metadata().expect("metadata"));
        s.creds.insert(
            PS.into(),
            (
                Credential::ProjectSecret {
                    project_id: PROJECT,
                    secret: SecretString::from("project-secret-0".to_string()),
                    token: Some("token-0".into()),
                },
                1,
            ),
        );
    }
    World {
        engine: Engine::new(store, api, settings(), Arc::default()),
        old,
    }
}

/// A term of the lease with fencing token 7.
fn lead() -> Leadership {
    let nowhere = VaultStore::new(VaultConfig::new(
        "http://127.0.0.1:1",
        VaultAuth::token("t"),
    ))
    .expect("a store config");
    Leadership::new(TOKEN, "test", CancellationToken::new(), nowhere)
}

fn manual() -> RotationRequest {
    RotationRequest::new(Trigger::Manual, Some("unit test".into()), None)
}

/// The account `creds/<NAME>` holds, with its secret.
fn stored(w: &World) -> (ServiceAccountId, String) {
    match &w.engine.store.state().creds[NAME].0 {
        Credential::ServiceAccount { sa_id, secret, .. } => {
            (*sa_id, secret.expose_secret().to_string())
        }
        _ => panic!("not a service account"),
    }
}

/// The rotation left exactly one account of `etl`, the stored one, with the old one's
/// access; the old one is gone.
/// A world whose rotation of `NAME` stopped right after its journal recorded `created` (as a
/// crash would leave it).
async fn created_then_crashed() -> World {
    let w = world();
    w.engine.store.state().crash_after = Some(Phase::Created);
    let _ = w.engine.rotate(NAME, &manual(), &lead(), true).await;
    assert_eq!(journal_phase(&w, NAME), Phase::Created);
    w
}

/// The new account's id, from the open journal.
fn stored_new(w: &World) -> ServiceAccountId {
    w.engine.store.state().journals[NAME]
        .0
        .new_sa_id
        .expect("the journal records the new account")
}

fn assert_rotated(w: &World) {
    let (id, secret) = stored(w);
    assert_ne!(id, w.old, "the new account is stored");
    let o = w.engine.api.org();
    let etl: Vec<_> = o
        .accounts
        .iter()
        .filter(|(a, _)| a.username.as_str().starts_with("etl"))
        .collect();
    assert_eq!(
        etl.len(),
        1,
        "one account is left: {:?}",
        etl.iter()
            .map(|(a, _)| a.username.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(etl[0].0.id, id);
    assert_eq!(etl[0].1, secret, "the stored secret is the account's");
    assert!(o.grants.contains(&(PROJECT, id, ProjectRole::Analyst)));
    assert!(o.teams[0].service_accounts.contains(&id));
    assert!(!o.teams[0].service_accounts.contains(&w.old));
}

fn journal_phase(w: &World, name: &str) -> Phase {
    w.engine.store.state().journals[name].0.phase
}

#[tokio::test]
async fn a_service_account_goes_through_every_phase_each_journaled() {
    let w = world();
    let lead = lead();
    let (req, out) = w
        .engine
        .rotate(NAME, &manual(), &lead, true)
        .await
        .expect("rotated");
    assert!(matches!(req, Requested::Started { .. }), "{req:?}");
    assert!(matches!(out, Outcome::Done { .. }), "{out:?}");
    assert_rotated(&w);
    assert_eq!(
        w.engine.store.state().written,
        [
            Phase::Intent,
            Phase::Created,
            Phase::Tested,
            Phase::Promoted,
            Phase::Overlap,
            Phase::RevokedOld,
            Phase::Done
        ]
    );
    let e = inventory::entry(&w.engine.store, NAME)
        .await
        .expect("entry");
    assert_eq!(e.sa_id, Some(stored(&w).0));
    assert!(e.last_rotated.is_some());
    let j = &w.engine.store.state().journals[NAME].0;
    assert_eq!(j.fencing_token, TOKEN);
    assert!(
        j.pending_secret.is_none(),
        "the done journal forgets the secret"
    );
}

#[tokio::test]
async fn a_project_secret_is_reset_tested_and_promoted() {
    let w = world();
    let lead = lead();
    let (_, out) = w
        .engine
        .rotate(PS, &manual(), &lead, true)
        .await
        .expect("rotated");
    assert!(matches!(out, Outcome::Done { .. }), "{out:?}");
    assert_eq!(
        w.engine.store.state().written,
        [
            Phase::Intent,
            Phase::Created,
            Phase::Tested,
            Phase::Promoted,
            Phase::Done
        ]
    );
    let live = w.engine.api.org().projects[&PROJECT].1.clone();
    assert_ne!(live, "project-secret-0");
    let s = w.engine.store.state();
    match &s.creds[PS].0 {
        Credential::ProjectSecret { secret, token, .. } => {
            assert_eq!(secret.expose_secret(), live, "Vault holds the live secret");
            assert_eq!(token.as_deref(), Some("token-0"));
        }
        _ => panic!("not a project secret"),
    }
}

#[tokio::test]
async fn a_rotation_resumes_from_each_phase_after_a_crash() {
    for crash in [
        Phase::Intent,
        Phase::Created,
        Phase::Tested,
        Phase::Promoted,
        Phase::Overlap,
        Phase::RevokedOld,
    ] {
        let w = world();
        w.engine.store.state().crash_after = Some(crash);
        let first = w.engine.rotate(NAME, &manual(), &lead(), true).await;
        assert!(
            first.as_ref().is_err_and(|e| e.is_interrupted()),
            "{crash}: {first:?}"
        );
        assert_eq!(
            journal_phase(&w, NAME),
            crash,
            "the journal stayed in {crash}"
        );
        // A new process (a new term of the same lease) resumes.
        w.engine.store.state().crash_after = None;
        let out = w.engine.drive(NAME, &lead(), true).await.expect("resumed");
        assert!(matches!(out, Outcome::Done { .. }), "{crash}: {out:?}");
        assert_rotated(&w);
        let written = w.engine.store.state().written.clone();
        assert_eq!(written.last(), Some(&Phase::Done), "{crash}: {written:?}");
    }
}

#[tokio::test]
async fn a_503_backs_off_and_heals_without_counting_toward_needs_human() {
    let w = world();
    for _ in 0..5 {
        w.engine.api.org().faults.push_back((
            "create_service_account",
            ApiError::Server {
                route: "create",
                status: 503,
                attempts: 1,
                message: "down".into(),
            },
        ));
    }
    let (_, out) = w
        .engine
        .rotate(NAME, &manual(), &lead(), true)
        .await
        .expect("rotated");
    assert!(matches!(out, Outcome::Done { .. }), "{out:?}");
    assert_eq!(
        w.engine.api.calls("create_service_account"),
        6,
        "5 failures (more than max_attempts 3), then the create"
    );
    let s = w.engine.store.state();
    assert!(!s.written.contains(&Phase::NeedsHuman), "{:?}", s.written);
    assert_eq!(
        s.journals[NAME].0.attempts, 0,
        "transient failures are not attempts"
    );
    drop(s);
    assert_rotated(&w);
}

#[tokio::test]
async fn a_403_stops_in_needs_human_at_once_keeping_the_old_credential() {
    let w = world();
    w.engine.api.org().faults.push_back((
        "create_service_account",
        ApiError::Forbidden {
            route: "create",
            message: "no".into(),
            needed: "admin".into(),
        },
    ));
    let (_, out) = w
        .engine
        .rotate(NAME, &manual(), &lead(), true)
        .await
        .expect("drove");
    assert!(matches!(out, Outcome::NeedsHuman { .. }), "{out:?}");
    assert_eq!(
        w.engine.api.calls("create_service_account"),
        1,
        "no retry of a 403"
    );
    assert_eq!(journal_phase(&w, NAME), Phase::NeedsHuman);
    assert_eq!(stored(&w).0, w.old, "the old credential stays in Vault");
    let e = inventory::entry(&w.engine.store, NAME)
        .await
        .expect("entry");
    assert_eq!(e.status, CredentialStatus::NeedsHuman);
    assert!(
        e.status_reason
            .as_deref()
            .is_some_and(|r| r.contains("forbidden") || r.contains("403") || r.contains("no")),
        "{:?}",
        e.status_reason
    );
}

#[tokio::test]
async fn a_successor_whose_access_differs_is_not_promoted() {
    let w = world();
    w.engine.api.org().create_as_consumer = true;
    let (_, out) = w
        .engine
        .rotate(NAME, &manual(), &lead(), true)
        .await
        .expect("drove");
    let Outcome::NeedsHuman { error, .. } = out else {
        panic!("{out:?}")
    };
    assert!(error.contains("differs"), "{error}");
    assert_eq!(journal_phase(&w, NAME), Phase::NeedsHuman);
    assert_eq!(stored(&w).0, w.old, "the old credential stays in Vault");
    assert!(
        w.engine
            .api
            .org()
            .accounts
            .iter()
            .any(|(a, _)| a.id == w.old),
        "the old account is kept"
    );
}

#[tokio::test]
async fn a_term_that_ended_stops_the_drive_before_any_call_or_write() {
    let w = world();
    let lead = lead();
    let Requested::Started { .. } = w
        .engine
        .request(NAME, &manual(), &lead)
        .await
        .expect("requested")
    else {
        panic!("not started")
    };
    let (writes, calls) = (
        w.engine.store.state().writes,
        w.engine.api.org().calls.len(),
    );
    // The term ends (a renewal failed) before the drive starts.
    lead.end();
    let r = w.engine.drive(NAME, &lead, true).await;
    assert!(r.as_ref().is_err_and(|e| e.is_interrupted()), "{r:?}");
    assert_eq!(w.engine.store.state().writes, writes, "nothing written");
    assert_eq!(w.engine.api.org().calls.len(), calls, "nothing called");
}

/// The term ends while a step reads (the `tested` step's team listing, a renewal failing
/// meanwhile): the step makes no write after that read, to Mixpanel (no team add) or to Vault,
/// and the next term finishes the rotation.
#[tokio::test]
async fn a_term_that_ends_during_a_read_makes_no_write_after_it() {
    let w = created_then_crashed().await;
    w.engine.store.state().crash_after = None;
    // As at a crash right after `created`: the new account is not in the old one's team yet.
    let new = stored_new(&w);
    for t in &mut w.engine.api.org().teams {
        t.service_accounts.retain(|a| *a != new);
    }
    let term = CancellationToken::new();
    w.engine.api.org().end_term_on = Some(("list_teams", term.clone()));
    let nowhere = VaultStore::new(VaultConfig::new(
        "http://127.0.0.1:1",
        VaultAuth::token("t"),
    ))
    .expect("a store config");
    let ending = Leadership::new(TOKEN, "test", term, nowhere);
    let writes = w.engine.store.state().writes;
    let (lists, adds) = (
        w.engine.api.calls("list_teams"),
        w.engine.api.calls("add_service_accounts_to_team"),
    );
    let r = w.engine.drive(NAME, &ending, true).await;
    assert!(r.as_ref().is_err_and(|e| e.is_interrupted()), "{r:?}");
    assert!(
        w.engine.api.calls("list_teams") > lists,
        "the read happened"
    );
    assert_eq!(
        w.engine.api.calls("add_service_accounts_to_team"),
        adds,
        "no Mixpanel write after the term ended"
    );
    assert_eq!(
        w.engine.store.state().writes,
        writes,
        "no Vault write after the term ended"
    );
    assert_eq!(journal_phase(&w, NAME), Phase::Created);
    // The next term resumes and finishes it.
    w.engine.api.org().end_term_on = None;
    w.engine.drive(NAME, &lead(), true).await.expect("finished");
    assert_eq!(journal_phase(&w, NAME), Phase::Done);
    assert_rotated(&w);
}

#[tokio::test]
async fn a_lease_taken_by_another_replica_stops_the_rotation_without_writing() {
    let w = created_then_crashed().await;
    let (writes, version) = {
        let mut s = w.engine.store.state();
        s.crash_after = None;
        // Another replica took the lease; this one has not noticed (its term is not cancelled).
        s.lease = Some(("other".into(), FencingToken(8)));
        (s.writes, s.journals[NAME].1)
    };
    let r = w.engine.drive(NAME, &lead(), true).await;
    assert!(r.as_ref().is_err_and(|e| e.is_interrupted()), "{r:?}");
    let s = w.engine.store.state();
    assert_eq!(
        s.writes, writes,
        "no credential, inventory or journal write"
    );
    assert_eq!(s.journals[NAME].1, version);
    drop(s);
    assert_eq!(stored(&w).0, w.old, "the new credential was not promoted");
    assert!(
        w.engine
            .api
            .org()
            .accounts
            .iter()
            .any(|(a, _)| a.id == w.old),
        "the old account is kept"
    );
}
