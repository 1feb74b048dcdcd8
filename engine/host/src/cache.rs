//! The on-disk cache of compiled plugins.
//!
//! Compiling a plugin takes tens of milliseconds to seconds; loading its
//! compiled form takes well under one. Entries are keyed by the plugin's
//! SHA-256 and by wasmtime's compatibility hash of the engine's version and
//! settings, since compiled code only loads into an identical engine.
//!
//! Loading compiled code is `unsafe` (wasmtime trusts it as native code), so
//! the cache only ever loads files this engine wrote: beside each compiled
//! file is a small check file holding a magic header, the compiled file's
//! length and its CRC-32, checked before wasmtime maps the file. The checksum
//! guards against truncation and corruption, not against an attacker:
//! whoever can write the cache directory can already replace the engine, so
//! the directory must be as private as the binary (a CRC rather than SHA-256
//! keeps a warm load fast). The compiled file holds wasmtime's bytes alone so
//! that wasmtime can map it rather than be handed a copy: a warm load then
//! reads the file once, in small pieces, and copies none of it into memory.
//! Every write goes to a temporary file that is renamed into place (the
//! compiled file first, then its check), so a crash never leaves a
//! half-written entry, and a mapped file is never changed under a running
//! engine. Anything unreadable, unchecked or corrupt is a miss, and the
//! plugin is compiled again.

use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 16] = b"capstan-cwasm-3\n";
/// The check file: magic, then the compiled file's length (u64) and CRC-32
/// (u32), little-endian.
const CHECK_LEN: usize = MAGIC.len() + 8 + 4;

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

    fn check_path(&self, digest: &str) -> PathBuf {
        self.dir.join(&self.engine_key).join(format!("{digest}.check"))
    }

    /// The cached component; `None` when there is none, an error when there
    /// is one that cannot be used.
    pub(crate) fn load(&self, engine: &Engine, digest: &str) -> Result<Option<Component>, String> {
        let (path, check_path) = (self.path(digest), self.check_path(digest));
        let check = match std::fs::read(&check_path) {
            Ok(bytes) => bytes,
            // No check file: no entry (or one a crash cut short, or an older format).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", check_path.display())),
        };
        let (len, crc) = parse_check(&check)
            .ok_or_else(|| format!("{}: not written by this engine", check_path.display()))?;
        match file_len_and_crc(&path) {
            Ok(found) if found == (len, crc) => {}
            Ok(_) => return Err(format!("{}: corrupt (length or checksum differs)", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        #[expect(
            unsafe_code,
            reason = "the file is compiled code this engine serialized into its own cache: its length and checksum match what it wrote, and entries are only ever replaced by rename, never changed in place"
        )]
        // SAFETY: see the reason above; wasmtime additionally checks its own
        // version and settings header before using the code.
        let component = unsafe { Component::deserialize_file(engine, &path) };
        component.map(Some).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Stores the compiled form of `component`; failures only cost a recompile later.
    pub(crate) fn store(&self, digest: &str, component: &Component) -> Result<(), String> {
        let path = self.path(digest);
        let write = || -> std::io::Result<()> {
            let compiled = component.serialize().map_err(std::io::Error::other)?;
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let mut check = MAGIC.to_vec();
            check.extend_from_slice(&(compiled.len() as u64).to_le_bytes());
            check.extend_from_slice(&crc32fast::hash(&compiled).to_le_bytes());
            // The compiled file first: a check file never vouches for a file
            // that is not complete.
            write_atomically(dir, &path, &compiled)?;
            write_atomically(dir, &self.check_path(digest), &check)
        };
        write().map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The length and CRC-32 a check file records, if this engine wrote it.
fn parse_check(check: &[u8]) -> Option<(u64, u32)> {
    if check.len() != CHECK_LEN {
        return None;
    }
    let (magic, rest) = check.split_at(MAGIC.len());
    let (len, crc) = rest.split_at(8);
    (magic == MAGIC)
        .then_some((u64::from_le_bytes(len.try_into().ok()?), u32::from_le_bytes(crc.try_into().ok()?)))
}

/// The file's length and CRC-32, read in pieces (not into one buffer the
/// size of the file, which would cost a page fault per 4 KiB).
fn file_len_and_crc(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((len, hasher.finalize()));
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}

fn wasmtime_version() -> &'static str {
    // wasmtime is pinned with `=` in the workspace; the compatibility hash
    // covers its exact version too, this only makes directories readable.
    "48"
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn only_check_files_of_this_format_parse() {
        let mut check = MAGIC.to_vec();
        check.extend_from_slice(&42u64.to_le_bytes());
        check.extend_from_slice(&7u32.to_le_bytes());
        assert_eq!(parse_check(&check), Some((42, 7)));
        assert_eq!(parse_check(&check[..CHECK_LEN - 1]), None, "truncated");
        check[0] ^= 1;
        assert_eq!(parse_check(&check), None, "another magic");
    }

    #[test]
    fn a_file_is_checked_by_its_length_and_crc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        // Larger than one read, so the pieces are summed correctly.
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &body).unwrap();
        assert_eq!(file_len_and_crc(&path).unwrap(), (body.len() as u64, crc32fast::hash(&body)));
    }
}
