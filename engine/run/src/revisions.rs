//! Revisions: after an apply that changed an environment, a snapshot of it
//! is kept in the state backend ([`capstan_state::Revision`]); `history`
//! lists them and a rollback goes back to one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use capstan_plan::ComponentPlanned;
use capstan_state::{
    LockGuard, Revision, RevisionComponent, RevisionHead, State, StateBackend as _, StateKey,
    redact_secret_values,
};

use crate::RunError;
use crate::session::Session;

/// What an apply keeps for its revisions while it runs: each component's
/// objects as applied (Secret values keyed-hashed) and effect summaries,
/// and which components it changed.
#[derive(Default)]
pub(crate) struct RunRecord {
    components: Mutex<BTreeMap<String, Kept>>,
    changed: Mutex<BTreeSet<String>>,
}

struct Kept {
    objects: Vec<Value>,
    effects: BTreeMap<String, String>,
}

impl RunRecord {
    /// Keeps `planned`'s objects (`applied`, when it was applied, else as
    /// planned) for the revision; `changed` when the apply changed it.
    pub(crate) fn keep(
        &self,
        key: &StateKey,
        planned: &ComponentPlanned,
        applied: Option<&[Value]>,
        changed: bool,
    ) {
        let effects = planned.effects.iter().map(|e| (e.id.clone(), e.summary.clone())).collect();
        match applied {
            Some(objects) => self.keep_objects(key, &planned.key, objects, effects, changed),
            None => self.keep_objects(key, &planned.key, &planned.desired_objects(), effects, changed),
        }
    }

    /// Keeps `objects` (Secret values keyed-hashed here) and effect
    /// summaries for component `component`.
    pub(crate) fn keep_objects(
        &self,
        key: &StateKey,
        component: &str,
        objects: &[Value],
        effects: BTreeMap<String, String>,
        changed: bool,
    ) {
        let objects = objects.iter().map(|o| redact_secret_values(key, o)).collect();
        lock(&self.components).insert(component.to_string(), Kept { objects, effects });
        if changed {
            lock(&self.changed).insert(component.to_string());
        }
    }

    /// Marks a component removed from the tree as changed.
    pub(crate) fn removed(&self, key: &str) {
        lock(&self.changed).insert(key.to_string());
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a revision says what made it.
pub(crate) struct Made<'a> {
    /// `apply`, or `rollback to 3`.
    pub operation: String,
    pub plan_digest: String,
    pub guard: &'a LockGuard,
    pub removed: &'a [String],
}

impl Session {
    /// Records a revision of each environment `record` changed, from
    /// `recorded`, the state after the run. Objects of a component the run
    /// did not plan come from the environment's previous revision when its
    /// record there is the same.
    pub(crate) fn record_revisions(
        &self,
        recorded: &State,
        record: RunRecord,
        made: Made<'_>,
    ) -> Result<Vec<(String, u64)>, RunError> {
        let changed = record.changed.into_inner().unwrap_or_else(PoisonError::into_inner);
        let mut kept = record.components.into_inner().unwrap_or_else(PoisonError::into_inner);
        let environments: BTreeSet<String> =
            changed.iter().filter_map(|k| environment_of(k)).map(str::to_string).collect();
        let tree_digest = tree_digest(&self.stack().root);
        let git_commit = git_commit(&self.stack().root);
        let mut numbers = Vec::new();
        for environment in environments {
            let previous =
                self.block_on(self.backend().latest_revision(&environment)).map_err(RunError::State)?;
            let mut components = BTreeMap::new();
            for (key, state) in
                recorded.components.iter().filter(|(k, _)| environment_of(k) == Some(&environment))
            {
                let (objects, effects) = match kept.remove(key) {
                    Some(k) => (Some(k.objects), k.effects),
                    None => match previous.as_ref().and_then(|p| p.components.get(key)) {
                        Some(was) if was.state.objects == state.objects => {
                            (was.objects.clone(), was.effects.clone())
                        }
                        _ => (None, BTreeMap::new()),
                    },
                };
                components.insert(key.clone(), RevisionComponent { state: state.clone(), objects, effects });
            }
            let mut revision = Revision {
                head: RevisionHead {
                    version: capstan_state::REVISION_VERSION,
                    environment: environment.clone(),
                    number: 0,
                    at: capstan_state::now_rfc3339(),
                    by: format!("{} on {}", made.guard.info().holder, made.guard.info().host),
                    operation: made.operation.clone(),
                    plan_digest: made.plan_digest.clone(),
                    tree_digest: tree_digest.clone(),
                    git_commit: git_commit.clone(),
                    changed: changed
                        .iter()
                        .filter(|k| environment_of(k) == Some(&environment))
                        .cloned()
                        .collect(),
                    removed: made
                        .removed
                        .iter()
                        .filter(|k| environment_of(k) == Some(&environment))
                        .cloned()
                        .collect(),
                },
                components,
            };
            let keep = self.stack().client.revisions_kept.unwrap_or(capstan_state::DEFAULT_REVISIONS_KEPT);
            let number = self
                .block_on(self.backend().record_revision(&mut revision, keep, made.guard))
                .map_err(RunError::State)?;
            numbers.push((environment, number));
        }
        Ok(numbers)
    }

    /// Revision `number` of `environment`.
    pub fn revision(&self, environment: &str, number: u64) -> Result<Revision, RunError> {
        self.block_on(self.backend().revision(environment, number))
            .map_err(RunError::State)?
            .ok_or_else(|| RunError::NoSuchRevision { environment: environment.to_string(), number })
    }
}

/// The environments a command started in `dir` is about: all of them from
/// the stack root, else the one `dir` is in.
pub fn environments_in_scope(stack: &capstan_config::Stack, dir: &Path) -> Result<Vec<String>, RunError> {
    let dir = std::path::absolute(dir)?;
    let scope = dir.strip_prefix(&stack.root).map(Path::to_path_buf).unwrap_or_default();
    Ok(stack
        .environments
        .keys()
        .filter(|e| {
            let env_dir = Path::new("envs").join(e);
            env_dir.starts_with(&scope) || scope.starts_with(&env_dir)
        })
        .cloned()
        .collect())
}

/// A revision as the operator names it: `<environment>/<number>`, or the
/// number alone when `environments` (the command's scope) is one.
pub fn parse_revision(text: &str, environments: &[String]) -> Result<(String, u64), RunError> {
    let (environment, number) = match text.rsplit_once('/') {
        Some((environment, number)) => (environment.to_string(), number),
        None => match environments {
            [only] => (only.clone(), text),
            [] => {
                return Err(RunError::WhichEnvironment { why: "this directory is in no environment".into() });
            }
            _ => {
                return Err(RunError::WhichEnvironment {
                    why: format!("this directory spans {} environments", environments.len()),
                });
            }
        },
    };
    let number = number.parse().map_err(|_| RunError::WhichEnvironment {
        why: format!("`{text}` is not a revision (a number, as capstan history lists them)"),
    })?;
    Ok((environment, number))
}

/// The environment of a component key (`envs/<env>/…`).
pub(crate) fn environment_of(key: &str) -> Option<&str> {
    let mut parts = key.split('/');
    (parts.next() == Some("envs")).then(|| parts.next()).flatten()
}

/// A digest of the stack's configuration: every `.hcl` file below the root
/// (hidden directories and the render output aside) and capstan.lock, by
/// relative path and content.
fn tree_digest(root: &Path) -> String {
    let mut files = Vec::new();
    collect_config_files(root, root, &mut files);
    files.sort();
    let mut h = Sha256::new();
    for relative in files {
        let Ok(bytes) = std::fs::read(root.join(&relative)) else { continue };
        h.update(relative.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(Sha256::digest(&bytes));
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

fn collect_config_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_config_files(root, &path, out),
            Ok(t) if t.is_file() && (name.ends_with(".hcl") || name == "capstan.lock") => {
                if let Ok(relative) = path.strip_prefix(root) {
                    out.push(relative.to_path_buf());
                }
            }
            _ => {}
        }
    }
}

/// The commit checked out in the Git work tree holding `root`, read from
/// `.git` without running git; `None` outside a work tree.
fn git_commit(root: &Path) -> Option<String> {
    let dot_git = root.ancestors().map(|d| d.join(".git")).find(|p| p.exists())?;
    let git_dir = if dot_git.is_file() {
        // A linked work tree or submodule: `gitdir: <path>`.
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let dir = PathBuf::from(text.strip_prefix("gitdir:")?.trim());
        if dir.is_absolute() { dir } else { dot_git.parent()?.join(dir) }
    } else {
        dot_git
    };
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref:").map(str::trim) else {
        return Some(head.to_string()); // detached
    };
    // A linked work tree keeps branch refs in the common directory.
    let common = std::fs::read_to_string(git_dir.join("commondir"))
        .ok()
        .map(|c| git_dir.join(c.trim()))
        .unwrap_or_else(|| git_dir.clone());
    for dir in [&git_dir, &common] {
        if let Ok(id) = std::fs::read_to_string(dir.join(reference)) {
            return Some(id.trim().to_string());
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|l| {
        let (id, name) = l.split_once(' ')?;
        (name == reference).then(|| id.to_string())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn a_revision_is_named_with_its_environment_or_by_number_inside_one() {
        let one = ["staging".to_string()];
        assert_eq!(parse_revision("3", &one).unwrap(), ("staging".into(), 3));
        assert_eq!(parse_revision("prod/7", &one).unwrap(), ("prod".into(), 7));
        let two = ["prod".to_string(), "staging".to_string()];
        let err = parse_revision("3", &two).unwrap_err().to_string();
        assert!(err.contains("spans 2 environments") && err.contains("staging/3"), "{err}");
        assert!(parse_revision("staging/x", &one).unwrap_err().to_string().contains("not a revision"));
    }

    #[test]
    fn the_environment_is_the_segment_after_envs() {
        assert_eq!(environment_of("envs/staging/core/api"), Some("staging"));
        assert_eq!(environment_of("other/staging"), None);
    }

    #[test]
    fn the_tree_digest_follows_hcl_files_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.hcl"), "a = 1\n").unwrap();
        std::fs::create_dir(dir.path().join(".capstan")).unwrap();
        let before = tree_digest(dir.path());
        std::fs::write(dir.path().join(".capstan/state.json"), "{}").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(tree_digest(dir.path()), before);
        std::fs::write(dir.path().join("client.hcl"), "a = 2\n").unwrap();
        assert_ne!(tree_digest(dir.path()), before);
    }

    #[test]
    fn the_commit_is_read_from_a_branch_ref_or_packed_refs() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(git.join("packed-refs"), "# pack-refs\nabc123 refs/heads/main\n").unwrap();
        std::fs::create_dir(dir.path().join("stack")).unwrap();
        assert_eq!(git_commit(&dir.path().join("stack")).as_deref(), Some("abc123"));
        std::fs::write(git.join("refs/heads/main"), "def456\n").unwrap();
        assert_eq!(git_commit(dir.path()).as_deref(), Some("def456"));
    }
}
