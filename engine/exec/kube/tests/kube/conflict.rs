use serde_json::json;

use crate::support::{self, Cluster, KEY, find, key};

#[tokio::test]
async fn a_field_another_manager_owns_is_reported_with_the_manager_and_never_forced() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    target.apply(KEY, &support::component_objects()).await.unwrap();

    // An operator scales by hand, taking the field with kubectl's server-side apply.
    let objects = support::component_objects();
    let deploy = key(find(&objects, "Deployment"));
    cluster
        .force_apply_as(
            "kubectl",
            &deploy,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"},
                   "spec": {"replicas": 5}}),
        )
        .await;

    let mut inputs = support::app_inputs();
    inputs["replicas"] = json!(3);
    let mut wanted = support::app(inputs);
    wanted.insert(0, support::namespace());
    let err = target.apply(KEY, &wanted).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Deployment shop/api: server-side apply conflicts with field manager \"kubectl\" on .spec.replicas; \
         Capstan does not take fields from another manager: stop \"kubectl\" setting it, or remove it from what \
         the plugin plans"
    );
    let live = cluster.get(&deploy).await.unwrap();
    assert_eq!(live["spec"]["replicas"], 5, "the other manager's value stays");
}
