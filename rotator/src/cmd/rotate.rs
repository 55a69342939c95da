//! `mixpanel-rotator rotate NAME... | --project ID`: asks for rotations and, unless
//! `--no-wait`, returns only when they are done, checked by reads.
//!
//! For each credential the command remembers the value `creds/<name>` holds when it starts.
//! A rotation counts as done only when `creds/<name>` holds another value, no rotation is open
//! any more, and the remembered value no longer works (a service account's secret answers 401;
//! a project secret or token no longer validates). With a nonzero overlap the command returns
//! once the successor is promoted (stored, tested, and read back working), printing when the
//! old credential will be revoked (an absolute UTC time): the daemon's leader (or the next
//! `once`) revokes it then; `--wait` waits for the revocation too (bounded by `--timeout`,
//! warning up front when the overlap ends after it). `--no-wait` returns once the new
//! credential is stored (or, on a follower, once the request is handed over).
//!
//! When this process can take the leader lease it rotates the credentials itself. When
//! another replica leads, it leaves each request in the entry's metadata, rings the request
//! doorbell (the leader polls it every `request_poll`), and watches Vault until the rotation
//! is done, stopped in `needs_human`, or the timeout passes; it keeps trying to take the lease
//! meanwhile, so requests made with no daemon running complete as well (one process after the
//! other).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mixpanel_access::api::ApiError;
use mixpanel_access::inventory::{CredentialKind, CredentialStatus};
use mixpanel_access::vault::{Credential, Phase, Trigger, VaultStore};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::api::Mixpanel;
use crate::app::{connect_api, connect_store, out, out_line, shutdown_on_signals};
use crate::config::Config;
use crate::election::{Elector, Leadership};
use crate::engine::{same_value, Engine, Outcome, Requested};
use crate::error::{Result, RotatorError};
use crate::inventory::{self, RotationRequest};
use crate::metrics::Metrics;
use crate::table;

/// What `rotate` was asked (the command line's `RotateCmd`, or offboarding's rotations).
#[derive(Debug, Clone)]
pub struct RotateArgs {
    /// The credentials' names (their paths under creds/).
    pub names: Vec<String>,
    /// Also every credential the inventory lists on this project.
    pub project: Option<u64>,
    /// Why (a ticket, an incident); recorded in the journal and the inventory.
    pub reason: String,
    /// Only resume rotations stopped in `needs_human` (attempts reset, from their phase);
    /// refused, before anything is changed, for a credential that has none.
    pub retry: bool,
    /// How long the old credential stays valid after the new one is stored (e.g. 0s, 1h);
    /// the entry's own overlap when absent.
    pub overlap: Option<Duration>,
    /// An incident: overlap 0 unless given.
    pub incident: bool,
    /// Who asks (default: $USER).
    pub requested_by: Option<String>,
    /// Return once the new credential is stored (or, when another replica leads, once the
    /// request is handed over), leaving the overlap and the revocation of the old one to the
    /// daemon (or the next `once`).
    pub no_wait: bool,
    /// Also wait out the overlap and the revocation of the old credential (without it, a
    /// rotation with an overlap is reported once its successor is promoted).
    pub wait: bool,
    /// How long to wait for the rotations to finish; on expiry the command exits non-zero and
    /// says what state each rotation is in.
    pub timeout: Duration,
    /// Print the results as JSON.
    pub json: bool,
    /// Rotate even where the entry's rotate_on does not name this trigger: the only way to
    /// reset a project token by default (ingestion with the old token stops).
    pub force: bool,
}

/// How long `rotate` waits for Mixpanel to answer before it opens any journal.
const REACH_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a waiting CLI looks at Vault (and tries to take the lease).
const POLL: Duration = Duration::from_millis(500);

/// The outcome of one credential's rotation, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct RotateResult {
    pub name: String,
    pub ok: bool,
    /// `done`, `promoted`, `handed_over`, `needs_human`, `manual_rotation_required`,
    /// `timed_out`, `failed`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_id: Option<String>,
    pub message: String,
}

struct Target {
    name: String,
    kind: CredentialKind,
    /// `creds/<name>` when the command started.
    old: Option<Credential>,
    /// The account the entry named when the command started (for entries with no secret).
    old_sa_id: Option<mixpanel_access::model::ServiceAccountId>,
    req: RotationRequest,
    left: bool,
    requested_at: DateTime<Utc>,
    rotation_id: Option<String>,
    result: Option<RotateResult>,
}

impl Target {
    fn finish(&mut self, ok: bool, state: &str, message: impl Into<String>) {
        self.result = Some(RotateResult {
            name: self.name.clone(),
            ok,
            state: state.to_string(),
            rotation_id: self.rotation_id.clone(),
            message: message.into(),
        });
    }
}

/// Whether an error says the credential is not accepted.
fn unauthorized(e: &ApiError) -> bool {
    matches!(e, ApiError::Unauthorized { .. })
}

struct Ctx {
    store: VaultStore,
    api: Mixpanel,
    engine: Arc<Engine>,
    /// Wait at least for the promotion (not `--no-wait`).
    wait: bool,
    /// Wait for the revocation of the old credential too (`--wait`).
    wait_revocation: bool,
}

pub async fn rotate(config: Config, args: RotateArgs) -> Result<()> {
    let json = args.json;
    let results = run_rotations(config, args).await?;
    print_results(&results, json);
    let failed = results.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        return Err(RotatorError::Invalid(format!(
            "{failed} of {} rotation(s) did not complete (see above)",
            results.len()
        )));
    }
    Ok(())
}

/// Carries out the rotations of `args` (as `rotate` does) and returns each one's result,
/// printing nothing: for commands that rotate as one of their steps (an offboarding).
pub async fn run_rotations(config: Config, args: RotateArgs) -> Result<Vec<RotateResult>> {
    if args.reason.trim().is_empty() {
        return Err(RotatorError::Invalid("--reason must not be empty".into()));
    }
    if args.names.is_empty() && args.project.is_none() {
        return Err(RotatorError::Invalid(
            "name the credentials to rotate, or give --project ID for every credential used on a project".into(),
        ));
    }
    for n in &args.names {
        inventory::check_name(n)?;
    }
    let shutdown = shutdown_on_signals();
    let store = connect_store(&config).await?;
    let mut names: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for n in &args.names {
        if seen.insert(n.clone()) {
            names.push(n.clone());
        }
    }
    if let Some(p) = args.project {
        let mut found = 0;
        for r in inventory::load(&store).await? {
            if let Ok(e) = &r.entry {
                if e.projects.iter().any(|x| x.0 == p) {
                    found += 1;
                    if seen.insert(e.name.clone()) {
                        names.push(e.name.clone());
                    }
                }
            }
        }
        if found == 0 {
            return Err(RotatorError::Invalid(format!(
                "no credential in the inventory is used on project {p}"
            )));
        }
    }
    let overlap = match (args.overlap, args.incident) {
        (Some(o), _) => Some(o),
        (None, true) => Some(Duration::ZERO),
        (None, false) => None,
    };
    let incident = args.incident || overlap.is_some_and(|o| o.is_zero());
    let requested_by = args
        .requested_by
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into());
    // Mixpanel must answer before a journal is opened: a rotation that cannot even start
    // fails now, in at most REACH_TIMEOUT, instead of leaving a journal in `intent`.
    let api = match tokio::time::timeout(REACH_TIMEOUT, async {
        let api = connect_api(&config).await?;
        // An HTTP answer, even a 5xx, is Mixpanel answering: the engine retries those. No
        // answer at all, or credentials it refuses, and nothing can be rotated.
        match api.me().await {
            Err(e @ (ApiError::Transport { .. } | ApiError::Unauthorized { .. })) => {
                Err(RotatorError::Api(e))
            }
            _ => Ok(api),
        }
    })
    .await
    {
        Ok(Ok(api)) => api,
        Ok(Err(e)) => {
            return Err(RotatorError::Invalid(format!(
                "Mixpanel does not answer ({e}): nothing was started, no journal opened; try again once it does"
            )))
        }
        Err(_) => {
            return Err(RotatorError::Invalid(format!(
                "Mixpanel did not answer within {}: nothing was started, no journal opened; try again once it does",
                humantime_secs(REACH_TIMEOUT)
            )))
        }
    };
    let metrics = Arc::new(Metrics::default());
    let engine = Arc::new(Engine::new(
        store.clone(),
        api.clone(),
        config.rotation.clone(),
        metrics.clone(),
    ));
    let ctx = Ctx {
        store: store.clone(),
        api,
        engine,
        wait: !args.no_wait,
        wait_revocation: args.wait && !args.no_wait,
    };
    let mut targets = Vec::new();
    for name in names {
        let mut req = RotationRequest::new(
            if incident {
                Trigger::Incident
            } else {
                Trigger::Manual
            },
            Some(args.reason.clone()),
            overlap,
        );
        req.requested_by = Some(requested_by.clone());
        req.id = Some(crate::engine::new_rotation_id());
        req.force = args.force;
        let mut t = Target {
            name: name.clone(),
            kind: CredentialKind::ServiceAccount,
            old: None,
            old_sa_id: None,
            requested_at: req.requested_at.unwrap_or_else(Utc::now),
            req,
            left: false,
            rotation_id: None,
            result: None,
        };
        // An unknown or invalid name, or a request a named entry refuses, stops the command
        // before anything is rotated; an entry found through --project that refuses (a project
        // token without --force, say) is skipped and reported.
        let e = inventory::entry(&store, &name).await?;
        if args.retry {
            check_retry(&store, &name).await?;
        }
        if let Err(refused) = inventory::check_request(&e, &t.req) {
            if args.names.contains(&name) {
                return Err(refused);
            }
            t.finish(true, "skipped", format!("not rotated: {refused}"));
            targets.push(t);
            continue;
        }
        if e.kind == CredentialKind::ProjectToken {
            eprintln!(
                "warning: {name}: resetting the token of project {}: every client that sends events with the old token stops being ingested until it is given the new one",
                e.projects
                    .first()
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "?".into())
            );
        }
        if ctx.wait_revocation && e.kind == CredentialKind::ServiceAccount {
            let o = overlap.unwrap_or(e.overlap);
            if o > args.timeout {
                eprintln!(
                    "warning: {name}: --wait waits for the revocation after the overlap of {}, longer than --timeout {}: the command will stop at its timeout with the rotation in its overlap (the daemon's leader revokes the old credential when it ends)",
                    mixpanel_access::inventory::format_duration(o),
                    humantime_secs(args.timeout)
                );
            }
        }
        t.kind = e.kind;
        t.old_sa_id = e.sa_id;
        t.old = store.read_credential(&name).await?.map(|(c, _)| c);
        // A stopped rotation that had promoted its successor resumes with the revocation: the
        // credential to see refused is the journal's old account (its secret is no longer in
        // creds/), checked by listing.
        if let Some((j, _)) = store
            .read_journal(&name)
            .await?
            .filter(|(j, _)| j.phase == Phase::NeedsHuman && j.promoted_at.is_some())
        {
            t.old = None;
            t.old_sa_id = j.old_sa_id;
        }
        targets.push(t);
    }
    let elector = Elector::new(
        store.clone(),
        config.holder(),
        config.election.lease_ttl,
        metrics,
    );
    // The deadline cancels a term this process leads, so its work stops at the next step and
    // the lease is released.
    let stop = shutdown.child_token();
    let timer = {
        let stop = stop.clone();
        let timeout = args.timeout;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            stop.cancel();
        })
    };
    let mut announced = false;
    loop {
        if targets.iter().all(|t| t.result.is_some()) {
            break;
        }
        if stop.is_cancelled() {
            let why = if shutdown.is_cancelled() {
                "interrupted by a signal".to_string()
            } else {
                format!("timed out after {}", humantime_secs(args.timeout))
            };
            for t in targets.iter_mut().filter(|t| t.result.is_none()) {
                let state = describe(&ctx, t).await;
                t.finish(false, "timed_out", format!("{why}: {state}"));
            }
            break;
        }
        // A request handed over earlier may have been done meanwhile (by the leader, or by
        // another command that led): judge that before rotating again.
        for t in targets
            .iter_mut()
            .filter(|t| t.result.is_none() && t.left && ctx.wait)
        {
            if let Err(e) = observe(&ctx, t).await {
                if !crate::engine::is_vault_outage(&e) {
                    return Err(e);
                }
            }
        }
        if targets.iter().all(|t| t.result.is_some()) {
            break;
        }
        let pending: Vec<(String, RotationRequest)> = targets
            .iter()
            .filter(|t| t.result.is_none())
            .map(|t| (t.name.clone(), t.req.clone()))
            .collect();
        let engine = ctx.engine.clone();
        let wait = ctx.wait_revocation;
        let led = elector
            .try_lead(&stop, |lead| lead_all(engine, lead, pending, wait))
            .await;
        match led {
            Ok(Some(results)) => {
                for (name, result) in results {
                    let Some(t) = targets.iter_mut().find(|t| t.name == name) else {
                        continue;
                    };
                    if t.left {
                        if let Some(id) = t.req.id.clone() {
                            inventory::take_back_request(&ctx.store, &t.name, &id).await?;
                        }
                    }
                    settle_led(&ctx, t, result).await?;
                }
                continue;
            }
            Ok(None) => {}
            Err(e) if crate::engine::is_vault_outage(&e) => {
                tracing::warn!(error = %e, "Vault is unavailable; retrying");
            }
            Err(e) => return Err(e),
        }
        // Another replica leads: hand the requests over and watch.
        let holder = crate::election::leader(&ctx.store)
            .await
            .ok()
            .flatten()
            .map(|(h, _)| h)
            .unwrap_or_else(|| "another command, just finishing".into());
        for t in targets.iter_mut().filter(|t| t.result.is_none() && !t.left) {
            inventory::leave_request(&ctx.store, &t.name, &t.req).await?;
            t.left = true;
            if !ctx.wait {
                let msg = format!("another replica leads ({holder}): the request was handed over to it (not waiting: --no-wait)");
                t.finish(true, "handed_over", msg);
            }
        }
        if !announced && ctx.wait && targets.iter().any(|t| t.result.is_none()) {
            announced = true;
            eprintln!(
                "another replica leads ({holder}): request(s) handed over; waiting up to {} for the rotation(s) to finish",
                humantime_secs(args.timeout)
            );
        }
        for t in targets.iter_mut().filter(|t| t.result.is_none()) {
            if let Err(e) = observe(&ctx, t).await {
                if !crate::engine::is_vault_outage(&e) {
                    return Err(e);
                }
                tracing::warn!(credential = %t.name, error = %e, "cannot read Vault; retrying");
            }
        }
        if targets.iter().all(|t| t.result.is_some()) {
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    timer.abort();
    // A request this command handed over and no longer waits for is taken back, so nothing
    // rotates behind the operator's back after the command has reported (except with
    // --no-wait, where the leader is meant to do it).
    for t in targets.iter_mut().filter(|t| t.left) {
        let handed_over = t.result.as_ref().is_some_and(|r| r.state == "handed_over");
        if let (false, Some(id)) = (handed_over, t.req.id.clone()) {
            if let Err(e) = inventory::take_back_request(&ctx.store, &t.name, &id).await {
                tracing::warn!(credential = %t.name, error = %e, "could not take back the rotation request");
            }
        }
    }
    Ok(targets.into_iter().filter_map(|t| t.result).collect())
}

/// `--retry`: the credential must have a rotation stopped in `needs_human`; otherwise says
/// what state it is in and what to run instead.
async fn check_retry(store: &VaultStore, name: &str) -> Result<()> {
    let journal = store.read_journal(name).await?.map(|(j, _)| j);
    let state = match &journal {
        Some(j) if j.phase == Phase::NeedsHuman => return Ok(()),
        Some(j) if j.phase.is_open() => format!(
            "its rotation {} is open in phase {} and the leader drives it (`mixpanel-rotator status {name}` follows it)",
            j.rotation_id, j.phase
        ),
        Some(j) => format!(
            "its last rotation {} is {}{}",
            j.rotation_id,
            j.phase,
            j.finished_at
                .map(|t| format!(" (finished {})", inventory::stamp(t)))
                .unwrap_or_default()
        ),
        None => "it has never been rotated by the rotator".to_string(),
    };
    Err(RotatorError::Invalid(format!(
        "nothing to retry for {name}: no rotation of it is stopped in needs_human ({state}); nothing was changed. To rotate it anew: `mixpanel-rotator rotate {name} --reason ...`"
    )))
}

fn humantime_secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// The work of a term this process leads: every pending credential, side by side.
async fn lead_all(
    engine: Arc<Engine>,
    lead: Leadership,
    pending: Vec<(String, RotationRequest)>,
    wait: bool,
) -> Vec<(String, Result<(Requested, Outcome)>)> {
    let mut set = JoinSet::new();
    for (name, req) in pending {
        let engine = engine.clone();
        let lead = lead.clone();
        set.spawn(async move {
            let r = engine.rotate(&name, &req, &lead, wait).await;
            (name, r)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => out.push(r),
            Err(e) => tracing::error!(error = %e, "a rotation task failed"),
        }
    }
    out
}

/// Judges what this process's own term did for one credential.
async fn settle_led(ctx: &Ctx, t: &mut Target, result: Result<(Requested, Outcome)>) -> Result<()> {
    let (requested, outcome) = match result {
        Ok(r) => r,
        // The term ended (timeout, signal, lost lease): the loop reports or goes on watching.
        Err(e) if e.is_interrupted() => return Ok(()),
        Err(e) => {
            t.finish(false, "failed", e.to_string());
            return Ok(());
        }
    };
    if let Some(rid) = requested.rotation_id() {
        t.rotation_id = Some(rid.to_string());
    }
    match (&requested, outcome) {
        (Requested::Mirrored { status }, _) => {
            let e = inventory::entry(&ctx.store, &t.name).await?;
            let current = ctx.store.read_credential(&t.name).await?.map(|(c, _)| c);
            let changed = match (&t.old, &current) {
                (Some(o), Some(c)) => !same_value(o, c),
                _ => false,
            };
            let reason = e.status_reason.unwrap_or_default();
            if changed && old_rejected(ctx, t, current.as_ref()).await?.is_some() {
                // Reset by hand since the last mirror: the new value is in Vault and the
                // old one no longer validates.
                t.finish(
                    true,
                    "mirrored",
                    format!("the value was changed by hand in Mixpanel; the new value is mirrored into Vault and validated, the old one no longer validates; status {status}"),
                );
            } else {
                t.finish(
                    false,
                    &status.to_string(),
                    format!(
                        "NOT rotated: a {} cannot be reset through this API; its current value was mirrored and validated; {reason}",
                        t.kind
                    ),
                );
            }
        }
        (_, outcome) => {
            let how = match &requested {
                Requested::Joined { rotation_id } => {
                    format!("joined the rotation {rotation_id} already in progress; ")
                }
                Requested::Resumed { rotation_id } => {
                    format!("resumed rotation {rotation_id} (it needed a human); ")
                }
                _ => String::new(),
            };
            match outcome {
                Outcome::Done { rotation_id } => {
                    if matches!(requested, Requested::Joined { .. }) && !replaced(ctx, t).await? {
                        // The rotation joined had promoted its credential before this command
                        // read it: it did not replace what this command was asked to replace.
                        // The next turn of the loop asks for a rotation of its own.
                        return Ok(());
                    }
                    t.rotation_id = Some(rotation_id);
                    verify_done(ctx, t).await?;
                }
                Outcome::Waiting { rotation_id, until } => {
                    t.rotation_id = Some(rotation_id);
                    promoted_only(ctx, t, until).await?;
                }
                Outcome::NeedsHuman { rotation_id, error } => {
                    t.rotation_id = Some(rotation_id.clone());
                    t.finish(
                        false,
                        "needs_human",
                        format!("rotation {rotation_id} needs a human: {error}"),
                    );
                }
                Outcome::Idle => verify_done(ctx, t).await?,
            }
            if let Some(r) = t.result.as_mut() {
                r.message = format!("{how}{}", r.message);
            }
        }
    }
    Ok(())
}

/// Whether `creds/<name>` holds another value than when the command started.
async fn replaced(ctx: &Ctx, t: &Target) -> Result<bool> {
    let current = ctx.store.read_credential(&t.name).await?.map(|(c, _)| c);
    Ok(match (&t.old, &current) {
        (Some(o), Some(c)) => !same_value(o, c),
        (None, Some(_)) => true,
        _ => false,
    })
}

/// A rotation promoted and in its overlap (not `--wait`): checks by reads that `creds/<name>`
/// holds a new value and that it works, then says when the old one will be revoked.
async fn promoted_only(ctx: &Ctx, t: &mut Target, until: DateTime<Utc>) -> Result<()> {
    let current = ctx.store.read_credential(&t.name).await?.map(|(c, _)| c);
    let replaced = match (&t.old, &current) {
        (Some(o), Some(c)) => !same_value(o, c),
        (None, Some(_)) => true,
        _ => false,
    };
    if !replaced {
        t.finish(
            false,
            "failed",
            "the rotation reported the new credential promoted but creds/ still holds the old value",
        );
        return Ok(());
    }
    // The new credential must work now: consumers read it from creds/ from here on.
    let works = match &current {
        Some(Credential::ServiceAccount {
            username, secret, ..
        }) => {
            let client = ctx.api.client_for(username.as_str(), secret.clone())?;
            match ctx.api.me_with(&client).await {
                Ok(_) => Ok(format!("now uses {username}, checked working")),
                Err(e) => Err(e.to_string()),
            }
        }
        _ => Ok("the new credential is stored and tested".to_string()),
    };
    match works {
        Ok(how) => t.finish(
            true,
            "promoted",
            format!(
                "{how}; the old credential stays valid until {} and is revoked then by the daemon's leader (or the next `once`); `rotate --wait` waits for the revocation",
                inventory::stamp(until)
            ),
        ),
        Err(e) => t.finish(
            false,
            "failed",
            format!("the new credential is stored in creds/{} but does not work ({e}); the old one stays valid until {}: look at it before then", t.name, inventory::stamp(until)),
        ),
    }
    Ok(())
}

/// A rotation reported done: checks by reads that `creds/<name>` holds a new value and the old
/// one no longer works.
async fn verify_done(ctx: &Ctx, t: &mut Target) -> Result<()> {
    let current = ctx.store.read_credential(&t.name).await?.map(|(c, _)| c);
    let replaced = match (&t.old, &current) {
        (Some(o), Some(c)) => !same_value(o, c),
        (None, Some(_)) => true,
        _ => false,
    };
    let entry = inventory::entry(&ctx.store, &t.name).await?;
    let manual = entry.status == CredentialStatus::ManualRotationRequired;
    if !replaced {
        if manual {
            t.finish(
                false,
                "manual_rotation_required",
                format!(
                    "NOT rotated: this API cannot reset a {}; its current value was mirrored and validated; {}",
                    t.kind,
                    entry.status_reason.clone().unwrap_or_default()
                ),
            );
        } else {
            t.finish(
                false,
                "failed",
                format!(
                    "no rotation happened: creds/{} still holds the value it held before",
                    t.name
                ),
            );
        }
        return Ok(());
    }
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
        }
        match old_rejected(ctx, t, current.as_ref()).await {
            Ok(Some(how)) if manual => {
                t.finish(
                    true,
                    "mirrored",
                    format!("the value was changed by hand in Mixpanel and is now mirrored into Vault; {how}"),
                );
                return Ok(());
            }
            Ok(Some(how)) => {
                let e = inventory::entry(&ctx.store, &t.name).await?;
                let who = match (&e.username, e.sa_id) {
                    (Some(u), Some(id)) if t.kind == CredentialKind::ServiceAccount => {
                        format!("now uses {u} (id {id}); ")
                    }
                    _ => String::new(),
                };
                t.finish(
                    true,
                    "done",
                    format!(
                        "{who}{how}; next rotation {}",
                        e.next_rotation
                            .map(inventory::stamp)
                            .unwrap_or_else(|| "never".into())
                    ),
                );
                return Ok(());
            }
            Ok(None) => {
                last = "the old credential still works".into();
            }
            Err(e) => last = format!("could not check the old credential: {e}"),
        }
    }
    t.finish(
        false,
        "failed",
        format!("the new credential is stored, but {last}: revoke it by hand"),
    );
    Ok(())
}

/// `Some(how)` when the old value is refused; `None` while it still works.
async fn old_rejected(
    ctx: &Ctx,
    t: &Target,
    current: Option<&Credential>,
) -> std::result::Result<Option<String>, RotatorError> {
    match &t.old {
        Some(Credential::ServiceAccount {
            username, secret, ..
        }) => {
            let client = ctx.api.client_for(username.as_str(), secret.clone())?;
            match ctx.api.me_with(&client).await {
                Err(e) if unauthorized(&e) => Ok(Some(format!(
                    "the old credential ({username}) is refused (401)"
                ))),
                Err(e) => Err(e.into()),
                Ok(_) => Ok(None),
            }
        }
        Some(Credential::ProjectSecret {
            secret,
            token,
            project_id,
        }) => {
            let token = match (token, current) {
                (Some(t), _) => t.clone(),
                (None, Some(Credential::ProjectSecret { token: Some(t), .. })) => t.clone(),
                _ => {
                    return Ok(Some(format!(
                        "project {project_id}: a new secret is stored (no token known to check the old one)"
                    )))
                }
            };
            if ctx.api.validate_project_credentials(&token, secret).await? {
                Ok(None)
            } else {
                Ok(Some(format!(
                    "the old secret of project {project_id} no longer validates"
                )))
            }
        }
        Some(Credential::ProjectToken { token, project_id }) => {
            let meta = ctx.api.project_metadata(*project_id).await?;
            match meta.secret {
                Some(secret) => {
                    if ctx.api.validate_project_credentials(token, &secret).await? {
                        Ok(None)
                    } else {
                        Ok(Some(format!(
                            "the old token of project {project_id} no longer validates; ingestion with it stops"
                        )))
                    }
                }
                None if meta.token.as_deref() != Some(token.as_str()) => {
                    Ok(Some(format!("project {project_id} has a new token")))
                }
                None => Ok(None),
            }
        }
        None => {
            // No secret was stored: the old account must be gone.
            let Some(old) = t.old_sa_id else {
                return Ok(Some("a new credential is stored".into()));
            };
            let accounts = ctx.api.list_service_accounts().await?;
            if accounts.iter().any(|a| a.id == old) {
                Ok(None)
            } else {
                Ok(Some(format!("the old account (id {old}) is deleted")))
            }
        }
    }
}

/// Watches a credential whose request was handed over to another replica.
async fn observe(ctx: &Ctx, t: &mut Target) -> Result<()> {
    let journal = ctx.store.read_journal(&t.name).await?.map(|(j, _)| j);
    let record = inventory::load_one(&ctx.store, &t.name).await?;
    let pending = record
        .as_ref()
        .and_then(|r| r.request.as_ref())
        .is_some_and(|r| r.id == t.req.id);
    if let Some(j) = &journal {
        if j.phase.is_open() || j.updated_at >= t.requested_at {
            t.rotation_id = Some(j.rotation_id.clone());
        }
        if j.phase == Phase::NeedsHuman && j.updated_at >= t.requested_at && !pending {
            t.finish(
                false,
                "needs_human",
                format!(
                    "rotation {} stopped: {}",
                    j.rotation_id,
                    j.last_error.clone().unwrap_or_default()
                ),
            );
            return Ok(());
        }
    }
    let open = journal.as_ref().is_some_and(|j| j.phase.is_open());
    let current = ctx.store.read_credential(&t.name).await?.map(|(c, _)| c);
    let replaced = match (&t.old, &current) {
        (Some(o), Some(c)) => !same_value(o, c),
        (None, Some(_)) => true,
        _ => false,
    };
    if replaced && !ctx.wait {
        t.finish(true, "promoted", "the new credential is stored");
        return Ok(());
    }
    if replaced && open && !ctx.wait_revocation {
        // Promoted by the leader: report once its overlap is known to run on.
        if let Some(until) = journal
            .as_ref()
            .filter(|j| matches!(j.phase, Phase::Promoted | Phase::Overlap))
            .and_then(|j| j.overlap_ends_at())
            .filter(|until| *until > Utc::now())
        {
            if let Some(j) = &journal {
                t.rotation_id = Some(j.rotation_id.clone());
            }
            return promoted_only(ctx, t, until).await;
        }
    }
    if replaced && !open {
        if let Some(j) = &journal {
            t.rotation_id = Some(j.rotation_id.clone());
        }
        return verify_done(ctx, t).await;
    }
    if !pending && !open && !replaced {
        let entry = record.and_then(|r| r.entry.ok());
        if let Some(e) = entry.filter(|e| e.status == CredentialStatus::ManualRotationRequired) {
            t.finish(
                false,
                "manual_rotation_required",
                format!(
                    "the leader could not rotate it through the API: {}",
                    e.status_reason.unwrap_or_default()
                ),
            );
            return Ok(());
        }
        // Taken without a rotation to show for it (overwritten by another request, or
        // finished before this one): ask again.
        inventory::leave_request(&ctx.store, &t.name, &t.req).await?;
    }
    Ok(())
}

/// Where a credential's rotation stands, for a timeout message.
async fn describe(ctx: &Ctx, t: &Target) -> String {
    let journal = ctx.store.read_journal(&t.name).await.ok().flatten();
    let record = inventory::load_one(&ctx.store, &t.name)
        .await
        .ok()
        .flatten();
    let pending = record.as_ref().is_some_and(|r| r.request.is_some());
    match journal {
        Some((j, _)) if j.phase.is_open() => {
            let until = if j.phase == Phase::Overlap {
                j.overlap_ends_at()
                    .map(|u| format!(" (overlap until {})", inventory::stamp(u)))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            format!(
                "rotation {} is in phase {}{until} after {} failed attempt(s){}; `mixpanel-rotator status` follows it",
                j.rotation_id,
                j.phase,
                j.attempts,
                j.last_error
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            )
        }
        _ if pending => {
            let leader = crate::election::leader(&ctx.store)
                .await
                .ok()
                .flatten()
                .map(|(h, _)| h)
                .unwrap_or_else(|| "none".into());
            format!("the request is still waiting for the leader ({leader}) to pick it up; nothing was rotated")
        }
        _ => format!(
            "no rotation is open and creds/{} still holds the old credential",
            t.name
        ),
    }
}

fn print_results(results: &[RotateResult], json: bool) {
    if json {
        match serde_json::to_string_pretty(results) {
            Ok(s) => out_line(&s),
            Err(e) => eprintln!("cannot encode the results: {e}"),
        }
        return;
    }
    if results.len() == 1 {
        let r = &results[0];
        out_line(&format!(
            "{}: {}{}: {}",
            r.name,
            r.state,
            r.rotation_id
                .as_deref()
                .map(|id| format!(" (rotation {id})"))
                .unwrap_or_default(),
            r.message
        ));
        return;
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                if r.ok { "ok" } else { "FAILED" }.to_string(),
                r.state.clone(),
                r.rotation_id.clone().unwrap_or_else(|| "-".into()),
                table::cell(&r.message, 100),
            ]
        })
        .collect();
    out(&table::render(
        &["NAME", "RESULT", "STATE", "ROTATION", "DETAIL"],
        &rows,
    ));
    let skipped = results.iter().filter(|r| r.state == "skipped").count();
    let ok = results.iter().filter(|r| r.ok).count() - skipped;
    out_line(&format!(
        "{ok} of {} rotation(s) completed{}",
        results.len() - skipped,
        if skipped > 0 {
            format!(", {skipped} skipped (see DETAIL)")
        } else {
            String::new()
        }
    ));
}
