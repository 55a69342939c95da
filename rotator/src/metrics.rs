//! Prometheus metrics, rendered by hand in the text exposition format (version 0.0.4): a few
//! counters and gauges do not need a metrics framework.
//!
//! - `mixpanel_rotator_is_leader` (gauge)
//! - `mixpanel_rotator_rotations_total{trigger,outcome}` (counter; outcome `success`,
//!   `needs_human`, `mirrored`, `coalesced`, `interrupted`, `error`)
//! - `mixpanel_rotator_credentials{status}` (gauge, from the last reconcile pass)
//! - `mixpanel_rotator_credentials_due`, `mixpanel_rotator_credentials_overdue` (gauges)
//! - `mixpanel_rotator_open_rotations` (gauge)
//! - `mixpanel_rotator_last_success_timestamp_seconds` (gauge)
//! - `mixpanel_rotator_reconcile_passes_total{result}` (counter)
//! - `mixpanel_rotator_membership_changes_total` (counter)
//! - `mixpanel_rotator_credential_secrets{health}` (gauge, from the last reconcile pass: the
//!   cached check of each stored secret, `ok`, `rejected` or `unchecked`, and `missing` when
//!   `creds/<name>` holds no live version; `status` refreshes the checks)
//! - `mixpanel_rotator_rotation_duration_seconds` (histogram: from the journal's start to
//!   `done`, overlap included)
//! - `mixpanel_rotator_review_findings{code}` (gauge, from the last scheduled access
//!   review: every finding code, zero included) and
//!   `mixpanel_rotator_last_review_timestamp_seconds` (gauge)

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// The rotator's metrics. Shared through an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    leader: AtomicBool,
    rotations: Mutex<BTreeMap<(String, String), u64>>,
    statuses: Mutex<BTreeMap<String, u64>>,
    due: AtomicU64,
    overdue: AtomicU64,
    open: AtomicU64,
    last_success: AtomicI64,
    passes_ok: AtomicU64,
    passes_failed: AtomicU64,
    membership_changes: AtomicU64,
    secret_health: Mutex<BTreeMap<String, u64>>,
    durations: Mutex<Histogram>,
    findings: Mutex<Option<BTreeMap<&'static str, (String, u64)>>>,
    last_review: AtomicI64,
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

    /// The text exposition.
    /// Records the findings of an access review: a count per code (every code, zero included).
    pub fn review(&self, review: &mixpanel_access::governance::Review) {
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
        self.last_review
            .store(review.taken_at.timestamp(), Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
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
                    "# HELP mixpanel_rotator_last_review_timestamp_seconds When the last access review was taken.\n# TYPE mixpanel_rotator_last_review_timestamp_seconds gauge\nmixpanel_rotator_last_review_timestamp_seconds {}",
                    self.last_review.load(Ordering::Relaxed)
                );
            }
        }
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
        let _ = writeln!(
            out,
            "# HELP mixpanel_rotator_rotations_total Rotations by trigger and outcome.\n# TYPE mixpanel_rotator_rotations_total counter"
        );
        if let Ok(m) = self.rotations.lock() {
            for ((trigger, outcome), n) in m.iter() {
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
}
