//! Evidence folders: `<evidence_dir>/<year>/<ticket>/` with a `SHA256SUMS` over every other
//! file, written by `offboard` and `review apply` and checked by `offboard verify`.
//!
//! Every run of a command on a ticket is recorded, and no run rewrites an earlier one:
//!
//! - the ticket's evidence journal in Vault (`state/_governance/evidence/<ticket>`) gets one
//!   record per run before anything changes (who ran it: the OS user and the Vault token's
//!   display name or entity; `--approved-by`; the start), completed at the end (the end, the
//!   outcome, the SHA-256 of the run's `SHA256SUMS` and of the folder's). A run that was killed
//!   keeps its record without an end: the next run's summary shows it as interrupted.
//! - the run's files go into `runs/<n>/` with their own `SHA256SUMS`; the folder's top level
//!   holds the latest run's files (the current view) and a `SHA256SUMS` over every file,
//!   `runs/` included.
//!
//! `offboard verify DIR` checks the files against the sums and, when Vault is reachable, the
//! sums against the digests in the journal, so a folder edited and re-summed is caught.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};
use sha2::{Digest, Sha256};

use mixpanel_access::vault::VaultStore;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Result, RotatorError};

/// The evidence folder of a ticket: `<evidence_dir>/<year>/<ticket>/`.
pub fn evidence_folder(config: &Config, ticket: &str) -> Result<PathBuf> {
    validate_ticket(ticket)?;
    Ok(config
        .governance
        .evidence_dir
        .join(Utc::now().year().to_string())
        .join(ticket))
}

/// A ticket id becomes a folder name and a Vault path segment: letters, digits, `-`, `_`, `.`.
pub fn validate_ticket(ticket: &str) -> Result<()> {
    let ok = !ticket.is_empty()
        && ticket.len() <= 64
        && !ticket.starts_with('.')
        && ticket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RotatorError::Invalid(format!(
            "--ticket {ticket:?}: use 1 to 64 letters, digits, '-', '_' or '.' (such as IAM-1234), not starting with '.'"
        )))
    }
}

pub fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| RotatorError::io(format!("cannot write {}", path.display()), e))
}

/// The files of an evidence folder other than its own SHA256SUMS, with their paths relative
/// to it (`runs/2/summary.md`), sorted.
fn evidence_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    collect_files(dir, "", &mut out)?;
    out.retain(|f| f != "SHA256SUMS");
    out.sort();
    Ok(out)
}

fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| RotatorError::io(format!("cannot read {}", dir.display()), e))?;
    for e in rd {
        let e = e.map_err(|e| RotatorError::io("", e))?;
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        let path = e.path();
        if path.is_dir() {
            collect_files(&path, &format!("{name}/"), out)?;
        } else if path.is_file() {
            out.push(name);
        }
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| RotatorError::io(format!("cannot read {}", path.display()), e))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Writes `SHA256SUMS` (the `sha256sum` format) over every other file of the folder and
/// returns the SHA-256 of `SHA256SUMS` itself (what the journal anchors).
pub fn write_sums(dir: &Path) -> Result<String> {
    let mut text = String::new();
    for f in evidence_files(dir)? {
        text.push_str(&format!("{}  {f}\n", sha256_file(&dir.join(&f))?));
    }
    write_file(&dir.join("SHA256SUMS"), &text)?;
    Ok(hex::encode(Sha256::digest(text.as_bytes())))
}

/// Checks an evidence folder: every file is listed in SHA256SUMS with its digest, and every
/// listed file exists. The list of problems on failure.
pub fn verify_dir(dir: &Path) -> std::result::Result<usize, Vec<String>> {
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS"))
        .map_err(|e| vec![format!("cannot read {}/SHA256SUMS: {e}", dir.display())])?;
    let mut problems = Vec::new();
    let mut listed = BTreeMap::new();
    for (n, line) in sums.lines().enumerate() {
        match line.split_once("  ") {
            Some((digest, name)) if digest.len() == 64 => {
                listed.insert(name.to_string(), digest.to_string());
            }
            _ => problems.push(format!(
                "SHA256SUMS line {}: not \"<sha256>  <file>\"",
                n + 1
            )),
        }
    }
    let files = match evidence_files(dir) {
        Ok(f) => f,
        Err(e) => return Err(vec![e.to_string()]),
    };
    for f in &files {
        match listed.get(f) {
            None => problems.push(format!("{f}: not listed in SHA256SUMS")),
            Some(d) => match sha256_file(&dir.join(f)) {
                Ok(actual) if actual == *d => {}
                Ok(_) => problems.push(format!(
                    "{f}: its SHA-256 differs from SHA256SUMS (changed after the run that wrote it)"
                )),
                Err(e) => problems.push(e.to_string()),
            },
        }
    }
    for name in listed.keys() {
        if !files.contains(name) {
            problems.push(format!("{name}: listed in SHA256SUMS but missing"));
        }
    }
    if problems.is_empty() {
        Ok(files.len())
    } else {
        Err(problems)
    }
}

// ---- the run log ----

/// One run of a command on a ticket, as the evidence journal records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub n: u32,
    /// `offboard` or `review_apply`.
    pub command: String,
    pub started: DateTime<Utc>,
    #[serde(default)]
    pub ended: Option<DateTime<Utc>>,
    /// The operating-system user who ran it.
    pub os_user: String,
    /// The Vault token's display name (and entity) the run acted as.
    pub vault_identity: String,
    #[serde(default)]
    pub approved_by: Option<String>,
    /// How the run ended, in words (`complete`, `2 manual step(s) remain`, ...).
    #[serde(default)]
    pub outcome: Option<String>,
    /// SHA-256 of `runs/<n>/SHA256SUMS`.
    #[serde(default)]
    pub run_sums_sha256: Option<String>,
    /// SHA-256 of the folder's top-level `SHA256SUMS` as this run left it.
    #[serde(default)]
    pub folder_sums_sha256: Option<String>,
}

impl RunRecord {
    /// `ended`, or "interrupted" for a run that never recorded its end (unless it is running).
    pub fn end_text(&self, running: bool) -> String {
        match (self.ended, running) {
            (Some(t), _) => stamp(t),
            (None, true) => "when this file was written (this run)".into(),
            (None, false) => "interrupted (no end recorded; resumed by the next run)".into(),
        }
    }
}

/// The evidence journal of a ticket (`state/_governance/evidence/<ticket>`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EvidenceJournal {
    pub ticket: String,
    pub runs: Vec<RunRecord>,
}

fn evidence_journal_name(ticket: &str) -> String {
    format!("{}/evidence/{ticket}", crate::inventory::GOVERNANCE_SEGMENT)
}

/// A time in evidence: RFC 3339 to the second.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The operating-system user running this process.
pub fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "(unknown: USER is not set)".into())
}

/// `--approved-by`, required to change anything.
pub fn require_approval(execute: bool, approved_by: Option<&str>) -> Result<Option<String>> {
    match approved_by.map(str::trim) {
        Some(a) if !a.is_empty() => Ok(Some(a.to_string())),
        _ if execute => Err(RotatorError::Invalid(
            "--execute needs --approved-by NAME: who approved the change (recorded in the evidence and the Vault journal)".into(),
        )),
        _ => Ok(None),
    }
}

/// Writes a governance record under `state/<name>` with check-and-set; a concurrent change is
/// the error `conflict` describes. Returns the new version.
pub async fn save_state<T: Serialize>(
    store: &VaultStore,
    name: &str,
    doc: &T,
    version: u64,
    conflict: impl FnOnce() -> String,
) -> Result<u64> {
    store
        .write_unfenced_state_document(name, doc, version)
        .await
        .map_err(|e| {
            if e.is_cas_mismatch() {
                RotatorError::Invalid(conflict())
            } else {
                e.into()
            }
        })
}

/// The current run of a command on a ticket.
pub struct RunLog {
    store: VaultStore,
    journal: EvidenceJournal,
    version: u64,
    index: usize,
}

impl RunLog {
    /// Records the start of a run in the ticket's evidence journal, before anything changes.
    pub async fn begin(
        store: &VaultStore,
        ticket: &str,
        command: &str,
        approved_by: Option<String>,
    ) -> Result<RunLog> {
        let name = evidence_journal_name(ticket);
        let (mut journal, version) =
            match store.read_state_document::<EvidenceJournal>(&name).await? {
                Some((j, v)) => (j, v),
                None => (
                    EvidenceJournal {
                        ticket: ticket.to_string(),
                        runs: Vec::new(),
                    },
                    0,
                ),
            };
        let vault_identity = store
            .token_identity()
            .await
            .unwrap_or_else(|e| format!("(could not look the token up: {e})"));
        journal.runs.push(RunRecord {
            n: journal.runs.len() as u32 + 1,
            command: command.to_string(),
            started: Utc::now(),
            ended: None,
            os_user: os_user(),
            vault_identity,
            approved_by,
            outcome: None,
            run_sums_sha256: None,
            folder_sums_sha256: None,
        });
        let mut log = RunLog {
            store: store.clone(),
            index: journal.runs.len() - 1,
            journal,
            version,
        };
        log.save().await?;
        Ok(log)
    }

    async fn save(&mut self) -> Result<()> {
        let name = evidence_journal_name(&self.journal.ticket);
        self.version = save_state(&self.store, &name, &self.journal, self.version, || {
            format!(
                "the evidence journal of {} changed under this run: another run on the same ticket is going on; let it finish, then run again",
                self.journal.ticket
            )
        })
        .await?;
        Ok(())
    }

    pub fn current(&self) -> &RunRecord {
        &self.journal.runs[self.index]
    }

    pub fn runs(&self) -> &[RunRecord] {
        &self.journal.runs
    }

    /// The runs as a Markdown table, for `summary.md`.
    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "| Run | Command | Started | Ended | Run by (OS user) | Vault identity | Approved by | Outcome |\n|---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.journal.runs {
            let running = r.n == self.current().n;
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.n,
                r.command,
                stamp(r.started),
                r.end_text(running),
                md(&r.os_user),
                md(&r.vault_identity),
                md(r.approved_by.as_deref().unwrap_or("-")),
                md(r.outcome
                    .as_deref()
                    .unwrap_or(if running { "this run" } else { "-" })),
            ));
        }
        s
    }

    /// Ends the run: writes `files` into `runs/<n>/` with its `SHA256SUMS`, the same files at
    /// the folder's top level, the top-level `SHA256SUMS` over everything, and records the end,
    /// the outcome and both digests in the journal. Returns the digest of the top-level sums.
    pub async fn finish(
        &mut self,
        dir: &Path,
        files: &[(&str, Vec<u8>)],
        outcome: &str,
    ) -> Result<String> {
        let n = self.current().n;
        let run_dir = dir.join("runs").join(n.to_string());
        if run_dir.exists() {
            return Err(RotatorError::Invalid(format!(
                "{} exists already: an earlier run's evidence is never rewritten; the evidence journal and the folder disagree (restore the folder, or use a new ticket)",
                run_dir.display()
            )));
        }
        std::fs::create_dir_all(&run_dir)
            .map_err(|e| RotatorError::io(format!("cannot create {}", run_dir.display()), e))?;
        for (name, bytes) in files {
            for d in [&run_dir, &dir.to_path_buf()] {
                std::fs::write(d.join(name), bytes).map_err(|e| {
                    RotatorError::Io(format!("cannot write {}: {e}", d.join(name).display()))
                })?;
            }
        }
        let run_sums = write_sums(&run_dir)?;
        let folder_sums = write_sums(dir)?;
        let r = &mut self.journal.runs[self.index];
        r.ended = Some(Utc::now());
        r.outcome = Some(outcome.to_string());
        r.run_sums_sha256 = Some(run_sums);
        r.folder_sums_sha256 = Some(folder_sums.clone());
        self.save().await?;
        Ok(folder_sums)
    }
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// What `verify` could check.
pub struct Verified {
    pub files: usize,
    /// `Some(runs)` when the sums were checked against the Vault journal.
    pub anchored_runs: Option<usize>,
    /// Why the journal could not be read, when it could not.
    pub unanchored_reason: Option<String>,
}

/// Checks an evidence folder against its sums and, with a store, the sums against the
/// digests the ticket's evidence journal holds. The ticket is the folder's name.
pub async fn verify_anchored(
    dir: &Path,
    store: std::result::Result<VaultStore, String>,
) -> std::result::Result<Verified, Vec<String>> {
    let files = verify_dir(dir)?;
    let mut problems = Vec::new();
    let runs_dir = dir.join("runs");
    let mut run_dirs: Vec<u32> = std::fs::read_dir(&runs_dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    run_dirs.sort();
    for n in &run_dirs {
        if let Err(p) = verify_dir(&runs_dir.join(n.to_string())) {
            problems.extend(p.into_iter().map(|p| format!("runs/{n}/{p}")));
        }
    }
    let ticket = dir
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let store = match store {
        Ok(s) => s,
        Err(why) => {
            return if problems.is_empty() {
                Ok(Verified {
                    files,
                    anchored_runs: None,
                    unanchored_reason: Some(why),
                })
            } else {
                Err(problems)
            };
        }
    };
    let journal = match store
        .read_state_document::<EvidenceJournal>(&evidence_journal_name(&ticket))
        .await
    {
        Ok(Some((j, _))) => j,
        Ok(None) => {
            problems.push(format!(
                "the Vault journal has no evidence record of ticket {ticket}: the folder cannot be matched to a run"
            ));
            return Err(problems);
        }
        Err(e) => {
            return if problems.is_empty() {
                Ok(Verified {
                    files,
                    anchored_runs: None,
                    unanchored_reason: Some(format!("cannot read the evidence journal: {e}")),
                })
            } else {
                Err(problems)
            };
        }
    };
    let digest_of = |p: &Path| {
        std::fs::read(p)
            .map(|b| hex::encode(Sha256::digest(&b)))
            .map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let finished: Vec<&RunRecord> = journal
        .runs
        .iter()
        .filter(|r| r.run_sums_sha256.is_some())
        .collect();
    for r in &finished {
        let path = runs_dir.join(r.n.to_string()).join("SHA256SUMS");
        match digest_of(&path) {
            Ok(d) if Some(&d) == r.run_sums_sha256.as_ref() => {}
            Ok(_) => problems.push(format!(
                "runs/{}/SHA256SUMS: its SHA-256 is not the one the Vault journal recorded for run {} ({}): the run's evidence was changed and re-summed",
                r.n,
                r.n,
                r.run_sums_sha256.as_deref().unwrap_or("")
            )),
            Err(e) => problems.push(format!("run {}: {e}", r.n)),
        }
    }
    for n in &run_dirs {
        if !finished.iter().any(|r| r.n == *n) {
            problems.push(format!(
                "runs/{n}: the Vault journal records no finished run {n}"
            ));
        }
    }
    if let Some(last) = finished.last() {
        match digest_of(&dir.join("SHA256SUMS")) {
            Ok(d) if Some(&d) == last.folder_sums_sha256.as_ref() => {}
            Ok(_) => problems.push(format!(
                "SHA256SUMS: its SHA-256 is not the one the Vault journal recorded at the end of run {} ({}): the folder was changed and re-summed",
                last.n,
                last.folder_sums_sha256.as_deref().unwrap_or("")
            )),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(Verified {
            files,
            anchored_runs: Some(finished.len()),
            unanchored_reason: None,
        })
    } else {
        Err(problems)
    }
}
