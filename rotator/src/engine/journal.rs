//! The fenced journal: a rotation's journal together with the Vault version it was read at and
//! the term (fencing token) of the leader working on it. Every write of the journal goes
//! through this type: check-and-set with the version, under the fencing token (Vault refuses
//! the write unless the live lease carries it), so a step cannot write without fencing, and
//! nothing threads `ver` and `lead` by hand.

use std::ops::Deref;

use backon::BackoffBuilder;
use chrono::Utc;
use mixpanel_access::vault::{FencingToken, Journal, Phase, VaultError, VaultStore};

use crate::crash;
use crate::election::Leadership;
use crate::error::{Result, RotatorError};

/// A journal, its Vault version and the leadership under which it is written.
pub struct FencedJournal<'a> {
    name: String,
    journal: Journal,
    version: u64,
    lead: &'a Leadership,
}

impl Deref for FencedJournal<'_> {
    type Target = Journal;
    fn deref(&self) -> &Journal {
        &self.journal
    }
}

impl<'a> FencedJournal<'a> {
    /// The open journal of `name` (any phase), read now.
    pub async fn read(
        store: &VaultStore,
        name: &str,
        lead: &'a Leadership,
    ) -> Result<Option<FencedJournal<'a>>> {
        Ok(store
            .read_journal(name)
            .await?
            .map(|(journal, version)| FencedJournal {
                name: name.to_string(),
                journal,
                version,
                lead,
            }))
    }

    /// A journal read elsewhere at `version` (0: none exists yet).
    pub fn at(name: &str, journal: Journal, version: u64, lead: &'a Leadership) -> Self {
        FencedJournal {
            name: name.to_string(),
            journal,
            version,
            lead,
        }
    }

    /// The credential this journal belongs to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Vault version the journal was last read or written at.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The leadership under which the journal is written.
    pub fn lead(&self) -> &'a Leadership {
        self.lead
    }

    /// The fencing token every write carries.
    pub fn fencing(&self) -> FencingToken {
        self.lead.fencing()
    }

    /// Edits the journal in memory; nothing reaches Vault until [`save`](Self::save) or
    /// [`advance`](Self::advance).
    pub fn edit(&mut self) -> &mut Journal {
        &mut self.journal
    }

    /// The journal, taken out.
    pub fn into_inner(self) -> Journal {
        self.journal
    }

    /// Fails once the term of the leadership this journal is written under is over (lost
    /// lease, shutdown), without asking Vault: before an external call that cannot be fenced
    /// but can be recovered from (a create, whose orphan the next leader deletes).
    pub fn still_fenced(&self) -> Result<()> {
        self.lead.check()
    }

    /// Whether this term still holds the lease, asked of Vault: done before every call that
    /// cannot be fenced and cannot be undone (deleting an account, promoting a credential).
    pub async fn verify_fencing(&self) -> Result<()> {
        self.lead.verify().await
    }

    /// Writes the journal as it is now (check-and-set, fenced).
    pub async fn save(&mut self, store: &VaultStore) -> Result<()> {
        self.lead.check()?;
        self.journal.fencing_token = self.lead.fencing();
        self.version = store
            .write_journal(&self.name, &self.journal, self.version, self.lead.fencing())
            .await?;
        Ok(())
    }

    /// Replaces the journal by `fresh` (a rotation started over under a new id) and writes it.
    pub async fn restart(&mut self, store: &VaultStore, fresh: Journal) -> Result<()> {
        let old = std::mem::replace(&mut self.journal, fresh);
        if let Err(e) = self.save(store).await {
            self.journal = old;
            return Err(e);
        }
        Ok(())
    }

    /// Moves the journal to `phase` and writes it (merging what a request joined meanwhile),
    /// then the crash knob of that phase. Moving to `created` records a secret that exists
    /// nowhere else: that write is retried on transient Vault failures (see
    /// [`crate::policy::journal_write`]).
    pub async fn advance(&mut self, store: &VaultStore, phase: Phase) -> Result<()> {
        let from = self.journal.phase;
        self.journal.advance(phase, Utc::now());
        self.journal.fencing_token = self.lead.fencing();
        if phase == Phase::Created && self.journal.pending_secret.is_some() {
            self.write_hard(store, from).await?;
            tracing::info!(credential = %self.name, rotation_id = %self.journal.rotation_id, phase = "created", "journal advanced (the new secret is recorded)");
        } else {
            self.write_merging(store, from).await?;
            tracing::info!(credential = %self.name, rotation_id = %self.journal.rotation_id, phase = %phase, "journal advanced");
        }
        crash::after(phase.as_str());
        Ok(())
    }

    /// Writes the journal; if a request joined the rotation meanwhile (a check-and-set
    /// conflict with a version of the same rotation still in phase `from`), takes over its
    /// reason and overlap and writes again.
    async fn write_merging(&mut self, store: &VaultStore, from: Phase) -> Result<()> {
        self.lead.check()?;
        let fencing = self.lead.fencing();
        match store
            .write_journal(&self.name, &self.journal, self.version, fencing)
            .await
        {
            Err(VaultError::CasMismatch { .. }) => {
                let Some((fresh, fresh_ver)) = store.read_journal(&self.name).await? else {
                    return Err(RotatorError::Interrupted(
                        "the journal disappeared during the rotation".into(),
                    ));
                };
                if fresh.rotation_id != self.journal.rotation_id || fresh.phase != from {
                    return Err(RotatorError::Interrupted(format!(
                        "the journal moved on elsewhere (rotation {}, phase {})",
                        fresh.rotation_id, fresh.phase
                    )));
                }
                self.journal.reason = fresh.reason;
                self.journal.overlap = self.journal.overlap.min(fresh.overlap);
                self.version = store
                    .write_journal(&self.name, &self.journal, fresh_ver, fencing)
                    .await?;
                Ok(())
            }
            Ok(v) => {
                self.version = v;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A journal write that must not be lost (it holds a secret that exists nowhere else):
    /// transient Vault failures are retried while the term lasts, on the policy's backoff.
    async fn write_hard(&mut self, store: &VaultStore, from: Phase) -> Result<()> {
        let mut backoff = crate::policy::journal_write().build();
        loop {
            match self.write_merging(store, from).await {
                Err(RotatorError::Vault(e)) if e.is_transient() && !self.lead.is_over() => {
                    let Some(delay) = backoff.next() else {
                        return Err(e.into());
                    };
                    tracing::warn!(credential = %self.name, error = %e, "journal write failed; retrying (it records a new secret)");
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }
}
