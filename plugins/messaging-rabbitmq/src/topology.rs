//! The RabbitMQ topology both modes build, computed once so the operator
//! resources (in-cluster) and the AMQP effects (external) cannot disagree.

use capstan_sdk::PlanRequest;
use serde_json::{Map, Value, json};

use crate::{Inputs, QueueType};
use capstan_sdk::contracts::messaging::queues::{self, DEFAULT_MAX_RECEIVE_COUNT};

const DLQ_SUFFIX: &str = "-dlq";

/// One queue to declare.
#[derive(Clone, Debug)]
pub struct Queue {
    /// The key in the outputs (`<logical>` or `<logical>-dlq`).
    pub logical: String,
    /// The key under `queues` it comes from.
    pub source: String,
    /// The queue's name on the broker; a dead-letter queue's is its source's plus `-dlq`.
    pub physical: String,
    /// `x-queue-type`, TTL, dead-lettering, delivery limit…
    pub arguments: Map<String, Value>,
    /// The routing key binding it to the exchange; none for a dead-letter
    /// queue, which only the broker writes to.
    pub routing_key: Option<String>,
}

/// The vhost, exchange, queues and per-user permissions of one component,
/// the same in both modes.
#[derive(Clone, Debug)]
pub struct Topology {
    /// The virtual host; default: the component's name.
    pub vhost: String,
    /// The topic exchange every queue is bound to; default: the component's name.
    pub exchange: String,
    /// Every queue to declare, dead-letter queues included.
    pub queues: Vec<Queue>,
    component: String,
    users: Vec<(String, Vec<String>)>,
}

/// Configure, write and read permissions, as anchored regexes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    /// Regex of the queues and exchanges the user may declare and delete (`^$`: none).
    pub configure: String,
    /// Regex of the exchanges the user may publish to and the queues it may bind.
    pub write: String,
    /// Regex of the queues the user may consume from and the exchanges it may bind from.
    pub read: String,
}

impl Topology {
    /// The topology `inputs` describe for component `req.component`.
    pub fn new(req: &PlanRequest, inputs: &Inputs) -> Self {
        let component = req.component.name.clone();
        let mut out = Vec::new();
        for (logical, spec) in &inputs.queues {
            let physical = queues::physical_name(&inputs.name_prefix, logical, spec);
            let mut args = Map::new();
            args.insert(
                "x-queue-type".into(),
                json!(match inputs.queue_type {
                    QueueType::Quorum => "quorum",
                    QueueType::Classic => "classic",
                }),
            );
            if let Some(h) = spec.retention_hours {
                args.insert("x-message-ttl".into(), json!(u64::from(h) * 3_600_000));
            }
            if spec.fifo {
                // One consumer at a time keeps the queue's order end to end.
                args.insert("x-single-active-consumer".into(), json!(true));
            }
            if spec.dead_letter {
                let dlq = format!("{physical}{DLQ_SUFFIX}");
                // The default exchange routes by queue name: no extra exchange to manage.
                args.insert("x-dead-letter-exchange".into(), json!(""));
                args.insert("x-dead-letter-routing-key".into(), json!(dlq));
                if inputs.queue_type == QueueType::Quorum {
                    args.insert(
                        "x-delivery-limit".into(),
                        json!(spec.max_receive_count.unwrap_or(DEFAULT_MAX_RECEIVE_COUNT)),
                    );
                }
                let mut dlq_args = Map::new();
                dlq_args.insert("x-queue-type".into(), args["x-queue-type"].clone());
                out.push(Queue {
                    logical: format!("{logical}{DLQ_SUFFIX}"),
                    source: logical.clone(),
                    physical: dlq,
                    arguments: dlq_args,
                    routing_key: None,
                });
            }
            out.push(Queue {
                logical: logical.clone(),
                source: logical.clone(),
                physical,
                arguments: args,
                routing_key: Some(logical.clone()),
            });
        }
        let users = inputs
            .users
            .iter()
            .map(|(user, spec)| {
                let allowed =
                    queues::user_queues(spec, &inputs.queues).into_iter().map(str::to_owned).collect();
                (user.clone(), allowed)
            })
            .collect();
        Topology {
            vhost: inputs.vhost.clone().unwrap_or_else(|| component.clone()),
            exchange: inputs.exchange.clone().unwrap_or_else(|| component.clone()),
            queues: out,
            component,
            users,
        }
    }

    /// The broker user name of a configured user.
    pub fn username(&self, user: &str) -> String {
        format!("{}-{user}", self.component)
    }

    /// A user may (re)declare, read and write its queues and their
    /// dead-letter queues, and publish to the topology's exchange and the
    /// default one. It may also build the topology Dapr's `pubsub.rabbitmq`
    /// builds for it: an exchange per topic (named after one of its queues),
    /// and queues `<prefix>-<topic>` with their `dlx-`/`dlq-` pair, where
    /// `<prefix>` is its group prefix. Nothing else: another user's queues
    /// and prefix are refused by the broker.
    pub fn permissions(&self, user: &str) -> Permissions {
        let allowed: &[String] = self.users.iter().find(|(u, _)| u == user).map_or(&[], |(_, q)| q);
        let mut own: Vec<String> = self
            .queues
            .iter()
            .filter(|q| allowed.contains(&q.source))
            .map(|q| regex_escape(&q.physical))
            .collect();
        if !own.is_empty() {
            let prefix = regex_escape(&queues::group_prefix(&self.component, user));
            own.extend([format!("{prefix}-.+"), format!("dlx-{prefix}-.+"), format!("dlq-{prefix}-.+")]);
        }
        let any = |names: &[String]| {
            if names.is_empty() { "^$".to_owned() } else { format!("^({})$", names.join("|")) }
        };
        let exchange = regex_escape(&self.exchange);
        let write: Vec<String> =
            [exchange.clone(), "amq\\.default".to_owned()].into_iter().chain(own.clone()).collect();
        let read: Vec<String> = [exchange].into_iter().chain(own.clone()).collect();
        Permissions { configure: any(&own), write: any(&write), read: any(&read) }
    }
}

/// Names Capstan creates: printable, no spaces, and not in the reserved `amq.` namespace.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 251
        && !s.starts_with("amq.")
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
}

fn regex_escape(s: &str) -> String {
    s.replace('.', "\\.")
}
