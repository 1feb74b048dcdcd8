//! Failures the operator must be able to act on, without a secret in them.

use std::time::Duration;

use capstan_core::{AmqpOp, EffectKind, JetStreamOp, Sensitive};
use capstan_jetstream::{JetStreamConnection, JetStreamError, JetStreamExecutor};

use crate::support::{effect, executor, stream};

#[tokio::test]
async fn effects_for_another_connection_or_kind_are_refused_before_connecting() {
    // A server nobody listens on: a refusal that tried to connect would say so.
    let exec = JetStreamExecutor::new(
        JetStreamConnection::new("nats", &Sensitive::new("nats://127.0.0.1:1"), None, None, None).unwrap(),
    );
    let mut e = effect("streams", vec![JetStreamOp::EnsureStream(stream("ORDERS", &["orders.>"]))]);
    e.target = "nats-b".into();
    let err = exec.apply(&e).await.unwrap_err();
    assert!(matches!(err, JetStreamError::WrongTarget { .. }), "{err:?}");
    assert_eq!(err.to_string(), "effect streams targets connection nats-b, but this executor serves nats");

    let mut e = effect("queues", vec![]);
    e.kind = EffectKind::Amqp(vec![AmqpOp::EnsureVhost("v".into())]);
    let err = executor().apply(&e).await.unwrap_err();
    assert!(matches!(err, JetStreamError::NotJetStream { kind: "amqp", .. }), "{err:?}");
    assert_eq!(err.to_string(), "effect queues is of kind amqp, and this executor runs jetstream effects");
}

#[tokio::test]
async fn an_unreachable_server_names_the_connection_not_its_credentials() {
    let url = Sensitive::new("nats://capstan:hunter2-secret@127.0.0.1:1");
    let exec = JetStreamExecutor::new(JetStreamConnection::new("nats", &url, None, None, None).unwrap());
    assert!(!format!("{exec:?}").contains("hunter2"), "{exec:?}");
    let e = effect("streams", vec![JetStreamOp::EnsureStream(stream("ORDERS", &["orders.>"]))]);
    let err = exec.apply(&e).await.unwrap_err();
    assert!(matches!(err, JetStreamError::Connection { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("effect streams: cannot connect to nats (nats://127.0.0.1:1): "), "{text}");
    assert!(!text.contains("hunter2") && !format!("{err:?}").contains("hunter2"), "{text}");
    // The same with the password given as a setting, and with a token.
    for (user, password, token) in
        [(Some("capstan"), Some("hunter2-secret"), None), (None, None, Some("hunter2-token"))]
    {
        let connection = JetStreamConnection::new(
            "nats",
            &Sensitive::new("nats://127.0.0.1:1"),
            user.map(Sensitive::new),
            password.map(Sensitive::new),
            token.map(Sensitive::new),
        )
        .unwrap();
        let err = JetStreamExecutor::new(connection).apply(&e).await.unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_naming_the_connection() {
    // Accepts the connection and never says a word (a NATS server greets first).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = Sensitive::new(format!("nats://127.0.0.1:{port}"));
    let exec = JetStreamExecutor::new(JetStreamConnection::new("nats", &url, None, None, None).unwrap())
        .with_timeout(Duration::from_secs(1));
    let e = effect("streams", vec![JetStreamOp::EnsureStream(stream("ORDERS", &["orders.>"]))]);
    let started = std::time::Instant::now();
    let err = exec.apply(&e).await.unwrap_err();
    assert!(matches!(err, JetStreamError::Timeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("effect streams: connect on nats (nats://127.0.0.1:{port}): no answer within 1s")
    );
    assert!(started.elapsed() < Duration::from_secs(10), "bounded by the timeout");
}
