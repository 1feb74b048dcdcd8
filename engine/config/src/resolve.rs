//! The second phase: a component's inputs, once its dependencies have outputs.
//!
//! Order of precedence, lowest first: the plugin's defaults (YAML) ←
//! `values_custom` (YAML heredoc) ← `inputs` ← `values_sensitive_custom`
//! (YAML, from a secrets file). Objects merge key by key; anything else is
//! replaced.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use capstan_core::{Output, REDACTED};
use hcl_edit::expr::{Expression, ObjectKey};
use jsonschema::error::ValidationErrorKind;
use serde::Serialize;
use serde_json::Value;

use crate::component::{Command, Component, Deferred, MergeStrategy};
use crate::diag::{ConfigError, Diagnostic, Diagnostics, Location, SourceFile};
use crate::eval::{self, DepHint, Map, Scope, eval, span_of, type_name};
use crate::shared::{Shared, has_token};
use crate::yaml;

/// The outputs of one dependency, as the planner recorded them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DependencyOutputs<'a> {
    /// Borrowed from the dependency's plan where the planner holds it: a
    /// component with many dependents must not be copied once per dependent.
    pub outputs: Cow<'a, [Output]>,
}

impl<'a> DependencyOutputs<'a> {
    /// From outputs borrowed (a slice) or owned (a `Vec`).
    pub fn new(outputs: impl Into<Cow<'a, [Output]>>) -> Self {
        Self { outputs: outputs.into() }
    }
}

impl<'a> From<&'a capstan_core::Dependency> for DependencyOutputs<'a> {
    fn from(d: &'a capstan_core::Dependency) -> Self {
        Self::new(&*d.outputs)
    }
}

/// Where a top-level input came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// Relative to the stack root; empty for the plugin's defaults.
    pub file: PathBuf,
    /// 1-based; 0 for the plugin's defaults.
    pub line: usize,
    /// Which layer set it last.
    pub source: OriginSource,
}

/// The layers a component's inputs are merged from, lowest precedence first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginSource {
    /// The plugin's default values (YAML, from its metadata).
    PluginDefaults,
    /// A `values_custom` YAML heredoc, in component.hcl or an include.
    ValuesCustom,
    /// An `inputs` attribute, in component.hcl or an include.
    Inputs,
    /// `values_sensitive_custom` from the component's secrets file; line is 0.
    ValuesSensitiveCustom,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            OriginSource::PluginDefaults => f.write_str("plugin defaults"),
            OriginSource::ValuesSensitiveCustom => {
                write!(f, "{} (values_sensitive_custom)", crate::root::display(&self.file))
            }
            s => {
                let what = if s == OriginSource::ValuesCustom { "values_custom" } else { "inputs" };
                write!(f, "{}:{} ({what})", crate::root::display(&self.file), self.line)
            }
        }
    }
}

/// A component's inputs, ready for its plugin.
#[derive(Clone, PartialEq, Serialize)]
pub struct ResolvedInputs {
    /// In clear: this goes to the plugin, never to a log.
    pub value: Value,
    /// JSON Pointers of the values that hold secrets.
    pub sensitive_paths: Vec<String>,
    /// Where each top-level key came from.
    pub origins: BTreeMap<String, Origin>,
}

impl fmt::Debug for ResolvedInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedInputs")
            .field("value", &self.redacted())
            .field("sensitive_paths", &self.sensitive_paths)
            .field("origins", &self.origins)
            .finish()
    }
}

impl ResolvedInputs {
    /// The inputs with every sensitive value replaced by "(sensitive)", for showing.
    pub fn redacted(&self) -> Value {
        let mut v = self.value.clone();
        for p in &self.sensitive_paths {
            if let Some(slot) = v.pointer_mut(p) {
                *slot = Value::String(REDACTED.to_owned());
            }
        }
        v
    }

    /// `config show`: each top-level key, its redacted value and where it came from.
    pub fn show(&self) -> String {
        let red = self.redacted();
        let mut out = String::new();
        if let Value::Object(m) = &red {
            for (k, v) in m {
                let origin = self.origins.get(k).map(ToString::to_string).unwrap_or_default();
                let text = serde_json::to_string(v).unwrap_or_default();
                out.push_str(&format!("{k} = {text}\n    # from {origin}\n"));
            }
        }
        out
    }

    /// `config show --json`: `{ key: { value, from } }`, values redacted.
    pub fn show_json(&self) -> Value {
        let mut out = Map::new();
        if let Value::Object(m) = self.redacted() {
            for (k, v) in m {
                let from = self.origins.get(&k).map(ToString::to_string).unwrap_or_default();
                out.insert(k, serde_json::json!({ "value": v, "from": from }));
            }
        }
        Value::Object(out)
    }

    /// Whether the value at JSON Pointer `pointer` (e.g. `/db/password`) is
    /// a secret or lies inside one.
    pub fn is_sensitive(&self, pointer: &str) -> bool {
        self.sensitive_paths.iter().any(|p| pointer == p || pointer.starts_with(&format!("{p}/")))
    }
}

/// Load-time check of `inputs` and `values_custom`: evaluates them with
/// mock outputs (and placeholders for outputs nobody mocked) so that
/// `validate` reports their errors without planning anything.
pub(crate) fn check_deferred(c: &Component) {
    let mut deps = Map::new();
    for (name, d) in &c.dependencies {
        let mut dep = Map::new();
        dep.insert("outputs".to_owned(), Value::Object(d.mock_outputs.clone()));
        deps.insert(name.clone(), Value::Object(dep));
    }
    let deps = Value::Object(deps);
    for d in c.values_custom.iter().chain(&c.inputs) {
        let root = Scope::Root(&d.vars);
        let scope = Scope::Bind { name: "dependency", value: Cow::Borrowed(&deps), parent: &root };
        let mut ctx = c.ctx(&d.file, &d.dir);
        ctx.lenient_deps = true;
        match eval(&ctx, &scope, &d.expr) {
            Err(e) => c.shared.report(e.into_diagnostic(&d.file, &c.shared)),
            Ok(v) => {
                if c.values_custom.iter().any(|x| std::ptr::eq(x, d)) {
                    if let Err(diag) = values_custom_yaml(&c.shared, d, &v) {
                        c.shared.report(*diag);
                    }
                } else if !v.is_object() {
                    c.shared.report(inputs_not_object(d, &v));
                }
            }
        }
    }
}

fn inputs_not_object(d: &Deferred, v: &Value) -> Diagnostic {
    Diagnostic::at(
        ConfigError::WrongType {
            what: "`inputs`".to_owned(),
            expected: "an object (inputs = { name = value, … })".to_owned(),
            found: type_name(v),
        },
        &d.file,
        span_of(&d.expr),
    )
}

/// `values_custom` as JSON; invalid YAML points into the heredoc.
fn values_custom_yaml(shared: &Shared, d: &Deferred, v: &Value) -> Result<Value, Box<Diagnostic>> {
    let Value::String(text) = v else {
        return Err(Box::new(Diagnostic::at(
            ConfigError::WrongType {
                what: "`values_custom`".to_owned(),
                expected: "a YAML string (a heredoc)".to_owned(),
                found: type_name(v),
            },
            &d.file,
            span_of(&d.expr),
        )));
    };
    let at = |message: String, line: Option<usize>, col: Option<usize>| {
        let mut loc = Location::at(&d.file, span_of(&d.expr));
        if let (Expression::HeredocTemplate(h), Some(line)) = (&d.expr, line) {
            // Heredoc content starts on the line after `<<-YAML`; dedenting
            // keeps lines, so YAML line n is file line (start + n).
            let (start, _) = d.file.line_col(span_of(&d.expr).start);
            let file_line = start + line;
            let indent = h.indent().unwrap_or(0);
            let text = d.file.line_text(file_line).to_owned();
            let col = col.unwrap_or(1) + indent;
            let width = text.chars().count().saturating_sub(col - 1).max(1);
            loc = Location {
                file: d.file.path.clone(),
                line: file_line,
                col,
                snippet: Some((text, width)),
                rest: None,
            };
        }
        Box::new(Diagnostic::new(
            shared.scrub_error(ConfigError::InvalidYaml { attribute: "values_custom".to_owned(), message }),
            Some(loc),
        ))
    };
    match yaml::parse(text) {
        Ok(Value::Object(m)) => Ok(Value::Object(m)),
        Ok(_) => Err(at("it must be a mapping (key: value lines)".to_owned(), None, None)),
        Err(e) => Err(at(e.message, e.line, e.col)),
    }
}

/// `inputs` merged over a plugin's defaults (its YAML text), as a
/// component's inputs are before the plugin sees them: for callers that ask
/// a plugin directly, without a stack (the conformance kit).
pub fn merge_over_defaults(plugin_defaults_yaml: &str, inputs: Value) -> Result<Value, String> {
    let mut value = match yaml::parse(plugin_defaults_yaml).map_err(|e| e.message)? {
        Value::Null => Value::Object(Map::new()),
        v => v,
    };
    deep_merge(&mut value, inputs);
    Ok(value)
}

/// Objects merge key by key, recursively; anything else: `top` wins.
pub(crate) fn deep_merge(base: &mut Value, top: Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, top) => *slot = top,
    }
}

/// Line of each top-level key of an `inputs = { … }` object literal.
fn input_key_lines(d: &Deferred) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if let Expression::Object(o) = &d.expr {
        for (k, _) in o.iter() {
            let name = match k {
                ObjectKey::Ident(i) => i.value().to_string(),
                ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                ObjectKey::Expression(_) => continue,
            };
            out.insert(name, d.file.line_col(span_of(k).start).0);
        }
    }
    out
}

/// The location of the value at `pointer` inside an `inputs` object literal,
/// as deep as the literal goes; the attribute otherwise.
fn pointer_location(d: &Deferred, pointer: &str) -> Location {
    let mut expr = &d.expr;
    let mut span = d.attr_span.clone();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        let Expression::Object(o) = expr else { break };
        let found = o.iter().find(|(k, _)| match k {
            ObjectKey::Ident(i) => i.value().as_str() == seg,
            ObjectKey::Expression(Expression::String(s)) => *s.value() == seg,
            ObjectKey::Expression(_) => false,
        });
        let Some((k, v)) = found else { break };
        span = span_of(k).start..span_of(v.expr()).end;
        expr = v.expr();
    }
    Location::at(&d.file, span)
}

fn leaf_pointers(v: &Value, prefix: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                leaf_pointers(v, format!("{prefix}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                leaf_pointers(v, format!("{prefix}/{i}"), out);
            }
        }
        _ => out.push(prefix),
    }
}

/// Swaps secret tokens for clear values, recording where they were.
fn reveal(shared: &Shared, v: &mut Value, pointer: String, sensitive: &mut Vec<String>) {
    match v {
        Value::String(s) if has_token(s) => {
            *s = shared.reveal(s).0;
            sensitive.push(pointer);
        }
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                reveal(
                    shared,
                    v,
                    format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1")),
                    sensitive,
                );
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                reveal(shared, v, format!("{pointer}/{i}"), sensitive);
            }
        }
        _ => {}
    }
}

/// The inputs as merged so far, layer by layer, lowest precedence first.
#[derive(Default)]
struct Merged {
    value: Value,
    /// Where each top-level key's value came from.
    origins: BTreeMap<String, Origin>,
    diags: Diagnostics,
}

/// What a component's `inputs` and `values_custom` are evaluated in: its
/// levels' variables and its dependencies' outputs.
struct InputScope<'a> {
    component: &'a Component,
    /// `dependency.<name>.outputs`.
    dependencies: Value,
    hints: BTreeMap<String, DepHint>,
}

impl InputScope<'_> {
    /// `d` evaluated, or its problem added to `diags`.
    fn eval(&self, d: &Deferred, diags: &mut Diagnostics) -> Option<Value> {
        let root = Scope::Root(&d.vars);
        let scope =
            Scope::Bind { name: "dependency", value: Cow::Borrowed(&self.dependencies), parent: &root };
        let mut ctx = self.component.ctx(&d.file, &d.dir);
        ctx.deps = Some(&self.hints);
        match eval(&ctx, &scope, &d.expr) {
            Ok(v) => Some(v),
            Err(e) => {
                diags.push(e.into_diagnostic(&d.file, &self.component.shared));
                None
            }
        }
    }
}

impl Component {
    /// Resolves this component's inputs (phase two).
    ///
    /// `deps` holds the outputs of its dependencies by dependency name; an
    /// output that is missing falls back to `mock_outputs` when `command` is
    /// allowed to use them (never for apply). The result is merged over
    /// `plugin_defaults_yaml` and validated against `input_schema`.
    pub fn resolve_inputs(
        &self,
        deps: &BTreeMap<String, DependencyOutputs<'_>>,
        command: Command,
        plugin_defaults_yaml: &str,
        input_schema: &Value,
    ) -> Result<ResolvedInputs, Diagnostics> {
        let scope = InputScope {
            component: self,
            dependencies: self.dependency_values(deps, command),
            hints: self.dep_hints(command),
        };
        let mut merged = self.plugin_defaults(plugin_defaults_yaml);
        self.merge_values_custom(&scope, &mut merged);
        let input_sources = self.merge_inputs(&scope, &mut merged);
        let mut sensitive = Vec::new();
        reveal(&self.shared, &mut merged.value, String::new(), &mut sensitive);
        self.merge_values_sensitive_custom(&mut merged, &mut sensitive);
        sensitive.sort();
        sensitive.dedup();

        let Merged { value, origins, mut diags } = merged;
        let resolved = ResolvedInputs { value, sensitive_paths: sensitive, origins };
        if diags.is_empty() {
            self.validate_schema(
                &resolved,
                input_schema,
                &input_sources,
                &self.dir.join("component.hcl"),
                &mut diags,
            );
        }
        if diags.is_empty() {
            Ok(resolved)
        } else {
            diags.sort();
            Err(diags)
        }
    }

    /// `dependency.<name>.outputs`: sensitive outputs enter as tokens, and
    /// mocks fill what a dependency has not produced where `command` allows.
    /// Only the outputs the expressions read are bound, where that is known:
    /// a database server lists every app's database in one output, and
    /// copying it into each of those apps' scopes is quadratic.
    fn dependency_values(&self, deps: &BTreeMap<String, DependencyOutputs<'_>>, command: Command) -> Value {
        let read =
            eval::dependency_output_refs(self.inputs.iter().chain(&self.values_custom).map(|d| &d.expr));
        let mut dep_vars = Map::new();
        for (name, decl) in &self.dependencies {
            let mut outputs = Map::new();
            let wanted =
                |output: &str| read.as_ref().is_none_or(|r| r.get(name).is_some_and(|o| o.contains(output)));
            if let Some(d) = deps.get(name) {
                for o in d.outputs.iter().filter(|o| wanted(&o.name)) {
                    let v = if o.sensitive {
                        let clear = match &o.value {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        Value::String(self.shared.secret_token(capstan_core::Sensitive::new(clear)))
                    } else {
                        o.value.clone()
                    };
                    outputs.insert(o.name.clone(), v);
                }
            }
            if decl.mocks_allowed(command) {
                for (k, v) in &decl.mock_outputs {
                    outputs.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            let mut dep = Map::new();
            dep.insert("outputs".to_owned(), Value::Object(outputs));
            dep_vars.insert(name.clone(), Value::Object(dep));
        }
        Value::Object(dep_vars)
    }

    /// The lowest layer: the plugin's defaults, parsed once per plugin.
    fn plugin_defaults(&self, yaml: &str) -> Merged {
        let mut merged = Merged::default();
        merged.value = match self.shared.plugin_defaults(yaml) {
            Ok(v) if v.is_object() => Value::clone(&v),
            Ok(_) => Value::Object(Map::new()),
            Err(e) => {
                merged.diags.push(Diagnostic::new(
                    ConfigError::InvalidYaml {
                        attribute: format!("the defaults of plugin {}", self.plugin),
                        message: e,
                    },
                    None,
                ));
                Value::Object(Map::new())
            }
        };
        if let Value::Object(m) = &merged.value {
            for k in m.keys() {
                merged.origins.insert(
                    k.clone(),
                    Origin { file: PathBuf::new(), line: 0, source: OriginSource::PluginDefaults },
                );
            }
        }
        merged
    }

    /// `values_custom` heredocs, in include order, merged deeply.
    fn merge_values_custom(&self, scope: &InputScope<'_>, merged: &mut Merged) {
        for d in &self.values_custom {
            let Some(v) = scope.eval(d, &mut merged.diags) else { continue };
            match values_custom_yaml(&self.shared, d, &v) {
                Ok(parsed) => {
                    let (start, _) = d.file.line_col(span_of(&d.expr).start);
                    let lines = v.as_str().map(yaml::top_level_key_lines).unwrap_or_default();
                    if let Value::Object(m) = &parsed {
                        for k in m.keys() {
                            let line = lines.get(k).map_or(start, |l| start + l);
                            merged.origins.insert(
                                k.clone(),
                                Origin {
                                    file: d.file.path.clone(),
                                    line,
                                    source: OriginSource::ValuesCustom,
                                },
                            );
                        }
                    }
                    deep_merge(&mut merged.value, parsed);
                }
                Err(diag) => merged.diags.push(*diag),
            }
        }
    }

    /// `inputs`, in include order, each merged as its include says. Returns
    /// which file each top-level key came from, for schema errors.
    fn merge_inputs<'s>(
        &'s self,
        scope: &InputScope<'_>,
        merged: &mut Merged,
    ) -> BTreeMap<String, &'s Deferred> {
        let mut input_sources = BTreeMap::new();
        for d in &self.inputs {
            let Some(v) = scope.eval(d, &mut merged.diags) else { continue };
            let Value::Object(m) = v else {
                merged.diags.push(inputs_not_object(d, &v));
                continue;
            };
            if m.contains_key("values_template") {
                merged.diags.push(Diagnostic::at(ConfigError::ValuesTemplate, &d.file, d.attr_span.clone()));
            }
            let lines = input_key_lines(d);
            let (attr_line, _) = d.file.line_col(d.attr_span.start);
            for k in m.keys() {
                merged.origins.insert(
                    k.clone(),
                    Origin {
                        file: d.file.path.clone(),
                        line: lines.get(k).copied().unwrap_or(attr_line),
                        source: OriginSource::Inputs,
                    },
                );
                input_sources.insert(k.clone(), d);
            }
            if d.merge == MergeStrategy::Shallow
                && let Value::Object(base) = &mut merged.value
            {
                base.extend(m);
            } else {
                deep_merge(&mut merged.value, Value::Object(m));
            }
        }
        input_sources
    }

    /// The highest layer: `values_sensitive_custom` from a secrets file,
    /// merged last; every value in it is sensitive.
    fn merge_values_sensitive_custom(&self, merged: &mut Merged, sensitive: &mut Vec<String>) {
        let Some(secret) =
            crate::levels::reveal_secret(&self.shared, &self.secrets, "values_sensitive_custom")
        else {
            return;
        };
        match yaml::parse(secret.expose()) {
            Ok(parsed @ Value::Object(_)) => {
                leaf_pointers(&parsed, String::new(), sensitive);
                if let Value::Object(m) = &parsed {
                    for k in m.keys() {
                        merged.origins.insert(
                            k.clone(),
                            Origin {
                                file: self.secrets_file(),
                                line: 0,
                                source: OriginSource::ValuesSensitiveCustom,
                            },
                        );
                    }
                }
                deep_merge(&mut merged.value, parsed);
            }
            // Never show the parser's message: it may quote the secret.
            _ => merged.diags.push(Diagnostic::new(
                ConfigError::InvalidYaml {
                    attribute: "values_sensitive_custom".to_owned(),
                    message: "the secret is not a YAML mapping (content not shown: it is sensitive)"
                        .to_owned(),
                },
                Some(Location::file_only(&self.secrets_file())),
            )),
        }
    }

    /// The `values_sensitive_custom` entry of secrets file `file`: where a
    /// value from it is shown to come from (the value itself is encrypted).
    fn sensitive_location(&self, file: &Path) -> Location {
        let Ok(text) = self.shared.root.read_to_string(file) else {
            return Location::file_only(file);
        };
        let entry = text.lines().enumerate().find_map(|(i, line)| {
            let trimmed = line.trim_start();
            trimmed.starts_with("values_sensitive_custom").then_some((i + 1, line.len() - trimmed.len()))
        });
        let source = SourceFile::new(file.to_path_buf(), text);
        match entry {
            Some((line, lead)) => {
                let start = source.line_start(line) + lead;
                let end = start + "values_sensitive_custom".len();
                Location::at(&source, start..end)
            }
            None => Location::file_only(file),
        }
    }

    /// The nearest secrets file holding `values_sensitive_custom`, for messages.
    fn secrets_file(&self) -> PathBuf {
        let mut dir = Some(self.dir.as_path());
        while let Some(d) = dir {
            let f = d.join(crate::levels::SECRETS_FILE);
            if self.shared.root.is_file(&f) {
                return f;
            }
            dir = d.parent();
        }
        PathBuf::from(crate::levels::SECRETS_FILE)
    }

    fn validate_schema(
        &self,
        resolved: &ResolvedInputs,
        schema: &Value,
        input_sources: &BTreeMap<String, &Deferred>,
        own_file: &Path,
        diags: &mut Diagnostics,
    ) {
        if schema.is_null() || schema == &Value::Bool(true) {
            return;
        }
        let validator = match self.shared.validator(schema) {
            Ok(v) => v,
            Err(e) => {
                diags.push(Diagnostic::new(
                    ConfigError::InvalidPluginSchema { plugin: self.plugin.clone(), reason: e.to_string() },
                    None,
                ));
                return;
            }
        };
        let mut seen = BTreeSet::new();
        for err in validator.iter_errors(&resolved.value) {
            let pointer = err.instance_path().to_string();
            // Errors about a sensitive value must not quote it.
            let message = if resolved.is_sensitive(&pointer) {
                format!("the value (sensitive) is rejected by `{}`", err.kind().keyword())
            } else {
                err.to_string()
            };
            if !seen.insert((pointer.clone(), message.clone())) {
                continue;
            }
            let top = match (pointer.split('/').nth(1), err.kind()) {
                (Some(key), _) => key.replace("~1", "/").replace("~0", "~"),
                // A key the schema does not allow at the root: it came from
                // wherever that key was set.
                (None, ValidationErrorKind::AdditionalProperties { unexpected }) => {
                    unexpected.first().cloned().unwrap_or_default()
                }
                (None, _) => String::new(),
            };
            let origin = resolved.origins.get(&top);
            let location = match (input_sources.get(&top), origin.map(|o| o.source)) {
                (Some(d), Some(OriginSource::Inputs)) => Some(pointer_location(d, &pointer)),
                (_, Some(OriginSource::ValuesCustom)) => origin.map(|o| {
                    let file =
                        self.values_custom.iter().find(|d| d.file.path == o.file).map(|d| d.file.clone());
                    match file {
                        Some(f) => {
                            let start = f.line_start(o.line);
                            let text = f.line_text(o.line);
                            let lead = text.len() - text.trim_start().len();
                            Location::at(&f, start + lead..start + text.len())
                        }
                        None => Location::file_only(&o.file),
                    }
                }),
                (_, Some(OriginSource::ValuesSensitiveCustom)) => {
                    origin.map(|o| self.sensitive_location(&o.file))
                }
                _ => Some(Location::file_only(own_file)),
            };
            let mut d = Diagnostic::new(
                self.shared.scrub_error(ConfigError::Schema {
                    pointer: if pointer.is_empty() { "/".to_owned() } else { pointer.clone() },
                    message,
                }),
                location,
            );
            match origin {
                Some(o) if o.source == OriginSource::PluginDefaults => {
                    d = d.with_note(format!("the value comes from the defaults of plugin {}", self.plugin));
                }
                Some(o) if o.source == OriginSource::ValuesSensitiveCustom => {
                    let at = if pointer.is_empty() { format!("/{top}") } else { pointer.clone() };
                    d = d.with_note(format!(
                        "{at} comes from the encrypted values_sensitive_custom of {}; see it with \
                         `capstan secrets edit {}`",
                        crate::root::display(&o.file),
                        crate::root::display(&o.file)
                    ));
                }
                _ => {}
            }
            diags.push(d);
        }
    }
}
