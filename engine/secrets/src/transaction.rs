//! Rewriting many secrets files as one all-or-nothing step.
//!
//! Phase 1 stages every new file as an fsynced temp beside its target; a
//! failure removes the temps and no target has changed. Phase 2 renames them
//! one by one; a failure there writes the original bytes (kept in memory)
//! back over every file already renamed. Either way every file ends as it
//! started, and the error names the file that failed.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::error::{Result, SecretsError};
use crate::fsutil;
use crate::secret_file::SecretFile;

/// Where to inject a failure. FOR TESTS ONLY (see
/// [`crate::RotateOptions::inject_fault`]); production code passes `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    /// Fail after this many files were staged (before any rename).
    Staging(usize),
    /// Fail after this many files were renamed into place.
    Committing(usize),
    /// As `Committing`, and fail again writing the first renamed file back.
    CommittingAndRestoring(usize),
}

/// One file to replace: its original bytes (for rollback) and new ones.
pub(crate) struct Rewrite {
    pub path: PathBuf,
    old: Vec<u8>,
    new: Vec<u8>,
    mode: u32,
}

impl Rewrite {
    pub fn new(path: PathBuf, old: Vec<u8>, secrets: &SecretFile) -> Result<Self> {
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
        let new = secrets.seal(&path)?;
        Ok(Self { path, old, new, mode })
    }
}

fn injected(path: &std::path::Path, point: FaultPoint) -> SecretsError {
    SecretsError::InjectedFault { file: path.to_path_buf(), point: format!("{point:?}") }
}

pub(crate) fn rewrite_all(rewrites: &[Rewrite], fault: Option<FaultPoint>) -> Result<()> {
    // Phase 1: stage. Dropping `staged` on error deletes every temp.
    let mut staged = Vec::with_capacity(rewrites.len());
    for (i, r) in rewrites.iter().enumerate() {
        if fault == Some(FaultPoint::Staging(i)) {
            return Err(SecretsError::RotationFailed {
                file: r.path.clone(),
                source: Box::new(injected(&r.path, FaultPoint::Staging(i))),
            });
        }
        let s = fsutil::stage(&r.path, &r.new, r.mode)
            .map_err(|e| SecretsError::RotationFailed { file: r.path.clone(), source: Box::new(e) })?;
        staged.push(s);
    }

    // Phase 2: commit, rolling back on the first failure.
    for (i, s) in staged.into_iter().enumerate() {
        let result = match fault {
            Some(point @ (FaultPoint::Committing(n) | FaultPoint::CommittingAndRestoring(n))) if n == i => {
                Err(injected(s.target(), point))
            }
            _ => s.commit(),
        };
        if let Err(e) = result {
            let failed = rewrites[i].path.clone();
            // Every file is tried; the first that cannot be put back is reported.
            let mut unrestored = None;
            for (j, done) in rewrites[..i].iter().enumerate() {
                let restored = if j == 0 && fault == Some(FaultPoint::CommittingAndRestoring(i)) {
                    Err(injected(&done.path, FaultPoint::CommittingAndRestoring(i)))
                } else {
                    fsutil::write_atomic(&done.path, &done.old, done.mode)
                };
                if let Err(restore) = restored {
                    unrestored.get_or_insert(SecretsError::RollbackFailed {
                        file: done.path.clone(),
                        source: Box::new(restore),
                    });
                }
            }
            return Err(
                unrestored.unwrap_or(SecretsError::RotationFailed { file: failed, source: Box::new(e) })
            );
        }
    }
    Ok(())
}
