use capstan_kube::Pruned;
use serde_json::json;

use crate::support::{self, Cluster, KEY, find, key};

#[tokio::test]
async fn objects_that_left_the_plan_are_deleted_and_nothing_else_is() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();
    let service = key(find(&objects, "Service"));
    let monitor = key(find(&objects, "ServiceMonitor"));

    // Another component took over a ConfigMap state still lists for this
    // one, and a tool created one with a name state also lists.
    let moved = support::normalised(vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "api-settings"}, "data": {"a": "1"}})]);
    target.apply(KEY, &moved).await.unwrap();
    let moved_key = key(&moved[0]);
    cluster
        .apply_as(
            "capstan",
            &moved_key,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "api-settings", "namespace": "shop",
                "labels": {"app.kubernetes.io/managed-by": "capstan"},
                "annotations": {"capstan.dev/component": "envs/staging/shop/worker"}}, "data": {"a": "1"}}),
        )
        .await;
    let foreign = capstan_kube::ObjectRef { name: "api-extra".into(), ..moved_key.clone() };
    cluster
        .apply_as(
            "kubectl",
            &foreign,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "api-extra", "namespace": "shop"}, "data": {"b": "2"}}),
        )
        .await;

    // The plan no longer asks for a ServiceMonitor or a Service.
    let mut inputs = support::app_inputs();
    inputs.as_object_mut().unwrap().remove("service_monitor");
    let mut kept_objects = support::app(inputs);
    kept_objects.retain(|o| o["kind"] != "Service");
    target.apply(KEY, &kept_objects).await.unwrap();
    let pruned = target
        .prune(KEY, &[service.clone(), monitor.clone(), moved_key.clone(), foreign.clone()])
        .await
        .unwrap();

    assert_eq!(
        pruned,
        Pruned {
            deleted: vec![monitor.clone(), service.clone()],
            kept: vec![
                (foreign.clone(), "it no longer has the label app.kubernetes.io/managed-by=capstan".into()),
                (moved_key.clone(), "it belongs to component envs/staging/shop/worker now".into()),
            ],
        }
    );
    assert!(cluster.get(&service).await.is_none());
    assert!(cluster.get(&monitor).await.is_none());
    for still in [key(find(&objects, "Deployment")), moved_key, foreign] {
        assert!(cluster.get(&still).await.is_some(), "{still} is still there");
    }
    // Pruning what is already gone is not an error.
    assert_eq!(target.prune(KEY, &[service]).await.unwrap(), Pruned::default());
}

#[tokio::test]
async fn an_object_of_another_component_is_not_taken_over() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();
    let mut theirs = support::app(support::app_inputs());
    for o in &mut theirs {
        o["metadata"]["annotations"]["capstan.dev/component"] = json!("envs/staging/shop/other");
    }
    let err = target.apply("envs/staging/shop/other", &theirs).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Deployment shop/api: it already exists and belongs to component envs/staging/shop/api; \
         two components cannot apply the same object"
    );
}
