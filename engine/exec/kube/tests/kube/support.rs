//! The test cluster and the objects applied to it.
//!
//! No kube-apiserver can run on the build machines, so the cluster is
//! kube-fake-client's in-memory API server: server-side apply with
//! `managedFields`, field managers and conflicts. In front of it sits a
//! small stand-in for three things the fake does not do, each played as the
//! real API server plays it:
//! - the discovery API (`/api/v1`, `/apis/<group>/<version>`): built-in
//!   kinds from the fake's own discovery tables, custom kinds only once a
//!   CRD for them is Established;
//! - the CRD controller: a CRD is marked Established `crd_delay` after it
//!   appears, and until then requests to its group answer 404;
//! - namespaces: writing into a namespace that does not exist answers 404.
//!
//! The objects are real plugin output: the app plugin planned natively
//! through the SDK test kit, normalised by the planner as the engine does,
//! and the upstream ServiceMonitor CRD from `../shared/crds`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use capstan_core::ComponentId;
use capstan_kube::{KubeTarget, ObjectKey, Settings};
use capstan_plugin_app::App;
use capstan_sdk::testkit::PlanCall;
use http::{Request, Response};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::client::Body;
use serde_json::{Value, json};

/// The component every test applies (its key is the inventory annotation).
pub const KEY: &str = "envs/staging/shop/api";

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

pub struct Cluster {
    /// Through the stand-in: what the target talks to, and what tests use
    /// to play other tools and controllers.
    pub client: kube::Client,
    controller: tokio::task::JoinHandle<()>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

impl Cluster {
    pub async fn start() -> Self {
        Self::with_crd_delay(Duration::from_millis(150)).await
    }

    pub async fn with_crd_delay(crd_delay: Duration) -> Self {
        let fake = kube_fake_client::ClientBuilder::new()
            .with_resource::<ServiceMonitor>()
            // As on a real server, status is written through /status and
            // does not bump the Deployment's generation.
            .with_status_subresource::<k8s_openapi::api::apps::v1::Deployment>()
            .with_return_managed_fields()
            .build()
            .await
            .expect("the fake API server starts");
        let inner = fake.clone();
        let service = tower::service_fn(move |req: Request<Body>| {
            let fake = inner.clone();
            async move { handle(fake, req).await }
        });
        let client = kube::Client::new(service, "default");
        let controller = tokio::spawn(establish_crds(fake.clone(), crd_delay));
        Self { client, controller }
    }

    /// A target with short waits, so timeouts are reached in test time.
    pub fn target(&self) -> KubeTarget {
        self.target_with(Settings {
            ready_timeout: Duration::from_millis(400),
            crd_timeout: Duration::from_secs(5),
            poll: Duration::from_millis(20),
            ..Settings::default()
        })
    }

    pub fn target_with(&self, settings: Settings) -> KubeTarget {
        KubeTarget::new(self.client.clone(), settings)
    }

    /// The API for one kind, through the stand-in (as the target sees it).
    pub fn api(&self, key: &ObjectKey) -> Api<DynamicObject> {
        let resource = served(&key.api_version, &key.kind).expect("a kind the tests know");
        match &key.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    pub async fn get(&self, key: &ObjectKey) -> Option<Value> {
        self.api(key)
            .get_opt(&key.name)
            .await
            .expect("reading the fake")
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// Plays another tool applying `patch` with server-side apply as `manager`.
    pub async fn apply_as(&self, manager: &str, key: &ObjectKey, patch: Value) {
        self.api(key)
            .patch(&key.name, &PatchParams::apply(manager), &Patch::Apply(patch))
            .await
            .unwrap_or_else(|e| panic!("{manager} applying {key}: {e}"));
    }

    /// Plays another tool taking fields over (`kubectl apply --server-side --force-conflicts`).
    pub async fn force_apply_as(&self, manager: &str, key: &ObjectKey, patch: Value) {
        self.api(key)
            .patch(&key.name, &PatchParams::apply(manager).force(), &Patch::Apply(patch))
            .await
            .unwrap_or_else(|e| panic!("{manager} applying {key}: {e}"));
    }

    /// Plays the Deployment controller: writes the rollout's status.
    pub async fn set_status(&self, key: &ObjectKey, status: Value) {
        self.api(key)
            .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(json!({ "status": status })))
            .await
            .unwrap_or_else(|e| panic!("setting the status of {key}: {e}"));
    }
}

fn crd_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    )
}

/// The API resource of a kind the tests use, from the fake's tables.
fn served(api_version: &str, kind: &str) -> Option<ApiResource> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let plural = kube_fake_client::r#gen::discovery::get_plural(group, version, kind)
        .map(str::to_string)
        .or_else(|| (kind == "ServiceMonitor").then(|| "servicemonitors".to_string()))?;
    Some(ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural))
}

async fn crds(fake: &kube::Client) -> Vec<Value> {
    let api: Api<DynamicObject> = Api::all_with(fake.clone(), &crd_resource());
    api.list(&Default::default())
        .await
        .map(|l| l.items.into_iter().map(|o| serde_json::to_value(o).unwrap()).collect())
        .unwrap_or_default()
}

fn established(crd: &Value) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"))
}

/// The API server's CRD controller: Established `delay` after a CRD appears.
async fn establish_crds(fake: kube::Client, delay: Duration) {
    let first_seen: Mutex<HashMap<String, Instant>> = Mutex::new(HashMap::new());
    let api: Api<DynamicObject> = Api::all_with(fake.clone(), &crd_resource());
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        for crd in crds(&fake).await {
            if established(&crd) {
                continue;
            }
            let name = crd["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let seen = *first_seen.lock().unwrap().entry(name.clone()).or_insert_with(Instant::now);
            if seen.elapsed() < delay {
                continue;
            }
            let status = json!({"status": {"conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}
            ]}});
            let _ = api.patch(&name, &PatchParams::default(), &Patch::Merge(status)).await;
        }
    }
}

fn reply(code: u16, body: &Value) -> Result<Response<Body>, kube::Error> {
    Ok(Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap())
}

fn not_found(message: String) -> Result<Response<Body>, kube::Error> {
    reply(
        404,
        &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": "NotFound", "code": 404}),
    )
}

fn builtin_group(group: &str) -> bool {
    kube_fake_client::r#gen::discovery::list_resources().iter().any(|(g, ..)| *g == group)
}

/// Where the stand-in keeps Namespaces: the fake cannot route
/// `/api/v1/namespaces/<name>` (it reads it as the start of a namespaced
/// path), so Namespace requests are stored as a cluster-scoped kind the
/// tests do not otherwise use, and answers are translated back.
const NAMESPACE_STORE: (&str, &str, &str) = ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles");

async fn handle(fake: kube::Client, req: Request<Body>) -> Result<Response<Body>, kube::Error> {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let ["api", "v1", "namespaces", name] = parts.as_slice() {
        return namespace_request(&fake, name, req).await;
    }
    let get = req.method() == http::Method::GET;
    match parts.as_slice() {
        ["api", version] if get => return discovery(&fake, "", version).await,
        ["apis", group, version] if get => return discovery(&fake, group, version).await,
        ["apis", group, ..] if !builtin_group(group) => {
            let served = crds(&fake).await.iter().any(|c| c["spec"]["group"] == *group && established(c));
            if !served {
                return not_found(format!("the server could not find the requested resource ({group})"));
            }
        }
        _ => {}
    }
    // Writing into a namespace needs the namespace.
    let writes = matches!(*req.method(), http::Method::POST | http::Method::PUT | http::Method::PATCH);
    if writes
        && let Some(i) = parts.iter().position(|p| *p == "namespaces")
        && let Some(ns) = parts.get(i + 1).filter(|_| parts.len() > i + 2)
    {
        let store = served(NAMESPACE_STORE.0, NAMESPACE_STORE.1).unwrap();
        let namespaces: Api<DynamicObject> = Api::all_with(fake.clone(), &store);
        if namespaces.get_opt(ns).await?.is_none() {
            return not_found(format!("namespaces \"{ns}\" not found"));
        }
    }
    fake.send(req).await
}

/// A request for one Namespace, served from the stand-in's store.
async fn namespace_request(
    fake: &kube::Client,
    name: &str,
    req: Request<Body>,
) -> Result<Response<Body>, kube::Error> {
    let (mut head, body) = req.into_parts();
    let query = head.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    head.uri = format!("/apis/{}/{}/{name}{query}", NAMESPACE_STORE.0, NAMESPACE_STORE.2).parse().unwrap();
    let bytes = body.collect_bytes().await?;
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) if v.get("kind").is_some() => {
            v["apiVersion"] = json!(NAMESPACE_STORE.0);
            v["kind"] = json!(NAMESPACE_STORE.1);
            serde_json::to_vec(&v).unwrap()
        }
        _ => bytes.to_vec(),
    };
    let answer = fake.send(Request::from_parts(head, Body::from(body))).await?;
    let (head, body) = answer.into_parts();
    let bytes = body.collect_bytes().await?;
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) if v["kind"] == NAMESPACE_STORE.1 => {
            v["apiVersion"] = json!("v1");
            v["kind"] = json!("Namespace");
            if let Some(entries) = v.pointer_mut("/metadata/managedFields").and_then(Value::as_array_mut) {
                for e in entries {
                    e["apiVersion"] = json!("v1");
                }
            }
            serde_json::to_vec(&v).unwrap()
        }
        _ => bytes.to_vec(),
    };
    Ok(Response::from_parts(head, Body::from(body)))
}

async fn discovery(fake: &kube::Client, group: &str, version: &str) -> Result<Response<Body>, kube::Error> {
    let mut resources: Vec<Value> = kube_fake_client::r#gen::discovery::list_resources()
        .iter()
        .filter(|(g, v, ..)| *g == group && *v == version)
        .map(|(g, v, kind, plural)| {
            let namespaced = kube_fake_client::r#gen::discovery::is_namespaced(g, v, kind).unwrap_or(true);
            json!({"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind,
                   "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    for crd in crds(fake).await {
        let spec = &crd["spec"];
        let serves = spec["versions"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|v| v["name"] == version && v["served"] == true));
        if spec["group"] == group && serves && established(&crd) {
            resources.push(
                json!({"name": spec["names"]["plural"], "singularName": spec["names"]["singular"],
                "namespaced": spec["scope"] == "Namespaced", "kind": spec["names"]["kind"],
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}),
            );
        }
    }
    if resources.is_empty() {
        return not_found(format!("the server could not find the requested resource ({group}/{version})"));
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    reply(
        200,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
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
        "/../../../../shared/crds/prometheus-operator/monitoring.coreos.com_servicemonitors.yaml"
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

pub fn key(object: &Value) -> ObjectKey {
    ObjectKey::of(object).unwrap()
}

pub fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects.iter().find(|o| o["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in the plan"))
}

/// The plugin's health rules, as the engine calls them.
pub fn app_health(object: &Value) -> Result<capstan_core::Health, String> {
    Ok(<App as capstan_sdk::Plugin>::health(object))
}
