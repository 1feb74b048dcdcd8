//! The stack root: the only directory configuration may read from.
//!
//! Every read goes through a cap-std [`Dir`] opened on the root, so even a
//! symlink inside the tree cannot lead outside it. Paths are also normalised
//! lexically first, so a `../../..` or `/etc/passwd` is refused with a message
//! that names the path the user wrote rather than an OS error.

use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

pub(crate) struct StackRoot {
    /// Absolute path of the root, for turning absolute user paths into relative ones.
    pub abs: PathBuf,
    dir: Dir,
    /// `is_file` answers by path. Every component looks for the same
    /// env.hcl, namespace.hcl and templates in the directories above it; a
    /// load reads a tree that does not change under it, so each path is asked
    /// of the file system once.
    is_file: Mutex<HashMap<PathBuf, bool>>,
}

impl StackRoot {
    pub fn open(abs: &Path) -> io::Result<Self> {
        let dir = Dir::open_ambient_dir(abs, ambient_authority())?;
        Ok(Self { abs: abs.to_path_buf(), dir, is_file: Mutex::new(HashMap::new()) })
    }

    /// `path` as written by the user, relative to `base` (a directory relative
    /// to the root), as a normalised path relative to the root. `None` if it
    /// leaves the root.
    pub fn confine(&self, base: &Path, path: &str) -> Option<PathBuf> {
        let p = Path::new(path);
        let joined =
            if p.is_absolute() { p.strip_prefix(&self.abs).ok()?.to_path_buf() } else { base.join(p) };
        normalize(&joined)
    }

    pub fn read(&self, rel: &Path) -> io::Result<Vec<u8>> {
        self.dir.read(dot_if_empty(rel))
    }

    pub fn read_to_string(&self, rel: &Path) -> io::Result<String> {
        self.dir.read_to_string(dot_if_empty(rel))
    }

    pub fn is_file(&self, rel: &Path) -> bool {
        let known = || self.is_file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&answer) = known().get(rel) {
            return answer;
        }
        // Not under the lock: the other loader threads carry on meanwhile.
        let answer = self.dir.is_file(dot_if_empty(rel));
        known().insert(rel.to_path_buf(), answer);
        answer
    }

    /// Sub-directories of `rel`, sorted, skipping hidden ones (`.git`, `.capstan`).
    pub fn subdirs(&self, rel: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in self.dir.read_dir(dot_if_empty(rel))? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            if entry.file_type()?.is_dir() {
                out.push(rel.join(name));
            }
        }
        out.sort();
        Ok(out)
    }
}

fn dot_if_empty(p: &Path) -> &Path {
    if p.as_os_str().is_empty() { Path::new(".") } else { p }
}

/// Lexical normalisation; `None` if the path climbs above its start.
pub(crate) fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(s) => out.push(s),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// A root-relative path as users see it: forward slashes, `.` for the root.
pub(crate) fn display(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    if s.is_empty() { ".".to_owned() } else { s }
}

/// The target as an absolute path without `..` or symlinks, so walking up
/// finds the real stack root.
pub(crate) fn normalize_abs(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
