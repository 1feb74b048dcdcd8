//! The render directory as an apply target, one component at a time — the
//! shape of the planner's `ObjectTarget` seam, where independent components
//! are applied in parallel as they become ready.
//!
//! Each call touches only that component's directory, with the marker and
//! the env → namespace → component tree kept in memory: applying 1,000
//! components costs 1,000 small updates, not 1,000 passes over the whole tree.
//! The kustomizations above the components (namespace and environment) and
//! the marker file are written by [`RenderTarget::flush`] (and on drop), once
//! per directory and run, not on every call: a namespace of 1,000 components
//! would otherwise have its kustomization rewritten 1,000 times, each longer.
//! Between the first call and the flush a `.capstan-kustomize-pending` file
//! says the kustomizations may be behind; a run killed in between leaves it,
//! and the next one ([`RenderTarget::needs_repair`]) writes them all.
//! Rendered files carry capstan's header line, so a marker left behind by a
//! crash never blocks the next render; at worst a component that left the
//! plan in the same crashed run keeps its files until removed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use capstan_core::ComponentId;
use serde_json::Value;

use crate::layout::{MARKER_FILE, file_name_for, is_secret, object_file_name, segment};
use crate::record::Record;
use crate::secrets::{Delivery, SecretsPolicy};
use crate::tree::{
    Content, Desired, KUSTOMIZATION, component_files, io, kustomization, object_text, read_marker,
    remove_empty_parents, scan_owned, starts_as_capstan_writes, sync_sops_config, write_if_changed,
    write_marker, written_by_capstan,
};
use crate::{RenderError, RenderReport, RenderedComponent};

/// An output directory that components are rendered into one by one.
pub struct RenderTarget {
    out_dir: PathBuf,
    secrets: SecretsPolicy,
    /// What it wrote, so a plan need not read files back (see
    /// [`RenderTarget::with_record`]).
    record: Option<Record>,
    /// Loaded on first use; calls are serialised on it.
    inner: Mutex<Option<Loaded>>,
}

struct Loaded {
    /// The marker's file list.
    files: BTreeSet<String>,
    /// env → namespace → components that have files.
    tree: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// The marker file is behind `files`.
    dirty: bool,
    /// Directories (`env` or `env/namespace`) whose kustomization is behind
    /// the tree, written by the next flush.
    behind: BTreeSet<String>,
    /// A run that stopped before its flush left every kustomization
    /// possibly behind (its pending file was there when this one loaded).
    left_behind: bool,
}

/// Present while kustomizations may be behind the components' files.
const PENDING_FILE: &str = ".capstan-kustomize-pending";

impl RenderTarget {
    /// A target writing under `out_dir`, each environment's Secrets as
    /// `secrets` says.
    pub fn new(out_dir: impl Into<PathBuf>, secrets: SecretsPolicy) -> Self {
        Self { out_dir: out_dir.into(), secrets, record: None, inner: Mutex::new(None) }
    }

    /// The same target, keeping a record of the files it writes in the file
    /// at `path` (beside the state, not in the output directory): a file
    /// whose size, mode, time and inode are as recorded, and whose recorded
    /// digest is that of the bytes a plan wants, is known unchanged without
    /// being read ([`RenderTarget::holds`]). Files holding a Secret are
    /// never recorded.
    pub fn with_record(mut self, path: impl Into<PathBuf>) -> Self {
        self.record = Some(Record::new(path.into()));
        self
    }

    /// Whether component `id`'s file of `desired` (a normalised object)
    /// holds exactly what it would be written as, known from the record
    /// without reading it; false when the record cannot tell (no record, a
    /// Secret, a file touched since), and the object is to be read with
    /// [`RenderTarget::current`].
    pub fn holds(&self, id: &ComponentId, desired: &Value) -> bool {
        let Some(record) = &self.record else { return false };
        if is_secret(desired) {
            return false;
        }
        let (Ok(prefix), Some(file)) = (component_prefix(id), object_file_name(desired)) else {
            return false;
        };
        let rel = format!("{prefix}{file}");
        let text = object_text(prefix.trim_end_matches('/'), desired);
        record.untouched(&rel, &self.out_dir.join(&rel), text.as_bytes())
    }

    /// Writes the kustomizations of the directories whose components
    /// changed since the last flush (all of them after a run that stopped
    /// before its flush), then the marker if it is behind.
    pub fn flush(&self) -> Result<(), RenderError> {
        self.write_behind(true)
    }

    /// [`RenderTarget::flush`]; a repair of what another run left behind
    /// only when `repair` (a plan drops its target without writing).
    fn write_behind(&self, repair: bool) -> Result<(), RenderError> {
        let mut guard = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let wrote = guard.as_ref().is_some_and(|l| !l.behind.is_empty());
        if guard.is_none() && !(repair && self.needs_repair()) {
            return Ok(());
        }
        let loaded = self.loaded(&mut guard)?;
        let repair = loaded.left_behind && (repair || wrote);
        if repair {
            loaded.left_behind = false;
            for (env, namespaces) in &loaded.tree {
                loaded.behind.insert(env.clone());
                loaded.behind.extend(namespaces.keys().map(|ns| format!("{env}/{ns}")));
            }
        }
        let mut report = RenderReport::default();
        for dir in std::mem::take(&mut loaded.behind) {
            let entries: BTreeSet<String> = match dir.split_once('/') {
                Some((env, ns)) => loaded.tree.get(env).and_then(|n| n.get(ns)).cloned().unwrap_or_default(),
                None => loaded.tree.get(&dir).map(|n| n.keys().cloned().collect()).unwrap_or_default(),
            };
            loaded.dirty |= self.sync_kustomization(&mut loaded.files, &dir, &entries, &mut report)?;
        }
        if loaded.dirty {
            write_marker(&self.out_dir.join(MARKER_FILE), &loaded.files, true)?;
            loaded.dirty = false;
        }
        if let Some(record) = &self.record {
            record.save();
        }
        if !wrote && !repair {
            return Ok(());
        }
        let pending = self.out_dir.join(PENDING_FILE);
        match fs::remove_file(&pending) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&pending, e)),
        }
    }

    /// Whether a run stopped after writing components and before writing
    /// the kustomizations above them: the next flush writes them all.
    pub fn needs_repair(&self) -> bool {
        self.out_dir.join(PENDING_FILE).exists()
    }

    /// Makes the component's directory hold exactly `component.objects`
    /// (files of objects that left are removed) and updates the
    /// kustomizations above it.
    pub fn apply_component(&self, component: &RenderedComponent) -> Result<RenderReport, RenderError> {
        let files = component_files(component, &self.secrets)?;
        self.replace(&component.id, files)
    }

    /// Removes everything the component had (`destroy`).
    pub fn remove_component(&self, id: &ComponentId) -> Result<RenderReport, RenderError> {
        self.replace(id, BTreeMap::new())
    }

    /// The directory component `id`'s files are written to.
    pub fn component_dir(&self, id: &ComponentId) -> PathBuf {
        self.out_dir.join(&id.environment).join(&id.namespace).join(&id.name)
    }

    /// The files Capstan rendered for component `id`, as they are on disk:
    /// what [`RenderTarget::move_in`] writes under another component when
    /// the component moved in the tree (`capstan state mv`).
    pub fn component_files(&self, id: &ComponentId) -> Result<ComponentFiles, RenderError> {
        let prefix = component_prefix(id)?;
        let mut guard = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let loaded = self.loaded(&mut guard)?;
        let mut files = BTreeMap::new();
        for rel in under(&loaded.files, &prefix) {
            let path = self.out_dir.join(rel);
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                // Listed, but removed by hand since: nothing to move.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&path, e)),
            };
            files.insert(rel[prefix.len()..].to_string(), (bytes, file_mode(&path)?));
        }
        Ok(ComponentFiles { files })
    }

    /// Writes `files` (another component's, from [`RenderTarget::component_files`])
    /// as component `id`'s, byte for byte and with their modes: a Secret
    /// sealed by SOPS stays sealed, and every object keeps its file, so the
    /// next plan finds them where the component now is. Refused when `id`
    /// already has files: they would be lost.
    pub fn move_in(&self, id: &ComponentId, files: ComponentFiles) -> Result<RenderReport, RenderError> {
        let prefix = component_prefix(id)?;
        let mut guard = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let loaded = self.loaded(&mut guard)?;
        if under(&loaded.files, &prefix).next().is_some() {
            return Err(RenderError::Occupied { dir: self.component_dir(id) });
        }
        let files = files
            .files
            .into_iter()
            .map(|(name, (bytes, mode))| {
                (format!("{prefix}{name}"), Desired { content: Content::Text(bytes), mode })
            })
            .collect();
        self.replace_in(loaded, id, files)
    }

    /// The object of `kind` and `name` as the component's directory holds it
    /// now, if capstan wrote it there; a Secret written by SOPS comes back
    /// decrypted, so a plan compares values, not ciphertexts.
    pub fn current(&self, id: &ComponentId, kind: &str, name: &str) -> Result<Option<Value>, RenderError> {
        if kind == "Secret"
            && let Some(Delivery::External(store)) = self.secrets.get(&id.environment).map(AsRef::as_ref)
        {
            return self.current_external(id, name, store);
        }
        let path = self.file_of(id, kind, name);
        let Some((text, object)) = read_owned(&path)? else { return Ok(None) };
        if object.get("sops").is_none() {
            return Ok(Some(object));
        }
        match self.secrets.get(&id.environment).map(AsRef::as_ref) {
            Some(Delivery::Sops(keys)) => capstan_sops::decrypt(text.as_bytes(), &keys.identities)
                .map(|opened| Some(opened.manifest.into_exposed()))
                .map_err(|source| RenderError::Sops { path, source }),
            // Written by SOPS, now delivered otherwise: it differs.
            _ => Ok(Some(object)),
        }
    }

    /// The Secret `name` delivered through an `ExternalSecret`: its file
    /// and the values the store holds under its key.
    fn current_external(
        &self,
        id: &ComponentId,
        name: &str,
        store: &crate::ExternalStore,
    ) -> Result<Option<Value>, RenderError> {
        let path = self.file_of(id, crate::external::KIND, name);
        let Some((_, external)) = read_owned(&path)? else { return Ok(None) };
        let Some(key) = external.pointer("/spec/data/0/remoteRef/key").and_then(Value::as_str) else {
            return Ok(Some(crate::external::secret_from(&external, None)));
        };
        let values = store.store.read(key).map_err(|why| RenderError::Store {
            path: path.clone(),
            key: key.to_owned(),
            why,
        })?;
        Ok(Some(crate::external::secret_from(&external, values)))
    }

    /// Where the object of `kind` and `name` of component `id` is written.
    fn file_of(&self, id: &ComponentId, kind: &str, name: &str) -> PathBuf {
        self.component_dir(id).join(file_name_for(kind, name))
    }

    fn replace(
        &self,
        id: &ComponentId,
        files: BTreeMap<String, Desired>,
    ) -> Result<RenderReport, RenderError> {
        let mut guard = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let loaded = self.loaded(&mut guard)?;
        self.replace_in(loaded, id, files)
    }

    /// The marker and the tree, read on first use.
    fn loaded<'g>(&self, guard: &'g mut Option<Loaded>) -> Result<&'g mut Loaded, RenderError> {
        if let Some(loaded) = guard {
            return Ok(loaded);
        }
        fs::create_dir_all(&self.out_dir).map_err(|e| io(&self.out_dir, e))?;
        sync_sops_config(&self.out_dir, &self.secrets)?;
        // The marker, completed by what the directory holds: a marker
        // left behind by a crash must not make us forget a component.
        let mut files = read_marker(&self.out_dir.join(MARKER_FILE))?;
        let before = files.len();
        scan_owned(&self.out_dir, &mut files);
        let dirty = files.len() != before;
        let mut tree: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for f in &files {
            if let [e, n, c, _file] = f.split('/').collect::<Vec<_>>().as_slice() {
                tree.entry((*e).to_string())
                    .or_default()
                    .entry((*n).to_string())
                    .or_default()
                    .insert((*c).to_string());
            }
        }
        let left_behind = self.needs_repair();
        Ok(guard.insert(Loaded { files, tree, dirty, behind: BTreeSet::new(), left_behind }))
    }

    /// Makes component `id`'s directory hold exactly `files` (paths relative
    /// to the output directory) and updates the kustomizations above it.
    fn replace_in(
        &self,
        loaded: &mut Loaded,
        id: &ComponentId,
        files: BTreeMap<String, Desired>,
    ) -> Result<RenderReport, RenderError> {
        let label = id.to_string();
        let env = segment(&label, "environment", &id.environment)?;
        let ns = segment(&label, "namespace", &id.namespace)?;
        let name = segment(&label, "component name", &id.name)?;
        let marker = &mut loaded.files;
        let prefix = format!("{env}/{ns}/{name}/");
        let old: Vec<String> = under(marker, &prefix).map(str::to_string).collect();

        for rel in files.keys() {
            let path = self.out_dir.join(rel);
            if !marker.contains(rel) && path.symlink_metadata().is_ok() && !written_by_capstan(&path) {
                return Err(RenderError::WouldOverwrite { path });
            }
        }

        if loaded.behind.is_empty() {
            // Said before any file changes; the flush takes it away.
            let pending = self.out_dir.join(PENDING_FILE);
            fs::write(&pending, b"").map_err(|e| io(&pending, e))?;
        }
        loaded.behind.insert(env.to_string());
        loaded.behind.insert(format!("{env}/{ns}"));

        let mut report = RenderReport::default();
        for (rel, file) in &files {
            write_if_changed(&self.out_dir, rel, file, self.record.as_ref(), &mut report)?;
            loaded.dirty |= marker.insert(rel.clone());
        }
        for rel in old.iter().filter(|r| !files.contains_key(*r)) {
            self.remove(rel, &mut report)?;
            marker.remove(rel);
            loaded.dirty = true;
        }

        // The namespace lists its component dirs, the environment its namespaces.
        let namespaces = loaded.tree.entry(env.to_string()).or_default();
        let components = namespaces.entry(ns.to_string()).or_default();
        if files.is_empty() {
            components.remove(name);
        } else {
            components.insert(name.to_string());
        }
        if components.is_empty() {
            namespaces.remove(ns);
        }

        report.written.sort();
        report.removed.sort();
        report.unchanged.sort();
        Ok(report)
    }

    /// Writes (or removes, when `entries` is empty) `<dir>/kustomization.yaml`.
    fn sync_kustomization(
        &self,
        marker: &mut BTreeSet<String>,
        dir: &str,
        entries: &BTreeSet<String>,
        report: &mut RenderReport,
    ) -> Result<bool, RenderError> {
        let rel = format!("{dir}/{KUSTOMIZATION}");
        if entries.is_empty() {
            let listed = marker.remove(&rel);
            if listed {
                self.remove(&rel, report)?;
            }
            return Ok(listed);
        }
        let path = self.out_dir.join(&rel);
        if !marker.contains(&rel) && path.symlink_metadata().is_ok() && !written_by_capstan(&path) {
            return Err(RenderError::WouldOverwrite { path });
        }
        write_if_changed(&self.out_dir, &rel, &kustomization(entries)?, self.record.as_ref(), report)?;
        Ok(marker.insert(rel))
    }

    fn remove(&self, rel: &str, report: &mut RenderReport) -> Result<(), RenderError> {
        if let Some(record) = &self.record {
            record.forget(rel);
        }
        let path = self.out_dir.join(rel);
        match fs::remove_file(&path) {
            Ok(()) => report.removed.push(PathBuf::from(rel)),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path, e)),
        }
        remove_empty_parents(&self.out_dir, &path);
        Ok(())
    }
}

/// The text and object of a file Capstan wrote; `None` when there is no
/// file or it is not Capstan's.
fn read_owned(path: &Path) -> Result<Option<(String, Value)>, RenderError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(RenderError::Io { path: path.to_path_buf(), source }),
    };
    // Checked on the text read, not by opening the file again.
    if !starts_as_capstan_writes(text.as_bytes()) {
        return Ok(None);
    }
    let object = serde_norway::from_str(&text)
        .map_err(|e| RenderError::Unreadable { path: path.to_path_buf(), why: e.to_string() })?;
    Ok(Some((text, object)))
}

/// Marker entries starting with `prefix`, found by range, not by scanning.
fn under<'a>(marker: &'a BTreeSet<String>, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    marker.range(prefix.to_string()..).map(String::as_str).take_while(move |f| f.starts_with(prefix))
}

/// `<env>/<namespace>/<name>/`: where component `id`'s files are, relative
/// to the output directory (each part checked to be one plain segment).
fn component_prefix(id: &ComponentId) -> Result<String, RenderError> {
    let label = id.to_string();
    let env = segment(&label, "environment", &id.environment)?;
    let ns = segment(&label, "namespace", &id.namespace)?;
    let name = segment(&label, "component name", &id.name)?;
    Ok(format!("{env}/{ns}/{name}/"))
}

/// The permission bits of a file, kept when it moves (a Secret in clear is 0600).
fn file_mode(path: &Path) -> Result<u32, RenderError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(fs::metadata(path).map_err(|e| io(path, e))?.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(0o644)
    }
}

/// One component's rendered files, read to be written under another
/// component ([`RenderTarget::component_files`], [`RenderTarget::move_in`]).
#[derive(Debug, Default)]
pub struct ComponentFiles {
    /// By path inside the component's directory: the bytes and the mode.
    files: BTreeMap<String, (Vec<u8>, u32)>,
}

impl ComponentFiles {
    /// How many files there are.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the component had no files at all.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl Drop for RenderTarget {
    fn drop(&mut self) {
        if let Err(e) = self.write_behind(false) {
            // Nothing to return to; the header lines keep the tree usable.
            tracing::warn!(error = %e, "could not write the render marker");
        }
    }
}
