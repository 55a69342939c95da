//! The crash and pause hooks exist only in a build with the `fault-injection` feature: the
//! binary `cargo build` makes (as `make demo`, `cargo install` and the release do) ignores
//! `MIXPANEL_ROTATOR_CRASH_AFTER`, where the tests' build aborts on it.

mod common;

use std::path::{Path, PathBuf};

use common::{World, BIN};
use mixpanel_access::model::ProjectRole;

/// Builds the rotator's binary as `cargo build` does (default features) and returns a copy of
/// it. The build puts it where the tests' binary ([`BIN`]) is, so that one is put back.
fn default_build(dir: &Path) -> PathBuf {
    let hooked = dir.join("hooked");
    std::fs::copy(BIN, &hooked).expect("save the tests' binary");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(&workspace)
        .args([
            "build",
            "--quiet",
            "-p",
            "mixpanel-rotator",
            "--bin",
            "mixpanel-rotator",
            "--message-format=json",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run cargo build");
    assert!(
        out.status.success(),
        "cargo build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "mixpanel-rotator")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo build reported the binary");
    let plain = dir.join("mixpanel-rotator-default");
    std::fs::copy(&exe, &plain).expect("copy the default build");
    // Put the tests' binary back (a new file: the one there is cargo's link to its build).
    let _ = std::fs::remove_file(BIN);
    std::fs::copy(&hooked, BIN).expect("restore the tests' binary");
    plain
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_build_ignores_the_crash_knob() {
    let mut w = World::new().await;
    let p = w.project("knobs").await;
    for (bin, name) in [(None, "knob/hooked"), (Some(()), "knob/default")] {
        if bin.is_some() {
            w.bin = default_build(w.dir.path()).display().to_string();
        }
        let base = name.replace('/', "-");
        let old = w.service_account(&base, ProjectRole::Consumer, &[p]).await;
        w.register_sa(name, &old, &[p], |_| {}).await;
        let run = w
            .cli(
                &["rotate", name, "--reason", "knob test", "--overlap", "0s"],
                &[("MIXPANEL_ROTATOR_CRASH_AFTER", "intent")],
            )
            .await;
        let (j, _) = w
            .store
            .read_journal(name)
            .await
            .expect("read")
            .expect("journal");
        if bin.is_none() {
            // The tests' build has the hooks: it aborts right after journaling the intent.
            assert!(
                !run.success,
                "the hooked build should have aborted: {}",
                run.stdout
            );
            assert!(
                run.stderr.contains("aborting the process on purpose"),
                "{}",
                run.stderr
            );
            assert_eq!(j.phase.as_str(), "intent");
        } else {
            assert!(
                run.success,
                "the default build should rotate: {}\n{}",
                run.stdout, run.stderr
            );
            assert!(!run.stderr.contains("test knob"), "{}", run.stderr);
            assert_eq!(j.phase.as_str(), "done");
            let (id, user, secret) = w.stored(name).await.expect("stored");
            assert_ne!(id, old.id, "rotated to a new account");
            assert!(w.emu.client(&user, &secret).me().await.is_ok());
        }
    }
}
