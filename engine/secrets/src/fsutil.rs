//! Atomic file writes and discovery of secrets files.
//!
//! Every write in this crate goes through [`write_atomic`] (or the two-step
//! [`stage`] + [`Staged::commit`] used by rotation): the bytes land in a temp
//! file in the same directory, are fsynced, and only then renamed over the
//! target. A failure at any point leaves the old file as it was.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Result, SecretsError, io_err};
use crate::format::SECRETS_FILE_NAME;

/// A fully written and fsynced temp file waiting to replace `target`.
#[derive(Debug)]
pub struct Staged {
    temp: tempfile::TempPath,
    target: PathBuf,
}

impl Staged {
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the temp file over the target and fsyncs the directory so the
    /// rename survives a crash.
    pub fn commit(self) -> Result<()> {
        let Staged { temp, target } = self;
        temp.persist(&target).map_err(|e| SecretsError::Io { path: target.clone(), source: e.error })?;
        sync_dir(&target)
    }
}

/// Writes `bytes` to a temp file beside `target` with the given mode and
/// fsyncs it; nothing is visible at `target` until [`Staged::commit`].
/// Dropping the `Staged` removes the temp file.
pub fn stage(target: &Path, bytes: &[u8], mode: u32) -> Result<Staged> {
    let dir = parent_dir(target);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(io_err(target))?;
    // Exactly `mode`, whatever the umask did at creation.
    file.as_file().set_permissions(fs::Permissions::from_mode(mode)).map_err(io_err(target))?;
    file.write_all(bytes).map_err(io_err(target))?;
    file.as_file().sync_all().map_err(io_err(target))?;
    Ok(Staged { temp: file.into_temp_path(), target: target.to_path_buf() })
}

/// Replaces `target` with `bytes` atomically (temp + fsync + rename).
pub fn write_atomic(target: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    stage(target, bytes, mode)?.commit()
}

/// Creates a new file that must not exist yet, mode `mode`, and fsyncs it.
/// Used for identity files, backups and edit temps, which are never overwritten.
pub fn write_new(target: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(target)
        .map_err(io_err(target))?;
    file.write_all(bytes).map_err(io_err(target))?;
    file.sync_all().map_err(io_err(target))?;
    sync_dir(target)
}

/// Creates `dir` and its parents; new directories are mode 0700 because they
/// hold keys.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io_err(dir))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(file: &Path) -> Result<()> {
    let dir = parent_dir(file);
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

/// Reads a file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(io_err(path))
}

/// Every `secrets.enc.hcl` under `dir`, sorted. Hidden directories (`.git`,
/// `.capstan`) are skipped and symlinks are not followed, so a link cannot
/// drag files from outside the stack into a rotation.
pub fn find_secret_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).map_err(io_err(&current))? {
            let entry = entry.map_err(io_err(&current))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io_err(&path))?;
            let name = entry.file_name();
            if kind.is_dir() {
                if !name.to_string_lossy().starts_with('.') {
                    pending.push(path);
                }
            } else if kind.is_file() && name == SECRETS_FILE_NAME {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
