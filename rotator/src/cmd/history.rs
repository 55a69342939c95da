//! `mixpanel-rotator history`: the rotation history from the journals' stored versions.

use std::path::PathBuf;

use crate::app::{connect_store, out};
use crate::config::Config;
use crate::error::{Result, RotatorError};

/// Writes the history of `names` (every credential with a journal when empty) as `format`.
pub async fn history(
    config: Config,
    names: &[String],
    format: &str,
    output: Option<PathBuf>,
) -> Result<()> {
    let store = connect_store(&config).await?;
    let rows = crate::history::collect(&store, names).await?;
    let text = crate::history::render(&rows, format)?;
    match output {
        Some(path) => {
            std::fs::write(&path, &text)
                .map_err(|e| RotatorError::io(format!("cannot write {}", path.display()), e))?;
            eprintln!("{} rotation(s) written to {}", rows.len(), path.display());
        }
        None => out(&text),
    }
    Ok(())
}
