//! The engine's error policy: what a failed rotation step means, and how long to wait before
//! the next try.
//!
//! - Transient (HTTP 5xx, 429, no answer, a create whose outcome is unknown): Mixpanel will
//!   answer again. The driver backs off (growing, capped, with jitter, at least `Retry-After`)
//!   and tries again for as long as the old credential is valid ([`old_still_valid`]: before
//!   promotion, until the old account's `expires`); these failures do not count toward
//!   `needs_human`, and the working credential is kept meanwhile. The time since the first
//!   one is exported, for an alert when it lasts. Past the old credential's expiry, a
//!   transient failure before promotion stops in `needs_human`: consumers are left without a
//!   working credential, which is for a person.
//! - Stop (403, a successor whose access differs from its predecessor's, anything the step
//!   itself says a person must decide): `needs_human` at once.
//! - Counted (any other failure, such as a 4xx): retried, and after `max_attempts` in the same
//!   phase, `needs_human`: a refusal that repeats is for a person.

use std::time::Duration;

use backon::BackoffBuilder;
use mixpanel_access::api::ApiError;

use crate::error::RotatorError;

/// What a failed step means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Transient,
    Counted,
    Stop,
}

/// Sorts a step's failure.
pub fn verdict(e: &RotatorError) -> Verdict {
    match e {
        RotatorError::NeedsHuman(_) | RotatorError::NeedsHumanApi { .. } => Verdict::Stop,
        RotatorError::Api(ApiError::Forbidden { .. }) => Verdict::Stop,
        RotatorError::Api(a) if a.is_transient() => Verdict::Transient,
        _ => Verdict::Counted,
    }
}

/// Whether a transient failure may still be retried: after promotion always (the successor
/// is in place, and the revocation is retried until it is done); before, only while the old
/// credential works, i.e. before its `expires` (when it has one).
pub fn old_still_valid(
    promoted: bool,
    old_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    promoted || old_expires_at.is_none_or(|at| now < at)
}

/// How long Mixpanel asked to wait, if it did.
pub fn retry_after(e: &RotatorError) -> Option<Duration> {
    match e {
        RotatorError::Api(ApiError::RateLimited { retry_after, .. }) => *retry_after,
        _ => None,
    }
}

/// The wait before try `failures + 1` after `failures` transient failures (1 or more): from
/// `min`, doubling, at most `max`, with jitter; never less than `retry_after`.
pub fn transient_delay(
    min: Duration,
    max: Duration,
    failures: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let max = max.max(min);
    let mut backoff = backon::ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build();
    let n = failures.saturating_sub(1).min(64) as usize;
    let delay = backoff.nth(n).unwrap_or(max).min(max);
    delay.max(retry_after.unwrap_or_default())
}

/// The first wait after a failed scheduled access review.
pub const REVIEW_MIN_BACKOFF: Duration = Duration::from_secs(1);

/// The longest wait between tries of a failing scheduled access review.
pub const REVIEW_MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// The backoff of a failed scheduled access review (its reads, its report): from
/// [`REVIEW_MIN_BACKOFF`], doubling, with jitter, at most [`REVIEW_MAX_BACKOFF`] and never more
/// than the review interval; tried again for as long as the replica leads.
pub fn review_backoff(interval: Duration) -> backon::ExponentialBuilder {
    let max = REVIEW_MAX_BACKOFF.min(interval).max(REVIEW_MIN_BACKOFF);
    backon::ExponentialBuilder::default()
        .with_min_delay(REVIEW_MIN_BACKOFF)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
}

/// The wait before the next try of a counted failure (`attempts` so far): from `min`,
/// doubling, at most `max`, at least `retry_after`.
pub fn counted_delay(
    min: Duration,
    max: Duration,
    attempts: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let shift = attempts.saturating_sub(1).min(16);
    min.saturating_mul(1u32 << shift)
        .min(max)
        .max(retry_after.unwrap_or_default())
}

/// The backoff of a journal write that records a secret existing nowhere else: transient
/// Vault failures are retried from 100 ms, doubling, at most 5 s apart, for about a minute.
pub fn journal_write() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_factor(2.0)
        .with_total_delay(Some(Duration::from_secs(60)))
        .without_max_times()
}

/// A rotation request that lost a check-and-set race (another writer got there first) reads
/// again at once, up to 4 more times.
pub fn request_conflict() -> backon::ConstantBuilder {
    backon::ConstantBuilder::default()
        .with_delay(Duration::ZERO)
        .with_max_times(4)
}

/// The wait between probes of a new credential that does not work yet (propagation): from
/// 200 ms, doubling, at most 5 s apart, for at most `timeout` in all.
pub fn propagation(timeout: Duration) -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_factor(2.0)
        .with_total_delay(Some(timeout))
        .without_max_times()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(e: ApiError) -> RotatorError {
        RotatorError::Api(e)
    }

    #[test]
    fn failures_are_sorted_by_what_a_person_must_decide() {
        let server = api(ApiError::Server {
            route: "r",
            status: 503,
            attempts: 3,
            message: "down".into(),
        });
        let limited = api(ApiError::RateLimited {
            route: "r",
            attempts: 3,
            retry_after: Some(Duration::from_secs(7)),
        });
        let transport = api(ApiError::unanswered("r", "u".into(), "refused"));
        let forbidden = api(ApiError::Forbidden {
            route: "r",
            message: "no".into(),
            needed: "admin".into(),
        });
        let invalid = api(ApiError::Invalid {
            route: "r",
            status: 400,
            message: "bad".into(),
        });
        assert_eq!(verdict(&server), Verdict::Transient);
        assert_eq!(verdict(&limited), Verdict::Transient);
        assert_eq!(verdict(&transport), Verdict::Transient);
        assert_eq!(verdict(&forbidden), Verdict::Stop);
        assert_eq!(
            verdict(&RotatorError::NeedsHuman("differs".into())),
            Verdict::Stop
        );
        let unauthorized = RotatorError::NeedsHumanApi {
            message: "the old account cannot list its projects".into(),
            source: ApiError::Unauthorized {
                route: "r",
                message: "bad".into(),
            },
        };
        assert_eq!(verdict(&unauthorized), Verdict::Stop);
        assert!(std::error::Error::source(&unauthorized).is_some());
        assert_eq!(verdict(&invalid), Verdict::Counted);
        assert_eq!(retry_after(&limited), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&server), None);
    }

    #[test]
    fn transient_delays_grow_stay_capped_and_honour_retry_after() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for n in 1..40 {
            let d = transient_delay(min, max, n, None);
            assert!(d <= max, "{n}: {d:?}");
            assert!(d >= min, "{n}: {d:?}");
        }
        // Late failures wait at least half the cap (jitter only adds).
        assert!(transient_delay(min, max, 30, None) >= Duration::from_secs(1));
        assert_eq!(
            transient_delay(min, max, 1, Some(Duration::from_secs(9))),
            Duration::from_secs(9)
        );
        assert_eq!(counted_delay(min, max, 1, None), min);
        assert_eq!(counted_delay(min, max, 3, None), Duration::from_millis(400));
        assert_eq!(counted_delay(min, max, 30, None), max);
    }

    #[test]
    fn transient_failures_are_retried_only_while_the_old_credential_is_valid() {
        let now = chrono::Utc::now();
        let later = now + chrono::TimeDelta::seconds(60);
        let earlier = now - chrono::TimeDelta::seconds(1);
        assert!(old_still_valid(false, None, now), "no expiry: always");
        assert!(old_still_valid(false, Some(later), now));
        assert!(!old_still_valid(false, Some(earlier), now));
        assert!(!old_still_valid(false, Some(now), now), "expired at now");
        assert!(
            old_still_valid(true, Some(earlier), now),
            "promoted: the successor works"
        );
    }

    #[test]
    fn a_failed_review_backs_off_growing_and_capped_by_the_interval() {
        let delays: Vec<Duration> = review_backoff(Duration::from_secs(3600))
            .build()
            .take(30)
            .collect();
        assert_eq!(delays.len(), 30, "it keeps trying");
        // Doubling with jitter (which only adds, at most the delay itself): the third wait is
        // longer than the first, whatever the draws.
        assert!(delays[0] >= REVIEW_MIN_BACKOFF && delays[0] < 2 * REVIEW_MIN_BACKOFF);
        assert!(delays[2] > delays[0], "{delays:?}");
        assert!(
            delays.iter().all(|d| *d <= 2 * REVIEW_MAX_BACKOFF),
            "{delays:?}"
        );
        assert!(delays[29] >= REVIEW_MAX_BACKOFF, "{delays:?}");
        // Never far beyond a short interval.
        let short: Vec<Duration> = review_backoff(Duration::from_secs(5))
            .build()
            .take(10)
            .collect();
        assert!(
            short.iter().all(|d| *d <= Duration::from_secs(10)),
            "{short:?}"
        );
    }
}
