//! One step per op: what it declares, checked and put in the server's
//! terms first ([`Step::new`], before anything is sent), then a look at
//! the server, then a write only where it differs. [`Step::check`] does
//! the look alone.

use capstan_core::{OpOutcome, Text, VaultOp};
use serde_json::{Map, Value, json};

use crate::VaultError;
use crate::api::{Api, Method, Reply};
use crate::compare::{parse_duration, same, show, show_seconds};

/// An op, checked and ready to run.
pub(crate) struct Step {
    /// The op's kind as the contract spells it (`ensure-mount`).
    pub op: &'static str,
    /// What it is about: a mount or auth path, a policy name, a config
    /// path, a PKI mount, a pruned path.
    pub subject: String,
    spec: Spec,
}

enum Spec {
    Mount(Mounting),
    Policy { name: String, rules: String },
    Config(Config),
    PkiRoot { mount: String, common_name: String, ttl: String },
    PkiIntermediate(Intermediate),
    Prune(Prune),
}

/// An intermediate CA: generated in `mount`, signed by `issuer_mount`'s CA.
struct Intermediate {
    mount: String,
    issuer_mount: String,
    common_name: String,
    ttl: String,
}

/// What to mount (a secrets engine) or enable (an auth method) at a path.
struct Mounting {
    table: Table,
    path: String,
    /// As compared: `kv-v2`, `kv` (version 1), `pki`, `kubernetes`, …
    kind: String,
    /// As sent: `kv` for both kv versions.
    server_type: String,
    /// `options.version` for kv.
    version: Option<&'static str>,
    description: String,
    /// As declared and in seconds.
    max_lease_ttl: Option<(String, u64)>,
}

/// A configuration object. Holds sensitive values in clear when `sensitive`:
/// no `Debug`, and changes name fields only.
struct Config {
    path: String,
    data: Map<String, Value>,
    sensitive: bool,
}

struct Prune {
    path: String,
    prefix: String,
    keep: Vec<String>,
    /// `sys/policies/acl` (or the older `sys/policy`): names are lowercase
    /// on the server, and `root` and `default` are never deleted.
    policies: bool,
}

#[derive(Clone, Copy)]
enum Table {
    /// `sys/mounts`: secrets engines.
    Mounts,
    /// `sys/auth`: auth methods.
    Auth,
}

impl Table {
    fn path(self) -> &'static str {
        match self {
            Table::Mounts => "sys/mounts",
            Table::Auth => "sys/auth",
        }
    }

    /// How check lines name an entry: `mount pki`, `auth kubernetes`.
    fn label(self) -> &'static str {
        match self {
            Table::Mounts => "mount",
            Table::Auth => "auth",
        }
    }

    fn holds(self) -> &'static str {
        match self {
            Table::Mounts => "engine",
            Table::Auth => "method",
        }
    }
}

/// One field that differs; values are `None` when they may not be shown
/// (sensitive data, or too long for a line).
struct Diff {
    field: String,
    have: Option<String>,
    want: Option<String>,
}

impl Diff {
    /// As an outcome's change: `max_ttl 24h → "72h"`.
    fn change(&self) -> String {
        match (&self.have, &self.want) {
            (Some(have), Some(want)) => format!("{} {have} → {want}", self.field),
            _ => format!("{} changed", self.field),
        }
    }

    /// As a line of `check`: `max_ttl 24h → declared "72h"`.
    fn drift(&self) -> String {
        match (&self.have, &self.want) {
            (Some(have), Some(want)) => format!("{} {have} → declared {want}", self.field),
            _ => format!("{} differs from the declared value (not shown)", self.field),
        }
    }
}

/// What the server holds at a mount or auth path.
struct Mounted {
    kind: String,
    description: String,
    /// Seconds; 0 for the server's default.
    max_lease_ttl: u64,
}

/// A path below `/v1/` as sent: no leading or trailing `/`, no empty,
/// `.` or `..` segment, no control character.
fn clean_path(what: &str, path: &str) -> Result<String, String> {
    let trimmed = path.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if trimmed.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(format!("{what} `{trimmed}` has an empty, `.` or `..` segment"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(format!("{what} holds a control character"));
    }
    Ok(trimmed.to_string())
}

/// A single name (a policy, a pruned entry): a path of one segment.
fn clean_name(what: &str, name: &str) -> Result<String, String> {
    let name = clean_path(what, name)?;
    if name.contains('/') {
        return Err(format!("{what} `{name}` holds `/`"));
    }
    Ok(name)
}

fn duration(what: &str, value: &str) -> Result<u64, String> {
    parse_duration(value)
        .ok_or_else(|| format!("{what} `{value}` is not a duration (such as 768h, 30m or 3600)"))
}

/// Whether `path` is where ACL policies are listed.
fn is_policy_list(path: &str) -> bool {
    matches!(path, "sys/policies/acl" | "sys/policy")
}

/// A JSON object of the op's data, or why not. A sensitive text's parse
/// error is not quoted (it could carry part of the value).
fn config_data(data: &Text) -> Result<Map<String, Value>, String> {
    let sensitive = matches!(data, Text::Sensitive(_));
    match serde_json::from_str::<Value>(data.expose()) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("data is not a JSON object".to_string()),
        Err(_) if sensitive => Err("data is not JSON (the sensitive text is not shown)".to_string()),
        Err(e) => Err(format!("data is not JSON: {e}")),
    }
}

/// Every string in `value`, to keep out of messages.
fn leaves(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(s) => into.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| leaves(v, into)),
        Value::Object(map) => map.values().for_each(|v| leaves(v, into)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

impl Step {
    /// The op checked and in the server's terms, or (what it is, why it
    /// cannot run).
    pub(crate) fn new(op: &VaultOp) -> Result<Step, (String, String)> {
        let (name, subject) = describe(op);
        let fail = |why: String| (format!("{name} {subject}"), why);
        let spec = match op {
            VaultOp::EnsureMount(m) => {
                let path = clean_path("the mount path", &m.path).map_err(fail)?;
                let engine = m.engine.trim();
                let (kind, server_type, version) = match engine {
                    "" => return Err(fail("the engine is empty".to_string())),
                    "kv-v2" => ("kv-v2", "kv", Some("2")),
                    "kv" | "kv-v1" => ("kv", "kv", Some("1")),
                    other => (other, other, None),
                };
                let max_lease_ttl = match &m.max_lease_ttl {
                    None => None,
                    Some(ttl) => {
                        Some((ttl.trim().to_string(), duration("max-lease-ttl", ttl).map_err(fail)?))
                    }
                };
                Spec::Mount(Mounting {
                    table: Table::Mounts,
                    path,
                    kind: kind.to_string(),
                    server_type: server_type.to_string(),
                    version,
                    description: m.description.clone(),
                    max_lease_ttl,
                })
            }
            VaultOp::EnsureAuth(a) => {
                let path = clean_path("the auth path", &a.path).map_err(fail)?;
                let method = a.method.trim();
                if method.is_empty() {
                    return Err(fail("the method is empty".to_string()));
                }
                Spec::Mount(Mounting {
                    table: Table::Auth,
                    path,
                    kind: method.to_string(),
                    server_type: method.to_string(),
                    version: None,
                    description: a.description.clone(),
                    max_lease_ttl: None,
                })
            }
            VaultOp::EnsurePolicy(p) => {
                let name = clean_name("the policy name", &p.name).map_err(fail)?;
                if p.policy.trim().is_empty() {
                    return Err(fail("the policy has no rules".to_string()));
                }
                Spec::Policy { name, rules: p.policy.clone() }
            }
            VaultOp::EnsureConfig(c) => {
                let path = clean_path("the path", &c.path).map_err(fail)?;
                let data = config_data(&c.data).map_err(fail)?;
                Spec::Config(Config { path, data, sensitive: matches!(c.data, Text::Sensitive(_)) })
            }
            VaultOp::EnsurePkiRoot(r) => {
                let mount = clean_path("the mount", &r.mount).map_err(fail)?;
                if r.common_name.trim().is_empty() {
                    return Err(fail("the common name is empty".to_string()));
                }
                duration("the ttl", &r.ttl).map_err(fail)?;
                Spec::PkiRoot {
                    mount,
                    common_name: r.common_name.trim().to_string(),
                    ttl: r.ttl.trim().into(),
                }
            }
            VaultOp::EnsurePkiIntermediate(i) => {
                let mount = clean_path("the mount", &i.mount).map_err(fail)?;
                let issuer_mount = clean_path("the issuer mount", &i.issuer_mount).map_err(fail)?;
                if issuer_mount == mount {
                    return Err(fail(format!(
                        "the issuer mount is the mount itself (`{mount}`): an intermediate is signed by \
                         another mount's CA"
                    )));
                }
                if i.common_name.trim().is_empty() {
                    return Err(fail("the common name is empty".to_string()));
                }
                duration("the ttl", &i.ttl).map_err(fail)?;
                Spec::PkiIntermediate(Intermediate {
                    mount,
                    issuer_mount,
                    common_name: i.common_name.trim().to_string(),
                    ttl: i.ttl.trim().into(),
                })
            }
            VaultOp::Prune(p) => {
                let path = clean_path("the path", &p.path).map_err(fail)?;
                let policies = is_policy_list(&path);
                // Policy names are lowercase on the server: so must the
                // names kept be, or a kept `App` would be deleted as `app`.
                let fold = |s: &str| if policies { s.to_lowercase() } else { s.to_string() };
                Spec::Prune(Prune {
                    prefix: fold(&p.prefix),
                    keep: p.keep.iter().map(|k| fold(k.trim().trim_matches('/'))).collect(),
                    path,
                    policies,
                })
            }
        };
        let subject = match &spec {
            Spec::Mount(m) => m.path.clone(),
            Spec::Policy { name, .. } => name.clone(),
            Spec::Config(c) => c.path.clone(),
            Spec::PkiRoot { mount, .. } => mount.clone(),
            Spec::PkiIntermediate(i) => i.mount.clone(),
            Spec::Prune(p) => p.path.clone(),
        };
        Ok(Step { op: name, subject, spec })
    }

    /// `ensure-mount pki`, for messages.
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.op, self.subject)
    }

    /// Clear values the op sends that no message may show.
    pub(crate) fn hidden(&self) -> Vec<String> {
        let mut hidden = Vec::new();
        if let Spec::Config(c) = &self.spec
            && c.sensitive
        {
            c.data.values().for_each(|v| leaves(v, &mut hidden));
        }
        hidden
    }

    /// Makes the server hold what the op declares.
    pub(crate) fn apply(&self, api: &Api<'_>) -> Result<OpOutcome, VaultError> {
        match &self.spec {
            Spec::Mount(m) => self.apply_mount(api, m),
            Spec::Policy { name, rules } => self.apply_policy(api, name, rules),
            Spec::Config(c) => self.apply_config(api, c),
            Spec::PkiRoot { mount, common_name, ttl } => self.apply_pki_root(api, mount, common_name, ttl),
            Spec::PkiIntermediate(i) => self.apply_pki_intermediate(api, i),
            Spec::Prune(p) => self.apply_prune(api, p),
        }
    }

    /// How the server differs from what the op declares, one line each;
    /// reads only.
    pub(crate) fn check(&self, api: &Api<'_>) -> Result<Vec<String>, VaultError> {
        match &self.spec {
            Spec::Mount(m) => {
                let label = format!("{} {}", m.table.label(), m.path);
                Ok(match read_mounted(api, m)? {
                    None => vec![format!(
                        "{label}: {}",
                        match m.table {
                            Table::Mounts => "not mounted",
                            Table::Auth => "not enabled",
                        }
                    )],
                    Some(have) if have.kind != m.kind => vec![format!(
                        "{label}: holds the {} {}, declared {} (apply refuses to replace it)",
                        have.kind,
                        m.table.holds(),
                        m.kind
                    )],
                    Some(have) => {
                        mount_diffs(m, &have).iter().map(|d| format!("{label}: {}", d.drift())).collect()
                    }
                })
            }
            Spec::Policy { name, rules } => Ok(match read_policy(api, name)? {
                None => vec![format!("policy {name}: missing")],
                Some(have) if !same_rules(&have, rules) => {
                    vec![format!("policy {name}: rules changed outside Capstan")]
                }
                Some(_) => Vec::new(),
            }),
            Spec::Config(c) => Ok(match read_config(api, &c.path)? {
                Read::Missing => vec![format!("{}: missing", c.path)],
                // Nothing to compare: no drift can be seen.
                Read::Unreadable => Vec::new(),
                Read::Found(have) => {
                    config_diffs(c, &have).0.iter().map(|d| format!("{}: {}", c.path, d.drift())).collect()
                }
            }),
            Spec::PkiRoot { mount, .. } => {
                Ok(if has_ca(api, mount)? { Vec::new() } else { vec![format!("{mount}: no root CA")] })
            }
            Spec::PkiIntermediate(i) => Ok(if has_ca(api, &i.mount)? {
                Vec::new()
            } else {
                vec![format!("{}: no intermediate CA (signed by {})", i.mount, i.issuer_mount)]
            }),
            Spec::Prune(p) => Ok(prunable(api, p)?
                .iter()
                .map(|name| format!("{}/{name}: not declared (pruned on apply)", p.path))
                .collect()),
        }
    }

    fn apply_mount(&self, api: &Api<'_>, m: &Mounting) -> Result<OpOutcome, VaultError> {
        let Some(have) = read_mounted(api, m)? else {
            let mut body = json!({ "type": m.server_type, "description": m.description });
            if let Some((ttl, _)) = &m.max_lease_ttl {
                body["config"] = json!({ "max_lease_ttl": ttl });
            }
            if let Some(version) = m.version {
                body["options"] = json!({ "version": version });
            }
            api.call(Method::Post, &format!("{}/{}", m.table.path(), m.path), Some(&body))?;
            return Ok(OpOutcome::created(self.op, &self.subject));
        };
        if have.kind != m.kind {
            return Err(api.conflict(format!(
                "{}/ holds the {} {}, not the declared {}; it is left as it is, as replacing it would \
                 lose what it holds (declare another path, or move it by hand)",
                m.path,
                have.kind,
                m.table.holds(),
                m.kind
            )));
        }
        let diffs = mount_diffs(m, &have);
        if diffs.is_empty() {
            return Ok(OpOutcome::unchanged(self.op, &self.subject));
        }
        // Only what differs is tuned.
        let mut tune = Map::new();
        if have.description != m.description {
            tune.insert("description".into(), json!(m.description));
        }
        if let Some((ttl, secs)) = &m.max_lease_ttl
            && have.max_lease_ttl != *secs
        {
            tune.insert("max_lease_ttl".into(), json!(ttl));
        }
        let path = format!("{}/{}/tune", m.table.path(), m.path);
        api.call(Method::Post, &path, Some(&Value::Object(tune)))?;
        Ok(OpOutcome::corrected(self.op, &self.subject, diffs.iter().map(Diff::change).collect()))
    }

    fn apply_policy(&self, api: &Api<'_>, name: &str, rules: &str) -> Result<OpOutcome, VaultError> {
        let have = read_policy(api, name)?;
        if have.as_deref().is_some_and(|have| same_rules(have, rules)) {
            return Ok(OpOutcome::unchanged(self.op, &self.subject));
        }
        api.call(Method::Put, &format!("sys/policies/acl/{name}"), Some(&json!({ "policy": rules })))?;
        Ok(match have {
            None => OpOutcome::created(self.op, &self.subject),
            Some(_) => OpOutcome::corrected(
                self.op,
                &self.subject,
                vec!["rules differed from the declared ones; replaced".to_string()],
            ),
        })
    }

    fn apply_config(&self, api: &Api<'_>, c: &Config) -> Result<OpOutcome, VaultError> {
        let body = Value::Object(c.data.clone());
        let have = match read_config(api, &c.path)? {
            Read::Found(have) => have,
            Read::Missing => {
                api.call(Method::Post, &c.path, Some(&body))?;
                return Ok(OpOutcome::created(self.op, &self.subject));
            }
            Read::Unreadable => {
                // Written every time, and whether that changed anything
                // cannot be told.
                api.call(Method::Post, &c.path, Some(&body))?;
                return Ok(OpOutcome::executed(self.op, &self.subject)
                    .with_changes(vec!["the server does not read this path back; sent as declared".into()]));
            }
        };
        let (diffs, write_only) = config_diffs(c, &have);
        if diffs.is_empty() && write_only.is_empty() {
            return Ok(OpOutcome::unchanged(self.op, &self.subject));
        }
        api.call(Method::Post, &c.path, Some(&body))?;
        let mut changes: Vec<String> = diffs.iter().map(Diff::change).collect();
        if !write_only.is_empty() {
            changes.push(format!("write-only fields re-sent: {}", write_only.join(", ")));
        }
        Ok(if diffs.is_empty() {
            // Only fields the server never reads back were sent: whether
            // that changed anything cannot be told.
            OpOutcome::executed(self.op, &self.subject).with_changes(changes)
        } else {
            OpOutcome::corrected(self.op, &self.subject, changes)
        })
    }

    fn apply_pki_root(
        &self,
        api: &Api<'_>,
        mount: &str,
        common_name: &str,
        ttl: &str,
    ) -> Result<OpOutcome, VaultError> {
        if has_ca(api, mount)? {
            return Ok(OpOutcome::unchanged(self.op, &self.subject));
        }
        let body = json!({ "common_name": common_name, "ttl": ttl });
        api.call(Method::Post, &format!("{mount}/root/generate/internal"), Some(&body))?;
        Ok(OpOutcome::created(self.op, &self.subject))
    }

    /// Three steps, each the server's own: a key and a CSR made inside
    /// `mount`, the CSR signed by the issuer's CA, the signed certificate
    /// (with the issuer's chain, so `mount` hands out the whole chain) set
    /// as `mount`'s CA. A run that stops between them leaves `mount`
    /// without a CA, so the next run starts again from a new key; the
    /// unused key stays in `mount`'s key list, holding no certificate.
    fn apply_pki_intermediate(&self, api: &Api<'_>, i: &Intermediate) -> Result<OpOutcome, VaultError> {
        if has_ca(api, &i.mount)? {
            return Ok(OpOutcome::unchanged(self.op, &self.subject));
        }
        // Said before a key is made, rather than as the server's failure to
        // sign after it.
        if !has_ca(api, &i.issuer_mount)? {
            return Err(api.conflict(format!(
                "the issuer mount {} has no CA to sign the intermediate with: ensure its root (or \
                 intermediate) first, in an earlier op",
                i.issuer_mount
            )));
        }
        let generate = format!("{}/intermediate/generate/internal", i.mount);
        let reply = api.call(Method::Post, &generate, Some(&json!({ "common_name": i.common_name })))?;
        let csr = pem_field(api, &generate, &reply, "csr")?;
        let sign = format!("{}/root/sign-intermediate", i.issuer_mount);
        let body = json!({
            "csr": csr,
            "common_name": i.common_name,
            "ttl": i.ttl,
            // The certificate followed by the issuer's chain.
            "format": "pem_bundle",
        });
        let reply = api.call(Method::Post, &sign, Some(&body))?;
        let certificate = pem_field(api, &sign, &reply, "certificate")?;
        let set = format!("{}/intermediate/set-signed", i.mount);
        api.call(Method::Post, &set, Some(&json!({ "certificate": certificate })))?;
        Ok(OpOutcome::created(self.op, &self.subject))
    }

    fn apply_prune(&self, api: &Api<'_>, p: &Prune) -> Result<OpOutcome, VaultError> {
        let mut changes = Vec::new();
        for name in prunable(api, p)? {
            let path = format!("{}/{name}", p.path);
            let reply = api.send(Method::Delete, &path, None)?;
            match reply.status {
                200..=299 => changes.push(format!("deleted {name}")),
                // Gone since it was listed: nothing left to do.
                404 => {}
                _ => return Err(api.failed(Method::Delete, &path, &reply)),
            }
        }
        Ok(OpOutcome::corrected(self.op, &self.subject, changes))
    }
}

/// The op's kind and what it is about, as declared.
fn describe(op: &VaultOp) -> (&'static str, String) {
    match op {
        VaultOp::EnsureMount(m) => ("ensure-mount", m.path.clone()),
        VaultOp::EnsureAuth(a) => ("ensure-auth", a.path.clone()),
        VaultOp::EnsurePolicy(p) => ("ensure-policy", p.name.clone()),
        VaultOp::EnsureConfig(c) => ("ensure-config", c.path.clone()),
        VaultOp::EnsurePkiRoot(r) => ("ensure-pki-root", r.mount.clone()),
        VaultOp::EnsurePkiIntermediate(i) => ("ensure-pki-intermediate", i.mount.clone()),
        VaultOp::Prune(p) => ("prune", p.path.clone()),
    }
}

/// The entry at `m.path` in `sys/mounts` or `sys/auth`, if any.
fn read_mounted(api: &Api<'_>, m: &Mounting) -> Result<Option<Mounted>, VaultError> {
    let table = m.table.path();
    let reply = api.call(Method::Get, table, None)?;
    // Older servers list the entries at the top level, newer ones under
    // `data` too.
    let entries = reply.data().or_else(|| reply.body.as_ref().and_then(Value::as_object));
    let Some(entries) = entries else {
        return Err(api.bad_answer(Method::Get, table, "the answer is not a JSON object of paths"));
    };
    let Some(entry) = entries.get(&format!("{}/", m.path)) else {
        return Ok(None);
    };
    let server_type = entry.get("type").and_then(Value::as_str).unwrap_or_default();
    let version = entry.pointer("/options/version").and_then(Value::as_str);
    let kind = match (server_type, version) {
        ("kv", Some("2")) => "kv-v2",
        (other, _) => other,
    };
    Ok(Some(Mounted {
        kind: kind.to_string(),
        description: entry.get("description").and_then(Value::as_str).unwrap_or_default().to_string(),
        max_lease_ttl: entry.pointer("/config/max_lease_ttl").and_then(Value::as_u64).unwrap_or(0),
    }))
}

fn mount_diffs(m: &Mounting, have: &Mounted) -> Vec<Diff> {
    let mut diffs = Vec::new();
    if have.description != m.description {
        diffs.push(Diff {
            field: "description".into(),
            have: show(&json!(have.description), None),
            want: show(&json!(m.description), None),
        });
    }
    if let Some((ttl, secs)) = &m.max_lease_ttl
        && have.max_lease_ttl != *secs
    {
        let have = match have.max_lease_ttl {
            0 => "default".to_string(),
            s => show_seconds(s),
        };
        diffs.push(Diff { field: "max_lease_ttl".into(), have: Some(have), want: Some(ttl.clone()) });
    }
    diffs
}

/// The rules of policy `name`, if it exists.
fn read_policy(api: &Api<'_>, name: &str) -> Result<Option<String>, VaultError> {
    let path = format!("sys/policies/acl/{name}");
    let reply = api.send(Method::Get, &path, None)?;
    match reply.status {
        404 => Ok(None),
        200..=299 => match reply.data().and_then(|d| d.get("policy")).and_then(Value::as_str) {
            Some(rules) => Ok(Some(rules.to_string())),
            None => Err(api.bad_answer(Method::Get, &path, "the answer has no data.policy")),
        },
        _ => Err(api.failed(Method::Get, &path, &reply)),
    }
}

/// Policies that differ only in whitespace are the same policy.
fn same_rules(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// What a configuration path reads back as.
enum Read {
    /// Nothing there (404, or 204 with nothing).
    Missing,
    /// The path takes writes only (405).
    Unreadable,
    /// Its `data` (empty when the answer had none: every declared field
    /// then counts as one the server does not read back).
    Found(Map<String, Value>),
}

fn read_config(api: &Api<'_>, path: &str) -> Result<Read, VaultError> {
    let reply = api.send(Method::Get, path, None)?;
    match reply.status {
        404 | 204 => Ok(Read::Missing),
        405 => Ok(Read::Unreadable),
        200..=299 => Ok(Read::Found(reply.data().cloned().unwrap_or_default())),
        _ => Err(api.failed(Method::Get, path, &reply)),
    }
}

/// The declared fields that differ from `have`, and those `have` lacks
/// (write-only: the server never reads them back).
fn config_diffs(c: &Config, have: &Map<String, Value>) -> (Vec<Diff>, Vec<String>) {
    let mut diffs = Vec::new();
    let mut write_only = Vec::new();
    for (field, want) in &c.data {
        match have.get(field) {
            None => write_only.push(field.clone()),
            Some(value) if same(want, value) => {}
            Some(value) => diffs.push(if c.sensitive {
                Diff { field: field.clone(), have: None, want: None }
            } else {
                Diff { field: field.clone(), have: show(value, Some(want)), want: show(want, None) }
            }),
        }
    }
    (diffs, write_only)
}

/// Whether the PKI mount has a CA: its default issuer's PEM, or else any
/// issuer at all (a newer server can hold issuers without a default). A
/// refusal to read either is an error, never "no CA": that would
/// generate a second root.
fn has_ca(api: &Api<'_>, mount: &str) -> Result<bool, VaultError> {
    let pem = format!("{mount}/ca/pem");
    let reply = api.send(Method::Get, &pem, None)?;
    match reply.status {
        200..=299 if !reply.empty => return Ok(true),
        200..=299 | 400 | 404 => {}
        _ => return Err(api.failed(Method::Get, &pem, &reply)),
    }
    let issuers = format!("{mount}/issuers");
    let reply = api.send(Method::List, &issuers, None)?;
    match reply.status {
        200..=299 => Ok(reply
            .data()
            .and_then(|d| d.get("keys"))
            .and_then(Value::as_array)
            .is_some_and(|keys| !keys.is_empty())),
        // No issuer, or a server from before issuers (which answered for
        // ca/pem above).
        404 | 405 => Ok(false),
        _ => Err(api.failed(Method::List, &issuers, &reply)),
    }
}

/// The PEM string `data.<field>` of a successful answer to `POST path`.
fn pem_field(api: &Api<'_>, path: &str, reply: &Reply, field: &str) -> Result<String, VaultError> {
    match reply.data().and_then(|d| d.get(field)).and_then(Value::as_str) {
        Some(pem) if pem.trim_start().starts_with("-----BEGIN") => Ok(pem.to_string()),
        _ => Err(api.bad_answer(Method::Post, path, format!("the answer has no PEM data.{field}"))),
    }
}

/// The names `LIST path` gives that the op deletes, in the server's order.
fn prunable(api: &Api<'_>, p: &Prune) -> Result<Vec<String>, VaultError> {
    let reply = api.send(Method::List, &p.path, None)?;
    let names = match reply.status {
        // Nothing was ever written there.
        404 => return Ok(Vec::new()),
        200..=299 => match reply.data().and_then(|d| d.get("keys")) {
            None => return Ok(Vec::new()),
            Some(Value::Array(keys)) => keys.iter().filter_map(Value::as_str).map(str::to_string),
            Some(_) => return Err(api.bad_answer(Method::List, &p.path, "data.keys is not a list")),
        },
        _ => return Err(api.failed(Method::List, &p.path, &reply)),
    };
    Ok(names
        .filter(|name| {
            let folded = if p.policies { name.to_lowercase() } else { name.clone() };
            // A name ending in `/` is a folder of further names, not one entry.
            let entry = !name.is_empty() && !name.ends_with('/');
            let protected = p.policies && matches!(folded.as_str(), "root" | "default");
            entry && !protected && folded.starts_with(&p.prefix) && !p.keep.contains(&folded)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use capstan_core::{
        Sensitive, VaultConfig, VaultMount, VaultPkiIntermediate, VaultPkiRoot, VaultPolicy, VaultPrune,
    };

    use super::*;

    fn err(op: VaultOp) -> (String, String) {
        Step::new(&op).err().unwrap()
    }

    #[test]
    fn ops_are_checked_before_anything_is_sent() {
        let mount = |path: &str, engine: &str, ttl: Option<&str>| {
            VaultOp::EnsureMount(VaultMount {
                path: path.into(),
                engine: engine.into(),
                description: String::new(),
                max_lease_ttl: ttl.map(Into::into),
            })
        };
        let step = Step::new(&mount("/pki/", "pki", Some("87600h"))).ok().unwrap();
        assert_eq!(step.describe(), "ensure-mount pki");
        assert!(
            matches!(&step.spec, Spec::Mount(m) if m.max_lease_ttl == Some(("87600h".into(), 315_360_000)))
        );
        let step = Step::new(&mount("secret", "kv-v2", None)).ok().unwrap();
        assert!(matches!(&step.spec, Spec::Mount(m) if m.server_type == "kv" && m.version == Some("2")));

        assert_eq!(
            err(mount("pki", "pki", Some("ten years"))),
            (
                "ensure-mount pki".to_string(),
                "max-lease-ttl `ten years` is not a duration (such as 768h, 30m or 3600)".to_string()
            )
        );
        assert_eq!(
            err(mount("a/../sys", "kv", None)).1,
            "the mount path `a/../sys` has an empty, `.` or `..` segment"
        );
        assert_eq!(err(mount(" ", "kv", None)).1, "the mount path is empty");
        let policy = VaultOp::EnsurePolicy(VaultPolicy { name: "a/b".into(), policy: "x".into() });
        assert_eq!(err(policy).1, "the policy name `a/b` holds `/`");
        let root = VaultOp::EnsurePkiRoot(VaultPkiRoot {
            mount: "pki".into(),
            common_name: "x".into(),
            ttl: "".into(),
        });
        assert!(err(root).1.starts_with("the ttl `` is not a duration"));
        let intermediate = |mount: &str, issuer: &str, cn: &str| {
            VaultOp::EnsurePkiIntermediate(VaultPkiIntermediate {
                mount: mount.into(),
                issuer_mount: issuer.into(),
                common_name: cn.into(),
                ttl: "43800h".into(),
            })
        };
        let step = Step::new(&intermediate("/pki_int/", "pki", " Int CA ")).ok().unwrap();
        assert_eq!(step.describe(), "ensure-pki-intermediate pki_int");
        assert!(matches!(&step.spec, Spec::PkiIntermediate(i)
            if i.issuer_mount == "pki" && i.common_name == "Int CA" && i.ttl == "43800h"));
        assert_eq!(
            err(intermediate("pki", "pki/", "Int CA")),
            (
                "ensure-pki-intermediate pki".to_string(),
                "the issuer mount is the mount itself (`pki`): an intermediate is signed by another mount's CA"
                    .to_string()
            )
        );
        assert_eq!(err(intermediate("pki_int", "", "Int CA")).1, "the issuer mount is empty");
        assert_eq!(err(intermediate("pki_int", "pki", " ")).1, "the common name is empty");
    }

    #[test]
    fn sensitive_data_is_never_quoted_and_its_values_are_hidden() {
        let secret = VaultOp::EnsureConfig(VaultConfig {
            path: "auth/userpass/users/x".into(),
            data: Text::Sensitive(Sensitive::new(r#"{"password": "hunter2"#)),
        });
        let (_, why) = err(secret);
        assert_eq!(why, "data is not JSON (the sensitive text is not shown)");
        let plain = VaultOp::EnsureConfig(VaultConfig { path: "x".into(), data: Text::Plain("[1]".into()) });
        assert_eq!(err(plain).1, "data is not a JSON object");

        let secret = VaultOp::EnsureConfig(VaultConfig {
            path: "auth/userpass/users/x".into(),
            data: Text::Sensitive(Sensitive::new(
                r#"{"password": "hunter2", "token_ttl": "1h", "n": [{"k": "v"}, 42]}"#,
            )),
        });
        let step = Step::new(&secret).ok().unwrap();
        assert_eq!(step.hidden(), ["hunter2", "1h", "v"]);
        let Spec::Config(c) = &step.spec else { panic!("a config") };
        let have = json!({"token_ttl": 7200, "n": [42, {"k": "v"}]});
        let (diffs, write_only) = config_diffs(c, have.as_object().unwrap());
        assert_eq!(diffs.iter().map(Diff::change).collect::<Vec<_>>(), ["token_ttl changed"]);
        assert_eq!(write_only, ["password"]);
    }

    #[test]
    fn plain_config_differences_show_short_values() {
        let op = VaultOp::EnsureConfig(VaultConfig {
            path: "auth/kubernetes/role/consent".into(),
            data: Text::Plain(
                r#"{"bound_service_account_names": "consent", "token_ttl": "1h", "token_policies": ["a"]}"#
                    .into(),
            ),
        });
        let step = Step::new(&op).ok().unwrap();
        assert!(step.hidden().is_empty());
        let Spec::Config(c) = &step.spec else { panic!("a config") };
        let have = json!({"bound_service_account_names": ["x"], "token_ttl": 7200, "token_policies": ["a"]});
        let (diffs, write_only) = config_diffs(c, have.as_object().unwrap());
        assert!(write_only.is_empty());
        assert_eq!(
            diffs.iter().map(Diff::drift).collect::<Vec<_>>(),
            ["bound_service_account_names [\"x\"] → declared \"consent\"", "token_ttl 2h → declared \"1h\""]
        );
    }

    #[test]
    fn policies_compare_without_whitespace_and_prune_folds_their_case() {
        assert!(same_rules(
            "path \"a\" {\n  capabilities = [\"read\"]\n}\n",
            "path \"a\" { capabilities = [\"read\"] }"
        ));
        assert!(!same_rules(
            "path \"a\" { capabilities = [\"read\"] }",
            "path \"b\" { capabilities = [\"read\"] }"
        ));
        let op = VaultOp::Prune(VaultPrune {
            path: "sys/policies/acl/".into(),
            prefix: "App-".into(),
            keep: vec!["App-Keep".into()],
        });
        let Spec::Prune(p) = Step::new(&op).ok().unwrap().spec else { panic!("a prune") };
        assert!(p.policies);
        assert_eq!(
            (p.path.as_str(), p.prefix.as_str(), p.keep.as_slice()),
            ("sys/policies/acl", "app-", ["app-keep".to_string()].as_slice())
        );
    }
}
