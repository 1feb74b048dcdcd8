//! The test cluster and the objects applied to it.
//!
//! No kube-apiserver can run on the build machines, so the cluster is
//! kube-fake-client's in-memory API server (server-side apply with
//! `managedFields`, field managers and conflicts) behind the stand-in of
//! `capstan_kube::testing` (discovery, the CRD controller, namespace
//! checks), with the ServiceMonitor kind registered.
//!
//! The objects are real plugin output: the app plugin planned natively
//! through the SDK test kit, normalised by the planner as the engine does,
//! and the upstream ServiceMonitor CRD from `tests/crds`.

use std::time::Duration;

use capstan_core::ComponentId;
use capstan_kube::testing::FakeCluster;
use capstan_kube::{KubeTarget, ObjectRef, Settings};
use capstan_plugin_app::App;
use capstan_sdk::testkit::PlanCall;
use serde_json::{Value, json};

/// The component every test applies (its key is the inventory annotation).
pub const KEY: &str = "envs/staging/shop/api";

/// How long the tests' readiness waits last: short, so timeouts are
/// reached in test time.
pub const READY_TIMEOUT: Duration = Duration::from_millis(400);

pub fn component() -> ComponentId {
    ComponentId { name: "api".into(), environment: "staging".into(), namespace: "shop".into() }
}

/// The ServiceMonitor kind, so the fake can store custom resources of it.
#[derive(kube::CustomResource, Clone, Debug, serde::Serialize, serde::Deserialize)]
#[kube(
    group = "monitoring.coreos.com",
    version = "v1",
    kind = "ServiceMonitor",
    namespaced,
    schema = "disabled"
)]
pub struct ServiceMonitorSpec {}

/// The fake cluster, with what the tests do to it as other tools would.
pub struct Cluster(FakeCluster);

impl std::ops::Deref for Cluster {
    type Target = FakeCluster;
    fn deref(&self) -> &FakeCluster {
        &self.0
    }
}

impl Cluster {
    pub async fn start() -> Self {
        let fake =
            FakeCluster::start_with(|b| b.with_resource::<ServiceMonitor>(), Duration::from_millis(150))
                .await;
        Self(fake)
    }

    /// A target with short waits, so timeouts are reached in test time.
    pub fn target(&self) -> KubeTarget {
        let settings = Settings {
            crd_timeout: Duration::from_secs(5),
            poll: Duration::from_millis(20),
            ..Settings::default()
        };
        KubeTarget::new(self.client.clone(), settings)
    }
}

/// The planner's treatment of a plugin's objects: namespace, inventory marks.
pub fn normalised(objects: Vec<Value>) -> Vec<Value> {
    objects
        .into_iter()
        .enumerate()
        .map(|(i, o)| capstan_plan::objects::normalise(&component(), KEY, i, o).expect("a valid object"))
        .collect()
}

/// The app plugin's objects for `inputs` (Deployment, Service, and a
/// ServiceMonitor when asked), as the planner hands them to the target.
pub fn app(inputs: Value) -> Vec<Value> {
    let plan =
        PlanCall::new(inputs).component("staging", "shop", "api").run::<App>().expect("the app plugin plans");
    normalised(plan.objects)
}

pub fn app_inputs() -> Value {
    json!({"image": "registry.example.com/shop/api:1.4.2", "port": 8080, "replicas": 2, "service_monitor": {}})
}

pub fn namespace() -> Value {
    normalised(vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})]).remove(0)
}

/// The upstream ServiceMonitor CRD, byte for byte as prometheus-operator ships it.
pub fn service_monitor_crd() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../tests/crds/prometheus-operator/monitoring.coreos.com_servicemonitors.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let crd: Value = serde_norway::from_str(&text).expect("the CRD is YAML");
    normalised(vec![crd]).remove(0)
}

/// Everything the component plans, custom resource first and its CRD and
/// namespace last: the target, not the plan, puts them in order.
pub fn component_objects() -> Vec<Value> {
    let mut objects = app(app_inputs());
    objects.push(service_monitor_crd());
    objects.push(namespace());
    objects
}

pub fn key(object: &Value) -> ObjectRef {
    ObjectRef::of(object).unwrap()
}

pub fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects.iter().find(|o| o["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in the plan"))
}

/// The plugin's health rules, as the engine calls them.
pub fn app_health(object: &Value) -> Result<capstan_core::Health, String> {
    Ok(<App as capstan_sdk::Plugin>::health(object))
}
