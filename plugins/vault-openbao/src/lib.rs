//! Capstan plugin `capstan/vault-openbao`: a Vault or OpenBao server for
//! the platform's apps, in one of two modes.
//!
//! - `in-cluster`: an OpenBao cluster rendered here, HA with integrated
//!   (Raft) storage, laid out as the upstream Helm chart's HA Raft mode
//!   (see [`server`]).
//! - `external`: a Vault or OpenBao server that exists already, at
//!   `address`; nothing is rendered.
//!
//! In both, what apps need on the server is declared as `vault` effects on
//! the operator's connection (grant `vault:<connection>`), which the engine
//! runs with the operator's token (see [`effects`]): a PKI engine with a
//! root CA (and optionally an intermediate CA it signs, which then issues)
//! and a role per app for its own names, Kubernetes auth and JWT
//! auth (SPIFFE JWT-SVIDs) with a role per app, the database secrets engine
//! on a `postgres` dependency with a role per app giving short-lived
//! credentials for the app's own database, a KV version 2 engine, and a
//! policy per app allowing exactly those paths. An app removed from `apps`
//! loses its policy and roles on the next apply.
//!
//! With `monitoring`, it also renders the server's alerts (a
//! `PrometheusRule`) and a Grafana dashboard, and in-cluster the
//! `ServiceMonitor` and telemetry settings that feed them (see
//! [`monitoring`]).
//!
//! The outputs (the `vault` contract) say where the server is, where each
//! engine and auth method is (and the audience of JWT auth), and each app's
//! policy and roles with the namespace and ServiceAccount of its pods;
//! in-cluster also which pods a client must reach (`network`).
//!
//! It never initialises or unseals the server and never holds a root token
//! or an unseal key: `bao operator init` and unsealing are the operator's,
//! and the effects run with the token of the operator's connection, which
//! the plugin never sees. The mounts and auth paths it configures belong to
//! the component: every role under them is one it declared, so roles it no
//! longer declares are deleted.

pub mod address;
pub mod effects;
pub mod inputs;
pub mod monitoring;
pub mod server;

use std::collections::BTreeMap;

use capstan_sdk::contracts::NetworkPeer;
use capstan_sdk::contracts::postgres::{self, SslMode};
use capstan_sdk::contracts::spire;
use capstan_sdk::contracts::vault::{AppAccess, AuthMethods, Mounts, Outputs};
use capstan_sdk::pointer;
use capstan_sdk::prelude::*;
use serde_json::Value;

use address::Address;
use effects::{AppLayout, Layout, Postgres};
pub use inputs::{Inputs, Mode};

/// The plugin: see the crate docs.
pub struct VaultOpenbao;

/// The connection the effects run on unless `connection` says otherwise.
pub const DEFAULT_CONNECTION: &str = "vault";

impl Plugin for VaultOpenbao {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/vault-openbao", env!("CARGO_PKG_VERSION"))
            .component_type(Outputs::COMPONENT_TYPE)
            .backend("openbao")
            .description(
                "Vault or OpenBao for the platform's apps: an OpenBao HA cluster with Raft storage in the \
                 cluster, or an existing server, configured through idempotent Vault effects with the \
                 operator's token: a PKI root (optionally with an intermediate CA it signs) and a \
                 certificate role per app, Kubernetes and JWT (SPIFFE) auth roles, short-lived PostgreSQL \
                 credentials per app on a postgres dependency, KV version 2, and one policy per app. Never \
                 initialises or unseals the server.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(include_str!("defaults.yaml"))
            // The default connection name; an operator who renames it grants
            // `vault:<connection>` instead, which is what the engine checks.
            .capability(Capability::Vault(DEFAULT_CONNECTION.to_owned()))
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, |inputs: &Inputs| {
            let mut out = inputs::validate(inputs);
            let concerns = [
                inputs.pki.is_some(),
                inputs.kubernetes_auth.is_some(),
                inputs.jwt_auth.is_some(),
                inputs.database.is_some(),
                inputs.kv.is_some(),
                !inputs.apps.is_empty(),
            ];
            if !inputs.configure && inputs.mode == Mode::InCluster && concerns.contains(&true) {
                out.push(Diagnostic {
                    path: "/configure".into(),
                    severity: Severity::Info,
                    message:
                        "configure = false: nothing is configured on the server (no effect runs) until it \
                              is true; set it once the cluster is initialised and unsealed"
                            .to_owned(),
                });
            }
            out
        })
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let mut inputs: Inputs = req.inputs()?;
        check_sensitive(req, &inputs)?;
        trust_spire(req, &mut inputs)?;
        let in_cluster = inputs.mode == Mode::InCluster;
        let tls = in_cluster && inputs.tls.secret.is_some();
        let address = match inputs.address.as_deref().filter(|a| !a.is_empty()) {
            Some(a) => Address::normalized(a).to_owned(),
            None if in_cluster => server::default_address(&req.component, tls),
            None => return Err(invalid("/address", inputs::ADDRESS_REQUIRED)),
        };
        let parsed = Address::parse(&address).map_err(|why| invalid("/address", why))?;

        let mut warnings = Vec::new();
        let (postgres, users) = match &inputs.database {
            Some(d) => {
                let (pg, users) = postgres_target(req, d, &mut warnings)?;
                (Some(pg), users)
            }
            None => (None, BTreeMap::new()),
        };
        let layout = layout(req, &inputs, &address, postgres, &users, &mut warnings);

        let mut objects = if in_cluster { server::objects(req, &inputs) } else { Vec::new() };
        if let Some(m) = &inputs.monitoring {
            let job = monitoring::job(&req.component, &inputs, m)?;
            objects.extend(monitoring::objects(&req.component, &inputs, m, &job));
        }
        let effects = if inputs.configure { effects::all(&inputs, &layout) } else { Vec::new() };

        let network = if in_cluster {
            vec![server::meta(&req.component).network_peer(&[server::API_PORT])]
        } else {
            match &inputs.server_pods {
                Some(pods) => vec![pods.to_peer()],
                None => vec![NetworkPeer::outside(&[parsed.port])],
            }
        };
        let outputs = Outputs {
            address: address.clone(),
            mounts: Mounts {
                // Where the apps' certificates are issued: the intermediate's
                // mount when there is one.
                pki: inputs.pki.as_ref().map(|p| p.issuing_mount().to_owned()),
                database: inputs.database.as_ref().map(|d| d.mount.clone()),
                kv: inputs.kv.as_ref().map(|k| k.mount.clone()),
            },
            auth: AuthMethods {
                kubernetes: inputs.kubernetes_auth.as_ref().map(|k| k.path.clone()),
                jwt: inputs.jwt_auth.as_ref().map(|j| j.path.clone()),
                // Every JWT role binds it: the audience an app asks SPIRE
                // to issue its JWT-SVID for.
                jwt_audience: inputs.jwt_auth.as_ref().map(|j| j.audience.clone()),
            },
            apps: layout
                .apps
                .iter()
                .map(|(name, app)| ((*name).to_owned(), access(&inputs, name, app)))
                .collect(),
            network,
        };
        Ok(ComponentPlan { objects, effects, outputs: contracts::outputs(&outputs, &[])?, warnings })
    }

    fn health(object: &Value) -> Health {
        match object["kind"].as_str() {
            Some("StatefulSet") => server::health(object),
            _ => capstan_sdk::health::default_health(object),
        }
    }
}

fn invalid(path: &str, message: impl Into<String>) -> PlanError {
    PlanError::InvalidInputs(vec![Diagnostic::error(path, message)])
}

/// The database password must come from the secrets file; auto-unseal
/// settings are written to a ConfigMap, so none may be a secret.
fn check_sensitive(req: &PlanRequest, inputs: &Inputs) -> Result<(), PlanError> {
    let mut errors = Vec::new();
    if inputs.database.is_some() && !req.is_sensitive("/database/password") {
        errors.push(Diagnostic::error(
            "/database/password",
            "this password is not from the encrypted secrets file; move it to `values_sensitive_custom`",
        ));
    }
    if let Some(seal) = &inputs.auto_unseal {
        for key in seal.settings.keys() {
            let at = pointer(&["auto_unseal", key]);
            if req.is_sensitive(&at) {
                errors.push(Diagnostic::error(
                    at,
                    "a secret cannot go in the seal's settings, which are written to a ConfigMap: give the pods \
                     their credentials through their ServiceAccount (workload identity) instead",
                ));
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(PlanError::InvalidInputs(errors)) }
}

/// The postgres dependency `database.postgres` names, read through the
/// `postgres` contract, and each app's role on it.
fn postgres_target(
    req: &PlanRequest,
    d: &inputs::Database,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(Postgres, BTreeMap<String, String>), PlanError> {
    let Some(dep) = req.dependencies.iter().find(|dep| dep.name == d.postgres) else {
        let known: Vec<String> = contracts::all::<postgres::Outputs>(&req.dependencies)
            .map(|(dep, _)| format!("`{}`", dep.name))
            .collect();
        let hint = if known.is_empty() {
            "add a `dependency` block on the postgres component".to_owned()
        } else {
            format!("this component's postgres dependencies are {}", known.join(", "))
        };
        return Err(invalid(
            "/database/postgres",
            format!(
                "database.postgres names dependency `{}`, which this component does not have; {hint}",
                d.postgres
            ),
        ));
    };
    if dep.component_type != postgres::Outputs::COMPONENT_TYPE {
        return Err(invalid(
            "/database/postgres",
            format!("dependency `{}` is a `{}` component, not `postgres`", dep.name, dep.component_type),
        ));
    }
    let pg: postgres::Outputs = contracts::read(dep)?;
    let sslmode = d.sslmode.or(pg.sslmode).unwrap_or(SslMode::Prefer);
    if sslmode.verifies() {
        warnings.push(Diagnostic::warning(
            "/database/sslmode",
            format!(
                "sslmode {}: Vault verifies PostgreSQL's certificate with its own trust store, so the CA that \
                 signed it{} must be in it, or the connection fails when it is written",
                sslmode.as_str(),
                pg.ca_secret.as_ref().map(|c| format!(" (Secret {}, key {})", c.name, c.key)).unwrap_or_default()
            ),
        ));
    }
    let users = pg.databases.iter().map(|(app, access)| (app.clone(), access.user.clone())).collect();
    Ok((Postgres { dependency: dep.name.clone(), host: pg.host, port: pg.port, sslmode }, users))
}

/// With a `spire` dependency, Vault trusts what SPIRE issues: JWT auth
/// given no keys of its own verifies JWT-SVIDs with SPIRE's OIDC discovery
/// provider (and its issuer), and an app given no SPIFFE ID gets the one
/// SPIRE registered for it. JWT auth with no keys and no such provider is
/// refused at `/jwt_auth`.
fn trust_spire(req: &PlanRequest, inputs: &mut Inputs) -> Result<(), PlanError> {
    let spire: Option<spire::Outputs> =
        match req.dependencies.iter().find(|d| d.component_type == spire::Outputs::COMPONENT_TYPE) {
            Some(dep) => Some(contracts::read(dep)?),
            None => None,
        };
    if let Some(spire) = &spire {
        for (name, app) in &mut inputs.apps {
            if app.spiffe_id.is_none() {
                app.spiffe_id = spire.spiffe_id_for(name).map(str::to_owned);
            }
        }
    }
    let Some(jwt) = &mut inputs.jwt_auth else { return Ok(()) };
    let has_keys = jwt.jwks_url.is_some()
        || jwt.oidc_discovery_url.is_some()
        || jwt.jwt_validation_pubkeys.as_ref().is_some_and(|k| !k.is_empty());
    if has_keys {
        return Ok(());
    }
    match spire.as_ref().and_then(|s| s.oidc_discovery_url.as_ref().map(|url| (url, &s.jwt_issuer))) {
        Some((url, issuer)) => {
            jwt.oidc_discovery_url = Some(url.clone());
            if jwt.bound_issuer.is_none() {
                jwt.bound_issuer.clone_from(issuer);
            }
            Ok(())
        }
        None => Err(invalid(
            "/jwt_auth",
            "say how JWTs are verified: jwks_url, oidc_discovery_url or jwt_validation_pubkeys, or depend on \
             a spire component whose OIDC discovery provider is on (its `oidc` input)",
        )),
    }
}

/// The apps with their defaults filled in, and the database layout.
fn layout<'a>(
    req: &'a PlanRequest,
    inputs: &'a Inputs,
    address: &'a str,
    postgres: Option<Postgres>,
    users: &BTreeMap<String, String>,
    warnings: &mut Vec<Diagnostic>,
) -> Layout<'a> {
    let environment = req.component.environment.as_str();
    let prefix = effects::policy_prefix(environment);
    let mut apps = BTreeMap::new();
    for (name, app) in &inputs.apps {
        let namespace = app.namespace.as_deref().unwrap_or(&req.component.namespace);
        let domains = app.certificate.domains.clone().unwrap_or_else(|| {
            vec![format!("{name}.{namespace}.svc"), format!("{name}.{namespace}.svc.cluster.local")]
        });
        let database_user = postgres.as_ref().and_then(|_| users.get(name).cloned());
        if let Some(pg) = &postgres
            && database_user.is_none()
        {
            warnings.push(Diagnostic {
                path: pointer(&["apps", name]),
                severity: Severity::Info,
                message: format!(
                    "no database for `{name}` on postgres dependency `{}` (its `databases` output): it gets no \
                     database role",
                    pg.dependency
                ),
            });
        }
        apps.insert(
            name.as_str(),
            AppLayout {
                namespace,
                service_account: app.service_account.as_deref().unwrap_or(name),
                spiffe_id: app.spiffe_id.as_deref(),
                domains,
                max_ttl: &app.certificate.max_ttl,
                policy: format!("{prefix}{name}"),
                database_user,
                kv_read: &app.kv_read,
            },
        );
    }
    Layout {
        connection: &inputs.connection,
        environment,
        address,
        in_cluster: inputs.mode == Mode::InCluster,
        apps,
        postgres,
    }
}

/// What the outputs say of one app: the roles it has, by name, and the
/// pods they are for (the namespace and ServiceAccount its Kubernetes auth
/// role binds, defaults applied, said even without one: they are who the
/// app is expected to run as).
fn access(inputs: &Inputs, name: &str, app: &AppLayout<'_>) -> AppAccess {
    AppAccess {
        policy: app.policy.clone(),
        pki_role: inputs.pki.as_ref().map(|_| name.to_owned()),
        database_role: app.database_user.as_ref().map(|_| name.to_owned()),
        kubernetes_role: inputs.kubernetes_auth.as_ref().map(|_| name.to_owned()),
        jwt_role: inputs.jwt_auth.as_ref().and(app.spiffe_id).map(|_| name.to_owned()),
        spiffe_id: app.spiffe_id.map(str::to_owned),
        namespace: Some(app.namespace.to_owned()),
        service_account: Some(app.service_account.to_owned()),
    }
}

capstan_sdk::export_plugin!(VaultOpenbao);
