//! Writing the whole output tree: desired files, what changed, what left.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use capstan_core::ComponentId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::RenderError;
use crate::layout::{MARKER_FILE, is_secret, object_file_name, segment};
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
    pub id: ComponentId,
    pub objects: Vec<Value>,
}

/// What a render did, as paths relative to the output directory, sorted.
/// Files of kept components (see [`render_keeping`]) are not listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderReport {
    pub written: Vec<PathBuf>,
    pub unchanged: Vec<PathBuf>,
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
    /// `None`: a file of a kept component, left exactly as it is.
    pub bytes: Option<Vec<u8>>,
    pub secret: bool,
}

/// Renders the full plan (every component, not a subset: whatever is not
/// given is removed) into `out_dir`.
pub fn render(out_dir: &Path, components: &[RenderedComponent]) -> Result<RenderReport, RenderError> {
    render_keeping(out_dir, components, &[])
}

/// As [`render`], but the components in `keep` (skipped or failed in this
/// run) keep the files they had, untouched, and stay listed in their parent
/// kustomizations: a failed run never deletes a component's last good output.
pub fn render_keeping(
    out_dir: &Path,
    components: &[RenderedComponent],
    keep: &[ComponentId],
) -> Result<RenderReport, RenderError> {
    fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
    let marker_path = out_dir.join(MARKER_FILE);
    // The marker, completed by the files that carry capstan's header (a
    // marker lost in a crash must not leave components behind).
    let listed = read_marker(&marker_path)?;
    let mut previous = listed.clone();
    scan_owned(out_dir, &mut previous);
    let desired = desired_files(components, keep, &previous)?;

    // Refuse before touching anything if a file we would write is not ours
    // (not in the marker, and without capstan's header line).
    for (rel, file) in &desired {
        let path = out_dir.join(rel);
        if !previous.contains(rel)
            && path.symlink_metadata().is_ok()
            && (file.bytes.is_none() || !written_by_capstan(&path))
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

    let mut report = RenderReport::default();
    for (rel, file) in &desired {
        let path = out_dir.join(rel);
        // A kept component's file: not touched, not reported.
        let Some(bytes) = &file.bytes else { continue };
        if is_current(&path, bytes, file.secret)? {
            report.unchanged.push(PathBuf::from(rel));
        } else {
            write_file(&path, bytes, file.secret)?;
            report.written.push(PathBuf::from(rel));
        }
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
            files.insert((*rel).clone(), Desired { bytes: None, secret: false });
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
        let component_files = component_files(component)?;
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
        let file = object_file_name(object).ok_or_else(|| RenderError::InvalidObject {
            component: label.clone(),
            index,
            why: "it has no kind or no metadata.name".to_string(),
        })?;
        if file == KUSTOMIZATION || !names.insert(file.clone()) {
            return Err(RenderError::DuplicateObject { component: label, file });
        }
        // Sized like a typical object file, so the text rarely regrows.
        let mut text = String::with_capacity(2048);
        text.push_str(OBJECT_HEADER);
        text.push_str(&dir);
        text.push_str("; changes here are overwritten.\n");
        append_yaml(object, &mut text);
        files.insert(
            format!("{dir}/{file}"),
            Desired { bytes: Some(text.into_bytes()), secret: is_secret(object) },
        );
    }
    files.insert(format!("{dir}/{KUSTOMIZATION}"), kustomization(&names)?);
    Ok(files)
}

pub(crate) fn kustomization(resources: &BTreeSet<String>) -> Result<Desired, RenderError> {
    let doc = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    let mut text = KUSTOMIZATION_HEADER.to_string();
    append_yaml(&doc, &mut text);
    Ok(Desired { bytes: Some(text.into_bytes()), secret: false })
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
    let head = &head[..n];
    head.starts_with(OBJECT_HEADER.as_bytes()) || head.starts_with(KUSTOMIZATION_HEADER.as_bytes())
}

/// Writes the marker; `durable` adds an fsync (a whole-tree render does; the
/// per-component target relies on the header line instead).
pub(crate) fn write_marker(path: &Path, files: &BTreeSet<String>, durable: bool) -> Result<(), RenderError> {
    let marker = Marker { version: MARKER_VERSION, files: files.clone() };
    let mut bytes = serde_json::to_vec_pretty(&marker)
        .map_err(|source| RenderError::Marker { path: path.to_path_buf(), source })?;
    bytes.push(b'\n');
    write_file(path, &bytes, false)?;
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

fn mode_of(secret: bool) -> u32 {
    if secret { 0o600 } else { 0o644 }
}

/// Whether `path` already has exactly these bytes and mode.
pub(crate) fn is_current(path: &Path, bytes: &[u8], secret: bool) -> Result<bool, RenderError> {
    let existing = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(path, e)),
    };
    if existing != bytes {
        return Ok(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(|e| io(path, e))?.permissions().mode() & 0o777;
        if mode != mode_of(secret) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Temp file in the same directory (created with the final mode, so a Secret
/// is never readable by others even briefly), then rename: readers see the
/// old file or the new one, never a part.
pub(crate) fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), RenderError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(format!(".capstan-tmp-{}", process_id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = create_tmp(dir, &tmp, secret)?;
        #[cfg(unix)]
        {
            // The umask may have narrowed the mode given at create.
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(mode_of(secret)))?;
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
fn create_tmp(dir: &Path, tmp: &Path, secret: bool) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode_of(secret));
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
