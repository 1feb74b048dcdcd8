//! Capstan plugin `capstan/messaging-nats`: NATS JetStream streams and
//! durable pull consumers, in one of two modes.
//!
//! - `in-cluster`: a `Stream` per queue and a `Consumer` per user and queue,
//!   for the NATS JetStream controller (NACK, `jetstream.nats.io/v1beta2`)
//!   to create on the server at `url` (NACK's `servers`).
//! - `external`: the same streams and consumers declared as `jetstream`
//!   effects on the operator's NATS connection (`jetstream:<connection>`),
//!   which the engine applies idempotently.
//!
//! Both modes build the same layout (see [`streams`]): each queue is a
//! stream whose name is also its one subject (the queue's physical name),
//! kept by age (`retention_hours`) under `limits` retention, and each user
//! gets a durable pull consumer named after it on every stream it may use,
//! filtered to that subject, acknowledging explicitly, giving up after
//! `max_receive_count` deliveries. Each user's name and password go into a
//! Secret (the layout every messaging backend shares), and the outputs
//! publish each user as a consumer whose `group_prefix` is its durable name.
//!
//! The outputs' `network` says which pods a client must be allowed to reach
//! (see [`network`]): the NATS server's, when `url` names a cluster Service
//! or `server_pods` names them, else the URL's port outside the cluster.
//!
//! It does not install NATS, NACK or NACK's CRDs, and does not manage NATS
//! users: the server's own configuration defines who may log in and which
//! subjects each user may use, so the Secrets only carry the credentials the
//! server must already know, and Capstan enforces no per-user subject
//! permissions.

pub mod network;
pub mod streams;

use std::collections::BTreeMap;

use capstan_sdk::capstan_core::{JetStreamOp, JetStreamRetention, JetStreamStorage};
use capstan_sdk::contracts::messaging::queues;
use capstan_sdk::contracts::messaging::{Outputs, protocol};
use capstan_sdk::pointer;
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

pub use network::ServerPods;
use queues::Setting;
pub use queues::{QueueSpec, UserSpec};
use streams::Stream;

/// NATS's client port, when the URL names none.
pub const NATS_PORT: u16 = 4222;
/// The largest stream replication NATS supports.
pub const MAX_REPLICAS: u32 = 5;

/// How the streams and consumers get onto the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `Stream` and `Consumer` objects for NACK to create on the server at `url`.
    InCluster,
    /// `jetstream` effects the engine applies on the connection `connection`.
    External,
}

/// Where a stream keeps its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    /// On the servers' disks; kept across a server restart.
    File,
    /// In the servers' memory; lost when a server restarts.
    Memory,
}

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// `in-cluster` or `external`: see [`Mode`].
    pub mode: Mode,
    /// The NATS server clients connect to, such as
    /// `nats://nats.messaging.svc:4222` (required); in-cluster, NACK
    /// connects to it too.
    #[serde(default)]
    pub url: Option<String>,
    /// external: the NATS connection the effects run on (grant
    /// `jetstream:<connection>`).
    pub connection: String,
    /// The NATS server pods clients reach, for the `network` output (the
    /// apps' NetworkPolicies). Default: when `url`'s host is a cluster
    /// Service (`<service>.<namespace>.svc[.cluster.local]`), the pods of the
    /// official NATS Helm chart in that namespace (`app.kubernetes.io/name:
    /// nats`, `app.kubernetes.io/component: nats`) on the URL's port; any
    /// other host is a server outside the cluster, reached on the URL's port.
    #[serde(default)]
    // Its own schema rather than `anyOf` with null, so a bad field inside is
    // reported at its path.
    #[schemars(with = "ServerPods")]
    pub server_pods: Option<ServerPods>,
    /// Copies of each stream (1-5); a queue's `replicas` overrides it.
    pub replicas: u32,
    /// Where streams keep their messages.
    pub storage: Storage,
    /// Seconds a delivered message waits for its acknowledgement before it
    /// is delivered again; a queue's `visibility_timeout_seconds` overrides it.
    pub ack_wait_seconds: u64,
    /// Prefix of physical names (`<prefix><logical>`), each a stream's name
    /// and its one subject.
    #[serde(default)]
    pub name_prefix: String,
    /// Queues by logical name: a stream each.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueSpec>,
    /// Client users and the queues they may use: a durable consumer per user
    /// and queue. The NATS server must already know them.
    #[serde(default)]
    pub users: BTreeMap<String, UserSpec>,
    /// The user whose credentials the outputs publish; default: the only user.
    #[serde(default)]
    pub credentials_user: Option<String>,
}

/// What JetStream has no use for, said once for every queue that asks.
const IGNORED: &[(Setting, &str)] = &[
    (Setting::Partitions, "a JetStream stream is not partitioned; `replicas` sets its copies"),
    (
        Setting::Fifo,
        "a stream keeps messages in publish order, but NATS has no FIFO queue: redeliveries and \
         several clients pulling from one consumer reorder them",
    ),
];

/// The plugin: see the crate docs.
pub struct MessagingNats;

impl Plugin for MessagingNats {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/messaging-nats", env!("CARGO_PKG_VERSION"))
            .component_type(Outputs::COMPONENT_TYPE)
            .backend("nats")
            .description(
                "NATS JetStream: a stream per queue (its name is its one subject) and a durable pull \
                 consumer per app and queue, through the NACK controller in the cluster or as idempotent \
                 JetStream effects on an existing server. Renders each app's credentials Secret; NATS users \
                 and their subject permissions stay in the server's own configuration, which Capstan does \
                 not manage.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(include_str!("defaults.yaml"))
            // The default connection name, for external mode; in-cluster needs none.
            .capability(Capability::JetStream("nats".to_owned()))
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, |inputs: &Inputs| {
            let mut out: Vec<Diagnostic> = queues::validate(
                &inputs.queues,
                &inputs.users,
                inputs.credentials_user.as_deref(),
                "nats",
                IGNORED,
            )
            .into_iter()
            // The shared check warns that max_receive_count needs dead_letter,
            // as a dead-letter queue is how other brokers stop redelivering.
            // JetStream stops by itself (the consumers' max_deliver), so here
            // it is used either way; the only warning at that path is that one.
            .filter(|d| !(d.severity == Severity::Warning && d.path.ends_with("/max_receive_count")))
            .collect();
            match inputs.url.as_deref() {
                None | Some("") => out.push(Diagnostic::error(
                    "/url",
                    "name the NATS server clients connect to, such as nats://nats.messaging.svc:4222",
                )),
                Some(url) => {
                    if let Err(why) = check_url(url) {
                        out.push(Diagnostic::error("/url", why));
                    }
                }
            }
            out.extend(validate_server_pods(inputs));
            if inputs.mode == Mode::External && inputs.connection.is_empty() {
                out.push(Diagnostic::error("/connection", "name the NATS connection the effects run on"));
            }
            if !(1..=MAX_REPLICAS).contains(&inputs.replicas) {
                out.push(Diagnostic::error("/replicas", "a stream has 1 to 5 replicas"));
            }
            if inputs.ack_wait_seconds == 0 {
                out.push(Diagnostic::error(
                    "/ack_wait_seconds",
                    "0 seconds would redeliver every message at once; use at least 1",
                ));
            }
            let mut physical: BTreeMap<String, &str> = BTreeMap::new();
            let mut objects: BTreeMap<String, &str> = BTreeMap::new();
            for (logical, spec) in &inputs.queues {
                let at = |field: &str| pointer(&["queues", logical, field]);
                if spec.dead_letter {
                    out.push(Diagnostic {
                        path: at("dead_letter"),
                        severity: Severity::Warning,
                        message: "ignored by the nats backend: JetStream has no dead-letter queue; with \
                                  max_receive_count a message is no longer delivered after that many \
                                  deliveries, stays in the stream until its age limit, and the server \
                                  announces it on $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
                            .to_owned(),
                    });
                }
                if spec.replicas.is_some_and(|r| !(1..=MAX_REPLICAS).contains(&r)) {
                    out.push(Diagnostic::error(at("replicas"), "a stream has 1 to 5 replicas"));
                }
                if spec.visibility_timeout_seconds == Some(0) {
                    out.push(Diagnostic::error(
                        at("visibility_timeout_seconds"),
                        "it is the consumers' ack wait: 0 seconds would redeliver every message at once; \
                         use at least 1",
                    ));
                }
                let name = queues::physical_name(&inputs.name_prefix, logical, spec);
                let name_at = if spec.name.is_some() { at("name") } else { pointer(&["queues", logical]) };
                if !streams::is_name(&name) {
                    out.push(Diagnostic::error(
                        name_at,
                        format!(
                            "`{name}` is not a name NATS takes for a stream and its subject: use 1 to {} \
                             letters, digits, `-` and `_` (no `.`, `*`, `>` or spaces)",
                            streams::MAX_NAME
                        ),
                    ));
                    continue;
                }
                if let Some(other) = physical.insert(name.clone(), logical) {
                    out.push(Diagnostic::error(
                        name_at,
                        format!(
                            "`{name}` is also the stream of queue `{other}`; give each queue its own name"
                        ),
                    ));
                    continue;
                }
                if inputs.mode == Mode::InCluster {
                    let part = nack::object_part(&name);
                    if part.is_empty() {
                        out.push(Diagnostic::error(
                            name_at,
                            format!("`{name}` has no letter or digit to name its Kubernetes objects"),
                        ));
                    } else if let Some(other) = objects.insert(part.clone(), logical) {
                        out.push(Diagnostic::error(
                            name_at,
                            format!(
                                "`{name}` and the stream of queue `{other}` would name the same Kubernetes \
                                 objects (`…-{part}`: names are lower-cased and `_` becomes `-`)"
                            ),
                        ));
                    }
                }
            }
            if !inputs.users.is_empty() {
                out.push(Diagnostic {
                    path: "/users".into(),
                    severity: Severity::Info,
                    message: "NATS users are defined by the server's own configuration, which Capstan does \
                              not manage: the server must accept each user's name and password (from its \
                              Secret), and any limit on its subjects is set there too"
                        .to_owned(),
                });
            }
            out
        })
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?;
        queues::check_sensitive(req, &inputs.users)?;
        let url = inputs.url.clone().filter(|u| !u.is_empty()).ok_or_else(|| {
            PlanError::InvalidInputs(vec![Diagnostic::error(
                "/url",
                "name the NATS server clients connect to, such as nats://nats.messaging.svc:4222",
            )])
        })?;
        let layout = streams::layout(&inputs);

        // The user name in each Secret is the user's own name: the NATS
        // server's configuration must know it under that name.
        let mut objects: Vec<Value> = inputs
            .users
            .iter()
            .map(|(user, spec)| queues::credentials_secret(req, user, user, spec))
            .collect();
        let effects = match inputs.mode {
            Mode::InCluster => {
                objects.extend(nack::objects(req, &url, &layout)?);
                Vec::new()
            }
            Mode::External => external_effects(&inputs.connection, &layout),
        };

        let mut consumers = queues::consumers(req, &inputs.users, &inputs.queues, false);
        for (user, consumer) in &mut consumers {
            // Its durable consumer on each of its queues' streams.
            consumer.group_prefix = Some(user.clone());
        }
        let server = network::peer(&url, inputs.server_pods.as_ref(), &req.component.namespace);
        let outputs = Outputs {
            protocol: protocol::NATS.to_owned(),
            endpoint: url,
            credentials_secret: queues::contract_user(&inputs.users, inputs.credentials_user.as_deref())
                .map(|u| queues::credentials_ref(req, u)),
            queues: layout.iter().map(|s| (s.logical.clone(), s.config.name.clone())).collect(),
            region: None,
            consumers,
            // NATS takes the user name and password in its CONNECT; no SASL.
            sasl_mechanism: None,
            tls: None,
            exchange: None,
            network: vec![server],
        };
        Ok(ComponentPlan {
            objects,
            effects,
            outputs: contracts::outputs(&outputs, &[])?,
            ..Default::default()
        })
    }

    fn health(object: &Value) -> Health {
        match object["kind"].as_str() {
            Some("Stream" | "Consumer") if object["apiVersion"] == nack::API_VERSION => nack::health(object),
            _ => capstan_sdk::health::default_health(object),
        }
    }
}

/// What is wrong with `server_pods`, and a URL whose server's pods cannot be
/// told without it.
fn validate_server_pods(inputs: &Inputs) -> Vec<Diagnostic> {
    match (&inputs.server_pods, inputs.url.as_deref()) {
        (Some(pods), _) if pods.pod_labels.is_empty() => vec![Diagnostic::error(
            "/server_pods/pod_labels",
            "name at least one label of the NATS server's pods",
        )],
        (Some(pods), _) if pods.port == Some(0) => {
            vec![Diagnostic::error("/server_pods/port", "the port must be 1-65535")]
        }
        (None, Some(url)) if check_url(url).is_ok() && is_short_name(network::host_and_port(url).0) => {
            vec![Diagnostic {
                path: "/url".into(),
                severity: Severity::Warning,
                message: "a short host name resolves in each client's own namespace, so the `network` output \
                          takes the server for one outside the cluster: use <service>.<namespace>.svc, or name \
                          the server's pods in server_pods"
                    .to_owned(),
            }]
        }
        _ => Vec::new(),
    }
}

/// A host name without a domain (`nats`), which a pod resolves in its own
/// namespace; not an IP address.
fn is_short_name(host: &str) -> bool {
    !host.contains('.') && !host.starts_with('[')
}

/// Why `url` is not one NATS server URL clients can be given, if it is not.
fn check_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("a URL such as nats://nats.messaging.svc:4222 (scheme nats:// or tls://)".to_owned());
    };
    if !matches!(scheme, "nats" | "tls") {
        return Err(format!("scheme `{scheme}://`: NATS clients take nats:// or tls://"));
    }
    if rest.contains('@') {
        return Err("no user name or password in the URL: it is published to every app; each app's \
                    credentials are in its own Secret"
            .to_owned());
    }
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    if host_port.is_empty() || host_port.contains(['/', ',', ' ', '?', '#']) {
        return Err("one server, as nats://host[:port] (no path, no list)".to_owned());
    }
    // `[::1]:4222` keeps its colons inside the brackets.
    let port = match host_port.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') && !host.is_empty() => Some(port),
        Some(_) | None => None,
    };
    match port.map(str::parse::<u16>) {
        Some(Ok(0) | Err(_)) => Err(format!("the port must be 1-65535 (NATS's is {NATS_PORT})")),
        _ => Ok(()),
    }
}

/// The JetStream effects of external mode: one per queue, its stream and
/// then its consumers, so a consumer is never ensured before its stream.
fn external_effects(connection: &str, layout: &[Stream]) -> Vec<Effect> {
    layout
        .iter()
        .map(|s| {
            let users: Vec<&str> = s.consumers.iter().map(|c| c.user.as_str()).collect();
            let summary = match users.as_slice() {
                [] => format!("stream {} on subject {}", s.config.name, s.config.name),
                users => format!(
                    "stream {} on subject {}, durable pull consumers {}",
                    s.config.name,
                    s.config.name,
                    users.join(", ")
                ),
            };
            let mut ops = vec![JetStreamOp::EnsureStream(s.config.clone())];
            ops.extend(s.consumers.iter().map(|c| JetStreamOp::EnsureConsumer(c.config.clone())));
            Effect {
                id: format!("stream:{}", s.logical),
                target: connection.to_owned(),
                summary,
                kind: EffectKind::JetStream(ops),
            }
        })
        .collect()
}

/// Objects of in-cluster mode: what NACK reconciles.
mod nack {
    use super::*;

    pub const API_VERSION: &str = "jetstream.nats.io/v1beta2";

    /// A stream's part of its objects' names: lower-cased, `_` as `-`, so a
    /// DNS-1123 name (stream names are letters, digits, `-` and `_`).
    pub fn object_part(stream: &str) -> String {
        stream.to_ascii_lowercase().replace('_', "-").trim_matches('-').to_owned()
    }

    fn retention(r: JetStreamRetention) -> &'static str {
        match r {
            JetStreamRetention::Limits => "limits",
            JetStreamRetention::Interest => "interest",
            JetStreamRetention::WorkQueue => "workqueue",
        }
    }

    fn storage(s: JetStreamStorage) -> &'static str {
        match s {
            JetStreamStorage::File => "file",
            JetStreamStorage::Memory => "memory",
        }
    }

    /// A `Stream` per queue, then a `Consumer` per user of it. The stream's
    /// object is `<component>-<stream>`, each consumer's
    /// `<component>-<stream>.<user>`: user names are DNS labels without
    /// `.`, so no consumer's name is another's.
    pub fn objects(req: &PlanRequest, url: &str, layout: &[Stream]) -> Result<Vec<Value>, PlanError> {
        let component = &req.component.name;
        let mut out = Vec::new();
        let mut too_long = Vec::new();
        for s in layout {
            let stream_object = format!("{component}-{}", object_part(&s.config.name));
            let mut spec = json!({
                "name": s.config.name,
                "subjects": s.config.subjects,
                "retention": retention(s.config.retention),
                "storage": storage(s.config.storage),
                "replicas": s.config.replicas,
                "discard": "old",
                "servers": [url],
            });
            if s.config.max_age_seconds > 0 {
                spec["maxAge"] = json!(streams::go_duration(s.config.max_age_seconds));
            }
            if let Some(bytes) = s.config.max_bytes {
                spec["maxBytes"] = json!(bytes);
            }
            let meta = k8s::Meta::new(&req.component, stream_object.clone(), "stream");
            out.push(k8s::custom_resource(API_VERSION, "Stream", &meta, spec));
            for c in &s.consumers {
                let object = format!("{stream_object}.{}", c.user);
                if object.len() > 253 {
                    too_long.push(Diagnostic::error(
                        pointer(&["queues", &s.logical]),
                        format!(
                            "the Consumer object of user `{}` on this stream would have a name longer than \
                             253 characters; shorten the queue's name",
                            c.user
                        ),
                    ));
                }
                let mut spec = json!({
                    "streamName": c.config.stream,
                    "durableName": c.config.name,
                    "deliverPolicy": "all",
                    "ackPolicy": "explicit",
                    "ackWait": streams::go_duration(c.config.ack_wait_seconds),
                    "servers": [url],
                });
                match c.config.filter_subjects.as_slice() {
                    [] => {}
                    [one] => spec["filterSubject"] = json!(one),
                    many => spec["filterSubjects"] = json!(many),
                }
                if let Some(n) = c.config.max_deliver {
                    spec["maxDeliver"] = json!(n);
                }
                let meta = k8s::Meta::new(&req.component, object, "consumer")
                    .label("capstan.dev/user", c.user.clone());
                out.push(k8s::custom_resource(API_VERSION, "Consumer", &meta, spec));
            }
        }
        if too_long.is_empty() { Ok(out) } else { Err(PlanError::InvalidInputs(too_long)) }
    }

    /// NACK keeps a `Ready` condition: `Unknown` while it starts, `True`
    /// once the stream or consumer exists as specified (and then it records
    /// the generation it reconciled), `False` with reason `Errored` when the
    /// server refused or could not be reached. It retries an error, which
    /// may pass (a server still starting), so an error is reported as
    /// progress with its message, and the wait's timeout ends a lasting one.
    pub fn health(object: &Value) -> Health {
        let generation = object.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
        let observed = object.pointer("/status/observedGeneration").and_then(Value::as_i64).unwrap_or(0);
        let ready = object
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
        let Some(ready) = ready else {
            return Health::Progressing("waiting for NACK to reconcile it".to_owned());
        };
        let message = ready["message"].as_str().or(ready["reason"].as_str()).unwrap_or("no message");
        match ready["status"].as_str() {
            Some("True") if observed >= generation => Health::Ready,
            Some("True") => Health::Progressing("waiting for NACK to reconcile the latest spec".to_owned()),
            _ => Health::Progressing(format!(
                "NACK: {}: {message}",
                ready["reason"].as_str().unwrap_or("not ready")
            )),
        }
    }
}

capstan_sdk::export_plugin!(MessagingNats);
