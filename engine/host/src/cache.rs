//! The on-disk cache of compiled plugins.
//!
//! Compiling a plugin takes tens of milliseconds to seconds; loading its
//! compiled form takes well under one. Entries are keyed by the plugin's
//! SHA-256 and by wasmtime's compatibility hash of the engine's version and
//! settings, since compiled code only loads into an identical engine.
//!
//! Loading compiled code is `unsafe`: wasmtime runs it as native code,
//! outside the sandbox. So the cache loads only entries this user's engine
//! wrote. Each entry is one file: a magic header, then an HMAC-SHA256 of the
//! header, the engine key, the wasm digest and the compiled bytes, then the
//! compiled bytes. The MAC's key is 32 random bytes in `<cache dir>/key`,
//! created 0600 by the first engine that needs it in a directory created
//! 0700. Whoever can write the directory but cannot read the key (a shared CI
//! cache restored without it, a directory another user can write) cannot
//! make an entry verify, and an entry copied to another digest's name does
//! not verify either, since the digest is part of what is signed. An entry
//! that does not verify is compiled again and replaced, never loaded.
//!
//! A key file that another user owns, that group or others may read or
//! write, or that is not 32 bytes is replaced by a fresh key, never used: it
//! may be known to someone else, so every entry it vouched for is compiled
//! again. A cache directory another user owns is not used at all; one of
//! ours that others may enter is narrowed to 0700.
//!
//! The file is read into memory once, verified there, and those same bytes
//! are handed to wasmtime (`Component::deserialize`). Verifying the file by
//! path and then mapping it by path would leave a window in which the file
//! could be swapped after the check. The copy costs a few milliseconds per
//! megabyte of compiled code, still far below compiling.
//!
//! Every write goes to a temporary file that is renamed into place, so a
//! crash never leaves a half-written entry. Anything unreadable, malformed
//! or unauthenticated is a miss, and the plugin is compiled again.

use std::fs::{DirBuilder, File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 16] = b"capstan-cwasm-4\n";
const MAC_LEN: usize = 32;
const HEADER_LEN: usize = MAGIC.len() + MAC_LEN;
/// The key file, inside the cache directory.
pub(crate) const KEY_FILE: &str = "key";
const KEY_LEN: usize = 32;
/// Directories of the cache: the user's alone.
const DIR_MODE: u32 = 0o700;
/// The key: readable and writable by the user alone.
const KEY_MODE: u32 = 0o600;

pub(crate) struct Cache {
    dir: PathBuf,
    engine_key: String,
    key: [u8; KEY_LEN],
}

impl Cache {
    /// The cache in `dir`, creating it (0700) and its key (0600) when
    /// missing. An error means the cache cannot be used safely: the engine
    /// then compiles every plugin.
    pub(crate) fn open(dir: PathBuf, engine: &Engine) -> Result<Self, String> {
        private_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let key_path = dir.join(KEY_FILE);
        let key = user_key(&dir, &key_path).map_err(|e| format!("{}: {e}", key_path.display()))?;
        // The compatibility hash covers the wasmtime version and every setting
        // that changes compiled code; a hash of it makes a short, stable key.
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("wasmtime-{}-{:016x}", wasmtime_version(), hasher.finish());
        Ok(Self { dir, engine_key, key })
    }

    /// Where the compiled form of the plugin with this digest lives.
    pub(crate) fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(&self.engine_key).join(format!("{digest}.cwasm"))
    }

    /// The MAC of an entry: it binds the compiled bytes to this engine and
    /// to the wasm they were compiled from.
    fn mac(&self, digest: &str, compiled: &[u8]) -> Hmac<Sha256> {
        // A 32-byte key is always a valid HMAC key.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(MAGIC);
        for part in [self.engine_key.as_bytes(), digest.as_bytes()] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac.update(compiled);
        mac
    }

    /// The cached component; `None` when there is none, an error when there
    /// is one that cannot be used (it is then compiled again and replaced).
    pub(crate) fn load(&self, engine: &Engine, digest: &str) -> Result<Option<Component>, String> {
        let path = self.path(digest);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let compiled = self
            .verify(digest, &bytes)
            .map_err(|why| format!("{}: {why}; compiling the plugin again", path.display()))?;
        #[expect(
            unsafe_code,
            reason = "these bytes are compiled code this user's engine serialized for exactly this wasm digest and engine: their HMAC under the user's private key verified, and they are the bytes verified, in memory, not a file that could change after the check"
        )]
        // SAFETY: see the reason above; wasmtime additionally checks its own
        // version and settings header before using the code.
        let component = unsafe { Component::deserialize(engine, compiled) };
        component.map(Some).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The compiled bytes of an entry, if its header is this format's and its
    /// MAC verifies for `digest`.
    fn verify<'a>(&self, digest: &str, entry: &'a [u8]) -> Result<&'a [u8], &'static str> {
        if entry.len() < HEADER_LEN || &entry[..MAGIC.len()] != MAGIC {
            return Err("not an entry of this format");
        }
        let (tag, compiled) = entry[MAGIC.len()..].split_at(MAC_LEN);
        // `verify_slice` compares in constant time.
        self.mac(digest, compiled)
            .verify_slice(tag)
            .map_err(|_| "its MAC does not verify (changed, or written under another key)")?;
        Ok(compiled)
    }

    /// Stores the compiled form of `component`; failures only cost a recompile later.
    pub(crate) fn store(&self, digest: &str, component: &Component) -> Result<(), String> {
        let path = self.path(digest);
        let write = || -> std::io::Result<()> {
            let compiled = component.serialize().map_err(std::io::Error::other)?;
            let dir = path.parent().unwrap_or(Path::new("."));
            DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
            let tag = self.mac(digest, &compiled).finalize().into_bytes();
            let mut entry = Vec::with_capacity(HEADER_LEN + compiled.len());
            entry.extend_from_slice(MAGIC);
            entry.extend_from_slice(&tag);
            entry.extend_from_slice(&compiled);
            write_atomically(dir, &path, &entry)?;
            // The check file of the previous format, if one is left.
            let _ = std::fs::remove_file(path.with_extension("check"));
            Ok(())
        };
        write().map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Creates `dir` (and missing parents) 0700; an existing one must be the
/// user's, and is narrowed to 0700 if others may enter it.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(std::io::Error::other(format!(
            "owned by user {}, not by this user: compiled plugins are not cached there",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        tracing::warn!(
            "{}: the compiled-plugin cache was open to other users (mode {:o}); narrowing it to {DIR_MODE:o}",
            dir.display(),
            meta.mode() & 0o777
        );
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// The user's cache key in `path`: read when it is the user's alone and
/// whole, else a fresh one written in its place.
fn user_key(dir: &Path, path: &Path) -> std::io::Result<[u8; KEY_LEN]> {
    // Engines starting at once (parallel CI jobs, a test suite) may all find
    // no key: only the first new key is kept, and the others read it, so no
    // engine signs entries with a key the next one will not have.
    for _ in 0..2 {
        let replace = match OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
        {
            Ok(file) => match read_private_key(file)? {
                Ok(key) => return Ok(key),
                Err(why) => {
                    tracing::warn!(
                        "{}: {why}; replacing it with a new key (every compiled plugin is compiled again)",
                        path.display()
                    );
                    true
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            // A symbolic link (ELOOP) or anything else unreadable: replaced.
            Err(e) => {
                tracing::warn!("{}: {e}; replacing it with a new key", path.display());
                true
            }
        };
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
        // `NamedTempFile` creates its file 0600; set it anyway, it is the promise.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(KEY_MODE))?;
        tmp.write_all(&key)?;
        tmp.as_file().sync_all()?;
        let persisted = if replace { tmp.persist(path) } else { tmp.persist_noclobber(path) };
        match persisted {
            Ok(_) => return Ok(key),
            // Another engine created the key first: read that one.
            Err(e) if !replace && e.error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.error),
        }
    }
    Err(std::io::Error::other("the key kept changing while it was being created"))
}

/// The key in an open key file, or why it cannot be trusted. Checked on
/// the open file, so the file checked is the file read.
fn read_private_key(file: File) -> std::io::Result<Result<[u8; KEY_LEN], String>> {
    let meta = file.metadata()?;
    let me = rustix::process::geteuid().as_raw();
    if !meta.is_file() {
        return Ok(Err("not a regular file".into()));
    }
    if meta.uid() != me {
        return Ok(Err(format!("owned by user {}, not by this user", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        return Ok(Err(format!(
            "other users may read or write it (mode {:o}, must be {KEY_MODE:o})",
            meta.mode() & 0o777
        )));
    }
    let mut bytes = Vec::with_capacity(KEY_LEN + 1);
    file.take(KEY_LEN as u64 + 1).read_to_end(&mut bytes)?;
    Ok(<[u8; KEY_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{} bytes, not the {KEY_LEN} of a key", bytes.len())))
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
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

    fn cache(key: u8) -> Cache {
        Cache { dir: PathBuf::new(), engine_key: "wasmtime-48-0".into(), key: [key; KEY_LEN] }
    }

    fn entry(cache: &Cache, digest: &str, compiled: &[u8]) -> Vec<u8> {
        let mut entry = MAGIC.to_vec();
        entry.extend_from_slice(&cache.mac(digest, compiled).finalize().into_bytes());
        entry.extend_from_slice(compiled);
        entry
    }

    #[test]
    fn an_entry_verifies_only_for_its_key_digest_and_bytes() {
        let c = cache(1);
        let good = entry(&c, "aa", b"compiled code");
        assert_eq!(c.verify("aa", &good), Ok(&b"compiled code"[..]));
        assert!(c.verify("bb", &good).is_err(), "moved to another digest");
        assert!(cache(2).verify("aa", &good).is_err(), "another user's key");
        let mut other_engine = cache(1);
        other_engine.engine_key = "wasmtime-48-1".into();
        assert!(other_engine.verify("aa", &good).is_err(), "another engine");
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(c.verify("aa", &flipped).is_err(), "one bit of the code changed");
        assert!(c.verify("aa", &good[..HEADER_LEN - 1]).is_err(), "truncated");
        let mut magic = good;
        magic[0] ^= 1;
        assert!(c.verify("aa", &magic).is_err(), "another format");
    }

    #[test]
    fn engines_creating_the_key_at_once_all_end_up_with_the_same_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let keys: Vec<[u8; KEY_LEN]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| user_key(dir.path(), &path).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let on_disk = std::fs::read(&path).unwrap();
        assert!(keys.iter().all(|k| k[..] == on_disk[..]), "an engine kept a key that is not on disk");
    }

    #[test]
    fn a_key_is_created_private_and_a_shared_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let key = user_key(dir.path(), &path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, KEY_MODE);
        assert_eq!(user_key(dir.path(), &path).unwrap(), key, "read back, not replaced");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let fresh = user_key(dir.path(), &path).unwrap();
        assert_ne!(fresh, key, "a key others could read is replaced");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, KEY_MODE);

        std::fs::write(&path, b"short").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_ne!(user_key(dir.path(), &path).unwrap(), fresh, "a key of the wrong length is replaced");
    }
}
