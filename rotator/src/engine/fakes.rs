//! In-memory fakes of Vault and Mixpanel for the unit tests of the phase machine: the store
//! keeps versions and check-and-set and refuses a journal write whose fencing token is not the
//! live lease's, as Vault does; the API keeps an organization's service accounts, teams,
//! individual project grants and project secrets, and fails the calls a test asks it to.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use mixpanel_access::api::{wire, ApiError};
use mixpanel_access::model::{
    CreatedServiceAccount, OrgId, ProjectId, ProjectRole, ProjectRoleGrant, ProjectServiceAccount,
    ServiceAccount, ServiceAccountId, TargetType, Team, TeamId,
};
use mixpanel_access::vault::{
    Credential, FencingToken, Journal, KvMetadata, Phase, VaultError, VersionInfo,
};
use secrecy::{ExposeSecret, SecretString};

use crate::error::Result;
use crate::ports::{RotationApi, RotationStore};

#[derive(Default)]
pub struct StoreState {
    pub creds: BTreeMap<String, (Credential, u64)>,
    pub meta: BTreeMap<String, BTreeMap<String, String>>,
    pub journals: BTreeMap<String, (Journal, u64)>,
    /// The live lease: holder and fencing token.
    pub lease: Option<(String, FencingToken)>,
    /// The phase of every journal written, in order.
    pub written: Vec<Phase>,
    /// Every write of any kind (journal, credential, metadata).
    pub writes: usize,
    /// After a journal in this phase is written, every later journal write fails the way a
    /// crashed process's would never happen: the drive stops there, the journal intact.
    pub crash_after: Option<Phase>,
}

#[derive(Default)]
pub struct FakeStore {
    pub s: Mutex<StoreState>,
}

impl FakeStore {
    pub fn state(&self) -> std::sync::MutexGuard<'_, StoreState> {
        self.s.lock().expect("fake store lock")
    }
}

fn version(v: u64) -> VersionInfo {
    VersionInfo {
        version: v,
        created_time: Some(Utc::now()),
        deletion_time: None,
        destroyed: false,
    }
}

impl RotationStore for FakeStore {
    async fn read_journal(&self, name: &str) -> Result<Option<(Journal, u64)>, VaultError> {
        Ok(self.state().journals.get(name).cloned())
    }
    async fn write_journal(
        &self,
        name: &str,
        journal: &Journal,
        cas: u64,
        fencing: FencingToken,
    ) -> Result<u64, VaultError> {
        let mut s = self.state();
        let path = format!("state/{name}");
        if s.lease.as_ref().map(|(_, t)| *t) != Some(fencing) {
            return Err(VaultError::LostLeadership {
                path,
                reason: format!("fencing token {fencing} is not the live lease's"),
            });
        }
        if let Some(p) = s.crash_after {
            if s.written.last() == Some(&p) {
                return Err(VaultError::LostLeadership {
                    path,
                    reason: "the process crashed (test)".into(),
                });
            }
        }
        let current = s.journals.get(name).map(|(_, v)| *v).unwrap_or(0);
        if current != cas {
            return Err(VaultError::CasMismatch {
                path,
                expected: cas,
            });
        }
        let mut j = journal.clone();
        j.fencing_token = fencing;
        s.written.push(j.phase);
        s.writes += 1;
        s.journals.insert(name.to_string(), (j, current + 1));
        Ok(current + 1)
    }
    async fn read_credential(
        &self,
        name: &str,
    ) -> Result<Option<(Credential, VersionInfo)>, VaultError> {
        Ok(self
            .state()
            .creds
            .get(name)
            .map(|(c, v)| (c.clone(), version(*v))))
    }
    async fn write_credential(
        &self,
        name: &str,
        credential: &Credential,
        cas: u64,
    ) -> Result<u64, VaultError> {
        let mut s = self.state();
        let current = s.creds.get(name).map(|(_, v)| *v).unwrap_or(0);
        if current != cas {
            return Err(VaultError::CasMismatch {
                path: format!("creds/{name}"),
                expected: cas,
            });
        }
        s.writes += 1;
        s.creds
            .insert(name.to_string(), (credential.clone(), current + 1));
        s.meta.entry(name.to_string()).or_default();
        Ok(current + 1)
    }
    async fn read_metadata(&self, name: &str) -> Result<Option<KvMetadata>, VaultError> {
        let s = self.state();
        Ok(s.meta.get(name).map(|m| KvMetadata {
            current_version: s.creds.get(name).map(|(_, v)| *v).unwrap_or(0),
            custom_metadata: m.clone(),
            ..KvMetadata::default()
        }))
    }
    async fn patch_metadata(
        &self,
        name: &str,
        fields: &BTreeMap<String, Option<String>>,
    ) -> Result<(), VaultError> {
        let mut s = self.state();
        s.writes += 1;
        let Some(m) = s.meta.get_mut(name) else {
            return Err(VaultError::NotFound {
                path: format!("creds/{name}"),
            });
        };
        for (k, v) in fields {
            match v {
                Some(v) => m.insert(k.clone(), v.clone()),
                None => m.remove(k),
            };
        }
        Ok(())
    }
    async fn visit_credentials(
        &self,
        visit: &mut (dyn FnMut(String, KvMetadata) + Send),
    ) -> Result<(), VaultError> {
        let all: Vec<(String, KvMetadata)> = {
            let s = self.state();
            s.meta
                .iter()
                .map(|(n, m)| {
                    (
                        n.clone(),
                        KvMetadata {
                            current_version: s.creds.get(n).map(|(_, v)| *v).unwrap_or(0),
                            custom_metadata: m.clone(),
                            ..KvMetadata::default()
                        },
                    )
                })
                .collect()
        };
        for (n, m) in all {
            visit(n, m);
        }
        Ok(())
    }
    async fn lease_holder(&self) -> Result<Option<(String, FencingToken)>, VaultError> {
        Ok(self.state().lease.clone())
    }
}

pub const ORG: OrgId = OrgId(1);

#[derive(Default)]
pub struct Org {
    pub next_id: u64,
    /// Accounts and their secrets.
    pub accounts: Vec<(ServiceAccount, String)>,
    pub teams: Vec<Team>,
    /// Individual project grants: project, account, role.
    pub grants: Vec<(ProjectId, ServiceAccountId, ProjectRole)>,
    /// Project secrets and tokens.
    pub projects: BTreeMap<ProjectId, (String, String)>,
    /// Calls that will fail, in order: (operation, error); an operation's first pending
    /// fault fails its next call.
    pub faults: VecDeque<(&'static str, ApiError)>,
    /// Every call, by operation.
    pub calls: Vec<&'static str>,
    /// The next accounts are created as consumers whatever the request says (a successor
    /// whose access differs).
    pub create_as_consumer: bool,
    /// When this operation is called, the term whose cancellation token this is ends (a
    /// renewal failing while the call is in flight); the call itself answers.
    pub end_term_on: Option<(&'static str, tokio_util::sync::CancellationToken)>,
}

#[derive(Clone, Default)]
pub struct FakeApi {
    pub org: Arc<Mutex<Org>>,
}

impl FakeApi {
    pub fn org(&self) -> std::sync::MutexGuard<'_, Org> {
        self.org.lock().expect("fake org lock")
    }

    /// Records the call, and fails it if a fault is pending for it.
    fn call(&self, op: &'static str) -> Result<std::sync::MutexGuard<'_, Org>, ApiError> {
        let mut o = self.org();
        o.calls.push(op);
        if let Some((_, term)) = o.end_term_on.as_ref().filter(|(on, _)| *on == op) {
            term.cancel();
        }
        if let Some(i) = o.faults.iter().position(|(f, _)| *f == op) {
            let (_, e) = o.faults.remove(i).expect("the fault found");
            return Err(e);
        }
        Ok(o)
    }

    /// Adds an account; returns its id.
    pub fn add_account(&self, base: &str, role: ProjectRole, secret: &str) -> ServiceAccountId {
        let mut o = self.org();
        new_account(&mut o, base, Some(role), secret).id
    }

    pub fn calls(&self, op: &str) -> usize {
        self.org().calls.iter().filter(|c| **c == op).count()
    }
}

fn new_account(o: &mut Org, base: &str, role: Option<ProjectRole>, secret: &str) -> ServiceAccount {
    o.next_id += 1;
    let id = ServiceAccountId(o.next_id);
    let account = ServiceAccount {
        id,
        username: format!("{base}.{:04x}.mp-service-account", o.next_id)
            .parse()
            .expect("a valid username"),
        role,
        expires: None,
        created: Utc::now(),
        creator: None,
        last_used: None,
        user: None,
    };
    o.accounts.push((account.clone(), secret.to_string()));
    account
}

/// A probe: the credential a new secret is tested with.
pub struct Probe {
    username: String,
    secret: SecretString,
}

fn unauthorized(route: &'static str) -> ApiError {
    ApiError::Unauthorized {
        route,
        message: "bad credentials".into(),
    }
}

fn members(o: &Org, project: ProjectId) -> Vec<ProjectServiceAccount> {
    o.grants
        .iter()
        .filter(|(p, _, _)| *p == project)
        .filter_map(|(_, id, role)| {
            o.accounts
                .iter()
                .find(|(a, _)| a.id == *id)
                .map(|(a, _)| ProjectServiceAccount {
                    account: a.clone(),
                    project_role: *role,
                    target_type: TargetType::Individual,
                    has_sensitive_access: false,
                    custom_role_id: None,
                })
        })
        .collect()
}

impl RotationApi for FakeApi {
    type Probe = Probe;

    fn org(&self) -> OrgId {
        ORG
    }
    fn own_username(&self) -> String {
        "rotator.0fff.mp-service-account".into()
    }
    fn can_reset_project_credentials(&self) -> bool {
        true
    }
    fn mark_reset_routes_missing(&self) {}
    fn client_for(&self, username: &str, secret: SecretString) -> Result<Probe> {
        Ok(Probe {
            username: username.to_string(),
            secret,
        })
    }
    async fn me_with(&self, probe: &Probe) -> Result<wire::Me, ApiError> {
        let o = self.call("me")?;
        let Some((a, _)) = o.accounts.iter().find(|(a, s)| {
            a.username.as_str() == probe.username && s == probe.secret.expose_secret()
        }) else {
            return Err(unauthorized("me"));
        };
        let mut projects = serde_json::Map::new();
        for (p, id, _) in &o.grants {
            if *id == a.id {
                projects.insert(
                    p.0.to_string(),
                    serde_json::json!({"name": "p", "organization_id": ORG.0, "domain": "d", "timezone": "UTC"}),
                );
            }
        }
        serde_json::from_value(serde_json::json!({
            "user_id": 1, "user_email": "sa@example.com", "projects": projects
        }))
        .map_err(|e| ApiError::decode("me", e.to_string()))
    }
    async fn project_call_with(
        &self,
        probe: &Probe,
        project: ProjectId,
    ) -> Result<Vec<ProjectServiceAccount>, ApiError> {
        self.me_with(probe).await?;
        let o = self.call("project_call")?;
        Ok(members(&o, project))
    }
    async fn list_service_accounts(&self) -> Result<Vec<ServiceAccount>, ApiError> {
        let o = self.call("list_service_accounts")?;
        Ok(o.accounts.iter().map(|(a, _)| a.clone()).collect())
    }
    async fn create_service_account(
        &self,
        request: &wire::CreateServiceAccount,
    ) -> Result<CreatedServiceAccount, ApiError> {
        let mut o = self.call("create_service_account")?;
        let secret = format!("secret-{}", o.next_id + 1);
        let role = if o.create_as_consumer {
            ProjectRole::Consumer
        } else {
            request.role
        };
        let account = new_account(&mut o, &request.username, Some(role), &secret);
        for g in &request.projects {
            o.grants.push((g.id, account.id, g.role));
        }
        Ok(CreatedServiceAccount {
            account,
            secret: SecretString::from(secret),
        })
    }
    async fn delete_service_account(&self, id: ServiceAccountId) -> Result<(), ApiError> {
        let mut o = self.call("delete_service_account")?;
        o.accounts.retain(|(a, _)| a.id != id);
        o.grants.retain(|(_, a, _)| *a != id);
        for t in &mut o.teams {
            t.service_accounts.retain(|a| *a != id);
        }
        Ok(())
    }
    async fn list_project_service_accounts(
        &self,
        project: ProjectId,
    ) -> Result<Vec<ProjectServiceAccount>, ApiError> {
        let o = self.call("list_project_service_accounts")?;
        Ok(members(&o, project))
    }
    async fn add_service_accounts_to_projects(
        &self,
        ids: &[ServiceAccountId],
        grants: &[ProjectRoleGrant],
    ) -> Result<(), ApiError> {
        let mut o = self.call("add_service_accounts_to_projects")?;
        for id in ids {
            for g in grants {
                o.grants.retain(|(p, a, _)| !(*p == g.id && a == id));
                o.grants.push((g.id, *id, g.role));
            }
        }
        Ok(())
    }
    async fn list_projects(&self) -> Result<Vec<ProjectId>, ApiError> {
        let o = self.call("list_projects")?;
        let mut ps: Vec<ProjectId> = o.grants.iter().map(|(p, _, _)| *p).collect();
        ps.extend(o.projects.keys().copied());
        ps.sort();
        ps.dedup();
        Ok(ps)
    }
    async fn list_teams(&self) -> Result<Vec<Team>, ApiError> {
        Ok(self.call("list_teams")?.teams.clone())
    }
    async fn add_service_accounts_to_team(
        &self,
        team: TeamId,
        ids: &[ServiceAccountId],
    ) -> Result<(), ApiError> {
        let mut o = self.call("add_service_accounts_to_team")?;
        if let Some(t) = o.teams.iter_mut().find(|t| t.id == team) {
            for id in ids {
                if !t.service_accounts.contains(id) {
                    t.service_accounts.push(*id);
                }
            }
        }
        Ok(())
    }
    async fn reset_project_token(&self, project: ProjectId) -> Result<String, ApiError> {
        let mut o = self.call("reset_project_token")?;
        let n = o.next_id + 1;
        o.next_id = n;
        let p = o.projects.get_mut(&project).ok_or(ApiError::NotFound {
            route: "reset_project_token",
            message: "no such project".into(),
        })?;
        p.0 = format!("token-{n}");
        Ok(p.0.clone())
    }
    async fn reset_project_secret(&self, project: ProjectId) -> Result<SecretString, ApiError> {
        let mut o = self.call("reset_project_secret")?;
        let n = o.next_id + 1;
        o.next_id = n;
        let p = o.projects.get_mut(&project).ok_or(ApiError::NotFound {
            route: "reset_project_secret",
            message: "no such project".into(),
        })?;
        p.1 = format!("project-secret-{n}");
        Ok(SecretString::from(p.1.clone()))
    }
    async fn project_metadata(
        &self,
        project: ProjectId,
    ) -> Result<wire::ProjectMetadata, ApiError> {
        let o = self.call("project_metadata")?;
        let (token, secret) = o.projects.get(&project).ok_or(ApiError::NotFound {
            route: "project_metadata",
            message: "no such project".into(),
        })?;
        serde_json::from_value(serde_json::json!({
            "id": project.0, "name": "p", "domain": "d", "timezone_name": "UTC",
            "token": token, "secret": secret
        }))
        .map_err(|e| ApiError::decode("project_metadata", e.to_string()))
    }
    async fn validate_project_credentials(
        &self,
        token: &str,
        secret: &SecretString,
    ) -> Result<bool, ApiError> {
        let o = self.call("validate_project_credentials")?;
        Ok(o.projects
            .values()
            .any(|(t, s)| t == token && s == secret.expose_secret()))
    }
}
