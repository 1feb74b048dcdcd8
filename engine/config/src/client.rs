//! The organisation-wide settings in `client.hcl` the engine acts on:
//! where state lives, where plugins come from, what it may connect to, and
//! whom it trusts. Settings this crate does not know are kept as raw JSON
//! rather than guessed at.

use std::collections::BTreeMap;

use capstan_core::{Sensitive, Text};
use hcl_edit::structure::{Block, Body};
use serde::Serialize;
use serde_json::Value;

use crate::diag::ConfigError;
use crate::eval::{Ctx, EvalError, Map, Scope, eval, span_of};
use crate::limits::PluginLimits;
use crate::policy::PolicyConfig;
use crate::shared::{Shared, has_token};
use crate::target::TargetSettings;

/// What client.hcl sets for the whole stack; every environment starts from it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClientSettings {
    /// `state { backend = … }`; local when absent.
    pub state: StateBackend,
    /// `state { revisions = N }`: how many revisions each environment keeps
    /// (the state crate's default when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revisions_kept: Option<usize>,
    /// `plugin_source "name" { … }`, by name.
    pub plugin_sources: BTreeMap<String, PluginSource>,
    /// `connection "name" { … }`, by name: the targets of effects.
    pub connections: BTreeMap<String, Connection>,
    /// `trust "publisher" { … }` blocks, in order.
    pub trust: Vec<Trust>,
    /// `target "render"` and `target "kube"`: every environment's defaults.
    pub target: TargetSettings,
    /// `plugin_limits "publisher/name" { … }`, by plugin name.
    pub plugin_limits: BTreeMap<String, PluginLimits>,
    /// `policy "name" { … }`, in client.hcl's order: every environment's
    /// policies, before env.hcl tightens them ([`Stack::policies_for`](crate::Stack::policies_for)).
    pub policies: Vec<PolicyConfig>,
    /// Every other block of client.hcl, as `{ type: { label: body } }` or
    /// `{ type: body }`, evaluated.
    pub other_blocks: Map,
    /// client.hcl's locals and attributes (what `local.client` holds).
    pub values: Map,
}

/// Where plan/apply state lives, from client.hcl's `state` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(tag = "backend", rename_all = "kebab-case")]
pub enum StateBackend {
    /// A file under the stack root (default `.capstan/state.json`).
    #[default]
    Local,
    /// `backend = "local"` with a `path`: `state.json` in that directory.
    LocalPath {
        /// The state directory, relative to the stack root.
        path: String,
    },
    /// `backend = "postgres"`: a PostgreSQL database.
    Postgres {
        /// Connection URL; sensitive when it came from a secrets file.
        url: Text,
        /// The block's other attributes (`stack`, `connect_timeout`, …),
        /// secrets shown as "(sensitive)".
        settings: Map,
    },
    /// A backend this crate does not know; the state crate decides.
    Other {
        /// The `backend` value as written.
        name: String,
        /// The block's other attributes, secrets shown as "(sensitive)".
        settings: Map,
    },
}

/// Where plugin bundles come from: a `plugin_source` block of client.hcl.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PluginSource {
    /// A directory of plugin bundles, relative to the stack root.
    Dir {
        /// The directory of `*.bundle` files, relative to the stack root.
        path: String,
    },
    /// An HTTP(S) server serving the `index.json` that `capstan plugin index` writes.
    Http {
        /// Base URL of the index and its bundles.
        url: String,
    },
    /// An OCI registry: `url` is `[scheme://]host[:port][/prefix]`.
    Oci {
        /// `[scheme://]host[:port][/prefix]`; plugin `p/n` is repository `<prefix>/p/n`.
        url: String,
        /// The login, when the registry wants one (both or neither).
        #[serde(skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// The login's password, from a secrets file (clear text is refused).
        #[serde(skip)]
        password: Option<Sensitive>,
    },
}

/// Something effects may target (a database, a broker, an API): a
/// `connection` block of client.hcl or env.hcl.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Connection {
    /// The block label, as grants name it (`sql:<name>`, `amqp:<name>`).
    pub name: String,
    /// `postgres`, `amqp`, `http`, …
    pub kind: String,
    /// Sensitive when it holds a secret (it usually does: credentials).
    pub url: Option<Text>,
    /// The other attributes, with secrets shown as "(sensitive)".
    pub settings: Map,
    /// The settings that held secrets, in clear, for the driver.
    #[serde(skip)]
    pub sensitive_settings: BTreeMap<String, Sensitive>,
}

/// Which publisher keys may sign which plugins: a `trust` block of
/// client.hcl, checked by the registry crate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trust {
    /// The block label (a publisher name), if any.
    pub name: Option<String>,
    /// The block's attributes as written: `keys`, `key_files`, `plugins`, ….
    pub settings: Map,
}

/// Reads client.hcl's blocks. Problems go to `errors`.
pub(crate) fn parse_client(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    body: &Body,
    values: Map,
    errors: &mut Vec<EvalError>,
) -> ClientSettings {
    let mut out = ClientSettings { values, ..ClientSettings::default() };
    for block in body.blocks() {
        let ident = block.ident.value().as_str();
        if ident == "target" || ident == "policy" {
            // Read below, attribute by attribute.
            continue;
        }
        let label = block.labels.first().map(|l| l.as_str().to_owned());
        let Some(attrs) = block_attrs(ctx, scope, block, errors) else { continue };
        match ident {
            "locals" => {}
            "state" => {
                let mut attrs = attrs;
                match attrs.remove("revisions").map(|v| revisions_kept(&v, block)).transpose() {
                    Ok(kept) => out.revisions_kept = kept,
                    Err(e) => errors.push(e),
                }
                match state_backend(ctx.shared, block, attrs) {
                    Ok(s) => out.state = s,
                    Err(e) => errors.push(e),
                }
            }
            "plugin_source" => {
                let Some(name) = need_label(block, "plugin_source", errors) else { continue };
                match plugin_source(ctx.shared, block, &attrs) {
                    Ok(s) => {
                        out.plugin_sources.insert(name, s);
                    }
                    Err(e) => errors.push(e),
                }
            }
            "connection" => {
                let Some(name) = need_label(block, "connection", errors) else { continue };
                match connection(ctx.shared, block, name.clone(), attrs) {
                    Ok(c) => {
                        out.connections.insert(name, c);
                    }
                    Err(e) => errors.push(e),
                }
            }
            "trust" => out.trust.push(Trust { name: label, settings: attrs }),
            "plugin_limits" => {
                let Some(name) = need_label(block, "plugin_limits", errors) else { continue };
                match crate::limits::plugin_limits(block, &attrs) {
                    Ok(limits) => {
                        out.plugin_limits.insert(name, limits);
                    }
                    Err(e) => errors.push(e),
                }
            }
            _ => {
                let v = Value::Object(attrs);
                match label {
                    Some(l) => {
                        let entry = out
                            .other_blocks
                            .entry(ident.to_owned())
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(m) = entry {
                            m.insert(l, v);
                        }
                    }
                    None => {
                        out.other_blocks.insert(ident.to_owned(), v);
                    }
                }
            }
        }
    }
    out.target = crate::target::parse_targets(ctx, scope, body, errors);
    out.policies = crate::policy::client_policies(ctx, scope, body, errors);
    out
}

/// `connection` blocks of an env.hcl (they override the client's by name).
pub(crate) fn parse_connections(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    body: &Body,
    errors: &mut Vec<EvalError>,
) -> BTreeMap<String, Connection> {
    let mut out = BTreeMap::new();
    for block in body.get_blocks("connection") {
        let Some(name) = need_label(block, "connection", errors) else { continue };
        let Some(attrs) = block_attrs(ctx, scope, block, errors) else { continue };
        match connection(ctx.shared, block, name.clone(), attrs) {
            Ok(c) => {
                out.insert(name, c);
            }
            Err(e) => errors.push(e),
        }
    }
    out
}

fn need_label(block: &Block, what: &str, errors: &mut Vec<EvalError>) -> Option<String> {
    match block.labels.first() {
        Some(l) => Some(l.as_str().to_owned()),
        None => {
            errors.push(at_block(
                ConfigError::UnnamedBlock {
                    block: what.to_owned(),
                    example: format!("{what} \"name\" {{ … }}"),
                },
                block,
            ));
            None
        }
    }
}

fn block_attrs(ctx: &Ctx<'_>, scope: &Scope<'_>, block: &Block, errors: &mut Vec<EvalError>) -> Option<Map> {
    let mut m = Map::new();
    let mut ok = true;
    for a in block.body.attributes() {
        match eval(ctx, scope, &a.value) {
            Ok(v) => {
                m.insert(a.key.value().to_string(), v);
            }
            Err(e) => {
                errors.push(e);
                ok = false;
            }
        }
    }
    ok.then_some(m)
}

fn at_block(error: ConfigError, block: &Block) -> EvalError {
    EvalError::new(error, span_of(&block.ident))
}

fn missing(block: &str, attribute: &str, hint: &str, at: &Block) -> EvalError {
    at_block(
        ConfigError::MissingAttribute {
            block: block.to_owned(),
            attribute: attribute.to_owned(),
            hint: hint.to_owned(),
        },
        at,
    )
}

fn str_attr(attrs: &Map, key: &str) -> Option<String> {
    attrs.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn text(shared: &Shared, s: &str) -> Text {
    let (clear, secret) = shared.reveal(s);
    if secret { Text::Sensitive(Sensitive::new(clear)) } else { Text::Plain(clear) }
}

/// Replaces secret tokens by "(sensitive)" in displayable settings,
/// collecting the clear values apart.
fn split_sensitive(shared: &Shared, mut attrs: Map) -> (Map, BTreeMap<String, Sensitive>) {
    let mut sens = BTreeMap::new();
    for (k, v) in &mut attrs {
        if let Value::String(s) = v
            && has_token(s)
        {
            sens.insert(k.clone(), Sensitive::new(shared.reveal(s).0));
            *v = Value::String(capstan_core::REDACTED.to_owned());
        }
    }
    (attrs, sens)
}

fn state_backend(shared: &Shared, block: &Block, mut attrs: Map) -> Result<StateBackend, EvalError> {
    let Some(backend) = str_attr(&attrs, "backend") else {
        return Err(missing("`state`", "backend", " (\"local\" or \"postgres\")", block));
    };
    attrs.remove("backend");
    Ok(match backend.as_str() {
        "local" => match str_attr(&attrs, "path") {
            Some(path) => StateBackend::LocalPath { path },
            None => StateBackend::Local,
        },
        "postgres" => {
            let Some(url) = str_attr(&attrs, "url") else {
                return Err(missing("a postgres state backend", "url", "", block));
            };
            attrs.remove("url");
            check_postgres_state_settings(block, &attrs)?;
            let (settings, _) = split_sensitive(shared, attrs);
            StateBackend::Postgres { url: text(shared, &url), settings }
        }
        _ => {
            let (settings, _) = split_sensitive(shared, attrs);
            StateBackend::Other { name: backend, settings }
        }
    })
}

/// What a postgres `state` block takes besides `backend`, `url` and
/// `revisions`: the stack's name in the tables, and the session timeouts.
const POSTGRES_STATE_SETTINGS: [&str; 4] = ["stack", "connect_timeout", "statement_timeout", "lock_timeout"];

/// A setting the backend would not read is refused where it is written,
/// rather than ignored (a misspelt timeout, a password that belongs in
/// `url`); a secret may go in `url` only, the one setting kept sensitive.
fn check_postgres_state_settings(block: &Block, attrs: &Map) -> Result<(), EvalError> {
    let at = |key: &str, error: ConfigError| {
        let attribute = block.body.attributes().find(|a| a.key.value().as_str() == key);
        match attribute {
            Some(a) => EvalError::new(error, span_of(&a.key)),
            None => at_block(error, block),
        }
    };
    for (key, value) in attrs {
        if !POSTGRES_STATE_SETTINGS.contains(&key.as_str()) {
            return Err(at(
                key,
                ConfigError::UnknownAttribute {
                    attribute: key.clone(),
                    block: "a postgres `state` block".to_owned(),
                    expected: format!("backend, url, revisions, {}", POSTGRES_STATE_SETTINGS.join(", ")),
                },
            ));
        }
        if value.as_str().is_some_and(has_token) {
            return Err(at(
                key,
                ConfigError::SettingValue {
                    attribute: key.clone(),
                    reason: "it holds a secret, which a postgres `state` block takes in `url` only"
                        .to_owned(),
                },
            ));
        }
    }
    Ok(())
}

/// `revisions = N` of the `state` block: a whole number of at least 1.
fn revisions_kept(value: &Value, block: &Block) -> Result<usize, EvalError> {
    value.as_u64().filter(|n| *n >= 1).and_then(|n| usize::try_from(n).ok()).ok_or_else(|| {
        at_block(
            ConfigError::SettingValue {
                attribute: "revisions".to_owned(),
                reason: format!("{value} is not a whole number of at least 1"),
            },
            block,
        )
    })
}

fn plugin_source(shared: &Shared, block: &Block, attrs: &Map) -> Result<PluginSource, EvalError> {
    let kind = str_attr(attrs, "type").unwrap_or_else(|| "dir".to_owned());
    let need = |key: &str| {
        str_attr(attrs, key).ok_or_else(|| missing(&format!("a `{kind}` plugin_source"), key, "", block))
    };
    match kind.as_str() {
        "dir" => Ok(PluginSource::Dir { path: need("path")? }),
        "http" => Ok(PluginSource::Http { url: need("url")? }),
        "oci" => {
            // Either may come from a secrets file; the password is sensitive whatever its origin.
            let username = str_attr(attrs, "username").map(|u| shared.reveal(&u).0);
            let password = str_attr(attrs, "password");
            if username.is_some() != password.is_some() {
                return Err(at_block(ConfigError::HalfALogin, block));
            }
            // As for AWS keys: a password in clear text would sit in the repository.
            if password.as_deref().is_some_and(|p| !has_token(p)) {
                return Err(at_block(
                    ConfigError::ClearTextSecret {
                        attribute: "password".to_owned(),
                        block: "an `oci` plugin_source".to_owned(),
                    },
                    block,
                ));
            }
            let password = password.map(|p| Sensitive::new(shared.reveal(&p).0));
            Ok(PluginSource::Oci { url: need("url")?, username, password })
        }
        other => Err(at_block(
            ConfigError::UnknownValue {
                setting: "plugin_source type".to_owned(),
                value: other.to_owned(),
                expected: "dir, http or oci".to_owned(),
            },
            block,
        )),
    }
}

fn connection(shared: &Shared, block: &Block, name: String, mut attrs: Map) -> Result<Connection, EvalError> {
    let Some(kind) = str_attr(&attrs, "type") else {
        return Err(missing(&format!("connection `{name}`"), "type", " (postgres, amqp, http, …)", block));
    };
    attrs.remove("type");
    let url = str_attr(&attrs, "url").map(|u| text(shared, &u));
    attrs.remove("url");
    let (settings, sensitive_settings) = split_sensitive(shared, attrs);
    Ok(Connection { name, kind, url, settings, sensitive_settings })
}
