//! The plugin's inputs, their defaults and the checks the schema cannot say.

use std::collections::BTreeMap;

use capstan_core::Diagnostic;
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
    /// Memory the tail input may buffer before it pauses (fluent-bit size, such as `50MB`).
    pub mem_buf_limit: String,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    Loki,
    Elasticsearch,
    Splunk,
    Stdout,
}

impl OutputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Loki => "loki",
            OutputKind::Elasticsearch => "elasticsearch",
            OutputKind::Splunk => "splunk",
            OutputKind::Stdout => "stdout",
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
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
    pub user: String,
    pub password: String,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Loki {
    pub host: String,
    #[serde(default = "loki_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: bool,
    /// The `X-Scope-OrgID` tenant, for a multi-tenant Loki.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Static stream labels added to every stream, besides the standard ones.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub auth: Option<BasicAuth>,
}

fn loki_port() -> u16 {
    3100
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Elasticsearch {
    pub host: String,
    #[serde(default = "es_port")]
    pub port: u16,
    /// The index records are written to.
    pub index: String,
    #[serde(default = "yes")]
    pub tls: bool,
    #[serde(default)]
    pub auth: Option<BasicAuth>,
}

fn es_port() -> u16 {
    9200
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Splunk {
    /// The HTTP Event Collector host.
    pub host: String,
    #[serde(default = "hec_port")]
    pub port: u16,
    /// The HEC token. Sensitive: it must come from the secrets file.
    #[serde(default)]
    pub token: Option<String>,
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

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    pub enabled: bool,
    pub port: u16,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
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
    let mut config_values: Vec<(String, &str)> = vec![("/mem_buf_limit".into(), &inputs.mem_buf_limit)];
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

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
