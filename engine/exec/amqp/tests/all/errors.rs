//! Failures the operator must be able to act on, without a secret in them.

use capstan_amqp::{AmqpConnection, AmqpError, AmqpExecutor};
use capstan_core::Sensitive;
use serde_json::json;

use crate::support::{connection, effect, plan, suffix};

#[tokio::test]
async fn a_wrong_admin_password_is_a_typed_error_without_the_password() {
    let s = suffix();
    let wrong = format!("wrong-{s}-password");
    let exec = AmqpExecutor::new(connection("guest", &wrong)).unwrap();
    let plan = plan(&format!("ev{s}"), json!({ "vhost": format!("capstan-test-{s}") }));
    let err = exec.apply(effect(&plan, "vhost")).await.unwrap_err();
    let AmqpError::Unauthorized { ref effect, ref op, ref user, status, .. } = err else {
        panic!("expected Unauthorized, got {err:?}");
    };
    assert_eq!((effect.as_str(), user.as_str(), status), ("vhost", "guest", 401));
    assert_eq!(op, &format!("ensure-vhost capstan-test-{s}"));
    let text = err.to_string();
    assert!(text.contains("rabbitmq (http://127.0.0.1:15672)"), "{text}");
    assert!(!text.contains(&wrong) && !format!("{err:?}").contains(&wrong), "{text}");
    // Nothing was created.
    let (status, _) =
        crate::support::management(reqwest::Method::GET, &format!("vhosts/capstan-test-{s}"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_unreachable_broker_names_the_connection_not_its_credentials() {
    let url = Sensitive::new("http://admin:hunter2-secret@127.0.0.1:1/");
    let exec = AmqpExecutor::new(AmqpConnection::new("rabbitmq", &url, None, None).unwrap()).unwrap();
    let plan = plan("unreachable", json!({}));
    let err = exec.apply(effect(&plan, "vhost")).await.unwrap_err();
    assert!(matches!(err, AmqpError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "effect vhost: ensure-vhost unreachable: cannot reach rabbitmq (http://127.0.0.1:1)"
        ),
        "{text}"
    );
    assert!(!text.contains("hunter2") && !format!("{err:?}").contains("hunter2"), "{text}");
}

#[tokio::test]
async fn effects_for_another_connection_or_kind_are_refused() {
    let exec = crate::support::admin();
    let mut e = effect(&plan("other", json!({})), "vhost").clone();
    e.target = "broker-b".into();
    let err = exec.apply(&e).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "effect vhost targets connection broker-b, but this executor serves rabbitmq"
    );
}
