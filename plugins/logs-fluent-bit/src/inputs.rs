//! The plugin's inputs, their defaults and the checks the schema cannot say.

use std::collections::BTreeMap;

use capstan_core::Diagnostic;
use capstan_sdk::k8s::tls::Issuer;
use schemars::JsonSchema;
use serde::Deserialize;

/// The defaults operators merge `values_custom` over.
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// Inputs of `capstan/logs-fluent-bit`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The fluent-bit container image.
    pub image: String,
    /// Where logs are shipped: `loki`, `elasticsearch`, `splunk` or `stdout`.
    /// The section of the same name configures it.
    pub output: OutputKind,
    /// Grafana Loki; used when `output` is `loki`.
    #[serde(default)]
    pub loki: Option<Loki>,
    /// Elasticsearch (or OpenSearch); used when `output` is `elasticsearch`.
    #[serde(default)]
    pub elasticsearch: Option<Elasticsearch>,
    /// Splunk HTTP Event Collector; used when `output` is `splunk`.
    #[serde(default)]
    pub splunk: Option<Splunk>,
    /// A `forward` input behind a Service, for apps that push logs with a
    /// fluent logger instead of writing to stdout.
    pub forward: Forward,
    /// fluent-bit's own log level.
    pub log_level: LogLevel,
    /// Memory each in-memory buffer may hold before its input pauses
    /// (fluent-bit unit size, such as `50MB`): the forward input's and the
    /// multiline filter's emitter. The tail input buffers on disk instead,
    /// bounded by `buffer`.
    pub mem_buf_limit: String,
    /// How much fluent-bit keeps while the log store is unreachable, and for
    /// how long it retries. Bounded by default, so a down backend cannot fill
    /// the node's disk or memory.
    pub buffer: Buffer,
    /// Built-in fluent-bit multiline parsers (`go`, `java`, `python`,
    /// `ruby`) that join application stack traces into one record, tried in
    /// the order listed on every container's log. Empty (the default): no
    /// language joining; lines split by the container runtime are still
    /// rejoined by the `docker` and `cri` parsers.
    #[serde(default)]
    pub multiline_languages: Vec<MultilineLanguage>,
    /// The user the collector runs as. Node log files are root-owned and
    /// mode 0640, so the default is 0 (root, with every capability dropped);
    /// set another uid only where the node's logs are readable by the
    /// container's group and the state directory is writable by that user.
    pub run_as_user: u32,
    /// Container resources of the collector.
    pub resources: Resources,
    /// Tolerations of the DaemonSet's pods; the default tolerates every taint,
    /// so logs are collected from every node.
    #[serde(default)]
    pub tolerations: Vec<serde_json::Value>,
    /// The priority class of the collector's pods.
    #[serde(default)]
    pub priority_class_name: Option<String>,
}

/// The one log store records are shipped to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// Grafana Loki, configured by the `loki` section.
    Loki,
    /// Elasticsearch or OpenSearch, configured by the `elasticsearch` section.
    Elasticsearch,
    /// Splunk HTTP Event Collector, configured by the `splunk` section.
    Splunk,
    /// The collector's own stdout, as JSON lines; no store needed.
    Stdout,
}

impl OutputKind {
    /// The name as written in `output`, which is also the section's name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Loki => "loki",
            OutputKind::Elasticsearch => "elasticsearch",
            OutputKind::Splunk => "splunk",
            OutputKind::Stdout => "stdout",
        }
    }
}

/// fluent-bit's `Log_Level`, from least to most verbose.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings, such as retried chunks.
    Warn,
    /// The default: start-up and state changes besides warnings.
    Info,
    /// Adds per-chunk and per-connection detail; for troubleshooting only.
    Debug,
}

impl LogLevel {
    /// The value written into fluent-bit's `Log_Level`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// Basic authentication towards the log store. The password must come from
/// the secrets file (`values_sensitive_custom`); it is put in a Secret and
/// reaches fluent-bit as an environment variable.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name, written into fluent-bit's config as `HTTP_User`.
    pub user: String,
    /// Password; from the secrets file only.
    pub password: String,
}

/// The `loki` section: where the `loki` output pushes.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Loki {
    /// Host name of Loki or its gateway, e.g. `loki-gateway.logging.svc.cluster.local`.
    pub host: String,
    /// Loki's HTTP port; default 3100.
    #[serde(default = "loki_port")]
    pub port: u16,
    /// Connect with TLS, verifying the certificate; default off.
    #[serde(default)]
    pub tls: bool,
    /// The `X-Scope-OrgID` tenant, for a multi-tenant Loki.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Static stream labels added to every stream, besides the standard ones.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Basic authentication, for a Loki behind an authenticating proxy.
    #[serde(default)]
    pub auth: Option<BasicAuth>,
}

fn loki_port() -> u16 {
    3100
}

/// The `elasticsearch` section: where the `elasticsearch` output writes.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Elasticsearch {
    /// Host name of the cluster, e.g. `es.example.com`.
    pub host: String,
    /// HTTP port; default 9200.
    #[serde(default = "es_port")]
    pub port: u16,
    /// The index records are written to.
    pub index: String,
    /// Connect with TLS, verifying the certificate; default on.
    #[serde(default = "yes")]
    pub tls: bool,
    /// Basic authentication, for a cluster with security enabled.
    #[serde(default)]
    pub auth: Option<BasicAuth>,
}

fn es_port() -> u16 {
    9200
}

fn yes() -> bool {
    true
}

/// The `splunk` section: where the `splunk` output sends events.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Splunk {
    /// The HTTP Event Collector host.
    pub host: String,
    /// HEC port; default 8088.
    #[serde(default = "hec_port")]
    pub port: u16,
    /// The HEC token. Sensitive: it must come from the secrets file.
    #[serde(default)]
    pub token: Option<String>,
    /// Connect with TLS; default on.
    #[serde(default = "yes")]
    pub tls: bool,
    /// Verify the collector's certificate; turn off only for a test collector.
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// The Splunk index events go to; the token's default index when absent.
    #[serde(default)]
    pub index: Option<String>,
}

fn hec_port() -> u16 {
    8088
}

/// The `forward` input. Off by default: once on, any pod that can reach the
/// Service can write records under any app's name, so turn it on with a
/// `shared_key`. It accepts TLS only unless `tls.enabled` is false.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    /// Open the input and add its port to the Service; default off.
    pub enabled: bool,
    /// Port of the input on the pod and the Service; default 24224.
    pub port: u16,
    /// The secure-forward shared key clients must present. Sensitive: it
    /// must come from the secrets file; it is put in a Secret and reaches
    /// fluent-bit as an environment variable. Without it the input accepts
    /// anyone (the plan warns).
    #[serde(default)]
    pub shared_key: Option<String>,
    /// TLS on the input, with a certificate from cert-manager.
    pub tls: ForwardTls,
}

/// The `forward.tls` section: how the input's certificate is made.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardTls {
    /// Accept TLS only, with a certificate cert-manager issues for the
    /// Service's names (cert-manager must be installed); the outputs then
    /// say `tls://…` and name the CA clients verify it with (`ca_secret`).
    /// Default: true. `false` accepts plaintext (`tcp://…`): records, which
    /// may carry anything an app logs, cross the cluster network in clear,
    /// so not for production.
    pub enabled: bool,
    /// The cert-manager issuer that signs the input's certificate, such as
    /// `{ kind: ClusterIssuer, name: internal-ca }`. It must be able to sign
    /// the Service's `*.svc` names and put its CA in the Secret as `ca.crt`
    /// (a CA, Vault or Venafi issuer does; a public ACME issuer does
    /// neither). Default: a private CA made for this collector alone (a
    /// self-signed Issuer, a CA Certificate, an Issuer backed by it).
    #[serde(default)]
    // Its own schema rather than `anyOf` with null, so a bad field inside is
    // reported at its path, not as "not valid under any of the schemas".
    #[schemars(with = "Issuer")]
    pub issuer: Option<Issuer>,
    /// The image of the `tls-reloader` sidecar
    /// (jimmidyson/configmap-reload), which asks fluent-bit to reload when
    /// cert-manager renews the certificate: fluent-bit 4.0 reads it only
    /// when it starts or reloads.
    pub reloader_image: String,
}

/// Bounds on what fluent-bit holds while outputs are failing.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Buffer {
    /// Disk the output's queue of filesystem chunks may take on the node
    /// (fluent-bit's `storage.total_limit_size`, a unit size such as `1G`).
    /// When full, the oldest chunk is discarded to make room.
    pub total_limit_size: String,
    /// How many times a failed chunk is retried (fluent-bit's
    /// `Retry_Limit`; before the Nth retry it waits a random time between
    /// 5 s and 5 s × 2^N, capped at 2000 s, so the default 10 rides out about
    /// an hour of outage). After the last retry the chunk is dropped and
    /// counted in `fluentbit_output_retries_failed_total` and
    /// `fluentbit_output_dropped_records_total`.
    #[schemars(range(min = 1))]
    pub retry_limit: u32,
    /// Chunks (about 2 MB each) the tail input may keep in memory
    /// (fluent-bit's `storage.max_chunks_up`); the rest wait on disk.
    #[schemars(range(min = 1))]
    pub max_chunks_up: u32,
}

/// A built-in fluent-bit multiline parser for application stack traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MultilineLanguage {
    /// Go panics and goroutine dumps.
    Go,
    /// Java exceptions with their `at ...` frames.
    Java,
    /// Python tracebacks.
    Python,
    /// Ruby exceptions and backtraces.
    Ruby,
}

impl MultilineLanguage {
    /// The parser's name in fluent-bit's `multiline.parser`.
    pub fn as_str(self) -> &'static str {
        match self {
            MultilineLanguage::Go => "go",
            MultilineLanguage::Java => "java",
            MultilineLanguage::Python => "python",
            MultilineLanguage::Ruby => "ruby",
        }
    }
}

/// The collector container's `resources`, as Kubernetes quantities.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Requests by resource name, e.g. `cpu: 50m`, `memory: 64Mi`.
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
    /// Limits by resource name, e.g. `cpu: 500m`, `memory: 256Mi`.
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
}

/// Checks beyond the schema: the chosen output is configured, and values
/// that end up inside fluent-bit's config cannot break out of their line.
pub fn check(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let section_missing = match inputs.output {
        OutputKind::Loki => inputs.loki.is_none(),
        OutputKind::Elasticsearch => inputs.elasticsearch.is_none(),
        OutputKind::Splunk => inputs.splunk.is_none(),
        OutputKind::Stdout => false,
    };
    if section_missing {
        let name = inputs.output.as_str();
        out.push(Diagnostic::error(
            format!("/{name}"),
            format!("`output` is `{name}` but there is no `{name}` section to say where to send logs"),
        ));
    }
    if let (OutputKind::Splunk, Some(splunk)) = (inputs.output, &inputs.splunk)
        && splunk.token.as_deref().is_none_or(str::is_empty)
    {
        out.push(Diagnostic::error(
            "/splunk/token",
            "the Splunk HEC token is required; put it in the component's secrets file \
             (values_sensitive_custom: splunk.token)",
        ));
    }
    for (path, value) in [
        ("/mem_buf_limit", &inputs.mem_buf_limit),
        ("/buffer/total_limit_size", &inputs.buffer.total_limit_size),
    ] {
        if !is_unit_size(value) {
            out.push(Diagnostic::error(
                path,
                "must be a fluent-bit unit size: a number with an optional K, M or G suffix (such as `50MB` or `1G`)",
            ));
        }
    }
    if inputs.buffer.retry_limit == 0 {
        out.push(Diagnostic::error("/buffer/retry_limit", "must be at least 1"));
    }
    if inputs.buffer.max_chunks_up == 0 {
        out.push(Diagnostic::error("/buffer/max_chunks_up", "must be at least 1"));
    }
    if inputs.forward.shared_key.as_deref().is_some_and(str::is_empty) {
        out.push(Diagnostic::error("/forward/shared_key", "must not be empty"));
    }
    check_forward_tls(&inputs.forward.tls, &mut out);
    let mut config_values: Vec<(String, &str)> = Vec::new();
    if let Some(l) = &inputs.loki {
        config_values.push(("/loki/host".into(), &l.host));
        if let Some(t) = &l.tenant_id {
            config_values.push(("/loki/tenant_id".into(), t));
        }
        for (k, v) in &l.labels {
            if !is_label_name(k) {
                out.push(Diagnostic::error(
                    format!("/loki/labels/{k}"),
                    format!("`{k}` is not a valid Loki label name (letters, digits and `_`, not starting with a digit)"),
                ));
            }
            config_values.push((format!("/loki/labels/{k}"), v));
        }
        if let Some(a) = &l.auth {
            config_values.push(("/loki/auth/user".into(), &a.user));
        }
    }
    if let Some(e) = &inputs.elasticsearch {
        config_values.push(("/elasticsearch/host".into(), &e.host));
        config_values.push(("/elasticsearch/index".into(), &e.index));
        if let Some(a) = &e.auth {
            config_values.push(("/elasticsearch/auth/user".into(), &a.user));
        }
    }
    if let Some(s) = &inputs.splunk {
        config_values.push(("/splunk/host".into(), &s.host));
        if let Some(i) = &s.index {
            config_values.push(("/splunk/index".into(), i));
        }
    }
    for (path, value) in config_values {
        if value.is_empty() || value.chars().any(|c| c.is_control() || c == ',' || c == '$') {
            out.push(Diagnostic::error(
                path,
                "must be a non-empty single line without `,` or `$` (it is written into fluent-bit's configuration)",
            ));
        }
    }
    out
}

/// The issuer must be nameable in a Certificate's `issuerRef`, and the
/// reloader must have an image.
fn check_forward_tls(tls: &ForwardTls, out: &mut Vec<Diagnostic>) {
    if let Some(issuer) = &tls.issuer
        && !is_object_name(&issuer.name)
    {
        out.push(Diagnostic::error(
            "/forward/tls/issuer/name",
            "must be the name of a cert-manager issuer (lowercase letters, digits, `-` and `.`)",
        ));
    }
    if tls.reloader_image.trim().is_empty() {
        out.push(Diagnostic::error("/forward/tls/reloader_image", "name the reloader's image"));
    }
}

/// fluent-bit's unit sizes: a number, then nothing (bytes) or K, M or G,
/// optionally followed by B, in either case.
fn is_unit_size(s: &str) -> bool {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return false;
    }
    let suffix = s[digits..].to_ascii_uppercase();
    matches!(suffix.as_str(), "" | "K" | "KB" | "M" | "MB" | "G" | "GB")
}

/// A Kubernetes object name (DNS-1123 subdomain).
fn is_object_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
