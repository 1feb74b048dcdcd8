//! A copy of the whole state taken before `capstan state mv|rm|import`
//! changes it by hand, so that `capstan state push <backup> --force` puts
//! everything back.
//!
//! Backups go under the stack root whatever the backend (a PostgreSQL
//! state is backed up to the operator's checkout too), one file per
//! surgery, never overwritten, mode 0600 in a directory Git is told to
//! ignore: they are the operator's undo, not part of the tree under review.

use std::path::{Path, PathBuf};

use crate::{State, StateError};

/// Where backups are kept, relative to the stack root.
pub const BACKUP_DIR: &str = ".capstan/backups";

/// Writes `state` to `<stack root>/.capstan/backups/state-<serial>-<UTC time>.json`
/// (a numbered name if that one is taken) and returns its path.
pub fn save_backup(state: &State, stack_root: &Path) -> Result<PathBuf, StateError> {
    let dir = stack_root.join(BACKUP_DIR);
    create_private_dir(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n").map_err(|e| StateError::io(&ignore, e))?;
    }
    // `2026-11-23T18:32:12Z` without the characters some file systems refuse.
    let at: String = crate::now_rfc3339().chars().filter(|c| !matches!(c, '-' | ':')).collect();
    let serial = state.serial;
    crate::file::write_new(state, &dir, |n| {
        if n == 0 { format!("state-{serial}-{at}.json") } else { format!("state-{serial}-{at}.{n}.json") }
    })
}

/// `dir` and its missing parents, the new ones readable by the owner only.
fn create_private_dir(dir: &Path) -> Result<(), StateError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| StateError::io(dir, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn a_backup_is_the_state_document_private_and_never_overwritten() {
        let root = tempfile::tempdir().unwrap();
        let mut state = State::new().unwrap();
        state.serial = 7;
        let first = save_backup(&state, root.path()).unwrap();
        let second = save_backup(&state, root.path()).unwrap();
        assert_ne!(first, second, "a second backup in the same second gets its own name");
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("state-7-") && name.ends_with("Z.json"), "{name}");
        assert!(!name.contains(':'), "{name}");
        assert_eq!(crate::load_state_file(&first).unwrap(), state);
        assert_eq!(crate::load_state_file(&second).unwrap(), state);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&first).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let ignore = std::fs::read_to_string(root.path().join(BACKUP_DIR).join(".gitignore")).unwrap();
        assert_eq!(ignore, "*\n");
    }
}
