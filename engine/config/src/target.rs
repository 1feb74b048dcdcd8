//! `target "render" { … }` and `target "kube" { … }`: where an
//! environment's objects go, set in its env.hcl, with client.hcl's blocks as
//! defaults every environment inherits attribute by attribute.
//!
//! ```hcl
//! target "render" {
//!   out_dir    = "rendered"   # relative to the stack root
//!   secrets    = "sops"       # or "plain", only when asked for by name
//!   recipients = ["age1…"]    # default: the environment's secrets files' recipients
//! }
//! target "kube" {
//!   context = "prod-eu"                       # the kubeconfig context to use
//!   server  = "https://prod-eu.k8s.example"   # the API server it must resolve to
//! }
//! ```
//!
//! This module reads and checks the blocks; the run layer acts on them.

use std::path::PathBuf;

use hcl_edit::structure::{Attribute, Block, Body};
use serde::Serialize;
use serde_json::Value;

use crate::diag::{ConfigError, Location};
use crate::eval::{Ctx, EvalError, Scope, eval, span_of};

/// How the render target writes Kubernetes `Secret`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretsDelivery {
    /// SOPS documents encrypted to the environment's age recipients.
    Sops,
    /// In clear (mode 0600): only for a directory Git ignores, or a stream
    /// that goes straight to a cluster.
    Plain,
    /// No Secret rendered: an `ExternalSecret` in its place, the values
    /// written to the store `external_secrets` names.
    ExternalSecrets,
}

/// Where `external-secrets` delivery keeps the values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "backend", rename_all = "kebab-case")]
pub enum StoreBackend {
    /// Vault or OpenBao KV version 2 at `mount` (`VAULT_ADDR`, `VAULT_TOKEN`).
    Vault {
        /// The KV mount path, `secret` by default.
        mount: String,
    },
    /// AWS Secrets Manager (the AWS settings chain).
    AwsSecretsManager,
}

/// The `external_secrets = { … }` attribute of `target "render"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExternalSecretsSettings {
    /// The `SecretStore` / `ClusterSecretStore` the ExternalSecrets name.
    pub store: String,
    /// `ClusterSecretStore` (default) or `SecretStore`.
    pub store_kind: String,
    /// The secret store the values are written to.
    pub backend: StoreBackend,
    /// Keys are `<prefix>/<environment>/<namespace>/<secret name>`.
    pub prefix: String,
    /// How often the operator re-reads the store (`refreshInterval`).
    pub refresh: String,
}

impl SecretsDelivery {
    /// Every delivery, as `secrets = "…"` may name it.
    pub const ALL: [SecretsDelivery; 3] =
        [SecretsDelivery::Sops, SecretsDelivery::Plain, SecretsDelivery::ExternalSecrets];

    /// The word that names it in HCL and on the command line.
    pub fn word(self) -> &'static str {
        match self {
            SecretsDelivery::Sops => "sops",
            SecretsDelivery::Plain => "plain",
            SecretsDelivery::ExternalSecrets => "external-secrets",
        }
    }
}

/// One attribute's value with where it was set, so errors can point at it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting<T> {
    /// The value as read and checked.
    pub value: T,
    /// The attribute's value in client.hcl or env.hcl.
    #[serde(skip)]
    pub at: Location,
}

/// The `target "render"` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RenderSettings {
    /// The output directory, relative to the stack root.
    pub out_dir: Option<Setting<PathBuf>>,
    /// How Secrets are written; when unset, SOPS if the environment has age recipients.
    pub secrets: Option<Setting<SecretsDelivery>>,
    /// age recipients (`age1…`) the SOPS documents are encrypted to.
    pub recipients: Option<Setting<Vec<String>>>,
    /// The store of `external-secrets` delivery.
    pub external_secrets: Option<Setting<ExternalSecretsSettings>>,
}

/// The `target "kube"` block: the cluster an environment is bound to.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KubeSettings {
    /// The kubeconfig context a run uses unless `--context` says otherwise.
    pub context: Option<Setting<String>>,
    /// The API server URL the context must resolve to; a run against any
    /// other cluster is refused.
    pub server: Option<Setting<String>>,
}

/// An environment's (or client.hcl's default) target settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TargetSettings {
    /// The `target "render"` block: files on disk.
    pub render: RenderSettings,
    /// The `target "kube"` block: a live cluster.
    pub kube: KubeSettings,
}

impl TargetSettings {
    /// These settings, with `defaults` filling each attribute left unset.
    #[must_use]
    pub fn over(self, defaults: &TargetSettings) -> TargetSettings {
        let render = RenderSettings {
            out_dir: self.render.out_dir.or_else(|| defaults.render.out_dir.clone()),
            secrets: self.render.secrets.or_else(|| defaults.render.secrets.clone()),
            recipients: self.render.recipients.or_else(|| defaults.render.recipients.clone()),
            external_secrets: self
                .render
                .external_secrets
                .or_else(|| defaults.render.external_secrets.clone()),
        };
        let kube = KubeSettings {
            context: self.kube.context.or_else(|| defaults.kube.context.clone()),
            server: self.kube.server.or_else(|| defaults.kube.server.clone()),
        };
        TargetSettings { render, kube }
    }
}

/// Reads every `target` block of a level file's body. Problems go to `errors`.
pub(crate) fn parse_targets(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    body: &Body,
    errors: &mut Vec<EvalError>,
) -> TargetSettings {
    let mut out = TargetSettings::default();
    for block in body.get_blocks("target") {
        match block.labels.first().map(|l| l.as_str()) {
            Some("render") => read_render(ctx, scope, block, &mut out.render, errors),
            Some("kube") => read_kube(ctx, scope, block, &mut out.kube, errors),
            Some(other) => errors.push(EvalError::new(
                ConfigError::UnknownValue {
                    setting: "target".to_owned(),
                    value: other.to_owned(),
                    expected: "target \"render\" { … } or target \"kube\" { … }".to_owned(),
                },
                span_of(&block.ident),
            )),
            None => errors.push(EvalError::new(
                ConfigError::UnnamedBlock {
                    block: "target".to_owned(),
                    example: "target \"render\" { … } or target \"kube\" { … }".to_owned(),
                },
                span_of(&block.ident),
            )),
        }
    }
    out
}

/// Each attribute of `block` evaluated, with its span and location; the
/// ones that do not evaluate go to `errors`.
fn attributes<'b>(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    block: &'b Block,
    errors: &mut Vec<EvalError>,
) -> Vec<(&'b Attribute, Value, std::ops::Range<usize>, Location)> {
    let mut out = Vec::new();
    for attr in block.body.attributes() {
        let span = span_of(&attr.value);
        match eval(ctx, scope, &attr.value) {
            Ok(value) => out.push((attr, value, span.clone(), Location::at(ctx.file, span))),
            Err(e) => errors.push(e),
        }
    }
    out
}

fn read_render(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    block: &Block,
    out: &mut RenderSettings,
    errors: &mut Vec<EvalError>,
) {
    for (attr, value, span, at) in attributes(ctx, scope, block, errors) {
        match attr.key.value().as_str() {
            "out_dir" => match value.as_str().filter(|s| !s.is_empty()) {
                Some(dir) => out.out_dir = Some(Setting { value: PathBuf::from(dir), at }),
                None => errors.push(shape("out_dir", "a directory path (a string)", span)),
            },
            "secrets" => match SecretsDelivery::ALL.into_iter().find(|d| value.as_str() == Some(d.word())) {
                Some(delivery) => out.secrets = Some(Setting { value: delivery, at }),
                None => errors.push(shape(
                    "secrets",
                    "\"sops\" (Secrets encrypted to the environment's age recipients), \"external-secrets\" or \"plain\"",
                    span,
                )),
            },
            "recipients" => match strings(&value) {
                Some(list) if list.iter().all(|r| r.starts_with("age1")) => {
                    out.recipients = Some(Setting { value: list, at });
                }
                _ => errors
                    .push(shape("recipients", "a list of age public keys (\"age1…\")", span)),
            },
            "external_secrets" => match external_secrets(&value) {
                Ok(settings) => out.external_secrets = Some(Setting { value: settings, at }),
                Err(reason) => errors.push(EvalError::new(
                    ConfigError::SettingValue { attribute: "external_secrets".to_owned(), reason },
                    span,
                )),
            },
            other => errors.push(unknown_attribute(
                other,
                "render",
                "out_dir, secrets, recipients, external_secrets",
                attr,
            )),
        }
    }
}

fn read_kube(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    block: &Block,
    out: &mut KubeSettings,
    errors: &mut Vec<EvalError>,
) {
    for (attr, value, span, at) in attributes(ctx, scope, block, errors) {
        let key = attr.key.value().as_str();
        let text = value.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        match (key, text) {
            ("context" | "server", None) => errors.push(shape(key, "a string", span)),
            ("context", Some(text)) => out.context = Some(Setting { value: text, at }),
            ("server", Some(text)) if text.starts_with("https://") || text.starts_with("http://") => {
                out.server = Some(Setting { value: text.trim_end_matches('/').to_owned(), at });
            }
            ("server", Some(_)) => {
                errors.push(shape(
                    "server",
                    "the cluster's API server URL, as in kubeconfig (https://…)",
                    span,
                ));
            }
            (other, _) => errors.push(unknown_attribute(other, "kube", "context, server", attr)),
        }
    }
}

/// Reads `external_secrets = { store = "…", backend = "vault", … }`.
fn external_secrets(value: &Value) -> Result<ExternalSecretsSettings, String> {
    let Some(map) = value.as_object() else {
        return Err("it is an object: { store = \"…\", … }".to_owned());
    };
    const KNOWN: [&str; 6] = ["store", "store_kind", "backend", "mount", "prefix", "refresh"];
    if let Some(unknown) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("unknown key `{unknown}` (it takes {})", KNOWN.join(", ")));
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        match map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` is a non-empty string")),
        }
    };
    let store = text("store")?.ok_or("`store` names the SecretStore or ClusterSecretStore")?;
    let store_kind = text("store_kind")?.unwrap_or_else(|| "ClusterSecretStore".to_owned());
    if !matches!(store_kind.as_str(), "ClusterSecretStore" | "SecretStore") {
        return Err(format!("`store_kind` is ClusterSecretStore or SecretStore, not {store_kind}"));
    }
    let backend = match text("backend")?.as_deref() {
        Some("vault") => StoreBackend::Vault { mount: text("mount")?.unwrap_or_else(|| "secret".to_owned()) },
        Some("aws-secrets-manager") => StoreBackend::AwsSecretsManager,
        Some(other) => return Err(format!("`backend` is vault or aws-secrets-manager, not {other}")),
        None => return Err("`backend` is vault or aws-secrets-manager".to_owned()),
    };
    let prefix = text("prefix")?.unwrap_or_else(|| "capstan".to_owned()).trim_matches('/').to_owned();
    let refresh = text("refresh")?.unwrap_or_else(|| "1h".to_owned());
    Ok(ExternalSecretsSettings { store, store_kind, backend, prefix, refresh })
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value.as_array()?.iter().map(|v| v.as_str().map(str::to_owned)).collect()
}

fn unknown_attribute(name: &str, target: &str, known: &str, attr: &Attribute) -> EvalError {
    EvalError::new(
        ConfigError::UnknownAttribute {
            attribute: name.to_owned(),
            block: format!("target \"{target}\""),
            expected: known.to_owned(),
        },
        span_of(&attr.key),
    )
}

fn shape(attribute: &str, expected: &str, span: std::ops::Range<usize>) -> EvalError {
    EvalError::new(
        ConfigError::SettingShape { attribute: attribute.to_owned(), expected: expected.to_owned() },
        span,
    )
}
