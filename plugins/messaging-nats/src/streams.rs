//! The streams and consumers both modes declare, computed once so the NACK
//! resources (in-cluster) and the JetStream effects (external) cannot
//! disagree: they are rendered from the same [`JetStreamStream`] and
//! [`JetStreamConsumer`] values the effects carry.

use capstan_sdk::capstan_core::{JetStreamConsumer, JetStreamRetention, JetStreamStorage, JetStreamStream};
use capstan_sdk::contracts::messaging::queues;

use crate::{Inputs, Storage};

/// The longest stream or consumer name the NATS server accepts (its
/// `JSMaxNameLen`: a file name on the server's disk).
pub const MAX_NAME: usize = 255;

/// One queue: a stream whose name is also its one subject, and a durable
/// pull consumer on it for each user that may use the queue.
#[derive(Clone, Debug)]
pub struct Stream {
    /// The key under `queues`.
    pub logical: String,
    /// The stream as both modes create it: name, subject, retention, storage.
    pub config: JetStreamStream,
    /// In the order of the users.
    pub consumers: Vec<Consumer>,
}

/// A user's durable pull consumer on one stream.
#[derive(Clone, Debug)]
pub struct Consumer {
    /// The key under `users`; also the consumer's durable name.
    pub user: String,
    /// The consumer as both modes create it: filter subject, ack wait, max deliveries.
    pub config: JetStreamConsumer,
}

/// A stream name that is also one subject token: letters, digits, `-` and
/// `_`. That rules out what NATS refuses in a stream name (`.`, `*`, `>`,
/// whitespace, path separators) and keeps the subject a single token, so
/// no other queue's subject can fall under it.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Every queue's stream and consumers, in the order of the queues.
pub fn layout(inputs: &Inputs) -> Vec<Stream> {
    inputs
        .queues
        .iter()
        .map(|(logical, spec)| {
            let name = queues::physical_name(&inputs.name_prefix, logical, spec);
            let consumers = inputs
                .users
                .iter()
                .filter(|(_, user)| queues::user_queues(user, &inputs.queues).contains(&logical.as_str()))
                .map(|(user, _)| Consumer {
                    user: user.clone(),
                    config: JetStreamConsumer {
                        stream: name.clone(),
                        name: user.clone(),
                        filter_subjects: vec![name.clone()],
                        ack_wait_seconds: spec
                            .visibility_timeout_seconds
                            .map_or(inputs.ack_wait_seconds, u64::from),
                        max_deliver: spec.max_receive_count,
                    },
                })
                .collect();
            Stream {
                logical: logical.clone(),
                config: JetStreamStream {
                    name: name.clone(),
                    subjects: vec![name],
                    // A message stays until its age or size limit, whoever
                    // read it: each user reads through a consumer of its
                    // own, and `work-queue` retention allows only one
                    // consumer per subject.
                    retention: JetStreamRetention::Limits,
                    storage: match inputs.storage {
                        Storage::File => JetStreamStorage::File,
                        Storage::Memory => JetStreamStorage::Memory,
                    },
                    replicas: spec.replicas.unwrap_or(inputs.replicas),
                    max_age_seconds: spec.retention_hours.map_or(0, |h| u64::from(h) * 3600),
                    max_bytes: None,
                },
                consumers,
            }
        })
        .collect()
}

/// A Go duration, as NACK's `maxAge` and `ackWait` take it.
pub fn go_duration(seconds: u64) -> String {
    if seconds.is_multiple_of(3600) { format!("{}h", seconds / 3600) } else { format!("{seconds}s") }
}
