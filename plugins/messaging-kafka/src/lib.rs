//! Capstan plugin `capstan/messaging-kafka`: Kafka run by the Strimzi
//! operator (1.x: `kafka.strimzi.io/v1`, KRaft only).
//!
//! It renders a `KafkaNodePool` (dual-role controller + broker nodes with
//! persistent JBOD storage), the `Kafka` cluster (one listener, internal,
//! TLS with SCRAM-SHA-512; simple authorization; the entity operator), a
//! `KafkaTopic` per queue (and a `-dlq` topic when dead-lettering is asked
//! for), and a `KafkaUser` per user whose ACLs allow its topics and the
//! consumer groups under its group prefix, with its password read from a
//! Secret this plugin renders. Every container these objects template (the
//! nodes, the topic and user operators) has CPU and memory requests and
//! limits. The outputs give each user as a consumer of its own, the cluster
//! CA's Secret for clients to verify the brokers, and the broker pods a
//! client must be allowed to reach (`network`).
//!
//! Nothing is served in clear: the client listener is TLS, and Strimzi's
//! own replication and controller listeners are always mutual TLS.
//!
//! It does not install Strimzi or its CRDs, and renders no external
//! listener: clients are in the cluster.

use std::collections::BTreeMap;

use capstan_sdk::contracts::messaging::queues;
use capstan_sdk::contracts::messaging::{Outputs, Tls, protocol, sasl};
use capstan_sdk::contracts::{NetworkPeer, SecretKeyRef};
use capstan_sdk::k8s::Resources;
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use capstan_sdk::pointer;
use queues::Setting;
pub use queues::{QueueSpec, UserSpec};

/// `apiVersion` of the Strimzi objects this plugin renders.
pub const API_VERSION: &str = "kafka.strimzi.io/v1";
/// The internal listener: TLS (Strimzi's cluster CA) with SCRAM-SHA-512.
pub const PORT: u16 = 9093;
const LISTENER: &str = "tls";

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Nodes in the pool (KRaft controllers and brokers). At least 1.
    pub brokers: u32,
    /// Each node's persistent volume.
    pub storage: Storage,
    /// Requests and limits of each node's `kafka` container. Default:
    /// requests 1 CPU and 4Gi, limits 2 CPU and 4Gi. Memory request and
    /// limit are equal, so a broker is never evicted for memory it was
    /// promised; Strimzi gives the JVM heap part of the limit and the rest is
    /// the page cache Kafka reads from. A null `limits.cpu` drops the CPU
    /// limit.
    pub resources: Resources,
    /// Requests and limits of the entity operator's `topic-operator` and
    /// `user-operator` containers, each. Default: requests 100m CPU and
    /// 512Mi, limits 500m CPU and 512Mi: two small JVMs that reconcile
    /// `KafkaTopic`s and `KafkaUser`s.
    pub entity_operator_resources: Resources,
    /// Kafka version; default: the operator's.
    #[serde(default)]
    pub version: Option<String>,
    /// Broker config properties.
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
    /// Partitions and replicas of topics that do not set their own.
    pub topic_defaults: TopicDefaults,
    /// Prefix of physical topic names.
    #[serde(default)]
    pub name_prefix: String,
    /// Topics by logical name.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueSpec>,
    /// Client users and the topics they may use.
    #[serde(default)]
    pub users: BTreeMap<String, UserSpec>,
    /// The user whose credentials the outputs publish; default: the only user.
    #[serde(default)]
    pub credentials_user: Option<String>,
}

/// The persistent volume of each Kafka node (one JBOD volume).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Volume size per node, such as `100Gi`.
    pub size: String,
    /// StorageClass; default: the cluster's default class.
    #[serde(default)]
    pub class: Option<String>,
}

/// Partitions and replication factor of topics that do not set their own.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicDefaults {
    /// Partitions per topic. At least 1.
    pub partitions: u32,
    /// Copies of each partition. At least 1, at most `brokers`.
    pub replicas: u32,
}

/// What Kafka does not do, said once for every queue that asks.
const IGNORED: &[(Setting, &str)] = &[
    (Setting::MaxReceiveCount, "Kafka has no delivery count; consumers publish failures to the -dlq topic"),
    (Setting::Fifo, "Kafka orders messages per partition; use partitions: 1 for a total order"),
    (Setting::VisibilityTimeout, "Kafka consumers commit offsets instead"),
];

/// A topic to render.
struct Topic {
    /// The key under `queues` it comes from.
    source: String,
    logical: String,
    physical: String,
    partitions: u32,
    replicas: u32,
    retention_hours: Option<u32>,
}

/// The plugin: see the crate docs.
pub struct MessagingKafka;

impl Plugin for MessagingKafka {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/messaging-kafka", env!("CARGO_PKG_VERSION"))
            .component_type(Outputs::COMPONENT_TYPE)
            .backend("kafka")
            .description(
                "Kafka in KRaft mode through the Strimzi operator: a node pool, the cluster with an \
                 internal TLS listener with SCRAM-SHA-512, a KafkaTopic per queue (partitions, replicas, \
                 retention, optional -dlq topic) and a KafkaUser per app with ACLs on its topics.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(include_str!("defaults.yaml"))
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, |inputs: &Inputs| {
            let mut out = queues::validate(
                &inputs.queues,
                &inputs.users,
                inputs.credentials_user.as_deref(),
                "kafka",
                IGNORED,
            );
            if inputs.brokers == 0 {
                out.push(Diagnostic::error("/brokers", "a Kafka cluster needs at least 1 broker"));
            }
            let check_counts = |out: &mut Vec<Diagnostic>, at: &[&str], partitions: u32, replicas: u32| {
                if partitions == 0 {
                    let mut p = at.to_vec();
                    p.push("partitions");
                    out.push(Diagnostic::error(pointer(&p), "a topic needs at least 1 partition"));
                }
                if replicas == 0 || replicas > inputs.brokers {
                    let mut p = at.to_vec();
                    p.push("replicas");
                    out.push(Diagnostic::error(
                        pointer(&p),
                        format!("replicas must be between 1 and the number of brokers ({})", inputs.brokers),
                    ));
                }
            };
            check_counts(
                &mut out,
                &["topic_defaults"],
                inputs.topic_defaults.partitions,
                inputs.topic_defaults.replicas,
            );
            let mut metadata_names: BTreeMap<String, String> = BTreeMap::new();
            for (logical, spec) in &inputs.queues {
                if spec.partitions.is_some() || spec.replicas.is_some() {
                    let partitions = spec.partitions.unwrap_or(inputs.topic_defaults.partitions);
                    let replicas = spec.replicas.unwrap_or(inputs.topic_defaults.replicas);
                    check_counts(&mut out, &["queues", logical], partitions, replicas);
                }
            }
            for topic in topics(inputs) {
                let at = ["queues", topic.source.as_str()];
                if !is_topic_name(&topic.physical) {
                    out.push(Diagnostic::error(
                        pointer(&at),
                        format!(
                            "`{}` is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)",
                            topic.physical
                        ),
                    ));
                }
                let meta = topic_object_name(&topic.physical);
                if let Some(other) = metadata_names.insert(meta.clone(), topic.physical.clone())
                    && other != topic.physical
                {
                    out.push(Diagnostic::error(
                        pointer(&at),
                        format!(
                            "topics `{other}` and `{}` would both be KafkaTopic `{meta}`",
                            topic.physical
                        ),
                    ));
                }
            }
            out
        })
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?;
        queues::check_sensitive(req, &inputs.users)?;
        let cluster = req.component.name.clone();
        let topics = topics(&inputs);

        let mut objects = vec![node_pool(req, &inputs), kafka(req, &inputs)];
        objects.extend(topics.iter().map(|t| topic(req, t)));
        for (user, spec) in &inputs.users {
            let username = format!("{cluster}-{user}");
            objects.push(queues::credentials_secret(req, user, &username, spec));
            let allowed: Vec<&Topic> = {
                let logical = queues::user_queues(spec, &inputs.queues);
                topics.iter().filter(|t| logical.contains(&t.source.as_str())).collect()
            };
            let groups = queues::group_prefix(&cluster, user);
            objects.push(kafka_user(req, user, &username, &allowed, &groups));
        }

        let outputs = Outputs {
            protocol: protocol::KAFKA.to_owned(),
            endpoint: format!("{cluster}-kafka-bootstrap.{}.svc:{PORT}", req.component.namespace),
            credentials_secret: queues::contract_user(&inputs.users, inputs.credentials_user.as_deref())
                .map(|u| queues::credentials_ref(req, u)),
            // Dead-letter topics too (`<logical>-dlq`), as every backend does.
            queues: topics.iter().map(|t| (t.logical.clone(), t.physical.clone())).collect(),
            region: None,
            consumers: queues::consumers(req, &inputs.users, &inputs.queues, true),
            sasl_mechanism: Some(sasl::SCRAM_SHA_512.to_owned()),
            // Strimzi's cluster CA signs the brokers' certificates and
            // publishes its certificate in `<cluster>-cluster-ca-cert`.
            tls: Some(Tls {
                ca_secret: SecretKeyRef {
                    name: format!("{cluster}-cluster-ca-cert"),
                    key: "ca.crt".to_owned(),
                    namespace: Some(req.component.namespace.clone()),
                },
            }),
            exchange: None,
            network: vec![brokers(req)],
        };
        Ok(ComponentPlan { objects, outputs: contracts::outputs(&outputs, &[])?, ..Default::default() })
    }
}

const DLQ_SUFFIX: &str = "-dlq";

/// Every topic: each queue, then its dead-letter topic when asked for. A
/// dead-letter topic's logical name is `<logical>-dlq`.
fn topics(inputs: &Inputs) -> Vec<Topic> {
    let mut out = Vec::new();
    for (logical, spec) in &inputs.queues {
        let physical = queues::physical_name(&inputs.name_prefix, logical, spec);
        let t = Topic {
            source: logical.clone(),
            logical: logical.clone(),
            physical: physical.clone(),
            partitions: spec.partitions.unwrap_or(inputs.topic_defaults.partitions),
            replicas: spec.replicas.unwrap_or(inputs.topic_defaults.replicas),
            retention_hours: spec.retention_hours,
        };
        let dlq = spec.dead_letter.then(|| Topic {
            source: logical.clone(),
            logical: format!("{logical}{DLQ_SUFFIX}"),
            physical: format!("{physical}{DLQ_SUFFIX}"),
            partitions: t.partitions,
            replicas: t.replicas,
            retention_hours: t.retention_hours,
        });
        out.push(t);
        out.extend(dlq);
    }
    out
}

fn is_topic_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 249
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A DNS-1123 name for the KafkaTopic object; the topic keeps its own name
/// in `spec.topicName`.
fn topic_object_name(physical: &str) -> String {
    let lowered: String = physical
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            _ => '-',
        })
        .collect();
    lowered.trim_matches(|c| c == '-' || c == '.').to_owned()
}

fn cluster_meta(req: &PlanRequest, name: String, part: &str) -> k8s::Meta {
    k8s::Meta::new(&req.component, name, part).label("strimzi.io/cluster", req.component.name.clone())
}

/// The pods a client reaches: every broker, on the client listener. A client
/// asks the bootstrap Service for the brokers, then connects to each broker
/// pod by its own name; these are the labels Strimzi 1.2 puts on node-pool
/// pods with the broker role (and its bootstrap Service selects).
fn brokers(req: &PlanRequest) -> NetworkPeer {
    let cluster = req.component.name.as_str();
    NetworkPeer::pods(
        &req.component.namespace,
        &[
            ("strimzi.io/cluster", cluster),
            ("strimzi.io/kind", "Kafka"),
            ("strimzi.io/name", &format!("{cluster}-kafka")),
            ("strimzi.io/broker-role", "true"),
        ],
        &[PORT],
    )
}

fn node_pool(req: &PlanRequest, inputs: &Inputs) -> Value {
    let meta = cluster_meta(req, format!("{}-dual", req.component.name), "broker");
    let mut volume = json!({
        "id": 0, "type": "persistent-claim", "size": inputs.storage.size,
        // Deleting the component must not delete the data.
        "deleteClaim": false, "kraftMetadata": "shared",
    });
    if let Some(class) = &inputs.storage.class {
        volume["class"] = json!(class);
    }
    let spec = json!({
        "replicas": inputs.brokers,
        "roles": ["controller", "broker"],
        "storage": { "type": "jbod", "volumes": [volume] },
        "resources": inputs.resources,
    });
    k8s::custom_resource(API_VERSION, "KafkaNodePool", &meta, spec)
}

fn kafka(req: &PlanRequest, inputs: &Inputs) -> Value {
    let meta = k8s::Meta::new(&req.component, req.component.name.clone(), "broker");
    // Internal topics must not ask for more replicas than there are brokers,
    // and a write must survive one broker down when there are three or more.
    let rf = inputs.brokers.min(3);
    let min_isr = if inputs.brokers >= 3 { 2 } else { 1 };
    let mut config: BTreeMap<String, Value> = BTreeMap::from([
        ("offsets.topic.replication.factor".to_owned(), json!(rf)),
        ("transaction.state.log.replication.factor".to_owned(), json!(rf)),
        ("transaction.state.log.min.isr".to_owned(), json!(min_isr)),
        ("default.replication.factor".to_owned(), json!(rf)),
        ("min.insync.replicas".to_owned(), json!(min_isr)),
    ]);
    config.extend(inputs.config.clone());
    let mut kafka = json!({
        "listeners": [{
            "name": LISTENER, "port": PORT, "type": "internal", "tls": true,
            "authentication": { "type": "scram-sha-512" },
        }],
        "authorization": { "type": "simple" },
        "config": config,
    });
    if let Some(v) = &inputs.version {
        kafka["version"] = json!(v);
    }
    let operator = json!({ "resources": inputs.entity_operator_resources });
    let spec = json!({
        "kafka": kafka,
        "entityOperator": { "topicOperator": operator, "userOperator": operator },
    });
    k8s::custom_resource(API_VERSION, "Kafka", &meta, spec)
}

fn topic(req: &PlanRequest, t: &Topic) -> Value {
    let meta = cluster_meta(req, topic_object_name(&t.physical), "topic")
        .label("capstan.dev/queue", t.logical.clone());
    let mut spec = json!({ "topicName": t.physical, "partitions": t.partitions, "replicas": t.replicas });
    if let Some(h) = t.retention_hours {
        spec["config"] = json!({ "retention.ms": u64::from(h) * 3_600_000 });
    }
    k8s::custom_resource(API_VERSION, "KafkaTopic", &meta, spec)
}

fn kafka_user(req: &PlanRequest, user: &str, username: &str, topics: &[&Topic], groups: &str) -> Value {
    let meta = cluster_meta(req, username.to_owned(), "user").label("capstan.dev/user", user);
    let mut acls: Vec<Value> = topics
        .iter()
        .map(|t| {
            json!({
                "type": "allow",
                "resource": { "type": "topic", "name": t.physical, "patternType": "literal" },
                "operations": ["Describe", "Read", "Write"],
            })
        })
        .collect();
    // Consumer groups under the user's group prefix, which the outputs
    // publish (Dapr's `consumerGroup`): no user's prefix begins another's.
    acls.push(json!({
        "type": "allow",
        "resource": { "type": "group", "name": groups, "patternType": "prefix" },
        "operations": ["Describe", "Read"],
    }));
    let secret = queues::credentials_secret_name(&req.component.name, user);
    let spec = json!({
        "authentication": {
            "type": "scram-sha-512",
            "password": { "valueFrom": { "secretKeyRef": { "name": secret, "key": "password" } } },
        },
        "authorization": { "type": "simple", "acls": acls },
    });
    k8s::custom_resource(API_VERSION, "KafkaUser", &meta, spec)
}

capstan_sdk::export_plugin!(MessagingKafka);
