use capstan_plan::diff_objects;
use serde_json::json;

use crate::support::{self, Cluster, KEY, find, key};

fn shop() -> capstan_kube::ObjectRef {
    key(&support::namespace())
}

/// The app's Deployment and Service, which live in namespace shop.
fn app_objects() -> Vec<serde_json::Value> {
    let mut inputs = support::app_inputs();
    inputs.as_object_mut().unwrap().remove("service_monitor");
    support::app(inputs)
}

/// Plays the platform team creating the namespace with kubectl.
async fn created_by_kubectl(cluster: &Cluster) {
    let manifest = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"team": "payments"}}});
    cluster.apply_as("kubectl", &shop(), manifest).await;
}

#[tokio::test]
async fn a_namespace_no_plugin_plans_is_created_before_the_objects_that_live_in_it_and_never_deleted() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = app_objects();
    assert!(objects.iter().all(|o| o["kind"] != "Namespace" && o["metadata"]["namespace"] == "shop"));

    // The stand-in answers 404 to writes into a namespace that does not
    // exist, so this succeeds only if the namespace comes first.
    target.apply(KEY, &objects).await.unwrap();
    let writes: Vec<String> = cluster.writes().iter().map(ToString::to_string).collect();
    assert_eq!(writes[0], "PATCH /api/v1/namespaces/shop", "{writes:#?}");
    let ns = cluster.get(&shop()).await.expect("the namespace was created");
    assert_eq!(ns["metadata"]["labels"]["app.kubernetes.io/managed-by"], "capstan");
    assert!(
        ns["metadata"]["annotations"].get("capstan.dev/component").is_none(),
        "no one component owns it: {ns}"
    );
    assert_eq!(cluster.managers(&shop()).await, ["capstan"]);

    // Applying again does not touch it.
    let before = cluster.writes().len();
    target.apply(KEY, &objects).await.unwrap();
    assert!(
        !cluster.writes()[before..].iter().any(|w| w.path == "/api/v1/namespaces/shop"),
        "{:#?}",
        cluster.writes()
    );

    // Destroying the component removes its objects; the namespace, which
    // other components and tools may share, stays.
    let recorded: Vec<_> = objects.iter().map(key).collect();
    let pruned = target.prune(KEY, &recorded).await.unwrap();
    assert_eq!(pruned.deleted.len(), objects.len());
    assert!(cluster.get(&shop()).await.is_some(), "the namespace Capstan created for its objects stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn components_applying_at_once_into_one_new_namespace_all_succeed() {
    let cluster = Cluster::start().await;
    // Components apply in parallel: each finds the namespace missing
    // before any has created it, and all but one lose the create.
    let applies: Vec<_> = (0..16)
        .map(|i| {
            let target = cluster.target();
            let settings = support::normalised(vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("c{i}")}, "data": {"index": i.to_string()}})]);
            tokio::spawn(async move { target.apply(KEY, &settings).await })
        })
        .collect();
    for apply in applies {
        apply.await.unwrap().expect("a namespace another component just created is no error");
    }
    assert!(cluster.get(&shop()).await.is_some());
}

#[tokio::test]
async fn a_namespace_someone_else_made_is_not_touched_when_objects_land_in_it() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    created_by_kubectl(&cluster).await;
    target.apply(KEY, &app_objects()).await.unwrap();
    let ns = cluster.get(&shop()).await.unwrap();
    assert_eq!(ns["metadata"]["labels"], json!({"team": "payments"}));
    assert_eq!(cluster.managers(&shop()).await, ["kubectl"]);
}

#[tokio::test]
async fn a_planned_namespace_that_already_existed_is_adopted_and_never_deleted() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    created_by_kubectl(&cluster).await;
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();

    let ns = cluster.get(&shop()).await.unwrap();
    assert_eq!(ns["metadata"]["annotations"][capstan_kube::ADOPTED_ANNOTATION], KEY);
    assert_eq!(ns["metadata"]["labels"]["team"], "payments", "the other manager's label stays");
    assert_eq!(ns["metadata"]["labels"]["app.kubernetes.io/managed-by"], "capstan");
    // The mark is not Capstan's applied configuration: the plan sees no change.
    let current = target.current(&shop()).await.unwrap().unwrap();
    assert_eq!(diff_objects(&current, find(&objects, "Namespace")), []);
    target.apply(KEY, &objects).await.unwrap();
    let ns = cluster.get(&shop()).await.unwrap();
    assert_eq!(
        ns["metadata"]["annotations"][capstan_kube::ADOPTED_ANNOTATION],
        KEY,
        "re-applying keeps the mark"
    );

    let recorded: Vec<_> = objects.iter().map(key).collect();
    let pruned = target.prune(KEY, &recorded).await.unwrap();
    assert_eq!(
        pruned.kept,
        [(
            shop(),
            "it existed before Capstan applied it (capstan.dev/adopted is set), so Capstan does not delete it"
                .to_string()
        )]
    );
    assert_eq!(pruned.deleted.len(), objects.len() - 1);
    assert!(cluster.get(&shop()).await.is_some());
    assert!(cluster.get(&key(find(&objects, "Deployment"))).await.is_none());
}

#[tokio::test]
async fn a_deployer_who_may_not_read_namespaces_still_applies_into_an_existing_one() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    created_by_kubectl(&cluster).await;
    cluster.deny("GET", "/api/v1/namespaces/shop");
    let before = cluster.writes().len();
    let objects = app_objects();
    target.apply(KEY, &objects).await.unwrap();
    assert!(cluster.get(&key(find(&objects, "Deployment"))).await.is_some());
    let namespace_writes: Vec<_> =
        cluster.writes()[before..].iter().filter(|w| w.path == "/api/v1/namespaces/shop").cloned().collect();
    assert_eq!(namespace_writes, [], "no attempt to create what it may not even read");
}
