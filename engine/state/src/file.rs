//! A whole state kept outside its backend, in a file of its own: the
//! errored state an apply could not store, a backup taken before state
//! surgery. Each is written once, never over another such file (each may be
//! the only copy of what it holds), and readable by its owner only, like the
//! state key: it is the same document as `state.json`, secrets in it only as
//! keyed hashes.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::{State, StateError};

/// How many numbered names are tried when earlier ones are taken.
const MAX_NAMES: u32 = 100;

/// Writes `state` to a new file in `dir` and returns its path: the first of
/// `name(0)`, `name(1)`, … that does not exist yet.
pub(crate) fn write_new(
    state: &State,
    dir: &Path,
    name: impl Fn(u32) -> String,
) -> Result<PathBuf, StateError> {
    let mut bytes = serde_json::to_vec_pretty(state)
        .map_err(|source| StateError::Encode { location: dir.display().to_string(), source })?;
    bytes.push(b'\n');
    let mut last_error = None;
    for n in 0..MAX_NAMES {
        let path = dir.join(name(n));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = match options.open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                last_error = Some(StateError::io(&path, e));
                continue;
            }
            Err(e) => return Err(StateError::io(&path, e)),
        };
        file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(|e| StateError::io(&path, e))?;
        return Ok(path);
    }
    Err(last_error.unwrap_or_else(|| StateError::io(dir, ErrorKind::AlreadyExists.into())))
}
