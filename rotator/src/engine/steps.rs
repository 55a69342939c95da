//! The business steps of a rotation: each takes the fenced journal and does one phase's work
//! against the store and the API, and returns what comes next ([`Next`]) or an error. No
//! leadership checks, sleeps, retries or metrics here: the driver owns those (a step's journal
//! writes are fenced by [`FencedJournal`], and calls that cannot be fenced and cannot be undone
//! are preceded by [`FencedJournal::verify_fencing`]).

use chrono::Utc;
use mixpanel_access::api::{wire, ApiError};
use mixpanel_access::inventory::{CredentialKind, CredentialStatus, InventoryEntry};
use mixpanel_access::model::{
    ProjectId, ProjectRole, ProjectRoleGrant, ServiceAccountId, ServiceAccountUsername, TargetType,
};
use mixpanel_access::vault::{Credential, Journal, Phase, Trigger};
use secrecy::{ExposeSecret, SecretString};

use super::journal::FencedJournal;
use super::{
    clip, expiry_for, new_rotation_id, rotation_username, same_value, username_base, Engine,
    ROTATION_FIELDS,
};
use crate::config::RotationSettings;
use crate::crash;
use crate::error::{Result, RotatorError};
use crate::inventory::{self, MIRRORED_KEY};
use crate::ports::{RotationApi, RotationStore};

/// What a step says comes next.
#[derive(Debug)]
pub enum Next {
    /// The phase's work is done: the driver moves the journal to this phase.
    To(Phase),
    /// The step wrote the journal itself (a rotation started over, a fallback to a mirror):
    /// the driver reads the phase it is in now.
    Again,
    /// The new credential does not work yet (propagation): the driver waits and runs the
    /// step again, for as long as the policy allows.
    NotYet(ApiError),
}

/// The steps, over the store, the API and the settings.
pub struct Steps<'a, S, A> {
    pub store: &'a S,
    pub api: &'a A,
    pub settings: &'a RotationSettings,
}

impl<S: RotationStore, A: RotationApi> Engine<S, A> {
    /// The steps over this engine's store and API.
    pub fn steps(&self) -> Steps<'_, S, A> {
        Steps {
            store: &self.store,
            api: &self.api,
            settings: &self.settings,
        }
    }
}

impl<S: RotationStore, A: RotationApi> Steps<'_, S, A> {
    /// Writes `credential` as the next version of `creds/<name>` (check-and-set against the
    /// version there now). Returns the new version.
    async fn write_over_current(&self, name: &str, credential: &Credential) -> Result<u64> {
        let cas = self
            .store
            .read_metadata(name)
            .await?
            .map(|m| m.current_version)
            .unwrap_or(0);
        Ok(self.store.write_credential(name, credential, cas).await?)
    }

    fn can_rotate(&self, kind: CredentialKind) -> bool {
        super::can_rotate(self.api, kind)
    }

    // ---- service accounts ----

    pub(crate) async fn sa_intent(
        &self,
        entry: &InventoryEntry,
        j: &mut FencedJournal<'_>,
    ) -> Result<Next> {
        let name = entry.name.as_str();
        let new_username = j.new_username.clone().ok_or_else(|| {
            RotatorError::Invalid("the journal has no new username for this rotation".into())
        })?;
        let accounts = self.api.list_service_accounts().await?;
        let orphans: Vec<&mixpanel_access::model::ServiceAccount> = accounts
            .iter()
            .filter(|a| a.username.base_name() == new_username)
            .collect();
        if !orphans.is_empty() {
            // Created by this rotation (once, or twice after an ambiguous create), but no
            // secret reached the journal: nobody can use them. Delete every one, check by a
            // read that none is left, and start over under a new username.
            j.verify_fencing(self.store).await?;
            for orphan in &orphans {
                tracing::warn!(
                    credential = name,
                    rotation_id = %j.rotation_id,
                    orphan = %orphan.username,
                    orphan_id = orphan.id.0,
                    "found an account of an interrupted create (its secret was never recorded): deleting it"
                );
                self.api.delete_service_account(orphan.id).await?;
            }
            let left = self
                .api
                .list_service_accounts()
                .await?
                .into_iter()
                .filter(|a| a.username.base_name() == new_username)
                .count();
            if left > 0 {
                return Err(RotatorError::Invalid(format!(
                    "{left} account(s) named {new_username} are still listed after their deletion"
                )));
            }
            let now = Utc::now();
            let rotation_id = new_rotation_id();
            let base = username_base(j.old_username.as_ref(), name);
            let mut fresh = Journal::new(rotation_id.clone(), j.trigger, j.overlap, j.started_at);
            fresh.reason = j.reason.clone();
            fresh.requested_by = j.requested_by.clone();
            fresh.old_sa_id = j.old_sa_id;
            fresh.old_username = j.old_username.clone();
            fresh.new_username = Some(rotation_username(&base, now, &rotation_id));
            fresh.attempts = j.attempts.saturating_add(1);
            fresh.abandoned_usernames = j.abandoned_usernames.clone();
            if !fresh.abandoned_usernames.contains(&new_username) {
                fresh.abandoned_usernames.push(new_username.clone());
            }
            fresh.last_error = Some(format!(
                "intent: deleted {} orphan account(s) named {new_username} of rotation {}",
                orphans.len(),
                j.rotation_id
            ));
            fresh.updated_at = now;
            j.restart(self.store, fresh).await?;
            crash::after("intent");
            if j.attempts >= self.settings.max_attempts.max(1) {
                return Err(RotatorError::Invalid(
                    "creates keep failing after the account was made (orphans deleted)".into(),
                ));
            }
            return Ok(Next::Again);
        }
        let old = j
            .old_sa_id
            .and_then(|id| accounts.iter().find(|a| a.id == id));
        // Until when transient failures may be retried before promotion (saved with the next
        // write of the journal).
        if let Some(expires) = old.and_then(|a| a.expires) {
            j.edit().old_expires_at = Some(expires);
        }
        let mut role = old
            .and_then(|a| a.role)
            .or(entry.role)
            .unwrap_or(ProjectRole::Consumer);
        if role == ProjectRole::Owner {
            tracing::warn!(
                credential = name,
                "the old account is an owner; service accounts cannot be created as owners, so the new one is an admin"
            );
            role = ProjectRole::Admin;
        }
        // An entry that declares a role per project gives the successor exactly those grants;
        // one of the earlier shape (one role) carries the old account's individual grants over.
        let projects = if entry.has_project_roles() {
            Vec::new()
        } else {
            self.old_account_projects(name, entry, j.old_sa_id).await?
        };
        let mut grants = declared_grants(entry);
        for p in &projects {
            let members = self.api.list_project_service_accounts(*p).await?;
            let found = j
                .old_sa_id
                .and_then(|id| members.iter().find(|m| m.account.id == id));
            match found {
                Some(m) if m.target_type == TargetType::Individual => {
                    grants.push(ProjectRoleGrant {
                        id: *p,
                        role: m.project_role.min_admin(),
                    })
                }
                // Access through a team or the organization role comes back with those.
                Some(_) => {}
                None if old.is_none() => {
                    if let Some(r) = entry.role {
                        grants.push(ProjectRoleGrant {
                            id: *p,
                            role: r.min_admin(),
                        });
                    }
                }
                None => {}
            }
        }
        let now = Utc::now();
        let request = wire::CreateServiceAccount {
            username: new_username.clone(),
            role,
            expires: Some(expiry_for(now, entry.rotation_period)),
            projects: grants,
        };
        // A create cannot be fenced: not after the term ended.
        j.still_fenced()?;
        let created = self.api.create_service_account(&request).await?;
        crash::after("create");
        tracing::info!(
            credential = name,
            rotation_id = %j.rotation_id,
            new_account = %created.account.username,
            new_id = created.account.id.0,
            expires = %request.expires.map(|e| e.to_string()).unwrap_or_default(),
            "new service account created"
        );
        let jm = j.edit();
        jm.new_sa_id = Some(created.account.id);
        jm.new_full_username = Some(created.account.username.clone());
        jm.pending_secret = Some(created.secret);
        Ok(Next::To(Phase::Created))
    }

    /// The projects whose grants a new account copies and whose access is compared before
    /// promotion: the inventory's, plus every project the old account reaches as
    /// `GET /api/app/me` answers with its own credential (retried: a transient failure must not
    /// drop a grant). When that cannot be known the rotation stops in `needs_human`. When no
    /// credential of the old account is stored, every project of the organization is looked at
    /// (the rotator's own view).
    pub(crate) async fn old_account_projects(
        &self,
        name: &str,
        entry: &InventoryEntry,
        old_id: Option<ServiceAccountId>,
    ) -> Result<Vec<ProjectId>> {
        let mut projects = entry.projects.clone();
        let Some(old_id) = old_id else {
            return Ok(projects);
        };
        let stored = match self.store.read_credential(name).await? {
            Some((
                Credential::ServiceAccount {
                    username,
                    secret,
                    sa_id,
                },
                _,
            )) if sa_id == old_id => Some((username, secret)),
            _ => None,
        };
        let Some((username, secret)) = stored else {
            for p in self.api.list_projects().await? {
                if !projects.contains(&p) {
                    projects.push(p);
                }
            }
            return Ok(projects);
        };
        let client = self.api.client_for(username.as_str(), secret)?;
        let me = match self.api.me_with(&client).await {
            Ok(me) => me,
            // Mixpanel will answer again: the driver's error policy backs off and retries the
            // step, the old credential kept in use meanwhile.
            Err(e) if e.is_transient() => return Err(RotatorError::Api(e)),
            Err(e) => {
                if matches!(e, ApiError::Unauthorized { .. }) {
                    // The stored secret is refused: no cached "ok" may vouch for it any more.
                    crate::health::forget_check(self.store, name).await;
                }
                return Err(RotatorError::NeedsHumanApi {
                    message: format!(
                        "the projects of the old account {username} cannot be listed with its own credential ({e}): its grants are unknown, so no successor is promoted; check the account, then resume"
                    ),
                    source: e,
                });
            }
        };
        for (id, p) in &me.projects {
            match id.parse::<u64>() {
                Ok(id) if p.organization_id == self.api.org() => {
                    let id = ProjectId(id);
                    if !projects.contains(&id) {
                        projects.push(id);
                    }
                }
                _ => {}
            }
        }
        Ok(projects)
    }

    /// Compares the new account's access with the old one's before promotion: the
    /// organization role, the teams, and the individual grant on every project either can
    /// reach. An individual grant of the old account missing on the new one is added (and read
    /// back); any other difference stops the rotation in `needs_human`. For an entry that
    /// declares a role per project, each declared project's role is what the new account must
    /// hold (whatever the old one holds), and is read back even when there is no old account.
    pub(crate) async fn check_access(
        &self,
        name: &str,
        entry: &InventoryEntry,
        j: &FencedJournal<'_>,
        client: &A::Probe,
    ) -> Result<()> {
        let (new_id, _, _) = new_account(j)?;
        let declared = entry.has_project_roles();
        let old_id = match j.old_sa_id {
            Some(id) => id,
            None if declared => return self.check_declared(name, entry, j, new_id).await,
            None => return Ok(()),
        };
        let accounts = self.api.list_service_accounts().await?;
        let Some(old) = accounts.iter().find(|a| a.id == old_id) else {
            tracing::warn!(
                credential = name,
                old_id = old_id.0,
                "the old account no longer exists: nothing to compare the new one with"
            );
            if declared {
                return self.check_declared(name, entry, j, new_id).await;
            }
            return Ok(());
        };
        let new = accounts.iter().find(|a| a.id == new_id).ok_or_else(|| {
            RotatorError::Invalid(format!(
                "the new account (id {new_id}) is not in the organization's list yet"
            ))
        })?;
        let mut diffs = Vec::new();
        let (ro, rn) = (old.role.map(|r| r.min_admin()), new.role);
        if ro != rn {
            diffs.push(format!(
                "organization role {} on the old account, {} on the new",
                ro.map(|r| r.to_string()).unwrap_or_else(|| "none".into()),
                rn.map(|r| r.to_string()).unwrap_or_else(|| "none".into())
            ));
        }
        let teams = self.api.list_teams().await?;
        for t in &teams {
            let (o, n) = (
                t.service_accounts.contains(&old_id),
                t.service_accounts.contains(&new_id),
            );
            if o != n {
                diffs.push(format!(
                    "team {} has {} account only",
                    t.name,
                    if o { "the old" } else { "the new" }
                ));
            }
        }
        let mut projects = if declared {
            entry.projects.clone()
        } else {
            self.old_account_projects(name, entry, Some(old_id)).await?
        };
        let me_new = self.api.me_with(client).await?;
        for (id, p) in &me_new.projects {
            if let (Ok(id), true) = (id.parse::<u64>(), p.organization_id == self.api.org()) {
                if !projects.contains(&ProjectId(id)) {
                    projects.push(ProjectId(id));
                }
            }
        }
        projects.sort();
        projects.dedup();
        let wanted = declared_grants(entry);
        // The old account's individual grants (the declared ones, for an entry that declares a
        // role per project) the new one lacks are added all at once (the client packs them
        // into one request), then each is read back.
        let mut missing = Vec::new();
        for p in projects {
            let members = match self.api.list_project_service_accounts(p).await {
                Ok(m) => m,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            let o = if declared {
                wanted.iter().find(|g| g.id == p).map(|g| g.role)
            } else {
                individual(&members, old_id).map(MinAdmin::min_admin)
            };
            let n = individual(&members, new_id);
            match (o, n) {
                (Some(role), None) => missing.push(ProjectRoleGrant { id: p, role }),
                (o, n) if o != n => diffs.push(role_diff(p, o, n)),
                _ => {}
            }
        }
        self.add_missing(name, j, new_id, &missing, &mut diffs)
            .await?;
        verdict(
            name,
            j,
            &diffs,
            "the new account has the same access as the old one",
            "the new account's access differs from the old one's",
        )
    }

    /// With no old account to compare with: the new account must hold each declared
    /// project's role (missing ones are added and read back).
    async fn check_declared(
        &self,
        name: &str,
        entry: &InventoryEntry,
        j: &FencedJournal<'_>,
        new_id: ServiceAccountId,
    ) -> Result<()> {
        let (mut missing, mut diffs) = (Vec::new(), Vec::new());
        for g in declared_grants(entry) {
            let members = self.api.list_project_service_accounts(g.id).await?;
            match individual(&members, new_id) {
                None => missing.push(g),
                Some(n) if n != g.role => diffs.push(role_diff(g.id, Some(g.role), Some(n))),
                Some(_) => {}
            }
        }
        self.add_missing(name, j, new_id, &missing, &mut diffs)
            .await?;
        verdict(
            name,
            j,
            &diffs,
            "the new account holds every declared project role (read back)",
            "the new account's project roles differ from the inventory's",
        )
    }

    /// Adds `missing` to the new account all at once, then reads each back: a grant that does
    /// not read back as asked goes to `diffs`, a failed add makes a partial-failure error.
    async fn add_missing(
        &self,
        name: &str,
        j: &FencedJournal<'_>,
        new_id: ServiceAccountId,
        missing: &[ProjectRoleGrant],
        diffs: &mut Vec<String>,
    ) -> Result<()> {
        if !missing.is_empty() {
            // A write to Mixpanel: not after the term ended (the grants go to the new account,
            // which the next leader finishes or deletes as an orphan).
            j.still_fenced()?;
            let adds: Vec<_> = missing
                .iter()
                .map(|g| {
                    let (api, grant) = (self.api.clone(), *g);
                    tokio::spawn(async move {
                        api.add_service_accounts_to_projects(&[new_id], &[grant])
                            .await
                    })
                })
                .collect();
            let mut outcomes = Vec::new();
            for add in adds {
                outcomes.push(joined(add.await));
            }
            let (mut added, mut failed) = (Vec::new(), Vec::new());
            for (g, outcome) in missing.iter().zip(outcomes) {
                let members = self.api.list_project_service_accounts(g.id).await?;
                let n = individual(&members, new_id);
                match outcome {
                    _ if n == Some(g.role) => {
                        tracing::info!(credential = name, rotation_id = %j.rotation_id, project = g.id.0, role = %g.role, "added the old account's individual grant the new one lacked (read back)");
                        added.push(format!("{} on project {}", g.role, g.id));
                    }
                    Err(e) => failed.push((format!("{} on project {}", g.role, g.id), e)),
                    Ok(()) => diffs.push(role_diff(g.id, Some(g.role), n)),
                }
            }
            if !failed.is_empty() {
                return Err(partial_failure(
                    "the account's individual project grants",
                    &added,
                    failed,
                ));
            }
        }
        Ok(())
    }

    pub(crate) async fn sa_test(
        &self,
        entry: &InventoryEntry,
        j: &mut FencedJournal<'_>,
    ) -> Result<Next> {
        let name = entry.name.as_str();
        let (new_id, username, secret) = new_account(j)?;
        if let Some(old_id) = j.old_sa_id {
            let teams = self.api.list_teams().await?;
            let joins: Vec<&mixpanel_access::model::Team> = teams
                .iter()
                .filter(|t| {
                    t.service_accounts.contains(&old_id) && !t.service_accounts.contains(&new_id)
                })
                .collect();
            if !joins.is_empty() {
                // A write to Mixpanel: not after the term ended (see `add_missing`).
                j.still_fenced()?;
                // All at once (one round trip, not one per team), then one listing reads every
                // team back.
                let adds: Vec<_> = joins
                    .iter()
                    .map(|t| {
                        let (api, team) = (self.api.clone(), t.id);
                        tokio::spawn(async move {
                            api.add_service_accounts_to_team(team, &[new_id]).await
                        })
                    })
                    .collect();
                let mut outcomes = Vec::new();
                for add in adds {
                    outcomes.push(joined(add.await));
                }
                let now = self.api.list_teams().await?;
                let (mut added, mut failed) = (Vec::new(), Vec::new());
                for (t, outcome) in joins.iter().zip(outcomes) {
                    let shown = now
                        .iter()
                        .any(|x| x.id == t.id && x.service_accounts.contains(&new_id));
                    match outcome {
                        _ if shown => {
                            tracing::info!(credential = name, rotation_id = %j.rotation_id, team = %t.name, "new account added to the old one's team (read back)");
                            added.push(format!("team {}", t.name));
                        }
                        Err(e) => failed.push((format!("team {}", t.name), e)),
                        Ok(()) => failed.push((
                            format!("team {}", t.name),
                            ApiError::Config(
                                "the add answered success but the team's listing does not show the new account".into(),
                            ),
                        )),
                    }
                }
                if !failed.is_empty() {
                    return Err(partial_failure("the old account's teams", &added, failed));
                }
            }
        }
        let client = self.api.client_for(username.as_str(), secret)?;
        let project = entry.projects.first().copied();
        let probe = async {
            self.api.me_with(&client).await?;
            if let Some(p) = project {
                self.api.project_call_with(&client, p).await?;
            }
            Ok::<(), ApiError>(())
        }
        .await;
        if let Err(e) = probe {
            // Not yet (propagation): the driver waits and runs this step again.
            return Ok(Next::NotYet(e));
        }
        self.check_access(name, entry, j, &client).await?;
        Ok(Next::To(Phase::Tested))
    }

    pub(crate) async fn sa_promote(&self, j: &mut FencedJournal<'_>) -> Result<Next> {
        let name = j.name().to_string();
        let name = name.as_str();
        let (new_id, username, secret) = new_account(j)?;
        j.verify_fencing(self.store).await?;
        let current = self.store.read_credential(name).await?;
        let already = matches!(&current, Some((Credential::ServiceAccount { sa_id, .. }, _)) if *sa_id == new_id);
        if !already {
            let credential = Credential::ServiceAccount {
                username: username.clone(),
                secret,
                sa_id: new_id,
            };
            let version = self.write_over_current(name, &credential).await?;
            tracing::info!(credential = name, rotation_id = %j.rotation_id, version, "new credential promoted: consumers now read it");
        }
        let mut e = inventory::entry(self.store, name).await?;
        e.record_rotation(
            Utc::now(),
            Some(j.rotation_id.clone()),
            Some(trigger_label(j)),
        );
        e.sa_id = Some(new_id);
        e.username = Some(username);
        inventory::patch_fields_new_secret(
            self.store,
            &e,
            &[ROTATION_FIELDS, &["sa_id", "username"]].concat(),
        )
        .await?;
        Ok(Next::To(Phase::Promoted))
    }

    pub(crate) async fn sa_revoke(&self, j: &mut FencedJournal<'_>) -> Result<Next> {
        let name = j.name().to_string();
        let name = name.as_str();
        j.verify_fencing(self.store).await?;
        let stored = self.store.read_credential(name).await?;
        let holds_new = matches!(&stored, Some((Credential::ServiceAccount { sa_id, .. }, _)) if Some(*sa_id) == j.new_sa_id);
        if !holds_new {
            return Err(RotatorError::Invalid(format!(
                "creds/{name} does not hold the new account (id {}): refusing to delete the old one",
                j.new_sa_id.map(|i| i.0.to_string()).unwrap_or_default()
            )));
        }
        if let Some(old) = j.old_sa_id.filter(|o| Some(*o) != j.new_sa_id) {
            self.api.delete_service_account(old).await?;
            tracing::info!(credential = name, rotation_id = %j.rotation_id, old_id = old.0, old_account = %j.old_username.as_ref().map(|u| u.to_string()).unwrap_or_default(), "old service account deleted");
        }
        Ok(Next::To(Phase::RevokedOld))
    }

    pub(crate) async fn sa_finish(&self, j: &mut FencedJournal<'_>) -> Result<Next> {
        let name = j.name().to_string();
        let name = name.as_str();
        // Every account this rotation may have created, under its username or an abandoned
        // one, except the promoted one: exactly one is kept, checked by a second listing.
        let mut names: Vec<String> = j.abandoned_usernames.clone();
        if let Some(u) = j.new_username.clone() {
            names.push(u);
        }
        let twins = |accounts: &[mixpanel_access::model::ServiceAccount]| -> Vec<(ServiceAccountId, String)> {
            accounts
                .iter()
                .filter(|a| {
                    names.iter().any(|n| a.username.base_name() == n.as_str())
                        && Some(a.id) != j.new_sa_id
                })
                .map(|a| (a.id, a.username.to_string()))
                .collect()
        };
        // The revocation, verified by a read: the old account is no longer listed (deleted
        // again if it is), and neither is any twin.
        let old = j.old_sa_id.filter(|o| Some(*o) != j.new_sa_id);
        let listed = |accounts: &[mixpanel_access::model::ServiceAccount]| {
            old.filter(|o| accounts.iter().any(|a| a.id == *o))
        };
        let accounts = self.api.list_service_accounts().await?;
        let old_left = listed(&accounts);
        if let Some(o) = old_left {
            j.verify_fencing(self.store).await?;
            tracing::warn!(credential = name, rotation_id = %j.rotation_id, old_id = o.0, "the old account is still listed after its deletion: deleting it again");
            self.api.delete_service_account(o).await?;
        }
        let found = twins(&accounts);
        for (id, username) in &found {
            j.verify_fencing(self.store).await?;
            tracing::warn!(credential = name, rotation_id = %j.rotation_id, twin = %username, "deleting a twin account left by an ambiguous create");
            self.api.delete_service_account(*id).await?;
        }
        // Checked by a second listing when something was deleted.
        if !found.is_empty() || old_left.is_some() {
            let again = self.api.list_service_accounts().await?;
            if let Some(o) = listed(&again) {
                return Err(RotatorError::Invalid(format!(
                    "the old account (id {}) is still listed after its deletion: it still works; delete it by hand in Mixpanel (Organization settings > Service accounts)",
                    o.0
                )));
            }
            let left = twins(&again);
            if !left.is_empty() {
                return Err(RotatorError::Invalid(format!(
                    "twin account(s) still listed after their deletion: {}",
                    left.iter()
                        .map(|(_, u)| u.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(Next::To(Phase::Done))
    }

    // ---- project secrets and tokens ----

    pub(crate) fn project_of(entry: &InventoryEntry) -> Result<ProjectId> {
        entry.projects.first().copied().ok_or_else(|| {
            RotatorError::Invalid(format!("{} {} names no project", entry.kind, entry.name))
        })
    }

    pub(crate) async fn project_reset(
        &self,
        entry: &InventoryEntry,
        j: &mut FencedJournal<'_>,
    ) -> Result<Next> {
        let project = Self::project_of(entry)?;
        // A reset cannot be fenced: not after the term ended.
        j.still_fenced()?;
        let value = match entry.kind {
            CredentialKind::ProjectToken => self
                .api
                .reset_project_token(project)
                .await
                .map(SecretString::from),
            _ => self.api.reset_project_secret(project).await,
        };
        let missing_route = match &value {
            Err(ApiError::EmulatorOnly { .. }) => true,
            // A 404 for a project that exists: the route is what is missing (a proxy in front
            // of Mixpanel, or an emulator hiding its own routes).
            Err(e) if e.is_not_found() => self.api.project_metadata(project).await.is_ok(),
            _ => false,
        };
        let value = match value {
            Ok(v) => v,
            Err(_) if missing_route => {
                // No reset route here after all: finish this journal and fall back to a mirror.
                self.api.mark_reset_routes_missing();
                tracing::warn!(credential = %entry.name, project = project.0, "this API cannot reset project credentials: the value is mirrored and marked manual_rotation_required");
                j.edit().last_error = Some("no reset API: manual rotation required".into());
                j.advance(self.store, Phase::Done).await?;
                self.mirror(entry, j.reason.as_deref().map(|r| (j.trigger, r)))
                    .await?;
                return Ok(Next::Again);
            }
            Err(e) => return Err(e.into()),
        };
        crash::after("create");
        tracing::info!(credential = %entry.name, rotation_id = %j.rotation_id, project = project.0, kind = %entry.kind, "project {} reset", if entry.kind == CredentialKind::ProjectToken { "token" } else { "secret" });
        j.edit().pending_secret = Some(value);
        Ok(Next::To(Phase::Created))
    }

    /// The project credential the journal's pending value makes, with the other half from
    /// the project's metadata.
    pub(crate) async fn project_credential(
        &self,
        entry: &InventoryEntry,
        j: &Journal,
    ) -> Result<Credential> {
        let project = Self::project_of(entry)?;
        let pending = j.pending_secret.clone().ok_or_else(|| {
            RotatorError::Invalid("the journal has no pending value to promote".into())
        })?;
        let meta = self.api.project_metadata(project).await?;
        Ok(match entry.kind {
            CredentialKind::ProjectToken => Credential::ProjectToken {
                project_id: project,
                token: pending.expose_secret().to_string(),
            },
            _ => Credential::ProjectSecret {
                project_id: project,
                secret: pending,
                token: meta.token,
            },
        })
    }

    pub(crate) async fn project_test(
        &self,
        entry: &InventoryEntry,
        j: &mut FencedJournal<'_>,
    ) -> Result<Next> {
        let project = Self::project_of(entry)?;
        let cred = self.project_credential(entry, j).await?;
        let pair = match &cred {
            Credential::ProjectSecret {
                secret,
                token: Some(token),
                ..
            } => Some((token.clone(), secret.clone())),
            Credential::ProjectToken { token, .. } => self
                .api
                .project_metadata(project)
                .await?
                .secret
                .map(|s| (token.clone(), s)),
            _ => None,
        };
        if let Some((token, secret)) = pair {
            if !self
                .api
                .validate_project_credentials(&token, &secret)
                .await?
            {
                return Err(RotatorError::Invalid(format!(
                    "the new {} of project {project} does not validate",
                    entry.kind
                )));
            }
        }
        Ok(Next::To(Phase::Tested))
    }

    pub(crate) async fn project_promote(
        &self,
        entry: &InventoryEntry,
        j: &mut FencedJournal<'_>,
    ) -> Result<Next> {
        let name = entry.name.as_str();
        let cred = self.project_credential(entry, j).await?;
        j.verify_fencing(self.store).await?;
        let current = self.store.read_credential(name).await?;
        if !current.as_ref().is_some_and(|(c, _)| same_value(c, &cred)) {
            self.write_over_current(name, &cred).await?;
        }
        let mut e = inventory::entry(self.store, name).await?;
        e.record_rotation(
            Utc::now(),
            Some(j.rotation_id.clone()),
            Some(clip(
                &format!("{}; reset through the API", trigger_label(j)),
                300,
            )),
        );
        inventory::patch_fields_new_secret(self.store, &e, ROTATION_FIELDS).await?;
        if let Credential::ProjectToken { token, project_id } = &cred {
            self.update_token_beside_secrets(*project_id, token).await?;
        }
        Ok(Next::To(Phase::Promoted))
    }

    /// A project token was reset: the project secrets stored with the old token beside them
    /// get the new one (a new version each), so their consumers do not pair a valid secret
    /// with a token that no longer exists.
    pub(crate) async fn update_token_beside_secrets(
        &self,
        project: ProjectId,
        token: &str,
    ) -> Result<()> {
        for r in inventory::load(self.store).await? {
            let Ok(e) = &r.entry else { continue };
            if e.kind != CredentialKind::ProjectSecret || e.projects.first() != Some(&project) {
                continue;
            }
            let Some((
                Credential::ProjectSecret {
                    secret, token: old, ..
                },
                info,
            )) = self.store.read_credential(&e.name).await?
            else {
                continue;
            };
            if old.as_deref() == Some(token) {
                continue;
            }
            let cred = Credential::ProjectSecret {
                project_id: project,
                secret,
                token: Some(token.to_string()),
            };
            self.store
                .write_credential(&e.name, &cred, info.version)
                .await?;
            tracing::info!(credential = %e.name, project = project.0, "the new project token is stored beside the project secret");
        }
        Ok(())
    }

    /// Reads a project secret or token back from Mixpanel into `creds/<name>` (only when it
    /// changed), validates it, and records the status: `manual_rotation_required` when it is
    /// due (or a trigger asked for a rotation), with the reason. A value that changed since the
    /// last mirror was rotated by hand: that counts as a rotation.
    pub async fn mirror(
        &self,
        entry: &InventoryEntry,
        mut asked: Option<(Trigger, &str)>,
    ) -> Result<CredentialStatus> {
        let name = entry.name.as_str();
        let project = Self::project_of(entry)?;
        let meta = self.api.project_metadata(project).await?;
        let cred = match entry.kind {
            CredentialKind::ProjectSecret => {
                let secret = meta.secret.clone().ok_or_else(|| {
                    RotatorError::Invalid(format!(
                        "Mixpanel did not return the API secret of project {project}: the rotator's service account needs the owner or admin role on it"
                    ))
                })?;
                if let Some(token) = &meta.token {
                    if !self
                        .api
                        .validate_project_credentials(token, &secret)
                        .await?
                    {
                        return Err(RotatorError::Invalid(format!(
                            "the API secret of project {project} does not validate against its token"
                        )));
                    }
                }
                Credential::ProjectSecret {
                    project_id: project,
                    secret,
                    token: meta.token.clone(),
                }
            }
            CredentialKind::ProjectToken => Credential::ProjectToken {
                project_id: project,
                token: meta.token.clone().ok_or_else(|| {
                    RotatorError::Invalid(format!(
                        "Mixpanel did not return the token of project {project}"
                    ))
                })?,
            },
            CredentialKind::ServiceAccount => {
                return Err(RotatorError::Invalid(
                    "service accounts are rotated, not mirrored".into(),
                ))
            }
        };
        let now = Utc::now();
        let current = self.store.read_credential(name).await?;
        let changed = !current.as_ref().is_some_and(|(c, _)| same_value(c, &cred));
        let mut e = inventory::entry(self.store, name).await?;
        if changed {
            self.write_over_current(name, &cred).await?;
            if current.is_some() {
                tracing::info!(credential = name, project = project.0, "the value changed in Mixpanel since the last mirror: recorded as a manual rotation");
                e.record_rotation(now, None, Some("manual (detected by the mirror)".into()));
            }
        }
        let hint = match entry.kind {
            CredentialKind::ProjectToken => format!(
                "not reset, mirrored: this API has no route to reset a project token (Mixpanel's has none; only Mixpanel support can): the rotator mirrors and checks the current token of project {project}"
            ),
            _ => format!(
                "not reset, mirrored: this API has no route to reset a project API secret (Mixpanel's has none): reset it in the settings of project {project} (owners only); the rotator mirrors and validates the current value"
            ),
        };
        e.refresh(now);
        if self.can_rotate(e.kind) && e.status == CredentialStatus::ManualRotationRequired {
            // The API can reset it here: it is simply due (the rotator will rotate it).
            e.status = CredentialStatus::Due;
            e.status_reason = e
                .status_reason
                .as_deref()
                .and_then(|r| r.split("; ").next())
                .map(str::to_string);
            asked = None;
        }
        let (status, reason) = match (asked, e.status) {
            (Some((trigger, why)), _) => (
                CredentialStatus::ManualRotationRequired,
                Some(format!("{trigger}: {why}; {hint}")),
            ),
            (None, CredentialStatus::Ok) => (CredentialStatus::Ok, None),
            (None, CredentialStatus::Due) if self.can_rotate(e.kind) => {
                (CredentialStatus::Due, e.status_reason.clone())
            }
            (None, s) => (
                CredentialStatus::ManualRotationRequired,
                Some(format!(
                    "{}; {hint}",
                    e.status_reason.clone().unwrap_or_else(|| s.to_string())
                )),
            ),
        };
        e.status = status;
        e.status_reason = reason.map(|r| clip(&r, 500));
        if changed {
            inventory::patch_fields_new_secret(self.store, &e, ROTATION_FIELDS).await?;
        } else {
            inventory::patch_fields(self.store, &e, ROTATION_FIELDS).await?;
        }
        inventory::patch_extra(self.store, name, MIRRORED_KEY, Some(inventory::stamp(now))).await?;
        tracing::info!(credential = name, project = project.0, status = %status, changed, "current value mirrored and validated");
        Ok(status)
    }
}

/// `membership: admin ana@x removed from project 42`.
fn trigger_label(j: &Journal) -> String {
    match &j.reason {
        Some(r) => clip(&format!("{}: {r}", j.trigger), 200),
        None => j.trigger.to_string(),
    }
}

/// The new account the journal records from phase `created` on: id, username and secret.
fn new_account(j: &Journal) -> Result<(ServiceAccountId, ServiceAccountUsername, SecretString)> {
    match (
        j.new_sa_id,
        j.new_full_username.clone(),
        j.pending_secret.clone(),
    ) {
        (Some(i), Some(u), Some(s)) => Ok((i, u, s)),
        _ => Err(RotatorError::Invalid(format!(
            "the journal is in phase {} without the new account",
            j.phase.as_str()
        ))),
    }
}

/// Service accounts hold at most admin.
trait MinAdmin {
    fn min_admin(self) -> ProjectRole;
}

impl MinAdmin for ProjectRole {
    fn min_admin(self) -> ProjectRole {
        if self == ProjectRole::Owner {
            ProjectRole::Admin
        } else {
            self
        }
    }
}

/// A `project P: individual role X on the old account, Y on the new` difference.
/// The outcome of an access check: `ok` logged when nothing differs, otherwise `needs_human`
/// with `differs` and the differences.
fn verdict(name: &str, j: &Journal, diffs: &[String], ok: &str, differs: &str) -> Result<()> {
    if diffs.is_empty() {
        tracing::info!(credential = name, rotation_id = %j.rotation_id, "{ok}");
        Ok(())
    } else {
        Err(RotatorError::NeedsHuman(clip(
            &format!("{differs}, so it is not promoted: {}", diffs.join("; ")),
            380,
        )))
    }
}

/// The individual grant of account `id` among a project's service accounts.
fn individual(
    members: &[mixpanel_access::model::ProjectServiceAccount],
    id: ServiceAccountId,
) -> Option<ProjectRole> {
    members
        .iter()
        .find(|m| m.account.id == id && m.target_type == TargetType::Individual)
        .map(|m| m.project_role)
}

/// The grants an entry that declares a role per project gives each successor (none for an
/// entry of the earlier shape).
fn declared_grants(entry: &InventoryEntry) -> Vec<ProjectRoleGrant> {
    if !entry.has_project_roles() {
        return Vec::new();
    }
    entry
        .grants()
        .into_iter()
        .map(|(id, role)| ProjectRoleGrant {
            id,
            role: role.min_admin(),
        })
        .collect()
}

fn role_diff(p: ProjectId, o: Option<ProjectRole>, n: Option<ProjectRole>) -> String {
    format!(
        "project {p}: individual role {} on the old account, {} on the new",
        o.map(|r| r.to_string()).unwrap_or_else(|| "none".into()),
        n.map(|r| r.to_string()).unwrap_or_else(|| "none".into())
    )
}

/// The outcome of a spawned API call.
fn joined(
    r: std::result::Result<std::result::Result<(), ApiError>, tokio::task::JoinError>,
) -> std::result::Result<(), ApiError> {
    r.unwrap_or_else(|e| Err(ApiError::local("the request's task failed", e)))
}

/// Grants of a successor made together of which some failed: one failure alone is the API's
/// error (so its kind, e.g. a rate limit's wait, drives the retry); several, or a failure next
/// to grants that were made, say which were made (read back) and which were not. The step is
/// retried and adds only what is still missing.
fn partial_failure(
    what: &str,
    added: &[String],
    mut failed: Vec<(String, ApiError)>,
) -> RotatorError {
    if added.is_empty() && failed.len() == 1 {
        return RotatorError::Api(failed.remove(0).1);
    }
    // Grants that failed the same way share their error: every grant is named within the clip.
    let mut by_error: Vec<(String, Vec<String>)> = Vec::new();
    for (g, e) in failed {
        let e = e.to_string();
        match by_error.iter_mut().find(|(x, _)| *x == e) {
            Some((_, gs)) => gs.push(g),
            None => by_error.push((e, vec![g])),
        }
    }
    let failed: Vec<String> = by_error
        .into_iter()
        .map(|(e, gs)| format!("{} ({e})", gs.join(", ")))
        .collect();
    RotatorError::Invalid(clip(
        &format!(
            "copying {what} to the new account is partial: not made: {}; made and read back: {}",
            failed.join("; "),
            if added.is_empty() {
                "none".to_string()
            } else {
                added.join(", ")
            }
        ),
        380,
    ))
}
