//! The on-disk cache of compiled plugins.
//!
//! Compiling a plugin takes tens of milliseconds to seconds; loading its
//! compiled form takes well under one. Entries are keyed by the plugin's
//! SHA-256 and by wasmtime's compatibility hash of the engine's version and
//! settings, since compiled code only loads into an identical engine.
//!
//! Loading compiled code is `unsafe` (wasmtime trusts it as native code), so
//! the cache only ever loads files this engine wrote: each file starts with a
//! magic header, the length and a CRC-32 of the compiled bytes, checked before
//! they are handed to wasmtime. The checksum guards against truncation and
//! corruption, not against an attacker: whoever can write the cache directory
//! can already replace the engine, so the directory must be as private as the
//! binary (a CRC rather than SHA-256 keeps a warm load at about a millisecond). Writes go to a temporary file that is renamed into
//! place, so a crash never leaves a half-written entry. Anything unreadable
//! or corrupt is a miss, and the plugin is compiled again.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 16] = b"capstan-cwasm-2\n";
/// Magic, then the compiled bytes' length (u64) and CRC-32 (u32), little-endian.
const HEADER: usize = MAGIC.len() + 8 + 4;

pub(crate) struct Cache {
    dir: PathBuf,
    engine_key: String,
}

impl Cache {
    pub(crate) fn new(dir: PathBuf, engine: &Engine) -> Self {
        // The compatibility hash covers the wasmtime version and every setting
        // that changes compiled code; a hash of it makes a short, stable key.
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("wasmtime-{}-{:016x}", wasmtime_version(), hasher.finish());
        Self { dir, engine_key }
    }

    /// Where the compiled form of the plugin with this digest lives.
    pub(crate) fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(&self.engine_key).join(format!("{digest}.cwasm"))
    }

    /// The cached component; `None` when there is none, an error when there
    /// is one that cannot be used.
    pub(crate) fn load(&self, engine: &Engine, digest: &str) -> Result<Option<Component>, String> {
        let path = self.path(digest);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let compiled = verified(&bytes)
            .ok_or_else(|| format!("{}: not written by this engine or corrupt", path.display()))?;
        #[expect(
            unsafe_code,
            reason = "the bytes are compiled code this engine serialized into its own cache: header, length and checksum match what it wrote"
        )]
        // SAFETY: see the reason above; wasmtime additionally checks its own
        // version and settings header before using the code.
        let component = unsafe { Component::deserialize(engine, compiled) };
        component.map(Some).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Stores the compiled form of `component`; failures only cost a recompile later.
    pub(crate) fn store(&self, digest: &str, component: &Component) -> Result<(), String> {
        let path = self.path(digest);
        let write = || -> std::io::Result<()> {
            let compiled = component.serialize().map_err(std::io::Error::other)?;
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            tmp.write_all(MAGIC)?;
            tmp.write_all(&(compiled.len() as u64).to_le_bytes())?;
            tmp.write_all(&crc32fast::hash(&compiled).to_le_bytes())?;
            tmp.write_all(&compiled)?;
            tmp.as_file().sync_all()?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        write().map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The compiled bytes of a cache file, if its header says this engine wrote them intact.
fn verified(file: &[u8]) -> Option<&[u8]> {
    let (header, compiled) = file.split_at_checked(HEADER)?;
    let (magic, rest) = header.split_at(MAGIC.len());
    let (len, crc) = rest.split_at(8);
    let len = u64::from_le_bytes(len.try_into().ok()?);
    let crc = u32::from_le_bytes(crc.try_into().ok()?);
    (magic == MAGIC && len == compiled.len() as u64 && crc32fast::hash(compiled) == crc).then_some(compiled)
}

fn wasmtime_version() -> &'static str {
    // wasmtime is pinned with `=` in the workspace; the compatibility hash
    // covers its exact version too, this only makes directories readable.
    "48"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_intact_files_with_our_header_verify() {
        let body = b"compiled code".to_vec();
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&(body.len() as u64).to_le_bytes());
        file.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        file.extend_from_slice(&body);
        assert_eq!(verified(&file), Some(&body[..]));
        let last = file.len() - 1;
        file[last] ^= 1;
        assert_eq!(verified(&file), None);
        assert_eq!(verified(b"\x7fELF plus anything"), None);
        let len = file.len();
        file[len - 1] ^= 1;
        assert_eq!(verified(&file[..len - 1]), None, "truncated");
    }
}
