//! Writes that never leave a half-written file behind: a temp file in the
//! target's directory, fsynced, renamed over the target, directory fsynced.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{RegistryError, Result};

/// Replaces `target` with `bytes`; readers see the old file or the new one.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    // A bare file name's parent is "", which is the current directory.
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(RegistryError::io(dir))?;
    let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Dot-prefixed and process-unique: readers skip it, two writers never share it.
    let tmp =
        dir.join(format!(".{file_name}.{}.{}.tmp", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, target)?;
        // The rename is durable only once the directory entry is.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(RegistryError::io(target))
}
