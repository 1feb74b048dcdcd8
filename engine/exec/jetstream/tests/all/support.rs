//! The local server, unique names, effects, and cleanup.

use async_nats::jetstream;
use capstan_core::{
    Effect, EffectKind, EffectResult, JetStreamConsumer, JetStreamOp, JetStreamRetention, JetStreamStorage,
    JetStreamStream, Sensitive,
};
use capstan_jetstream::{JetStreamConnection, JetStreamExecutor};

pub const SERVER: &str = "nats://127.0.0.1:4222";
/// The connection name the effects target.
pub const CONNECTION: &str = "nats";
/// How the summaries and errors name the local server.
pub const TARGET: &str = "nats (nats://127.0.0.1:4222)";

pub fn suffix() -> String {
    let mut b = [0u8; 5];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The driver for the local server (no auth).
pub fn executor() -> JetStreamExecutor {
    JetStreamExecutor::new(
        JetStreamConnection::new(CONNECTION, &Sensitive::new(SERVER), None, None, None).unwrap(),
    )
}

/// A client of our own, to look at what the driver did and to use it.
pub async fn client() -> async_nats::Client {
    async_nats::connect(SERVER).await.unwrap()
}

pub async fn js() -> jetstream::Context {
    jetstream::new(client().await)
}

/// A limits stream on file with one replica, an hour's max age and no byte limit.
pub fn stream(name: &str, subjects: &[&str]) -> JetStreamStream {
    JetStreamStream {
        name: name.to_string(),
        subjects: subjects.iter().map(ToString::to_string).collect(),
        retention: JetStreamRetention::Limits,
        storage: JetStreamStorage::File,
        replicas: 1,
        max_age_seconds: 3600,
        max_bytes: None,
    }
}

/// A durable pull consumer with a 30 s ack wait and five deliveries.
pub fn consumer(stream: &str, name: &str, filters: &[&str]) -> JetStreamConsumer {
    JetStreamConsumer {
        stream: stream.to_string(),
        name: name.to_string(),
        filter_subjects: filters.iter().map(ToString::to_string).collect(),
        ack_wait_seconds: 30,
        max_deliver: Some(5),
    }
}

pub fn effect(id: &str, ops: Vec<JetStreamOp>) -> Effect {
    Effect {
        id: id.to_string(),
        target: CONNECTION.to_string(),
        summary: format!("{} JetStream ops", ops.len()),
        kind: EffectKind::JetStream(ops),
    }
}

/// `(op, subject, outcome)` of each op an effect ran.
pub fn outcomes(result: &EffectResult) -> Vec<(String, String, String)> {
    result.body["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let field = |k: &str| o[k].as_str().unwrap().to_string();
            (field("op"), field("subject"), field("outcome"))
        })
        .collect()
}

/// One test's names, suffixed so that runs never collide: the stream
/// `CAPSTAN_TEST_<prefix>_<suffix>` and the subjects under
/// `capstan-test.<suffix>.`; the stream (and so its consumers) is deleted
/// when the test ends, pass or fail.
pub struct Scratch {
    pub stream: String,
    /// `capstan-test.<suffix>`, the prefix of the test's subjects.
    pub subjects: String,
    _cleanup: Cleanup,
}

pub fn scratch(prefix: &str) -> Scratch {
    let suffix = suffix();
    let stream = format!("CAPSTAN_TEST_{prefix}_{suffix}");
    Scratch {
        subjects: format!("capstan-test.{suffix}"),
        _cleanup: Cleanup { streams: vec![stream.clone()] },
        stream,
    }
}

/// Deletes the streams a test created; runs even after a failed assertion,
/// through Drop.
pub struct Cleanup {
    pub streams: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let streams = std::mem::take(&mut self.streams);
        // Drop runs inside the test's runtime: clean up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let Ok(client) = async_nats::connect(SERVER).await else {
                    eprintln!("cleanup: cannot connect to {SERVER} to delete {streams:?}");
                    return;
                };
                let js = jetstream::new(client);
                for stream in streams {
                    // A stream never created (the test failed first) is left alone.
                    if js.get_stream(&stream).await.is_ok()
                        && let Err(e) = js.delete_stream(&stream).await
                    {
                        eprintln!("cleanup: delete stream {stream}: {e}");
                    }
                }
            });
        })
        .join();
    }
}
