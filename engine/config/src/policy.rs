//! `policy "name" { … }` in client.hcl and env.hcl: which policy plugin
//! checks which components' plans, whether a violation stops the run, and
//! the named exceptions to its rules.
//!
//! client.hcl's policies hold in every environment. An env.hcl may add
//! policies of its own, and may tighten one of client.hcl's (make it enforce,
//! add exceptions), but never loosen it quietly: setting it to audit or
//! changing its plugin, version, params or match is an error. An environment
//! that needs less than the organisation's rule says which components, which
//! rules and why, in a named exception a reviewer reads.
//!
//! This module reads and checks the blocks, once per file; running the
//! policies is the planner's job. A policy never sees a secret, so a value
//! from a secrets file anywhere in a policy block is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Attribute, Block, Body};
use serde::Serialize;
use serde_json::Value;

use crate::component::Component;
use crate::diag::{ConfigError, Location};
use crate::eval::{Ctx, EvalError, Map, Scope, eval, span_of};
use crate::shared::has_token;

/// What a policy does when a component's plan breaks one of its rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyMode {
    /// An error-level violation fails the component: it is not applied.
    #[default]
    Enforce,
    /// Violations are reported and nothing fails: for trying a policy out.
    Audit,
}

impl PolicyMode {
    /// The word written in HCL: `enforce` or `audit`.
    pub fn word(self) -> &'static str {
        match self {
            PolicyMode::Enforce => "enforce",
            PolicyMode::Audit => "audit",
        }
    }
}

impl fmt::Display for PolicyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Which components a policy checks: a component must be in every list that
/// is not empty; empty lists match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyMatch {
    /// Component types (`type` in component.hcl), such as `app`.
    pub types: Vec<String>,
    /// Namespaces the components' objects go in.
    pub namespaces: Vec<String>,
    /// Environment names. An env.hcl's own policy holds only that
    /// environment's name, whatever the block wrote.
    pub environments: Vec<String>,
}

impl PolicyMatch {
    fn matches(&self, c: &Component) -> bool {
        within(&self.types, &c.component_type)
            && within(&self.namespaces, &c.id.namespace)
            && within(&self.environments, &c.id.environment)
    }
}

/// A named exemption from some or all of a policy's rules, for the
/// components its selectors pick; at least one selector is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyException {
    /// Unique within the policy, across client.hcl and the env.hcl.
    pub name: String,
    /// Why it is safe; shown wherever the exception is used.
    pub reason: String,
    /// The rule ids it exempts from; empty for every rule of the policy.
    pub rules: Vec<String>,
    /// Component types it is for; empty for any.
    pub types: Vec<String>,
    /// Component directory names it is for, such as `logs`; empty for any.
    pub components: Vec<String>,
    /// Namespaces it is for; empty for any.
    pub namespaces: Vec<String>,
    /// The exception in client.hcl or env.hcl.
    #[serde(skip)]
    pub set_at: Location,
}

impl PolicyException {
    /// Whether it exempts `component` from `rule`: the rule is one it names
    /// (or it names none) and the component is picked by every selector set.
    pub fn covers(&self, rule: &str, component: &Component) -> bool {
        within(&self.rules, rule)
            && within(&self.types, &component.component_type)
            && within(&self.components, &component.id.name)
            && within(&self.namespaces, &component.id.namespace)
    }
}

/// One policy, as it holds in one environment (or, in
/// [`ClientSettings`](crate::ClientSettings), as client.hcl writes it).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyConfig {
    /// The block label.
    pub name: String,
    /// The policy plugin, `publisher/name`.
    pub plugin: String,
    /// The plugin versions it accepts.
    pub version: semver::VersionReq,
    /// Enforce (the default) or audit.
    pub mode: PolicyMode,
    /// The plugin's own settings, checked by the plugin against its schema;
    /// an empty object when not set.
    pub params: Value,
    /// Which components it checks.
    #[serde(rename = "match")]
    pub matches: PolicyMatch,
    /// client.hcl's exceptions, then the environment's.
    pub exceptions: Vec<PolicyException>,
    /// The `policy` block that defines it (client.hcl's when an env.hcl
    /// tightens it).
    #[serde(skip)]
    pub set_at: Location,
    /// The `mode` attribute that set the mode: an env.hcl's when it made
    /// the policy enforce; the block when the mode is the default.
    #[serde(skip)]
    pub mode_set_at: Location,
}

impl PolicyConfig {
    /// Whether it checks `component`: its type, namespace and environment
    /// are each in the `match` list, when that list is set.
    pub fn applies_to(&self, component: &Component) -> bool {
        self.matches.matches(component)
    }

    /// The first exception exempting `component` from `rule`, if any.
    pub fn exception_for(&self, rule: &str, component: &Component) -> Option<&PolicyException> {
        self.exceptions.iter().find(|e| e.covers(rule, component))
    }
}

fn within(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|x| x == value)
}

const POLICY_ATTRS: &str = "plugin, version, mode, params, match, exceptions";
const MATCH_KEYS: [&str; 3] = ["types", "namespaces", "environments"];
const EXCEPTION_KEYS: [&str; 6] = ["name", "reason", "rules", "types", "components", "namespaces"];
/// What an env.hcl may set in a policy client.hcl defines.
const TIGHTENING_ATTRS: &str = "mode, exceptions";

/// The labels of every `policy` block of `body`, read or not.
pub(crate) fn declared(body: &Body) -> BTreeSet<String> {
    body.get_blocks("policy").filter_map(|b| b.labels.first()).map(|l| l.as_str().to_owned()).collect()
}

/// client.hcl's policies, in order. Problems go to `errors`.
pub(crate) fn client_policies(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    body: &Body,
    errors: &mut Vec<EvalError>,
) -> Vec<PolicyConfig> {
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for block in body.get_blocks("policy") {
        let Some(name) = named(ctx, block, &mut seen, errors) else { continue };
        let Some(attrs) = attributes(ctx, scope, block, &name, errors) else { continue };
        if let Some(p) = full(ctx, block, name, &attrs, errors) {
            out.push(p);
        }
    }
    out
}

/// The policies of one environment: client.hcl's, tightened by its env.hcl,
/// then the env.hcl's own. `client_broken` names client.hcl's policies that
/// did not read (already reported), which the env.hcl is not checked against.
pub(crate) fn env_policies(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    body: &Body,
    env: &str,
    client: &[PolicyConfig],
    client_broken: &BTreeSet<String>,
    errors: &mut Vec<EvalError>,
) -> Vec<PolicyConfig> {
    let mut out = client.to_vec();
    let mut seen = BTreeMap::new();
    for block in body.get_blocks("policy") {
        let Some(name) = named(ctx, block, &mut seen, errors) else { continue };
        if client_broken.contains(&name) {
            continue;
        }
        let Some(attrs) = attributes(ctx, scope, block, &name, errors) else { continue };
        // Names are unique in this file, so a policy of that name in `out` is client.hcl's.
        if let Some(policy) = out.iter_mut().find(|p| p.name == name) {
            tighten(ctx, policy, &attrs, errors);
        } else if let Some(mut p) = full(ctx, block, name, &attrs, errors) {
            // Whatever the block says, it holds in this environment only.
            p.matches.environments = vec![env.to_owned()];
            out.push(p);
        }
    }
    out
}

/// One attribute of a policy block, evaluated.
struct Attr<'b> {
    key: &'b str,
    attr: &'b Attribute,
    value: Value,
}

impl Attr<'_> {
    fn span(&self) -> Range<usize> {
        span_of(&self.attr.value)
    }

    fn key_span(&self) -> Range<usize> {
        span_of(&self.attr.key)
    }

    fn shape(&self, expected: &str) -> EvalError {
        shape(self.key, expected, self.span())
    }
}

/// The block's label, if it has one and no earlier block of this file has it.
fn named(
    ctx: &Ctx<'_>,
    block: &Block,
    seen: &mut BTreeMap<String, Range<usize>>,
    errors: &mut Vec<EvalError>,
) -> Option<String> {
    let at = span_of(&block.ident);
    let Some(name) = block.labels.first().map(|l| l.as_str().to_owned()) else {
        errors.push(EvalError::new(
            ConfigError::UnnamedBlock {
                block: "policy".to_owned(),
                example: "policy \"name\" { plugin = \"publisher/name\" version = \"^1\" }".to_owned(),
            },
            at,
        ));
        return None;
    };
    if let Some(first) = seen.get(&name) {
        let mut e = EvalError::new(
            ConfigError::DuplicateName { what: "policy".to_owned(), name, hint: " in this file".to_owned() },
            at,
        );
        e.notes.push(format!("the first is at {}", Location::at(ctx.file, first.clone())));
        errors.push(e);
        return None;
    }
    seen.insert(name.clone(), at);
    Some(name)
}

/// The block's attributes, evaluated; `None` when one does not evaluate or
/// holds a secret (reported). Blocks inside it are reported and skipped.
fn attributes<'b>(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    block: &'b Block,
    policy: &str,
    errors: &mut Vec<EvalError>,
) -> Option<Vec<Attr<'b>>> {
    for inner in block.body.blocks() {
        let ident = inner.ident.value().as_str();
        let example = match ident {
            "match" => "match = { types = [\"app\"], namespaces = [\"payments\"] }",
            "params" => "params = { rules = { \"run-as-non-root\" = true } }",
            "exception" | "exceptions" => {
                "exceptions = [{ name = \"…\", rules = [\"…\"], types = [\"…\"], reason = \"…\" }]"
            }
            _ => "",
        };
        let error = if example.is_empty() {
            ConfigError::UnknownBlock {
                block: ident.to_owned(),
                place: format!("policy `{policy}`"),
                expected: format!("no blocks: its settings are the attributes {POLICY_ATTRS}"),
            }
        } else {
            ConfigError::NotABlock { name: ident.to_owned(), example: example.to_owned() }
        };
        errors.push(EvalError::new(error, span_of(&inner.ident)));
    }
    let mut out = Vec::new();
    let mut ok = true;
    for attr in block.body.attributes() {
        match eval(ctx, scope, &attr.value) {
            Ok(value) if holds_secret(&value) => {
                ok = false;
                errors.push(EvalError::new(
                    ConfigError::Secret {
                        message: format!(
                            "`{}` of policy `{policy}` holds a value from a secrets file: a policy never sees secrets",
                            attr.key.value()
                        ),
                    },
                    span_of(&attr.value),
                ));
            }
            Ok(value) => out.push(Attr { key: attr.key.value().as_str(), attr, value }),
            Err(e) => {
                ok = false;
                errors.push(e);
            }
        }
    }
    ok.then_some(out)
}

fn holds_secret(value: &Value) -> bool {
    match value {
        Value::String(s) => has_token(s),
        Value::Array(items) => items.iter().any(holds_secret),
        Value::Object(map) => map.iter().any(|(k, v)| has_token(k) || holds_secret(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A policy of its own: client.hcl's, or an env.hcl's under a new name.
fn full(
    ctx: &Ctx<'_>,
    block: &Block,
    name: String,
    attrs: &[Attr<'_>],
    errors: &mut Vec<EvalError>,
) -> Option<PolicyConfig> {
    let set_at = Location::at(ctx.file, span_of(&block.ident));
    let mut p = PolicyConfig {
        name,
        plugin: String::new(),
        version: semver::VersionReq::STAR,
        mode: PolicyMode::default(),
        params: Value::Object(Map::new()),
        matches: PolicyMatch::default(),
        exceptions: Vec::new(),
        mode_set_at: set_at.clone(),
        set_at,
    };
    let mut ok = true;
    let mut keep = |r: Result<(), EvalError>| {
        if let Err(e) = r {
            errors.push(e);
            ok = false;
        }
    };
    let mut exceptions = None;
    for a in attrs {
        match a.key {
            "plugin" => keep(plugin(a).map(|v| p.plugin = v)),
            "version" => keep(version(a).map(|v| p.version = v)),
            "mode" => keep(mode(a).map(|m| {
                p.mode = m;
                p.mode_set_at = Location::at(ctx.file, a.span());
            })),
            "params" => keep(match &a.value {
                Value::Object(_) => {
                    p.params = a.value.clone();
                    Ok(())
                }
                _ => Err(a.shape("an object: the policy plugin's own settings")),
            }),
            "match" => keep(matches(&p.name, a).map(|m| p.matches = m)),
            "exceptions" => exceptions = Some(a),
            other => keep(Err(EvalError::new(
                ConfigError::UnknownAttribute {
                    attribute: other.to_owned(),
                    block: format!("policy `{}`", p.name),
                    expected: POLICY_ATTRS.to_owned(),
                },
                a.key_span(),
            ))),
        }
    }
    for (key, hint) in [
        ("plugin", " (the policy plugin, \"publisher/name\")"),
        ("version", " (the policy plugin versions it accepts, a semver range such as \"^0.1\")"),
    ] {
        if !attrs.iter().any(|a| a.key == key) {
            keep(Err(EvalError::new(
                ConfigError::MissingAttribute {
                    block: format!("policy `{}`", p.name),
                    attribute: key.to_owned(),
                    hint: hint.to_owned(),
                },
                span_of(&block.ident),
            )));
        }
    }
    if let Some(a) = exceptions {
        match read_exceptions(ctx, &p.name, a, &[], errors) {
            Some(list) => p.exceptions = list,
            None => ok = false,
        }
    }
    ok.then_some(p)
}

/// An env.hcl's block for a policy client.hcl defines: it may make the
/// policy enforce and add exceptions, nothing else.
fn tighten(ctx: &Ctx<'_>, policy: &mut PolicyConfig, attrs: &[Attr<'_>], errors: &mut Vec<EvalError>) {
    for a in attrs {
        match a.key {
            "mode" => match mode(a) {
                Ok(PolicyMode::Enforce) => {
                    policy.mode = PolicyMode::Enforce;
                    policy.mode_set_at = Location::at(ctx.file, a.span());
                }
                Ok(PolicyMode::Audit) if policy.mode == PolicyMode::Enforce => {
                    errors.push(EvalError::new(
                        ConfigError::PolicyRelaxed { policy: policy.name.clone() },
                        a.span(),
                    ));
                }
                // It audits already.
                Ok(PolicyMode::Audit) => {}
                Err(e) => errors.push(e),
            },
            "exceptions" => {
                if let Some(list) = read_exceptions(ctx, &policy.name, a, &policy.exceptions, errors) {
                    policy.exceptions.extend(list);
                }
            }
            "plugin" | "version" | "params" | "match" => errors.push(EvalError::new(
                ConfigError::PolicyOverride { policy: policy.name.clone(), attribute: a.key.to_owned() },
                a.key_span(),
            )),
            other => errors.push(EvalError::new(
                ConfigError::UnknownAttribute {
                    attribute: other.to_owned(),
                    block: format!("policy `{}`, which client.hcl defines", policy.name),
                    expected: TIGHTENING_ATTRS.to_owned(),
                },
                a.key_span(),
            )),
        }
    }
}

fn plugin(a: &Attr<'_>) -> Result<String, EvalError> {
    match &a.value {
        Value::String(s) if crate::pins::is_plugin_name(s) => Ok(s.clone()),
        Value::String(s) => Err(EvalError::new(ConfigError::NotAPluginName { name: s.clone() }, a.span())),
        _ => Err(a.shape("the policy plugin's name, \"publisher/name\"")),
    }
}

fn version(a: &Attr<'_>) -> Result<semver::VersionReq, EvalError> {
    match &a.value {
        Value::String(s) => semver::VersionReq::parse(s).map_err(|e| {
            EvalError::new(
                ConfigError::NotAVersionRange { range: s.clone(), reason: e.to_string() },
                a.span(),
            )
        }),
        _ => Err(a.shape("a semver range of the policy plugin, such as \"^0.1\"")),
    }
}

fn mode(a: &Attr<'_>) -> Result<PolicyMode, EvalError> {
    match a.value.as_str() {
        Some("enforce") => Ok(PolicyMode::Enforce),
        Some("audit") => Ok(PolicyMode::Audit),
        Some(other) => Err(EvalError::new(
            ConfigError::UnknownValue {
                setting: "policy mode".to_owned(),
                value: other.to_owned(),
                expected: "enforce or audit".to_owned(),
            },
            a.span(),
        )),
        None => Err(a.shape("\"enforce\" (the default) or \"audit\"")),
    }
}

fn matches(policy: &str, a: &Attr<'_>) -> Result<PolicyMatch, EvalError> {
    let Value::Object(map) = &a.value else {
        return Err(a.shape("an object: { types = […], namespaces = […], environments = […] }"));
    };
    let spans = object_spans(&a.attr.value);
    let key_span = |key: &str| spans.get(key).map_or_else(|| a.span(), |s| s.key.clone());
    let value_span = |key: &str| spans.get(key).map_or_else(|| a.span(), |s| s.value.clone());
    if let Some(unknown) = map.keys().find(|k| !MATCH_KEYS.contains(&k.as_str())) {
        return Err(EvalError::new(
            ConfigError::UnknownAttribute {
                attribute: unknown.clone(),
                block: format!("the `match` of policy `{policy}`"),
                expected: MATCH_KEYS.join(", "),
            },
            key_span(unknown),
        ));
    }
    let list = |key: &str| strings(map, key, &format!("match.{key}"), value_span(key));
    Ok(PolicyMatch {
        types: list("types")?,
        namespaces: list("namespaces")?,
        environments: list("environments")?,
    })
}

/// The exceptions of `a`, or `None` when one is wrong (reported). Their
/// names must differ from each other and from `existing`'s.
fn read_exceptions(
    ctx: &Ctx<'_>,
    policy: &str,
    a: &Attr<'_>,
    existing: &[PolicyException],
    errors: &mut Vec<EvalError>,
) -> Option<Vec<PolicyException>> {
    let Value::Array(items) = &a.value else {
        errors.push(a.shape(
            "a list of objects: [{ name = \"…\", rules = [\"…\"], types = [\"…\"], reason = \"…\" }]",
        ));
        return None;
    };
    let elements: Vec<&Expression> = match &a.attr.value {
        Expression::Array(list) => list.iter().collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<PolicyException> = Vec::new();
    let mut ok = true;
    for (i, value) in items.iter().enumerate() {
        let expr = elements.get(i).copied();
        let at = expr.map_or_else(|| a.span(), span_of);
        match exception(ctx, policy, i + 1, value, expr, at.clone()) {
            Ok(e) => {
                if let Some(other) = existing.iter().chain(&out).find(|o| o.name == e.name) {
                    let mut d = EvalError::new(
                        ConfigError::DuplicateName {
                            what: "exception".to_owned(),
                            name: e.name.clone(),
                            hint: format!(
                                " in policy `{policy}` (names are unique within a policy, across client.hcl and env.hcl)"
                            ),
                        },
                        name_span(expr).unwrap_or(at),
                    );
                    d.notes.push(format!("the other is at {}", other.set_at));
                    errors.push(d);
                    ok = false;
                } else {
                    out.push(e);
                }
            }
            Err(e) => {
                errors.push(e);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// The `number`th exception of `policy`; `expr` is its object literal,
/// when it is one, for the spans of its keys.
fn exception(
    ctx: &Ctx<'_>,
    policy: &str,
    number: usize,
    value: &Value,
    expr: Option<&Expression>,
    at: Range<usize>,
) -> Result<PolicyException, EvalError> {
    let Value::Object(map) = value else {
        return Err(shape(
            "exceptions",
            "a list of objects: [{ name = \"…\", rules = [\"…\"], types = [\"…\"], reason = \"…\" }]",
            at,
        ));
    };
    let spans = expr.map(object_spans).unwrap_or_default();
    let key_span = |key: &str| spans.get(key).map_or_else(|| at.clone(), |s| s.key.clone());
    let value_span = |key: &str| spans.get(key).map_or_else(|| at.clone(), |s| s.value.clone());
    let name = match map.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => {
            return Err(shape("name", "a non-empty string, unique within the policy", value_span("name")));
        }
        None => {
            return Err(EvalError::new(
                ConfigError::MissingAttribute {
                    block: format!("exception {number} of policy `{policy}`"),
                    attribute: "name".to_owned(),
                    hint: " (unique within the policy, such as \"log-collector-reads-node-logs\")".to_owned(),
                },
                at,
            ));
        }
    };
    let block = format!("exception `{name}` of policy `{policy}`");
    if let Some(unknown) = map.keys().find(|k| !EXCEPTION_KEYS.contains(&k.as_str())) {
        return Err(EvalError::new(
            ConfigError::UnknownAttribute {
                attribute: unknown.clone(),
                block,
                expected: EXCEPTION_KEYS.join(", "),
            },
            key_span(unknown),
        ));
    }
    let name_at = value_span("name");
    let reason = match map.get("reason") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None => {
            return Err(EvalError::new(
                ConfigError::MissingAttribute {
                    block,
                    attribute: "reason".to_owned(),
                    hint: " (why it is safe, shown wherever the exception is used)".to_owned(),
                },
                name_at,
            ));
        }
        Some(_) => return Err(shape("reason", "a string: why the exception is safe", value_span("reason"))),
    };
    let list = |key: &str| strings(map, key, key, value_span(key));
    let exception = PolicyException {
        name,
        reason,
        rules: list("rules")?,
        types: list("types")?,
        components: list("components")?,
        namespaces: list("namespaces")?,
        set_at: Location::at(ctx.file, at),
    };
    if exception.types.is_empty() && exception.components.is_empty() && exception.namespaces.is_empty() {
        return Err(EvalError::new(
            ConfigError::ExceptionCoversEverything { policy: policy.to_owned(), exception: exception.name },
            name_at,
        ));
    }
    Ok(exception)
}

/// `map[key]` as a list of strings; absent is empty.
fn strings(map: &Map, key: &str, shown: &str, span: Range<usize>) -> Result<Vec<String>, EvalError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| shape(shown, "a list of strings", span.clone())),
        Some(_) => Err(shape(shown, "a list of strings", span)),
    }
}

/// Where one entry of an object literal is.
struct EntrySpans {
    key: Range<usize>,
    value: Range<usize>,
}

/// The spans of an object literal's entries, by key; empty when `expr` is
/// not an object literal (a local, a function call), whose entries are then
/// reported at the whole expression.
fn object_spans(expr: &Expression) -> BTreeMap<String, EntrySpans> {
    let mut out = BTreeMap::new();
    let Expression::Object(o) = expr else { return out };
    for (k, v) in o.iter() {
        let (name, key_span) = match k {
            ObjectKey::Ident(id) => (id.value().to_string(), span_of(id)),
            ObjectKey::Expression(Expression::String(s)) => (s.value().clone(), span_of(s)),
            ObjectKey::Expression(_) => continue,
        };
        out.insert(name, EntrySpans { key: key_span, value: span_of(v.expr()) });
    }
    out
}

/// The span of the `name` value of an exception's object literal.
fn name_span(expr: Option<&Expression>) -> Option<Range<usize>> {
    expr.and_then(|e| object_spans(e).remove("name")).map(|s| s.value)
}

fn shape(attribute: &str, expected: &str, span: Range<usize>) -> EvalError {
    EvalError::new(
        ConfigError::SettingShape { attribute: attribute.to_owned(), expected: expected.to_owned() },
        span,
    )
}
