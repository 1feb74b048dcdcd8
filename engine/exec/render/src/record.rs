//! The render target's record of the files it wrote: for each, its size,
//! mode, modification time, inode and the SHA-256 of its bytes. With it a
//! plan knows that a file still holds what the plan wants without reading
//! and parsing it back: the file must have the recorded size, mode, time
//! and inode, and the plan's bytes the recorded digest. A file edited by
//! hand gets a new time (or a new inode, when an editor replaces it), so it
//! is read and compared as before.
//!
//! The record is kept beside the state (`.capstan/`), not in the output
//! directory, which goes to Git: the times would churn it. Files holding a
//! Secret are never recorded, since a digest of a document holding a
//! password could be checked against guesses; they are read back as before.
//!
//! A file system's clock ticks coarsely (a few milliseconds), so a file
//! changed within the tick in which the record was saved could keep its
//! recorded time. As Git does with racily clean index entries, a stamp that
//! is not older than the record file is not trusted.
//!
//! It is an optimisation only: a record that is missing, unreadable or of
//! another version is empty, and one that cannot be saved is left as it was
//! (its stamps no longer match the files written since, which are then read).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tree::{MODE_FILE, write_file};

const VERSION: u32 = 1;

/// What the target recorded of the files it wrote, loaded on first use.
pub(crate) struct Record {
    path: PathBuf,
    stamps: OnceLock<Mutex<Stamps>>,
}

#[derive(Default)]
struct Stamps {
    files: HashMap<String, Stamp>,
    changed: bool,
}

/// How one file was when the target last wrote or read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    len: u64,
    mode: u32,
    /// Modification time: seconds and nanoseconds since the epoch.
    mtime: (i64, i64),
    ino: u64,
    sha256: String,
}

#[derive(Serialize, Deserialize)]
struct RecordFile {
    version: u32,
    files: BTreeMap<String, Stamp>,
}

impl Record {
    /// The record kept in the file at `path` (read on first use).
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, stamps: OnceLock::new() }
    }

    fn stamps(&self) -> std::sync::MutexGuard<'_, Stamps> {
        self.stamps
            .get_or_init(|| Mutex::new(load(&self.path)))
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the file at `path` (`rel` in the output directory) holds
    /// exactly `bytes`, known from the record without reading it.
    pub(crate) fn untouched(&self, rel: &str, path: &Path, bytes: &[u8]) -> bool {
        let Some(stamp) = self.stamps().files.get(rel).cloned() else { return false };
        if stamp.len != bytes.len() as u64 {
            return false;
        }
        let Some(now) = fs::symlink_metadata(path).ok().and_then(|m| stamp_of(&m, String::new())) else {
            return false;
        };
        (now.len, now.mode, now.mtime, now.ino) == (stamp.len, stamp.mode, stamp.mtime, stamp.ino)
            && stamp.sha256 == sha256(bytes)
    }

    /// Records that the file at `path` holds `bytes`, as written or read.
    pub(crate) fn wrote(&self, rel: &str, path: &Path, bytes: &[u8]) {
        let stamp = fs::symlink_metadata(path).ok().and_then(|m| stamp_of(&m, sha256(bytes)));
        let mut stamps = self.stamps();
        match stamp {
            Some(stamp) => {
                stamps.files.insert(rel.to_owned(), stamp);
            }
            None => {
                stamps.files.remove(rel);
            }
        }
        stamps.changed = true;
    }

    /// Forgets the file at `rel`: removed, or holding a Secret now.
    pub(crate) fn forget(&self, rel: &str) {
        let mut stamps = self.stamps();
        if stamps.files.remove(rel).is_some() {
            stamps.changed = true;
        }
    }

    /// Saves the record if it changed since it was loaded or saved.
    pub(crate) fn save(&self) {
        let Some(stamps) = self.stamps.get() else { return };
        let mut stamps = stamps.lock().unwrap_or_else(PoisonError::into_inner);
        if !stamps.changed {
            return;
        }
        let file = RecordFile {
            version: VERSION,
            files: stamps.files.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        // Written as the rendered files are: a temporary file, then a rename.
        let written = serde_json::to_vec(&file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| write_file(&self.path, &bytes, MODE_FILE).map_err(|e| e.to_string()));
        match written {
            Ok(()) => stamps.changed = false,
            Err(e) => tracing::debug!(path = %self.path.display(), error = %e, "render record not saved"),
        }
    }
}

fn load(path: &Path) -> Stamps {
    let Ok(bytes) = fs::read(path) else { return Stamps::default() };
    let Ok(file) = serde_json::from_slice::<RecordFile>(&bytes) else { return Stamps::default() };
    if file.version != VERSION {
        return Stamps::default();
    }
    // Racily recorded: changed, maybe, in the tick the record was saved.
    let saved = fs::metadata(path).ok().and_then(|m| stamp_of(&m, String::new())).map(|s| s.mtime);
    let files =
        file.files.into_iter().filter(|(_, stamp)| saved.is_some_and(|saved| stamp.mtime < saved)).collect();
    Stamps { files, changed: false }
}

#[cfg(unix)]
fn stamp_of(metadata: &fs::Metadata, sha256: String) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    metadata.is_file().then(|| Stamp {
        len: metadata.len(),
        mode: metadata.mode() & 0o7777,
        mtime: (metadata.mtime(), metadata.mtime_nsec()),
        ino: metadata.ino(),
        sha256,
    })
}

/// Elsewhere nothing is recorded: every file is read back.
#[cfg(not(unix))]
fn stamp_of(_: &fs::Metadata, _: String) -> Option<Stamp> {
    None
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::{Duration, SystemTime};

    use super::*;

    /// A record and a file it stamped, the record saved and its file dated
    /// after the file (as after a run), then loaded again.
    fn stamped(dir: &Path, text: &[u8]) -> (Record, PathBuf) {
        let file = dir.join("a.yaml");
        fs::write(&file, text).unwrap();
        let old = SystemTime::now() - Duration::from_secs(10);
        fs::File::options().append(true).open(&file).unwrap().set_modified(old).unwrap();
        let record = Record::new(dir.join("record.json"));
        record.wrote("a.yaml", &file, text);
        record.save();
        (Record::new(dir.join("record.json")), file)
    }

    #[test]
    fn a_file_as_written_is_known_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let (record, file) = stamped(dir.path(), b"kind: A\n");
        assert!(record.untouched("a.yaml", &file, b"kind: A\n"));
        assert!(!record.untouched("a.yaml", &file, b"kind: B\n"), "other bytes of the same size");
        assert!(!record.untouched("b.yaml", &file, b"kind: A\n"), "a file never recorded");
    }

    #[test]
    fn a_file_edited_by_hand_is_not_known() {
        let dir = tempfile::tempdir().unwrap();
        let (record, file) = stamped(dir.path(), b"kind: A\n");
        // Same size, same bytes even: only its time says it was touched.
        fs::write(&file, b"kind: A\n").unwrap();
        assert!(!record.untouched("a.yaml", &file, b"kind: A\n"));

        let (record, file) = stamped(dir.path(), b"kind: A\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
            assert!(!record.untouched("a.yaml", &file, b"kind: A\n"), "its mode changed");
        }
        fs::remove_file(&file).unwrap();
        assert!(!record.untouched("a.yaml", &file, b"kind: A\n"), "it is gone");
    }

    #[test]
    fn a_stamp_from_the_tick_the_record_was_saved_in_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        fs::write(&file, b"kind: A\n").unwrap();
        let record = Record::new(dir.path().join("record.json"));
        record.wrote("a.yaml", &file, b"kind: A\n");
        record.save();
        // The record file is dated with the file: the file may have changed after it was stamped.
        let at = fs::metadata(&file).unwrap().modified().unwrap();
        fs::File::options()
            .append(true)
            .open(dir.path().join("record.json"))
            .unwrap()
            .set_modified(at)
            .unwrap();
        assert!(!Record::new(dir.path().join("record.json")).untouched("a.yaml", &file, b"kind: A\n"));
    }

    #[test]
    fn a_damaged_or_foreign_record_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (_, file) = stamped(dir.path(), b"kind: A\n");
        fs::write(dir.path().join("record.json"), b"{not json").unwrap();
        assert!(!Record::new(dir.path().join("record.json")).untouched("a.yaml", &file, b"kind: A\n"));
        fs::write(dir.path().join("record.json"), br#"{"version": 99, "files": {}}"#).unwrap();
        assert!(!Record::new(dir.path().join("record.json")).untouched("a.yaml", &file, b"kind: A\n"));
    }

    #[test]
    fn a_forgotten_file_is_not_known() {
        let dir = tempfile::tempdir().unwrap();
        let (record, file) = stamped(dir.path(), b"kind: A\n");
        record.forget("a.yaml");
        assert!(!record.untouched("a.yaml", &file, b"kind: A\n"));
    }
}
