//! Where objects go: YAML files under a directory (render), or a cluster
//! (kube). This module adapts the executors to the planner's
//! [`ObjectTarget`] seam; it does not decide when anything is applied.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use capstan_config::Stack;
use capstan_core::{ComponentId, Health};
use capstan_plan::{ComponentRef, ObjectRef, ObjectTarget, SeamError};
use capstan_render::{RenderTarget, RenderedComponent, SecretsPolicy};

use crate::RunError;
use crate::events::{Events, Notice};
use crate::outputs::OutputFlags;
use crate::setup::Surroundings;

/// Where the render target records the files it wrote in `out_dir`
/// (see [`RenderTarget::with_record`]): beside the state, one file per
/// output directory, named by a digest of its absolute path.
fn record_file(stack: &Stack, out_dir: &Path) -> PathBuf {
    let absolute = std::path::absolute(out_dir).unwrap_or_else(|_| out_dir.to_path_buf());
    let digest = capstan_state::sha256_digest(absolute.as_os_str().as_encoded_bytes());
    let name = digest.trim_start_matches("sha256:").get(..16).unwrap_or_default();
    stack.root.join(RENDER_RECORD_DIR).join(format!("{name}.json"))
}

/// The directory of the render target's records, under the stack root.
const RENDER_RECORD_DIR: &str = ".capstan/rendered";

/// The render target: YAML files under each environment's output
/// directory, its Secrets delivered as its `target "render"` block says
/// (see [`crate::outputs`]). Environments sharing a directory share one
/// [`RenderTarget`].
pub struct Render {
    by_env: HashMap<String, Arc<RenderTarget>>,
    /// For components of environments no longer in the tree (state only):
    /// removing their files needs no Secrets delivery.
    fallback: Arc<RenderTarget>,
    /// Whether a plan trusts the record of the files written (on by
    /// default); off, every file is read back.
    trust_record: AtomicBool,
}

impl Render {
    /// Opens every environment's output; `out_dir` overrides them all for
    /// this run (with a notice where it differs from the configured one).
    pub fn open(
        stack: &Stack,
        out_dir: Option<&Path>,
        surroundings: &Surroundings,
        events: &dyn Events,
    ) -> Result<Self, RunError> {
        let flags = OutputFlags { out_dir, ..OutputFlags::default() };
        let outputs = crate::outputs::environment_outputs(stack, flags, surroundings, events)?;
        let mut by_dir: BTreeMap<PathBuf, SecretsPolicy> = BTreeMap::new();
        let mut dirs: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (env, output) in outputs {
            let policy = by_dir.entry(output.out_dir.clone()).or_default();
            if let Some(delivery) = output.delivery {
                policy.set(env.clone(), delivery);
            }
            dirs.insert(env, output.out_dir);
        }
        let default_dir = out_dir.map_or_else(|| crate::outputs::default_out_dir(stack), Path::to_path_buf);
        let targets: BTreeMap<PathBuf, Arc<RenderTarget>> = by_dir
            .into_iter()
            .map(|(dir, policy)| {
                let record = record_file(stack, &dir);
                (dir.clone(), Arc::new(RenderTarget::new(dir, policy).with_record(record)))
            })
            .collect();
        let fallback = targets.get(&default_dir).cloned().unwrap_or_else(|| {
            let record = record_file(stack, &default_dir);
            Arc::new(RenderTarget::new(default_dir, SecretsPolicy::none()).with_record(record))
        });
        let by_env = dirs.into_iter().map(|(env, dir)| (env, targets[&dir].clone())).collect();
        Ok(Self { by_env, fallback, trust_record: AtomicBool::new(true) })
    }

    /// Whether a plan trusts the record of the files this target wrote
    /// (see [`RenderTarget::with_record`]); off, it reads every file back.
    pub fn set_trust_record(&self, on: bool) {
        self.trust_record.store(on, Ordering::Relaxed);
    }

    fn of(&self, component: &ComponentId) -> &RenderTarget {
        self.by_env.get(&component.environment).unwrap_or(&self.fallback)
    }

    /// Moves component `from`'s files to where component `to`'s go
    /// (another environment's directory, if its own).
    fn relocate(
        &self,
        from: &ComponentId,
        to: &ComponentId,
    ) -> Result<Relocated, capstan_render::RenderError> {
        let (source, destination) = (self.of(from), self.of(to));
        if from == to {
            // Only a directory above it was renamed: its files are where they belong.
            let dir = source.component_dir(from).display().to_string();
            return Ok(Relocated {
                moved: Vec::new(),
                kept: vec![(dir, "its files stay: same environment, namespace and name".into())],
            });
        }
        let files = source.component_files(from)?;
        if files.is_empty() {
            return Ok(Relocated {
                moved: Vec::new(),
                kept: vec![(
                    source.component_dir(from).display().to_string(),
                    "nothing is rendered there".into(),
                )],
            });
        }
        let count = files.len();
        destination.move_in(to, files)?;
        source.remove_component(from)?;
        let line = format!(
            "{} -> {} ({count} files)",
            source.component_dir(from).display(),
            destination.component_dir(to).display()
        );
        Ok(Relocated { moved: vec![line], kept: Vec::new() })
    }

    fn flush(&self) -> Result<(), capstan_render::RenderError> {
        for target in self.by_env.values().chain(std::iter::once(&self.fallback)) {
            target.flush()?;
        }
        Ok(())
    }

    fn needs_repair(&self) -> bool {
        self.by_env.values().chain(std::iter::once(&self.fallback)).any(|t| t.needs_repair())
    }
}

impl ObjectTarget for Render {
    fn current(&self, component: ComponentRef<'_>, object: &ObjectRef) -> Result<Option<Value>, SeamError> {
        Ok(self.of(component.id).current(component.id, &object.kind, &object.name)?)
    }

    fn holds(&self, component: ComponentRef<'_>, desired: &Value) -> bool {
        self.trust_record.load(Ordering::Relaxed) && self.of(component.id).holds(component.id, desired)
    }

    fn apply(
        &self,
        component: ComponentRef<'_>,
        objects: &[Value],
        _prune: &[ObjectRef],
    ) -> Result<(), SeamError> {
        // The component's directory is made to hold exactly `objects`, so
        // pruned objects' files go with it.
        let rendered = RenderedComponent { id: component.id.clone(), objects: objects.to_vec() };
        self.of(component.id).apply_component(&rendered)?;
        Ok(())
    }

    /// The component's directory goes, whatever state recorded in it.
    fn remove(&self, component: ComponentRef<'_>, _objects: &[ObjectRef]) -> Result<(), SeamError> {
        self.of(component.id).remove_component(component.id)?;
        Ok(())
    }
}

/// The kube target: server-side apply to a cluster. Each object it applies
/// carries its component's key (the inventory annotation), which is how a
/// later run finds what to prune.
pub struct Kube {
    target: capstan_kube::KubeTarget,
    runtime: tokio::runtime::Handle,
    events: Arc<dyn Events>,
    /// For the components whose component.hcl sets no `ready_timeout`.
    default_ready_timeout: Duration,
}

impl Kube {
    /// Connects to the cluster `source` and `context` (else the
    /// environments' `target "kube"` context) choose, once it is the one
    /// the environments are bound to.
    pub fn connect(
        stack: &Stack,
        source: &capstan_kube::KubeconfigSource,
        context: Option<&str>,
        default_ready_timeout: Duration,
        runtime: tokio::runtime::Handle,
        events: Arc<dyn Events>,
    ) -> Result<Self, RunError> {
        let binding = crate::binding::Binding::of(stack, context, events.as_ref())?;
        let choice =
            runtime.block_on(capstan_kube::kubeconfig::choose(source, binding.context.as_deref()))?;
        binding.check(&choice.context, &choice.config.cluster_url.to_string())?;
        let settings = capstan_kube::Settings::default();
        let target = runtime.block_on(capstan_kube::KubeTarget::connect_chosen(choice, settings))?;
        Ok(Self { target, runtime, events, default_ready_timeout })
    }

    fn prune(&self, key: &str, objects: &[ObjectRef]) -> Result<(), SeamError> {
        let pruned = self.runtime.block_on(self.target.prune(key, objects))?;
        for (object, why) in pruned.kept {
            self.events.notice(&Notice::ObjectKept {
                component: key.to_string(),
                object: object.to_string(),
                why,
            });
        }
        Ok(())
    }
}

impl Kube {
    /// Hands component `from`'s live objects to component `to`.
    fn relocate(
        &self,
        from: &str,
        to: &str,
        objects: &[ObjectRef],
    ) -> Result<Relocated, capstan_kube::KubeError> {
        let done = self.runtime.block_on(self.target.reassign(from, to, objects))?;
        Ok(Relocated {
            moved: done.moved.iter().map(ToString::to_string).collect(),
            kept: done.kept.into_iter().map(|(o, why)| (o.to_string(), why)).collect(),
        })
    }
}

impl ObjectTarget for Kube {
    fn current(&self, _component: ComponentRef<'_>, object: &ObjectRef) -> Result<Option<Value>, SeamError> {
        Ok(self.runtime.block_on(self.target.current(object))?)
    }

    fn apply(
        &self,
        component: ComponentRef<'_>,
        objects: &[Value],
        prune: &[ObjectRef],
    ) -> Result<(), SeamError> {
        self.runtime.block_on(self.target.apply(component.key, objects))?;
        self.prune(component.key, prune)
    }

    fn wait_ready(
        &self,
        component: ComponentRef<'_>,
        objects: &[ObjectRef],
        health: &(dyn Fn(&Value) -> Result<Health, SeamError> + Sync),
    ) -> Result<(), SeamError> {
        let timeout = component.ready_timeout.unwrap_or(self.default_ready_timeout);
        let health = |o: &Value| health(o).map_err(|e| e.to_string());
        Ok(self.runtime.block_on(self.target.wait_ready(component.key, objects, timeout, &health))?)
    }

    fn remove(&self, component: ComponentRef<'_>, objects: &[ObjectRef]) -> Result<(), SeamError> {
        self.prune(component.key, objects)
    }
}

/// Where a run's objects go.
pub enum Target {
    /// YAML files under each environment's output directory.
    Render(Render),
    /// Server-side apply to a cluster.
    // Boxed: it holds the client and per-component tables, and a run has one.
    Kube(Box<Kube>),
}

impl Target {
    /// Writes what the target keeps between components (the render
    /// target's kustomizations and marker).
    pub fn flush(&self) -> Result<(), RunError> {
        match self {
            Target::Render(r) => r.flush().map_err(RunError::RenderFlush),
            Target::Kube(_) => Ok(()),
        }
    }

    /// Whether a run stopped before writing what [`Target::flush`] writes:
    /// the next apply writes it, even with nothing else to change.
    pub fn needs_repair(&self) -> bool {
        match self {
            Target::Render(r) => r.needs_repair(),
            Target::Kube(_) => false,
        }
    }

    fn inner(&self) -> &dyn ObjectTarget {
        match self {
            Target::Render(r) => r,
            Target::Kube(k) => k.as_ref(),
        }
    }
}

/// What the target did for a component that moved in the tree.
#[derive(Debug, Default)]
pub struct Relocated {
    /// What moved, one line each: the render directory's files, or each
    /// live object.
    pub moved: Vec<String>,
    /// What was left as it was, with why.
    pub kept: Vec<(String, String)>,
}

impl Target {
    /// Makes what the target holds for component `from` component `to`'s
    /// (`capstan state mv`), so that `to`'s next plan finds it instead of
    /// creating it, and nothing is deleted: the render target moves the
    /// component's files to `to`'s directory; the kube target re-marks the
    /// live objects `objects` (as state recorded them) with `to`'s key.
    pub fn relocate(
        &self,
        from: ComponentRef<'_>,
        to: ComponentRef<'_>,
        objects: &[ObjectRef],
    ) -> Result<Relocated, RunError> {
        let failed = |source: SeamError| RunError::Relocate {
            from: from.key.to_string(),
            to: to.key.to_string(),
            source,
        };
        match self {
            Target::Render(r) => r.relocate(from.id, to.id).map_err(|e| failed(e.into())),
            Target::Kube(k) => k.relocate(from.key, to.key, objects).map_err(|e| failed(e.into())),
        }
    }
}

impl ObjectTarget for Target {
    fn current(&self, component: ComponentRef<'_>, object: &ObjectRef) -> Result<Option<Value>, SeamError> {
        self.inner().current(component, object)
    }

    fn holds(&self, component: ComponentRef<'_>, desired: &Value) -> bool {
        self.inner().holds(component, desired)
    }

    fn apply(
        &self,
        component: ComponentRef<'_>,
        objects: &[Value],
        prune: &[ObjectRef],
    ) -> Result<(), SeamError> {
        self.inner().apply(component, objects, prune)
    }

    fn wait_ready(
        &self,
        component: ComponentRef<'_>,
        objects: &[ObjectRef],
        health: &(dyn Fn(&Value) -> Result<Health, SeamError> + Sync),
    ) -> Result<(), SeamError> {
        self.inner().wait_ready(component, objects, health)
    }

    fn remove(&self, component: ComponentRef<'_>, objects: &[ObjectRef]) -> Result<(), SeamError> {
        self.inner().remove(component, objects)
    }
}
