//! Test support (feature `fake-cluster`): a Kubernetes API server for tests,
//! since no kube-apiserver can run on the build machines.
//!
//! The cluster is kube-fake-client's in-memory API server (server-side
//! apply with `managedFields`, field managers and conflicts) behind a
//! stand-in for what the fake does not do (discovery, the CRD controller,
//! namespace routing and existence checks; see `stand_in`). Tests reach it
//! in-process as a `kube::Client` ([`FakeCluster::client`]) or, for the
//! `capstan` binary, over plain HTTP on a loopback port
//! ([`FakeCluster::serve`]). Controllers that write status do not run
//! unless a test starts one ([`FakeCluster::run_deployment_controller`]).
//!
//! Everything here panics on failure: it is test support, and a panic is
//! the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test support fails loudly")]

mod http_server;
mod stand_in;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Request;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::client::Body;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::ObjectRef;
use stand_in::StandIn;

/// One write request the cluster received, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// `PATCH`, `DELETE`, `POST`, `PUT`.
    pub method: String,
    /// The request path, such as `/apis/apps/v1/namespaces/web/deployments/api`.
    pub path: String,
}

impl std::fmt::Display for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// A running fake API server; its background tasks stop when it is dropped.
pub struct FakeCluster {
    /// Through the stand-in: what the target talks to, and what tests use
    /// to play other tools.
    pub client: kube::Client,
    /// The fake itself, for controllers (their writes are not logged).
    fake: kube::Client,
    writes: Arc<Mutex<Vec<Write>>>,
    denied: Arc<Mutex<Vec<(String, String)>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        for task in self.tasks.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..) {
            task.abort();
        }
    }
}

impl FakeCluster {
    /// A cluster whose CRDs become Established 150 ms after they appear.
    pub async fn start() -> Self {
        Self::start_with(|b| b, Duration::from_millis(150)).await
    }

    /// A cluster with `configure` applied to the fake's builder (to
    /// register custom resource types) and CRDs Established `crd_delay`
    /// after they appear.
    pub async fn start_with(
        configure: impl FnOnce(kube_fake_client::ClientBuilder) -> kube_fake_client::ClientBuilder,
        crd_delay: Duration,
    ) -> Self {
        let builder = kube_fake_client::ClientBuilder::new()
            // As on a real server, status is written through /status and
            // does not bump the Deployment's generation.
            .with_status_subresource::<k8s_openapi::api::apps::v1::Deployment>()
            .with_return_managed_fields();
        let fake = configure(builder).build().await.expect("the fake API server starts");
        let writes = Arc::new(Mutex::new(Vec::new()));
        let denied = Arc::new(Mutex::new(Vec::new()));
        let stand_in =
            StandIn { fake: fake.clone(), writes: Arc::clone(&writes), denied: Arc::clone(&denied) };
        let service = tower::service_fn(move |req: Request<Body>| stand_in.clone().handle(req));
        let client = kube::Client::new(service, "default");
        let controller = tokio::spawn(stand_in::establish_crds(fake.clone(), crd_delay));
        Self { client, fake, writes, denied, tasks: Mutex::new(vec![controller]) }
    }

    /// Serves the cluster over plain HTTP on a free loopback port, for as
    /// long as the cluster lives; returns its URL (`http://127.0.0.1:<port>`)
    /// for a kubeconfig's `server`.
    pub async fn serve(&self) -> String {
        let (url, task) = http_server::serve(self.client.clone()).await;
        self.tasks.lock().unwrap().push(task);
        url
    }

    /// From now on answers `method path` with 403 Forbidden, as RBAC does
    /// for a user not allowed that request.
    pub fn deny(&self, method: &str, path: &str) {
        self.denied.lock().unwrap().push((method.to_string(), path.to_string()));
    }

    /// Every write that came through the stand-in so far, in order.
    pub fn writes(&self) -> Vec<Write> {
        self.writes.lock().unwrap().clone()
    }

    /// Plays the Deployment controller: every Deployment not named (as
    /// `namespace/name`) in `stuck` gets the status of a finished rollout
    /// of its replicas; the stuck ones never progress, like a rollout whose
    /// image cannot be pulled. Call it inside the runtime: it spawns a task.
    pub fn run_deployment_controller(&self, stuck: &[&str]) {
        let stuck: BTreeSet<String> = stuck.iter().map(|s| (*s).to_string()).collect();
        let fake = self.fake.clone();
        let task = tokio::spawn(async move {
            let resource = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let all: Api<DynamicObject> = Api::all_with(fake.clone(), &resource);
                let Ok(list) = all.list(&Default::default()).await else { continue };
                for d in list.items {
                    let d = serde_json::to_value(d).unwrap();
                    let (ns, name) = (d["metadata"]["namespace"].as_str(), d["metadata"]["name"].as_str());
                    let (Some(ns), Some(name)) = (ns, name) else { continue };
                    if stuck.contains(&format!("{ns}/{name}")) {
                        continue;
                    }
                    let generation = d["metadata"]["generation"].as_i64().unwrap_or(1);
                    let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
                    let status = &d["status"];
                    if status["observedGeneration"].as_i64() == Some(generation)
                        && status["updatedReplicas"].as_i64() == Some(replicas)
                    {
                        continue;
                    }
                    let rolled_out = json!({"status": {"observedGeneration": generation, "replicas": replicas,
                        "updatedReplicas": replicas, "availableReplicas": replicas, "readyReplicas": replicas}});
                    let api: Api<DynamicObject> = Api::namespaced_with(fake.clone(), ns, &resource);
                    // A failed write is tried again on the next round, as a controller does.
                    let _ = api.patch_status(name, &PatchParams::default(), &Patch::Merge(rolled_out)).await;
                }
            }
        });
        self.tasks.lock().unwrap().push(task);
    }

    /// The API for one kind, through the stand-in (as the target sees it),
    /// found by discovery; `None` when the cluster does not serve the kind.
    async fn served_api(&self, key: &ObjectRef) -> Option<Api<DynamicObject>> {
        let (group, version) = key.group_version();
        let gvk = GroupVersionKind::gvk(group, version, &key.kind);
        let (resource, caps) = match kube::discovery::pinned_kind(&self.client, &gvk).await {
            Ok(found) => found,
            Err(kube::Error::Api(status)) if status.is_not_found() => return None,
            Err(e) => panic!("discovering {}: {e}", key.kind),
        };
        Some(match (&key.namespace, caps.scope) {
            (Some(ns), kube::discovery::Scope::Namespaced) => {
                Api::namespaced_with(self.client.clone(), ns, &resource)
            }
            _ => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// The API for one kind the cluster serves.
    pub async fn api(&self, key: &ObjectRef) -> Api<DynamicObject> {
        self.served_api(key).await.unwrap_or_else(|| panic!("the cluster does not serve {}", key.kind))
    }

    /// The live object; `None` when it does not exist (or its kind is not served).
    pub async fn get(&self, key: &ObjectRef) -> Option<Value> {
        self.served_api(key)
            .await?
            .get_opt(&key.name)
            .await
            .unwrap_or_else(|e| panic!("reading {key}: {e}"))
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// The field managers of the live object's `managedFields`, in order.
    pub async fn managers(&self, key: &ObjectRef) -> Vec<String> {
        let live = self.get(key).await.unwrap_or_else(|| panic!("{key} exists"));
        live.pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|entries| entries.iter().filter_map(|e| e["manager"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    /// Plays another tool applying `patch` with server-side apply as `manager`.
    pub async fn apply_as(&self, manager: &str, key: &ObjectRef, patch: Value) {
        self.api(key)
            .await
            .patch(&key.name, &PatchParams::apply(manager), &Patch::Apply(patch))
            .await
            .unwrap_or_else(|e| panic!("{manager} applying {key}: {e}"));
    }

    /// Plays another tool taking fields over (`kubectl apply --server-side --force-conflicts`).
    pub async fn force_apply_as(&self, manager: &str, key: &ObjectRef, patch: Value) {
        self.api(key)
            .await
            .patch(&key.name, &PatchParams::apply(manager).force(), &Patch::Apply(patch))
            .await
            .unwrap_or_else(|e| panic!("{manager} applying {key}: {e}"));
    }

    /// Plays a controller writing an object's status.
    pub async fn set_status(&self, key: &ObjectRef, status: Value) {
        self.api(key)
            .await
            .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(json!({ "status": status })))
            .await
            .unwrap_or_else(|e| panic!("setting the status of {key}: {e}"));
    }
}
