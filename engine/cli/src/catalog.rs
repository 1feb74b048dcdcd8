//! The plugins this engine can find: the built-in ones compiled into the
//! binary, then `.wasm` files in plugin directories (from `--plugin-dir` and
//! `plugin_source` blocks of type `dir`). Loaded once, on first need.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;

use capstan_core::{ComponentId, ComponentPlan, Diagnostic, Metadata, PlanError, PlanRequest};
use capstan_host::{CallContext, Plugin, PluginHost};
use capstan_plan::{PluginHandle, PluginResolver, SeamError};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

/// Where a plugin came from, for `plugin list`.
#[derive(Debug, Clone)]
pub enum Origin {
    BuiltIn,
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built-in"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

pub struct Entry {
    pub plugin: Plugin,
    pub origin: Origin,
}

pub struct Catalog {
    host: Arc<PluginHost>,
    dirs: Vec<PathBuf>,
    entries: OnceLock<Result<Vec<Arc<Entry>>, String>>,
}

impl Catalog {
    pub fn new(host: Arc<PluginHost>, dirs: Vec<PathBuf>) -> Self {
        Self { host, dirs, entries: OnceLock::new() }
    }

    /// Every plugin, directories first (so an operator's build shadows a
    /// built-in of the same name and version), then the built-in ones.
    pub fn entries(&self) -> anyhow::Result<&[Arc<Entry>]> {
        self.entries
            .get_or_init(|| self.load_all().map_err(|e| format!("{e:#}")))
            .as_deref()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    fn load_all(&self) -> anyhow::Result<Vec<Arc<Entry>>> {
        let mut out = Vec::new();
        for dir in &self.dirs {
            for path in wasm_files(dir)? {
                let plugin = self
                    .host
                    .load_file(&path)
                    .with_context(|| format!("loading plugin {}", path.display()))?;
                out.push(Arc::new(Entry { plugin, origin: Origin::File(path) }));
            }
        }
        for (package, wasm) in builtin::BUILTIN {
            let plugin = self
                .host
                .load_bytes(package, wasm)
                .with_context(|| format!("loading built-in plugin {package}"))?;
            out.push(Arc::new(Entry { plugin, origin: Origin::BuiltIn }));
        }
        Ok(out)
    }
}

fn wasm_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let read =
        std::fs::read_dir(dir).with_context(|| format!("reading plugin directory {}", dir.display()))?;
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

impl PluginResolver for Catalog {
    fn resolve(&self, name: &str, version: &semver::VersionReq) -> Result<Arc<dyn PluginHandle>, SeamError> {
        let entries = self.entries().map_err(|e| -> SeamError { e.into() })?;
        let same_name: Vec<&Arc<Entry>> =
            entries.iter().filter(|e| e.plugin.metadata().name == name).collect();
        let best = same_name
            .iter()
            .filter(|e| version.matches(&e.plugin.metadata().version))
            .max_by(|a, b| a.plugin.metadata().version.cmp(&b.plugin.metadata().version));
        match best {
            Some(e) => Ok(Arc::new(HostPlugin(e.plugin.clone()))),
            None if same_name.is_empty() => {
                let mut known: Vec<&str> =
                    entries.iter().map(|e| e.plugin.metadata().name.as_str()).collect();
                known.sort();
                known.dedup();
                Err(format!("no plugin named {name} (known: {})", known.join(", ")).into())
            }
            None => {
                let versions: Vec<String> =
                    same_name.iter().map(|e| e.plugin.metadata().version.to_string()).collect();
                Err(format!("no version of {name} matches {version} (found: {})", versions.join(", ")).into())
            }
        }
    }
}

/// A host plugin seen through the planner's seam.
struct HostPlugin(Plugin);

impl PluginHandle for HostPlugin {
    fn metadata(&self) -> &Metadata {
        self.0.metadata()
    }

    fn digest(&self) -> &str {
        self.0.digest()
    }

    fn validate(
        &self,
        component: &ComponentId,
        inputs: &serde_json::Value,
    ) -> Result<Vec<Diagnostic>, SeamError> {
        Ok(self.0.validate(&CallContext::for_component(component.clone()), inputs)?)
    }

    fn plan(
        &self,
        component_dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<Result<ComponentPlan, PlanError>, SeamError> {
        let cx = CallContext {
            component: Some(request.component.clone()),
            component_dir: component_dir.map(Path::to_path_buf),
        };
        Ok(self.0.plan(&cx, request)?)
    }
}
