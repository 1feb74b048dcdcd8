//! What the app takes from its dependencies: environment variables, pod
//! annotations, ingress settings and what its pods must reach (each
//! contract's `network`), read through the outputs contracts so the app
//! never knows which backend is behind a dependency.
//!
//! Secrets are wired by reference (`valueFrom.secretKeyRef`): the kubelet
//! reads them, and no password ever appears in the plan. A `spire` or
//! `vault` dependency gives an identity and a login rather than a secret
//! (`identity.rs`).

use std::collections::BTreeMap;

use capstan_sdk::contracts::{
    self, Contract as _, NetworkPeer, SecretKeyRef, cert_manager, dapr, logs, messaging, postgres, spire,
    vault, waf,
};
use capstan_sdk::{ComponentId, Dependency, Diagnostic, Output, PlanError};
use serde_json::Value;

use crate::identity::{self, SocketMount};

/// The types whose contracts this plugin reads field by field; any other
/// type's outputs are wired by [`wire_any`].
const READ_BY_CONTRACT: [&str; 9] = [
    postgres::Outputs::COMPONENT_TYPE,
    messaging::Outputs::COMPONENT_TYPE,
    contracts::app::Outputs::COMPONENT_TYPE,
    dapr::Outputs::COMPONENT_TYPE,
    waf::Outputs::COMPONENT_TYPE,
    cert_manager::Outputs::COMPONENT_TYPE,
    logs::Outputs::COMPONENT_TYPE,
    vault::Outputs::COMPONENT_TYPE,
    spire::Outputs::COMPONENT_TYPE,
];

/// The output, beside the `dapr` contract, naming the Dapr `Configuration`
/// (tracing, mTLS) the sidecar should load; `capstan/dapr` publishes it.
const DAPR_CONFIGURATION: &str = "configuration";

/// The output, beside the `app` contract, saying whether an app's pods are
/// under NetworkPolicies (`capstan/app` publishes it). Only then does an app
/// that calls it render the policy letting itself in: that policy would
/// otherwise shut every other client out of an app that is open.
pub const NETWORK_POLICIES: &str = "network_policies";

/// The output name every contract gives its `network` peers; a type this
/// plugin has no contract code for is read by the same name.
const NETWORK: &str = "network";

/// One environment variable, plain or from a Secret key.
#[derive(Clone, Debug, PartialEq)]
pub enum Env {
    Plain(String),
    Secret(SecretKeyRef),
}

/// Everything dependencies contribute to the app's objects.
#[derive(Debug, Default)]
pub struct Wiring {
    /// In order: later values may refer to earlier ones as `$(NAME)`.
    pub env: Vec<(String, Env)>,
    pub pod_annotations: BTreeMap<String, String>,
    pub ingress_class: Option<(String, String)>,
    pub ingress_annotations: BTreeMap<String, String>,
    /// The cert-manager annotation that makes it issue the ingress certificate.
    pub issuer_annotation: Option<(String, String)>,
    /// CA certificates dependencies ask to be verified with, mounted as files.
    pub ca_files: Vec<CaFile>,
    /// What the pods must reach, by dependency name: each dependency's `network`.
    pub egress: Vec<(String, NetworkPeer)>,
    /// The WAF's `ingress_from`, with the WAF's dependency name: who
    /// forwards outside traffic to the app's ingress. Empty (with or
    /// without a WAF): any address.
    pub ingress_from: Vec<(String, NetworkPeer)>,
    /// Apps this one calls whose pods are under NetworkPolicies, by
    /// dependency name, with what their `network` says to reach.
    pub callees: Vec<(String, Vec<NetworkPeer>)>,
    /// The pods get a Dapr sidecar (there is a `dapr` dependency).
    pub dapr_sidecar: bool,
    /// The SPIFFE Workload API socket, from a `spire` dependency.
    pub socket: Option<SocketMount>,
    /// The pods must run as a ServiceAccount of their own: a `spire` or
    /// `vault` dependency binds the app's identity to it (`identity.rs`).
    pub own_service_account: bool,
    /// With a `spire` or `vault` dependency, the ServiceAccount the pods run
    /// as: the app's `service_account.name`, else the one those
    /// dependencies name for it (`identity.rs`).
    pub service_account: Option<String>,
    /// Its token must be mounted: the app logs in to Vault with it.
    pub service_account_token: bool,
    /// What the operator should know of the dependencies, though the plan works.
    pub warnings: Vec<Diagnostic>,
}

impl Wiring {
    pub(crate) fn reach(&mut self, dep: &Dependency, peers: &[NetworkPeer]) {
        self.egress.extend(peers.iter().map(|p| (dep.name.clone(), p.clone())));
    }
}

/// One key of a Secret mounted read-only as `<dir>/ca.crt`.
#[derive(Clone, Debug, PartialEq)]
pub struct CaFile {
    /// The pod volume's name.
    pub volume: String,
    pub secret: SecretKeyRef,
    pub dir: String,
}

impl CaFile {
    fn new(dep: &Dependency, secret: &SecretKeyRef) -> Self {
        Self {
            volume: format!("{}-ca", dep.name),
            secret: secret.clone(),
            dir: format!("/var/run/capstan/{}", dep.name),
        }
    }

    pub fn path(&self) -> String {
        format!("{}/ca.crt", self.dir)
    }
}

/// Upper-case, with anything but letters and digits as `_`.
fn env_token(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// `s` with everything but RFC 3986 unreserved characters (letters, digits,
/// `-._~`) percent-encoded, byte by byte of its UTF-8: valid in a URI's
/// userinfo and in a path segment alike. It also turns `$` into `%24`, so a
/// name holding `$(…)` is not expanded by the kubelet.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The sidecar's HTTP port, which Dapr's injector gives every sidecar
/// unless the pod asks for another (this plugin never does).
const DAPR_HTTP_PORT: u16 = 3500;

/// How the app calls another app: through its own Dapr sidecar when both
/// run one (Dapr service invocation: the sidecars carry the call over
/// mutual TLS, with retries and tracing), else straight to the Service.
/// Either way `<URL>/<path>` reaches the callee's `<path>`.
fn service_url(callee: &contracts::app::Outputs, dapr_sidecar: bool) -> Option<String> {
    match (&callee.dapr_invoke_id, dapr_sidecar, &callee.service_url) {
        (Some(id), true, Some(_)) => {
            Some(format!("http://localhost:{DAPR_HTTP_PORT}/v1.0/invoke/{id}/method"))
        }
        (_, _, url) => url.clone(),
    }
}

/// `DATABASE_` for the only postgres dependency, `REPORTS_DATABASE_` for a
/// dependency named `reports` when there are several.
fn prefix(dep: &Dependency, all: &[Dependency], base: &str) -> String {
    let same_type = all.iter().filter(|d| d.component_type == dep.component_type).count();
    if same_type > 1 { format!("{}_{base}_", env_token(&dep.name)) } else { format!("{base}_") }
}

fn check_namespace(
    dep: &Dependency,
    secret: &str,
    namespace: Option<&str>,
    component: &ComponentId,
) -> Result<(), PlanError> {
    match namespace {
        Some(ns) if ns != component.namespace => Err(PlanError::Failed(format!(
            "dependency `{}` ({}) keeps its credentials in Secret {ns}/{secret}, but the app runs in namespace `{}` and a pod can only read Secrets of its own namespace; deploy the app in `{ns}` or have the dependency publish the Secret in `{}`",
            dep.name, dep.component_type, component.namespace, component.namespace
        ))),
        _ => Ok(()),
    }
}

/// At most one dependency of a kind that configures the app as a whole.
pub(crate) fn single<'a>(
    deps: &'a [Dependency],
    component_type: &str,
) -> Result<Option<&'a Dependency>, PlanError> {
    let mut found = deps.iter().filter(|d| d.component_type == component_type);
    let first = found.next();
    if let (Some(a), Some(b)) = (first, found.next()) {
        return Err(PlanError::Failed(format!(
            "an app can use one `{component_type}` dependency, got `{}` and `{}`",
            a.name, b.name
        )));
    }
    Ok(first)
}

/// Everything `deps` give the app `component`, which listens on `port` and
/// names `service_account` for its pods, if it names one.
pub fn wire(
    component: &ComponentId,
    port: Option<u16>,
    service_account: Option<&str>,
    deps: &[Dependency],
) -> Result<Wiring, PlanError> {
    let mut w = Wiring::default();

    for (dep, outputs) in contracts::all::<postgres::Outputs>(deps) {
        let pg = outputs?;
        w.reach(dep, &pg.network);
        let access = pg.access_for(&component.name);
        let secret = &access.password_secret;
        check_namespace(dep, &secret.name, secret.namespace.as_deref(), component)?;
        let p = prefix(dep, deps, "DATABASE");
        w.env.push((format!("{p}HOST"), Env::Plain(pg.host.clone())));
        w.env.push((format!("{p}PORT"), Env::Plain(pg.port.to_string())));
        w.env.push((format!("{p}NAME"), Env::Plain(access.database.clone())));
        w.env.push((format!("{p}USER"), Env::Plain(access.user.clone())));
        w.env.push((format!("{p}PASSWORD"), Env::Secret(secret.clone())));
        // The URL's query: how to reach the server over TLS, as the contract says.
        let mut query = Vec::new();
        if let Some(mode) = pg.sslmode {
            w.env.push((format!("{p}SSLMODE"), Env::Plain(mode.as_str().to_owned())));
            query.push(format!("sslmode={}", mode.as_str()));
        }
        if let Some(ca) = &pg.ca_secret {
            check_namespace(dep, &ca.name, ca.namespace.as_deref(), component)?;
            let file = CaFile::new(dep, ca);
            w.env.push((format!("{p}SSLROOTCERT"), Env::Plain(file.path())));
            query.push(format!("sslrootcert={}", file.path()));
            w.ca_files.push(file);
        }
        let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
        // Kubernetes expands $(VAR) from variables defined earlier, so the
        // URL carries the password without the plan ever holding it. The
        // kubelet cannot percent-encode what it expands: a password with
        // URL-reserved characters needs the separate variables. The user and
        // database are known here, so they go in encoded.
        w.env.push((
            format!("{p}URL"),
            Env::Plain(format!(
                "postgresql://{}:$({p}PASSWORD)@{}:{}/{}{query}",
                percent_encode(&access.user),
                pg.host,
                pg.port,
                percent_encode(&access.database)
            )),
        ));
    }

    for (dep, outputs) in contracts::all::<messaging::Outputs>(deps) {
        let m = outputs?;
        w.reach(dep, &m.network);
        let p = prefix(dep, deps, "MESSAGING");
        w.env.push((format!("{p}PROTOCOL"), Env::Plain(m.protocol.clone())));
        w.env.push((format!("{p}ENDPOINT"), Env::Plain(m.endpoint.clone())));
        if let Some(region) = &m.region {
            w.env.push((format!("{p}REGION"), Env::Plain(region.clone())));
        }
        match m.access_for(&component.name) {
            Some(access) => {
                let c = access.credentials_secret;
                check_namespace(dep, &c.name, c.namespace.as_deref(), component)?;
                let key =
                    |key: &str| SecretKeyRef { name: c.name.clone(), key: key.to_owned(), namespace: None };
                w.env.push((format!("{p}USERNAME"), Env::Secret(key(&c.username_key))));
                w.env.push((format!("{p}PASSWORD"), Env::Secret(key(&c.password_key))));
                if let Some(prefix) = access.group_prefix {
                    w.env.push((format!("{p}GROUP_PREFIX"), Env::Plain(prefix.to_owned())));
                }
            }
            // Users per app, none of them this one: it could not connect.
            None if !m.consumers.is_empty() => {
                return Err(PlanError::MissingDependency(format!(
                    "messaging dependency `{}` gives each app its own user and has none for `{}`; add `users.{}` to it",
                    dep.name, component.name, component.name
                )));
            }
            None => {}
        }
        if let Some(mechanism) = &m.sasl_mechanism {
            w.env.push((format!("{p}SASL_MECHANISM"), Env::Plain(mechanism.clone())));
        }
        if let Some(tls) = &m.tls {
            let ca = &tls.ca_secret;
            check_namespace(dep, &ca.name, ca.namespace.as_deref(), component)?;
            w.env.push((
                format!("{p}CA_CERT"),
                Env::Secret(SecretKeyRef { name: ca.name.clone(), key: ca.key.clone(), namespace: None }),
            ));
        }
        if let Some(exchange) = &m.exchange {
            w.env.push((format!("{p}EXCHANGE"), Env::Plain(exchange.clone())));
        }
        for (logical, physical) in &m.queues {
            w.env.push((format!("{p}QUEUE_{}", env_token(logical)), Env::Plain(physical.clone())));
        }
    }

    for (dep, outputs) in contracts::all::<logs::Outputs>(deps) {
        let logs = outputs?;
        w.reach(dep, &logs.network);
        if logs.collector_endpoint.is_empty() {
            continue;
        }
        let p = prefix(dep, deps, "LOGS");
        w.env.push((format!("{p}ENDPOINT"), Env::Plain(logs.collector_endpoint.clone())));
        // A pod mounts Secrets of its own namespace only, and a collector
        // usually runs in another: an app there that pushes logs over TLS
        // needs the CA copied to it. Most apps write to stdout and never
        // push, so that is not a reason to fail the plan.
        if let Some(ca) = &logs.ca_secret
            && ca.namespace.as_deref().is_none_or(|ns| ns == component.namespace)
        {
            let file = CaFile::new(dep, ca);
            w.env.push((format!("{p}CA_CERT_FILE"), Env::Plain(file.path())));
            w.ca_files.push(file);
        }
    }

    let dapr_sidecar = deps.iter().any(|d| d.component_type == dapr::Outputs::COMPONENT_TYPE);
    for dep in deps.iter().filter(|d| d.component_type == contracts::app::Outputs::COMPONENT_TYPE) {
        let other = contracts::read::<contracts::app::Outputs>(dep)?;
        if let Some(url) = service_url(&other, dapr_sidecar) {
            w.env.push((format!("{}_SERVICE_URL", env_token(&dep.name)), Env::Plain(url)));
        }
        w.reach(dep, &other.network);
        if dep.output(NETWORK_POLICIES) == Some(&Value::Bool(true)) {
            w.callees.push((dep.name.clone(), other.network));
        }
    }

    if let Some(dep) = single(deps, dapr::Outputs::COMPONENT_TYPE)? {
        let d = contracts::read::<dapr::Outputs>(dep)?;
        w.reach(dep, &d.network);
        w.dapr_sidecar = true;
        w.pod_annotations.insert("dapr.io/enabled".into(), "true".into());
        w.pod_annotations.insert("dapr.io/app-id".into(), component.name.clone());
        if let Some(port) = port {
            w.pod_annotations.insert("dapr.io/app-port".into(), port.to_string());
        }
        if let Some(pubsub) = d.pubsub_for(&component.name) {
            w.env.push(("DAPR_PUBSUB_NAME".into(), Env::Plain(pubsub.to_owned())));
        }
        if let Some(store) = d.statestore {
            w.env.push(("DAPR_STATESTORE_NAME".into(), Env::Plain(store)));
        }
        match dep.output(DAPR_CONFIGURATION) {
            None | Some(Value::Null) => {}
            Some(Value::String(config)) => {
                w.pod_annotations.insert("dapr.io/config".into(), config.clone());
            }
            Some(other) => {
                return Err(PlanError::MissingDependency(format!(
                    "dependency `{}` (dapr) has output `{DAPR_CONFIGURATION}` = {other}; expected the name of a Dapr Configuration",
                    dep.name
                )));
            }
        }
    }

    identity::wire(component, service_account, deps, &mut w)?;

    if let Some(dep) = single(deps, waf::Outputs::COMPONENT_TYPE)? {
        let waf = contracts::read::<waf::Outputs>(dep)?;
        w.ingress_class = Some((dep.name.clone(), waf.ingress_class));
        w.ingress_annotations = waf.annotations;
        w.ingress_from = waf.ingress_from.into_iter().map(|p| (dep.name.clone(), p)).collect();
    }

    for dep in deps.iter().filter(|d| !READ_BY_CONTRACT.contains(&d.component_type.as_str())) {
        let peers = network_of_any(dep);
        if let Some(peers) = &peers {
            w.reach(dep, peers);
        }
        wire_any(component, dep, peers.is_some(), &mut w.env)?;
    }

    if let Some(dep) = single(deps, cert_manager::Outputs::COMPONENT_TYPE)? {
        let cm = contracts::read::<cert_manager::Outputs>(dep)?;
        let key = match cm.issuer.kind.as_str() {
            cert_manager::CLUSTER_ISSUER => "cert-manager.io/cluster-issuer",
            cert_manager::ISSUER => "cert-manager.io/issuer",
            other => {
                return Err(PlanError::MissingDependency(format!(
                    "dependency `{}` (cert-manager) names an issuer of kind `{other}`; expected `{}` or `{}`",
                    dep.name,
                    cert_manager::CLUSTER_ISSUER,
                    cert_manager::ISSUER
                )));
            }
        };
        w.issuer_annotation = Some((key.to_owned(), cm.issuer.name));
    }

    Ok(w)
}

/// The `network` output of a dependency of a type this plugin has no
/// contract code for, when it has the shape every contract gives it (a list
/// of peers). An output of that name meaning something else (a VPC's name,
/// say) is not one, and stays an environment variable.
fn network_of_any(dep: &Dependency) -> Option<Vec<NetworkPeer>> {
    let value = dep.outputs.iter().find(|o| o.name == NETWORK && !o.sensitive)?;
    serde_json::from_value(value.value.clone()).ok()
}

/// A dependency of a type this plugin has no contract code for (a third
/// party's `cache`, say), wired by the rule every contract follows: each
/// plain value becomes `<DEPENDENCY>_<OUTPUT>` (an object's fields
/// `<DEPENDENCY>_<OUTPUT>_<FIELD>`, a list its JSON), and each Secret
/// reference (`{name, key}`, as `contracts::SecretKeyRef`) a `secretKeyRef`.
/// A sensitive output is left out: its value would land in the manifest,
/// and a contract publishes a Secret reference for it instead; so is a
/// `network` output read as peers (`has_peers`), which is for
/// NetworkPolicies, not for the app.
fn wire_any(
    component: &ComponentId,
    dep: &Dependency,
    has_peers: bool,
    env: &mut Vec<(String, Env)>,
) -> Result<(), PlanError> {
    let base = env_token(&dep.name);
    let left_out = |o: &&Output| o.sensitive || (has_peers && o.name == NETWORK);
    for output in dep.outputs.iter().filter(|o| !left_out(o)) {
        wire_value(component, dep, &format!("{base}_{}", env_token(&output.name)), &output.value, env)?;
    }
    Ok(())
}

fn wire_value(
    component: &ComponentId,
    dep: &Dependency,
    name: &str,
    value: &Value,
    env: &mut Vec<(String, Env)>,
) -> Result<(), PlanError> {
    let plain = match value {
        Value::Null => return Ok(()),
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) | Value::Array(_) => value.to_string(),
        Value::Object(fields) => {
            if let Ok(secret) = serde_json::from_value::<SecretKeyRef>(value.clone()) {
                check_namespace(dep, &secret.name, secret.namespace.as_deref(), component)?;
                env.push((name.to_owned(), Env::Secret(SecretKeyRef { namespace: None, ..secret })));
                return Ok(());
            }
            for (field, inner) in fields {
                wire_value(component, dep, &format!("{name}_{}", env_token(field)), inner, env)?;
            }
            return Ok(());
        }
    };
    env.push((name.to_owned(), Env::Plain(plain)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn url_parts_are_percent_encoded_as_rfc_3986_wants() {
        assert_eq!(percent_encode("app_user-1.x~"), "app_user-1.x~", "unreserved stay");
        assert_eq!(percent_encode("a@b:c/d"), "a%40b%3Ac%2Fd");
        assert_eq!(percent_encode("$(HOME) ?#%"), "%24%28HOME%29%20%3F%23%25");
        assert_eq!(percent_encode("ção"), "%C3%A7%C3%A3o", "UTF-8, byte by byte");
    }
}
