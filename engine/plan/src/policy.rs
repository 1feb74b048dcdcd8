//! Policies: every planned component's objects checked by the policy plugins
//! whose `policy` blocks (client.hcl, env.hcl) match it, before its objects
//! are compared with the target or anything of it is applied.
//!
//! The engine, not the policy, decides what a violation does: an `enforce`
//! policy's error fails the component (its dependents are skipped), an
//! `audit` policy's is shown, and a named exception with a reason waives it.
//! Each violation is traced back to the input that caused it, so `plan`
//! points at the HCL line to change.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use capstan_config::{Component, Origin, PolicyConfig, PolicyMode, Stack};
use capstan_core::leaks::{Place, Secrets};
use capstan_core::{CheckRequest, ObjectRef, PolicySubject, Severity, Violation};

use crate::planner::ComponentError;
use crate::seams::{PluginResolver, PolicyHandle, SeamError};

/// Why the policies of a stack could not be made ready. Nothing is planned.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// No plugin matching the block's `plugin` and `version` could be
    /// found, verified or loaded.
    #[error("policy {policy} ({at}): plugin {plugin} {version} could not be loaded: {source}")]
    Resolve {
        /// The block's name.
        policy: String,
        /// Where the block is, as `file:line:col`.
        at: String,
        /// The plugin as the block names it.
        plugin: String,
        /// The version range as the block gives it.
        version: String,
        /// The resolver's reason.
        source: SeamError,
    },
    /// The plugin the block names plans components; it checks nothing.
    #[error("policy {policy} ({at}): plugin {plugin} is a component plugin, not a policy")]
    NotAPolicy {
        /// The block's name.
        policy: String,
        /// Where the block is, as `file:line:col`.
        at: String,
        /// The plugin as `name version`.
        plugin: String,
    },
    /// The block's `params` over the plugin's defaults break the plugin's
    /// params schema, or name a rule the plugin does not have.
    #[error("policy {policy} ({at}): params: {reason}")]
    Params {
        /// The block's name.
        policy: String,
        /// Where the block is, as `file:line:col`.
        at: String,
        /// What is wrong.
        reason: String,
    },
}

/// Every policy of a stack, its plugin loaded and its params ready, once per
/// environment and policy (not per component).
#[derive(Default)]
pub struct Policies {
    /// By environment, then policy name: looked up by reference for every
    /// component planned.
    bound: BTreeMap<String, BTreeMap<String, Bound>>,
}

struct Bound {
    handle: Arc<dyn PolicyHandle>,
    params: Value,
    label: String,
}

impl Policies {
    /// No policies: every plan passes.
    pub fn none() -> Self {
        Self::default()
    }

    /// Loads the plugin of every policy a component of `stack` is matched by
    /// (each plugin once) and merges each block's params over its defaults.
    pub fn bind(stack: &Stack, resolver: &dyn PluginResolver) -> Result<Self, PolicyError> {
        let mut handles: BTreeMap<(String, String), Arc<dyn PolicyHandle>> = BTreeMap::new();
        let mut bound: BTreeMap<String, BTreeMap<String, Bound>> = BTreeMap::new();
        for component in stack.components.values() {
            for config in stack.policies_for(component) {
                let in_env = bound.entry(component.id.environment.clone()).or_default();
                if in_env.contains_key(&config.name) {
                    continue;
                }
                let plugin_key = (config.plugin.clone(), config.version.to_string());
                let handle = match handles.get(&plugin_key) {
                    Some(h) => Arc::clone(h),
                    None => {
                        let h =
                            resolver.resolve_policy(&config.plugin, &config.version).map_err(|source| {
                                PolicyError::Resolve {
                                    policy: config.name.clone(),
                                    at: config.set_at.to_string(),
                                    plugin: config.plugin.clone(),
                                    version: config.version.to_string(),
                                    source,
                                }
                            })?;
                        handles.insert(plugin_key, Arc::clone(&h));
                        h
                    }
                };
                in_env.insert(config.name.clone(), bind_one(config, handle)?);
            }
        }
        bound.retain(|_, policies| !policies.is_empty());
        Ok(Self { bound })
    }

    /// Whether any policy is bound.
    pub fn is_empty(&self) -> bool {
        self.bound.is_empty()
    }

    /// Checks one component's objects (namespaced, normalised) against every
    /// policy matching it: the findings that do not block it, or the
    /// component's failure — [`ComponentError::Policy`] when an enforcing
    /// policy's error is not waived (those findings first), and
    /// [`ComponentError::PolicyFailed`] when a policy plugin fails, refuses
    /// or misbehaves: a gate that cannot answer lets nothing through.
    pub(crate) fn gate(
        &self,
        stack: &Stack,
        component: &Component,
        plugin: &str,
        objects: &[Value],
        inputs: &Inputs<'_>,
    ) -> Result<Vec<PolicyFinding>, ComponentError> {
        let findings = self.check(stack, component, plugin, objects, inputs)?;
        if !findings.iter().any(PolicyFinding::blocks) {
            return Ok(findings);
        }
        let (mut blocking, rest): (Vec<_>, Vec<_>) = findings.into_iter().partition(PolicyFinding::blocks);
        blocking.extend(rest);
        Err(ComponentError::Policy { findings: blocking })
    }

    fn check(
        &self,
        stack: &Stack,
        component: &Component,
        plugin: &str,
        objects: &[Value],
        inputs: &Inputs<'_>,
    ) -> Result<Vec<PolicyFinding>, ComponentError> {
        let mut findings = Vec::new();
        let Some(in_env) = self.bound.get(&component.id.environment) else { return Ok(findings) };
        // Made once per component, only when a policy matches: the objects
        // without Secret values (each policy gets its own params), and the
        // inputs' leaves violations are traced to.
        let mut request: Option<CheckRequest> = None;
        let mut leaves: Option<Vec<(String, &Value)>> = None;
        for config in stack.policies_for(component) {
            let Some(bound) = in_env.get(&config.name) else { continue };
            let request = request.get_or_insert_with(|| CheckRequest {
                subject: PolicySubject {
                    name: component.id.name.clone(),
                    environment: component.id.environment.clone(),
                    namespace: component.id.namespace.clone(),
                    component_type: component.component_type.clone(),
                    plugin: plugin.to_owned(),
                },
                objects: capstan_core::without_secret_values(objects),
                params: Value::Null,
            });
            request.params = bound.params.clone();
            let failed = |reason: String| ComponentError::PolicyFailed {
                policy: config.name.clone(),
                plugin: bound.label.clone(),
                reason,
            };
            let violations = match bound.handle.check(&component.id, request) {
                Ok(Ok(v)) => v,
                Ok(Err(reason)) => {
                    return Err(failed(format!("refused to check: {}", inputs.scrub(&reason))));
                }
                Err(source) => return Err(failed(inputs.scrub(&source.to_string()))),
            };
            for v in violations {
                if let Some(leak) =
                    inputs.secrets.in_text(&v.message, Place::Violation { rule: v.rule.clone() })
                {
                    return Err(failed(format!("leaked a sensitive value at {}", leak.place)));
                }
                let Some(object) = objects.get(v.object as usize) else { continue };
                let leaves = leaves.get_or_insert_with(|| input_leaves(inputs));
                findings.push(finding(config, &bound.label, component, object, v, leaves, inputs));
            }
        }
        Ok(findings)
    }
}

fn bind_one(config: &PolicyConfig, handle: Arc<dyn PolicyHandle>) -> Result<Bound, PolicyError> {
    let meta = handle.metadata();
    let label = format!("{} {}", meta.name, meta.version);
    let at = || config.set_at.to_string();
    if !meta.is_policy() {
        return Err(PolicyError::NotAPolicy { policy: config.name.clone(), at: at(), plugin: label });
    }
    let params_error = |reason: String| PolicyError::Params { policy: config.name.clone(), at: at(), reason };
    let params = params_over_defaults(meta, config.params.clone()).map_err(params_error)?;
    for exception in &config.exceptions {
        if let Some(rule) = exception.rules.iter().find(|r| !meta.rules.iter().any(|known| &known.id == *r)) {
            let known: Vec<&str> = meta.rules.iter().map(|r| r.id.as_str()).collect();
            return Err(params_error(format!(
                "exception {} ({}) names rule `{rule}`, which {label} does not check (its rules: {})",
                exception.name,
                exception.set_at,
                known.join(", ")
            )));
        }
    }
    Ok(Bound { handle, params, label })
}

/// `params` merged over a policy plugin's defaults and checked against its
/// params schema, as a `policy` block's are before any check: what the
/// plugin is then handed. The error says what is wrong, and where.
pub fn params_over_defaults(meta: &capstan_core::Metadata, params: Value) -> Result<Value, String> {
    let params = capstan_config::merge_over_defaults(&meta.defaults, params)
        .map_err(|e| format!("the plugin's defaults are not YAML: {e}"))?;
    let validator = jsonschema::draft202012::new(&meta.input_schema)
        .map_err(|e| format!("the plugin's params schema is not a JSON Schema: {e}"))?;
    let first = validator
        .iter_errors(&params)
        .next()
        .map(|e| format!("{e} (at {})", root(&e.instance_path().to_string())));
    match first {
        Some(error) => Err(error),
        None => Ok(params),
    }
}

fn root(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// What of a component's inputs a violation is traced back to.
pub(crate) struct Inputs<'a> {
    /// The merged inputs, in clear (never shown: only compared).
    pub(crate) value: &'a Value,
    /// The places in them that hold secrets: never matched against.
    pub(crate) sensitive_paths: &'a [String],
    /// Where each top-level input was set.
    pub(crate) origins: &'a BTreeMap<String, Origin>,
    /// The component's sensitive values, looked for in what a policy says.
    pub(crate) secrets: &'a Secrets,
    /// Where the component block is (file, line), when no input explains a
    /// violation.
    pub(crate) component_at: (std::path::PathBuf, usize),
}

impl Inputs<'_> {
    fn scrub(&self, text: &str) -> String {
        match self.secrets.in_text(text, Place::ErrorMessage) {
            Some(leak) => format!("(its message held a sensitive value: {})", leak.secret),
            None => text.to_owned(),
        }
    }
}

/// One violation of a policy, where it is and what caused it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyFinding {
    /// The `policy` block's name.
    pub policy: String,
    /// The policy plugin as `name version`.
    pub plugin: String,
    /// The rule broken.
    pub rule: String,
    /// The block's mode for this component's environment.
    pub mode: PolicyMode,
    /// As the plugin rates it; only an error blocks.
    pub severity: Severity,
    /// The object in which the rule is broken.
    pub object: ObjectRef,
    /// A JSON pointer into that object.
    pub path: String,
    /// The policy's message.
    pub message: String,
    /// The HCL that caused it: the line to change.
    pub cause: Cause,
    /// The exception that waives it, with its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived_by: Option<Waiver>,
}

/// What a violation is traced back to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Cause {
    /// An input of the component, set in HCL.
    Input {
        /// A JSON pointer into the component's inputs.
        pointer: String,
        /// Where it was set.
        set_at: Origin,
    },
    /// No input set in HCL explains it (the plugin's defaults or its own
    /// choice): the component block, whose inputs can override it.
    Component {
        /// The component.hcl, relative to the stack root.
        file: std::path::PathBuf,
        /// The line of its `component` block.
        line: usize,
    },
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Input { pointer, set_at } => write!(f, "input {pointer}, set at {set_at}"),
            Self::Component { file, line } => {
                write!(f, "set by the plugin, not by an input: component {}:{line}", file.display())
            }
        }
    }
}

/// A named exception that waives a violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Waiver {
    /// The exception's name.
    pub name: String,
    /// Why it is allowed.
    pub reason: String,
    /// Where the exception is declared, as `file:line:col`.
    pub set_at: String,
}

impl PolicyFinding {
    /// Whether it fails the component: an error of an enforcing policy that
    /// no exception waives.
    pub fn blocks(&self) -> bool {
        self.mode == PolicyMode::Enforce && self.severity == Severity::Error && self.waived_by.is_none()
    }
}

impl std::fmt::Display for PolicyFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}/{}] {} {}: {}", self.policy, self.rule, self.object, self.path, self.message)?;
        write!(f, " ({})", self.cause)?;
        if let Some(w) = &self.waived_by {
            write!(f, "; waived by exception {} ({}): {}", w.name, w.set_at, w.reason)?;
        }
        Ok(())
    }
}

fn finding(
    config: &PolicyConfig,
    plugin: &str,
    component: &Component,
    object: &Value,
    v: Violation,
    leaves: &[(String, &Value)],
    inputs: &Inputs<'_>,
) -> PolicyFinding {
    let cause = match cause_of(object, &v.path, leaves, inputs) {
        Some((pointer, set_at)) => Cause::Input { pointer, set_at },
        None => Cause::Component { file: inputs.component_at.0.clone(), line: inputs.component_at.1 },
    };
    let waived_by = config.exception_for(&v.rule, component).map(|e| Waiver {
        name: e.name.clone(),
        reason: e.reason.clone(),
        set_at: e.set_at.to_string(),
    });
    PolicyFinding {
        policy: config.name.clone(),
        plugin: plugin.to_owned(),
        rule: v.rule,
        mode: config.mode,
        severity: v.severity,
        object: ObjectRef::of(object).unwrap_or_else(|_| unnamed(object)),
        path: v.path,
        message: v.message,
        cause,
        waived_by,
    }
}

fn unnamed(object: &Value) -> ObjectRef {
    let field = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or_default().to_owned();
    ObjectRef {
        api_version: field("/apiVersion"),
        kind: field("/kind"),
        namespace: object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned),
        name: field("/metadata/name"),
    }
}

/// The input a violation at `path` of `object` comes from, and where it was
/// set. A plugin does not say which input made which field, so the engine
/// reasons from what it can see:
/// 1. the offending value itself, found among the inputs (an image tag, a
///    uid): the input that holds the same value;
/// 2. else the deepest segment of the path that names an input, compared
///    without case, `_` or `-` (`resources`, `runAsUser` ~ `run_as_user`);
/// 3. else nothing: the caller points at the component block.
///
/// Inputs set nowhere in HCL (the plugin's defaults) explain nothing the
/// operator could change in place, so they are skipped.
fn cause_of(
    object: &Value,
    path: &str,
    leaves: &[(String, &Value)],
    inputs: &Inputs<'_>,
) -> Option<(String, Origin)> {
    let origin_of = |pointer: &str| {
        let top = pointer.trim_start_matches('/').split('/').next().unwrap_or_default();
        let top = top.replace("~1", "/").replace("~0", "~");
        inputs.origins.get(&top).filter(|o| o.line > 0).cloned()
    };
    let found = |pointer: &str| origin_of(pointer).map(|o| (pointer.to_owned(), o));
    if let Some(value) = object.pointer(path).filter(|v| is_telling(v))
        && let Some(hit) = leaves.iter().filter(|(_, v)| *v == value).find_map(|(p, _)| found(p))
    {
        return Some(hit);
    }
    let segments: Vec<String> =
        path.split('/').skip(1).map(|s| fold(&s.replace("~1", "/").replace("~0", "~"))).collect();
    for segment in segments.iter().rev().filter(|s| !s.is_empty() && !s.chars().all(|c| c.is_ascii_digit())) {
        // The shallowest input of that name: `resources` before `sidecar/resources`.
        let hit = leaves
            .iter()
            .filter_map(|(p, _)| prefix_ending_in(p, segment))
            .min_by_key(|p| p.matches('/').count())
            .and_then(|p| found(&p));
        if hit.is_some() {
            return hit;
        }
    }
    None
}

/// Every leaf of the inputs with its JSON pointer, those that hold secrets
/// left out: never matched against what a plugin planned.
fn input_leaves<'v>(inputs: &Inputs<'v>) -> Vec<(String, &'v Value)> {
    let mut leaves = Vec::new();
    collect_leaves(inputs.value, String::new(), &mut leaves);
    leaves.retain(|(pointer, _)| {
        !inputs.sensitive_paths.iter().any(|s| {
            pointer.strip_prefix(s.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    });
    leaves
}

/// A value specific enough to trace: text or a number, not `true`/`false`,
/// an empty string or an object.
fn is_telling(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.is_empty(),
        Value::Number(_) => true,
        _ => false,
    }
}

fn fold(s: &str) -> String {
    s.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

/// The part of `pointer` up to the first segment that folds to `segment`.
fn prefix_ending_in(pointer: &str, segment: &str) -> Option<String> {
    let mut prefix = String::new();
    for part in pointer.split('/').skip(1) {
        prefix.push('/');
        prefix.push_str(part);
        if fold(&part.replace("~1", "/").replace("~0", "~")) == segment {
            return Some(prefix);
        }
    }
    None
}

fn collect_leaves<'v>(value: &'v Value, at: String, out: &mut Vec<(String, &'v Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                collect_leaves(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                collect_leaves(v, format!("{at}/{i}"), out);
            }
        }
        leaf => out.push((at, leaf)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_config::OriginSource;
    use serde_json::json;

    fn origin(line: usize) -> Origin {
        Origin { file: "envs/dev/web/api/component.hcl".into(), line, source: OriginSource::Inputs }
    }

    fn trace(
        object: &Value,
        path: &str,
        inputs: &Value,
        origins: &BTreeMap<String, Origin>,
    ) -> Option<(String, usize)> {
        let secrets = Secrets::default();
        let inputs = Inputs {
            value: inputs,
            sensitive_paths: &[],
            origins,
            secrets: &secrets,
            component_at: ("c.hcl".into(), 1),
        };
        cause_of(object, path, &input_leaves(&inputs), &inputs).map(|(p, o)| (p, o.line))
    }

    #[test]
    fn a_violation_is_traced_to_the_input_holding_its_value() {
        let object = json!({"spec": {"containers": [{"image": "ghcr.io/acme/api:latest"}]}});
        let inputs = json!({"image": "ghcr.io/acme/api:latest", "replicas": 2});
        let origins = BTreeMap::from([("image".to_owned(), origin(4)), ("replicas".to_owned(), origin(5))]);
        assert_eq!(
            trace(&object, "/spec/containers/0/image", &inputs, &origins),
            Some(("/image".to_owned(), 4))
        );
    }

    #[test]
    fn a_missing_field_is_traced_to_the_input_named_like_its_path() {
        let object = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        let inputs = json!({"resources": {"requests": {"cpu": "1"}}, "run_as_user": 0});
        let origins =
            BTreeMap::from([("resources".to_owned(), origin(7)), ("run_as_user".to_owned(), origin(9))]);
        assert_eq!(
            trace(&object, "/spec/containers/0/resources/limits", &inputs, &origins),
            Some(("/resources".to_owned(), 7))
        );
        // `runAsUser` is the input `run_as_user`, by value or by name.
        let object = json!({"spec": {"securityContext": {"runAsUser": 0}}});
        assert_eq!(
            trace(&object, "/spec/securityContext/runAsUser", &inputs, &origins),
            Some(("/run_as_user".to_owned(), 9))
        );
    }

    #[test]
    fn a_plugin_default_or_an_unrelated_path_explains_nothing() {
        let object = json!({"spec": {"containers": [{"securityContext": {}}]}});
        let inputs = json!({"image": "nginx:1.27", "resources": {}});
        let defaults = Origin { file: "".into(), line: 0, source: OriginSource::PluginDefaults };
        let origins = BTreeMap::from([("image".to_owned(), origin(3)), ("resources".to_owned(), defaults)]);
        assert_eq!(
            trace(&object, "/spec/containers/0/securityContext/runAsNonRoot", &inputs, &origins),
            None
        );
        assert_eq!(trace(&object, "/spec/containers/0/resources/limits", &inputs, &origins), None);
    }

    #[test]
    fn a_sensitive_input_is_never_matched() {
        let object = json!({"data": {"note": "hunter2"}});
        let inputs = json!({"password": "hunter2"});
        let origins = BTreeMap::from([("password".to_owned(), origin(3))]);
        let secrets = Secrets::default();
        let sensitive = ["/password".to_owned()];
        let inputs = Inputs {
            value: &inputs,
            sensitive_paths: &sensitive,
            origins: &origins,
            secrets: &secrets,
            component_at: ("c.hcl".into(), 1),
        };
        assert_eq!(cause_of(&object, "/data/note", &input_leaves(&inputs), &inputs), None);
    }
}
