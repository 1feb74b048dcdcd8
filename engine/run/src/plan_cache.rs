//! The plan cache: each plugin's answer to each request, kept under
//! `.capstan/plan-cache/` so that a plan after an apply, with nothing
//! changed, asks no plugin again.
//!
//! An entry is named by a keyed digest of what decides the answer: the
//! engine's version, the plugin's code digest and the whole request
//! (inputs, dependency outputs, files, effect results) byte for byte as the
//! plugin would receive it. Plugins are deterministic, so the same name
//! means the same answer.
//!
//! Answers hold sensitive values in clear (a Secret's data, a password
//! output), and `.capstan/` is not where they may be. So the entry is sealed
//! (ChaCha20-Poly1305) under a key derived from the state key, which the
//! state backend holds and the cache directory does not; the name is an HMAC
//! under another derived key, so it says nothing of a low-entropy input.
//!
//! The cache is an optimisation only. An entry that is missing, damaged,
//! sealed under another key or of another format is treated as absent; the
//! plugin is asked and the entry written again. A write that fails is
//! dropped. Entries not used for [`UNUSED_FOR`] are removed by
//! [`PlanCache::prune`].

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use capstan_core::{CheckedPlan, PlanRequest};
use capstan_plan::AnswerCache;
use capstan_state::StateKey;

/// The cache's directory under the stack root.
pub const PLAN_CACHE_DIR: &str = ".capstan/plan-cache";

/// Changes when the entry's layout or what goes into its name changes, so
/// entries of another format are never read as this one's.
const FORMAT: &[u8] = b"capstan plan cache 1\0";

/// An entry not used for this long is removed by the next prune.
pub const UNUSED_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

/// A used entry's modification time is moved on when it is older than this:
/// often enough for [`UNUSED_FOR`], rarely enough that a plan writes nothing.
const TOUCH_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A temporary file older than this was left by a run that was killed.
const LEFTOVER_AFTER: Duration = Duration::from_secs(3600);

const NONCE_LEN: usize = 12;

/// Plugin answers kept in a directory, sealed under a key derived from the
/// state key.
pub struct PlanCache {
    dir: PathBuf,
    naming: [u8; 32],
    sealing: ChaCha20Poly1305,
    /// Makes temporary names unique between the threads of one run.
    writes: AtomicU64,
}

impl PlanCache {
    /// A cache in `dir`, its entries named and sealed under keys derived
    /// from `key` (the state key). Nothing is read or created yet.
    pub fn new(dir: impl Into<PathBuf>, key: &StateKey) -> Self {
        Self {
            dir: dir.into(),
            naming: key.derive("plan cache entry names"),
            sealing: ChaCha20Poly1305::new(Key::from_slice(&key.derive("plan cache entries"))),
            writes: AtomicU64::new(0),
        }
    }

    /// The directory entries are kept in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry's name: hex of the HMAC of everything the answer depends on.
    fn name(&self, plugin: &str, request: &PlanRequest) -> Option<String> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.naming).ok()?;
        mac.update(FORMAT);
        mac.update(env!("CARGO_PKG_VERSION").as_bytes());
        mac.update(b"\0");
        mac.update(plugin.as_bytes());
        mac.update(b"\0");
        // The request as JSON, in the order it was built: the bytes the
        // plugin's answer follows from, with no copy made to hash them.
        serde_json::to_writer(MacWriter(&mut mac), request).ok()?;
        Some(hex::encode(mac.finalize().into_bytes()))
    }

    fn read(&self, name: &str) -> Option<CheckedPlan> {
        let mut file = fs::File::open(self.dir.join(name)).ok()?;
        let mut sealed = Vec::new();
        file.read_to_end(&mut sealed).ok()?;
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
        let payload = Payload { msg: body, aad: name.as_bytes() };
        let opened = self.sealing.decrypt(Nonce::from_slice(nonce), payload).ok()?;
        let answer = serde_json::from_slice(&opened).ok()?;
        touch(&file);
        Some(answer)
    }

    fn write(&self, name: &str, answer: &CheckedPlan) -> std::io::Result<()> {
        let plain = serde_json::to_vec(answer)?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        let payload = Payload { msg: &plain, aad: name.as_bytes() };
        let body = self
            .sealing
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| std::io::Error::other("the entry could not be sealed"))?;
        // Written whole under a temporary name, then renamed: a reader sees
        // no entry or the whole of one.
        let tmp = self.dir.join(format!(
            ".{name}.{}-{}",
            std::process::id(),
            self.writes.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = match fs::File::create(&tmp) {
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    create_private_dir(&self.dir)?;
                    fs::File::create(&tmp)?
                }
                other => other?,
            };
            file.write_all(&nonce)?;
            file.write_all(&body)?;
            fs::rename(&tmp, self.dir.join(name))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// Removes the entries not used for [`UNUSED_FOR`], and what a run
    /// killed while writing left; returns how many. Each plan calls it, so
    /// the cache holds about what the stack's recent runs asked.
    pub fn prune(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.dir) else { return 0 };
        let mut removed = 0;
        for entry in entries.flatten() {
            // A name starting with a dot is a temporary file a killed run left.
            let leftover = entry.file_name().to_string_lossy().starts_with('.');
            let limit = if leftover { LEFTOVER_AFTER } else { UNUSED_FOR };
            if age(entry.metadata()).is_some_and(|age| age > limit) && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

impl AnswerCache for PlanCache {
    fn get(&self, plugin: &str, request: &PlanRequest) -> Option<CheckedPlan> {
        self.read(&self.name(plugin, request)?)
    }

    fn put(&self, plugin: &str, request: &PlanRequest, answer: &CheckedPlan) {
        if let Some(name) = self.name(plugin, request)
            && let Err(e) = self.write(&name, answer)
        {
            tracing::debug!(dir = %self.dir.display(), error = %e, "plan cache entry not written");
        }
    }
}

/// Feeds what serde_json writes into the MAC.
struct MacWriter<'a>(&'a mut Hmac<Sha256>);

impl Write for MacWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Moves a used entry's modification time on, when it is older than
/// [`TOUCH_AFTER`], so [`PlanCache::prune`] keeps it.
fn touch(file: &fs::File) {
    // The owner may set the time through a descriptor opened for reading.
    if age(file.metadata()).is_some_and(|age| age > TOUCH_AFTER) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// How long ago a file was last modified, if that can be told.
fn age(metadata: std::io::Result<fs::Metadata>) -> Option<Duration> {
    let modified = metadata.and_then(|m| m.modified()).ok()?;
    SystemTime::now().duration_since(modified).ok()
}

/// Creates `dir` readable by its owner only: entries are sealed, and their
/// names and sizes are nobody else's business either.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use capstan_core::{ComponentId, ComponentPlan, Output};
    use serde_json::json;

    use super::*;

    fn request(replicas: u64) -> PlanRequest {
        PlanRequest {
            component: ComponentId { environment: "dev".into(), namespace: "web".into(), name: "api".into() },
            inputs: json!({"replicas": replicas, "password": "hunter2-TEST-ONLY"}),
            sensitive_paths: vec!["/password".into()],
            dependencies: Vec::new(),
            files: Vec::new(),
            effect_results: Vec::new(),
        }
    }

    fn answer() -> CheckedPlan {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api"},
            "stringData": {"password": "hunter2-TEST-ONLY"}, "z": 1.5, "a": [1, -2]});
        CheckedPlan::Planned {
            answer: Ok(ComponentPlan {
                objects: vec![secret],
                outputs: vec![Output { name: "url".into(), value: json!("http://api"), sensitive: false }],
                ..ComponentPlan::default()
            }),
            warnings: Vec::new(),
        }
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect()
    }

    #[test]
    fn an_answer_comes_back_as_it_was_kept_for_the_same_plugin_and_request_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PlanCache::new(dir.path().join("c"), &StateKey::from_bytes([7; 32]));
        assert_eq!(cache.get("sha256:p", &request(2)), None);
        cache.put("sha256:p", &request(2), &answer());
        assert_eq!(cache.get("sha256:p", &request(2)), Some(answer()));
        // Key order survives: the answer is the plugin's, byte for byte.
        let kept = serde_json::to_string(&cache.get("sha256:p", &request(2)).unwrap()).unwrap();
        assert_eq!(kept, serde_json::to_string(&answer()).unwrap());
        assert_eq!(cache.get("sha256:other", &request(2)), None);
        assert_eq!(cache.get("sha256:p", &request(3)), None);
        let other_key = PlanCache::new(dir.path().join("c"), &StateKey::from_bytes([8; 32]));
        assert_eq!(other_key.get("sha256:p", &request(2)), None);
    }

    #[test]
    fn entries_hold_no_sensitive_value_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PlanCache::new(dir.path(), &StateKey::from_bytes([7; 32]));
        cache.put("sha256:p", &request(2), &answer());
        let [entry] = entries(dir.path()).try_into().unwrap();
        let bytes = fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("hunter2"), "the password is in the entry in clear");
        assert!(!text.contains("Secret"), "the entry is not sealed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().unwrap();
            let nested = PlanCache::new(dir.path().join("plan-cache"), &StateKey::from_bytes([7; 32]));
            nested.put("sha256:p", &request(2), &answer());
            let mode = fs::metadata(nested.dir()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn a_damaged_entry_is_absent_and_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PlanCache::new(dir.path(), &StateKey::from_bytes([7; 32]));
        cache.put("sha256:p", &request(2), &answer());
        let [entry] = entries(dir.path()).try_into().unwrap();
        let mut bytes = fs::read(&entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&entry, &bytes).unwrap();
        assert_eq!(cache.get("sha256:p", &request(2)), None, "a flipped bit is noticed");
        fs::write(&entry, &bytes[..5]).unwrap();
        assert_eq!(cache.get("sha256:p", &request(2)), None, "a short entry is noticed");
        cache.put("sha256:p", &request(2), &answer());
        assert_eq!(cache.get("sha256:p", &request(2)), Some(answer()));
    }

    #[test]
    fn prune_removes_entries_unused_for_two_weeks_and_keeps_those_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PlanCache::new(dir.path(), &StateKey::from_bytes([7; 32]));
        let old = SystemTime::now() - UNUSED_FOR - Duration::from_secs(60);
        for replicas in [1, 2] {
            cache.put("sha256:p", &request(replicas), &answer());
            let entry = dir.path().join(cache.name("sha256:p", &request(replicas)).unwrap());
            fs::File::options().append(true).open(&entry).unwrap().set_modified(old).unwrap();
        }
        // Used now: its time moves on.
        assert_eq!(cache.get("sha256:p", &request(2)), Some(answer()));
        assert_eq!(cache.prune(), 1);
        assert_eq!(cache.get("sha256:p", &request(1)), None);
        assert_eq!(cache.get("sha256:p", &request(2)), Some(answer()));
    }
}
