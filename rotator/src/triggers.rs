//! What starts rotations, on the leader only:
//!
//! - the reconcile loop: every pass reads the inventory from Vault (one `LIST
//!   detailed-metadata` on OpenBao), rotates what is due (`next_rotation`, jittered, stored in
//!   Vault: a restart never loses a schedule), resumes open journals, mirrors what can only be
//!   rotated by hand, and refreshes statuses; it sleeps until the next due date, overlap end or
//!   retry, at most `reconcile_interval`, and wakes early on requests;
//! - the membership watcher: keeps a snapshot of each inventory project's owners and admins
//!   (individual and team grants, plus the organization's owners and admins) in Vault under
//!   `state/_membership/<project>`; an owner or admin removed or downgraded rotates every
//!   credential of that project, with the change as the reason;
//! - requests: `rotate` (CLI) and `POST /rotate` (HTTP) with a reason and an overlap (zero for
//!   incidents). A request for a credential already rotating joins that rotation. Requests
//!   made where this replica does not lead are left in the entry's metadata and the request
//!   doorbell (`locks/requests`) is rung; the leader polls the doorbell every `request_poll`
//!   and runs a pass at once when it changed, so a handed-over request starts within seconds.
//!
//! A semaphore bounds the rotations running at once; the Mixpanel rate limit is in [`crate::api`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use mixpanel_access::inventory::{CredentialKind, CredentialStatus, InventoryEntry, RotateOn};
use mixpanel_access::model::{OrgRole, ProjectId, ProjectRole};
use mixpanel_access::vault::{Phase, Trigger};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::election::Leadership;
use crate::engine::{Engine, Outcome, Requested};
use crate::error::Result;
use crate::health::Health;
use crate::inventory::{self, Record, RotationRequest, REQUEST_KEY, RESERVED_SEGMENT};

#[derive(Debug, Clone, Copy)]
struct OpenRotation {
    /// When to drive it next.
    resume_at: DateTime<Utc>,
    /// In its overlap window (as opposed to waiting for a retry).
    overlap: bool,
}

#[derive(Default)]
struct State {
    open: HashMap<String, OpenRotation>,
    inflight: HashSet<String>,
}

/// What one reconcile pass saw and did.
#[derive(Debug, Default, Clone)]
pub struct PassReport {
    pub credentials: usize,
    pub invalid: usize,
    pub started: usize,
    pub mirrored: usize,
    pub open: usize,
    pub due: usize,
    pub overdue: usize,
}

/// The leader's scheduler.
pub struct Scheduler {
    engine: Arc<Engine>,
    permits: Arc<Semaphore>,
    state: Mutex<State>,
    wake: Notify,
}

fn to_delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn reserved(name: &str) -> bool {
    crate::inventory::is_reserved(name)
}

impl Scheduler {
    pub fn new(engine: Arc<Engine>) -> Arc<Scheduler> {
        let permits = Arc::new(Semaphore::new(engine.settings.max_concurrent.max(1)));
        Arc::new(Scheduler {
            engine,
            permits,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn mark_open(&self, name: &str, at: DateTime<Utc>) {
        self.with_state(|s| {
            s.open.insert(
                name.to_string(),
                OpenRotation {
                    resume_at: at,
                    overlap: false,
                },
            );
        });
    }

    /// How many rotations are open (journaled and not finished).
    pub fn open_count(&self) -> usize {
        self.with_state(|s| s.open.len())
    }

    /// Takes a request as the leader: journals it (or joins the open rotation) and wakes the
    /// loop to drive it.
    pub async fn submit(
        &self,
        name: &str,
        req: &RotationRequest,
        lead: &Leadership,
    ) -> Result<Requested> {
        inventory::check_name(name)?;
        let res = self.engine.request(name, req, lead).await?;
        if matches!(
            res,
            Requested::Started { .. } | Requested::Joined { .. } | Requested::Resumed { .. }
        ) {
            self.mark_open(name, Utc::now());
        }
        self.wake.notify_one();
        Ok(res)
    }

    /// The leader's work for one term: reconcile passes and the membership watcher until the
    /// term ends; then the rotations in flight finish their step (bounded by the grace period).
    pub async fn lead(self: &Arc<Self>, lead: Leadership) {
        let settings = self.engine.settings.clone();
        let mut tasks = JoinSet::new();
        let mut full_scan = true;
        let mut next_pass = Utc::now();
        let mut last_membership: Option<Instant> = None;
        // Requests handed over by other processes ring the doorbell: a new version brings the
        // next pass forward, so a request is picked up within `request_poll`.
        let mut bell = self.engine.store.doorbell_version().await.unwrap_or(0);
        let mut last_bell = Instant::now();
        loop {
            if lead.is_over() {
                break;
            }
            if last_bell.elapsed() >= settings.request_poll {
                last_bell = Instant::now();
                match self.engine.store.doorbell_version().await {
                    Ok(v) if v != bell => {
                        bell = v;
                        tracing::debug!(doorbell = v, "a rotation request was handed over");
                        next_pass = Utc::now();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read the request doorbell"),
                }
            }
            if Utc::now() >= next_pass {
                next_pass = match self.pass(&lead, full_scan, &mut tasks).await {
                    Ok((_, next)) => {
                        full_scan = false;
                        self.engine.metrics.pass(true);
                        crate::metrics::release_freed_memory();
                        next
                    }
                    Err(e) if e.is_interrupted() => break,
                    Err(e) => {
                        self.engine.metrics.pass(false);
                        tracing::warn!(error = %e, "reconcile pass failed; retrying");
                        Utc::now()
                            + to_delta(settings.reconcile_interval.min(Duration::from_secs(5)))
                    }
                };
            }
            let membership_due = !settings.membership_interval.is_zero()
                && last_membership.is_none_or(|t| t.elapsed() >= settings.membership_interval);
            if membership_due {
                last_membership = Some(Instant::now());
                match self.membership_pass(&lead, &mut tasks).await {
                    Ok(_) => crate::metrics::release_freed_memory(),
                    Err(e) if e.is_interrupted() => break,
                    Err(e) => tracing::warn!(error = %e, "membership watcher pass failed"),
                }
            }
            while tasks.try_join_next().is_some() {}
            let mut wake_at = next_pass;
            if let Some(at) = self.spawn_ready(&lead, &mut tasks) {
                wake_at = wake_at.min(at);
            }
            let mut sleep = (wake_at - Utc::now())
                .to_std()
                .unwrap_or_default()
                .clamp(Duration::from_millis(20), settings.reconcile_interval);
            if !settings.membership_interval.is_zero() {
                let until_membership = settings
                    .membership_interval
                    .saturating_sub(last_membership.map(|t| t.elapsed()).unwrap_or_default());
                sleep = sleep.min(until_membership.max(Duration::from_millis(20)));
            }
            let until_bell = settings.request_poll.saturating_sub(last_bell.elapsed());
            sleep = sleep.min(until_bell.max(Duration::from_millis(20)));
            tokio::select! {
                _ = lead.ended() => break,
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
            }
        }
        let grace = settings.shutdown_grace;
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "rotations still running after the grace period: aborting them (their journals are intact)"
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    }

    /// One pass for `once` (cron): reconcile, the membership watcher, and every rotation
    /// started driven to its end; with `wait_overlap`, overlap windows are waited out too.
    pub async fn once(
        self: &Arc<Self>,
        lead: &Leadership,
        wait_overlap: bool,
    ) -> Result<PassReport> {
        let mut tasks = JoinSet::new();
        let (mut report, _) = self.pass(lead, true, &mut tasks).await?;
        if !self.engine.settings.membership_interval.is_zero() {
            self.membership_pass(lead, &mut tasks).await?;
        }
        loop {
            while tasks.join_next().await.is_some() {}
            lead.check()?;
            let next_overlap = self.with_state(|s| {
                s.open
                    .values()
                    .filter(|o| o.overlap)
                    .map(|o| o.resume_at)
                    .min()
            });
            match next_overlap {
                Some(at) if wait_overlap => {
                    let left = (at - Utc::now()).to_std().unwrap_or_default();
                    lead.sleep(left).await?;
                    self.spawn_ready(lead, &mut tasks);
                }
                _ => break,
            }
        }
        report.open = self.open_count();
        Ok(report)
    }

    /// One reconcile pass: reads the inventory, takes requests left in it, starts what is due,
    /// mirrors what can only be rotated by hand, refreshes statuses, and starts driving the
    /// open rotations that are ready. Returns the report and when the next pass should run.
    pub async fn pass(
        self: &Arc<Self>,
        lead: &Leadership,
        full_scan: bool,
        tasks: &mut JoinSet<()>,
    ) -> Result<(PassReport, DateTime<Utc>)> {
        lead.check()?;
        let engine = &self.engine;
        let store = &engine.store;
        let records = inventory::load(store).await?;
        if full_scan && records.is_empty() {
            let c = store.config();
            tracing::warn!(
                mount = %c.mount,
                prefix = %c.prefix,
                "no credential at all under {}/{}/creds/: check the Vault mount and prefix, or add entries",
                c.mount,
                c.prefix
            );
        }
        if full_scan {
            let mut found = HashMap::new();
            for name in store.list_journals().await? {
                if reserved(&name) {
                    continue;
                }
                lead.check()?;
                if let Some((j, _)) = store.read_journal(&name).await? {
                    if j.phase.is_open() && j.phase != Phase::NeedsHuman {
                        found.insert(
                            name,
                            OpenRotation {
                                resume_at: Utc::now(),
                                overlap: false,
                            },
                        );
                    }
                }
            }
            self.with_state(|s| s.open = found);
            // Resume what was open first.
            self.spawn_ready(lead, tasks);
        }
        let mut report = PassReport {
            credentials: records.len(),
            ..PassReport::default()
        };
        self.refresh_last_used(&records, lead).await?;
        // The stored secrets, checked before this pass opens new rotations (one already
        // rotating keeps its cached answer: its secret is about to change).
        let secrets = self.check_secrets(&records, lead).await?;
        engine.metrics.secret_health(secrets);
        let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
        let mut next = Utc::now() + to_delta(engine.settings.reconcile_interval);
        for record in &records {
            lead.check()?;
            let entry = match &record.entry {
                Ok(e) => e,
                Err(e) => {
                    report.invalid += 1;
                    *statuses.entry("invalid".into()).or_default() += 1;
                    if full_scan {
                        tracing::warn!(credential = %record.name, error = %e, "not a valid inventory entry");
                    }
                    continue;
                }
            };
            match self.reconcile_one(record, entry, lead, &mut report).await {
                Ok(Some(at)) => next = next.min(at),
                Ok(None) => {}
                Err(e) if e.is_interrupted() || crate::engine::is_vault_outage(&e) => {
                    return Err(e)
                }
                Err(e) => {
                    tracing::warn!(credential = %entry.name, error = %e, "could not reconcile this credential")
                }
            }
            let status = self.with_state(|s| {
                if s.open.contains_key(&entry.name) || s.inflight.contains(&entry.name) {
                    CredentialStatus::Rotating
                } else {
                    entry.status
                }
            });
            *statuses.entry(status.to_string()).or_default() += 1;
            // Start what this entry opened without waiting for the whole pass.
            self.spawn_ready(lead, tasks);
        }
        self.spawn_ready(lead, tasks);
        report.open = self.open_count();
        engine.metrics.set_open(report.open as u64);
        engine
            .metrics
            .inventory(statuses, report.due as u64, report.overdue as u64);
        Ok((report, next))
    }

    /// The health of every stored secret, by label (`ok`, `rejected`, `unchecked`, `missing`):
    /// the cached check where it is younger than `secret_check_interval`, else a fresh check
    /// against Mixpanel (cached in the entry's metadata), at most
    /// [`crate::health::MAX_CHECKS_PER_RUN`] per pass; none with `secret_check_interval` 0. A
    /// credential that is rotating keeps its cached answer: its stored secret is about to
    /// change.
    async fn check_secrets(
        &self,
        records: &[Record],
        lead: &Leadership,
    ) -> Result<BTreeMap<String, u64>> {
        let engine = &self.engine;
        let max_age = engine.settings.secret_check_interval;
        let enabled = !max_age.is_zero();
        let now = Utc::now();
        let mut budget = crate::health::MAX_CHECKS_PER_RUN;
        let mut secrets: BTreeMap<String, u64> = BTreeMap::new();
        for r in records {
            let cached = match &r.auth_check {
                _ if !r.has_secret => "missing",
                Some(c) if c.ok => "ok",
                Some(_) => "rejected",
                None => "unchecked",
            };
            let account = r.entry.as_ref().ok().and_then(|e| e.sa_id);
            let stale = r
                .auth_check
                .as_ref()
                .is_none_or(|c| !c.vouches(r.version, account, max_age, now));
            let rotating =
                self.with_state(|s| s.open.contains_key(&r.name) || s.inflight.contains(&r.name));
            let checkable = match &r.entry {
                Ok(e) => {
                    enabled
                        && r.has_secret
                        && e.kind != CredentialKind::ProjectToken
                        && stale
                        && !rotating
                }
                Err(_) => false,
            };
            let label = match (&r.entry, checkable) {
                (Ok(entry), true) => {
                    lead.check()?;
                    match crate::health::check(
                        &engine.store,
                        Some(&engine.api),
                        entry,
                        r.auth_check.as_ref(),
                        max_age,
                        None,
                        &mut budget,
                    )
                    .await
                    {
                        Ok(Health::Ok(_)) => "ok",
                        Ok(Health::SecretRejected(why)) => {
                            tracing::warn!(credential = %r.name, reason = %why, "Mixpanel refuses the stored secret");
                            "rejected"
                        }
                        Ok(Health::SecretMissing) => "missing",
                        Ok(Health::Unchecked(_) | Health::NotApplicable) => cached,
                        Err(e) if e.is_interrupted() || crate::engine::is_vault_outage(&e) => {
                            return Err(e)
                        }
                        Err(e) => {
                            tracing::debug!(credential = %r.name, error = %e, "stored secret not checked");
                            cached
                        }
                    }
                }
                _ => cached,
            };
            *secrets.entry(label.into()).or_default() += 1;
        }
        Ok(secrets)
    }

    /// Copies each service account's `last_used` from Mixpanel's list (one call) into the
    /// entries where it changed.
    async fn refresh_last_used(&self, records: &[Record], lead: &Leadership) -> Result<()> {
        let engine = &self.engine;
        let with_account: Vec<&InventoryEntry> = records
            .iter()
            .filter_map(|r| r.entry.as_ref().ok())
            .filter(|e| e.kind == CredentialKind::ServiceAccount && e.sa_id.is_some())
            .collect();
        if with_account.is_empty() {
            return Ok(());
        }
        let accounts = match engine.api.list_service_accounts().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list service accounts: last_used not refreshed");
                return Ok(());
            }
        };
        let used: HashMap<_, _> = accounts
            .iter()
            .filter_map(|a| a.last_used.map(|t| (a.id, t)))
            .collect();
        for e in with_account {
            let Some(at) = e.sa_id.and_then(|id| used.get(&id)).copied() else {
                continue;
            };
            if e.last_used.map(|l| l.timestamp()) != Some(at.timestamp()) {
                lead.check()?;
                let mut e = e.clone();
                e.last_used = Some(at);
                inventory::patch_fields(&engine.store, &e, &["last_used"]).await?;
            }
        }
        Ok(())
    }

    /// Starts driving every open rotation whose time has come; returns the earliest time of
    /// the others.
    fn spawn_ready(
        self: &Arc<Self>,
        lead: &Leadership,
        tasks: &mut JoinSet<()>,
    ) -> Option<DateTime<Utc>> {
        let now = Utc::now();
        let mut later: Option<DateTime<Utc>> = None;
        let ready: Vec<String> = self.with_state(|s| {
            let mut ready = Vec::new();
            for (name, o) in &s.open {
                if s.inflight.contains(name) {
                    continue;
                }
                if o.resume_at <= now {
                    ready.push(name.clone());
                } else {
                    later = Some(later.map_or(o.resume_at, |l| l.min(o.resume_at)));
                }
            }
            for name in &ready {
                s.inflight.insert(name.clone());
            }
            ready
        });
        for name in ready {
            self.spawn_drive(name, lead.clone(), tasks);
        }
        self.engine.metrics.set_open(self.open_count() as u64);
        later
    }

    fn spawn_drive(self: &Arc<Self>, name: String, lead: Leadership, tasks: &mut JoinSet<()>) {
        let me = self.clone();
        let permits = self.permits.clone();
        tasks.spawn(async move {
            let permit = tokio::select! {
                p = permits.acquire_owned() => p.ok(),
                _ = lead.ended() => None,
            };
            let result = match permit {
                Some(_permit) => Some(me.engine.drive(&name, &lead, false).await),
                None => None,
            };
            let retry = me.engine.settings.retry_backoff.max(Duration::from_secs(1));
            me.with_state(|s| {
                s.inflight.remove(&name);
                match result {
                    Some(Ok(Outcome::Waiting { until, .. })) => {
                        s.open.insert(
                            name.clone(),
                            OpenRotation {
                                resume_at: until,
                                overlap: true,
                            },
                        );
                    }
                    Some(Ok(_)) => {
                        s.open.remove(&name);
                    }
                    Some(Err(e)) if !e.is_interrupted() => {
                        s.open.insert(
                            name.clone(),
                            OpenRotation {
                                resume_at: Utc::now() + to_delta(retry),
                                overlap: false,
                            },
                        );
                    }
                    _ => {}
                }
            });
            me.wake.notify_one();
        });
    }

    /// Reconciles one valid entry; returns when it wants attention next.
    async fn reconcile_one(
        &self,
        record: &Record,
        entry: &InventoryEntry,
        lead: &Leadership,
        report: &mut PassReport,
    ) -> Result<Option<DateTime<Utc>>> {
        let engine = &self.engine;
        let name = entry.name.as_str();
        let now = Utc::now();
        let (open, inflight) =
            self.with_state(|s| (s.open.contains_key(name), s.inflight.contains(name)));
        if let Some(req) = &record.request {
            // Even while a drive is in flight: the request joins the open rotation.
            let res = match self.submit(name, req, lead).await {
                Ok(res) => res,
                Err(e @ crate::error::RotatorError::Invalid(_)) => {
                    // A request this entry refuses (its rotate_on, an overlap its kind cannot
                    // honour): dropped, so it is not tried again at every pass.
                    tracing::warn!(credential = name, trigger = %req.trigger, error = %e, "rotation request refused");
                    inventory::patch_extra(&engine.store, name, REQUEST_KEY, None).await?;
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            inventory::patch_extra(&engine.store, name, REQUEST_KEY, None).await?;
            tracing::info!(credential = name, trigger = %req.trigger, result = ?res, "picked up a rotation request");
            if matches!(res, Requested::Started { .. }) {
                report.started += 1;
            }
            return Ok(None);
        }
        if open || inflight {
            return Ok(None);
        }
        if entry.status == CredentialStatus::NeedsHuman {
            return Ok(None);
        }
        // A `rotating` status without an open journal (a crash between the two writes, or a
        // journal finished by another leader): judge the entry on its dates.
        let mut e = entry.clone();
        if e.status == CredentialStatus::Rotating {
            e.status = CredentialStatus::Ok;
            e.status_reason = None;
        }
        let (status, reason) = e.compute_status(now);
        let due = matches!(
            status,
            CredentialStatus::Due
                | CredentialStatus::Overdue
                | CredentialStatus::ManualRotationRequired
        );
        match status {
            CredentialStatus::Due | CredentialStatus::ManualRotationRequired => report.due += 1,
            CredentialStatus::Overdue => {
                report.due += 1;
                report.overdue += 1;
            }
            _ => {}
        }
        if due && engine.can_rotate(e.kind) && e.allows(RotateOn::Schedule) {
            // The reason is the due date: this kind is reset through the API here, so a hint
            // about rotating it by hand does not belong in the journal or the audit trail.
            let reason = reason.map(|r| r.split("; ").next().unwrap_or_default().to_string());
            let req = RotationRequest::new(Trigger::Schedule, reason, None);
            let res = self.submit(name, &req, lead).await?;
            if matches!(res, Requested::Started { .. }) {
                report.started += 1;
            }
            return Ok(None);
        }
        if due && e.kind != CredentialKind::ServiceAccount {
            let stale = record
                .mirrored_at
                .is_none_or(|t| now - t >= to_delta(engine.settings.mirror_interval));
            if stale {
                lead.check()?;
                engine.mirror(&e, None).await?;
                report.mirrored += 1;
            }
            let at = record.mirrored_at.unwrap_or(now) + to_delta(engine.settings.mirror_interval);
            return Ok(Some(at.max(now)));
        }
        if status != entry.status || reason != entry.status_reason {
            e.status = status;
            e.status_reason = reason;
            lead.check()?;
            inventory::patch_fields(&engine.store, &e, &["status", "status_reason"]).await?;
        }
        Ok(e.next_rotation.or_else(|| e.due_date()))
    }

    // ---- membership watcher ----

    /// Compares each inventory project's owners and admins with the snapshot in Vault; a
    /// removal or downgrade rotates every credential of the project. Returns the changes seen.
    pub async fn membership_pass(
        self: &Arc<Self>,
        lead: &Leadership,
        tasks: &mut JoinSet<()>,
    ) -> Result<Vec<String>> {
        lead.check()?;
        let engine = &self.engine;
        let records = inventory::load(&engine.store).await?;
        let mut by_project: BTreeMap<ProjectId, Vec<InventoryEntry>> = BTreeMap::new();
        for r in &records {
            if let Ok(e) = &r.entry {
                for p in &e.projects {
                    by_project.entry(*p).or_default().push(e.clone());
                }
            }
        }
        drop(records);
        if by_project.is_empty() {
            return Ok(Vec::new());
        }
        let org_users = engine.api.list_org_users().await?;
        let org_members: BTreeMap<String, OrgRole> = org_users
            .iter()
            .map(|m| (m.email.as_str().to_ascii_lowercase(), m.role))
            .collect();
        let org_roles: BTreeMap<String, ProjectRole> = org_users
            .into_iter()
            .filter_map(|m| {
                let role = match m.role {
                    OrgRole::Owner => ProjectRole::Owner,
                    OrgRole::Admin => ProjectRole::Admin,
                    _ => return None,
                };
                Some((m.email.as_str().to_ascii_lowercase(), role))
            })
            .collect();
        let mut all_changes = Vec::new();
        for (project, entries) in by_project {
            lead.check()?;
            let grants = match engine.api.granted_users(project).await {
                Ok(g) => g,
                Err(e) if e.is_not_found() => {
                    tracing::warn!(project = project.0, error = %e, "an inventory project is gone");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let mut current: BTreeMap<String, ProjectRole> = org_roles.clone();
            for g in grants {
                let email = g.email.as_str().to_ascii_lowercase();
                let slot = current.entry(email).or_insert(g.role);
                if g.role.rank() > slot.rank() {
                    *slot = g.role;
                }
            }
            let privileged: BTreeMap<String, ProjectRole> = current
                .iter()
                .filter(|(_, r)| r.rank() >= ProjectRole::Admin.rank())
                .map(|(e, r)| (e.clone(), *r))
                .collect();
            let snapshot_name = format!("{RESERVED_SEGMENT}/{}", project.0);
            let previous = engine
                .store
                .read_state_document::<MembershipSnapshot>(&snapshot_name)
                .await?;
            let (prev_map, cas) = match &previous {
                Some((doc, v)) => (Some(doc.privileged.clone()), *v),
                None => (None, 0),
            };
            let Some(prev_map) = prev_map else {
                write_snapshot(engine, &snapshot_name, &privileged, cas, lead).await?;
                tracing::info!(
                    project = project.0,
                    privileged = privileged.len(),
                    "membership baseline recorded"
                );
                continue;
            };
            let changes = membership_changes(project, &prev_map, &current, &org_members);
            if !changes.is_empty() {
                let all = changes
                    .iter()
                    .map(|(_, c)| c.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                tracing::warn!(project = project.0, changes = %all, credentials = entries.len(), "owner/admin removed or downgraded");
                for _ in &changes {
                    engine.metrics.membership_change();
                }
                for entry in &entries {
                    lead.check()?;
                    let name = entry.name.as_str();
                    // Only the changes this entry's rotate_on names rotate it.
                    let relevant: Vec<String> = changes
                        .iter()
                        .filter(|(event, _)| entry.allows(*event))
                        .map(|(event, c)| format!("{event}: {c}"))
                        .collect();
                    if relevant.is_empty() {
                        tracing::info!(credential = name, changes = %all, rotate_on = ?entry.effective_rotate_on(), "not rotated: its rotate_on names none of these changes");
                        continue;
                    }
                    // Project secrets and tokens are replaced in one step: no overlap.
                    let overlap = match entry.kind {
                        CredentialKind::ServiceAccount => engine.settings.membership_overlap,
                        _ => None,
                    };
                    let req = RotationRequest::new(
                        Trigger::Membership,
                        Some(relevant.join("; ")),
                        overlap,
                    );
                    match self.submit(name, &req, lead).await {
                        Ok(res) => {
                            tracing::info!(credential = %name, result = ?res, "membership rotation requested")
                        }
                        Err(e) if e.is_interrupted() => return Err(e),
                        Err(e) => {
                            tracing::warn!(credential = %name, error = %e, "membership rotation could not start")
                        }
                    }
                }
                all_changes.extend(changes.into_iter().map(|(_, c)| c));
                self.spawn_ready(lead, tasks);
            }
            if prev_map != privileged {
                write_snapshot(engine, &snapshot_name, &privileged, cas, lead).await?;
            }
        }
        Ok(all_changes)
    }
}

/// Removals and downgrades of owners/admins between two snapshots, as sentences with the
/// event each is. Someone no longer privileged on the project but still a member of the
/// organization (an organization admin made a member, say) was downgraded, not removed.
pub fn membership_changes(
    project: ProjectId,
    previous: &BTreeMap<String, ProjectRole>,
    current: &BTreeMap<String, ProjectRole>,
    org_members: &BTreeMap<String, OrgRole>,
) -> Vec<(RotateOn, String)> {
    let mut out = Vec::new();
    for (email, role) in previous {
        match current.get(email) {
            None => match org_members.get(email) {
                Some(org_role) => out.push((
                    RotateOn::AdminDowngraded,
                    format!(
                        "{role} {email} downgraded to no role on project {project} (organization role now {org_role})"
                    ),
                )),
                None => out.push((
                    RotateOn::AdminRemoved,
                    format!("{role} {email} removed from project {project}"),
                )),
            },
            Some(now) if now.rank() < role.rank() => out.push((
                RotateOn::AdminDowngraded,
                format!("{role} {email} downgraded to {now} on project {project}"),
            )),
            Some(_) => {}
        }
    }
    out
}

/// The owners and admins of one project as last seen, kept under `state/_membership/<project>`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct MembershipSnapshot {
    taken_at: chrono::DateTime<Utc>,
    privileged: BTreeMap<String, ProjectRole>,
}

async fn write_snapshot(
    engine: &Engine,
    name: &str,
    privileged: &BTreeMap<String, ProjectRole>,
    cas: u64,
    lead: &Leadership,
) -> Result<()> {
    let doc = MembershipSnapshot {
        taken_at: Utc::now(),
        privileged: privileged.clone(),
    };
    engine
        .store
        .write_state_document(name, &doc, cas, lead.fencing())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_and_downgrades_are_reported() {
        let prev = BTreeMap::from([
            ("ana@x".to_string(), ProjectRole::Admin),
            ("bob@x".to_string(), ProjectRole::Owner),
            ("cy@x".to_string(), ProjectRole::Admin),
            ("dan@x".to_string(), ProjectRole::Admin),
        ]);
        let cur = BTreeMap::from([
            ("bob@x".to_string(), ProjectRole::Admin),
            ("cy@x".to_string(), ProjectRole::Owner),
            ("dee@x".to_string(), ProjectRole::Admin),
        ]);
        let org = BTreeMap::from([("dan@x".to_string(), OrgRole::Member)]);
        let c = membership_changes(ProjectId(42), &prev, &cur, &org);
        assert_eq!(
            c,
            vec![
                (
                    RotateOn::AdminRemoved,
                    "admin ana@x removed from project 42".to_string()
                ),
                (
                    RotateOn::AdminDowngraded,
                    "owner bob@x downgraded to admin on project 42".to_string()
                ),
                (
                    RotateOn::AdminDowngraded,
                    "admin dan@x downgraded to no role on project 42 (organization role now member)"
                        .to_string()
                ),
            ]
        );
        let cur2 = BTreeMap::from([("ana@x".to_string(), ProjectRole::Analyst)]);
        let c = membership_changes(ProjectId(42), &prev, &cur2, &BTreeMap::new());
        assert!(c.contains(&(
            RotateOn::AdminDowngraded,
            "admin ana@x downgraded to analyst on project 42".to_string()
        )));
    }
}
