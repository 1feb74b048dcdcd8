//! Writing the whole output tree: desired files, what changed, what left.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use capstan_core::{ComponentId, Sensitive};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::RenderError;
use crate::external::{Externalised, externalise};
use crate::layout::{MARKER_FILE, SOPS_CONFIG, is_secret, object_file_name, segment};
use crate::record::Record;
use crate::secrets::{Delivery, SecretsPolicy, secret_files_of};
use crate::yaml::append_yaml;

pub(crate) const KUSTOMIZATION: &str = "kustomization.yaml";
/// First line of every file capstan writes: how a file is known to be ours
/// even when the marker does not list it (a marker lost or not yet written).
const OBJECT_HEADER: &str = "# Rendered by capstan from envs/";
const KUSTOMIZATION_HEADER: &str = "# Written by capstan; changes here are overwritten.\n";
const MARKER_VERSION: u32 = 1;

/// The objects one component planned.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedComponent {
    /// Which component; its environment, namespace and name become the
    /// directory `<env>/<namespace>/<name>/`.
    pub id: ComponentId,
    /// The planned Kubernetes objects as JSON, one file each.
    pub objects: Vec<Value>,
}

/// What a render did, as paths relative to the output directory, sorted.
/// Files of kept components (see [`render_keeping`]) are not listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderReport {
    /// Files created or rewritten because their bytes changed.
    pub written: Vec<PathBuf>,
    /// Files that already held the same bytes, left untouched.
    pub unchanged: Vec<PathBuf>,
    /// Capstan's files deleted because they left the plan.
    pub removed: Vec<PathBuf>,
}

impl RenderReport {
    /// True when nothing on disk changed.
    pub fn is_noop(&self) -> bool {
        self.written.is_empty() && self.removed.is_empty()
    }
}

#[derive(Serialize, Deserialize)]
struct Marker {
    version: u32,
    files: BTreeSet<String>,
}

pub(crate) struct Desired {
    pub content: Content,
    pub mode: u32,
}

pub(crate) enum Content {
    /// A file of a kept component, left exactly as it is.
    Kept,
    /// Written as these bytes.
    Text(Vec<u8>),
    /// A Secret, written as `header` then a SOPS document of `manifest`
    /// (kept as it is when it already holds `manifest` for the same keys).
    Sealed { header: String, manifest: Value, delivery: Arc<Delivery> },
    /// An `ExternalSecret` (these bytes) whose Secret's `values` are
    /// written to the store under `key` first.
    External { bytes: Vec<u8>, key: String, values: BTreeMap<String, Sensitive>, delivery: Arc<Delivery> },
}

/// Mode of every file but a Secret in clear.
pub(crate) const MODE_FILE: u32 = 0o644;
/// Mode of a Secret written in clear.
const MODE_SECRET: u32 = 0o600;

/// Renders the full plan (every component, not a subset: whatever is not
/// given is removed) into `out_dir`.
pub fn render(
    out_dir: &Path,
    components: &[RenderedComponent],
    secrets: &SecretsPolicy,
) -> Result<RenderReport, RenderError> {
    render_keeping(out_dir, components, &[], secrets)
}

/// As [`render`], but the components in `keep` (skipped or failed in this
/// run) keep the files they had, untouched, and stay listed in their parent
/// kustomizations: a failed run never deletes a component's last good output.
pub fn render_keeping(
    out_dir: &Path,
    components: &[RenderedComponent],
    keep: &[ComponentId],
    secrets: &SecretsPolicy,
) -> Result<RenderReport, RenderError> {
    fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
    let marker_path = out_dir.join(MARKER_FILE);
    // The marker, completed by the files that carry capstan's header (a
    // marker lost in a crash must not leave components behind).
    let listed = read_marker(&marker_path)?;
    let mut previous = listed.clone();
    scan_owned(out_dir, &mut previous);
    let desired = desired_files(components, keep, &previous, secrets)?;

    // Refuse before touching anything if a file we would write is not ours
    // (not in the marker, and without capstan's header line).
    for (rel, file) in &desired {
        let path = out_dir.join(rel);
        if !previous.contains(rel)
            && path.symlink_metadata().is_ok()
            && (matches!(file.content, Content::Kept) || !written_by_capstan(&path))
        {
            return Err(RenderError::WouldOverwrite { path });
        }
    }

    // Record every file we may write before writing it: a render interrupted
    // half-way still knows which files are its own.
    let union: BTreeSet<String> = previous.iter().cloned().chain(desired.keys().cloned()).collect();
    if union != listed {
        write_marker(&marker_path, &union, true)?;
    }

    sync_sops_config(out_dir, secrets)?;
    let mut report = RenderReport::default();
    for (rel, file) in &desired {
        write_if_changed(out_dir, rel, file, None, &mut report)?;
    }

    for rel in previous.difference(&desired.keys().cloned().collect()) {
        let path = out_dir.join(rel);
        match fs::remove_file(&path) {
            Ok(()) => report.removed.push(PathBuf::from(rel)),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path, e)),
        }
        remove_empty_parents(out_dir, &path);
    }

    let now: BTreeSet<String> = desired.keys().cloned().collect();
    if now != union {
        write_marker(&marker_path, &now, true)?;
    }
    Ok(report)
}

/// Every file of the tree, keyed by relative path (with `/`), in order.
fn desired_files(
    components: &[RenderedComponent],
    keep: &[ComponentId],
    previous: &BTreeSet<String>,
    secrets: &SecretsPolicy,
) -> Result<BTreeMap<String, Desired>, RenderError> {
    let mut files = BTreeMap::new();
    // dir → entries for the kustomizations: env → namespaces, env/ns → components.
    let mut children: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    // The previous files by component directory, so keeping many components
    // costs one pass over the marker, not one per component.
    let mut by_component: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for rel in previous {
        if let Some((dir, _file)) = rel.rsplit_once('/')
            && dir.matches('/').count() == 2
        {
            by_component.entry(dir).or_default().push(rel);
        }
    }
    for id in keep {
        let label = id.to_string();
        if !seen.insert(label.clone()) {
            return Err(RenderError::DuplicateComponent { component: label });
        }
        let env = segment(&label, "environment", &id.environment)?;
        let ns = segment(&label, "namespace", &id.namespace)?;
        let name = segment(&label, "component name", &id.name)?;
        let kept = by_component.get(format!("{env}/{ns}/{name}").as_str());
        for rel in kept.into_iter().flatten() {
            files.insert((*rel).clone(), Desired { content: Content::Kept, mode: MODE_FILE });
        }
        if kept.is_some() {
            children.entry(env.to_string()).or_default().insert(ns.to_string());
            children.entry(format!("{env}/{ns}")).or_default().insert(name.to_string());
        }
    }
    for component in components {
        let label = component.id.to_string();
        if !seen.insert(label.clone()) {
            return Err(RenderError::DuplicateComponent { component: label });
        }
        let component_files = component_files(component, secrets)?;
        if component_files.is_empty() {
            continue;
        }
        files.extend(component_files);
        let id = &component.id;
        children.entry(id.environment.clone()).or_default().insert(id.namespace.clone());
        children.entry(format!("{}/{}", id.environment, id.namespace)).or_default().insert(id.name.clone());
    }
    for (dir, entries) in &children {
        files.insert(format!("{dir}/{KUSTOMIZATION}"), kustomization(entries)?);
    }
    Ok(files)
}

/// The files of one component, under `env/ns/name/`; none when it has no
/// objects (it then has no directory at all).
pub(crate) fn component_files(
    component: &RenderedComponent,
    secrets: &SecretsPolicy,
) -> Result<BTreeMap<String, Desired>, RenderError> {
    let label = component.id.to_string();
    let env = segment(&label, "environment", &component.id.environment)?;
    let ns = segment(&label, "namespace", &component.id.namespace)?;
    let name = segment(&label, "component name", &component.id.name)?;
    if component.objects.is_empty() {
        return Ok(BTreeMap::new());
    }
    let dir = format!("{env}/{ns}/{name}");
    let mut files = BTreeMap::new();
    let mut names = BTreeSet::new();
    for (index, object) in component.objects.iter().enumerate() {
        let external = match secrets.get(env).map(AsRef::as_ref) {
            Some(Delivery::External(store)) if is_secret(object) => {
                Some(externalise(object, store, env, ns).map_err(|why| RenderError::InvalidObject {
                    component: label.clone(),
                    index,
                    why,
                })?)
            }
            _ => None,
        };
        let file = object_file_name(external.as_ref().map_or(object, |e| &e.object)).ok_or_else(|| {
            RenderError::InvalidObject {
                component: label.clone(),
                index,
                why: "it has no kind or no metadata.name".to_string(),
            }
        })?;
        if file == KUSTOMIZATION || !names.insert(file.clone()) {
            return Err(RenderError::DuplicateObject { component: label, file });
        }
        let mut text = object_header(&dir);
        let desired = if let Some(Externalised { object, key, values }) = external {
            append_yaml(&object, &mut text);
            let delivery = secrets.get(env).cloned().expect("external delivery was found above");
            Desired {
                content: Content::External { bytes: text.into_bytes(), key, values, delivery },
                mode: MODE_FILE,
            }
        } else if is_secret(object) {
            let delivery = secrets.get(env).ok_or_else(|| RenderError::NoSecretsDelivery {
                component: label.clone(),
                environment: env.to_owned(),
                file: format!("{dir}/{file}"),
            })?;
            match delivery.as_ref() {
                Delivery::Plain => {
                    append_yaml(object, &mut text);
                    Desired { content: Content::Text(text.into_bytes()), mode: MODE_SECRET }
                }
                Delivery::Sops(_) => Desired {
                    content: Content::Sealed {
                        header: text,
                        manifest: object.clone(),
                        delivery: delivery.clone(),
                    },
                    mode: MODE_FILE,
                },
                Delivery::External(_) => unreachable!("externalised above"),
            }
        } else {
            append_yaml(object, &mut text);
            Desired { content: Content::Text(text.into_bytes()), mode: MODE_FILE }
        };
        files.insert(format!("{dir}/{file}"), desired);
    }
    files.insert(format!("{dir}/{KUSTOMIZATION}"), kustomization(&names)?);
    Ok(files)
}

/// The header line of an object file in component directory `dir`.
fn object_header(dir: &str) -> String {
    // Sized like a typical object file, so the text rarely regrows.
    let mut text = String::with_capacity(2048);
    text.push_str(OBJECT_HEADER);
    text.push_str(dir);
    text.push_str("; changes here are overwritten.\n");
    text
}

/// The bytes of the file of `object`, one that holds no Secret, in
/// component directory `dir`: as [`component_files`] writes it.
pub(crate) fn object_text(dir: &str, object: &Value) -> String {
    let mut text = object_header(dir);
    append_yaml(object, &mut text);
    text
}

pub(crate) fn kustomization(resources: &BTreeSet<String>) -> Result<Desired, RenderError> {
    let doc = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    let mut text = KUSTOMIZATION_HEADER.to_string();
    append_yaml(&doc, &mut text);
    Ok(Desired { content: Content::Text(text.into_bytes()), mode: MODE_FILE })
}

pub(crate) fn read_marker(path: &Path) -> Result<BTreeSet<String>, RenderError> {
    match fs::read(path) {
        Ok(bytes) => {
            let marker: Marker = serde_json::from_slice(&bytes)
                .map_err(|source| RenderError::Marker { path: path.to_path_buf(), source })?;
            // Paths from a marker are joined to out_dir and deleted: accept only
            // plain relative paths, so an edited marker cannot point outside.
            Ok(marker
                .files
                .into_iter()
                .filter(|f| {
                    !f.starts_with('/') && f.split('/').all(|s| !s.is_empty() && s != ".." && s != ".")
                })
                .collect())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(io(path, e)),
    }
}

/// Whether the file at `path` starts with the header capstan writes.
pub(crate) fn written_by_capstan(path: &Path) -> bool {
    let mut head = [0u8; 64];
    let Ok(mut f) = fs::File::open(path) else { return false };
    let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
    starts_as_capstan_writes(&head[..n])
}

/// Whether `bytes` (a file's, or its start) begin with the header capstan writes.
pub(crate) fn starts_as_capstan_writes(bytes: &[u8]) -> bool {
    bytes.starts_with(OBJECT_HEADER.as_bytes()) || bytes.starts_with(KUSTOMIZATION_HEADER.as_bytes())
}

/// Writes the marker; `durable` adds an fsync (a whole-tree render does; the
/// per-component target relies on the header line instead).
pub(crate) fn write_marker(path: &Path, files: &BTreeSet<String>, durable: bool) -> Result<(), RenderError> {
    let marker = Marker { version: MARKER_VERSION, files: files.clone() };
    let mut bytes = serde_json::to_vec_pretty(&marker)
        .map_err(|source| RenderError::Marker { path: path.to_path_buf(), source })?;
    bytes.push(b'\n');
    write_file(path, &bytes, MODE_FILE)?;
    if !durable {
        return Ok(());
    }
    // The marker is what makes later removals safe: make it durable. Rendered
    // files themselves are not fsynced (atomic by rename is enough: they are
    // re-created from the plan, and state is the durable record); an fsync
    // per file made a 1,000-component render take tens of seconds.
    let file = fs::File::open(path).map_err(|e| io(path, e))?;
    file.sync_all().map_err(|e| io(path, e))
}

/// Writes `file` at `rel` unless it already holds what it should, and says
/// which in `report`. A kept component's file is neither touched nor reported.
pub(crate) fn write_if_changed(
    out_dir: &Path,
    rel: &str,
    file: &Desired,
    record: Option<&Record>,
    report: &mut RenderReport,
) -> Result<(), RenderError> {
    let path = out_dir.join(rel);
    // Only files that hold no Secret are recorded (see crate::record).
    let recorded = record.filter(|_| file.mode == MODE_FILE && matches!(file.content, Content::Text(_)));
    let current = match &file.content {
        Content::Kept => return Ok(()),
        Content::Text(bytes) if recorded.is_some_and(|r| r.untouched(rel, &path, bytes)) => {
            report.unchanged.push(PathBuf::from(rel));
            return Ok(());
        }
        Content::Text(bytes) => is_current(&path, file.mode, |existing| Ok(existing == bytes.as_slice()))?,
        Content::External { bytes, key, values, delivery } => {
            let Delivery::External(store) = delivery.as_ref() else { unreachable!("only external delivery") };
            let failed = |why: String| RenderError::Store { path: path.clone(), key: key.clone(), why };
            if store.store.read(key).map_err(failed)?.as_ref() != Some(values) {
                store.store.write(key, values).map_err(failed)?;
            }
            let current = is_current(&path, file.mode, |existing| Ok(existing == bytes.as_slice()))?;
            if !current {
                write_file(&path, bytes, file.mode)?;
                report.written.push(PathBuf::from(rel));
                return Ok(());
            }
            true
        }
        Content::Sealed { header, manifest, delivery } => {
            let Delivery::Sops(keys) = delivery.as_ref() else { unreachable!("only SOPS delivery seals") };
            let current = is_current(&path, file.mode, |existing| {
                let Some(document) = existing.strip_prefix(header.as_bytes()) else { return Ok(false) };
                capstan_sops::unchanged(document, manifest, &keys.recipients, &keys.identities)
                    .map_err(|source| RenderError::Sops { path: path.clone(), source })
            })?;
            if !current {
                let document = capstan_sops::encrypt(manifest, &keys.recipients, SystemTime::now())
                    .map_err(|source| RenderError::Sops { path: path.clone(), source })?;
                write_file(&path, format!("{header}{document}").as_bytes(), file.mode)?;
                report.written.push(PathBuf::from(rel));
                return Ok(());
            }
            true
        }
    };
    if current {
        report.unchanged.push(PathBuf::from(rel));
    } else if let Content::Text(bytes) = &file.content {
        write_file(&path, bytes, file.mode)?;
        report.written.push(PathBuf::from(rel));
    }
    match (recorded, &file.content) {
        (Some(record), Content::Text(bytes)) => record.wrote(rel, &path, bytes),
        _ => record.into_iter().for_each(|r| r.forget(rel)),
    }
    Ok(())
}

/// Whether `path` has `mode` and contents `holds` accepts.
fn is_current(
    path: &Path,
    mode: u32,
    holds: impl FnOnce(&[u8]) -> Result<bool, RenderError>,
) -> Result<bool, RenderError> {
    let existing = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(path, e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let found = fs::metadata(path).map_err(|e| io(path, e))?.permissions().mode() & 0o777;
        if found != mode {
            return Ok(false);
        }
    }
    holds(&existing)
}

/// The first line of the `.sops.yaml` Capstan writes.
const SOPS_CONFIG_HEADER: &str = "# Written by Capstan";

/// Makes `<out_dir>/.sops.yaml` hold a rule for each environment `secrets`
/// delivers by SOPS, keeping the rules of other environments rendered to the
/// same directory by other runs. A `.sops.yaml` Capstan did not write is
/// never overwritten.
pub(crate) fn sync_sops_config(out_dir: &Path, secrets: &SecretsPolicy) -> Result<(), RenderError> {
    let ours = secrets.creation_rules();
    let path = out_dir.join(SOPS_CONFIG);
    let existing = match fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(io(&path, e)),
    };
    let mut rules = match &existing {
        None if ours.is_empty() => return Ok(()),
        None => Vec::new(),
        Some(text) => match capstan_sops::creation_rules(text) {
            Some(rules) if text.starts_with(SOPS_CONFIG_HEADER) => rules,
            _ if ours.is_empty() => return Ok(()),
            _ => return Err(RenderError::WouldOverwrite { path }),
        },
    };
    let mine: BTreeSet<String> = secrets.sops_environments().map(secret_files_of).collect();
    rules.retain(|r| !mine.contains(&r.path_regex));
    rules.extend(ours);
    rules.sort();
    let text = capstan_sops::sops_config(&rules);
    if existing.as_deref() != Some(text.as_str()) {
        write_file(&path, text.as_bytes(), MODE_FILE)?;
    }
    Ok(())
}

/// Temp file in the same directory (created with the final mode, so a Secret
/// is never readable by others even briefly), then rename: readers see the
/// old file or the new one, never a part.
pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), RenderError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(format!(".capstan-tmp-{}", process_id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = create_tmp(dir, &tmp, mode)?;
        #[cfg(unix)]
        {
            // The umask may have narrowed the mode given at create.
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        f.write_all(bytes)?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io(path, e));
    }
    Ok(())
}

/// Creates the temporary file, making its directory or clearing a leftover
/// of a crashed run only when the first try says it must: a render writes
/// thousands of files, and these checks up front cost a system call each.
fn create_tmp(dir: &Path, tmp: &Path, mode: u32) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    match options.open(tmp) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            fs::create_dir_all(dir)?;
            options.open(tmp)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            fs::remove_file(tmp)?;
            options.open(tmp)
        }
        other => other,
    }
}

fn process_id() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// Removes directories left empty by removing `path`, up to (not including) `root`.
pub(crate) fn remove_empty_parents(root: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) {
            break;
        }
        // Fails (and stops) on the first directory that still has something in it.
        if fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

pub(crate) fn io(path: &Path, source: std::io::Error) -> RenderError {
    RenderError::Io { path: path.to_path_buf(), source }
}

/// Adds the files under `<env>/<ns>/<component>/` (and the namespace and
/// environment kustomizations) that carry capstan's header.
pub(crate) fn scan_owned(out_dir: &Path, files: &mut BTreeSet<String>) {
    let dirs = |p: &Path| -> Vec<(String, PathBuf)> {
        fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            .filter(|(n, _)| !n.starts_with('.'))
            .collect()
    };
    let mut add = |rel: String, path: &Path| {
        if !files.contains(&rel) && written_by_capstan(path) {
            files.insert(rel);
        }
    };
    for (env, env_path) in dirs(out_dir) {
        add(format!("{env}/{KUSTOMIZATION}"), &env_path.join(KUSTOMIZATION));
        for (ns, ns_path) in dirs(&env_path) {
            add(format!("{env}/{ns}/{KUSTOMIZATION}"), &ns_path.join(KUSTOMIZATION));
            for (component, c_path) in dirs(&ns_path) {
                for entry in fs::read_dir(&c_path).into_iter().flatten().flatten() {
                    if let Ok(name) = entry.file_name().into_string()
                        && name.ends_with(".yaml")
                    {
                        add(format!("{env}/{ns}/{component}/{name}"), &entry.path());
                    }
                }
            }
        }
    }
}
