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
//! - `state.lock`: the lock. The run that holds it keeps the file open with
//!   an exclusive operating-system lock on it (`flock` on Unix, `LockFileEx`
//!   on Windows) and writes its [`LockInfo`] inside, for messages and
//!   `capstan state list`. The OS lock is what counts: a process that dies,
//!   even by `kill -9`, lets go of it at once, so there is no stale lock to
//!   detect or take over. The file is never removed (removing it could
//!   remove a file another run has just opened to lock); releasing clears the
//!   record while still holding the lock, so it never touches another
//!   holder's record either.
//! - `state.key`: the [`StateKey`], mode 0600, listed in `.capstan/.gitignore`.
//!
//! File I/O here is blocking and small; it runs inline on the caller's task.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::lock::{GuardKind, LockRelease, Progress};
use crate::{
    ComponentState, LockGuard, LockInfo, Revision, RevisionHead, State, StateBackend, StateError, StateKey,
};

const STATE_FILE: &str = "state.json";
const PREV_FILE: &str = "state.json.prev";
const JOURNAL_FILE: &str = "state.journal";
const LOCK_FILE: &str = "state.lock";
const KEY_FILE: &str = "state.key";
const TMP_MARK: &str = ".tmp-";
/// One directory per environment below it, one `<number>.json` per revision.
const REVISIONS_DIR: &str = "revisions";
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

    /// The snapshot file, `<dir>/state.json`; also the backend's location in messages.
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

    /// Opens `state.lock`, creating it if needed (never truncating: another
    /// run's record may be in it).
    fn open_lock_file(&self) -> Result<File, StateError> {
        let path = self.path(LOCK_FILE);
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StateError::io(&path, e))
    }

    /// Takes the OS lock on `state.lock` if no one holds it, without a record yet.
    fn try_take_unrecorded(&self) -> Result<Option<HeldLock>, StateError> {
        let path = self.path(LOCK_FILE);
        let file = self.open_lock_file()?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(StateError::io(&path, e)),
        }
        let held = HeldLock { file, path };
        // The file was removed (by hand) between our open and our lock, and
        // another run may lock the new one: ours locks nothing. Try again.
        Ok(held.still_in_place().then_some(held))
    }

    /// Takes the lock if no one holds it, and records `holder` in it.
    fn try_take(&self, holder: &LockInfo) -> Result<Option<HeldLock>, StateError> {
        let Some(held) = self.try_take_unrecorded()? else { return Ok(None) };
        held.record(holder)?;
        Ok(Some(held))
    }

    /// `revisions/<environment>`, refusing a name that is not one path segment.
    fn revisions_dir(&self, environment: &str) -> Result<PathBuf, StateError> {
        if environment.is_empty() || environment.contains(['/', '\\']) || environment.starts_with('.') {
            return Err(StateError::InvalidConfig { what: format!("environment name {environment:?}") });
        }
        Ok(self.path(REVISIONS_DIR).join(environment))
    }

    /// The revision numbers kept for `environment`, ascending.
    fn revision_numbers(&self, environment: &str) -> Result<Vec<u64>, StateError> {
        let dir = self.revisions_dir(environment)?;
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StateError::io(&dir, e)),
        };
        let mut numbers: Vec<u64> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
            .collect();
        numbers.sort_unstable();
        Ok(numbers)
    }

    fn revision_path(&self, environment: &str, number: u64) -> Result<PathBuf, StateError> {
        Ok(self.revisions_dir(environment)?.join(format!("{number:06}.json")))
    }

    /// Whether someone holds the lock, and what the file records.
    fn probe(&self) -> Result<Probe, StateError> {
        let path = self.path(LOCK_FILE);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Probe::Free { left: None }),
            Err(e) => return Err(StateError::io(&path, e)),
        };
        // A shared lock is granted only when no run holds the exclusive one.
        // Holding it for this read makes a run that tries to lock right now
        // wait one poll interval, nothing worse.
        let free = match file.try_lock_shared() {
            Ok(()) => true,
            Err(TryLockError::WouldBlock) => false,
            Err(TryLockError::Error(e)) => return Err(StateError::io(&path, e)),
        };
        if free {
            // A record in a free lock file was left by a run that died.
            return Ok(Probe::Free { left: read_record(&file, &path).ok().flatten() });
        }
        // The holder writes its record right after locking and clears it
        // right before letting go: an empty or half-written record is one of
        // those two instants, so look again briefly.
        for _ in 0..RECORD_RETRIES {
            if let Ok(Some(info)) = read_record(&file, &path) {
                return Ok(Probe::Held(Some(info)));
            }
            std::thread::sleep(RECORD_RETRY_PAUSE);
        }
        Ok(Probe::Held(None))
    }

    fn check_still_locked(&self, guard: &LockGuard) -> Result<(), StateError> {
        guard.check_location(&self.location())?;
        match &guard.kind {
            GuardKind::Local(held) if held.still_in_place() => Ok(()),
            _ => Err(StateError::LockLost { location: self.location(), id: guard.info.id.clone() }),
        }
    }
}

/// What `state.lock` says right now.
enum Probe {
    /// A run holds the lock; its record, if it could be read.
    Held(Option<LockInfo>),
    /// No one holds it; `left` is the record of a run that died holding it.
    Free { left: Option<LockInfo> },
}

/// How often, and how long apart, a reader looks again at a holder's record
/// that is being written or cleared (each takes microseconds).
const RECORD_RETRIES: u32 = 20;
const RECORD_RETRY_PAUSE: Duration = Duration::from_millis(10);

/// The record in a lock file; `None` when it is empty.
fn read_record(mut file: &File, path: &Path) -> Result<Option<LockInfo>, StateError> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut text))
        .map_err(|e| StateError::io(path, e))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| StateError::Parse { location: path.display().to_string(), source })
}

/// `state.lock`, open and OS-locked for as long as the guard that owns it lives.
pub(crate) struct HeldLock {
    file: File,
    path: PathBuf,
}

impl HeldLock {
    /// Writes who holds the lock. Not fsynced: the record only informs, and
    /// after a power loss no one holds the lock anyway.
    fn record(&self, holder: &LockInfo) -> Result<(), StateError> {
        let text = serde_json::to_vec_pretty(holder)
            .map_err(|source| StateError::Encode { location: self.path.display().to_string(), source })?;
        let mut file = &self.file;
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(&text))
            .map_err(|e| StateError::io(&self.path, e))
    }

    /// Whether `state.lock` on disk is still the file this run locked. Were it
    /// removed by hand, another run could lock a new file at the same path;
    /// then this run must stop writing.
    fn still_in_place(&self) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match (self.file.metadata(), fs::metadata(&self.path)) {
                (Ok(ours), Ok(there)) => ours.dev() == there.dev() && ours.ino() == there.ino(),
                _ => false,
            }
        }
        #[cfg(not(unix))]
        {
            // Windows does not let an open file be removed.
            self.path.exists()
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        // Still under the lock: clear our own record, so no one reads a holder
        // that is gone; then closing the file releases the OS lock. Best
        // effort: a record left behind in a free lock file misleads no one,
        // as readers check the OS lock first.
        let _ = self.file.set_len(0);
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
        let mut looked_again = false;
        let held = loop {
            if let Some(held) = self.try_take(holder)? {
                break held;
            }
            if start.elapsed() >= timeout {
                let holder = match self.probe()? {
                    Probe::Held(info) => info,
                    // What kept us out let go just now (or was only a reader
                    // probing the lock, as `state list` does): one more try.
                    Probe::Free { .. } if !looked_again => {
                        looked_again = true;
                        continue;
                    }
                    Probe::Free { .. } => None,
                };
                return Err(StateError::Locked {
                    location: self.location(),
                    holder: holder.map(Box::new),
                    waited: start.elapsed(),
                    release: LockRelease::WhenProcessEnds,
                });
            }
            tokio::time::sleep(LOCK_POLL.min(timeout.saturating_sub(start.elapsed()))).await;
        };
        let guard = LockGuard {
            info: holder.clone(),
            location: self.location(),
            progress: tokio::sync::Mutex::new(Progress { serial: 0, lineage: None }),
            kind: GuardKind::Local(held),
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

    async fn record_revision(
        &self,
        revision: &mut Revision,
        keep: usize,
        guard: &LockGuard,
    ) -> Result<u64, StateError> {
        self.check_still_locked(guard)?;
        let environment = revision.head.environment.clone();
        let dir = self.revisions_dir(&environment)?;
        fs::create_dir_all(&dir).map_err(|e| StateError::io(&dir, e))?;
        let numbers = self.revision_numbers(&environment)?;
        let number = numbers.last().map_or(1, |n| n + 1);
        revision.head.number = number;
        let path = self.revision_path(&environment, number)?;
        let mut bytes = serde_json::to_vec_pretty(revision)
            .map_err(|source| StateError::Encode { location: path.display().to_string(), source })?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes, &dir)?;
        // The oldest go once more than `keep` are stored, the new one included.
        let excess = (numbers.len() + 1).saturating_sub(keep.max(1));
        for old in numbers.iter().take(excess) {
            let old = self.revision_path(&environment, *old)?;
            fs::remove_file(&old).map_err(|e| StateError::io(&old, e))?;
        }
        Ok(number)
    }

    async fn revision_heads(&self) -> Result<Vec<RevisionHead>, StateError> {
        let root = self.path(REVISIONS_DIR);
        let entries = match fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StateError::io(&root, e)),
        };
        let mut environments: Vec<String> =
            entries.filter_map(Result::ok).filter_map(|e| e.file_name().into_string().ok()).collect();
        environments.sort();
        let mut heads = Vec::new();
        for environment in environments.iter().filter(|e| !e.starts_with('.')) {
            for number in self.revision_numbers(environment)? {
                let path = self.revision_path(environment, number)?;
                let text = fs::read_to_string(&path).map_err(|e| StateError::io(&path, e))?;
                heads.push(RevisionHead::from_json(&text, &path.display().to_string())?);
            }
        }
        Ok(heads)
    }

    async fn latest_revision(&self, environment: &str) -> Result<Option<Revision>, StateError> {
        match self.revision_numbers(environment)?.last() {
            Some(&number) => self.revision(environment, number).await,
            None => Ok(None),
        }
    }

    async fn revision(&self, environment: &str, number: u64) -> Result<Option<Revision>, StateError> {
        let path = self.revision_path(environment, number)?;
        match fs::read_to_string(&path) {
            Ok(text) => Revision::from_json(&text, &path.display().to_string()).map(Some),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::io(&path, e)),
        }
    }

    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        match self.probe()? {
            Probe::Held(Some(info)) => Ok(Some(info)),
            Probe::Held(None) => Err(StateError::LockUnrecorded { location: self.location() }),
            Probe::Free { .. } => Ok(None),
        }
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
        drop(guard); // clears our record, then the OS lock goes with the file
        Ok(())
    }

    /// A local lock cannot be taken from a live process, and needs no taking
    /// from a dead one: the OS released it when the process ended. So this
    /// refuses a lock that is held (naming the process to stop), and for a
    /// record a dead run left behind, only clears that record.
    async fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        match self.probe()? {
            Probe::Held(Some(info)) if info.id == lock_id => {
                Err(StateError::LockAlive { location: self.location(), holder: Box::new(info) })
            }
            Probe::Free { left: Some(info) } if info.id == lock_id => {
                // Cleared under the lock, so a run locking at this moment keeps its record.
                drop(self.try_take_unrecorded()?);
                Ok(())
            }
            Probe::Held(current) => Err(StateError::LockNotFound {
                location: self.location(),
                id: lock_id.to_string(),
                current: current.map(Box::new),
            }),
            Probe::Free { .. } => Err(StateError::LockNotFound {
                location: self.location(),
                id: lock_id.to_string(),
                current: None,
            }),
        }
    }
}
