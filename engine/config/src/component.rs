//! One component: its `component.hcl` (and the files it includes), read in
//! the first phase, everything but `dependency.*` evaluated.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use capstan_core::{Capability, ComponentId, File};
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Body, Structure};
use serde::Serialize;
use serde_json::Value;

use crate::diag::{ConfigError, Location, SourceFile};
use crate::eval::{Ctx, DepHint, EvalError, Map, Scope, eval, references, span_of, type_name};
use crate::levels::{Level, eval_locals, open_secrets};
use crate::root::display;
use crate::shared::Shared;

/// The command a resolution is for: mocks are allowed only for some.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    /// `capstan validate`.
    Validate,
    /// `capstan plan`.
    Plan,
    /// `capstan apply`: never uses mocks.
    Apply,
    /// `capstan destroy`.
    Destroy,
}

impl Command {
    /// The command's name as typed and as `mock_outputs_allowed_commands` lists it, e.g. `plan`.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Validate => "validate",
            Command::Plan => "plan",
            Command::Apply => "apply",
            Command::Destroy => "destroy",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Command::Validate, Command::Plan, Command::Apply, Command::Destroy]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `include "name" { merge_strategy = … }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// The included file is only read for `include.<name>` (needs `expose = true`).
    NoMerge,
    /// The component's top-level values replace the included file's.
    Shallow,
    /// Objects merge key by key, recursively; anything else: the component wins.
    Deep,
}

/// A `dependency "name" { … }` block.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DependencyDecl {
    /// The block label: what `dependency.<name>.outputs` reads.
    pub name: String,
    /// The key of the component it points to.
    pub target: String,
    /// Stand-in outputs for the commands that allow them, while the dependency has none.
    pub mock_outputs: Map,
    /// The commands that may use `mock_outputs`; never [`Command::Apply`].
    pub mock_outputs_allowed_commands: Vec<Command>,
    /// Where its `config_path` value is: where errors about it point.
    pub location: Location,
}

impl DependencyDecl {
    /// Whether `command` may use `mock_outputs` for a missing output; never for apply.
    pub fn mocks_allowed(&self, command: Command) -> bool {
        // Apply never uses mocks: it would deploy made-up values.
        command != Command::Apply && self.mock_outputs_allowed_commands.contains(&command)
    }
}

/// An expression kept for the second phase, with the scope it must see.
#[derive(Clone)]
pub(crate) struct Deferred {
    pub file: Arc<SourceFile>,
    pub dir: PathBuf,
    pub vars: Arc<Map>,
    pub expr: Expression,
    /// The attribute (`inputs = …`), for messages about the whole value.
    pub attr_span: Range<usize>,
    pub merge: MergeStrategy,
}

/// One component, as loaded. `inputs` are resolved later, with
/// [`Component::resolve_inputs`], once dependencies have outputs.
pub struct Component {
    /// Path of its directory relative to the stack root, e.g. `envs/staging/core/api`.
    pub key: String,
    /// Its name, environment and namespace (from its directory and levels).
    pub id: ComponentId,
    /// Its directory, relative to the stack root.
    pub dir: PathBuf,
    /// The `component` block's `type`, e.g. `app`, `postgres`: the outputs contract it follows.
    pub component_type: String,
    /// The `component` block's `plugin` as `publisher/name`, e.g. `capstan/app-kubernetes`.
    pub plugin: String,
    /// The versions the component accepts: its own range, or exactly the
    /// version its environment pins (see [`Component::pin`]).
    pub version: semver::VersionReq,
    /// What the environment's env.hcl pins this plugin to, if anything.
    pub pin: Option<crate::PluginPin>,
    /// The `component` block's `grants`: what the plugin's effects may do,
    /// e.g. `sql:platform-db`.
    pub grants: Vec<Capability>,
    /// `ready_timeout` of the `component` block: how long a cluster target
    /// waits for its objects to be ready (the run's default when `None`).
    pub ready_timeout: Option<Duration>,
    /// Its `dependency` blocks, merged with its includes', by block name.
    pub dependencies: BTreeMap<String, DependencyDecl>,
    /// `files = [...]`, read (inside the stack root) at load.
    pub files: Vec<File>,
    /// Where each top-level attribute and block of component.hcl is.
    pub spans: BTreeMap<String, Location>,
    /// Whether it is at or below the directory the command was run on (the
    /// others are loaded because something there depends on them).
    pub in_target: bool,
    pub(crate) inputs: Vec<Deferred>,
    pub(crate) values_custom: Vec<Deferred>,
    pub(crate) secrets: Map,
    pub(crate) levels: Map,
    pub(crate) levels_key: String,
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Component")
            .field("key", &self.key)
            .field("id", &self.id)
            .field("component_type", &self.component_type)
            .field("plugin", &self.plugin)
            .field("version", &self.version)
            .field("pin", &self.pin)
            .field("grants", &self.grants)
            .field("ready_timeout", &self.ready_timeout)
            .field("dependencies", &self.dependencies.keys().collect::<Vec<_>>())
            .field("files", &self.files)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Component {
    pub(crate) fn ctx<'a>(&'a self, file: &'a Arc<SourceFile>, dir: &'a Path) -> Ctx<'a> {
        Ctx {
            shared: &self.shared,
            file,
            dir,
            component_dir: &self.dir,
            levels_key: &self.levels_key,
            levels: &self.levels,
            deps: None,
            lenient_deps: false,
        }
    }

    pub(crate) fn dep_hints(&self, command: Command) -> BTreeMap<String, DepHint> {
        self.dependencies
            .iter()
            .map(|(n, d)| {
                let mock_hint = if d.mock_outputs.is_empty() {
                    String::new()
                } else if !d.mocks_allowed(command) {
                    format!(" (mock_outputs are not used for `{command}`)")
                } else {
                    String::new()
                };
                (n.clone(), DepHint { target: d.target.clone(), mock_hint })
            })
            .collect()
    }
}

/// What one file (the component's, or one it includes) contributes.
#[derive(Default)]
struct Part {
    component: Map,
    /// Where each attribute of the `component` block is.
    component_spans: BTreeMap<String, Range<usize>>,
    /// The `component` keyword of the last file that has the block.
    component_block: Option<Range<usize>>,
    deps: Vec<DependencyDecl>,
    inputs: Option<Deferred>,
    values_custom: Option<Deferred>,
    files: Vec<(String, Range<usize>)>,
    exposed: Map,
}

/// What an `include` block takes, with the type of each.
const INCLUDE_ATTRS: &[(&str, &str)] =
    &[("path", "a string"), ("expose", "a bool"), ("merge_strategy", "a string")];
/// What a `dependency` block takes, with the type of each.
const DEPENDENCY_ATTRS: &[(&str, &str)] = &[
    ("config_path", "a string"),
    ("mock_outputs", "an object"),
    ("mock_outputs_allowed_commands", "a list"),
];

/// An attribute `block` takes with a value of the wrong type, or one it
/// does not take at all.
fn unexpected_attribute(block: &str, key: &str, value: &Value, takes: &[(&str, &str)]) -> ConfigError {
    match takes.iter().find(|(name, _)| *name == key) {
        Some((_, expected)) => ConfigError::WrongType {
            what: format!("`{key}` in {block}"),
            expected: (*expected).to_owned(),
            found: type_name(value),
        },
        None => ConfigError::UnknownAttribute {
            attribute: key.to_owned(),
            block: block.to_owned(),
            expected: takes.iter().map(|(name, ty)| format!("{name} ({ty})")).collect::<Vec<_>>().join(", "),
        },
    }
}

const TOP_LEVEL_ATTRS: &[&str] = &["inputs", "values_custom", "files"];
const TOP_LEVEL_BLOCKS: &[&str] = &["locals", "include", "component", "dependency"];

/// Reads `dir/component.hcl` (phase one). Problems are reported to `shared`.
pub(crate) fn load_component(
    shared: &Arc<Shared>,
    level: &Level,
    dir: &Path,
    key: String,
    id: ComponentId,
) -> Option<Component> {
    let rel = dir.join("component.hcl");
    let parsed = shared.parse(&rel, None)?;
    let body = parsed.body.as_ref()?;
    let file = &parsed.file;
    let mut secrets = level.secrets.clone();
    open_secrets(shared, dir, &mut secrets);
    let mut vars = Map::new();
    vars.insert("local".to_owned(), Value::Object(level.levels.clone()));
    if !secrets.is_empty() {
        vars.insert("secrets".to_owned(), Value::Object(secrets.clone()));
    }
    let ctx = Ctx {
        shared,
        file,
        dir,
        component_dir: dir,
        levels_key: &level.key,
        levels: &level.levels,
        deps: None,
        lenient_deps: false,
    };
    let mut errors: Vec<EvalError> = Vec::new();

    // Includes first: their paths see the levels but not the component's
    // own locals, which may in turn use `include.<name>`.
    let mut included: Vec<(Part, MergeStrategy)> = Vec::new();
    let mut include_failed = false;
    let mut exposed = Map::new();
    for block in body.get_blocks("include") {
        let name = block.labels.first().map(|l| l.as_str().to_owned()).unwrap_or_default();
        if let Some((part, strategy, expose)) = include(&ctx, &vars, block, &mut errors) {
            if expose {
                if name.is_empty() {
                    errors.push(EvalError::new(ConfigError::UnnamedExpose, span_of(&block.ident)));
                } else {
                    exposed.insert(name, Value::Object(part.exposed.clone()));
                }
            }
            included.push((part, strategy));
        } else {
            include_failed = true;
        }
    }
    if !exposed.is_empty() {
        vars.insert("include".to_owned(), Value::Object(exposed));
    }
    eval_locals(&ctx, body, &mut vars, &mut errors);
    let vars = Arc::new(vars);
    let own = read_part(&ctx, &vars, body, true, &mut errors);

    // Merge: included files first, in order, then the component itself. An
    // include's merge_strategy says how the component merges over it (with
    // several includes, the last merged one decides); includes merge over
    // each other deeply.
    let child_strategy = included
        .iter()
        .rev()
        .map(|(_, s)| *s)
        .find(|s| *s != MergeStrategy::NoMerge)
        .unwrap_or(MergeStrategy::Deep);
    let parts = included
        .into_iter()
        .map(|(p, s)| (p, if s == MergeStrategy::NoMerge { s } else { MergeStrategy::Deep }))
        .chain(std::iter::once((own, child_strategy)));
    let mut merged = Part::default();
    let mut inputs = Vec::new();
    let mut values_custom = Vec::new();
    for (part, strategy) in parts {
        if strategy == MergeStrategy::NoMerge {
            continue;
        }
        if let Some(block) = part.component_block {
            if strategy == MergeStrategy::Shallow {
                merged.component.clear();
            }
            merged.component.extend(part.component);
            merged.component_spans.extend(part.component_spans);
            merged.component_block = Some(block);
        }
        for d in part.deps {
            merged.deps.retain(|x| x.name != d.name);
            merged.deps.push(d);
        }
        if let Some(mut i) = part.inputs {
            i.merge = strategy;
            inputs.push(i);
        }
        values_custom.extend(part.values_custom);
        merged.files.extend(part.files);
    }

    let mut spans = BTreeMap::new();
    for s in body.iter() {
        let (name, span) = match s {
            Structure::Attribute(a) => (a.key.value().to_string(), span_of(&a.key)),
            Structure::Block(b) => {
                let mut n = b.ident.value().to_string();
                if let Some(l) = b.labels.first() {
                    n = format!("{n}.{}", l.as_str());
                }
                (n, span_of(&b.ident))
            }
        };
        spans.insert(name, Location::at(file, span));
    }

    let component = typed_component(&merged, include_failed, &mut errors);
    let files = read_files(&ctx, &merged.files, &mut errors);
    for e in errors {
        shared.report(e.into_diagnostic(file, shared));
    }
    // A broken `component` block still gets its inputs checked, so one run
    // reports everything; the component itself is then dropped.
    let valid = component.is_some();
    let ComponentBlock { component_type, plugin, version, grants, ready_timeout } =
        component.unwrap_or_default();
    let mut dependencies = BTreeMap::new();
    for d in merged.deps {
        dependencies.insert(d.name.clone(), d);
    }
    let c = Component {
        key,
        id,
        dir: dir.to_path_buf(),
        component_type,
        plugin,
        version,
        pin: None,
        grants,
        ready_timeout,
        dependencies,
        files,
        spans,
        in_target: false,
        inputs,
        values_custom,
        secrets,
        levels: level.levels.clone(),
        levels_key: level.key.clone(),
        shared: shared.clone(),
    };
    crate::resolve::check_deferred(&c);
    valid.then_some(c)
}

/// The `component { … }` block, typed.
struct ComponentBlock {
    component_type: String,
    plugin: String,
    version: semver::VersionReq,
    grants: Vec<Capability>,
    ready_timeout: Option<Duration>,
}

impl Default for ComponentBlock {
    fn default() -> Self {
        Self {
            component_type: String::new(),
            plugin: String::new(),
            version: semver::VersionReq::STAR,
            grants: Vec::new(),
            ready_timeout: None,
        }
    }
}

const COMPONENT_ATTRS: &[&str] = &["type", "plugin", "version", "grants", "ready_timeout"];

/// `include_failed`: an include could not be read (already reported); what
/// it would have provided is not reported missing again.
fn typed_component(part: &Part, include_failed: bool, errors: &mut Vec<EvalError>) -> Option<ComponentBlock> {
    let Some(block_span) = part.component_block.clone() else {
        if include_failed {
            return None;
        }
        errors.push(EvalError::new(ConfigError::NoComponentBlock, 0..0));
        return None;
    };
    let span = |k: &str| part.component_spans.get(k).cloned().unwrap_or(0..0);
    let string = |k: &str, errors: &mut Vec<EvalError>| match part.component.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(EvalError::new(
                ConfigError::WrongType {
                    what: format!("component `{k}`"),
                    expected: "a string".to_owned(),
                    found: type_name(other),
                },
                span(k),
            ));
            None
        }
        // Present but failed to evaluate: that error is already reported.
        None if part.component_spans.contains_key(k) || include_failed => None,
        None => {
            errors.push(EvalError::new(
                ConfigError::MissingAttribute {
                    block: "the `component` block".to_owned(),
                    attribute: k.to_owned(),
                    hint: String::new(),
                },
                block_span.clone(),
            ));
            None
        }
    };
    let ty = string("type", errors);
    let plugin = string("plugin", errors);
    let version = match part.component.get("version") {
        None => Some(semver::VersionReq::STAR),
        Some(Value::String(v)) => match semver::VersionReq::parse(v) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(EvalError::new(
                    ConfigError::NotAVersionRange { range: v.clone(), reason: e.to_string() },
                    span("version"),
                ));
                None
            }
        },
        Some(other) => {
            errors.push(EvalError::new(
                ConfigError::WrongType {
                    what: "component `version`".to_owned(),
                    expected: "a string".to_owned(),
                    found: type_name(other),
                },
                span("version"),
            ));
            None
        }
    };
    let mut grants = Vec::new();
    match part.component.get("grants") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str().and_then(Capability::parse_grant) {
                    Some(g) => grants.push(g),
                    None => errors.push(EvalError::new(
                        ConfigError::UnknownValue {
                            setting: "grant".to_owned(),
                            value: item.as_str().map_or_else(|| item.to_string(), str::to_owned),
                            expected: "\"sql:<connection>\", \"amqp:<connection>\", \"jetstream:<connection>\", \"vault:<connection>\", \"http:<service>\" or \"read-component-dir\"".to_owned(),
                        },
                        span("grants"),
                    )),
                }
            }
        }
        Some(other) => errors.push(EvalError::new(
            ConfigError::WrongType {
                what: "component `grants`".to_owned(),
                expected: "a list".to_owned(),
                found: type_name(other),
            },
            span("grants"),
        )),
    }
    let ready_timeout = match part.component.get("ready_timeout") {
        None => Some(None),
        Some(Value::String(text)) => match crate::duration::parse_duration(text) {
            Ok(d) => Some(Some(d)),
            Err(e) => {
                errors.push(EvalError::new(
                    ConfigError::SettingValue {
                        attribute: "ready_timeout".to_owned(),
                        reason: e.to_string(),
                    },
                    span("ready_timeout"),
                ));
                None
            }
        },
        Some(other) => {
            errors.push(EvalError::new(
                ConfigError::WrongType {
                    what: "component `ready_timeout`".to_owned(),
                    expected: "a string such as \"10m\"".to_owned(),
                    found: type_name(other),
                },
                span("ready_timeout"),
            ));
            None
        }
    };
    for k in part.component.keys() {
        if !COMPONENT_ATTRS.contains(&k.as_str()) {
            errors.push(EvalError::new(
                ConfigError::UnknownAttribute {
                    attribute: k.clone(),
                    block: "the `component` block".to_owned(),
                    expected: COMPONENT_ATTRS.join(", "),
                },
                span(k),
            ));
        }
    }
    Some(ComponentBlock {
        component_type: ty?,
        plugin: plugin?,
        version: version?,
        grants,
        ready_timeout: ready_timeout?,
    })
}

fn read_files(ctx: &Ctx<'_>, files: &[(String, Range<usize>)], errors: &mut Vec<EvalError>) -> Vec<File> {
    let mut out = Vec::new();
    for (path, span) in files {
        let Some(rel) = ctx.shared.root.confine(ctx.dir, path) else {
            errors.push(EvalError::new(ConfigError::OutsideRoot { path: path.clone() }, span.clone()));
            continue;
        };
        match ctx.shared.root.read(&rel) {
            Ok(contents) => out.push(File { path: path.clone(), contents }),
            Err(e) => errors
                .push(EvalError::new(ConfigError::Read { path: rel, reason: e.to_string() }, span.clone())),
        }
    }
    out
}

/// An `include` block: reads and evaluates the included file.
fn include(
    ctx: &Ctx<'_>,
    vars: &Map,
    block: &hcl_edit::structure::Block,
    errors: &mut Vec<EvalError>,
) -> Option<(Part, MergeStrategy, bool)> {
    let scope = Scope::Root(vars);
    let mut path = None;
    let mut strategy = MergeStrategy::Shallow;
    let mut expose = false;
    for a in block.body.attributes() {
        let v = match eval(ctx, &scope, &a.value) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                return None;
            }
        };
        match (a.key.value().as_str(), v) {
            ("path", Value::String(p)) => path = Some((p, span_of(&a.value))),
            ("expose", Value::Bool(b)) => expose = b,
            ("merge_strategy", Value::String(s)) => {
                strategy = match s.as_str() {
                    "no_merge" => MergeStrategy::NoMerge,
                    "shallow" => MergeStrategy::Shallow,
                    "deep" => MergeStrategy::Deep,
                    _ => {
                        errors.push(EvalError::new(
                            ConfigError::UnknownValue {
                                setting: "merge_strategy".to_owned(),
                                value: s,
                                expected: "no_merge, shallow or deep".to_owned(),
                            },
                            span_of(&a.value),
                        ));
                        return None;
                    }
                }
            }
            (k, v) => {
                errors.push(EvalError::new(
                    unexpected_attribute("`include`", k, &v, INCLUDE_ATTRS),
                    span_of(&a.key),
                ));
                return None;
            }
        }
    }
    let Some((path, path_span)) = path else {
        errors.push(EvalError::new(
            ConfigError::MissingAttribute {
                block: "`include`".to_owned(),
                attribute: "path".to_owned(),
                hint: String::new(),
            },
            span_of(&block.ident),
        ));
        return None;
    };
    let Some(rel) = ctx.shared.root.confine(ctx.dir, &path) else {
        errors.push(EvalError::new(ConfigError::OutsideRoot { path }, path_span));
        return None;
    };
    if !ctx.shared.root.is_file(&rel) {
        errors.push(EvalError::new(
            ConfigError::IncludeNotFound { path, reason: format!("no file at {}", display(&rel)) },
            path_span,
        ));
        return None;
    }
    let parsed = ctx.shared.parse(&rel, None)?;
    let body = parsed.body.as_ref()?;
    let inc_dir = rel.parent().unwrap_or(Path::new("")).to_path_buf();
    let sub = Ctx { file: &parsed.file, dir: &inc_dir, ..*ctx };
    let mut inc_vars = Map::new();
    inc_vars.insert("local".to_owned(), Value::Object(ctx.levels.clone()));
    if let Some(s) = vars.get("secrets") {
        inc_vars.insert("secrets".to_owned(), s.clone());
    }
    let mut inc_errors = Vec::new();
    let locals = eval_locals(&sub, body, &mut inc_vars, &mut inc_errors);
    let inc_vars = Arc::new(inc_vars);
    let mut part = read_part(&sub, &inc_vars, body, false, &mut inc_errors);
    part.exposed.insert("locals".to_owned(), Value::Object(locals));
    for e in inc_errors {
        ctx.shared.report(e.into_diagnostic(&parsed.file, ctx.shared));
    }
    Some((part, strategy, expose))
}

/// Reads the blocks and attributes of a component file or an included file.
fn read_part(
    ctx: &Ctx<'_>,
    vars: &Arc<Map>,
    body: &Body,
    is_component: bool,
    errors: &mut Vec<EvalError>,
) -> Part {
    let mut part = Part::default();
    for s in body.iter() {
        match s {
            Structure::Block(b) => read_block(ctx, vars, b, is_component, &mut part, errors),
            Structure::Attribute(a) => read_attribute(ctx, vars, a, is_component, &mut part, errors),
        }
    }
    part
}

/// One block of a component.hcl or an included file, into `part`.
fn read_block(
    ctx: &Ctx<'_>,
    vars: &Arc<Map>,
    b: &hcl_edit::structure::Block,
    is_component: bool,
    part: &mut Part,
    errors: &mut Vec<EvalError>,
) {
    let scope = Scope::Root(vars);
    match b.ident.value().as_str() {
        "locals" => {}
        "include" if is_component => {}
        "include" => errors.push(EvalError::new(ConfigError::NestedInclude, span_of(&b.ident))),
        "component" => {
            part.component_block = Some(span_of(&b.ident));
            for a in b.body.attributes() {
                let k = a.key.value().to_string();
                part.component_spans.insert(k.clone(), span_of(&a.value));
                match eval(ctx, &scope, &a.value) {
                    Ok(v) => {
                        part.component.insert(k, v);
                    }
                    Err(e) => errors.push(e),
                }
            }
            part.exposed.insert("component".to_owned(), Value::Object(part.component.clone()));
        }
        "dependency" => {
            if let Some(d) = dependency(ctx, &scope, b, errors) {
                part.deps.push(d);
            }
        }
        other => errors.push(EvalError::new(
            ConfigError::UnknownBlock {
                block: other.to_owned(),
                place: "component.hcl".to_owned(),
                expected: TOP_LEVEL_BLOCKS.join(", "),
            },
            span_of(&b.ident),
        )),
    }
}

/// One top-level attribute of a component.hcl or an included file, into `part`.
fn read_attribute(
    ctx: &Ctx<'_>,
    vars: &Arc<Map>,
    a: &hcl_edit::structure::Attribute,
    is_component: bool,
    part: &mut Part,
    errors: &mut Vec<EvalError>,
) {
    let scope = Scope::Root(vars);
    let k = a.key.value().as_str();
    let attr_span = span_of(a);
    let deferred = || Deferred {
        file: ctx.file.clone(),
        dir: ctx.dir.to_path_buf(),
        vars: vars.clone(),
        expr: a.value.clone(),
        attr_span: attr_span.clone(),
        merge: MergeStrategy::Deep,
    };
    match k {
        "inputs" => {
            if let Expression::Object(o) = &a.value {
                for (key, _) in o.iter() {
                    let name = match key {
                        ObjectKey::Ident(i) => i.value().to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                        ObjectKey::Expression(_) => continue,
                    };
                    if name == "values_template" {
                        errors.push(EvalError::new(ConfigError::ValuesTemplate, span_of(key)));
                    }
                }
            }
            part.inputs = Some(deferred());
        }
        "values_custom" => part.values_custom = Some(deferred()),
        "values_template" => {
            errors.push(EvalError::new(ConfigError::ValuesTemplate, span_of(&a.key)));
        }
        "files" => match eval(ctx, &scope, &a.value) {
            Ok(Value::Array(items)) => {
                let spans: Vec<Range<usize>> = match &a.value {
                    Expression::Array(arr) => arr.iter().map(span_of).collect(),
                    _ => Vec::new(),
                };
                for (i, item) in items.into_iter().enumerate() {
                    let span = spans.get(i).cloned().unwrap_or_else(|| span_of(&a.value));
                    match item {
                        Value::String(p) => part.files.push((p, span)),
                        other => errors.push(EvalError::new(
                            ConfigError::WrongType {
                                what: "each of `files`".to_owned(),
                                expected: "a path (a string)".to_owned(),
                                found: type_name(&other),
                            },
                            span,
                        )),
                    }
                }
            }
            Ok(other) => errors.push(EvalError::new(
                ConfigError::WrongType {
                    what: "`files`".to_owned(),
                    expected: "a list of paths".to_owned(),
                    found: type_name(&other),
                },
                span_of(&a.value),
            )),
            Err(e) => errors.push(e),
        },
        other if is_component => errors.push(EvalError::new(
            ConfigError::UnknownAttribute {
                attribute: other.to_owned(),
                block: "component.hcl".to_owned(),
                expected: format!("{}; put your own values in `locals`", TOP_LEVEL_ATTRS.join(", ")),
            },
            span_of(&a.key),
        )),
        other => {
            // An included file may hold other values for `include.<name>.<attr>`.
            if !references(&a.value, "dependency") {
                match eval(ctx, &scope, &a.value) {
                    Ok(v) => {
                        part.exposed.insert(other.to_owned(), v);
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
    }
}

fn dependency(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    b: &hcl_edit::structure::Block,
    errors: &mut Vec<EvalError>,
) -> Option<DependencyDecl> {
    let Some(name) = b.labels.first().map(|l| l.as_str().to_owned()) else {
        errors.push(EvalError::new(
            ConfigError::UnnamedBlock {
                block: "dependency".to_owned(),
                example: "dependency \"db\" { … }".to_owned(),
            },
            span_of(&b.ident),
        ));
        return None;
    };
    let mut config_path = None;
    let mut mock_outputs = Map::new();
    let mut allowed = Vec::new();
    for a in b.body.attributes() {
        let k = a.key.value().as_str();
        let v = match eval(ctx, scope, &a.value) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                return None;
            }
        };
        match (k, v) {
            ("config_path", Value::String(p)) => config_path = Some((p, span_of(&a.value))),
            ("mock_outputs", Value::Object(m)) => mock_outputs = m,
            ("mock_outputs_allowed_commands", Value::Array(cmds)) => {
                for c in cmds {
                    let s = c.as_str().unwrap_or("");
                    match Command::parse(s) {
                        Some(Command::Apply) => {
                            errors.push(EvalError::new(ConfigError::MocksInApply, span_of(&a.value)))
                        }
                        Some(cmd) => allowed.push(cmd),
                        None => errors.push(EvalError::new(
                            ConfigError::UnknownValue {
                                setting: "command".to_owned(),
                                value: s.to_owned(),
                                expected: "validate, plan, destroy".to_owned(),
                            },
                            span_of(&a.value),
                        )),
                    }
                }
            }
            (k, v) => errors.push(EvalError::new(
                unexpected_attribute("`dependency`", k, &v, DEPENDENCY_ATTRS),
                span_of(&a.key),
            )),
        }
    }
    let Some((path, span)) = config_path else {
        errors.push(EvalError::new(
            ConfigError::MissingAttribute {
                block: format!("dependency `{name}`"),
                attribute: "config_path".to_owned(),
                hint: String::new(),
            },
            span_of(&b.ident),
        ));
        return None;
    };
    // Relative to the component's directory, also inside an included template,
    // so one template serves every component that includes it.
    let Some(target) = ctx.shared.root.confine(ctx.component_dir, &path) else {
        errors.push(EvalError::new(ConfigError::OutsideRoot { path }, span));
        return None;
    };
    Some(DependencyDecl {
        name,
        target: display(&target),
        mock_outputs,
        mock_outputs_allowed_commands: allowed,
        location: Location::at(ctx.file, span),
    })
}
