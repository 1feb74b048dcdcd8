use capstan_kube::Reassigned;
use serde_json::json;

use crate::support::{self, Cluster, KEY, find, key};

const MOVED_TO: &str = "envs/staging/shop/gateway";

#[tokio::test]
async fn a_moved_component_takes_its_live_objects_and_nothing_else() {
    let cluster = Cluster::start().await;
    let target = cluster.target();
    let objects = support::component_objects();
    target.apply(KEY, &objects).await.unwrap();
    let deployment = key(find(&objects, "Deployment"));
    let service = key(find(&objects, "Service"));
    // Another component's object, and one that is not in the cluster.
    let theirs = capstan_kube::ObjectRef { name: "shared".into(), ..service.clone() };
    cluster
        .apply_as(
            "capstan",
            &theirs,
            json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "shared", "namespace": "shop",
                "annotations": {"capstan.dev/component": "envs/staging/shop/other"}},
            "spec": {"ports": [{"port": 80}]}}),
        )
        .await;
    let gone = capstan_kube::ObjectRef { name: "gone".into(), ..service.clone() };

    let own: Vec<_> = objects.iter().map(key).collect();
    let recorded: Vec<_> = own.iter().cloned().chain([theirs.clone(), gone.clone()]).collect();
    let moved = target.reassign(KEY, MOVED_TO, &recorded).await.unwrap();
    assert_eq!(
        moved,
        Reassigned {
            moved: own.clone(),
            kept: vec![
                (theirs.clone(), "it belongs to component envs/staging/shop/other".into()),
                (gone, "it is not in the cluster".into()),
            ],
        }
    );
    for k in &own {
        let live = cluster.get(k).await.unwrap();
        assert_eq!(live["metadata"]["annotations"]["capstan.dev/component"], MOVED_TO, "{k}");
        // What the plan compares: Capstan's fields, with the new owner.
        let current = target.current(k).await.unwrap().unwrap();
        assert_eq!(current["metadata"]["annotations"]["capstan.dev/component"], MOVED_TO, "{k}");
    }
    assert_eq!(cluster.get(&deployment).await.unwrap()["spec"]["replicas"], 2, "nothing else changed");
    let other = cluster.get(&theirs).await.unwrap();
    assert_eq!(other["metadata"]["annotations"]["capstan.dev/component"], "envs/staging/shop/other");

    // The component applies under its new key: its objects are its own now
    // (unmoved, the Namespace, say, would be refused as the old one's).
    let mut renamed = objects.clone();
    for o in &mut renamed {
        o["metadata"]["annotations"]["capstan.dev/component"] = json!(MOVED_TO);
    }
    target.apply(MOVED_TO, &renamed).await.unwrap();
    // A move run again (after one stopped half-way) finds them moved.
    let again = target.reassign(KEY, MOVED_TO, std::slice::from_ref(&deployment)).await.unwrap();
    assert_eq!(again, Reassigned { moved: vec![deployment], kept: Vec::new() });
}
