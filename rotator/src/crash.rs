//! A test-only fault knob: `MIXPANEL_ROTATOR_CRASH_AFTER=<point>` aborts the process (no
//! destructors, no lease release, like SIGKILL) right after that point of a rotation:
//!
//! - `create`: the new service account (or reset project secret) exists, but the journal has
//!   not recorded it yet (the orphan path);
//! - `intent`, `created`, `tested`, `promoted`, `overlap`, `revoked_old`, `done`: right after
//!   the journal recorded that phase.
//!
//! It is for the crash-recovery tests. The hooks exist only in a build with the cargo feature
//! `fault-injection` (which the tests enable); in any other build, the release and installed
//! binaries included, they do nothing and the environment variables are never read.

/// The environment variable of the knob.
pub const ENV: &str = "MIXPANEL_ROTATOR_CRASH_AFTER";

/// Whether this build has the hooks (the `fault-injection` feature).
pub const ENABLED: bool = cfg!(feature = "fault-injection");

/// Aborts the process if the knob names `point` (with `fault-injection` only).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn after(_point: &str) {}

/// Aborts the process if the knob names `point`.
#[cfg(feature = "fault-injection")]
pub fn after(point: &str) {
    if let Ok(v) = std::env::var(ENV) {
        if v.trim() == point {
            eprintln!("{ENV}={point}: aborting the process on purpose (test knob)");
            std::process::abort();
        }
    }
}

/// The environment variable of the pause knob: `<point>:<milliseconds>`.
pub const PAUSE_ENV: &str = "MIXPANEL_ROTATOR_PAUSE_AT";

/// Sleeps if the pause knob names `point` (with `fault-injection` only).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub async fn pause(_point: &str) {}

/// Sleeps if the pause knob names `point` (test-only: lets a test change Vault between a read
/// and the check-and-set write that follows it, e.g. `apply_loaded:3000`).
#[cfg(feature = "fault-injection")]
pub async fn pause(point: &str) {
    if let Ok(v) = std::env::var(PAUSE_ENV) {
        if let Some((p, ms)) = v.trim().split_once(':') {
            if p == point {
                if let Ok(ms) = ms.parse::<u64>() {
                    eprintln!("{PAUSE_ENV}={point}: pausing {ms} ms (test knob)");
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
            }
        }
    }
}
