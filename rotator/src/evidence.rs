//! Evidence folders: `<evidence_dir>/<year>/<ticket>/` with a `SHA256SUMS` over every other
//! file, written by `offboard` and `review apply` and checked by `offboard verify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Utc};
use sha2::{Digest, Sha256};

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
        .map_err(|e| RotatorError::Io(format!("cannot write {}: {e}", path.display())))
}

/// The files of an evidence folder other than SHA256SUMS, sorted.
fn evidence_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(dir)
        .map_err(|e| RotatorError::Io(format!("cannot read {}: {e}", dir.display())))?;
    for e in rd {
        let e = e.map_err(|e| RotatorError::Io(e.to_string()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "SHA256SUMS" && e.path().is_file() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| RotatorError::Io(format!("cannot read {}: {e}", path.display())))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Writes `SHA256SUMS` (the `sha256sum` format) over every other file of the folder.
pub fn write_sums(dir: &Path) -> Result<()> {
    let mut text = String::new();
    for f in evidence_files(dir)? {
        text.push_str(&format!("{}  {f}\n", sha256_file(&dir.join(&f))?));
    }
    write_file(&dir.join("SHA256SUMS"), &text)
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
                    "{f}: its SHA-256 differs from SHA256SUMS (changed after the offboarding)"
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
