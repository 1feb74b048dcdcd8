//! Calling a plugin from an ordinary `cargo test`, on the host, without wasm.
//!
//! [`PlanCall::run`] does what the engine does around `plan`: it merges the
//! plugin's defaults under the given inputs, validates the result against
//! the plugin's input schema, runs the plugin's `validate`, and only then
//! calls `plan`. So a test sees what an operator would.
//!
//! ```
//! # use capstan_sdk::prelude::*;
//! # use capstan_sdk::testkit::{PlanCall, PlanExt};
//! # use serde_json::json;
//! # struct Echo;
//! # impl Plugin for Echo {
//! #     fn metadata() -> Metadata { MetadataBuilder::new("t/echo", "0.1.0").build() }
//! #     fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
//! #         let meta = k8s::Meta::new(&req.component, &req.component.name, "config");
//! #         Ok(ComponentPlan { objects: vec![k8s::config_map(&meta, &Default::default())], ..Default::default() })
//! #     }
//! # }
//! let plan = PlanCall::new(json!({})).component("staging", "core", "api").run::<Echo>().unwrap();
//! assert_eq!(plan.expect_object("ConfigMap", "api")["metadata"]["namespace"], "core");
//! ```
//!
//! With the `host` feature, [`wasm`] runs a built `.wasm` through the real
//! engine host instead.
//!
//! For a [`Policy`](crate::Policy), [`CheckCall::run`] does the same
//! around `check`: params merged over the defaults and checked against
//! their schema, Secrets' values hidden, violations held to the contract.

mod policy;
#[cfg(feature = "host")]
pub mod wasm;

pub use policy::{CheckCall, CheckError, ViolationsExt, check, check_policy_metadata};

use capstan_core::{
    ComponentId, ComponentPlan, Dependency, Diagnostic, EffectResult, File, Metadata, Output, PlanError,
    PlanRequest, Severity,
};
use serde_json::Value;

use crate::Plugin;

/// One plan request under construction.
#[derive(Clone, Debug)]
#[must_use]
pub struct PlanCall {
    request: PlanRequest,
    with_defaults: bool,
}

impl PlanCall {
    /// A request with these inputs for component `test/default/app`.
    pub fn new(inputs: Value) -> Self {
        Self {
            request: PlanRequest {
                component: ComponentId {
                    name: "app".into(),
                    environment: "test".into(),
                    namespace: "default".into(),
                },
                inputs,
                sensitive_paths: Vec::new(),
                dependencies: Vec::new(),
                files: Vec::new(),
                effect_results: Vec::new(),
            },
            with_defaults: true,
        }
    }

    /// Plans component `name` of environment `environment` in namespace `namespace`.
    pub fn component(mut self, environment: &str, namespace: &str, name: &str) -> Self {
        self.request.component =
            ComponentId { name: name.into(), environment: environment.into(), namespace: namespace.into() };
        self
    }

    /// A dependency whose outputs are the fields of `outputs` (a JSON
    /// object), none of them sensitive.
    pub fn dependency(self, name: &str, component_type: &str, outputs: Value) -> Self {
        let outputs = match outputs {
            Value::Object(fields) => {
                fields.into_iter().map(|(name, value)| Output { name, value, sensitive: false }).collect()
            }
            other => panic!("dependency `{name}`: outputs must be a JSON object, got {other}"),
        };
        self.dependency_outputs(name, component_type, outputs)
    }

    /// A dependency with these exact outputs (to mark some sensitive).
    pub fn dependency_outputs(mut self, name: &str, component_type: &str, outputs: Vec<Output>) -> Self {
        self.request.dependencies.push(Dependency {
            name: name.into(),
            component_type: component_type.into(),
            outputs: outputs.into(),
        });
        self
    }

    /// Marks the input at `pointer` sensitive, as `values_sensitive_custom` does.
    pub fn sensitive(mut self, pointer: &str) -> Self {
        self.request.sensitive_paths.push(pointer.into());
        self
    }

    /// A file the component's `files` attribute lists, under the path as written there.
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.request.files.push(File { path: path.into(), contents: contents.into() });
        self
    }

    /// The result the engine kept from effect `id` (its response `body`), as
    /// handed to the next plan.
    pub fn effect_result(mut self, id: &str, body: Value) -> Self {
        self.request.effect_results.push(EffectResult { id: id.into(), body });
        self
    }

    /// Skips the defaults and the schema: `plan` sees the inputs as given,
    /// to test what the plugin itself does with input the schema would stop.
    pub fn without_defaults(mut self) -> Self {
        self.with_defaults = false;
        self
    }

    /// The request as built so far (defaults not merged).
    pub fn request(&self) -> PlanRequest {
        self.request.clone()
    }

    /// Runs the engine's steps and then `P::plan`. Schema and `validate`
    /// errors come back as [`PlanError::InvalidInputs`], as from the engine.
    ///
    /// # Panics
    /// When the plugin breaks the contract in a way the engine would refuse
    /// (defaults that are not YAML, a schema that does not compile, an object
    /// without `apiVersion`, `kind` or `metadata.name`): those are bugs in the
    /// plugin, and a test should fail loudly on them.
    pub fn run<P: Plugin>(&self) -> Result<ComponentPlan, PlanError> {
        let outcome = self.pipeline::<std::convert::Infallible>(
            || Ok(P::metadata()),
            |inputs| Ok(P::validate(inputs)),
            |request| Ok(P::plan(request)),
        );
        match outcome {
            Ok(result) => result,
            Err(never) => match never {},
        }
    }

    /// The engine's steps around `plan`, whoever runs the plugin (natively
    /// here, or in wasm through [`wasm`]). `E` is the runner's own failure.
    fn pipeline<E>(
        &self,
        metadata: impl FnOnce() -> Result<Metadata, E>,
        validate: impl FnOnce(&Value) -> Result<Vec<Diagnostic>, E>,
        plan: impl FnOnce(&PlanRequest) -> Result<Result<ComponentPlan, PlanError>, E>,
    ) -> Result<Result<ComponentPlan, PlanError>, E> {
        let mut request = self.request.clone();
        if self.with_defaults {
            let metadata = metadata()?;
            let mut inputs = defaults_of(&metadata);
            merge(&mut inputs, request.inputs);
            request.inputs = inputs;
            let errors = schema_errors(&metadata, &request.inputs, false);
            if !errors.is_empty() {
                return Ok(Err(PlanError::InvalidInputs(errors)));
            }
            let errors: Vec<Diagnostic> =
                validate(&request.inputs)?.into_iter().filter(|d| d.severity == Severity::Error).collect();
            if !errors.is_empty() {
                return Ok(Err(PlanError::InvalidInputs(errors)));
            }
        }
        let result = plan(&request)?;
        if let Ok(plan) = &result {
            for object in &plan.objects {
                check_manifest(object);
            }
        }
        Ok(result)
    }
}

/// Merges `over` into `base`: objects key by key, recursively; anything
/// else (arrays included) replaces. The engine merges `values_custom` over
/// a plugin's defaults the same way.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The plugin's defaults as JSON (an empty object when it has none).
///
/// # Panics
/// When the defaults are not a YAML mapping.
pub fn defaults_of(metadata: &Metadata) -> Value {
    if metadata.defaults.trim().is_empty() {
        return Value::Object(Default::default());
    }
    match serde_norway::from_str::<Value>(&metadata.defaults) {
        Ok(v @ Value::Object(_)) => v,
        Ok(Value::Null) => Value::Object(Default::default()),
        Ok(other) => panic!("plugin `{}`: defaults must be a YAML mapping, got {other}", metadata.name),
        Err(e) => panic!("plugin `{}`: defaults are not valid YAML: {e}", metadata.name),
    }
}

/// Schema errors of `inputs`, as diagnostics. Messages are masked: they
/// never repeat the value, which may be sensitive.
fn schema_errors(metadata: &Metadata, inputs: &Value, ignore_required: bool) -> Vec<Diagnostic> {
    let validator = match jsonschema::validator_for(&metadata.input_schema) {
        Ok(v) => v,
        Err(e) => panic!("plugin `{}`: its input schema does not compile: {e}", metadata.name),
    };
    validator
        .iter_errors(inputs)
        .filter(|e| {
            !(ignore_required && matches!(e.kind(), jsonschema::error::ValidationErrorKind::Required { .. }))
        })
        .map(|e| Diagnostic::error(e.instance_path().as_str(), e.masked().to_string()))
        .collect()
}

/// Checks what the engine checks of a plugin's metadata: a valid name and
/// type, a schema that compiles, defaults that are a YAML mapping and fit
/// the schema (required fields aside: the operator supplies those).
///
/// # Panics
/// With every problem found, so a plugin's test names them all at once.
pub fn check_metadata<P: Plugin>() -> Metadata {
    let metadata = P::metadata();
    let mut problems = Vec::new();
    if metadata.name.is_empty() || !metadata.name.contains('/') {
        problems.push(format!("name `{}` should be `publisher/plugin`", metadata.name));
    }
    if metadata.component_type.is_empty() || metadata.backend.is_empty() {
        problems.push("component type and backend must be set".to_owned());
    }
    let defaults = defaults_of(&metadata);
    for d in schema_errors(&metadata, &defaults, true) {
        problems.push(format!("defaults at `{}`: {}", d.path, d.message));
    }
    if !problems.is_empty() {
        panic!("plugin `{}` metadata:\n  {}", metadata.name, problems.join("\n  "));
    }
    metadata
}

fn check_manifest(object: &Value) {
    let field = |p: &str| object.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty());
    if field("/apiVersion").is_none() || field("/kind").is_none() || field("/metadata/name").is_none() {
        panic!("plugin returned an object without apiVersion, kind or metadata.name: {object}");
    }
}

/// The `(path, message)` of each diagnostic of a plan refused for its
/// inputs.
///
/// # Panics
/// When the plan was refused for another reason: the test expected a
/// refusal of the inputs.
pub fn invalid_inputs(err: PlanError) -> Vec<(String, String)> {
    match err {
        PlanError::InvalidInputs(d) => d.into_iter().map(|d| (d.path, d.message)).collect(),
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

/// Finding things in a [`ComponentPlan`], for assertions.
pub trait PlanExt {
    /// The object with this kind and name.
    fn object(&self, kind: &str, name: &str) -> Option<&Value>;
    /// Like [`PlanExt::object`], but panics listing what the plan does hold.
    fn expect_object(&self, kind: &str, name: &str) -> &Value;
    /// Every object of this kind, in plan order.
    fn objects_of_kind(&self, kind: &str) -> Vec<&Value>;
    /// `Kind/name` of every object, in order.
    fn object_ids(&self) -> Vec<String>;
    /// The value of output `name`, if the plan has it.
    fn output(&self, name: &str) -> Option<&Value>;
}

impl PlanExt for ComponentPlan {
    fn object(&self, kind: &str, name: &str) -> Option<&Value> {
        crate::k8s::find(&self.objects, kind, name)
    }

    fn expect_object(&self, kind: &str, name: &str) -> &Value {
        match self.object(kind, name) {
            Some(o) => o,
            None => panic!("no {kind}/{name} in the plan; it has {:?}", self.object_ids()),
        }
    }

    fn objects_of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o.get("kind").and_then(Value::as_str) == Some(kind)).collect()
    }

    fn object_ids(&self) -> Vec<String> {
        self.objects
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o.get("kind").and_then(Value::as_str).unwrap_or("?"),
                    o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?")
                )
            })
            .collect()
    }

    fn output(&self, name: &str) -> Option<&Value> {
        self.outputs.iter().find(|o| o.name == name).map(|o| &o.value)
    }
}

/// The environment variable `name` of the first container of a workload.
pub fn container_env<'a>(workload: &'a Value, name: &str) -> Option<&'a Value> {
    workload
        .pointer("/spec/template/spec/containers/0/env")?
        .as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_deep_for_objects_and_replaces_everything_else() {
        let mut base = json!({"a": {"x": 1, "y": [1, 2]}, "b": 1});
        merge(&mut base, json!({"a": {"y": [3], "z": true}, "c": null}));
        assert_eq!(base, json!({"a": {"x": 1, "y": [3], "z": true}, "b": 1, "c": null}));
    }
}
