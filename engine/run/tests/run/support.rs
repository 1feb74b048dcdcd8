//! A small stack and native plugins for driving a [`Session`].
//!
//! Components (all in `envs/dev/core`):
//! - `base` (`test/config`): one ConfigMap holding its input `value`; output `name`.
//! - `app` (`test/config`), depends on `base`: its value is base's `name`.
//! - `migrate` (`test/migrate`): one SQL effect on the connection `broken`,
//!   which the test runner fails, and one ConfigMap.
//! - `after-migrate` (`test/config`), depends on `migrate`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use capstan_core::{
    ComponentId, ComponentPlan, Diagnostic, Effect, EffectKind, Health, Metadata, Output, PlanError,
    PlanRequest,
};
use capstan_plan::{EffectRunner, PluginHandle, PluginResolver, SeamError};
use capstan_run::{Render, Seams, Session, Settings, Silent, Target};
use capstan_state::{AnyBackend, State, StateBackend as _};

pub const FILES: &[(&str, &str)] = &[
    ("client.hcl", "locals {\n  org = \"test\"\n}\n"),
    ("envs/dev/env.hcl", "locals {\n  environment = \"dev\"\n}\n"),
    ("envs/dev/core/namespace.hcl", "namespace = \"core\"\n"),
    (
        "envs/dev/core/base/component.hcl",
        "component {\n  type   = \"config\"\n  plugin = \"test/config\"\n}\n\ninputs = {\n  value = \"one\"\n}\n",
    ),
    (
        "envs/dev/core/app/component.hcl",
        "component {\n  type   = \"config\"\n  plugin = \"test/config\"\n}\n\ndependency \"base\" {\n  config_path = \"../base\"\n}\n\ninputs = {\n  value = \"from ${dependency.base.outputs.name}\"\n}\n",
    ),
];

pub const FAILING: &[(&str, &str)] = &[
    (
        "envs/dev/core/migrate/component.hcl",
        "component {\n  type   = \"migration\"\n  plugin = \"test/migrate\"\n  grants = [\"sql:broken\"]\n}\n",
    ),
    (
        "envs/dev/core/after-migrate/component.hcl",
        "component {\n  type   = \"config\"\n  plugin = \"test/config\"\n}\n\ndependency \"migrate\" {\n  config_path = \"../migrate\"\n}\n\ninputs = {\n  value = dependency.migrate.outputs.name\n}\n",
    ),
];

/// A stack on disk, with its rendered output beside it.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
    pub effects: Arc<Effects>,
}

impl Stack {
    pub fn new(files: &[&[(&str, &str)]]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files.iter().flat_map(|f| f.iter()) {
            write(&dir.path().join(path), contents);
        }
        let runtime = tokio::runtime::Runtime::new().unwrap();
        Self { dir, runtime, effects: Arc::new(Effects::default()) }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn rendered(&self) -> PathBuf {
        self.root().join("rendered")
    }

    /// A session over the whole stack, as a run would open it.
    pub fn session(&self) -> Session {
        let options = capstan_config::LoadOptions::default();
        let stack = capstan_config::load(self.root(), &options).unwrap_or_else(|d| panic!("{d}"));
        let surroundings = capstan_run::Surroundings::default();
        let render = Render::open(&stack, Some(&self.rendered()), &surroundings, &Silent).unwrap();
        let target = Target::Render(render);
        let seams = Seams { plugins: Arc::new(Plugins), target, effects: self.effects.clone() };
        let settings = Settings {
            parallelism: 2,
            holder: "test".into(),
            work_dir: self.root().to_path_buf(),
            refresh: true,
        };
        let backend = AnyBackend::local(self.root());
        Session::new(
            stack,
            self.root(),
            seams,
            backend,
            settings,
            Arc::new(Silent),
            self.runtime.handle().clone(),
        )
        .unwrap()
    }

    /// State as the backend holds it now.
    pub fn state(&self) -> State {
        self.runtime.block_on(AnyBackend::local(self.root()).read()).unwrap()
    }

    /// Plans and applies everything under the lock, as `apply --auto-approve` does.
    pub fn apply(&self) -> capstan_run::Applied {
        let mut session = self.session();
        let guard = session.lock("apply", std::time::Duration::ZERO).unwrap();
        let plan = session.plan(capstan_config::Command::Plan).unwrap();
        let applied = session.apply(&plan, &guard);
        session.unlock(guard).unwrap();
        applied.unwrap()
    }
}

pub fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// The files rendered for one component (below the render directory).
pub fn rendered_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&d) else { continue };
        for e in read.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// The native plugins, by name.
struct Plugins;

impl PluginResolver for Plugins {
    fn resolve(&self, name: &str, _version: &semver::VersionReq) -> Result<Arc<dyn PluginHandle>, SeamError> {
        match name {
            "test/config" => Ok(Arc::new(Native::new(name, false))),
            "test/migrate" => Ok(Arc::new(Native::new(name, true))),
            other => Err(format!("no test plugin named {other}").into()),
        }
    }
}

/// A plugin written in Rust: one ConfigMap named after the component, with
/// its `value` input; with `effect`, also one SQL effect on `broken`.
struct Native {
    metadata: Metadata,
    effect: bool,
}

impl Native {
    fn new(name: &str, effect: bool) -> Self {
        let metadata = Metadata {
            name: name.to_string(),
            version: semver::Version::new(1, 0, 0),
            component_type: if effect { "migration" } else { "config" }.into(),
            backend: "test".into(),
            description: "a native test plugin".into(),
            input_schema: json!({"type": "object"}),
            defaults: String::new(),
            capabilities: Vec::new(),
            outputs_contract: None,
            rules: Vec::new(),
        };
        Self { metadata, effect }
    }
}

impl PluginHandle for Native {
    fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    fn digest(&self) -> &str {
        "native"
    }

    fn validate(&self, _component: &ComponentId, _inputs: &Value) -> Result<Vec<Diagnostic>, SeamError> {
        Ok(Vec::new())
    }

    fn plan(
        &self,
        _dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<Result<ComponentPlan, PlanError>, SeamError> {
        let name = request.component.name.clone();
        let value = request.inputs.get("value").cloned().unwrap_or(Value::Null);
        let objects = vec![json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"value": value},
        })];
        let effects = if self.effect {
            vec![Effect {
                id: "migrate".into(),
                target: "broken".into(),
                summary: "run the migration".into(),
                kind: EffectKind::Sql(Vec::new()),
            }]
        } else {
            Vec::new()
        };
        let outputs = vec![Output { name: "name".into(), value: Value::String(name), sensitive: false }];
        Ok(Ok(ComponentPlan { objects, effects, outputs, ..Default::default() }))
    }

    fn health(&self, _component: &ComponentId, _object: &Value) -> Result<Health, SeamError> {
        Ok(Health::Ready)
    }
}

/// Runs effects by failing those on the connection `broken`; counts calls.
#[derive(Default)]
pub struct Effects {
    pub calls: Mutex<BTreeMap<String, usize>>,
}

impl EffectRunner for Effects {
    fn run(&self, component: &ComponentId, effect: &Effect) -> Result<Value, SeamError> {
        *self.calls.lock().unwrap().entry(component.name.clone()).or_default() += 1;
        if effect.target == "broken" {
            return Err("the database refused the migration".into());
        }
        Ok(json!({}))
    }
}
