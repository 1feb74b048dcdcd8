//! The default backend: files under `<stack root>/.capstan/`.
//!
//! - `state.json`: the last full snapshot, replaced atomically (temp file,
//!   fsync, rename, fsync of the directory).
//! - `state.json.prev`: the snapshot before it (a hard link to the old file,
//!   taken before the rename, so one of the two always holds a whole state).
//! - `state.journal`: one JSON line per component recorded since the snapshot,
//!   fsynced when the component ran effects. Recording a component appends a line instead of rewriting
//!   the file, so apply can record after every component of a 1,000-component
//!   stack. A line torn by a crash is the last one and is dropped on read;
//!   lines older than the snapshot's serial are skipped.
//! - `state.lock`: created exclusively by the run that holds the lock; holds
//!   its [`LockInfo`]. A lock whose process is gone (same host) is stale and
//!   taken over.
//! - `state.key`: the [`StateKey`], mode 0600, listed in `.capstan/.gitignore`.
//!
//! File I/O here is blocking and small; it runs inline on the caller's task.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::lock::{GuardKind, Progress};
use crate::{ComponentState, LockGuard, LockInfo, State, StateBackend, StateError, StateKey};

const STATE_FILE: &str = "state.json";
const PREV_FILE: &str = "state.json.prev";
const JOURNAL_FILE: &str = "state.journal";
const LOCK_FILE: &str = "state.lock";
const KEY_FILE: &str = "state.key";
const TMP_MARK: &str = ".tmp-";
/// How often a waiting run looks at the lock again.
const LOCK_POLL: Duration = Duration::from_millis(100);

/// State in files under a directory (by default `<stack root>/.capstan`).
#[derive(Clone, Debug)]
pub struct LocalBackend {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct JournalEntry {
    version: u32,
    serial: u64,
    key: String,
    component: Option<ComponentState>,
}

/// The state as written: `serial` is the backend's, the rest borrowed.
#[derive(Serialize)]
struct StateOut<'a> {
    version: u32,
    serial: u64,
    lineage: &'a str,
    components: &'a std::collections::BTreeMap<String, ComponentState>,
}

impl LocalBackend {
    /// The backend of the stack rooted at `stack_root`.
    pub fn new(stack_root: &Path) -> Self {
        Self { dir: stack_root.join(".capstan") }
    }

    /// A backend keeping its files directly in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn ensure_dir(&self) -> Result<(), StateError> {
        fs::create_dir_all(&self.dir).map_err(|e| StateError::io(&self.dir, e))?;
        let ignore = self.path(".gitignore");
        if !ignore.exists() {
            // The key must never be committed; the lock and temp files are noise.
            write_atomic(&ignore, b"state.key\nstate.lock\n*.tmp-*\n", &self.dir)?;
        }
        Ok(())
    }

    fn read_sync(&self) -> Result<State, StateError> {
        let path = self.state_path();
        let location = path.display().to_string();
        let mut state = match fs::read_to_string(&path) {
            Ok(text) => State::from_json(&text, &location)?,
            Err(e) if e.kind() == ErrorKind::NotFound => State::new()?,
            Err(e) => return Err(StateError::io(&path, e)),
        };
        self.replay_journal(&mut state)?;
        Ok(state)
    }

    fn replay_journal(&self, state: &mut State) -> Result<(), StateError> {
        let path = self.path(JOURNAL_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StateError::io(&path, e)),
        };
        let location = path.display().to_string();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        for line in complete.lines().filter(|l| !l.trim().is_empty()) {
            #[derive(Deserialize)]
            struct Probe {
                version: u32,
            }
            let probe: Probe = serde_json::from_str(line)
                .map_err(|source| StateError::Parse { location: location.clone(), source })?;
            crate::model::check_version(probe.version, &location)?;
            let entry: JournalEntry = serde_json::from_str(line)
                .map_err(|source| StateError::Parse { location: location.clone(), source })?;
            if entry.serial <= state.serial {
                continue; // already in the snapshot
            }
            state.serial = entry.serial;
            match entry.component {
                Some(c) => state.components.insert(entry.key, c),
                None => state.components.remove(&entry.key),
            };
        }
        Ok(())
    }

    /// Drops a line torn by a crash, so the next append starts on a fresh line.
    fn repair_journal(&self) -> Result<(), StateError> {
        let path = self.path(JOURNAL_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StateError::io(&path, e)),
        };
        let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if keep < bytes.len() {
            tracing::warn!(path = %path.display(), "dropping an incomplete last journal line left by an interrupted run");
            let file = OpenOptions::new().write(true).open(&path).map_err(|e| StateError::io(&path, e))?;
            file.set_len(keep as u64).and_then(|()| file.sync_all()).map_err(|e| StateError::io(&path, e))?;
        }
        Ok(())
    }

    /// Removes temp files of interrupted writes; only called under the lock.
    fn remove_leftovers(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().contains(TMP_MARK) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn try_create_lock(&self, holder: &LockInfo) -> Result<bool, StateError> {
        let path = self.path(LOCK_FILE);
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(StateError::io(&path, e)),
        };
        let text = serde_json::to_vec_pretty(holder)
            .map_err(|source| StateError::Encode { location: path.display().to_string(), source })?;
        file.write_all(&text).and_then(|()| file.sync_all()).map_err(|e| StateError::io(&path, e))?;
        Ok(true)
    }

    fn read_lock(&self) -> Result<Option<LockInfo>, StateError> {
        let path = self.path(LOCK_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|source| StateError::Parse { location: path.display().to_string(), source }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::io(&path, e)),
        }
    }

    fn check_still_locked(&self, guard: &LockGuard) -> Result<(), StateError> {
        guard.check_location(&self.location())?;
        match self.read_lock() {
            Ok(Some(info)) if info.id == guard.info.id => Ok(()),
            _ => Err(StateError::LockLost { location: self.location(), id: guard.info.id.clone() }),
        }
    }
}

/// Whether the process that wrote `info` is certainly gone.
fn is_stale(info: &LockInfo) -> bool {
    // Only this host's processes can be checked, and only where /proc exists.
    info.host == crate::lock::hostname()
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(info.pid.to_string()).exists()
}

/// Removes the lock file if it is still the one with `id` (best effort: used on drop).
pub(crate) fn release_lock_file(path: &Path, id: &str) {
    let ours = fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<LockInfo>(&t).ok())
        .is_some_and(|info| info.id == id);
    if ours {
        let _ = fs::remove_file(path);
    }
}

/// Writes `bytes` to `path` so that a reader sees the old or the new file,
/// never a mix: temp file in the same directory, fsync, rename, fsync dir.
fn write_atomic(path: &Path, bytes: &[u8], dir: &Path) -> Result<(), StateError> {
    let tmp = tmp_path(path);
    let mut file = File::create(&tmp).map_err(|e| StateError::io(&tmp, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| StateError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| StateError::io(path, e))?;
    sync_dir(dir)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!("{TMP_MARK}{}", std::process::id()));
    path.with_file_name(name)
}

fn sync_dir(dir: &Path) -> Result<(), StateError> {
    // Makes the rename itself durable. Directories cannot be opened this way
    // on every platform; where they cannot, the rename is as durable as the OS makes it.
    match File::open(dir) {
        Ok(d) => d.sync_all().or_else(|e| if cfg!(unix) { Err(StateError::io(dir, e)) } else { Ok(()) }),
        Err(_) if !cfg!(unix) => Ok(()),
        Err(e) => Err(StateError::io(dir, e)),
    }
}

impl StateBackend for LocalBackend {
    fn location(&self) -> String {
        self.state_path().display().to_string()
    }

    async fn state_key(&self) -> Result<StateKey, StateError> {
        self.ensure_dir()?;
        StateKey::load_or_create(&self.path(KEY_FILE))
    }

    async fn lock(&self, holder: &LockInfo, timeout: Duration) -> Result<LockGuard, StateError> {
        self.ensure_dir()?;
        let start = Instant::now();
        loop {
            if self.try_create_lock(holder)? {
                break;
            }
            // An empty or half-written lock file is a holder in the middle of
            // creating it: treat it as held.
            let current = self.read_lock().ok().flatten();
            if let Some(info) = &current
                && is_stale(info)
            {
                tracing::warn!(lock = %info, "taking over a lock whose process is gone");
                release_lock_file(&self.path(LOCK_FILE), &info.id);
                continue;
            }
            if start.elapsed() >= timeout {
                return Err(StateError::Locked {
                    location: self.location(),
                    holder: current.map(Box::new),
                    waited: start.elapsed(),
                });
            }
            tokio::time::sleep(LOCK_POLL.min(timeout.saturating_sub(start.elapsed()))).await;
        }
        let guard = LockGuard {
            info: holder.clone(),
            location: self.location(),
            progress: tokio::sync::Mutex::new(Progress { serial: 0, lineage: None }),
            kind: GuardKind::Local { lock_path: self.path(LOCK_FILE) },
        };
        // From here on the guard releases the lock if anything fails.
        self.repair_journal()?;
        self.remove_leftovers();
        let stored = self.read_sync()?;
        // Only a snapshot stores a lineage; a journal alone (a first apply that
        // stopped before its full write) accepts the lineage of the next write.
        let has_state = self.state_path().exists();
        {
            let mut p = guard.progress.lock().await;
            p.serial = stored.serial;
            p.lineage = has_state.then_some(stored.lineage);
        }
        Ok(guard)
    }

    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        self.read_lock()
    }

    async fn read(&self) -> Result<State, StateError> {
        self.read_sync()
    }

    async fn write(&self, state: &State, guard: &LockGuard) -> Result<u64, StateError> {
        let mut progress = guard.progress.lock().await;
        self.check_still_locked(guard)?;
        if let Some(stored) = &progress.lineage
            && *stored != state.lineage
        {
            return Err(StateError::LineageMismatch {
                location: self.location(),
                stored: stored.clone(),
                given: state.lineage.clone(),
            });
        }
        let serial = progress.serial + 1;
        let out = StateOut {
            version: crate::STATE_VERSION,
            serial,
            lineage: &state.lineage,
            components: &state.components,
        };
        let path = self.state_path();
        let mut bytes = serde_json::to_vec_pretty(&out)
            .map_err(|source| StateError::Encode { location: self.location(), source })?;
        bytes.push(b'\n');

        // Keep the current snapshot as .prev: link it under a temp name, then
        // rename over the old .prev (atomic), then put the new one in place.
        if path.exists() {
            let prev = self.path(PREV_FILE);
            let prev_tmp = tmp_path(&prev);
            let _ = fs::remove_file(&prev_tmp);
            if fs::hard_link(&path, &prev_tmp).is_err() {
                fs::copy(&path, &prev_tmp).map_err(|e| StateError::io(&prev_tmp, e))?;
            }
            fs::rename(&prev_tmp, &prev).map_err(|e| StateError::io(&prev, e))?;
        }
        write_atomic(&path, &bytes, &self.dir)?;

        // The snapshot now holds everything the journal had.
        let journal = self.path(JOURNAL_FILE);
        if journal.exists() {
            let file =
                OpenOptions::new().write(true).open(&journal).map_err(|e| StateError::io(&journal, e))?;
            file.set_len(0).and_then(|()| file.sync_all()).map_err(|e| StateError::io(&journal, e))?;
        }
        progress.serial = serial;
        progress.lineage = Some(state.lineage.clone());
        Ok(serial)
    }

    async fn write_component(
        &self,
        key: &str,
        component: Option<&ComponentState>,
        guard: &LockGuard,
    ) -> Result<u64, StateError> {
        let mut progress = guard.progress.lock().await;
        self.check_still_locked(guard)?;
        let serial = progress.serial + 1;
        let entry = JournalEntry {
            version: crate::STATE_VERSION,
            serial,
            key: key.to_string(),
            component: component.cloned(),
        };
        let path = self.path(JOURNAL_FILE);
        let mut line = serde_json::to_vec(&entry)
            .map_err(|source| StateError::Encode { location: path.display().to_string(), source })?;
        line.push(b'\n');
        let new_file = !path.exists();
        let mut file =
            OpenOptions::new().create(true).append(true).open(&path).map_err(|e| StateError::io(&path, e))?;
        // One write call for the whole line: a crash leaves at most a torn
        // last line, which read ignores and the next lock trims. The line is
        // fsynced only when the component ran effects (or left): a killed
        // process loses no written line, and after a power loss the next run
        // re-applies objects, which is idempotent, but must know which
        // effects ran. An fsync per component made applying 1,000 apps
        // wait on the disk 1,000 times in a row.
        let durable = component.is_none_or(|c| !c.effects.is_empty());
        file.write_all(&line)
            .and_then(|()| if durable { file.sync_data() } else { Ok(()) })
            .map_err(|e| StateError::io(&path, e))?;
        if new_file {
            sync_dir(&self.dir)?;
        }
        progress.serial = serial;
        Ok(serial)
    }

    async fn unlock(&self, guard: LockGuard) -> Result<(), StateError> {
        guard.check_location(&self.location())?;
        drop(guard); // removes the lock file if it is still ours
        Ok(())
    }

    async fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        match self.read_lock()? {
            Some(info) if info.id == lock_id => {
                let path = self.path(LOCK_FILE);
                fs::remove_file(&path).map_err(|e| StateError::io(&path, e))
            }
            current => Err(StateError::LockNotFound {
                location: self.location(),
                id: lock_id.to_string(),
                current: current.map(Box::new),
            }),
        }
    }
}
