use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{self, Cluster, KEY, READY_TIMEOUT, app_health, find, key};

#[tokio::test]
async fn a_rollout_that_never_finishes_times_out_with_the_plugins_reason() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();
    let keys: Vec<_> = objects.iter().map(key).collect();
    // No Deployment controller runs: the plugin keeps answering "progressing",
    // with its reason.
    let err = target.wait_ready(KEY, &keys, READY_TIMEOUT, &app_health).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "component envs/staging/shop/api: not ready after 400ms:\n  Deployment shop/api: waiting for the controller to see the new spec"
    );
}

#[tokio::test]
async fn each_wait_lasts_the_timeout_its_component_was_given() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();
    let keys: Vec<_> = objects.iter().map(key).collect();
    // One target serves every component of a run; the timeout is per call.
    for timeout in [Duration::from_millis(150), Duration::from_millis(900)] {
        let started = Instant::now();
        let err = target.wait_ready(KEY, &keys, timeout, &app_health).await.unwrap_err();
        let waited = started.elapsed();
        assert!(err.to_string().contains(&format!("not ready after {timeout:?}")), "{err}");
        assert!(waited >= timeout, "gave up after {waited:?}, before {timeout:?}");
        assert!(waited < timeout + Duration::from_millis(500), "waited {waited:?} for a {timeout:?} timeout");
    }
}

#[tokio::test]
async fn waiting_ends_when_the_plugin_calls_every_object_ready() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();
    let deploy = key(find(&objects, "Deployment"));
    let keys: Vec<_> = objects.iter().map(key).collect();
    let rollout = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let generation = cluster.get(&deploy).await.unwrap()["metadata"]["generation"].as_i64().unwrap_or(1);
        cluster
            .set_status(
                &deploy,
                json!({"observedGeneration": generation, "replicas": 2, "updatedReplicas": 2,
                "availableReplicas": 2, "readyReplicas": 2}),
            )
            .await;
    };
    let (waited, ()) =
        tokio::join!(target.wait_ready(KEY, &keys, Duration::from_secs(5), &app_health), rollout);
    waited.unwrap();
}

#[tokio::test]
async fn a_degraded_object_fails_at_once_with_the_plugins_reason() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();
    let deploy = key(find(&objects, "Deployment"));
    cluster
        .set_status(&deploy, json!({"conditions": [{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"api-5d9\" has timed out progressing."}]}))
        .await;
    let started = Instant::now();
    let err = target.wait_ready(KEY, &[deploy], Duration::from_secs(30), &app_health).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Deployment shop/api is degraded: ReplicaSet \"api-5d9\" has timed out progressing."
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
