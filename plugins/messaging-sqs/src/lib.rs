//! Capstan plugin `capstan/messaging-sqs`: queues on AWS SQS.
//!
//! It renders no Kubernetes object. It declares HTTP effects on the `aws:sqs`
//! service (AWS JSON protocol), which the engine signs with the operator's
//! credentials, in an order that works on a fresh account: for each queue,
//! its dead-letter queue first (`CreateQueue`, then its attributes and tags),
//! then the queue (`CreateQueue`, `SetQueueAttributes` with the retention,
//! visibility timeout, redrive policy, encryption and access policy,
//! `TagQueue`). Every call is idempotent, and attributes are set apart from
//! `CreateQueue` because SQS refuses to "create" an existing queue with
//! different attributes: a changed retention is applied, not rejected.
//!
//! Attributes converge both ways: each one an input governs is declared on
//! every plan, at SQS's default (or cleared) when the input is unset, so
//! removing a dead-letter queue, a retention or a KMS key from HCL puts the
//! queue back (see `attributes.rs`). Queues are encrypted by default (SSE-SQS;
//! SSE-KMS with `kms_key_id`, see `encryption.rs`) and carry a policy that
//! denies plain-HTTP requests and other accounts (`access_policy`, see
//! `policy.rs`).
//!
//! It never deletes a queue: a queue removed from HCL, or the dead-letter
//! queue of a queue whose `dead_letter` is turned off, stays in the account
//! with its messages (deleting them is an operator's decision). Convergence
//! is of what Capstan declares: the engine reruns an effect when the plan
//! changes it, so a setting changed by hand in the console is put back only
//! on the next plan that changes that queue's attributes.
//!
//! Tested against moto (tests/converge.rs), which stores a queue policy and
//! a KMS key id but enforces neither: that the policy's conditions admit
//! and refuse the right principals, and that SSE-KMS works with a given key,
//! can only be shown on a real AWS account, which these machines do not reach.
//!
//! Outputs carry the queue URLs `CreateQueue` returned when the engine hands
//! the results back, and the canonical URLs before that.
//!
//! The outputs' `network` is the endpoint's port (443 for AWS's HTTPS
//! endpoints) at any address: SQS is outside the cluster, and its
//! addresses are AWS's to change.
//!
//! It does not manage IAM: apps reach SQS with a role the platform gives
//! them, so `users` are accepted (for the same config to work on every
//! backend) and ignored with a warning.

#[allow(dead_code, reason = "shared verbatim by the messaging plugins; each uses a part of it")]
use std::collections::BTreeMap;

use capstan_sdk::capstan_core::HttpCall;
use capstan_sdk::contracts::NetworkPeer;
use capstan_sdk::contracts::messaging::queues;
use capstan_sdk::contracts::messaging::{CredentialsSecret, Outputs, protocol};
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

mod attributes;
mod encryption;
mod policy;

use capstan_sdk::pointer;
pub use policy::AccessPolicy;
use queues::Setting;
pub use queues::{QueueSpec, UserSpec};

/// The service the effects run on; grant it as `http:aws:sqs`.
pub const SERVICE: &str = "aws:sqs";
const DLQ_SUFFIX: &str = "-dlq";
const FIFO_SUFFIX: &str = ".fifo";
/// SQS limits (CreateQueue / SetQueueAttributes reference).
const MAX_NAME: usize = 80;
const MAX_RETENTION_HOURS: u32 = 14 * 24;
const MAX_VISIBILITY_SECONDS: u32 = 12 * 3600;
const MAX_RECEIVE_COUNT: u32 = 1000;

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// AWS region, such as `sa-east-1`.
    pub region: String,
    /// The 12-digit AWS account id that owns the queues.
    pub account_id: String,
    /// The endpoint apps use; default `https://sqs.<region>.amazonaws.com`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Prefix of physical queue names.
    #[serde(default)]
    pub name_prefix: String,
    /// Tags on every queue.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Queues by logical name.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueSpec>,
    /// Ignored: SQS access is granted by IAM.
    #[serde(default)]
    pub users: BTreeMap<String, UserSpec>,
    /// Ignored, as `users`.
    #[serde(default)]
    pub credentials_user: Option<String>,
    /// An existing Secret with static AWS keys, for apps that cannot use an
    /// IAM role; published as the contract's credentials. Default: none (IAM).
    #[serde(default)]
    pub credentials_secret: Option<AwsKeysSecret>,
    /// The KMS key (id, ARN, alias ARN or `alias/…`) that encrypts every
    /// queue (SSE-KMS). Default: none, and the queues use SSE-SQS (keys SQS
    /// owns); removing it switches a queue back to SSE-SQS. Encryption
    /// cannot be turned off.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// With `kms_key_id`: how long SQS reuses a data key before asking KMS
    /// again, 60-86400 seconds. Default 300 (SQS's).
    #[serde(default)]
    pub kms_data_key_reuse_seconds: Option<u32>,
    /// The policy on every queue. Default: deny requests not made over TLS
    /// and principals of other accounts.
    #[serde(default)]
    pub access_policy: AccessPolicy,
}

/// Where apps find static AWS keys.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsKeysSecret {
    /// Name of the Secret, in the component's namespace.
    pub name: String,
    /// Default `AWS_ACCESS_KEY_ID`.
    #[serde(default = "default_key_id")]
    pub access_key_id_key: String,
    /// Default `AWS_SECRET_ACCESS_KEY`.
    #[serde(default = "default_secret_key")]
    pub secret_access_key_key: String,
}

fn default_key_id() -> String {
    "AWS_ACCESS_KEY_ID".to_owned()
}
fn default_secret_key() -> String {
    "AWS_SECRET_ACCESS_KEY".to_owned()
}

const IGNORED: &[(Setting, &str)] = &[
    (Setting::Partitions, "SQS scales a queue by itself"),
    (Setting::Replicas, "SQS stores every message redundantly by itself"),
];

/// One queue to create.
#[derive(Debug)]
struct Queue {
    /// Logical name in the outputs (`<key>` or `<key>-dlq`).
    logical: String,
    physical: String,
    /// Every attribute HCL governs, set or at its default (see `attributes.rs`).
    attributes: BTreeMap<&'static str, String>,
    fifo: bool,
}

/// The plugin: see the crate docs.
pub struct MessagingSqs;

impl Plugin for MessagingSqs {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/messaging-sqs", env!("CARGO_PKG_VERSION"))
            .component_type(Outputs::COMPONENT_TYPE)
            .backend("sqs")
            .description(
                "Queues on AWS SQS, created by signed, idempotent API calls the engine makes: standard or \
                 FIFO queues with retention and visibility timeout, dead-letter queues with a redrive \
                 policy, server-side encryption (SSE-SQS, or SSE-KMS with a key), a queue policy and \
                 tags; a setting removed from HCL is reset on the queue. No Kubernetes objects; access \
                 is granted by IAM.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(include_str!("defaults.yaml"))
            .capability(Capability::Http(SERVICE.to_owned()))
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, |inputs: &Inputs| {
            let mut out = queues::validate(
                &inputs.queues,
                &inputs.users,
                inputs.credentials_user.as_deref(),
                "sqs",
                IGNORED,
            );
            for user in inputs.users.keys() {
                out.push(Diagnostic {
                    path: pointer(&["users", user]),
                    severity: Severity::Warning,
                    message: "ignored by the sqs backend: access to SQS is granted by IAM policies"
                        .to_owned(),
                });
            }
            if !is_region(&inputs.region) {
                out.push(Diagnostic::error(
                    "/region",
                    format!("`{}` is not an AWS region such as sa-east-1", inputs.region),
                ));
            }
            if inputs.account_id.len() != 12 || !inputs.account_id.chars().all(|c| c.is_ascii_digit()) {
                out.push(Diagnostic::error("/account_id", "an AWS account id is 12 digits"));
            }
            if let Some(e) = &inputs.endpoint
                && !(e.starts_with("https://") || e.starts_with("http://"))
            {
                out.push(Diagnostic::error("/endpoint", "the endpoint must be an http(s) URL"));
            }
            if inputs.tags.len() + CAPSTAN_TAGS > 50 {
                out.push(Diagnostic::error(
                    "/tags",
                    format!("SQS allows 50 tags per queue; Capstan adds {CAPSTAN_TAGS}"),
                ));
            }
            for (k, v) in &inputs.tags {
                if k.is_empty() || k.len() > 128 || v.len() > 256 || k.starts_with("aws:") {
                    out.push(Diagnostic::error(
                        pointer(&["tags", k]),
                        "tag keys are 1-128 characters and not `aws:…`, values at most 256",
                    ));
                }
            }
            for (logical, spec) in &inputs.queues {
                validate_queue(&mut out, &inputs.name_prefix, logical, spec);
            }
            encryption::validate(&mut out, inputs.kms_key_id.as_deref(), inputs.kms_data_key_reuse_seconds);
            policy::validate(&mut out, &inputs.access_policy);
            out
        })
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?;
        let tags = tags(req, &inputs);
        let mut effects = Vec::new();
        let mut urls = BTreeMap::new();
        for (logical, spec) in &inputs.queues {
            for queue in queues_of(&inputs, logical, spec) {
                let url = canonical_url(&inputs, &queue.physical);
                effects.extend(queue_effects(&queue, &url, &tags));
                // After apply, the URL SQS returned (it knows its endpoint best).
                let returned = req
                    .effect_results
                    .iter()
                    .find(|r| r.id == create_id(&queue.logical))
                    .and_then(|r| r.body.get("QueueUrl"))
                    .and_then(Value::as_str);
                urls.insert(queue.logical.clone(), returned.map_or(url, str::to_owned));
            }
        }
        let outputs = Outputs {
            protocol: protocol::SQS.to_owned(),
            endpoint: endpoint(&inputs),
            credentials_secret: inputs.credentials_secret.as_ref().map(|c| CredentialsSecret {
                name: c.name.clone(),
                username_key: c.access_key_id_key.clone(),
                password_key: c.secret_access_key_key.clone(),
                namespace: Some(req.component.namespace.clone()),
                uri_key: None,
            }),
            queues: urls,
            region: Some(inputs.region.clone()),
            // Access to SQS is an IAM matter (a role per app), not a broker user.
            consumers: BTreeMap::new(),
            sasl_mechanism: None,
            tls: None,
            exchange: None,
            network: vec![NetworkPeer::outside(&[endpoint_port(&endpoint(&inputs))])],
        };
        Ok(ComponentPlan { effects, outputs: contracts::outputs(&outputs, &[])?, ..Default::default() })
    }
}

/// Tags Capstan puts on every queue, so an AWS console shows who owns it.
const CAPSTAN_TAGS: usize = 3;

fn tags(req: &PlanRequest, inputs: &Inputs) -> BTreeMap<String, String> {
    let mut tags = inputs.tags.clone();
    tags.insert("managed-by".into(), "capstan".into());
    tags.insert("capstan-environment".into(), req.component.environment.clone());
    tags.insert("capstan-component".into(), format!("{}/{}", req.component.namespace, req.component.name));
    tags
}

fn endpoint(inputs: &Inputs) -> String {
    inputs.endpoint.clone().unwrap_or_else(|| format!("https://sqs.{}.amazonaws.com", inputs.region))
}

/// The TCP port of an `http(s)://host[:port][/…]` endpoint (443 or 80 when
/// it names none). `validate` has checked the scheme.
fn endpoint_port(endpoint: &str) -> u16 {
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let explicit = match authority.rsplit_once(':') {
        Some((_, port)) if !port.contains(']') => port.parse().ok(),
        _ => None,
    };
    explicit.unwrap_or(if scheme == "http" { 80 } else { 443 })
}

/// The URL SQS gives a queue: `<endpoint>/<account>/<name>`.
fn canonical_url(inputs: &Inputs, physical: &str) -> String {
    format!("{}/{}/{physical}", endpoint(inputs).trim_end_matches('/'), inputs.account_id)
}

fn arn(inputs: &Inputs, physical: &str) -> String {
    // China and GovCloud regions live in their own partitions.
    let partition = if inputs.region.starts_with("cn-") {
        "aws-cn"
    } else if inputs.region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:sqs:{}:{}:{physical}", inputs.region, inputs.account_id)
}

/// The physical base name (without `.fifo`) and whether the queue is FIFO.
fn base_name(prefix: &str, logical: &str, spec: &QueueSpec) -> String {
    let name = queues::physical_name(prefix, logical, spec);
    name.strip_suffix(FIFO_SUFFIX).map(str::to_owned).unwrap_or(name)
}

fn with_fifo(base: &str, fifo: bool) -> String {
    if fifo { format!("{base}{FIFO_SUFFIX}") } else { base.to_owned() }
}

/// The dead-letter queue (when asked for) then the queue.
fn queues_of(inputs: &Inputs, logical: &str, spec: &QueueSpec) -> Vec<Queue> {
    let base = base_name(&inputs.name_prefix, logical, spec);
    let mut out = Vec::new();
    let mut settings = attributes::Settings {
        retention_seconds: spec.retention_hours.map(|h| u64::from(h) * 3600),
        visibility_timeout_seconds: spec.visibility_timeout_seconds,
        redrive_policy: None,
    };
    if spec.dead_letter {
        let dlq = with_fifo(&format!("{base}{DLQ_SUFFIX}"), spec.fifo);
        let redrive = json!({
            "deadLetterTargetArn": arn(inputs, &dlq),
            "maxReceiveCount": spec.max_receive_count.unwrap_or(queues::DEFAULT_MAX_RECEIVE_COUNT).to_string(),
        });
        settings.redrive_policy = Some(redrive.to_string());
        // Failed messages are kept as long as SQS allows, for a human to look at.
        let dlq_settings = attributes::Settings {
            retention_seconds: Some(u64::from(MAX_RETENTION_HOURS) * 3600),
            ..attributes::Settings::default()
        };
        out.push(Queue {
            logical: format!("{logical}{DLQ_SUFFIX}"),
            attributes: all_attributes(inputs, &dlq, &dlq_settings, false),
            physical: dlq,
            fifo: spec.fifo,
        });
    }
    let physical = with_fifo(&base, spec.fifo);
    out.push(Queue {
        logical: logical.to_owned(),
        attributes: all_attributes(inputs, &physical, &settings, true),
        physical,
        fifo: spec.fifo,
    });
    out
}

/// A queue's settings with the component's encryption and policy.
/// `senders`: whether `access_policy.allow_send_from` applies (not to a
/// dead-letter queue).
fn all_attributes(
    inputs: &Inputs,
    physical: &str,
    settings: &attributes::Settings,
    senders: bool,
) -> BTreeMap<&'static str, String> {
    let mut all = settings.attributes();
    all.extend(encryption::attributes(inputs.kms_key_id.as_deref(), inputs.kms_data_key_reuse_seconds));
    if let Some(policy) =
        policy::attribute(&inputs.access_policy, &inputs.account_id, &arn(inputs, physical), senders)
    {
        all.insert("Policy", policy);
    }
    all
}

fn create_id(logical: &str) -> String {
    format!("queue:{logical}:create")
}

fn call(action: &str, body: Value) -> EffectKind {
    EffectKind::Http(HttpCall {
        method: "POST".to_owned(),
        path: "/".to_owned(),
        headers: vec![
            ("X-Amz-Target".to_owned(), format!("AmazonSQS.{action}")),
            ("Content-Type".to_owned(), "application/x-amz-json-1.0".to_owned()),
        ],
        body: Some(Text::Plain(body.to_string())),
    })
}

fn queue_effects(queue: &Queue, url: &str, tags: &BTreeMap<String, String>) -> Vec<Effect> {
    // FifoQueue can only be given at creation, and must then be given every
    // time: it is part of the queue's identity, so CreateQueue stays idempotent.
    let mut create = json!({ "QueueName": queue.physical });
    if queue.fifo {
        create["Attributes"] = json!({ "FifoQueue": "true", "ContentBasedDeduplication": "true" });
    }
    let mut effects = vec![Effect {
        id: create_id(&queue.logical),
        target: SERVICE.to_owned(),
        summary: format!("CreateQueue {}", queue.physical),
        kind: call("CreateQueue", create),
    }];
    effects.push(Effect {
        id: format!("queue:{}:attributes", queue.logical),
        target: SERVICE.to_owned(),
        summary: attributes::summary(&queue.physical, &queue.attributes),
        kind: call("SetQueueAttributes", json!({ "QueueUrl": url, "Attributes": queue.attributes })),
    });
    effects.push(Effect {
        id: format!("queue:{}:tags", queue.logical),
        target: SERVICE.to_owned(),
        summary: format!("TagQueue {} ({} tags)", queue.physical, tags.len()),
        kind: call("TagQueue", json!({ "QueueUrl": url, "Tags": tags })),
    });
    effects
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn is_queue_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn validate_queue(out: &mut Vec<Diagnostic>, prefix: &str, logical: &str, spec: &QueueSpec) {
    let at = |field: &str| {
        if field.is_empty() { pointer(&["queues", logical]) } else { pointer(&["queues", logical, field]) }
    };
    let named = spec.name.is_some();
    let name_at = if named { at("name") } else { at("") };
    let full = queues::physical_name(prefix, logical, spec);
    if full.ends_with(FIFO_SUFFIX) && !spec.fifo {
        out.push(Diagnostic::error(
            name_at.clone(),
            format!("`{full}` ends in .fifo, which SQS keeps for FIFO queues: set fifo: true"),
        ));
        return;
    }
    let base = base_name(prefix, logical, spec);
    let longest =
        with_fifo(&if spec.dead_letter { format!("{base}{DLQ_SUFFIX}") } else { base.clone() }, spec.fifo);
    if base.is_empty() || !base.chars().all(is_queue_char) {
        out.push(Diagnostic::error(
            name_at,
            format!("`{full}` is not an SQS queue name: only A-Z, a-z, 0-9, `-` and `_` (and a final .fifo)"),
        ));
    } else if longest.len() > MAX_NAME {
        out.push(Diagnostic::error(
            name_at,
            format!("`{longest}` is {} characters; SQS queue names are at most {MAX_NAME}", longest.len()),
        ));
    }
    if let Some(h) = spec.retention_hours
        && h > MAX_RETENTION_HOURS
    {
        out.push(Diagnostic::error(
            at("retention_hours"),
            format!("SQS keeps messages at most 14 days ({MAX_RETENTION_HOURS} hours)"),
        ));
    }
    if let Some(s) = spec.visibility_timeout_seconds
        && s > MAX_VISIBILITY_SECONDS
    {
        out.push(Diagnostic::error(
            at("visibility_timeout_seconds"),
            format!("SQS allows at most {MAX_VISIBILITY_SECONDS} seconds (12 hours)"),
        ));
    }
    if let Some(n) = spec.max_receive_count
        && n > MAX_RECEIVE_COUNT
    {
        out.push(Diagnostic::error(
            at("max_receive_count"),
            format!("SQS allows a maxReceiveCount of at most {MAX_RECEIVE_COUNT}"),
        ));
    }
}

capstan_sdk::export_plugin!(MessagingSqs);
