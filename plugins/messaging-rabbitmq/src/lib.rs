//! Capstan plugin `capstan/messaging-rabbitmq`: RabbitMQ queues, exchanges,
//! bindings and users, in one of two modes.
//!
//! - `in-cluster`: a `RabbitmqCluster` (RabbitMQ cluster-operator) serving
//!   AMQPS only, with CPU and memory requests and limits, its certificate
//!   from cert-manager (see [`tls`]), and the topology as
//!   messaging-topology-operator resources: `Vhost`, `Exchange`, `Queue`,
//!   `Binding`, `User` (credentials imported from a Secret this plugin
//!   renders) and `Permission`.
//! - `external`: an existing broker, plain AMQP or AMQPS as the operator
//!   says. The topology and users are declared as AMQP effects on the
//!   operator's connection (`amqp:<connection>`), which the engine's broker
//!   driver applies idempotently through the broker's management API; only
//!   the users' Secrets are rendered, for apps to read.
//!
//! Both modes build the same topology (see [`topology`]): a vhost, one topic
//! exchange, a queue per logical queue bound to it by its logical name, a
//! `-dlq` queue the broker dead-letters into when asked, and per user
//! permissions limited to its queues.
//!
//! Each user's Secret holds its user name, its password and its whole
//! connection URI (see [`credentials`]); the outputs name the Secret and its
//! keys, never a value in it.
//!
//! The outputs say what a client pod must be allowed to reach (`network`):
//! the broker's pods on the AMQP(S) port in the cluster, the broker's port
//! at any address outside it.
//!
//! It does not install the operators, cert-manager or their CRDs.

pub mod credentials;
pub mod tls;
pub mod topology;
pub mod uri;

use std::collections::BTreeMap;

use capstan_sdk::capstan_core::{AmqpBinding, AmqpExchange, AmqpOp, AmqpPermission, AmqpQueue, AmqpUser};
use capstan_sdk::contracts::messaging::queues;
use capstan_sdk::contracts::messaging::{Outputs, Tls, protocol};
use capstan_sdk::contracts::{NetworkPeer, SecretKeyRef};
use capstan_sdk::k8s::Resources;
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use capstan_sdk::pointer;
use queues::Setting;
pub use queues::{QueueSpec, UserSpec};
use tls::{AMQPS_PORT, TlsInputs};
use topology::Topology;
use uri::Server;

/// The plain AMQP port: the in-cluster broker's without TLS, and an external
/// broker's default without TLS.
pub const AMQP_PORT: u16 = 5672;

/// Where the broker is. `in-cluster`: a `RabbitmqCluster` and its topology as
/// operator resources, rendered by this plugin. `external`: an existing broker
/// at `host`, its topology declared as AMQP effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A `RabbitmqCluster` and its topology as operator resources.
    InCluster,
    /// An existing broker at `host`; the topology as AMQP effects.
    External,
}

/// The type of every queue. `quorum`: replicated over the nodes, with a
/// delivery limit. `classic`: not replicated, no delivery limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum QueueType {
    /// Replicated over the nodes, with a delivery limit.
    Quorum,
    /// Not replicated, no delivery limit.
    Classic,
}

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// `in-cluster` or `external`: see [`Mode`].
    pub mode: Mode,
    /// in-cluster: RabbitMQ nodes. At least 1; 3 for quorum queues to survive a node.
    pub replicas: u32,
    /// in-cluster: each node's volume.
    pub storage: Storage,
    /// in-cluster: requests and limits of each node's `rabbitmq` container.
    /// Default: requests 1 CPU and 4Gi, limits 2 CPU and 4Gi. Memory request
    /// and limit are equal, so a node is never evicted for memory it was
    /// promised; RabbitMQ raises its memory alarm (and stops publishers)
    /// below the limit, which the operator tells it. A null `limits.cpu`
    /// drops the CPU limit.
    pub resources: Resources,
    /// AMQPS: see [`TlsInputs`]. On by default in-cluster.
    #[serde(default)]
    pub tls: TlsInputs,
    /// external: the broker's host name.
    #[serde(default)]
    pub host: Option<String>,
    /// external: the broker's AMQP port. Default: 5671 with TLS, 5672 without.
    #[serde(default)]
    pub port: Option<u16>,
    /// external: the AMQP connection the effects run on (grant `amqp:<connection>`).
    pub connection: String,
    /// The virtual host; default: the component's name.
    #[serde(default)]
    pub vhost: Option<String>,
    /// The topic exchange queues are bound to; default: the component's name.
    #[serde(default)]
    pub exchange: Option<String>,
    /// `quorum` or `classic` for every queue: see [`QueueType`].
    pub queue_type: QueueType,
    /// Prefix of physical queue names (`<prefix><logical>`).
    #[serde(default)]
    pub name_prefix: String,
    /// Queues by logical name.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueSpec>,
    /// Client users and the queues they may use.
    #[serde(default)]
    pub users: BTreeMap<String, UserSpec>,
    /// The user whose credentials the outputs publish; default: the only user.
    #[serde(default)]
    pub credentials_user: Option<String>,
}

/// in-cluster: the persistent volume of each RabbitMQ node.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Volume size per node, such as `10Gi`.
    pub size: String,
    /// StorageClass; default: the cluster's default class.
    #[serde(default)]
    pub class: Option<String>,
}

/// The plugin: see the crate docs.
pub struct MessagingRabbitmq;

impl Plugin for MessagingRabbitmq {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/messaging-rabbitmq", env!("CARGO_PKG_VERSION"))
            .component_type(Outputs::COMPONENT_TYPE)
            .backend("rabbitmq")
            .description(
                "RabbitMQ queues, exchange, bindings, users and permissions: in the cluster through the \
                 RabbitMQ cluster and messaging-topology operators, or on an external broker through \
                 idempotent AMQP effects. Quorum queues with dead-lettering and delivery limits.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(include_str!("defaults.yaml"))
            // The default connection name, for external mode; in-cluster needs none.
            .capability(Capability::Amqp("rabbitmq".to_owned()))
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, |inputs: &Inputs| {
            let mut ignored = vec![
                (Setting::Partitions, "RabbitMQ queues are not partitioned"),
                (Setting::Replicas, "quorum queues replicate over the cluster's nodes"),
                (
                    Setting::VisibilityTimeout,
                    "RabbitMQ redelivers unacknowledged messages when the consumer goes",
                ),
            ];
            if inputs.queue_type == QueueType::Classic {
                ignored.push((
                    Setting::MaxReceiveCount,
                    "classic queues have no delivery limit; use queue_type: quorum",
                ));
            }
            let mut out = queues::validate(
                &inputs.queues,
                &inputs.users,
                inputs.credentials_user.as_deref(),
                "rabbitmq",
                &ignored,
            );
            out.extend(tls::validate(&inputs.tls, inputs.mode));
            match inputs.mode {
                Mode::InCluster => {
                    if inputs.replicas == 0 {
                        out.push(Diagnostic::error(
                            "/replicas",
                            "a RabbitmqCluster needs at least 1 replica",
                        ));
                    }
                    for (field, set) in [("/host", inputs.host.is_some()), ("/port", inputs.port.is_some())] {
                        if set {
                            out.push(Diagnostic {
                                path: field.into(),
                                severity: Severity::Warning,
                                message:
                                    "ignored in mode in-cluster; set mode: external to use an existing broker"
                                        .into(),
                            });
                        }
                    }
                }
                Mode::External => {
                    match inputs.host.as_deref() {
                        None | Some("") => {
                            out.push(Diagnostic::error("/host", "mode external needs the broker's host"))
                        }
                        Some(h) if h.contains(['/', ':', ' ']) => out.push(Diagnostic::error(
                            "/host",
                            "host must be a host name (no scheme, port or path)",
                        )),
                        Some(_) => {}
                    }
                    if inputs.port == Some(0) {
                        out.push(Diagnostic::error("/port", "port 0 is not an AMQP port"));
                    }
                    if inputs.connection.is_empty() {
                        out.push(Diagnostic::error(
                            "/connection",
                            "name the AMQP connection the effects run on",
                        ));
                    }
                    for user in inputs.users.keys() {
                        if user == "guest" {
                            out.push(Diagnostic::error(
                                pointer(&["users", user]),
                                "`guest` is RabbitMQ's default user",
                            ));
                        }
                    }
                }
            }
            for (logical, spec) in &inputs.queues {
                let name = queues::physical_name(&inputs.name_prefix, logical, spec);
                if !topology::is_name(&name) || name.len() + "-dlq".len() > 255 {
                    let at = if spec.name.is_some() {
                        pointer(&["queues", logical, "name"])
                    } else {
                        pointer(&["queues", logical])
                    };
                    out.push(Diagnostic::error(
                        at,
                        format!("`{name}` is not a queue name Capstan manages (1-251 of A-Z a-z 0-9 . _ - :, not amq.*)"),
                    ));
                }
            }
            for (field, value) in [("/vhost", &inputs.vhost), ("/exchange", &inputs.exchange)] {
                if let Some(v) = value
                    && !topology::is_name(v)
                {
                    out.push(Diagnostic::error(
                        field,
                        format!("`{v}` is not a name Capstan manages (A-Z a-z 0-9 . _ - :, not amq.*)"),
                    ));
                }
            }
            out
        })
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?;
        queues::check_sensitive(req, &inputs.users)?;
        let topo = Topology::new(req, &inputs);

        let tls_on = inputs.tls.enabled(inputs.mode);
        let (broker, effects, endpoint) = match inputs.mode {
            Mode::InCluster => {
                let (objects, endpoint) = in_cluster::plan(req, &inputs, &topo, tls_on);
                (objects, Vec::new(), endpoint)
            }
            Mode::External => {
                (Vec::new(), external_effects(&inputs, &topo), external_endpoint(req, &inputs, tls_on)?)
            }
        };
        let Endpoint { host, port, ca, network } = endpoint;
        let server =
            Server { scheme: if tls_on { "amqps" } else { "amqp" }, host: &host, port, vhost: &topo.vhost };
        // The users' Secrets come first: in-cluster, the `User`s import them.
        let mut objects: Vec<Value> = inputs
            .users
            .iter()
            .map(|(user, spec)| credentials::secret(req, user, &topo.username(user), spec, &server))
            .collect();
        objects.extend(broker);
        let outputs = Outputs {
            protocol: protocol::AMQP.to_owned(),
            endpoint: server.endpoint(),
            credentials_secret: queues::contract_user(&inputs.users, inputs.credentials_user.as_deref())
                .map(|u| credentials::reference(req, u)),
            queues: topo.queues.iter().map(|q| (q.logical.clone(), q.physical.clone())).collect(),
            region: None,
            consumers: credentials::consumers(req, &inputs),
            // AMQP authenticates with PLAIN over the connection; no SASL choice to publish.
            sasl_mechanism: None,
            // Absent for an `amqps://` endpoint without a CA of its own: its
            // clients verify it against their system's roots.
            tls: ca.map(|ca_secret| Tls { ca_secret }),
            exchange: Some(topo.exchange.clone()),
            network: vec![network],
        };
        Ok(ComponentPlan {
            objects,
            effects,
            outputs: contracts::outputs(&outputs, &[])?,
            ..Default::default()
        })
    }

    fn health(object: &Value) -> Health {
        // The cluster-operator reports `AllReplicasReady` and `ClusterAvailable`, not `Ready`.
        if object["kind"] == "RabbitmqCluster" {
            let conditions = object.pointer("/status/conditions").and_then(Value::as_array);
            let is_true = |kind: &str| {
                conditions.is_some_and(|cs| cs.iter().any(|c| c["type"] == kind && c["status"] == "True"))
            };
            return if is_true("AllReplicasReady") && is_true("ClusterAvailable") {
                Health::Ready
            } else {
                Health::Progressing("waiting for all RabbitMQ replicas".to_owned())
            };
        }
        capstan_sdk::health::default_health(object)
    }
}

/// Where clients reach the broker, how they verify it, and what their
/// NetworkPolicies must let them reach.
struct Endpoint {
    host: String,
    port: u16,
    /// The CA clients verify an AMQPS broker with; `None` without TLS, or
    /// for an external broker whose certificate the system's roots verify.
    ca: Option<SecretKeyRef>,
    network: NetworkPeer,
}

/// The external broker at `host`, on `port` or the default of its protocol.
fn external_endpoint(req: &PlanRequest, inputs: &Inputs, tls_on: bool) -> Result<Endpoint, PlanError> {
    let host = inputs.host.clone().ok_or_else(|| {
        PlanError::InvalidInputs(vec![Diagnostic::error("/host", "mode external needs the broker's host")])
    })?;
    let port = inputs.port.unwrap_or(if tls_on { AMQPS_PORT } else { AMQP_PORT });
    let ca = if tls_on { tls::external_ca(req, inputs.tls.ca_secret.as_ref()) } else { None };
    // Outside the cluster, or at least not pods this plugin knows the labels of.
    Ok(Endpoint { host, port, ca, network: NetworkPeer::outside(&[port]) })
}

/// The AMQP effects of external mode: the vhost and exchange, then each
/// queue (its dead-letter queue first) with its binding, then each user.
fn external_effects(inputs: &Inputs, topo: &Topology) -> Vec<Effect> {
    let target = inputs.connection.clone();
    let mut effects = vec![Effect {
        id: "vhost".to_owned(),
        target: target.clone(),
        summary: format!("vhost {}, topic exchange {}", topo.vhost, topo.exchange),
        kind: EffectKind::Amqp(vec![
            AmqpOp::EnsureVhost(topo.vhost.clone()),
            AmqpOp::EnsureExchange(AmqpExchange {
                vhost: topo.vhost.clone(),
                name: topo.exchange.clone(),
                kind: "topic".to_owned(),
                durable: true,
            }),
        ]),
    }];
    for q in &topo.queues {
        let mut ops = vec![AmqpOp::EnsureQueue(AmqpQueue {
            vhost: topo.vhost.clone(),
            name: q.physical.clone(),
            durable: true,
            arguments: Value::Object(q.arguments.clone()),
        })];
        if let Some(key) = &q.routing_key {
            ops.push(AmqpOp::EnsureBinding(AmqpBinding {
                vhost: topo.vhost.clone(),
                exchange: topo.exchange.clone(),
                queue: q.physical.clone(),
                routing_key: key.clone(),
            }));
        }
        effects.push(Effect {
            id: format!("queue:{}", q.logical),
            target: target.clone(),
            summary: match &q.routing_key {
                Some(key) => format!("queue {} bound to {} by `{key}`", q.physical, topo.exchange),
                None => format!("queue {}", q.physical),
            },
            kind: EffectKind::Amqp(ops),
        });
    }
    for (user, spec) in &inputs.users {
        let perms = topo.permissions(user);
        effects.push(Effect {
            id: format!("user:{user}"),
            target: target.clone(),
            summary: format!(
                "user {} (password from secrets), permissions on {}",
                topo.username(user),
                topo.vhost
            ),
            kind: EffectKind::Amqp(vec![
                AmqpOp::EnsureUser(AmqpUser {
                    name: topo.username(user),
                    password: spec.password.clone(),
                    tags: Vec::new(),
                }),
                AmqpOp::EnsurePermission(AmqpPermission {
                    vhost: topo.vhost.clone(),
                    user: topo.username(user),
                    configure: perms.configure,
                    write: perms.write,
                    read: perms.read,
                }),
            ]),
        });
    }
    effects
}

/// Objects of in-cluster mode.
mod in_cluster {
    use super::*;

    pub const API_VERSION: &str = "rabbitmq.com/v1beta1";

    fn cluster_ref(req: &PlanRequest) -> Value {
        json!({ "name": req.component.name })
    }

    /// A DNS-1123 object name from a RabbitMQ name.
    fn object_name(parts: &[&str]) -> String {
        let joined = parts.join("-");
        let cleaned: String = joined
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' })
            .collect();
        cleaned.trim_matches('-').to_owned()
    }

    /// Every object of in-cluster mode (the certificate's first, when TLS is
    /// on), and the broker's Service as clients reach it.
    pub fn plan(req: &PlanRequest, inputs: &Inputs, topo: &Topology, tls_on: bool) -> (Vec<Value>, Endpoint) {
        let (mut out, spec, ca) = match tls_on.then(|| tls::in_cluster(req, inputs.tls.issuer.as_ref())) {
            Some(t) => (t.objects, Some(t.spec), Some(t.ca)),
            None => (Vec::new(), None, None),
        };
        out.extend(objects(req, inputs, topo, spec));
        let port = if tls_on { AMQPS_PORT } else { AMQP_PORT };
        let host = format!("{}.{}.svc", req.component.name, req.component.namespace);
        (out, Endpoint { host, port, ca, network: network(req, port) })
    }

    /// The broker's pods, as the cluster-operator labels them (its Service
    /// selects them by name), on `port`.
    fn network(req: &PlanRequest, port: u16) -> NetworkPeer {
        NetworkPeer::pods(
            &req.component.namespace,
            &[("app.kubernetes.io/name", &req.component.name), ("app.kubernetes.io/component", "rabbitmq")],
            &[port],
        )
    }

    /// The `RabbitmqCluster` (with `tls` as its `spec.tls`), then its topology.
    fn objects(req: &PlanRequest, inputs: &Inputs, topo: &Topology, tls: Option<Value>) -> Vec<Value> {
        let name = req.component.name.as_str();
        let meta = |object: String, part: &str| k8s::Meta::new(&req.component, object, part);
        let mut out = vec![cluster(req, inputs, tls)];
        out.push(k8s::custom_resource(
            API_VERSION,
            "Vhost",
            &meta(object_name(&[name, "vhost"]), "topology"),
            json!({ "name": topo.vhost, "rabbitmqClusterReference": cluster_ref(req) }),
        ));
        out.push(k8s::custom_resource(
            API_VERSION,
            "Exchange",
            &meta(object_name(&[name, "exchange", &topo.exchange]), "topology"),
            json!({
                "name": topo.exchange, "vhost": topo.vhost, "type": "topic", "durable": true,
                "rabbitmqClusterReference": cluster_ref(req),
            }),
        ));
        for q in &topo.queues {
            let queue_object = object_name(&[name, "queue", &q.physical]);
            let mut spec = json!({
                "name": q.physical, "vhost": topo.vhost, "durable": true,
                "rabbitmqClusterReference": cluster_ref(req),
            });
            let mut arguments = q.arguments.clone();
            // The operator has a field for the queue type; the rest are arguments.
            if let Some(kind) = arguments.remove("x-queue-type") {
                spec["type"] = kind;
            }
            if !arguments.is_empty() {
                spec["arguments"] = Value::Object(arguments);
            }
            out.push(k8s::custom_resource(
                API_VERSION,
                "Queue",
                &meta(queue_object.clone(), "topology").label("capstan.dev/queue", q.logical.clone()),
                spec,
            ));
            if let Some(key) = &q.routing_key {
                out.push(k8s::custom_resource(
                    API_VERSION,
                    "Binding",
                    &meta(object_name(&[name, "binding", &q.physical]), "topology"),
                    json!({
                        "source": topo.exchange, "destination": q.physical, "destinationType": "queue",
                        "routingKey": key, "vhost": topo.vhost, "rabbitmqClusterReference": cluster_ref(req),
                    }),
                ));
            }
        }
        for user in inputs.users.keys() {
            let user_object = object_name(&[name, "user", user]);
            out.push(k8s::custom_resource(
                API_VERSION,
                "User",
                &meta(user_object.clone(), "topology").label("capstan.dev/user", user.clone()),
                json!({
                    "tags": [],
                    "importCredentialsSecret": { "name": queues::credentials_secret_name(name, user) },
                    "rabbitmqClusterReference": cluster_ref(req),
                }),
            ));
            let perms = topo.permissions(user);
            out.push(k8s::custom_resource(
                API_VERSION,
                "Permission",
                &meta(object_name(&[name, "permission", user]), "topology")
                    .label("capstan.dev/user", user.clone()),
                json!({
                    "vhost": topo.vhost,
                    "userReference": { "name": user_object },
                    "permissions": { "configure": perms.configure, "write": perms.write, "read": perms.read },
                    "rabbitmqClusterReference": cluster_ref(req),
                }),
            ));
        }
        out
    }

    fn cluster(req: &PlanRequest, inputs: &Inputs, tls: Option<Value>) -> Value {
        let meta = k8s::Meta::new(&req.component, req.component.name.clone(), "broker");
        let mut persistence = json!({ "storage": inputs.storage.size });
        if let Some(class) = &inputs.storage.class {
            persistence["storageClassName"] = json!(class);
        }
        let mut spec = json!({
            "replicas": inputs.replicas,
            "persistence": persistence,
            "resources": inputs.resources,
        });
        if let Some(tls) = tls {
            spec["tls"] = tls;
        }
        k8s::custom_resource(API_VERSION, "RabbitmqCluster", &meta, spec)
    }
}

capstan_sdk::export_plugin!(MessagingRabbitmq);
