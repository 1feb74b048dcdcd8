use crate::support::{self, Cluster, KEY, key};

#[tokio::test]
async fn destroy_removes_everything_the_component_owned_custom_resources_first_namespace_last() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();

    // What state recorded for the component, in plan order.
    let recorded: Vec<_> = objects.iter().map(key).collect();
    let pruned = target.prune(KEY, &recorded).await.unwrap();
    let deleted: Vec<String> = pruned.deleted.iter().map(ToString::to_string).collect();
    assert_eq!(
        deleted,
        [
            "NetworkPolicy shop/api",
            "ServiceMonitor shop/api",
            "Service shop/api",
            "Deployment shop/api",
            "CustomResourceDefinition servicemonitors.monitoring.coreos.com",
            "Namespace shop",
        ]
    );
    assert!(pruned.kept.is_empty());
    for k in &recorded {
        assert!(cluster.get(k).await.is_none(), "{k} is gone");
    }
}
