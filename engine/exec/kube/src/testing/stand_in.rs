//! What sits in front of kube-fake-client: the parts of an API server the
//! fake does not play, each played as the real API server plays it.
//!
//! - the discovery API (`/api/v1`, `/apis/<group>/<version>`): built-in
//!   kinds from the fake's own discovery tables, custom kinds only once a
//!   CRD for them is Established;
//! - the CRD controller: a CRD is marked Established `crd_delay` after it
//!   appears, and until then requests to its group answer 404;
//! - namespaces: the fake cannot route `/api/v1/namespaces/<name>`, so
//!   Namespaces are kept as a cluster-scoped kind the tests do not use
//!   otherwise, and writing into a namespace that does not exist answers
//!   404, as it does on a real cluster;
//! - `/version`;
//! - RBAC, as far as a test denies a request (403);
//! - an audit log of every write that came through, in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Request, Response};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::client::Body;
use serde_json::{Value, json};

use super::Write;

/// Where Namespaces are stored (see the module comment).
const NAMESPACE_STORE: (&str, &str, &str) = ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles");

/// The stand-in in front of one fake.
#[derive(Clone)]
pub(super) struct StandIn {
    pub(super) fake: kube::Client,
    pub(super) writes: Arc<Mutex<Vec<Write>>>,
    /// Requests RBAC forbids (method, path), answered 403.
    pub(super) denied: Arc<Mutex<Vec<(String, String)>>>,
}

impl StandIn {
    pub(super) async fn handle(self, req: Request<Body>) -> Result<Response<Body>, kube::Error> {
        let path = req.uri().path().to_string();
        let request = (req.method().to_string(), path.clone());
        if self.denied.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&request) {
            return reply(
                403,
                &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden",
                    "message": format!("{} {path} is forbidden for this user", request.0), "code": 403}),
            );
        }
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let get = req.method() == http::Method::GET;
        if !get {
            let write = Write { method: req.method().to_string(), path: path.clone() };
            self.writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(write);
        }
        if parts == ["version"] {
            return version();
        }
        if let ["api", "v1", "namespaces", name] = parts.as_slice() {
            return namespace_request(&self.fake, name, req).await;
        }
        match parts.as_slice() {
            ["api", version] if get => return discovery(&self.fake, "", version).await,
            ["apis", group, version] if get => return discovery(&self.fake, group, version).await,
            ["apis", group, ..] if !builtin_group(group) => {
                let served =
                    crds(&self.fake).await.iter().any(|c| c["spec"]["group"] == *group && established(c));
                if !served {
                    return not_found(format!("the server could not find the requested resource ({group})"));
                }
            }
            _ => {}
        }
        let writes = matches!(*req.method(), http::Method::POST | http::Method::PUT | http::Method::PATCH);
        if writes
            && let Some(i) = parts.iter().position(|p| *p == "namespaces")
            && let Some(ns) = parts.get(i + 1).filter(|_| parts.len() > i + 2)
        {
            let namespaces: Api<DynamicObject> = Api::all_with(self.fake.clone(), &namespace_store());
            if namespaces.get_opt(ns).await?.is_none() {
                return not_found(format!("namespaces \"{ns}\" not found"));
            }
        }
        self.fake.send(req).await
    }
}

fn namespace_store() -> ApiResource {
    let (group, version) = NAMESPACE_STORE.0.split_once('/').unwrap_or_default();
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, NAMESPACE_STORE.1),
        NAMESPACE_STORE.2,
    )
}

fn crd_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    )
}

async fn crds(fake: &kube::Client) -> Vec<Value> {
    let api: Api<DynamicObject> = Api::all_with(fake.clone(), &crd_resource());
    api.list(&Default::default())
        .await
        .map(|l| l.items.into_iter().filter_map(|o| serde_json::to_value(o).ok()).collect())
        .unwrap_or_default()
}

fn established(crd: &Value) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"))
}

/// The API server's CRD controller: Established `delay` after a CRD appears.
pub(super) async fn establish_crds(fake: kube::Client, delay: Duration) {
    let mut first_seen: HashMap<String, Instant> = HashMap::new();
    let api: Api<DynamicObject> = Api::all_with(fake.clone(), &crd_resource());
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        for crd in crds(&fake).await {
            if established(&crd) {
                continue;
            }
            let name = crd["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let seen = *first_seen.entry(name.clone()).or_insert_with(Instant::now);
            if seen.elapsed() < delay {
                continue;
            }
            let status = json!({"status": {"conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}
            ]}});
            // A failed write is tried again on the next round, as a controller does.
            let _ = api.patch(&name, &PatchParams::default(), &Patch::Merge(status)).await;
        }
    }
}

fn reply(code: u16, body: &Value) -> Result<Response<Body>, kube::Error> {
    let bytes = serde_json::to_vec(body).map_err(kube::Error::SerdeError)?;
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(bytes))
        .map_err(kube::Error::HttpError)
}

fn not_found(message: String) -> Result<Response<Body>, kube::Error> {
    reply(
        404,
        &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                "reason": "NotFound", "code": 404}),
    )
}

/// `/version`, which clients ask first.
fn version() -> Result<Response<Body>, kube::Error> {
    reply(
        200,
        &json!({"major": "1", "minor": "30", "gitVersion": "v1.30.0-kube-fake-client",
            "gitCommit": "", "gitTreeState": "clean", "buildDate": "", "goVersion": "",
            "compiler": "rustc", "platform": "linux/amd64"}),
    )
}

fn builtin_group(group: &str) -> bool {
    kube_fake_client::r#gen::discovery::list_resources().iter().any(|(g, ..)| *g == group)
}

/// A request for one Namespace, served from the stand-in's store.
async fn namespace_request(
    fake: &kube::Client,
    name: &str,
    req: Request<Body>,
) -> Result<Response<Body>, kube::Error> {
    let (mut head, body) = req.into_parts();
    let query = head.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    head.uri = format!("/apis/{}/{}/{name}{query}", NAMESPACE_STORE.0, NAMESPACE_STORE.2)
        .parse()
        .map_err(|e: http::uri::InvalidUri| kube::Error::HttpError(e.into()))?;
    let bytes = body.collect_bytes().await?;
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) if v.get("kind").is_some() => {
            v["apiVersion"] = json!(NAMESPACE_STORE.0);
            v["kind"] = json!(NAMESPACE_STORE.1);
            serde_json::to_vec(&v).map_err(kube::Error::SerdeError)?
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
            serde_json::to_vec(&v).map_err(kube::Error::SerdeError)?
        }
        _ => bytes.to_vec(),
    };
    Ok(Response::from_parts(head, Body::from(body)))
}

async fn discovery(fake: &kube::Client, group: &str, version: &str) -> Result<Response<Body>, kube::Error> {
    let verbs = json!(["create", "delete", "get", "list", "patch", "update", "watch"]);
    let mut resources: Vec<Value> = kube_fake_client::r#gen::discovery::list_resources()
        .iter()
        .filter(|(g, v, ..)| *g == group && *v == version)
        .map(|(g, v, kind, plural)| {
            let namespaced = kube_fake_client::r#gen::discovery::is_namespaced(g, v, kind).unwrap_or(true);
            json!({"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": verbs})
        })
        .collect();
    for crd in crds(fake).await {
        let spec = &crd["spec"];
        let serves = spec["versions"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|v| v["name"] == version && v["served"] == true));
        if spec["group"] == group && serves && established(&crd) {
            resources
                .push(json!({"name": spec["names"]["plural"], "singularName": spec["names"]["singular"],
                "namespaced": spec["scope"] == "Namespaced", "kind": spec["names"]["kind"], "verbs": verbs}));
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
