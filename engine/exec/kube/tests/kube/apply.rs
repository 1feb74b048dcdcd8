use std::time::Instant;

use capstan_plan::diff_objects;
use serde_json::json;

use crate::support::{self, Cluster, KEY, find, key};

#[tokio::test]
async fn namespace_and_crd_go_first_and_the_custom_resource_waits_for_the_crd() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    assert_eq!(objects[0]["kind"], "Deployment", "the plan lists the workload first");
    let started = Instant::now();
    // The stand-in answers 404 for the namespace's objects until the
    // Namespace exists and for ServiceMonitors until their CRD is
    // Established, so this succeeds only in stage order.
    target.apply(KEY, &objects).await.unwrap();
    assert!(started.elapsed().as_millis() >= 150, "the custom resource waited for its CRD");

    for o in &objects {
        let live = cluster.get(&key(o)).await.unwrap_or_else(|| panic!("{} was applied", key(o)));
        let managers: Vec<&str> = live["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["manager"].as_str().unwrap())
            .collect();
        assert!(managers.contains(&"capstan"), "{}: applied as field manager capstan", key(o));
        assert_eq!(live["metadata"]["annotations"]["capstan.dev/component"], KEY);
    }
    let deploy = cluster.get(&key(find(&objects, "Deployment"))).await.unwrap();
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/shop/api:1.4.2"
    );
    let sm = cluster.get(&key(find(&objects, "ServiceMonitor"))).await.unwrap();
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "http");
}

#[tokio::test]
async fn after_apply_the_plan_sees_no_change_and_reapplying_changes_nothing() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();

    // What the planner compares: current() against the desired manifest.
    for o in &objects {
        let current = target.current(&key(o)).await.unwrap().unwrap();
        assert_eq!(diff_objects(&current, o), [], "{}: no change to plan", key(o));
    }

    let before = live_specs(&cluster, &objects).await;
    target.apply(KEY, &objects).await.unwrap();
    assert_eq!(live_specs(&cluster, &objects).await, before);
}

async fn live_specs(cluster: &Cluster, objects: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for o in objects {
        let mut live = cluster.get(&key(o)).await.unwrap();
        let meta = live["metadata"].as_object_mut().unwrap();
        for server_set in ["managedFields", "resourceVersion", "generation"] {
            meta.remove(server_set);
        }
        out.push(live);
    }
    out
}

#[tokio::test]
async fn the_plan_diff_is_against_the_cluster_and_ignores_what_others_set() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();
    let deploy = key(find(&objects, "Deployment"));
    // The Deployment controller writes status; another tool adds a label.
    cluster.set_status(&deploy, json!({"replicas": 2, "readyReplicas": 2})).await;
    cluster
        .apply_as(
            "team-tool",
            &deploy,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "shop", "labels": {"team": "payments"}}}),
        )
        .await;

    let mut inputs = support::app_inputs();
    inputs["replicas"] = json!(3);
    let wanted = support::app(inputs);
    let current = target.current(&deploy).await.unwrap().unwrap();
    let changes = diff_objects(&current, find(&wanted, "Deployment"));
    let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/spec/replicas"]);
    assert_eq!((changes[0].before.as_deref(), changes[0].after.as_deref()), (Some("2"), Some("3")));
}

#[tokio::test]
async fn a_kind_the_cluster_does_not_serve_is_named_in_the_error() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let mut objects = vec![support::namespace()];
    objects
        .extend(support::normalised(vec![json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "api-tls"}, "spec": {"secretName": "api-tls"}})]));
    let err = target.apply(KEY, &objects).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Certificate shop/api-tls: the cluster does not serve kind Certificate in cert-manager.io/v1 (is its CRD installed?)"
    );
}
