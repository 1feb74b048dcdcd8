//! The levels above a component: `client.hcl`, `env.hcl`, `namespace.hcl`,
//! and the `locals` machinery every file shares.
//!
//! Each level is evaluated once and cached by directory, whatever the number
//! of components below it, which keeps a load linear in the size of the tree.
//! A level's value, seen by lower levels as `local.client`, `local.env` and
//! `local.namespace`, is its locals plus its top-level attributes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_core::Sensitive;
use hcl_edit::structure::{Body, Structure};
use serde_json::Value;

use crate::diag::{ConfigError, Diagnostic, Location, SourceFile};
use crate::eval::{Ctx, EvalError, Map, Scope, eval, local_refs, span_of};
use crate::shared::Shared;

/// Names of the level values; a file may not define locals with these names.
pub(crate) const LEVEL_NAMES: [&str; 3] = ["client", "env", "namespace"];

/// The name of encrypted secrets files, at any level.
pub(crate) const SECRETS_FILE: &str = "secrets.enc.hcl";

/// One evaluated level file.
pub(crate) struct Level {
    pub dir: PathBuf,
    pub file: Arc<SourceFile>,
    pub body: Option<Arc<crate::shared::Parsed>>,
    /// `local.client`, `local.env`, `local.namespace` as seen below this level.
    pub levels: Map,
    /// Secrets merged down to this level, as placeholder tokens.
    pub secrets: Map,
    /// This level's own value (locals + attributes).
    pub value: Map,
    /// The variables this level's own attributes and blocks were evaluated with.
    pub vars: Map,
    /// Identifies the chain of levels, for caches.
    pub key: String,
    /// This level or one above it has errors (already reported).
    pub broken: bool,
}

impl Level {
    /// The variables a file at or below this level starts with.
    pub fn root_vars(&self) -> Map {
        let mut vars = Map::new();
        vars.insert("local".to_owned(), Value::Object(self.levels.clone()));
        if !self.secrets.is_empty() {
            vars.insert("secrets".to_owned(), Value::Object(self.secrets.clone()));
        }
        vars
    }
}

/// Caches levels by directory.
#[derive(Default)]
pub(crate) struct Levels {
    cache: HashMap<PathBuf, Option<Arc<Level>>>,
}

impl Levels {
    /// Evaluates (once) the level whose file is `dir/file_name`, on top of `parent`.
    pub fn get(
        &mut self,
        shared: &Shared,
        dir: &Path,
        file_name: &str,
        level_name: &str,
        parent: Option<&Level>,
    ) -> Option<Arc<Level>> {
        if let Some(l) = self.cache.get(dir) {
            return l.clone();
        }
        let level = eval_level(shared, dir, file_name, level_name, parent).map(Arc::new);
        self.cache.insert(dir.to_path_buf(), level.clone());
        level
    }
}

fn eval_level(
    shared: &Shared,
    dir: &Path,
    file_name: &str,
    level_name: &str,
    parent: Option<&Level>,
) -> Option<Level> {
    let rel = dir.join(file_name);
    let parsed = shared.parse(&rel, None)?;
    let mut secrets = parent.map(|p| p.secrets.clone()).unwrap_or_default();
    open_secrets(shared, dir, &mut secrets);
    let levels = parent.map(|p| p.levels.clone()).unwrap_or_default();
    let key = format!("{}|{}", parent.map(|p| p.key.as_str()).unwrap_or(""), dir.display());
    let mut level = Level {
        dir: dir.to_path_buf(),
        file: parsed.file.clone(),
        body: Some(parsed.clone()),
        levels,
        secrets,
        value: Map::new(),
        vars: Map::new(),
        key,
        broken: parent.is_some_and(|p| p.broken),
    };
    let Some(body) = &parsed.body else {
        // Syntax error, already reported: lower levels see an empty value
        // rather than a cascade of "undefined" errors.
        level.levels.insert(level_name.to_owned(), Value::Object(Map::new()));
        level.broken = true;
        return Some(level);
    };
    let mut vars = level.root_vars();
    let ctx = Ctx {
        shared,
        file: &parsed.file,
        dir,
        component_dir: dir,
        levels_key: &level.key,
        levels: &level.levels,
        deps: None,
        lenient_deps: false,
    };
    let mut errors = Vec::new();
    let locals = eval_locals(&ctx, body, &mut vars, &mut errors);
    let scope_map = vars;
    let scope = Scope::Root(&scope_map);
    let mut value = locals;
    for s in body.iter() {
        if let Structure::Attribute(a) = s {
            match eval(&ctx, &scope, &a.value) {
                Ok(v) => {
                    value.insert(a.key.value().to_string(), v);
                }
                Err(e) => errors.push(e),
            }
        }
    }
    level.broken |= !errors.is_empty();
    for e in errors {
        shared.report(e.into_diagnostic(&parsed.file, shared));
    }
    level.levels.insert(level_name.to_owned(), Value::Object(value.clone()));
    level.value = value;
    level.vars = scope_map;
    Some(level)
}

/// Opens `dir/secrets.enc.hcl`, if present, into `secrets` (lower levels win).
pub(crate) fn open_secrets(shared: &Shared, dir: &Path, secrets: &mut Map) {
    let rel = dir.join(SECRETS_FILE);
    if !shared.root.is_file(&rel) {
        return;
    }
    let loc = Some(Location::file_only(&rel));
    let Some(provider) = &shared.options.secrets else {
        shared.report(Diagnostic::new(
            ConfigError::Secret {
                message: format!(
                    "{} is present but no secret provider is configured to open it",
                    rel.display()
                ),
            },
            loc,
        ));
        return;
    };
    let bytes = match shared.root.read(&rel) {
        Ok(b) => b,
        Err(e) => {
            shared.report(Diagnostic::new(ConfigError::Read { path: rel, reason: e.to_string() }, loc));
            return;
        }
    };
    match provider.open_file(&rel, &bytes) {
        Ok(values) => {
            for (name, value) in values {
                secrets.insert(name, Value::String(shared.secret_token(value)));
            }
        }
        Err(e) => shared.report(Diagnostic::new(
            ConfigError::Secret { message: format!("cannot open {}: {e}", rel.display()) },
            loc,
        )),
    }
}

/// The secrets of a level as clear values, for `values_sensitive_custom`.
pub(crate) fn reveal_secret(shared: &Shared, secrets: &Map, name: &str) -> Option<Sensitive> {
    secrets.get(name).and_then(Value::as_str).map(|t| Sensitive::new(shared.reveal(t).0))
}

/// Evaluates every `locals` block of `body` in dependency order, adding them
/// to `vars["local"]`. Returns the locals alone.
pub(crate) fn eval_locals(ctx: &Ctx<'_>, body: &Body, vars: &mut Map, errors: &mut Vec<EvalError>) -> Map {
    let mut defs: BTreeMap<String, &hcl_edit::structure::Attribute> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for block in body.get_blocks("locals") {
        for a in block.body.attributes() {
            let name = a.key.value().to_string();
            if LEVEL_NAMES.contains(&name.as_str()) {
                errors.push(EvalError::new(ConfigError::ReservedLocal { name }, span_of(&a.key)));
                continue;
            }
            if defs.insert(name.clone(), a).is_some() {
                errors.push(EvalError::new(ConfigError::DuplicateLocal { name }, span_of(&a.key)));
            } else {
                order.push(name);
            }
        }
    }
    // Depth-first topological order, so locals may refer to each other in any order.
    let mut state: HashMap<&str, u8> = HashMap::new(); // 1 = visiting, 2 = done
    let mut sorted: Vec<&str> = Vec::new();
    fn visit<'a>(
        name: &'a str,
        defs: &'a BTreeMap<String, &hcl_edit::structure::Attribute>,
        state: &mut HashMap<&'a str, u8>,
        sorted: &mut Vec<&'a str>,
        stack: &mut Vec<&'a str>,
        cycles: &mut Vec<&'a str>,
        errors: &mut Vec<EvalError>,
    ) {
        match state.get(name) {
            Some(2) => return,
            Some(1) => {
                let start = stack.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].iter().map(|n| format!("local.{n}")).collect();
                cycle.push(format!("local.{name}"));
                cycles.extend(stack[start..].iter().copied());
                if let Some(a) = defs.get(name) {
                    errors.push(EvalError::new(ConfigError::LocalCycle { cycle }, span_of(&a.key)));
                }
                return;
            }
            _ => {}
        }
        let Some((key, attr)) = defs.get_key_value(name) else { return };
        state.insert(key.as_str(), 1);
        stack.push(key.as_str());
        for dep in local_refs(&attr.value) {
            if let Some((k, _)) = defs.get_key_value(dep.as_str()) {
                visit(k.as_str(), defs, state, sorted, stack, cycles, errors);
            }
        }
        stack.pop();
        state.insert(key.as_str(), 2);
        sorted.push(key.as_str());
    }
    let mut cycles: Vec<&str> = Vec::new();
    for name in &order {
        let mut stack = Vec::new();
        visit(name.as_str(), &defs, &mut state, &mut sorted, &mut stack, &mut cycles, errors);
    }
    let mut locals = Map::new();
    // Locals in a cycle are already reported; evaluating them would only add noise.
    let mut failed: Vec<&str> = cycles;
    for name in sorted {
        let Some(attr) = defs.get(name) else { continue };
        if failed.contains(&name) {
            continue;
        }
        // A local that needs a failed one is skipped: its error is already reported.
        if local_refs(&attr.value).iter().any(|d| failed.contains(&d.as_str())) {
            failed.push(name);
            continue;
        }
        let result = {
            let scope = Scope::Root(vars);
            eval(ctx, &scope, &attr.value)
        };
        match result {
            Ok(v) => {
                locals.insert(name.to_owned(), v.clone());
                if let Some(Value::Object(l)) = vars.get_mut("local") {
                    l.insert(name.to_owned(), v);
                }
            }
            Err(e) => {
                errors.push(e);
                failed.push(name);
            }
        }
    }
    locals
}

/// `read_config(path)`: another file's locals and attributes, evaluated in
/// its own directory with the caller's levels. Cached per (file, levels).
pub(crate) fn read_config(ctx: &Ctx<'_>, rel: &Path) -> Result<Value, String> {
    let key = (rel.to_path_buf(), ctx.levels_key.to_owned());
    if let Some(v) = ctx.shared.read_config_cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return v.ok_or_else(|| format!("{} has errors (reported separately)", crate::root::display(rel)));
    }
    let Some(parsed) = ctx.shared.parse(rel, None) else {
        return Err(format!("cannot read {}", crate::root::display(rel)));
    };
    let result = parsed.body.as_ref().and_then(|body| {
        let dir = rel.parent().unwrap_or(Path::new(""));
        let sub = Ctx {
            shared: ctx.shared,
            file: &parsed.file,
            dir,
            component_dir: ctx.component_dir,
            levels_key: ctx.levels_key,
            levels: ctx.levels,
            deps: None,
            lenient_deps: false,
        };
        let mut vars = Map::new();
        vars.insert("local".to_owned(), Value::Object(ctx.levels.clone()));
        let mut errors = Vec::new();
        let locals = eval_locals(&sub, body, &mut vars, &mut errors);
        let mut out = Map::new();
        let scope = Scope::Root(&vars);
        for a in body.attributes() {
            match eval(&sub, &scope, &a.value) {
                Ok(v) => {
                    out.insert(a.key.value().to_string(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        out.insert("locals".to_owned(), Value::Object(locals));
        let ok = errors.is_empty();
        for e in errors {
            ctx.shared.report(e.into_diagnostic(&parsed.file, ctx.shared));
        }
        ok.then_some(Value::Object(out))
    });
    if let Ok(mut c) = ctx.shared.read_config_cache.lock() {
        c.insert(key, result.clone());
    }
    result.ok_or_else(|| format!("{} has errors (reported separately)", crate::root::display(rel)))
}
