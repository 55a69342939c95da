//! Prometheus metrics, rendered by hand in the text exposition format (version 0.0.4): a few
//! counters and gauges do not need a metrics framework.
//!
//! - `mixpanel_rotator_is_leader` (gauge)
//! - `mixpanel_rotator_lease_ttl_seconds` (gauge: the configured `election.lease_ttl`)
//! - `mixpanel_rotator_leader_seen_timestamp_seconds` (gauge: when this replica last knew of a
//!   live leader lease, its own or another replica's; the process start until then)
//! - `mixpanel_rotator_rotations_total{trigger,outcome}` (counter; outcome `success`,
//!   `needs_human`, `mirrored`, `coalesced`, `interrupted`, `error`; every trigger and outcome
//!   is exported from the start, at 0, so that `increase()` sees the first failure)
//! - `mixpanel_rotator_credentials{status}` (gauge, from the last reconcile pass)
//! - `mixpanel_rotator_credentials_due`, `mixpanel_rotator_credentials_overdue` (gauges)
//! - `mixpanel_rotator_open_rotations` (gauge)
//! - `mixpanel_rotator_last_success_timestamp_seconds` (gauge)
//! - `mixpanel_rotator_reconcile_passes_total{result}` (counter)
//! - `mixpanel_rotator_membership_changes_total` (counter)
//! - `mixpanel_rotator_credential_secrets{health}` (gauge, from the last reconcile pass: the
//!   check of each stored secret against Mixpanel, `ok`, `rejected` or `unchecked`, and
//!   `missing` when `creds/<name>` holds no live version; the leader re-checks a secret whose
//!   cached check is older than `secret_check_interval`, and `status` those older than
//!   `health_check_interval`)
//! - `mixpanel_rotator_rotation_duration_seconds` (histogram: from the journal's start to
//!   `done`, overlap included)
//! - `mixpanel_rotator_retrying_rotations` (gauge: open rotations whose current step keeps
//!   failing on transient errors, backing off) and
//!   `mixpanel_rotator_retrying_since_timestamp_seconds` (gauge: since when the oldest of
//!   them has been retrying; 0 none), for the alert on a rotation retrying too long
//! - `mixpanel_rotator_vault_up`, `mixpanel_rotator_mixpanel_up` (gauges: 1 when the last
//!   request to Vault (a lease read, take or renewal) or to Mixpanel (the daemon's probe, a
//!   `/readyz` check) was answered, 0 when it was not or none was made yet) and
//!   `mixpanel_rotator_vault_last_success_timestamp_seconds`,
//!   `mixpanel_rotator_mixpanel_last_success_timestamp_seconds` (gauges: when; 0 never)
//! - `mixpanel_rotator_review_failures_total` (counter: scheduled access reviews that failed,
//!   their reads or their report; each is retried with a growing, capped backoff)
//! - `mixpanel_rotator_review_findings{code}` (gauge, from the last scheduled access
//!   review: every finding code, zero included) and
//!   `mixpanel_rotator_last_review_timestamp_seconds` (gauge: when the last review whose
//!   report was written was taken, from its record in Vault; 0 none yet)
//!
//! The gauges taken from a reconcile pass describe the leader's last pass: a replica whose term
//! ends clears them (a standby exports no statuses and zero due/overdue/open), so that a
//! former leader does not keep reporting what it saw. [`METRIC_NAMES`] lists every family.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use mixpanel_access::vault::Trigger;

/// Every metric family `/metrics` exports (the dashboard and the alert rules in
/// `examples/rotator/` may use only these; a test checks both).
pub const METRIC_NAMES: &[&str] = &[
    "mixpanel_rotator_is_leader",
    "mixpanel_rotator_lease_ttl_seconds",
    "mixpanel_rotator_leader_seen_timestamp_seconds",
    "mixpanel_rotator_retrying_rotations",
    "mixpanel_rotator_retrying_since_timestamp_seconds",
    "mixpanel_rotator_vault_up",
    "mixpanel_rotator_vault_last_success_timestamp_seconds",
    "mixpanel_rotator_mixpanel_up",
    "mixpanel_rotator_mixpanel_last_success_timestamp_seconds",
    "mixpanel_rotator_rotations_total",
    "mixpanel_rotator_credentials",
    "mixpanel_rotator_credentials_due",
    "mixpanel_rotator_credentials_overdue",
    "mixpanel_rotator_open_rotations",
    "mixpanel_rotator_access_grants_overdue",
    "mixpanel_rotator_last_success_timestamp_seconds",
    "mixpanel_rotator_reconcile_passes_total",
    "mixpanel_rotator_membership_changes_total",
    "mixpanel_rotator_review_failures_total",
    "mixpanel_rotator_credential_secrets",
    "mixpanel_rotator_rotation_duration_seconds",
    // Only once a scheduled access review has run:
    "mixpanel_rotator_review_findings",
    "mixpanel_rotator_last_review_timestamp_seconds",
];

/// How many of [`METRIC_NAMES`], at its end, appear only after an access review.
#[cfg(test)]
const REVIEW_FAMILIES: usize = 2;

/// The outcomes `mixpanel_rotator_rotations_total` counts.
pub const OUTCOMES: &[&str] = &[
    "success",
    "needs_human",
    "mirrored",
    "coalesced",
    "interrupted",
    "error",
];

/// The rotator's metrics. Shared through an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    leader: AtomicBool,
    lease_ttl_ms: AtomicU64,
    leader_seen_ms: AtomicI64,
    rotations: Mutex<BTreeMap<(String, String), u64>>,
    statuses: Mutex<BTreeMap<String, u64>>,
    due: AtomicU64,
    overdue: AtomicU64,
    open: AtomicU64,
    grants_overdue: AtomicU64,
    last_success: AtomicI64,
    passes_ok: AtomicU64,
    passes_failed: AtomicU64,
    membership_changes: AtomicU64,
    secret_health: Mutex<BTreeMap<String, u64>>,
    durations: Mutex<Histogram>,
    findings: Mutex<Option<BTreeMap<&'static str, (String, u64)>>>,
    last_review: AtomicI64,
    review_failures: AtomicU64,
    retrying: Mutex<BTreeMap<String, i64>>,
    vault_up: AtomicBool,
    vault_ok_ms: AtomicI64,
    mixpanel_up: AtomicBool,
    mixpanel_ok_ms: AtomicI64,
}

/// The upper bounds (seconds) of the rotation duration histogram.
pub const DURATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 21_600.0, 86_400.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Metrics {
    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    /// Records the lease TTL and starts the "leader seen" clock at now (the process start),
    /// unless a leader was seen already.
    pub fn election_started(&self, ttl: std::time::Duration) {
        self.lease_ttl_ms
            .store(ttl.as_millis() as u64, Ordering::Relaxed);
        let _ = self.leader_seen_ms.compare_exchange(
            0,
            chrono::Utc::now().timestamp_millis(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Records that the rotation of `name` has been retrying transient failures since
    /// `since` (`None`: it is not).
    pub fn retrying(&self, name: &str, since: Option<chrono::DateTime<chrono::Utc>>) {
        if let Ok(mut m) = self.retrying.lock() {
            match since {
                Some(at) => {
                    m.insert(name.to_string(), at.timestamp_millis());
                }
                None => {
                    m.remove(name);
                }
            }
        }
    }

    /// Whether Vault just answered (a lease read, take or renewal).
    pub fn vault_reached(&self, ok: bool) {
        self.vault_up.store(ok, Ordering::Relaxed);
        if ok {
            self.vault_ok_ms
                .fetch_max(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
        }
    }

    /// Whether Mixpanel just answered the rotator's own credentials.
    pub fn mixpanel_reached(&self, ok: bool) {
        self.mixpanel_up.store(ok, Ordering::Relaxed);
        if ok {
            self.mixpanel_ok_ms
                .fetch_max(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
        }
    }

    /// This replica knows, now, of a live leader lease (it took or renewed its own, or read
    /// another replica's).
    pub fn leader_seen(&self) {
        self.leader_seen_ms
            .fetch_max(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    /// When this replica last knew of a live leader lease (Unix seconds, to the millisecond;
    /// 0: never, and no election was started).
    pub fn leader_seen_at(&self) -> f64 {
        self.leader_seen_ms.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// The term ended: what the last pass saw is no longer this replica's to report.
    pub fn term_ended(&self) {
        self.set_leader(false);
        if let Ok(mut s) = self.statuses.lock() {
            s.clear();
        }
        if let Ok(mut s) = self.secret_health.lock() {
            s.clear();
        }
        self.due.store(0, Ordering::Relaxed);
        self.overdue.store(0, Ordering::Relaxed);
        self.open.store(0, Ordering::Relaxed);
        self.grants_overdue.store(0, Ordering::Relaxed);
    }

    /// Counts a rotation outcome; `success` also records the time.
    pub fn rotation(&self, trigger: &str, outcome: &str) {
        if let Ok(mut m) = self.rotations.lock() {
            *m.entry((trigger.to_string(), outcome.to_string()))
                .or_default() += 1;
        }
        if outcome == "success" {
            self.last_success
                .store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
        }
    }

    /// How many rotations ended with `outcome` (all triggers).
    pub fn rotations_with(&self, outcome: &str) -> u64 {
        self.rotations
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|((_, o), _)| o == outcome)
                    .map(|(_, n)| *n)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Records the inventory as the last pass saw it.
    pub fn inventory(&self, statuses: BTreeMap<String, u64>, due: u64, overdue: u64) {
        if let Ok(mut s) = self.statuses.lock() {
            *s = statuses;
        }
        self.due.store(due, Ordering::Relaxed);
        self.overdue.store(overdue, Ordering::Relaxed);
    }

    /// Time-limited grants past their expiry and not revoked (the leader's last pass).
    pub fn set_grants_overdue(&self, n: u64) {
        self.grants_overdue.store(n, Ordering::Relaxed);
    }

    pub fn set_open(&self, open: u64) {
        self.open.store(open, Ordering::Relaxed);
    }

    pub fn pass(&self, ok: bool) {
        if ok {
            self.passes_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.passes_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the cached health of the stored secrets as the last pass saw it.
    pub fn secret_health(&self, counts: BTreeMap<String, u64>) {
        if let Ok(mut s) = self.secret_health.lock() {
            *s = counts;
        }
    }

    /// Observes how long a finished rotation took.
    pub fn rotation_duration(&self, seconds: f64) {
        if let Ok(mut h) = self.durations.lock() {
            if h.counts.len() != DURATION_BUCKETS.len() {
                h.counts = vec![0; DURATION_BUCKETS.len()];
            }
            for (i, b) in DURATION_BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds.max(0.0);
            h.count += 1;
        }
    }

    pub fn membership_change(&self) {
        self.membership_changes.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the findings of an access review: a count per code (every code, zero included).
    /// The review's time is not recorded here: see [`review_written`](Self::review_written).
    pub fn review_findings(&self, review: &mixpanel_access::governance::Review) {
        use mixpanel_access::governance::findings::code;
        let mut m: BTreeMap<&'static str, (String, u64)> =
            code::ALL.iter().map(|c| (*c, (String::new(), 0))).collect();
        for f in &review.findings {
            let e = m.entry(f.code).or_default();
            e.0 = f.severity.to_string();
            e.1 += 1;
        }
        if let Ok(mut slot) = self.findings.lock() {
            *slot = Some(m);
        }
    }

    /// Records when the last review whose report was written was taken.
    pub fn review_written(&self, taken_at: chrono::DateTime<chrono::Utc>) {
        self.last_review
            .store(taken_at.timestamp(), Ordering::Relaxed);
    }

    /// Counts a scheduled review that failed.
    pub fn review_failed(&self) {
        self.review_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            &mut out,
            "mixpanel_rotator_is_leader",
            "1 when this replica holds the leader lease and rotates.",
            u8::from(self.is_leader()).to_string(),
        );
        gauge(
            &mut out,
            "mixpanel_rotator_lease_ttl_seconds",
            "The leader lease's TTL (election.lease_ttl).",
            (self.lease_ttl_ms.load(Ordering::Relaxed) as f64 / 1000.0).to_string(),
        );
        gauge(
            &mut out,
            "mixpanel_rotator_leader_seen_timestamp_seconds",
            "Unix time this replica last knew of a live leader lease, its own or another's (the process start until then).",
            self.leader_seen_at().to_string(),
        );
        let (retrying, oldest) = self
            .retrying
            .lock()
            .map(|m| (m.len(), m.values().min().copied().unwrap_or(0)))
            .unwrap_or((0, 0));
        gauge(
            &mut out,
            "mixpanel_rotator_retrying_rotations",
            "Open rotations whose current step keeps failing on transient errors (backing off).",
            retrying.to_string(),
        );
        gauge(
            &mut out,
            "mixpanel_rotator_retrying_since_timestamp_seconds",
            "Unix time the longest-retrying open rotation started retrying (0: none).",
            (oldest as f64 / 1000.0).to_string(),
        );
        for (name, help, up, at) in [
            ("vault", "Vault", &self.vault_up, &self.vault_ok_ms),
            (
                "mixpanel",
                "Mixpanel",
                &self.mixpanel_up,
                &self.mixpanel_ok_ms,
            ),
        ] {
            gauge(
                &mut out,
                &format!("mixpanel_rotator_{name}_up"),
                &format!("1 when {help} answered the rotator's last request to it."),
                u8::from(up.load(Ordering::Relaxed)).to_string(),
            );
            gauge(
                &mut out,
                &format!("mixpanel_rotator_{name}_last_success_timestamp_seconds"),
                &format!("Unix time {help} last answered (0: never)."),
                (at.load(Ordering::Relaxed) as f64 / 1000.0).to_string(),
            );
        }
        let _ = writeln!(
            out,
            "# HELP mixpanel_rotator_rotations_total Rotations by trigger and outcome.\n# TYPE mixpanel_rotator_rotations_total counter"
        );
        if let Ok(m) = self.rotations.lock() {
            // Every known pair from the start, at 0: a counter that appears only with its
            // first increment is invisible to increase() and rate().
            let mut all = m.clone();
            for trigger in Trigger::ALL {
                for outcome in OUTCOMES {
                    all.entry((trigger.as_str().to_string(), outcome.to_string()))
                        .or_default();
                }
            }
            for ((trigger, outcome), n) in all.iter() {
                let _ = writeln!(
                    out,
                    "mixpanel_rotator_rotations_total{{trigger=\"{}\",outcome=\"{}\"}} {n}",
                    escape(trigger),
                    escape(outcome)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP mixpanel_rotator_credentials Credentials of the inventory by status (last reconcile pass).\n# TYPE mixpanel_rotator_credentials gauge"
        );
        if let Ok(s) = self.statuses.lock() {
            for (status, n) in s.iter() {
                let _ = writeln!(
                    out,
                    "mixpanel_rotator_credentials{{status=\"{}\"}} {n}",
                    escape(status)
                );
            }
        }
        gauge(
            &mut out,
            "mixpanel_rotator_credentials_due",
            "Credentials past their next_rotation date.",
            self.due.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "mixpanel_rotator_credentials_overdue",
            "Credentials due for longer than their grace period.",
            self.overdue.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "mixpanel_rotator_open_rotations",
            "Rotations with an open journal (including overlap windows).",
            self.open.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "mixpanel_rotator_access_grants_overdue",
            "Time-limited grants past their expiry and not revoked (manual ones included), from the leader's last pass.",
            self.grants_overdue.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "mixpanel_rotator_last_success_timestamp_seconds",
            "Unix time of the last rotation that completed (0: none since start).",
            self.last_success.load(Ordering::Relaxed).to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP mixpanel_rotator_reconcile_passes_total Reconcile passes by result.\n# TYPE mixpanel_rotator_reconcile_passes_total counter\nmixpanel_rotator_reconcile_passes_total{{result=\"ok\"}} {}\nmixpanel_rotator_reconcile_passes_total{{result=\"error\"}} {}",
            self.passes_ok.load(Ordering::Relaxed),
            self.passes_failed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP mixpanel_rotator_membership_changes_total Owner/admin removals or downgrades seen.\n# TYPE mixpanel_rotator_membership_changes_total counter\nmixpanel_rotator_membership_changes_total {}",
            self.membership_changes.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP mixpanel_rotator_review_failures_total Scheduled access reviews that failed (their reads or their report); each is retried with backoff.\n# TYPE mixpanel_rotator_review_failures_total counter\nmixpanel_rotator_review_failures_total {}",
            self.review_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP mixpanel_rotator_credential_secrets Stored secrets by their last check against Mixpanel (last reconcile pass).\n# TYPE mixpanel_rotator_credential_secrets gauge"
        );
        if let Ok(s) = self.secret_health.lock() {
            for (health, n) in s.iter() {
                let _ = writeln!(
                    out,
                    "mixpanel_rotator_credential_secrets{{health=\"{}\"}} {n}",
                    escape(health)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP mixpanel_rotator_rotation_duration_seconds Time from a rotation's start to done, overlap included.\n# TYPE mixpanel_rotator_rotation_duration_seconds histogram"
        );
        if let Ok(h) = self.durations.lock() {
            for (i, b) in DURATION_BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "mixpanel_rotator_rotation_duration_seconds_bucket{{le=\"{b}\"}} {}",
                    h.counts.get(i).copied().unwrap_or(0)
                );
            }
            let _ = writeln!(
                out,
                "mixpanel_rotator_rotation_duration_seconds_bucket{{le=\"+Inf\"}} {}\nmixpanel_rotator_rotation_duration_seconds_sum {}\nmixpanel_rotator_rotation_duration_seconds_count {}",
                h.count, h.sum, h.count
            );
        }
        if let Ok(slot) = self.findings.lock() {
            if let Some(m) = slot.as_ref() {
                let _ = writeln!(
                    out,
                    "# HELP mixpanel_rotator_review_findings Findings of the last access review by code.\n# TYPE mixpanel_rotator_review_findings gauge"
                );
                for (code, (_, n)) in m {
                    let _ = writeln!(
                        out,
                        "mixpanel_rotator_review_findings{{code=\"{}\"}} {n}",
                        escape(code)
                    );
                }
                let _ = writeln!(
                    out,
                    "# HELP mixpanel_rotator_last_review_timestamp_seconds When the last access review whose report was written was taken (0: none yet).\n# TYPE mixpanel_rotator_last_review_timestamp_seconds gauge\nmixpanel_rotator_last_review_timestamp_seconds {}",
                    self.last_review.load(Ordering::Relaxed)
                );
            }
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Hands memory freed after a reconcile pass back to the operating system. A pass over a large
/// inventory allocates its whole listing at once; glibc keeps such freed memory in its arenas,
/// so an idle daemon would otherwise sit at the pass's peak.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's own heap to the kernel; it has no
    // preconditions and touches no memory the program owns.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.set_leader(true);
        m.rotation("schedule", "success");
        m.rotation("schedule", "success");
        m.rotation("incident", "needs_human");
        m.inventory(BTreeMap::from([("ok".to_string(), 3)]), 1, 0);
        let text = m.render();
        assert!(text.contains("mixpanel_rotator_is_leader 1"));
        assert!(text.contains(
            "mixpanel_rotator_rotations_total{trigger=\"schedule\",outcome=\"success\"} 2"
        ));
        assert!(text.contains("mixpanel_rotator_credentials{status=\"ok\"} 3"));
        assert!(text.contains("mixpanel_rotator_credentials_due 1"));
        assert_eq!(m.rotations_with("success"), 2);
        m.rotation_duration(3.0);
        m.rotation_duration(120.0);
        let text = m.render();
        assert!(text.contains("mixpanel_rotator_rotation_duration_seconds_bucket{le=\"1\"} 0"));
        assert!(text.contains("mixpanel_rotator_rotation_duration_seconds_bucket{le=\"5\"} 1"));
        assert!(text.contains("mixpanel_rotator_rotation_duration_seconds_bucket{le=\"300\"} 2"));
        assert!(text.contains("mixpanel_rotator_rotation_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("mixpanel_rotator_rotation_duration_seconds_sum 123"));
        assert!(text.contains("mixpanel_rotator_rotation_duration_seconds_count 2"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(line.split(' ').count(), 2, "{line}");
        }
    }

    #[test]
    fn every_family_rendered_is_listed_and_every_listed_one_is_rendered() {
        let m = Metrics::default();
        m.election_started(std::time::Duration::from_secs(30));
        let text = m.render();
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        // No review has run: every family but the review's.
        assert_eq!(
            families,
            METRIC_NAMES[..METRIC_NAMES.len() - REVIEW_FAMILIES],
            "METRIC_NAMES is out of date"
        );
        assert!(
            text.contains("mixpanel_rotator_lease_ttl_seconds 30\n"),
            "{text}"
        );
        // Failures are visible from the start, at 0.
        assert!(text.contains(
            "mixpanel_rotator_rotations_total{trigger=\"schedule\",outcome=\"needs_human\"} 0"
        ));
        assert!(text.contains(
            "mixpanel_rotator_rotations_total{trigger=\"membership\",outcome=\"error\"} 0"
        ));
        let seen = m.leader_seen_at();
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        assert!((now - seen).abs() <= 1.0, "{seen}");
        std::thread::sleep(std::time::Duration::from_millis(20));
        m.leader_seen();
        assert!(m.leader_seen_at() > seen, "{seen}");
    }

    #[test]
    fn a_term_that_ends_clears_what_its_passes_saw() {
        let m = Metrics::default();
        m.set_leader(true);
        m.inventory(BTreeMap::from([("needs_human".to_string(), 2)]), 3, 1);
        m.secret_health(BTreeMap::from([("rejected".to_string(), 1)]));
        m.set_open(2);
        m.term_ended();
        let text = m.render();
        assert!(text.contains("mixpanel_rotator_is_leader 0"));
        assert!(!text.contains("status=\"needs_human\""), "{text}");
        assert!(!text.contains("health=\"rejected\""), "{text}");
        assert!(text.contains("mixpanel_rotator_credentials_overdue 0"));
        assert!(text.contains("mixpanel_rotator_open_rotations 0"));
    }
}
