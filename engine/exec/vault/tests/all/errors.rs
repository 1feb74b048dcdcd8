//! Failures the operator must be able to act on, without the token in them.

use std::time::Duration;

use capstan_core::{AmqpOp, EffectKind, Sensitive};
use capstan_vault::{Method, VaultConnection, VaultError, VaultExecutor};

use crate::support::{CONNECTION, effect, env, mount, policy, unique};

/// An executor for a server at `url`, with `token`.
fn executor(url: &str, token: &str) -> VaultExecutor {
    VaultExecutor::new(
        VaultConnection::new(CONNECTION, &Sensitive::new(url), Sensitive::new(token), None).unwrap(),
    )
}

#[test]
fn effects_for_another_connection_or_kind_or_malformed_are_refused_before_any_request() {
    // A server nobody listens on: a refusal that sent a request would say so.
    let exec = executor("http://127.0.0.1:1", "t");
    let mut e = effect("pki", vec![mount("pki", "pki", "", None)]);
    e.target = "vault-b".into();
    let err = exec.apply(&e).unwrap_err();
    assert!(matches!(err, VaultError::WrongTarget { .. }), "{err:?}");
    assert_eq!(err.to_string(), "effect pki targets connection vault-b, but this executor serves vault");
    assert!(matches!(exec.check(&e).unwrap_err(), VaultError::WrongTarget { .. }));

    let mut e = effect("queues", vec![]);
    e.kind = EffectKind::Amqp(vec![AmqpOp::EnsureVhost("v".into())]);
    let err = exec.apply(&e).unwrap_err();
    assert!(matches!(err, VaultError::NotVault { kind: "amqp", .. }), "{err:?}");
    assert_eq!(err.to_string(), "effect queues is of kind amqp, and this executor runs vault effects");

    // The second op is malformed: the first is not sent either.
    let e = effect("pki", vec![mount("pki", "pki", "", None), mount("pki2", "pki", "", Some("a while"))]);
    let err = exec.apply(&e).unwrap_err();
    assert!(matches!(err, VaultError::InvalidOp { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "effect pki: ensure-mount pki2: max-lease-ttl `a while` is not a duration (such as 768h, 30m or 3600)"
    );
}

#[test]
fn a_wrong_token_is_denied_naming_the_path_and_never_the_token() {
    let env = env();
    let token = "hvs.not-the-token-hunter2";
    let exec = executor(&env.bao.url, token);
    let name = unique("denied");
    let e = effect("policy", vec![policy(&name, "path \"x\" { capabilities = [\"read\"] }")]);
    let err = exec.apply(&e).unwrap_err();
    let VaultError::Denied { effect, op, path, method, message, .. } = &err else {
        panic!("not Denied: {err:?}");
    };
    assert_eq!(
        (effect.as_str(), op.as_str(), *method, path.as_str(), message.as_str()),
        (
            "policy",
            format!("ensure-policy {name}").as_str(),
            Method::Get,
            format!("sys/policies/acl/{name}").as_str(),
            "permission denied"
        )
    );
    assert_eq!(
        err.to_string(),
        format!(
            "effect policy: ensure-policy {name} on {}: GET sys/policies/acl/{name} denied: permission denied \
             (the connection's token lacks a capability on this path, or is not valid)",
            env.target()
        )
    );
    assert!(matches!(exec.check(&e).unwrap_err(), VaultError::Denied { .. }));
    for text in [err.to_string(), format!("{err:?}"), format!("{exec:?}")] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    // Nothing was written.
    assert_eq!(env.bao.call("GET", &format!("sys/policies/acl/{name}"), None).0, 404);
}

#[test]
fn an_unreachable_server_names_the_connection() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let exec = executor(&format!("http://127.0.0.1:{port}"), "hvs.hunter2-token");
    let e = effect("pki", vec![mount("pki", "pki", "", None)]);
    let err = exec.apply(&e).unwrap_err();
    assert!(matches!(err, VaultError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "effect pki: ensure-mount pki on vault (http://127.0.0.1:{port}): cannot reach the server: cannot connect ("
        )),
        "{text}"
    );
    assert!(!text.contains("hunter2") && !format!("{err:?}").contains("hunter2"), "{text}");
}

#[test]
fn a_server_that_never_answers_times_out_naming_the_connection() {
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept() {
            held.push(socket);
        }
    });
    let exec = executor(&format!("http://127.0.0.1:{port}"), "t").with_timeout(Duration::from_secs(1));
    let e = effect("pki", vec![mount("pki", "pki", "", None)]);
    let started = std::time::Instant::now();
    let err = exec.apply(&e).unwrap_err();
    assert!(matches!(err, VaultError::Timeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("effect pki: ensure-mount pki on vault (http://127.0.0.1:{port}): no answer within 1s")
    );
    assert!(started.elapsed() < Duration::from_secs(10), "bounded by the timeout");
}
