//! `mixpanel-rotator offboard EMAIL --ticket ID` and `offboard verify DIR`.
//!
//! The plan comes from `mixpanel_access::governance::offboard` over one snapshot, in the
//! playbook's order: project grants and team seats, then the organization membership (or a
//! downgrade to member with `--keep-account`), then the rotations of every credential the person
//! could read, then the deletion of the service accounts they created that are not in the
//! inventory. Without `--execute` it only prints the plan.
//!
//! The run is journaled in Vault at `state/_governance/offboard/<ticket>` (check-and-set): each step is
//! recorded once a read has shown it done, so a crash resumes where it stopped and a second run
//! changes nothing. A step the API cannot carry out (a route Mixpanel does not have: the read
//! after the call still shows the access) is recorded as a manual step with where to do it in
//! the web app, never as done, and the command exits 1 saying how many remain (2 when a step failed).
//!
//! The evidence folder `<evidence_dir>/<year>/<ticket>/` (run by run, see [`crate::evidence`]) holds `before.json`, `after.json`,
//! `activity.csv` (the audit log by or about the person), `rotated-credentials.csv` (names and
//! ids, never secrets), `manual-steps.md`, `summary.md` and `SHA256SUMS` over every other file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mixpanel_access::api::wire::{AuditExportFormat, AuditLogQuery};
use mixpanel_access::api::ApiError;
use mixpanel_access::audit::{concerns, EventWriter};
use mixpanel_access::governance::offboard::{
    person_access, plan, AffectedCredential, OffboardOptions, PersonAccess, Step, WEB_APP_CHECKLIST,
};
use mixpanel_access::model::{Email, OrgRole, TargetType};
use mixpanel_access::vault::{Trigger, VaultStore};
use serde::{Deserialize, Serialize};

use crate::api::Mixpanel;
use crate::app::{connect_api, connect_store, out, out_line, snapshot};
use crate::cmd::rotate::RotateArgs;
use crate::config::Config;
use crate::error::{Result, RotatorError};
use crate::evidence::{
    evidence_folder, require_approval, save_state, stamp, validate_ticket, verify_anchored,
    verify_dir, RunLog,
};
use crate::inventory::{self, RotationRequest, GOVERNANCE_SEGMENT};

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    /// Carried out (or found already so) and verified by a read.
    Done,
    /// Made moot by a later step, verified by a read (a grant gone with the membership).
    Superseded,
    /// The API could not do it: a person must, in the web app.
    Manual,
    /// Tried and failed (an error other than a missing route); the next run tries again.
    Failed,
}

impl StepStatus {
    fn settled(self) -> bool {
        matches!(self, StepStatus::Done | StepStatus::Superseded)
    }
}

/// One step of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    #[serde(flatten)]
    pub step: Step,
    pub status: StepStatus,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub rotation_id: Option<String>,
    /// When the latest attempt began.
    #[serde(default)]
    pub started: Option<DateTime<Utc>>,
    /// Every outcome the step has had, run by run (a step manual in run 1 and done in run 2
    /// keeps both).
    #[serde(default)]
    pub history: Vec<StepEvent>,
}

/// One outcome of a step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepEvent {
    pub run: u32,
    #[serde(default)]
    pub started: Option<DateTime<Utc>>,
    pub ended: DateTime<Utc>,
    pub status: StepStatus,
    #[serde(default)]
    pub detail: String,
}

/// The offboarding journal (`state/_governance/offboard/<ticket>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OffboardJournal {
    pub ticket: String,
    pub email: Email,
    pub options: OffboardOptions,
    pub started: DateTime<Utc>,
    #[serde(default)]
    pub finished: Option<DateTime<Utc>>,
    pub evidence: PathBuf,
    pub before: PersonAccess,
    pub affected: Vec<AffectedCredential>,
    /// `creds/<name>`'s version when the plan was made: a later version means rotated.
    pub cred_versions: BTreeMap<String, u64>,
    pub steps: Vec<StepRecord>,
}

/// Options of `offboard`.
#[derive(Debug, Clone)]
pub struct OffboardArgs {
    pub email: String,
    pub ticket: String,
    pub execute: bool,
    pub options: OffboardOptions,
    pub rotation_timeout: Duration,
    /// Who approved it (required with `execute`).
    pub approved_by: Option<String>,
}

fn journal_name(ticket: &str) -> String {
    format!("{GOVERNANCE_SEGMENT}/offboard/{ticket}")
}

struct Run<'a> {
    store: &'a VaultStore,
    api: &'a Mixpanel,
    config: &'a Config,
    journal: OffboardJournal,
    version: u64,
    /// This run's number in the ticket's evidence journal.
    run_n: u32,
}

impl Run<'_> {
    async fn save(&mut self) -> Result<()> {
        let ticket = self.journal.ticket.clone();
        self.version = save_state(
            self.store,
            &journal_name(&ticket),
            &self.journal,
            self.version,
            || format!("the offboarding journal of {ticket} changed under this run: another offboarding of the same ticket is running; let it finish, then run again"),
        )
        .await?;
        Ok(())
    }

    fn email(&self) -> &Email {
        &self.journal.email
    }

    fn set(&mut self, i: usize, status: StepStatus, detail: impl Into<String>) {
        let run = self.run_n;
        let s = &mut self.journal.steps[i];
        let now = Utc::now();
        s.status = status;
        s.detail = detail.into();
        s.at = Some(now);
        s.history.push(StepEvent {
            run,
            started: s.started,
            ended: now,
            status,
            detail: s.detail.clone(),
        });
    }

    /// Marks the start of an attempt at step `i`.
    fn start(&mut self, i: usize) {
        self.journal.steps[i].started = Some(Utc::now());
    }

    /// Projects among `projects` where the person still holds an individual grant.
    async fn individual_grants_left(
        &self,
        projects: &[(mixpanel_access::model::ProjectId, String)],
    ) -> Result<Vec<(mixpanel_access::model::ProjectId, String)>> {
        let mut left = Vec::new();
        for (p, name) in projects {
            let grants = match self.api.granted_users(*p).await {
                Ok(g) => g,
                // The project is gone: so is the grant.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            if grants
                .iter()
                .any(|g| g.email == *self.email() && g.target_type == TargetType::Individual)
            {
                left.push((*p, name.clone()));
            }
        }
        Ok(left)
    }

    async fn in_team(&self, team: mixpanel_access::model::TeamId) -> Result<bool> {
        Ok(self
            .api
            .list_teams()
            .await?
            .iter()
            .any(|t| t.id == team && t.members.contains(self.email())))
    }

    async fn member_role(&self) -> Result<Option<OrgRole>> {
        Ok(self
            .api
            .list_org_users()
            .await?
            .into_iter()
            .find(|m| m.email == *self.email())
            .map(|m| m.role))
    }

    /// Carries out one step and verifies it by a read.
    async fn perform(&mut self, i: usize) -> Result<()> {
        let step = self.journal.steps[i].step.clone();
        let who = self.email().to_string();
        let by_hand = step.by_hand(&who);
        match &step {
            Step::RemoveProjectGrants { projects } => {
                let left = self.individual_grants_left(projects).await?;
                if left.is_empty() {
                    self.set(
                        i,
                        StepStatus::Done,
                        "no individual grant left (verified by granted-users)",
                    );
                    return Ok(());
                }
                let ids: Vec<_> = left.iter().map(|(p, _)| *p).collect();
                let call = self
                    .api
                    .remove_users_from_projects(self.api.org(), &[self.email().clone()], &ids)
                    .await;
                let still = self.individual_grants_left(&left).await?;
                if still.is_empty() {
                    self.set(
                        i,
                        StepStatus::Done,
                        format!(
                            "removed from {} project(s) (verified by granted-users)",
                            left.len()
                        ),
                    );
                } else {
                    let why = route_error(call.err());
                    self.set(
                        i,
                        StepStatus::Manual,
                        format!(
                            "still granted on {} after the call ({why}); do it by hand: {by_hand}",
                            names(&still)
                        ),
                    );
                }
            }
            Step::RemoveTeamSeat { team, name } => {
                if !self.in_team(*team).await? {
                    self.set(
                        i,
                        StepStatus::Done,
                        format!("not in team {name} (verified by the team list)"),
                    );
                    return Ok(());
                }
                let call = self
                    .api
                    .remove_users_from_team(self.api.org(), *team, &[self.email().clone()])
                    .await;
                if self.in_team(*team).await? {
                    let why = route_error(call.err());
                    self.set(
                        i,
                        StepStatus::Manual,
                        format!(
                            "still in team {name} after the call ({why}); do it by hand: {by_hand}"
                        ),
                    );
                } else {
                    self.set(
                        i,
                        StepStatus::Done,
                        format!("removed from team {name} (verified by the team list)"),
                    );
                }
            }
            Step::RemoveMembership => {
                if self.member_role().await?.is_none() {
                    self.set(
                        i,
                        StepStatus::Done,
                        "not a member of the organization (verified by the member list)",
                    );
                    return Ok(());
                }
                let call = self
                    .api
                    .remove_org_users(self.api.org(), &[self.email().clone()])
                    .await;
                if self.member_role().await?.is_none() {
                    self.set(
                        i,
                        StepStatus::Done,
                        "removed from the organization (verified by the member list)",
                    );
                } else {
                    match call {
                        Err(e) if !is_missing_route(&e) => {
                            self.set(i, StepStatus::Failed, format!("not removed: {e}"));
                        }
                        other => {
                            let why = route_error(other.err());
                            self.set(i, StepStatus::Manual, format!("still a member after the call ({why}); do it by hand: {by_hand}"));
                        }
                    }
                }
            }
            Step::DowngradeToMember => {
                match self.member_role().await? {
                    None => {
                        self.set(
                            i,
                            StepStatus::Done,
                            "not a member any more (verified by the member list)",
                        );
                        return Ok(());
                    }
                    Some(OrgRole::Member) => {
                        self.set(
                            i,
                            StepStatus::Done,
                            "organization role is member (verified by the member list)",
                        );
                        return Ok(());
                    }
                    Some(_) => {}
                }
                let call = self
                    .api
                    .update_org_user_role(self.api.org(), self.email(), OrgRole::Member)
                    .await;
                match self.member_role().await? {
                    Some(OrgRole::Member) | None => self.set(
                        i,
                        StepStatus::Done,
                        "downgraded to member (verified by the member list)",
                    ),
                    Some(r) => {
                        match call {
                            Err(e) if !is_missing_route(&e) => {
                                self.set(i, StepStatus::Failed, format!("still {r}: {e}"))
                            }
                            other => {
                                let why = route_error(other.err());
                                self.set(i, StepStatus::Manual, format!("still {r} after the call ({why}); do it by hand: {by_hand}"))
                            }
                        }
                    }
                }
            }
            Step::DeleteServiceAccount { id, username } => {
                let exists = |list: &[mixpanel_access::model::ServiceAccount]| {
                    list.iter().any(|s| s.id == *id)
                };
                if !exists(&self.api.list_service_accounts().await?) {
                    self.set(
                        i,
                        StepStatus::Done,
                        format!("{username} does not exist (verified by the service-account list)"),
                    );
                    return Ok(());
                }
                let call = self.api.delete_service_account(*id).await;
                if exists(&self.api.list_service_accounts().await?) {
                    match call {
                        Err(e) if !is_missing_route(&e) => {
                            self.set(i, StepStatus::Failed, format!("not deleted: {e}"))
                        }
                        other => {
                            let why = route_error(other.err());
                            self.set(
                                i,
                                StepStatus::Manual,
                                format!(
                                    "still listed after the call ({why}); do it by hand: {by_hand}"
                                ),
                            )
                        }
                    }
                } else {
                    self.set(
                        i,
                        StepStatus::Done,
                        format!("deleted {username} (verified by the service-account list)"),
                    );
                }
            }
            Step::Rotate { .. } => {
                // Rotations go together: see `rotate_pending`.
            }
        }
        Ok(())
    }

    /// After the membership went: grants and seats left to a person are gone with it; a read
    /// shows it, and the manual steps they were become superseded.
    async fn settle_superseded(&mut self) -> Result<()> {
        for i in 0..self.journal.steps.len() {
            if self.journal.steps[i].status != StepStatus::Manual {
                continue;
            }
            let gone = match &self.journal.steps[i].step.clone() {
                Step::RemoveProjectGrants { projects } => {
                    self.individual_grants_left(projects).await?.is_empty()
                }
                Step::RemoveTeamSeat { team, .. } => !self.in_team(*team).await?,
                _ => false,
            };
            if gone {
                let prev = self.journal.steps[i].detail.clone();
                self.set(
                    i,
                    StepStatus::Superseded,
                    format!("gone with the organization membership (verified by a read); earlier: {prev}"),
                );
            }
        }
        Ok(())
    }

    /// The rotation steps not settled yet, all at once.
    async fn rotate_pending(&mut self, timeout: Duration) -> Result<()> {
        let mut names = Vec::new();
        for i in 0..self.journal.steps.len() {
            let Step::Rotate { name, .. } = &self.journal.steps[i].step else {
                continue;
            };
            if self.journal.steps[i].status.settled() {
                continue;
            }
            let name = name.clone();
            self.start(i);
            // Rotated already (a run that crashed after the rotation, before the journal)?
            let before = self.journal.cred_versions.get(&name).copied().unwrap_or(0);
            let now = self
                .store
                .read_metadata(&name)
                .await?
                .map(|m| m.current_version)
                .unwrap_or(0);
            let open = self
                .store
                .read_journal(&name)
                .await?
                .is_some_and(|(j, _)| j.phase.is_open());
            if now > before && !open {
                self.set(i, StepStatus::Done, format!("creds/{name} is at version {now} (was {before} when the offboarding began)"));
                continue;
            }
            let entry = match inventory::entry(self.store, &name).await {
                Ok(e) => e,
                Err(e) => {
                    self.set(
                        i,
                        StepStatus::Failed,
                        format!("cannot read the inventory entry: {e}"),
                    );
                    continue;
                }
            };
            let req = RotationRequest::new(Trigger::Incident, None, Some(Duration::ZERO));
            if let Err(refused) = inventory::check_request(&entry, &req) {
                let by_hand = self.journal.steps[i].step.by_hand(self.email().as_str());
                self.set(
                    i,
                    StepStatus::Manual,
                    format!("its rotate_on refuses an incident rotation ({refused}); {by_hand}"),
                );
                continue;
            }
            names.push((i, name));
        }
        self.save().await?;
        if names.is_empty() {
            return Ok(());
        }
        let args = RotateArgs {
            names: names.iter().map(|(_, n)| n.clone()).collect(),
            project: None,
            reason: format!(
                "offboarding {} ({})",
                self.journal.email, self.journal.ticket
            ),
            retry: false,
            overlap: Some(Duration::ZERO),
            incident: true,
            requested_by: Some(format!("offboard {}", self.journal.ticket)),
            no_wait: false,
            wait: true,
            timeout,
            json: false,
            force: false,
        };
        let results = crate::cmd::rotate::run_rotations(self.config.clone(), args).await?;
        for (i, name) in names {
            let Some(r) = results.iter().find(|r| r.name == name) else {
                self.set(i, StepStatus::Failed, "no result from the rotation");
                continue;
            };
            self.journal.steps[i].rotation_id = r.rotation_id.clone();
            match (r.ok, r.state.as_str()) {
                (true, "done") => self.set(
                    i,
                    StepStatus::Done,
                    format!(
                        "rotated; the old value is refused (verified): {}",
                        r.message
                    ),
                ),
                (_, "manual_rotation_required") => {
                    let by_hand = self.journal.steps[i]
                        .step
                        .by_hand(self.journal.email.as_str());
                    self.set(i, StepStatus::Manual, format!("{}; {by_hand}", r.message))
                }
                (_, state) => self.set(i, StepStatus::Failed, format!("{state}: {}", r.message)),
            }
        }
        self.save().await
    }
}

fn names(list: &[(mixpanel_access::model::ProjectId, String)]) -> String {
    list.iter()
        .map(|(p, n)| format!("{n} ({p})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A 404 (or a real-Mixpanel "emulator-only" refusal) on a route: the route is missing here.
pub(crate) fn is_missing_route(e: &ApiError) -> bool {
    matches!(e, ApiError::EmulatorOnly { .. }) || e.is_not_found()
}

pub(crate) fn route_error(e: Option<ApiError>) -> String {
    match e {
        None => "the API answered success".into(),
        Some(e) if is_missing_route(&e) => format!("no such route here: {e}"),
        Some(e) => e.to_string(),
    }
}

/// `offboard`.
pub async fn offboard_cmd(config: Config, args: OffboardArgs) -> Result<()> {
    validate_ticket(&args.ticket)?;
    let approved_by = require_approval(args.execute, args.approved_by.as_deref())?;
    let email: Email = args
        .email
        .parse()
        .map_err(|e| RotatorError::Invalid(format!("EMAIL: {e}")))?;
    let store = connect_store(&config).await?;
    let api = connect_api(&config).await?;
    let jname = journal_name(&args.ticket);
    let existing = store.read_state_document::<OffboardJournal>(&jname).await?;
    if let Some((j, _)) = &existing {
        if j.email != email {
            return Err(RotatorError::Invalid(format!(
                "ticket {} is the offboarding of {}, not {email}: use another ticket",
                args.ticket, j.email
            )));
        }
        if j.options != args.options {
            eprintln!(
                "warning: ticket {} was started with keep_account = {}, include_tokens = {}: the journal's plan is kept; use a new ticket for a different plan",
                args.ticket, j.options.keep_account, j.options.include_tokens
            );
        }
    }
    if !args.execute {
        let (steps, before) = match &existing {
            Some((j, _)) => (
                j.steps
                    .iter()
                    .map(|s| (s.step.clone(), format!("{:?}", s.status).to_lowercase()))
                    .collect::<Vec<_>>(),
                j.before.clone(),
            ),
            None => {
                let snap = snapshot(&config, &store, &api).await?;
                let p = plan(&snap, &email, args.options).ok_or_else(|| not_member(&email))?;
                (
                    p.steps
                        .iter()
                        .map(|s| (s.clone(), "planned".to_string()))
                        .collect(),
                    p.before,
                )
            }
        };
        print_plan(&email, &before, &steps);
        out_line("dry run: nothing was changed; run again with --execute to carry the plan out");
        return Ok(());
    }
    let (journal, version, resumed) = match existing {
        Some((j, v)) => (j, v, true),
        None => {
            let snap = snapshot(&config, &store, &api).await?;
            let p = plan(&snap, &email, args.options).ok_or_else(|| not_member(&email))?;
            let mut cred_versions = BTreeMap::new();
            for a in &p.affected {
                let v = store
                    .read_metadata(&a.name)
                    .await?
                    .map(|m| m.current_version)
                    .unwrap_or(0);
                cred_versions.insert(a.name.clone(), v);
            }
            let j = OffboardJournal {
                ticket: args.ticket.clone(),
                email: email.clone(),
                options: args.options,
                started: Utc::now(),
                finished: None,
                evidence: {
                    let dir = evidence_folder(&config, &args.ticket)?;
                    // Absolute, so a resumed run from another directory writes to the same place.
                    std::path::absolute(&dir).unwrap_or(dir)
                },
                before: p.before,
                affected: p.affected,
                cred_versions,
                steps: p
                    .steps
                    .into_iter()
                    .map(|step| StepRecord {
                        step,
                        status: StepStatus::Pending,
                        detail: String::new(),
                        at: None,
                        rotation_id: None,
                        started: None,
                        history: Vec::new(),
                    })
                    .collect(),
            };
            let v = store
                .write_unfenced_state_document(&jname, &j, 0)
                .await
                .map_err(|e| {
                    if e.is_cas_mismatch() {
                        RotatorError::Invalid(format!("another offboarding of ticket {} started at the same time: let it finish, then run again", args.ticket))
                    } else {
                        e.into()
                    }
                })?;
            (j, v, false)
        }
    };
    let dir = journal.evidence.clone();
    std::fs::create_dir_all(&dir)
        .map_err(|e| RotatorError::io(format!("cannot create {}", dir.display()), e))?;
    let all_settled_at_start =
        journal.steps.iter().all(|s| s.status.settled()) && journal.finished.is_some();
    if resumed && all_settled_at_start && verify_dir(&dir).is_ok() {
        out_line(&format!(
            "offboarding {} of {} is complete (finished {}): nothing to change; evidence in {}",
            journal.ticket,
            journal.email,
            journal
                .finished
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            dir.display()
        ));
        return Ok(());
    }
    let mut log = RunLog::begin(&store, &args.ticket, "offboard", approved_by).await?;
    if resumed {
        eprintln!(
            "resuming the offboarding {} of {email} from its journal (run {})",
            args.ticket,
            log.current().n
        );
    }
    let mut run = Run {
        store: &store,
        api: &api,
        config: &config,
        journal,
        version,
        run_n: log.current().n,
    };
    // Access first (grants, seats, membership), in order, each saved before the next.
    for i in 0..run.journal.steps.len() {
        if run.journal.steps[i].status.settled() {
            continue;
        }
        if matches!(
            run.journal.steps[i].step,
            Step::Rotate { .. } | Step::DeleteServiceAccount { .. }
        ) {
            continue;
        }
        run.start(i);
        run.perform(i).await?;
        run.save().await?;
        crate::crash::after(&format!("offboard_step_{i}"));
        crate::crash::pause(&format!("offboard_step_{i}")).await;
        if matches!(run.journal.steps[i].step, Step::RemoveMembership) {
            run.settle_superseded().await?;
            run.save().await?;
        }
    }
    run.rotate_pending(args.rotation_timeout).await?;
    crate::crash::after("offboard_rotated");
    for i in 0..run.journal.steps.len() {
        if matches!(run.journal.steps[i].step, Step::DeleteServiceAccount { .. })
            && !run.journal.steps[i].status.settled()
        {
            run.start(i);
            run.perform(i).await?;
            run.save().await?;
        }
    }
    // The after state, read again.
    let snap = snapshot(&config, &store, &api).await?;
    let after = person_access(&snap, &email);
    let failed = run
        .journal
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .count();
    let manual: Vec<String> = run
        .journal
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Manual)
        .map(|s| format!("{}: {}", s.step.describe(email.as_str()), s.detail))
        .collect();
    // Access left from a source no open manual step covers (the "all users" default role of
    // a kept account, say): said plainly, as a manual step of its own.
    let covered = |source: &str| {
        run.journal.steps.iter().any(|s| {
            s.status == StepStatus::Manual
                && match &s.step {
                    Step::RemoveProjectGrants { .. } => source.starts_with("individual "),
                    Step::RemoveTeamSeat { name, .. } => {
                        source.starts_with(&format!("team:{name} "))
                    }
                    Step::RemoveMembership | Step::DowngradeToMember => true,
                    _ => false,
                }
        })
    };
    let mut leftover = Vec::new();
    for a in &after.projects {
        let open: Vec<&String> = a.sources.iter().filter(|s| !covered(s)).collect();
        if !open.is_empty() {
            leftover.push(format!(
                "{email} still reaches project {} ({}) as {} through {}: turn that source off by hand (Project Settings → Access: \"All users in the organization\", or Organization Settings → Users & Seats)",
                a.project,
                a.project_id,
                a.role,
                open.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if failed == 0 {
        run.journal.finished = Some(Utc::now());
    }
    run.save().await?;
    let remaining = manual.len() + leftover.len();
    let outcome = if failed == 0 && remaining == 0 {
        "complete: every step carried out and verified by a read".to_string()
    } else {
        format!("{remaining} manual step(s) remain, {failed} step(s) failed")
    };
    let files = evidence_files(&run, &log, &after, &leftover, &outcome).await?;
    let digest = log.finish(&dir, &files, &outcome).await?;
    print_summary(&run.journal, &dir);
    out_line(&format!(
        "evidence digest (SHA-256 of SHA256SUMS, recorded in the Vault journal of {} as run {}): {digest}",
        args.ticket,
        log.current().n
    ));
    let message = format!(
        "{remaining} manual step(s) remain and {failed} step(s) failed: see {}/manual-steps.md (the web app's pre-removal checklist is listed there too)",
        dir.display()
    );
    if failed > 0 {
        // A step that could not be carried out: exit 2.
        return Err(RotatorError::Invalid(message));
    }
    if remaining > 0 {
        // It ran to the end; what is left is for a person in the web app: exit 1.
        return Err(RotatorError::Attention(message));
    }
    Ok(())
}

fn not_member(email: &Email) -> RotatorError {
    RotatorError::Invalid(format!(
        "{email} is not a member of the organization (no member with this address in the member list): nothing to offboard through the API"
    ))
}

fn print_plan(email: &Email, before: &PersonAccess, steps: &[(Step, String)]) {
    let mut s = format!(
        "offboarding plan for {email} (organization role {}):\n",
        before
            .org_role
            .map(|r| r.to_string())
            .unwrap_or_else(|| "none".into())
    );
    for a in &before.projects {
        s.push_str(&format!(
            "  access: {} ({}) as {} through {}\n",
            a.project,
            a.project_id,
            a.role,
            a.sources.join(", ")
        ));
    }
    for (t, name) in &before.teams {
        s.push_str(&format!("  team: {name} ({t})\n"));
    }
    for c in &before.created_accounts {
        s.push_str(&format!(
            "  created service account {} ({}): {}\n",
            c.username,
            c.id,
            c.inventory
                .as_deref()
                .map(|n| format!("in the inventory as {n}"))
                .unwrap_or_else(|| "not in the inventory".into())
        ));
    }
    for n in &before.inventory_owned {
        s.push_str(&format!("  owns inventory entry {n} (needs a new owner)\n"));
    }
    for (n, (step, status)) in steps.iter().enumerate() {
        s.push_str(&format!(
            "  {}. [{status}] {}\n",
            n + 1,
            step.describe(email.as_str())
        ));
    }
    s.push_str("  by hand in the web app (always): \n");
    for c in WEB_APP_CHECKLIST {
        s.push_str(&format!("    - {c}\n"));
    }
    out(&s);
}

fn print_summary(j: &OffboardJournal, dir: &Path) {
    let mut s = format!("offboarding {} of {}:\n", j.ticket, j.email);
    for (n, st) in j.steps.iter().enumerate() {
        s.push_str(&format!(
            "  {}. {:<10} {}: {}\n",
            n + 1,
            format!("{:?}", st.status).to_lowercase(),
            st.step.describe(j.email.as_str()),
            st.detail
        ));
    }
    s.push_str(&format!("evidence: {}\n", dir.display()));
    out(&s);
}

fn pretty(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| RotatorError::io("cannot encode", e))
}

/// The files of this run's evidence (see [`crate::evidence`] for where they go).
async fn evidence_files(
    run: &Run<'_>,
    log: &RunLog,
    after: &PersonAccess,
    leftover: &[String],
    outcome: &str,
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let j = &run.journal;
    let email = j.email.as_str();
    let mut files: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let before = serde_json::json!({
        "ticket": j.ticket,
        "taken_at": j.started,
        "person": j.before,
        "affected_credentials": j.affected,
        "plan": j.steps.iter().map(|s| s.step.describe(email)).collect::<Vec<_>>(),
    });
    files.push(("before.json", pretty(&before)?.into_bytes()));
    // after.json: the person's access and the affected credentials as the inventory has them.
    let mut creds = Vec::new();
    for a in &j.affected {
        let e = inventory::entry(run.store, &a.name).await.ok();
        creds.push(serde_json::json!({
            "name": a.name,
            "kind": a.kind,
            "reason": a.reason,
            "username": e.as_ref().and_then(|e| e.username.as_ref().map(|u| u.to_string())),
            "sa_id": e.as_ref().and_then(|e| e.sa_id),
            "last_rotated": e.as_ref().and_then(|e| e.last_rotated),
            "status": e.as_ref().map(|e| e.status.to_string()),
        }));
    }
    let after_doc = serde_json::json!({
        "ticket": j.ticket,
        "taken_at": Utc::now(),
        "person": after,
        "affected_credentials": creds,
        "steps": j.steps,
    });
    files.push(("after.json", pretty(&after_doc)?.into_bytes()));
    // activity.csv: the audit log by or about the person, and every event the offboarding's
    // own credential caused since it began (accounts created and deleted, secrets reset).
    let mut w = EventWriter::new(AuditExportFormat::Csv, Vec::new())
        .map_err(|e| RotatorError::io("", e))?;
    let mut write_err = None;
    let own = run.config.mixpanel.service_account_username.clone();
    let mut seen = std::collections::BTreeSet::new();
    let mut keep = |e: &mixpanel_access::model::AuditEvent| {
        if seen.insert(e.id.clone()) {
            if let Err(err) = w.write(e) {
                write_err.get_or_insert(err.to_string());
            }
        }
    };
    let mut events = Vec::new();
    run.api
        .audit_log_each(
            &AuditLogQuery {
                search: Some(email.to_string()),
                ..Default::default()
            },
            |page| {
                events.extend(page.iter().filter(|e| concerns(e, email)).cloned());
                Ok(())
            },
        )
        .await?;
    if let Some(own) = own.as_deref() {
        run.api
            .audit_log_each(
                &AuditLogQuery {
                    created_gte: Some(j.started),
                    ..Default::default()
                },
                |page| {
                    // The credential's own entries: its username, or Mixpanel's
                    // `<username>@mixpanel.org` address for a service account.
                    let mine = |a: &str| {
                        a.eq_ignore_ascii_case(own)
                            || a.strip_suffix("@mixpanel.org")
                                .is_some_and(|u| u.eq_ignore_ascii_case(own))
                    };
                    events.extend(page.iter().filter(|e| mine(e.actor())).cloned());
                    Ok(())
                },
            )
            .await?;
    }
    events.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    for e in &events {
        keep(e);
    }
    if let Some(e) = write_err {
        return Err(RotatorError::Io(e));
    }
    files.push((
        "activity.csv",
        w.finish().map_err(|e| RotatorError::io("", e))?,
    ));
    // rotated-credentials.csv: names and ids, never a secret.
    let mut rc = mixpanel_access::csv_cells::SafeCsvWriter::in_memory();
    let csv_err = |e: csv::Error| RotatorError::io("", e);
    rc.write_record([
        "name",
        "kind",
        "status",
        "rotation_id",
        "username",
        "sa_id",
        "detail",
    ])
    .map_err(csv_err)?;
    for (s, c) in j.steps.iter().filter_map(|s| match &s.step {
        Step::Rotate { name, .. } => Some((s, creds.iter().find(|c| c["name"] == *name))),
        _ => None,
    }) {
        let Step::Rotate { name, .. } = &s.step else {
            continue;
        };
        let text = |k: &str| {
            c.and_then(|c| c.get(k))
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default()
        };
        rc.write_record([
            name.clone(),
            text("kind"),
            format!("{:?}", s.status).to_lowercase(),
            s.rotation_id.clone().unwrap_or_default(),
            text("username"),
            text("sa_id"),
            s.detail.clone(),
        ])
        .map_err(csv_err)?;
    }
    files.push((
        "rotated-credentials.csv",
        rc.into_inner().map_err(|e| RotatorError::io("", e))?,
    ));
    // manual-steps.md
    let mut m = format!("# Manual steps: offboarding {} of {email}\n\n", j.ticket);
    let open: Vec<&StepRecord> = j
        .steps
        .iter()
        .filter(|s| {
            matches!(
                s.status,
                StepStatus::Manual | StepStatus::Failed | StepStatus::Pending
            )
        })
        .collect();
    m.push_str("## Not carried out through the API (to do by hand)\n\n");
    if open.is_empty() && leftover.is_empty() {
        m.push_str("None: every step was carried out and verified by a read.\n");
    }
    for s in &open {
        let status = format!("{:?}", s.status).to_lowercase();
        let what = match s.status {
            StepStatus::Failed => format!(
                "run `offboard {email} --ticket {} --execute --approved-by NAME` again once the cause is fixed, or do it by hand: {}",
                j.ticket,
                s.step.by_hand(email)
            ),
            _ => s.step.by_hand(email),
        };
        m.push_str(&format!(
            "- [ ] {} ({status})\n  - what to do: {what}\n  - why: {}\n",
            s.step.describe(email),
            s.detail
        ));
    }
    let resolved: Vec<&StepRecord> = j
        .steps
        .iter()
        .filter(|s| {
            s.status.settled()
                && s.history
                    .iter()
                    .any(|h| matches!(h.status, StepStatus::Manual | StepStatus::Failed))
        })
        .collect();
    if !resolved.is_empty() {
        m.push_str("\n## Manual or failed in an earlier run, carried out since\n\n");
        for s in resolved {
            let trail: Vec<String> = s
                .history
                .iter()
                .map(|h| format!("run {}: {:?} {}", h.run, h.status, stamp(h.ended)).to_lowercase())
                .collect();
            m.push_str(&format!(
                "- [x] {} ({})\n",
                s.step.describe(email),
                trail.join("; ")
            ));
        }
    }
    for l in leftover {
        m.push_str(&format!("- [ ] {l}\n"));
    }
    for name in &j.before.inventory_owned {
        m.push_str(&format!(
            "- [ ] Give inventory entry {name} a new owner: {email} owned it (`inventory apply` with a new `owner`)\n"
        ));
    }
    m.push_str("\n## Web-app checklist (no API does these)\n\n");
    for c in WEB_APP_CHECKLIST {
        m.push_str(&format!("- [ ] {c}\n"));
    }
    files.push(("manual-steps.md", m.into_bytes()));
    // summary.md
    let me = log.current();
    let mut s = format!(
        "# Offboarding {} of {email}\n\nThis is run {} of the ticket, by {} (Vault: {}), approved by {}. Outcome: {outcome}.\n\nStarted {}; {}.\n\nOptions: keep_account = {}, include_tokens = {}.\n\n## Runs\n\n{}\n## Steps\n\n| # | Step | Status | Started | Ended | History | Detail |\n|---|---|---|---|---|---|---|\n",
        j.ticket,
        me.n,
        me.os_user,
        me.vault_identity,
        me.approved_by.as_deref().unwrap_or("-"),
        j.started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        match j.finished {
            Some(t) => format!(
                "finished {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            None => "not finished".into(),
        },
        j.options.keep_account,
        j.options.include_tokens,
        log.markdown()
    );
    for (n, st) in j.steps.iter().enumerate() {
        let history: Vec<String> = st
            .history
            .iter()
            .map(|h| format!("run {} {:?}", h.run, h.status).to_lowercase())
            .collect();
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            n + 1,
            st.step.describe(email).replace('|', "\\|"),
            format!("{:?}", st.status).to_lowercase(),
            st.started.map(stamp).unwrap_or_else(|| "-".into()),
            st.at.map(stamp).unwrap_or_else(|| "-".into()),
            if history.is_empty() {
                "-".into()
            } else {
                history.join(", ")
            },
            st.detail.replace('|', "\\|")
        ));
    }
    s.push_str(&format!(
        "\nAfter: organization role {}, {} project(s) reachable.\n",
        after
            .org_role
            .map(|r| r.to_string())
            .unwrap_or_else(|| "none (not a member)".into()),
        after.projects.len()
    ));
    files.push(("summary.md", s.into_bytes()));
    Ok(files)
}
/// `offboard verify DIR`: the files against the folder's sums, and the sums against the
/// digests in the ticket's Vault journal when Vault is reachable.
pub async fn verify_cmd(config: &Config, dir: &Path) -> Result<()> {
    let store = connect_store(config).await.map_err(|e| e.to_string());
    match verify_anchored(dir, store).await {
        Ok(v) => {
            match (v.anchored_runs, v.unanchored_reason) {
                (Some(runs), _) => out_line(&format!(
                    "{}: OK ({} file(s) match SHA256SUMS; the sums match the digests the Vault journal recorded for {runs} run(s))",
                    dir.display(),
                    v.files
                )),
                (None, why) => out_line(&format!(
                    "{}: OK against itself only ({} file(s) match SHA256SUMS), NOT against the Vault journal: {}. A folder edited and re-summed would pass this check; run it again where Vault is reachable.",
                    dir.display(),
                    v.files,
                    why.unwrap_or_default()
                )),
            }
            Ok(())
        }
        Err(problems) => {
            for p in &problems {
                out_line(&format!("FAILED {p}"));
            }
            Err(RotatorError::Invalid(format!(
                "{}: {} problem(s): the evidence folder does not match its SHA256SUMS or the Vault journal",
                dir.display(),
                problems.len()
            )))
        }
    }
}
