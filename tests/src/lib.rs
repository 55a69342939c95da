//! The test kit: the real parts every crate's tests use, each started on a free loopback port
//! and stopped on drop.
//!
//! - [`emulator`]: the Mixpanel emulator, in-process or as its binary, with bootstrap, faults,
//!   request counters and an API client.
//! - [`openbao`]: a real OpenBao server (`bao server -dev`, or persistent with Raft storage).
//! - [`prometheus`]: `promtool` and a real Prometheus server (Debian's `prometheus` package,
//!   installed by `scripts/install-prometheus.sh` when missing).
//! - [`terraform`]: the real `terraform` binary in a working directory of its own, with a CLI
//!   configuration that points the provider at a built binary through `dev_overrides`.
//!
//! The scenarios that cross binaries live in this crate's `tests/`.

pub mod emulator;
pub mod errors;
pub mod openbao;
pub mod prometheus;
pub mod terraform;

/// Says, past the test harness's capture (straight to the process's stderr, so `cargo test`
/// shows it even when the test passes), that something was NOT tested and why.
pub fn skip_loudly(message: &str) {
    use std::io::Write;
    let bar = "!".repeat(100);
    let _ = writeln!(std::io::stderr(), "\n{bar}\nSKIPPED: {message}\n{bar}\n");
}

/// Runs a future to completion on a runtime of its own, on a thread of its own, so that a
/// blocking helper works from synchronous tests and from inside a tokio test alike.
pub fn block_on<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test runtime")
                .block_on(fut)
        })
        .join()
        .expect("test runtime thread")
    })
}

/// The workspace's root folder (where `Cargo.toml`, `examples/` and `scripts/` are).
pub fn workspace_root() -> std::path::PathBuf {
    let kit = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    kit.parent().unwrap_or(kit).to_path_buf()
}

/// The workspace's target directory holding the binaries of this build (`target/debug`), found
/// from the running test executable (`target/debug/deps/<test>`).
pub fn target_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps dir");
    deps.parent().unwrap_or(deps).to_path_buf()
}

/// A binary of this workspace, built by `cargo test --workspace` (or `cargo build`); panics
/// with the command to run when it is missing.
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (cargo build --workspace, or run make test)",
        path.display()
    );
    path
}
