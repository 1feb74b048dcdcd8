//! Per-environment plugin pins, in env.hcl:
//!
//! ```hcl
//! plugins = {
//!   "capstan/app" = "1.4.2"   # exactly this version in this environment
//!   "acme/core"   = "local"   # the build in plugins_local_dir, for developing it
//! }
//! plugins_local_dir = "plugins/acme-core/target/wasm32-wasip2/release"
//! ```
//!
//! A version pin replaces the component's range by that exact version for
//! every component of the environment using the plugin; it must lie inside
//! the component's range. `local` leaves version choice to what is built:
//! the engine loads the plugin from `plugins_local_dir` (relative to the
//! stack root) and never locks it, so each rebuild is picked up.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::Body;
use serde::Serialize;
use serde_json::Value;

use crate::component::Component;
use crate::diag::{ConfigError, Diagnostic, Location, SourceFile};
use crate::eval::{EvalError, Map, span_of, type_name};
use crate::root::display;

/// The version special to pins: use the repository's own build.
pub const LOCAL_VERSION: &str = "local";

/// What an environment pins a component's plugin to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginPin {
    /// Exactly this version from the plugin sources (locked like any other).
    Version(semver::Version),
    /// The plugin's build in `dir` (relative to the stack root); never locked.
    Local {
        /// env.hcl's `plugins_local_dir`, relative to the stack root, e.g.
        /// `plugins/acme-core/target/wasm32-wasip2/release`.
        dir: PathBuf,
    },
}

enum Pin {
    Version(semver::Version),
    Local,
}

/// The pins of one env.hcl, checked.
#[derive(Default)]
pub(crate) struct EnvPins {
    pins: BTreeMap<String, (Pin, Location)>,
    local_dir: Option<PathBuf>,
}

/// Reads `plugins` and `plugins_local_dir` from an env.hcl's evaluated
/// `value`, with spans from its `body`. Problems go to `errors`.
pub(crate) fn parse_env_pins(
    body: &Body,
    file: &SourceFile,
    value: &Map,
    errors: &mut Vec<EvalError>,
) -> EnvPins {
    let mut out = EnvPins::default();
    let attr_span = |name: &str| body.get_attribute(name).map(|a| span_of(&a.key)).unwrap_or(0..0);
    let local_dir = match value.get("plugins_local_dir") {
        None => None,
        Some(Value::String(dir)) => match inside_root(dir) {
            Some(d) => Some(d),
            None => {
                errors.push(EvalError::new(
                    ConfigError::LocalDirOutsideRoot { dir: dir.clone() },
                    attr_span("plugins_local_dir"),
                ));
                None
            }
        },
        Some(other) => {
            errors.push(EvalError::new(
                ConfigError::WrongType {
                    what: "`plugins_local_dir`".to_owned(),
                    expected: "a string".to_owned(),
                    found: type_name(other),
                },
                attr_span("plugins_local_dir"),
            ));
            None
        }
    };
    out.local_dir = local_dir;
    let pins = match value.get("plugins") {
        None => return out,
        Some(Value::Object(m)) => m,
        Some(other) => {
            errors.push(EvalError::new(
                ConfigError::WrongType {
                    what: "`plugins`".to_owned(),
                    expected:
                        "an object of plugin names to versions (plugins = { \"acme/app\" = \"1.4.2\" })"
                            .to_owned(),
                    found: type_name(other),
                },
                attr_span("plugins"),
            ));
            return out;
        }
    };
    let spans = item_spans(body);
    for (name, v) in pins {
        let (key_span, value_span) =
            spans.get(name).cloned().unwrap_or_else(|| (attr_span("plugins"), attr_span("plugins")));
        if !is_plugin_name(name) {
            errors.push(EvalError::new(ConfigError::NotAPluginName { name: name.clone() }, key_span));
            continue;
        }
        let pin = match v {
            Value::String(s) if s == LOCAL_VERSION => {
                if out.local_dir.is_none() && !value.contains_key("plugins_local_dir") {
                    errors.push(EvalError::new(
                        ConfigError::LocalPinWithoutDir { name: name.clone() },
                        value_span,
                    ));
                    continue;
                }
                Pin::Local
            }
            Value::String(s) => match semver::Version::parse(s) {
                Ok(v) => Pin::Version(v),
                Err(e) => {
                    let hint = if semver::VersionReq::parse(s).is_ok() {
                        " (a pin is one exact version; ranges belong in component.hcl's `version`)"
                    } else {
                        ""
                    };
                    errors.push(EvalError::new(
                        ConfigError::BadPin {
                            name: name.clone(),
                            pin: s.clone(),
                            reason: e.to_string(),
                            hint: hint.to_owned(),
                        },
                        value_span,
                    ));
                    continue;
                }
            },
            other => {
                errors.push(EvalError::new(
                    ConfigError::WrongType {
                        what: format!("the pin of `{name}`"),
                        expected: "a version string".to_owned(),
                        found: type_name(other),
                    },
                    value_span,
                ));
                continue;
            }
        };
        out.pins.insert(name.clone(), (pin, Location::at(file, value_span)));
    }
    out
}

impl EnvPins {
    /// Applies this environment's pin, if any, to `c`'s plugin. A version
    /// outside the component's own range is an error saying both.
    pub(crate) fn apply(&self, c: &mut Component) -> Option<Diagnostic> {
        let (pin, at) = self.pins.get(&c.plugin)?;
        match pin {
            Pin::Version(v) if c.version.matches(v) => {
                c.version = exact(v);
                c.pin = Some(PluginPin::Version(v.clone()));
                None
            }
            Pin::Version(v) => Some(Diagnostic::new(
                ConfigError::PinOutsideRange {
                    pin_file: display(&at.file),
                    plugin: c.plugin.clone(),
                    version: v.to_string(),
                    range: c.version.to_string(),
                    component_file: display(&c.dir.join("component.hcl")),
                },
                Some(at.clone()),
            )),
            Pin::Local => {
                // Without a valid directory the pin was already reported.
                let dir = self.local_dir.clone()?;
                c.pin = Some(PluginPin::Local { dir });
                None
            }
        }
    }
}

/// `=v`, build metadata aside (semver ranges ignore it).
fn exact(v: &semver::Version) -> semver::VersionReq {
    semver::VersionReq {
        comparators: vec![semver::Comparator {
            op: semver::Op::Exact,
            major: v.major,
            minor: Some(v.minor),
            patch: Some(v.patch),
            pre: v.pre.clone(),
        }],
    }
}

/// Key and value spans of each item of a literal `plugins = { … }`.
fn item_spans(body: &Body) -> BTreeMap<String, (Range<usize>, Range<usize>)> {
    let mut out = BTreeMap::new();
    let Some(Expression::Object(o)) = body.get_attribute("plugins").map(|a| &a.value) else { return out };
    for (k, v) in o.iter() {
        let name = match k {
            ObjectKey::Ident(id) => id.value().to_string(),
            ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
            ObjectKey::Expression(_) => continue,
        };
        let key_span = match k {
            ObjectKey::Ident(id) => span_of(id),
            ObjectKey::Expression(e) => span_of(e),
        };
        out.insert(name, (key_span, span_of(v.expr())));
    }
    out
}

/// `publisher/name`: two non-empty parts.
pub(crate) fn is_plugin_name(name: &str) -> bool {
    name.split('/').count() == 2 && !name.split('/').any(str::is_empty)
}

/// `dir` as a normalised path below the stack root, if it stays there.
fn inside_root(dir: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in std::path::Path::new(dir).components() {
        match part {
            std::path::Component::Normal(p) => out.push(p),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            std::path::Component::RootDir | std::path::Component::Prefix(_) => return None,
        }
    }
    Some(out)
}
