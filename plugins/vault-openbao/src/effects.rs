//! The `vault` effects that configure the server, one per concern, so a
//! change to one re-runs only that one (the engine compares effects by id
//! and digest):
//!
//! | id | ops, in order |
//! |---|---|
//! | `policies` | a policy per app, then prune `sys/policies/acl` under `capstan-<environment>-` |
//! | `pki` | mount, root CA, `config/urls`, a role per app, prune `<pki>/roles` |
//! | `pki` with an intermediate | mount, root CA, `config/urls`; the intermediate's mount, its CA signed by the root, its `config/urls`, a role per app, prune its `roles`; prune the root's `roles` (keeping none) |
//! | `kubernetes-auth` | enable, `config`, a role per app, prune `auth/<path>/role` |
//! | `jwt-auth` | enable, `config`, a role per app with a SPIFFE ID, prune `auth/<path>/role` |
//! | `database` | mount, the connection to the postgres dependency, a role per app with a database there, prune `<mount>/roles` and `<mount>/config` |
//! | `kv` | mount (KV version 2) |
//!
//! Policies come first: roles name them, and although Vault takes a role
//! naming a policy that does not exist yet, a login between the two would
//! get a token that can do nothing.
//!
//! Pruning makes an app removed from `apps` lose its roles and policy on
//! the next apply. Policies are pruned by name prefix, so other policies
//! on the server are never candidates. Roles are pruned with no prefix:
//! the mounts and auth paths belong to this component (it mounts them), so
//! every role under them is one it declared. Nothing is ever unmounted or
//! disabled: a concern taken out of the inputs leaves its mount as it was.

use std::collections::BTreeMap;

use capstan_sdk::capstan_core::{
    VaultAuth, VaultConfig, VaultMount, VaultOp, VaultPkiIntermediate, VaultPkiRoot, VaultPolicy, VaultPrune,
};
use capstan_sdk::contracts::postgres::SslMode;
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

use crate::inputs::{Database, Inputs, JwtAuth, KubernetesAuth, Kv, Pki};

/// What the effects of one component are built from: its inputs, resolved.
pub struct Layout<'a> {
    /// The connection the effects run on.
    pub connection: &'a str,
    /// The component's environment, in policy names and KV paths.
    pub environment: &'a str,
    /// The URL the server is reached at (no trailing slash).
    pub address: &'a str,
    /// Whether the server is this component's, in the cluster.
    pub in_cluster: bool,
    /// The apps, by name.
    pub apps: BTreeMap<&'a str, AppLayout<'a>>,
    /// The database connection, when `database` is set.
    pub postgres: Option<Postgres>,
}

/// One app, its defaults filled in.
pub struct AppLayout<'a> {
    /// The namespace its pods run in.
    pub namespace: &'a str,
    /// The ServiceAccount its pods run as.
    pub service_account: &'a str,
    /// Its SPIFFE ID, for JWT auth.
    pub spiffe_id: Option<&'a str>,
    /// The names its PKI role issues for.
    pub domains: Vec<String>,
    /// The longest its certificates are valid.
    pub max_ttl: &'a str,
    /// Its policy's name, `capstan-<environment>-<app>`.
    pub policy: String,
    /// The role owning its database on the postgres dependency, if it has one.
    pub database_user: Option<String>,
    /// More KV paths it may read, under the mount's `data/`.
    pub kv_read: &'a [String],
}

/// The postgres dependency the database engine connects to.
pub struct Postgres {
    /// The dependency's name: also the connection's name in the mount.
    pub dependency: String,
    /// The server's host, from the dependency's outputs.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How Vault connects to it.
    pub sslmode: SslMode,
}

/// The prefix of every policy of `environment`: what the policies prune
/// looks under, and nothing else.
pub fn policy_prefix(environment: &str) -> String {
    format!("capstan-{environment}-")
}

/// Every effect, in the order they run.
pub fn all(inputs: &Inputs, layout: &Layout<'_>) -> Vec<Effect> {
    let mut effects = vec![policies(inputs, layout)];
    if let Some(pki) = &inputs.pki {
        effects.push(self::pki(pki, layout));
    }
    if let Some(k) = &inputs.kubernetes_auth {
        effects.push(kubernetes_auth(k, layout));
    }
    if let Some(j) = &inputs.jwt_auth {
        effects.push(jwt_auth(j, layout));
    }
    if let (Some(d), Some(pg)) = (&inputs.database, &layout.postgres) {
        effects.push(database(d, pg, layout));
    }
    if let Some(kv) = &inputs.kv {
        effects.push(self::kv(kv, layout));
    }
    effects
}

fn effect(layout: &Layout<'_>, id: &str, summary: String, ops: Vec<VaultOp>) -> Effect {
    Effect { id: id.to_owned(), target: layout.connection.to_owned(), summary, kind: EffectKind::Vault(ops) }
}

/// A configuration object with plain `data`.
fn config(path: String, data: &Value) -> VaultOp {
    VaultOp::EnsureConfig(VaultConfig { path, data: Text::Plain(data.to_string()) })
}

fn prune(path: String, prefix: &str, keep: Vec<String>) -> VaultOp {
    VaultOp::Prune(VaultPrune { path, prefix: prefix.to_owned(), keep })
}

/// `roles a, b`, or `no roles`.
fn roles(names: &[&str]) -> String {
    if names.is_empty() { "no roles".to_owned() } else { format!("roles {}", names.join(", ")) }
}

/// What app `name` may do: the paths of the engines this component
/// configures, and nothing else.
pub fn policy_text(inputs: &Inputs, layout: &Layout<'_>, name: &str, app: &AppLayout<'_>) -> String {
    let mut rules = Vec::new();
    if let Some(pki) = &inputs.pki {
        // `sign` takes a CSR of a key the app keeps (cert-manager's Vault
        // issuer calls it); the role limits the names either way.
        let mount = pki.issuing_mount();
        rules.push((format!("{mount}/issue/{name}"), "update"));
        rules.push((format!("{mount}/sign/{name}"), "update"));
    }
    if let Some(d) = &inputs.database
        && app.database_user.is_some()
    {
        rules.push((format!("{}/creds/{name}", d.mount), "read"));
    }
    if let Some(kv) = &inputs.kv {
        rules.push((format!("{}/data/{}/{name}/*", kv.mount, layout.environment), "read"));
        for path in app.kv_read {
            rules.push((format!("{}/data/{path}", kv.mount), "read"));
        }
    }
    let mut text = format!(
        "# Written by capstan/vault-openbao: what app {name} of environment {} may do.\n",
        layout.environment
    );
    if rules.is_empty() {
        text.push_str("# Nothing yet: no secrets engine it may use is configured.\n");
    }
    for (path, capability) in rules {
        text.push_str(&format!("\npath \"{path}\" {{\n  capabilities = [\"{capability}\"]\n}}\n"));
    }
    text
}

fn policies(inputs: &Inputs, layout: &Layout<'_>) -> Effect {
    let prefix = policy_prefix(layout.environment);
    let mut ops: Vec<VaultOp> = layout
        .apps
        .iter()
        .map(|(name, app)| {
            VaultOp::EnsurePolicy(VaultPolicy {
                name: app.policy.clone(),
                policy: policy_text(inputs, layout, name, app),
            })
        })
        .collect();
    let keep: Vec<String> = layout.apps.values().map(|a| a.policy.clone()).collect();
    let summary = if keep.is_empty() {
        format!("no app has an ACL policy (any under {prefix} is removed)")
    } else {
        format!("ACL policies {}", keep.join(", "))
    };
    ops.push(prune("sys/policies/acl".to_owned(), &prefix, keep));
    effect(layout, "policies", summary, ops)
}

fn pki(pki: &Pki, layout: &Layout<'_>) -> Effect {
    let root = &pki.mount;
    let base = pki.issuing_base.as_deref().map_or(layout.address, crate::address::Address::normalized);
    let urls = |mount: &str| {
        config(
            format!("{mount}/config/urls"),
            &json!({
                "issuing_certificates": [format!("{base}/v1/{mount}/ca")],
                "crl_distribution_points": [format!("{base}/v1/{mount}/crl")],
            }),
        )
    };
    let mut ops = vec![
        VaultOp::EnsureMount(VaultMount {
            path: root.clone(),
            engine: "pki".to_owned(),
            description: format!("capstan: certificates of the apps of {}", layout.environment),
            max_lease_ttl: Some(pki.ttl.clone()),
        }),
        VaultOp::EnsurePkiRoot(VaultPkiRoot {
            mount: root.clone(),
            common_name: pki.common_name.clone(),
            ttl: pki.ttl.clone(),
        }),
        urls(root),
    ];
    if let Some(int) = &pki.intermediate {
        ops.extend([
            VaultOp::EnsureMount(VaultMount {
                path: int.mount.clone(),
                engine: "pki".to_owned(),
                description: format!(
                    "capstan: certificates of the apps of {}, from an intermediate of {root}",
                    layout.environment
                ),
                max_lease_ttl: Some(int.ttl.clone()),
            }),
            VaultOp::EnsurePkiIntermediate(VaultPkiIntermediate {
                mount: int.mount.clone(),
                issuer_mount: root.clone(),
                common_name: int.common_name.clone(),
                ttl: int.ttl.clone(),
            }),
            urls(&int.mount),
        ]);
    }
    let mount = pki.issuing_mount();
    for (name, app) in &layout.apps {
        ops.push(config(
            format!("{mount}/roles/{name}"),
            &json!({
                "allowed_domains": app.domains,
                "allow_bare_domains": true,
                "allow_subdomains": false,
                "max_ttl": app.max_ttl,
                "key_type": "ec",
                "key_bits": 256,
            }),
        ));
    }
    let names: Vec<&str> = layout.apps.keys().copied().collect();
    ops.push(prune(format!("{mount}/roles"), "", names.iter().map(|n| (*n).to_owned()).collect()));
    if pki.intermediate.is_some() {
        // Roles left on the root from before the intermediate would still
        // issue under the root's key: the root keeps none.
        ops.push(prune(format!("{root}/roles"), "", Vec::new()));
    }
    let summary = match &pki.intermediate {
        None => format!("PKI at {mount}/ (root {:?}), {}", pki.common_name, roles(&names)),
        Some(int) => format!(
            "PKI at {mount}/ (intermediate {:?} of root {:?} at {root}/), {}",
            int.common_name,
            pki.common_name,
            roles(&names)
        ),
    };
    effect(layout, "pki", summary, ops)
}

fn kubernetes_auth(k: &KubernetesAuth, layout: &Layout<'_>) -> Effect {
    let path = &k.path;
    // The server reviews tokens with the CA and ServiceAccount token of the
    // pod it runs in, which in-cluster is this cluster's (its
    // ServiceAccount may review tokens: `system:auth-delegator`). An
    // external server given the cluster's CA uses that, and each app's own
    // token as its reviewer; one given none must run in a pod of this cluster.
    let local = layout.in_cluster || k.kubernetes_ca_cert.is_none();
    let mut cfg = json!({ "kubernetes_host": k.kubernetes_host, "disable_local_ca_jwt": !local });
    if let Some(ca) = &k.kubernetes_ca_cert {
        cfg["kubernetes_ca_cert"] = json!(ca);
    }
    let mut ops = vec![
        VaultOp::EnsureAuth(VaultAuth {
            path: path.clone(),
            method: "kubernetes".to_owned(),
            description: format!("capstan: apps of {} log in with their ServiceAccount", layout.environment),
        }),
        config(format!("auth/{path}/config"), &cfg),
    ];
    for (name, app) in &layout.apps {
        ops.push(config(
            format!("auth/{path}/role/{name}"),
            &json!({
                "bound_service_account_names": [app.service_account],
                "bound_service_account_namespaces": [app.namespace],
                "token_policies": [app.policy],
                "token_ttl": "1h",
            }),
        ));
    }
    let names: Vec<&str> = layout.apps.keys().copied().collect();
    ops.push(prune(format!("auth/{path}/role"), "", names.iter().map(|n| (*n).to_owned()).collect()));
    let summary = format!("Kubernetes auth at auth/{path}/, {}", roles(&names));
    effect(layout, "kubernetes-auth", summary, ops)
}

fn jwt_auth(j: &JwtAuth, layout: &Layout<'_>) -> Effect {
    let path = &j.path;
    let mut cfg = serde_json::Map::new();
    if let Some(url) = &j.jwks_url {
        cfg.insert("jwks_url".into(), json!(url));
    }
    if let Some(url) = &j.oidc_discovery_url {
        cfg.insert("oidc_discovery_url".into(), json!(url));
    }
    if let Some(keys) = &j.jwt_validation_pubkeys {
        // The server keeps each key without its surrounding whitespace (a
        // PEM's final newline): sent so, it reads back the same.
        let keys: Vec<&str> = keys.iter().map(|k| k.trim()).collect();
        cfg.insert("jwt_validation_pubkeys".into(), json!(keys));
    }
    if let Some(ca) = &j.discovery_ca_pem {
        let field = if j.jwks_url.is_some() { "jwks_ca_pem" } else { "oidc_discovery_ca_pem" };
        cfg.insert(field.into(), json!(ca.trim()));
    }
    if let Some(issuer) = &j.bound_issuer {
        cfg.insert("bound_issuer".into(), json!(issuer));
    }
    let mut ops = vec![
        VaultOp::EnsureAuth(VaultAuth {
            path: path.clone(),
            method: "jwt".to_owned(),
            description: format!("capstan: workloads of {} log in with a JWT-SVID", layout.environment),
        }),
        config(format!("auth/{path}/config"), &Value::Object(cfg)),
    ];
    let mut names = Vec::new();
    for (name, app) in &layout.apps {
        let Some(spiffe_id) = app.spiffe_id else { continue };
        names.push(*name);
        ops.push(config(
            format!("auth/{path}/role/{name}"),
            &json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_subject": spiffe_id,
                "bound_audiences": [j.audience],
                "token_policies": [app.policy],
                "token_ttl": "1h",
            }),
        ));
    }
    ops.push(prune(format!("auth/{path}/role"), "", names.iter().map(|n| (*n).to_owned()).collect()));
    let summary = format!("JWT auth at auth/{path}/ (SPIFFE IDs), {}", roles(&names));
    effect(layout, "jwt-auth", summary, ops)
}

fn database(d: &Database, pg: &Postgres, layout: &Layout<'_>) -> Effect {
    let mount = &d.mount;
    let with_database: Vec<(&str, &str)> = layout
        .apps
        .iter()
        .filter_map(|(name, app)| app.database_user.as_deref().map(|user| (*name, user)))
        .collect();
    let names: Vec<&str> = with_database.iter().map(|(name, _)| *name).collect();
    // The connection holds the admin's password: sensitive as a whole, so
    // the plan shows its path and never its fields' values.
    let connection = json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@{}:{}/postgres?sslmode={}",
            pg.host, pg.port, pg.sslmode.as_str()
        ),
        "username": d.username,
        "password": d.password.expose(),
        "allowed_roles": names,
        "verify_connection": true,
    });
    let mut ops = vec![
        VaultOp::EnsureMount(VaultMount {
            path: mount.clone(),
            engine: "database".to_owned(),
            description: format!("capstan: database credentials of the apps of {}", layout.environment),
            max_lease_ttl: None,
        }),
        VaultOp::EnsureConfig(VaultConfig {
            path: format!("{mount}/config/{}", pg.dependency),
            data: Text::Sensitive(Sensitive::new(connection.to_string())),
        }),
    ];
    for (name, user) in &with_database {
        ops.push(config(
            format!("{mount}/roles/{name}"),
            &json!({
                "db_name": pg.dependency,
                "creation_statements": [format!(
                    "CREATE ROLE \"{{{{name}}}}\" WITH LOGIN PASSWORD '{{{{password}}}}' VALID UNTIL '{{{{expiration}}}}' IN ROLE {};",
                    quote_ident(user)
                )],
                "revocation_statements": ["DROP ROLE IF EXISTS \"{{name}}\";"],
                "default_ttl": d.default_ttl,
                "max_ttl": d.max_ttl,
            }),
        ));
    }
    ops.push(prune(format!("{mount}/roles"), "", names.iter().map(|n| (*n).to_owned()).collect()));
    ops.push(prune(format!("{mount}/config"), "", vec![pg.dependency.clone()]));
    let summary = format!(
        "database credentials at {mount}/ on {} ({}:{}), {}",
        pg.dependency,
        pg.host,
        pg.port,
        roles(&names)
    );
    effect(layout, "database", summary, ops)
}

fn kv(kv: &Kv, layout: &Layout<'_>) -> Effect {
    let mount = &kv.mount;
    let ops = vec![VaultOp::EnsureMount(VaultMount {
        path: mount.clone(),
        engine: "kv-v2".to_owned(),
        description: format!("capstan: secrets apps read under {mount}/data/<environment>/<app>/"),
        max_lease_ttl: None,
    })];
    let summary = format!("KV v2 at {mount}/ (each app reads {mount}/data/{}/<app>/*)", layout.environment);
    effect(layout, "kv", summary, ops)
}

/// A PostgreSQL identifier, double-quoted: role names from a dependency's
/// outputs go into SQL as identifiers only.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
