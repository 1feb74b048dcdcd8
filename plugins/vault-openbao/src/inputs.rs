//! The plugin's inputs and the checks the schema cannot say.
//!
//! Optional blocks (`pki`, `kubernetes_auth`, …) turn a concern on by being
//! there, so their own defaults live on the Rust fields (serde defaults,
//! which the schema shows), not in `defaults.yaml`: a default there would
//! turn the concern on for everyone.

use std::collections::BTreeMap;

use capstan_sdk::contracts::PeerInput;
use capstan_sdk::contracts::postgres::SslMode;
use capstan_sdk::k8s::{self, Resources};
use capstan_sdk::pointer;
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::address::Address;

/// Where the server is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// An OpenBao cluster this component renders: a StatefulSet of Raft peers.
    InCluster,
    /// A Vault or OpenBao server that already exists at `address`; nothing is rendered.
    External,
}

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// `in-cluster` or `external`: see [`Mode`].
    pub mode: Mode,
    /// The operator's `type = "vault"` connection the effects run on (grant
    /// `vault:<connection>`); its token never reaches the plugin.
    pub connection: String,
    /// The URL apps reach the server at. Required `external`; in-cluster,
    /// default `http(s)://<name>.<namespace>.svc:8200`.
    #[serde(default)]
    pub address: Option<String>,
    /// Whether to declare the effects that configure the server. `false`
    /// renders the in-cluster server only: its first apply, before the
    /// operator has initialised and unsealed it, when nothing can be
    /// configured on it yet.
    pub configure: bool,

    /// in-cluster: the OpenBao image (`quay.io/openbao/openbao:<version>`).
    pub image: String,
    /// in-cluster: Raft peers (an odd number: 3 survives one lost peer, 5 two).
    pub replicas: u32,
    /// in-cluster: each peer's Raft volume.
    pub storage: Storage,
    /// in-cluster: requests and limits of each peer's `openbao` container.
    pub resources: Resources,
    /// in-cluster: the listener's certificate.
    #[serde(default)]
    pub tls: Tls,
    /// in-cluster: auto-unseal, as the settings of the server's `seal`
    /// stanza (`{ type = "awskms", kms_key_id = "…", region = "…" }`). No
    /// credentials here: the pods get them from their ServiceAccount
    /// (workload identity, see `service_account_annotations`).
    #[serde(default)]
    #[schemars(with = "AutoUnseal")]
    pub auto_unseal: Option<AutoUnseal>,
    /// in-cluster: annotations of the server's ServiceAccount, such as
    /// `eks.amazonaws.com/role-arn` for an auto-unseal key.
    #[serde(default)]
    pub service_account_annotations: BTreeMap<String, String>,

    /// external: the server's pods, when it runs in the cluster, for the
    /// `network` output (apps' NetworkPolicies); default: the address's
    /// port at any address.
    #[serde(default)]
    #[schemars(with = "PeerInput")]
    pub server_pods: Option<PeerInput>,

    /// A PKI engine with a root CA, and a role per app.
    #[serde(default)]
    #[schemars(with = "Pki")]
    pub pki: Option<Pki>,
    /// Kubernetes auth, and a role per app for its ServiceAccount.
    #[serde(default)]
    #[schemars(with = "KubernetesAuth")]
    pub kubernetes_auth: Option<KubernetesAuth>,
    /// JWT auth (SPIFFE JWT-SVIDs), and a role per app with a `spiffe_id`.
    #[serde(default)]
    #[schemars(with = "JwtAuth")]
    pub jwt_auth: Option<JwtAuth>,
    /// The database secrets engine on a `postgres` dependency, and a role
    /// per app that has a database there.
    #[serde(default)]
    #[schemars(with = "Database")]
    pub database: Option<Database>,
    /// A KV version 2 engine; each app may read `<mount>/data/<environment>/<app>/*`.
    #[serde(default)]
    #[schemars(with = "Kv")]
    pub kv: Option<Kv>,
    /// The apps, by name (a DNS label, as their components are named).
    #[serde(default)]
    pub apps: BTreeMap<String, App>,

    /// Alerts and a Grafana dashboard for the server (and, in-cluster, the
    /// scrape of its metrics); off when absent, `{}` for the defaults.
    #[serde(default)]
    #[schemars(with = "Monitoring")]
    pub monitoring: Option<Monitoring>,
}

/// Alerts (a prometheus-operator `PrometheusRule`) and a Grafana dashboard
/// (a ConfigMap for the Grafana chart's dashboard sidecar); in-cluster also
/// a `ServiceMonitor` on the client Service and the telemetry stanzas that
/// let Prometheus read every peer's metrics, sealed ones included.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// The `job` label of the server's metrics in Prometheus, which the
    /// alerts and the dashboard select on. In-cluster, default: the client
    /// Service's name (`<name>`), the job a ServiceMonitor gives its
    /// targets. Required external: how that server is scraped is not this
    /// plugin's to know.
    #[serde(default)]
    pub job: Option<String>,
    /// With `pki`, alert on certificates of its issuing CA (the
    /// intermediate when there is one, else the root) that end within 14
    /// days (read from the x509-certificate-exporter's metrics).
    #[serde(default = "yes")]
    pub pki_expiry: bool,
    /// Render the Grafana dashboard.
    #[serde(default = "yes")]
    pub dashboard: bool,
    /// Extra labels of the PrometheusRule and the ServiceMonitor, so that a
    /// Prometheus's `ruleSelector` and `serviceMonitorSelector` pick them up
    /// (kube-prometheus-stack's select `release: <its release>`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// in-cluster: the persistent volume of each peer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Volume size per peer, such as `10Gi`.
    pub size: String,
    /// StorageClass; default: the cluster's default class.
    #[serde(default)]
    pub class: Option<String>,
}

/// in-cluster: TLS on the API listener.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// A Secret in the component's namespace with `tls.crt`, `tls.key` and
    /// `ca.crt` (cert-manager's layout). None: plain HTTP (a warning).
    #[serde(default)]
    pub secret: Option<String>,
}

/// in-cluster: the `seal "<type>" { … }` stanza.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AutoUnseal {
    /// The seal: `awskms`, `gcpckms`, `azurekeyvault`, `transit`, `pkcs11`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Its settings, as the seal's documentation names them.
    #[serde(flatten)]
    pub settings: BTreeMap<String, String>,
}

/// Settings names that carry a credential: refused in `auto_unseal`, whose
/// settings are written to a ConfigMap.
const CREDENTIAL_SETTINGS: &[&str] = &[
    "access_key",
    "secret_key",
    "session_token",
    "token",
    "client_secret",
    "credentials",
    "pin",
    "password",
];

/// A PKI engine with a root CA, and optionally an intermediate CA the
/// apps' certificates are issued from.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pki {
    /// Where it is mounted.
    #[serde(default = "default_pki_mount")]
    pub mount: String,
    /// The root CA's common name, such as `Opus Internal CA`.
    pub common_name: String,
    /// How long the root is valid, also the mount's longest lease.
    #[serde(default = "default_root_ttl")]
    pub ttl: String,
    /// The URL certificates name for the CA and the CRL
    /// (`<issuing_base>/v1/<mount>/ca`); default: `address`.
    #[serde(default)]
    pub issuing_base: Option<String>,
    /// An intermediate CA in a mount of its own, signed by the root: the
    /// apps' roles are then on it, and the root's key signs nothing but
    /// the intermediate.
    #[serde(default)]
    #[schemars(with = "Intermediate")]
    pub intermediate: Option<Intermediate>,
}

/// An intermediate CA signed by the PKI root, in a mount of its own.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Intermediate {
    /// Where it is mounted (another path than the root's).
    #[serde(default = "default_intermediate_mount")]
    pub mount: String,
    /// The intermediate's common name, such as `Opus Issuing CA`.
    pub common_name: String,
    /// How long it is valid, also its mount's longest lease; no longer
    /// than the root's.
    #[serde(default = "default_intermediate_ttl")]
    pub ttl: String,
}

impl Pki {
    /// The mount the apps' roles are on and their certificates issued
    /// from: the intermediate's when there is one, else the root's.
    pub fn issuing_mount(&self) -> &str {
        self.intermediate.as_ref().map_or(&self.mount, |i| &i.mount)
    }

    /// The common name of the CA that signs the apps' certificates.
    pub fn issuing_common_name(&self) -> &str {
        self.intermediate.as_ref().map_or(&self.common_name, |i| &i.common_name)
    }
}

/// Kubernetes auth: pods log in with their ServiceAccount token.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesAuth {
    /// Where it is enabled (`auth/<path>`).
    #[serde(default = "default_kubernetes_path")]
    pub path: String,
    /// The API server Vault reviews tokens with.
    #[serde(default = "default_kubernetes_host")]
    pub kubernetes_host: String,
    /// The PEM CA of the API server. An external server given it reviews
    /// each app's token with that token itself; without it, the server
    /// uses the CA and token of the pod it runs in, which must then be a
    /// pod of this cluster.
    #[serde(default)]
    pub kubernetes_ca_cert: Option<String>,
}

/// JWT auth: workloads log in with a JWT (a SPIFFE JWT-SVID); exactly one
/// of `jwks_url`, `oidc_discovery_url` and `jwt_validation_pubkeys` says
/// how it is verified.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtAuth {
    /// Where it is enabled (`auth/<path>`).
    #[serde(default = "default_jwt_path")]
    pub path: String,
    /// The JWKS of the signer (SPIRE's OIDC discovery provider's `/keys`).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The signer's OIDC discovery URL (its `/.well-known/openid-configuration`'s base).
    #[serde(default)]
    pub oidc_discovery_url: Option<String>,
    /// The signer's public keys, PEM.
    #[serde(default)]
    pub jwt_validation_pubkeys: Option<Vec<String>>,
    /// The CA (PEM) that signed the discovery provider's or JWKS server's
    /// certificate, when no public CA did (SPIRE's OIDC provider behind a
    /// private issuer).
    #[serde(default)]
    pub discovery_ca_pem: Option<String>,
    /// The `iss` every JWT must carry.
    #[serde(default)]
    pub bound_issuer: Option<String>,
    /// The `aud` every JWT must carry.
    #[serde(default = "default_audience")]
    pub audience: String,
}

/// The database secrets engine, on a `postgres` dependency.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Where it is mounted.
    #[serde(default = "default_database_mount")]
    pub mount: String,
    /// The name of the `postgres` dependency (its `dependency` block): its
    /// server, and each app's database and role.
    #[serde(default = "default_postgres")]
    pub postgres: String,
    /// The role Vault logs in to PostgreSQL as, to create and drop each
    /// app's short-lived roles: it needs `CREATEROLE` and, from PostgreSQL
    /// 16, `ADMIN OPTION` on each app's role.
    pub username: String,
    /// Its password, from the secrets file (`values_sensitive_custom`).
    pub password: Sensitive,
    /// The libpq `sslmode` Vault connects with; default: the postgres
    /// outputs' `sslmode`, else `prefer`.
    #[serde(default)]
    pub sslmode: Option<SslMode>,
    /// How long a credential lives unless renewed.
    #[serde(default = "default_credential_ttl")]
    pub default_ttl: String,
    /// The longest a credential lives, renewals included.
    #[serde(default = "default_credential_max_ttl")]
    pub max_ttl: String,
}

/// A KV version 2 engine.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kv {
    /// Where it is mounted.
    #[serde(default = "default_kv_mount")]
    pub mount: String,
}

/// One app.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Its namespace; default: the component's.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The ServiceAccount its pods run as; default: the app's name.
    #[serde(default)]
    pub service_account: Option<String>,
    /// Its SPIFFE ID (`spiffe://<trust domain>/…`), for JWT auth.
    #[serde(default)]
    pub spiffe_id: Option<String>,
    /// What its PKI role issues.
    #[serde(default)]
    pub certificate: Certificate,
    /// More KV paths it may read, under the `kv` mount's `data/`, such as
    /// `capstan/dev/*` for the External Secrets store that reads what the
    /// render target wrote there; beside `<environment>/<app>/*`, which
    /// every app may read.
    #[serde(default)]
    pub kv_read: Vec<String>,
}

/// What an app's PKI role issues.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// The names it may put in a certificate, each exactly (no
    /// subdomains); default: `<app>.<namespace>.svc` and
    /// `<app>.<namespace>.svc.cluster.local`.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// The longest a certificate is valid.
    #[serde(default = "default_certificate_ttl")]
    pub max_ttl: String,
}

impl Default for Certificate {
    fn default() -> Self {
        Self { domains: None, max_ttl: default_certificate_ttl() }
    }
}

fn default_pki_mount() -> String {
    "pki".to_owned()
}
fn default_root_ttl() -> String {
    "87600h".to_owned()
}
fn default_intermediate_mount() -> String {
    "pki_int".to_owned()
}
fn default_intermediate_ttl() -> String {
    "43800h".to_owned()
}
fn default_kubernetes_path() -> String {
    "kubernetes".to_owned()
}
fn default_kubernetes_host() -> String {
    "https://kubernetes.default.svc".to_owned()
}
fn default_jwt_path() -> String {
    "jwt".to_owned()
}
fn default_audience() -> String {
    "vault".to_owned()
}
fn default_database_mount() -> String {
    "database".to_owned()
}
fn default_postgres() -> String {
    "postgres".to_owned()
}
fn default_credential_ttl() -> String {
    "1h".to_owned()
}
fn default_credential_max_ttl() -> String {
    "24h".to_owned()
}
fn default_kv_mount() -> String {
    "secret".to_owned()
}
fn default_certificate_ttl() -> String {
    "72h".to_owned()
}

impl Inputs {
    /// The namespace app `name` runs in.
    pub fn app_namespace<'a>(&'a self, name: &str, component_namespace: &'a str) -> &'a str {
        self.apps.get(name).and_then(|a| a.namespace.as_deref()).unwrap_or(component_namespace)
    }
}

/// Why external mode without `address` is refused.
pub const ADDRESS_REQUIRED: &str =
    "external mode needs the URL apps reach the server at, such as https://vault.example.com:8200";

/// Everything `validate` finds, errors and warnings.
pub fn validate(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if inputs.connection.is_empty() && inputs.configure {
        out.push(Diagnostic::error(
            "/connection",
            "name the `type = \"vault\"` connection the effects run on",
        ));
    }
    match (inputs.mode, inputs.address.as_deref()) {
        (Mode::External, None | Some("")) => out.push(Diagnostic::error("/address", ADDRESS_REQUIRED)),
        (_, Some(address)) if !address.is_empty() => {
            if let Err(why) = Address::parse(address) {
                out.push(Diagnostic::error("/address", why));
            }
        }
        _ => {}
    }
    match inputs.mode {
        Mode::InCluster => in_cluster(inputs, &mut out),
        Mode::External => external(inputs, &mut out),
    }
    if let Some(pki) = &inputs.pki {
        check_mount("/pki/mount", &pki.mount, &mut out);
        if pki.common_name.trim().is_empty() {
            out.push(Diagnostic::error("/pki/common_name", "name the root CA, such as \"Opus Internal CA\""));
        }
        check_duration("/pki/ttl", &pki.ttl, &mut out);
        if let Some(base) = &pki.issuing_base
            && let Err(why) = Address::parse(base)
        {
            out.push(Diagnostic::error("/pki/issuing_base", why));
        }
        if let Some(int) = &pki.intermediate {
            intermediate(pki, int, &mut out);
        }
    }
    if let Some(k) = &inputs.kubernetes_auth {
        check_mount("/kubernetes_auth/path", &k.path, &mut out);
        if !k.kubernetes_host.starts_with("https://") {
            out.push(Diagnostic::error(
                "/kubernetes_auth/kubernetes_host",
                "the Kubernetes API server's https:// URL, such as https://kubernetes.default.svc",
            ));
        }
    }
    if let Some(j) = &inputs.jwt_auth {
        jwt(j, &mut out);
    }
    if let Some(d) = &inputs.database {
        check_mount("/database/mount", &d.mount, &mut out);
        if d.postgres.is_empty() {
            out.push(Diagnostic::error("/database/postgres", "name the `postgres` dependency"));
        }
        if d.username.trim().is_empty() {
            out.push(Diagnostic::error("/database/username", "name the role Vault logs in to PostgreSQL as"));
        }
        if d.password.expose().is_empty() {
            out.push(Diagnostic::error("/database/password", "the password is empty"));
        }
        check_duration("/database/default_ttl", &d.default_ttl, &mut out);
        check_duration("/database/max_ttl", &d.max_ttl, &mut out);
    }
    if let Some(kv) = &inputs.kv {
        check_mount("/kv/mount", &kv.mount, &mut out);
    }
    distinct_mounts(inputs, &mut out);
    for (name, app) in &inputs.apps {
        check_app(inputs, name, app, &mut out);
    }
    if let Some(m) = &inputs.monitoring {
        check_monitoring(inputs.mode, m, &mut out);
    }
    out
}

/// Why external mode's `monitoring` needs a `job`.
pub const JOB_REQUIRED: &str = "external mode: name the `job` label Prometheus gives this server's metrics \
     (the job of its scrape configuration, or the name of the Service a ServiceMonitor scrapes): this plugin \
     does not render that scrape, so it cannot know it";

fn check_monitoring(mode: Mode, m: &Monitoring, out: &mut Vec<Diagnostic>) {
    match (mode, m.job.as_deref()) {
        (Mode::External, None) => out.push(Diagnostic::error("/monitoring/job", JOB_REQUIRED)),
        (_, Some(job)) if !is_job(job) => out.push(Diagnostic::error(
            "/monitoring/job",
            format!(
                "`{job}` is not a job name this plugin writes: 1 to 128 letters, digits, `-`, `_`, `.`, `/` \
                 and `:`"
            ),
        )),
        _ => {}
    }
    check_labels("monitoring", &m.labels, out);
}

/// A `job` as the plugin puts it in PromQL strings and in a relabeling's
/// `replacement` (where `$` would be a reference to a group): any label
/// value would do in PromQL, but the names Prometheus and
/// prometheus-operator give jobs fit this.
fn is_job(job: &str) -> bool {
    !job.is_empty()
        && job.len() <= 128
        && job.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:".contains(c))
}

/// Extra labels of `<block>.labels`: Kubernetes label keys and values, none
/// of those Capstan sets on every object itself.
fn check_labels(block: &str, labels: &BTreeMap<String, String>, out: &mut Vec<Diagnostic>) {
    for (key, value) in labels {
        let at = pointer(&[block, "labels", key]);
        if !k8s::is_label_key(key) {
            out.push(Diagnostic::error(
                at,
                format!(
                    "`{key}` is not a label key: an optional DNS prefix and `/`, then 1 to 63 letters, digits, \
                     `-`, `_` and `.`"
                ),
            ));
        } else if key.starts_with("app.kubernetes.io/") || key.starts_with("capstan.dev/") {
            out.push(Diagnostic::error(at, format!("`{key}` is set by Capstan on every object it renders")));
        } else if !k8s::is_label_value(value) {
            out.push(Diagnostic::error(
                at,
                format!(
                    "`{value}` is not a label value: at most 63 letters, digits, `-`, `_` and `.`, \
                     alphanumeric at both ends"
                ),
            ));
        }
    }
}

fn in_cluster(inputs: &Inputs, out: &mut Vec<Diagnostic>) {
    match inputs.replicas {
        0 => out.push(Diagnostic::error("/replicas", "0 replicas would run no server; use 3 (or 1 to try it out)")),
        n if n % 2 == 0 => out.push(Diagnostic::warning(
            "/replicas",
            format!(
                "{n} Raft peers survive no more lost peers than {}: a quorum is a majority, so use an odd number",
                n - 1
            ),
        )),
        _ => {}
    }
    if inputs.image.trim().is_empty() {
        out.push(Diagnostic::error(
            "/image",
            "name the OpenBao image, such as quay.io/openbao/openbao:2.7.2",
        ));
    }
    if inputs.storage.size.trim().is_empty() {
        out.push(Diagnostic::error("/storage/size", "give each peer's volume a size, such as 10Gi"));
    }
    match inputs.tls.secret.as_deref() {
        None => out.push(Diagnostic::warning(
            "/tls/secret",
            "no TLS: the API listens in plain HTTP, so tokens, certificates' keys and database credentials \
             cross the network in clear; name a Secret with tls.crt, tls.key and ca.crt",
        )),
        Some(secret) if !is_dns_subdomain(secret) => out.push(Diagnostic::error(
            "/tls/secret",
            format!("`{secret}` cannot name a Secret: lower-case letters, digits, `-` and `.`"),
        )),
        Some(_) => {}
    }
    if let Some(seal) = &inputs.auto_unseal {
        if !is_identifier(&seal.kind) {
            out.push(Diagnostic::error(
                "/auto_unseal/type",
                "the seal's type, such as awskms, gcpckms, azurekeyvault or transit",
            ));
        }
        for key in seal.settings.keys() {
            let at = pointer(&["auto_unseal", key]);
            if !is_identifier(key) {
                out.push(Diagnostic::error(at, format!("`{key}` is not a setting name of a seal")));
            } else if CREDENTIAL_SETTINGS.contains(&key.as_str()) {
                out.push(Diagnostic::error(
                    at,
                    format!(
                        "`{key}` is a credential, and the seal's settings are written to a ConfigMap: give the \
                         pods their credentials through their ServiceAccount (workload identity, \
                         service_account_annotations) instead"
                    ),
                ));
            }
        }
    }
    for key in inputs.service_account_annotations.keys() {
        if !k8s::is_label_key(key) {
            out.push(Diagnostic::error(
                pointer(&["service_account_annotations", key]),
                format!("`{key}` is not an annotation key (`prefix/name`)"),
            ));
        }
    }
    if inputs.server_pods.is_some() {
        out.push(Diagnostic::warning(
            "/server_pods",
            "ignored in-cluster: the `network` output names this component's own pods",
        ));
    }
}

fn external(inputs: &Inputs, out: &mut Vec<Diagnostic>) {
    if let Some(pods) = &inputs.server_pods {
        pods.check("/server_pods", out);
    }
    if let Some(k) = &inputs.kubernetes_auth
        && k.kubernetes_ca_cert.is_none()
    {
        out.push(Diagnostic::warning(
            "/kubernetes_auth/kubernetes_ca_cert",
            "none: the server reviews tokens with the CA and ServiceAccount token of the pod it runs in, so it \
             must run in a pod of this cluster (its ServiceAccount allowed to review tokens); a server outside \
             the cluster needs the API server's CA here, and OpenBao refuses the configuration without it",
        ));
    }
    let in_cluster_only = [
        ("/tls", inputs.tls.secret.is_some()),
        ("/auto_unseal", inputs.auto_unseal.is_some()),
        ("/service_account_annotations", !inputs.service_account_annotations.is_empty()),
    ];
    for (path, set) in in_cluster_only {
        if set {
            out.push(Diagnostic::warning(path, "ignored in external mode: nothing is rendered"));
        }
    }
    if !inputs.configure {
        out.push(Diagnostic::warning(
            "/configure",
            "external mode with configure = false does nothing but publish the outputs",
        ));
    }
}

fn jwt(j: &JwtAuth, out: &mut Vec<Diagnostic>) {
    check_mount("/jwt_auth/path", &j.path, out);
    let keys = j.jwt_validation_pubkeys.as_ref().filter(|k| !k.is_empty());
    let given = [j.jwks_url.is_some(), j.oidc_discovery_url.is_some(), keys.is_some()];
    // None given: the keys come from a `spire` dependency's OIDC discovery
    // provider, checked at plan time, where dependencies are known.
    if given.iter().filter(|g| **g).count() > 1 {
        out.push(Diagnostic::error(
            "/jwt_auth",
            "say how JWTs are verified with one of jwks_url, oidc_discovery_url and \
             jwt_validation_pubkeys (or none, to trust a spire dependency's OIDC discovery provider)",
        ));
    }
    for (field, url) in [("jwks_url", &j.jwks_url), ("oidc_discovery_url", &j.oidc_discovery_url)] {
        if let Some(url) = url
            && !url.starts_with("https://")
        {
            out.push(Diagnostic::error(
                pointer(&["jwt_auth", field]),
                "an https:// URL: the keys that sign logins must not come over plain HTTP",
            ));
        }
    }
    for (i, key) in keys.into_iter().flatten().enumerate() {
        if !key.trim_start().starts_with("-----BEGIN") {
            out.push(Diagnostic::error(
                format!("/jwt_auth/jwt_validation_pubkeys/{i}"),
                "a PEM public key (-----BEGIN PUBLIC KEY-----)",
            ));
        }
    }
    if j.audience.is_empty() {
        out.push(Diagnostic::error("/jwt_auth/audience", "the `aud` JWTs must carry, such as vault"));
    }
}

/// The intermediate's own checks; that its mount is not the root's (or
/// another engine's) is [`distinct_mounts`]'s.
fn intermediate(pki: &Pki, int: &Intermediate, out: &mut Vec<Diagnostic>) {
    check_mount("/pki/intermediate/mount", &int.mount, out);
    if int.common_name.trim().is_empty() {
        out.push(Diagnostic::error(
            "/pki/intermediate/common_name",
            "name the intermediate CA, such as \"Opus Issuing CA\"",
        ));
    }
    check_duration("/pki/intermediate/ttl", &int.ttl, out);
    // A CA valid after its issuer has ended issues certificates nothing
    // can verify by then.
    if let (Some(int_ttl), Some(root_ttl)) = (seconds(&int.ttl), seconds(&pki.ttl))
        && int_ttl > root_ttl
    {
        out.push(Diagnostic::error(
            "/pki/intermediate/ttl",
            format!(
                "`{}` is longer than the root's ttl `{}` (/pki/ttl): the intermediate would outlive the CA that \
                 signed it",
                int.ttl, pki.ttl
            ),
        ));
    }
}

fn check_app(inputs: &Inputs, name: &str, app: &App, out: &mut Vec<Diagnostic>) {
    let at = |field: &str| pointer(&["apps", name, field]);
    if !k8s::is_dns_label(name) {
        out.push(Diagnostic::error(
            pointer(&["apps", name]),
            format!("`{name}` is not an app name: lower-case letters, digits and `-`, at most 63"),
        ));
    }
    if let Some(ns) = &app.namespace
        && !k8s::is_dns_label(ns)
    {
        out.push(Diagnostic::error(at("namespace"), format!("`{ns}` cannot name a namespace")));
    }
    if let Some(sa) = &app.service_account
        && !is_dns_subdomain(sa)
    {
        out.push(Diagnostic::error(at("service_account"), format!("`{sa}` cannot name a ServiceAccount")));
    }
    match &app.spiffe_id {
        Some(id) if !id.starts_with("spiffe://") || id.len() <= "spiffe://".len() => {
            out.push(Diagnostic::error(at("spiffe_id"), "a SPIFFE ID: spiffe://<trust domain>/<path>"));
        }
        Some(_) if inputs.jwt_auth.is_none() => out.push(Diagnostic::warning(
            at("spiffe_id"),
            "no jwt_auth: nothing logs in with it (it is still published in the outputs)",
        )),
        _ => {}
    }
    let cert = pointer(&["apps", name, "certificate"]);
    if let Some(domains) = &app.certificate.domains {
        if domains.is_empty() {
            out.push(Diagnostic::error(format!("{cert}/domains"), "list at least one name, or leave it out"));
        }
        for (i, d) in domains.iter().enumerate() {
            if !is_dns_subdomain(d) {
                out.push(Diagnostic::error(
                    format!("{cert}/domains/{i}"),
                    format!("`{d}` is not a DNS name (lower-case, no wildcard)"),
                ));
            }
        }
    }
    check_duration(&format!("{cert}/max_ttl"), &app.certificate.max_ttl, out);
    if !app.kv_read.is_empty() && inputs.kv.is_none() {
        out.push(Diagnostic::error(at("kv_read"), "there is no `kv` mount to read: add `kv = {}`"));
    }
    for (i, path) in app.kv_read.iter().enumerate() {
        // The path goes into the policy's text between quotes.
        let fits = !path.is_empty()
            && !path.starts_with('/')
            && path.chars().all(|c| c.is_ascii_alphanumeric() || "-_./*+".contains(c));
        if !fits {
            out.push(Diagnostic::error(
                format!("{}/{i}", at("kv_read")),
                format!(
                    "`{path}` is not a KV path such as `capstan/dev/*` (letters, digits, - _ . / + and *)"
                ),
            ));
        }
    }
}

/// Two engines on one path, or two auth methods on one path, would be one
/// mount that a second `ensure-mount` refuses.
fn distinct_mounts(inputs: &Inputs, out: &mut Vec<Diagnostic>) {
    let engines = [
        ("/pki/mount", inputs.pki.as_ref().map(|p| &p.mount)),
        (
            "/pki/intermediate/mount",
            inputs.pki.as_ref().and_then(|p| p.intermediate.as_ref()).map(|i| &i.mount),
        ),
        ("/database/mount", inputs.database.as_ref().map(|d| &d.mount)),
        ("/kv/mount", inputs.kv.as_ref().map(|k| &k.mount)),
    ];
    let auths = [
        ("/kubernetes_auth/path", inputs.kubernetes_auth.as_ref().map(|k| &k.path)),
        ("/jwt_auth/path", inputs.jwt_auth.as_ref().map(|j| &j.path)),
    ];
    for set in [&engines[..], &auths[..]] {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (at, path) in set {
            if let Some(path) = path
                && let Some(first) = seen.insert(path.as_str(), at)
            {
                out.push(Diagnostic::error(*at, format!("`{path}` is also {first}: give each its own path")));
            }
        }
    }
    for (at, path) in &engines {
        if let Some(path) = path
            && (path.as_str() == "sys" || path.starts_with("sys/") || path.starts_with("auth/"))
        {
            out.push(Diagnostic::error(*at, format!("`{path}` is reserved by the server")));
        }
    }
}

/// A mount or auth path: segments of letters, digits, `-`, `_` and `.`,
/// no slash at either end.
fn check_mount(at: &str, path: &str, out: &mut Vec<Diagnostic>) {
    let segment = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if !path.split('/').all(segment) {
        out.push(Diagnostic::error(
            at,
            format!(
                "`{path}` is not a mount path: letters, digits, `-`, `_` and `.`, no slash at either end"
            ),
        ));
    }
}

/// A duration as Vault reads one: whole seconds, or numbers with `ms`,
/// `s`, `m`, `h` or `d` (`87600h`, `1h30m`).
fn check_duration(at: &str, value: &str, out: &mut Vec<Diagnostic>) {
    if !is_duration(value) {
        out.push(Diagnostic::error(
            at,
            format!("`{value}` is not a duration: such as 72h, 30m, 1h30m or a number of seconds"),
        ));
    }
}

/// See [`check_duration`].
pub fn is_duration(value: &str) -> bool {
    seconds(value).is_some()
}

/// A duration as Vault reads one (see [`check_duration`]), in seconds;
/// surrounding spaces are refused.
fn seconds(value: &str) -> Option<f64> {
    capstan_sdk::capstan_core::vault_duration_seconds(value)
}

/// A DNS-1123 subdomain: what Kubernetes names most objects with.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && !s.is_empty() && s.split('.').all(k8s::is_dns_label)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_as_vault_reads_them() {
        for ok in ["72h", "87600h", "1h30m", "90s", "3600", "1.5h", "7d", "250ms"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "h", "1y", "1 h", "-1h", "1h-", "forever"] {
            assert!(!is_duration(bad), "{bad}");
        }
        for (value, secs) in
            [("87600h", 315_360_000.0), ("1h30m", 5400.0), ("3600", 3600.0), ("1.5d", 129_600.0)]
        {
            assert_eq!(seconds(value), Some(secs), "{value}");
        }
    }
}
