//! Pods roll when a Secret they read changes.
//!
//! A workload whose pods read a Secret (an environment variable, `envFrom`,
//! a volume) keeps its old pods when only the Secret changes: the pod
//! template is the same, so Kubernetes has nothing to roll, and a rotated
//! password never reaches the app. So once a component is planned, the
//! engine finds the Secrets each pod template reads in its own namespace
//! ([`secrets_read`]) and, for those this run renders, sets the template's
//! [`ANNOTATION`] to a digest of their names and data. A changed value
//! changes the template, the plan shows the workload changing, and
//! Kubernetes rolls it — for every plugin, without a plugin doing anything.
//!
//! The digest is keyed (HMAC-SHA256 under the state's [`StateKey`], as state
//! keys its secret hashes), never a plain hash: the annotation is written to
//! Git and to the cluster, and a plain SHA-256 of a short password can be
//! brute-forced from it. Only each Secret's keyed hash is kept once its
//! component is planned, never its values.
//!
//! "This run renders" means the component itself or one of its
//! dependencies, at any depth: those are planned before it, so the digest is
//! the same whatever else runs in parallel, as a plan must be. A Secret
//! made by anything else — an operator, an ExternalSecret, a component this
//! one does not depend on — cannot be known and is left out; a template that
//! reads no known Secret gets no annotation. A Job is left alone: its pod
//! template cannot be changed once created.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use capstan_core::leaks::is_secret;
use capstan_state::{StateKey, canonical_json};

/// The pod template annotation holding the keyed digest of the Secrets the
/// pods read. The engine owns it: a plugin's own value is replaced, or
/// removed when no Secret read is known.
pub const ANNOTATION: &str = "capstan.dev/secrets-digest";

/// What the keyed hash of one Secret's data starts with. The state key also
/// hashes single values for state; a prefix of its own keeps these hashes
/// from ever being the hash of some value state records.
const SECRET_DOMAIN: &[u8] = b"capstan.dev/secrets-digest/v1/secret\0";

/// What the annotation's keyed hash starts with (as [`SECRET_DOMAIN`]).
const TEMPLATE_DOMAIN: &[u8] = b"capstan.dev/secrets-digest/v1/template\0";

/// The Secrets a component renders and, through their own, those its
/// dependencies render at any depth: the keyed hash of each one's data, by
/// namespace and name. Never a value, so it can live as long as the plan.
#[derive(Debug, Default)]
pub(crate) struct RenderedSecrets {
    own: BTreeMap<String, BTreeMap<String, String>>,
    /// The dependencies', in key order (as the scheduler hands them over).
    pub(crate) dependencies: Vec<Arc<RenderedSecrets>>,
}

impl RenderedSecrets {
    /// The Secrets among `objects` (normalised: every Secret has its
    /// namespace), over those of `dependencies`.
    fn new(key: &StateKey, objects: &[Value], dependencies: Vec<Arc<RenderedSecrets>>) -> Self {
        let mut own: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for secret in objects.iter().filter(|o| is_secret(o)) {
            let field = |name| secret["metadata"][name].as_str();
            if let (Some(namespace), Some(name)) = (field("namespace"), field("name")) {
                own.entry(namespace.to_owned())
                    .or_default()
                    .insert(name.to_owned(), secret_hash(key, secret));
            }
        }
        Self { own, dependencies }
    }

    /// The keyed hashes of the Secrets of `namespace` named in `wanted` that
    /// are known, by name: this component's first, then its dependencies',
    /// depth first in order. (A Secret two components render is taken from
    /// the first; the target refuses such a pair anyway.)
    fn find<'w>(&self, namespace: &str, wanted: &'w BTreeSet<String>) -> BTreeMap<&'w str, &str> {
        let mut found = BTreeMap::new();
        // A dependency shared by several others is looked at once.
        let mut seen = HashSet::new();
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            if found.len() == wanted.len() {
                break;
            }
            if !seen.insert(std::ptr::from_ref(node)) {
                continue;
            }
            if let Some(secrets) = node.own.get(namespace) {
                for name in wanted {
                    if let Some(hash) = secrets.get(name) {
                        found.entry(name.as_str()).or_insert(hash.as_str());
                    }
                }
            }
            stack.extend(node.dependencies.iter().rev().map(Arc::as_ref));
        }
        found
    }
}

/// Annotates the workloads among one component's normalised `objects` with
/// the digest of the Secrets they read that it or `dependencies` render,
/// and returns what it renders, for its dependents.
pub(crate) fn annotate_workloads(
    key: Option<&StateKey>,
    objects: &mut [Value],
    dependencies: Vec<Arc<RenderedSecrets>>,
) -> Arc<RenderedSecrets> {
    let Some(key) = key else { return Arc::default() };
    let secrets = RenderedSecrets::new(key, objects, dependencies);
    for object in objects.iter_mut() {
        annotate(key, object, &secrets);
    }
    Arc::new(secrets)
}

/// Sets (or removes) [`ANNOTATION`] on one object's pod template, if it is
/// a workload whose template may change.
fn annotate(key: &StateKey, object: &mut Value, secrets: &RenderedSecrets) {
    let (Some(path), Some(names)) = (pod_template_path(object), secrets_read(object)) else { return };
    // A pod reads Secrets of its own namespace only.
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default().to_owned();
    let known = secrets.find(&namespace, &names);
    let digest = (!known.is_empty()).then(|| template_digest(key, &known));
    if let Some(template) = object.pointer_mut(path).and_then(Value::as_object_mut) {
        set_annotation(template, digest);
    }
}

/// Where a workload keeps the pod template its controller rolls out, for
/// the kinds whose template may change: Deployments, StatefulSets,
/// DaemonSets, and a CronJob's job template (its next Jobs). Not a Job: its
/// template is immutable, so a changed Secret would make every apply fail.
fn pod_template_path(object: &Value) -> Option<&'static str> {
    let (group, _version) = object["apiVersion"].as_str()?.split_once('/')?;
    match (group, object["kind"].as_str()?) {
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet") => Some("/spec/template"),
        ("batch", "CronJob") => Some("/spec/jobTemplate/spec/template"),
        _ => None,
    }
}

/// The names of the Secrets a workload's pods read, in the containers and
/// init containers (`env[].valueFrom.secretKeyRef`, `envFrom[].secretRef`)
/// and the volumes (`secret.secretName`, `projected.sources[].secret`), or
/// `None` for an object that is not a workload [`ANNOTATION`] is set on
/// (a Job among them). A Secret of another namespace cannot be named here:
/// a pod reads only its own namespace's.
pub fn secrets_read(object: &Value) -> Option<BTreeSet<String>> {
    let spec = &object.pointer(pod_template_path(object)?)?["spec"];
    let mut names = BTreeSet::new();
    let mut add = |name: &Value| {
        if let Some(name) = name.as_str().filter(|n| !n.is_empty()) {
            names.insert(name.to_owned());
        }
    };
    for container in items(spec, "containers").chain(items(spec, "initContainers")) {
        for env in items(container, "env") {
            add(&env["valueFrom"]["secretKeyRef"]["name"]);
        }
        for source in items(container, "envFrom") {
            add(&source["secretRef"]["name"]);
        }
    }
    for volume in items(spec, "volumes") {
        add(&volume["secret"]["secretName"]);
        for source in items(&volume["projected"], "sources") {
            add(&source["secret"]["name"]);
        }
    }
    Some(names)
}

/// The elements of the array at `value.field`, none if it is not an array.
fn items<'v>(value: &'v Value, field: &str) -> impl Iterator<Item = &'v Value> {
    value.get(field).and_then(Value::as_array).into_iter().flatten()
}

/// The keyed hash of one Secret's data as the API server will hold it.
fn secret_hash(key: &StateKey, secret: &Value) -> String {
    let mut message = SECRET_DOMAIN.to_vec();
    for (name, value) in secret_data(secret) {
        push_field(&mut message, name.as_bytes());
        push_field(&mut message, &value);
    }
    key.hash(&message)
}

/// The annotation: the keyed hash of the known Secrets' names and hashes,
/// in name order.
fn template_digest(key: &StateKey, known: &BTreeMap<&str, &str>) -> String {
    let mut message = TEMPLATE_DOMAIN.to_vec();
    for (name, hash) in known {
        push_field(&mut message, name.as_bytes());
        push_field(&mut message, hash.as_bytes());
    }
    key.hash(&message)
}

/// Appends `bytes` after its length, so no two different lists of fields
/// make the same message.
fn push_field(message: &mut Vec<u8>, bytes: &[u8]) {
    message.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    message.extend_from_slice(bytes);
}

/// A Secret's values by key, as the API server stores them: `data`
/// decoded, then `stringData` over it (the server merges `stringData` into
/// `data`, and it wins). So a value written either way hashes the same, and
/// moving it from one field to the other rolls nothing.
fn secret_data(secret: &Value) -> BTreeMap<&str, Cow<'_, [u8]>> {
    let mut values = BTreeMap::new();
    for (name, value) in secret.get("data").and_then(Value::as_object).into_iter().flatten() {
        let decoded = value.as_str().and_then(|text| BASE64.decode(text).ok());
        // Not base64 (the API server would refuse it): its text still
        // changes when it does.
        values.insert(name.as_str(), decoded.map_or_else(|| text(value), Cow::Owned));
    }
    for (name, value) in secret.get("stringData").and_then(Value::as_object).into_iter().flatten() {
        values.insert(name.as_str(), text(value));
    }
    values
}

/// A value's text: a string as it is, anything else (not valid in a
/// Secret, but deterministic) as canonical JSON.
fn text(value: &Value) -> Cow<'_, [u8]> {
    match value {
        Value::String(s) => Cow::Borrowed(s.as_bytes()),
        other => Cow::Owned(canonical_json(other).into_bytes()),
    }
}

/// Sets [`ANNOTATION`] in a pod template's metadata to `digest`, or removes
/// it when there is none. A template whose metadata or annotations are not
/// objects is left as it is: the API server refuses it before any pod runs.
fn set_annotation(template: &mut Map<String, Value>, digest: Option<String>) {
    let Some(digest) = digest else {
        if let Some(annotations) =
            template.get_mut("metadata").and_then(|m| m.get_mut("annotations")).and_then(Value::as_object_mut)
        {
            annotations.shift_remove(ANNOTATION);
        }
        return;
    };
    let metadata = template.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let annotations = metadata
        .as_object_mut()
        .map(|m| m.entry("annotations").or_insert_with(|| Value::Object(Map::new())))
        .and_then(Value::as_object_mut);
    if let Some(annotations) = annotations {
        annotations.insert(ANNOTATION.to_owned(), Value::String(digest));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key() -> StateKey {
        StateKey::from_bytes([7; 32])
    }

    fn deployment(pod_spec: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {"template": {"metadata": {"labels": {"app": "api"}}, "spec": pod_spec}},
        })
    }

    fn secret(namespace: &str, name: &str, string_data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": name, "namespace": namespace}, "stringData": string_data})
    }

    fn names(list: &[&str]) -> Option<BTreeSet<String>> {
        Some(list.iter().map(|n| n.to_string()).collect())
    }

    #[test]
    fn every_place_a_pod_reads_a_secret_from_is_found() {
        let container = |n: &str| {
            json!({
                "name": n, "image": "x",
                "env": [
                    {"name": "PLAIN", "value": "1"},
                    {"name": "FROM_MAP", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k"}}},
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": format!("{n}-env"), "key": "p"}}},
                ],
                "envFrom": [{"configMapRef": {"name": "more"}}, {"secretRef": {"name": format!("{n}-all")}}],
            })
        };
        let d = deployment(json!({
            "containers": [container("main")],
            "initContainers": [container("init")],
            "volumes": [
                {"name": "tls", "secret": {"secretName": "tls"}},
                {"name": "conf", "configMap": {"name": "conf"}},
                {"name": "mixed", "projected": {"sources": [
                    {"configMap": {"name": "c"}}, {"secret": {"name": "projected"}},
                ]}},
            ],
        }));
        assert_eq!(
            secrets_read(&d),
            names(&["init-all", "init-env", "main-all", "main-env", "projected", "tls"])
        );
    }

    #[test]
    fn only_workloads_whose_template_may_change_are_read() {
        let pod = json!({"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}]});
        for (api, kind) in [("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet")] {
            let mut o = deployment(pod.clone());
            o["apiVersion"] = json!(api);
            o["kind"] = json!(kind);
            assert_eq!(secrets_read(&o), names(&["s"]), "{kind}");
        }
        let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
                          "spec": {"jobTemplate": {"spec": {"template": {"spec": pod.clone()}}}}});
        assert_eq!(secrets_read(&cron), names(&["s"]));
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                         "spec": {"template": {"spec": pod.clone()}}});
        assert_eq!(secrets_read(&job), None, "a Job's template is immutable");
        let mut other_group = deployment(pod);
        other_group["apiVersion"] = json!("example.com/v1");
        assert_eq!(secrets_read(&other_group), None);
        assert_eq!(secrets_read(&deployment(json!({"containers": [{"name": "c"}]}))), names(&[]));
    }

    fn reads(name: &str) -> Value {
        deployment(json!({"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": name}}]}]}))
    }

    fn annotation(object: &Value) -> Option<&str> {
        object["spec"]["template"]["metadata"]["annotations"][ANNOTATION].as_str()
    }

    fn annotated(objects: &[Value], dependencies: Vec<Arc<RenderedSecrets>>) -> Vec<Value> {
        let mut objects = objects.to_vec();
        annotate_workloads(Some(&key()), &mut objects, dependencies);
        objects
    }

    #[test]
    fn data_and_string_data_holding_the_same_value_give_the_same_digest() {
        let plain = secret("shop", "db", json!({"password": "hunter2", "user": "app"}));
        let mut encoded = secret("shop", "db", json!({"user": "app"}));
        encoded["data"] = json!({"password": BASE64.encode("hunter2"), "user": BASE64.encode("other")});
        let a = annotated(&[plain, reads("db")], vec![]);
        let b = annotated(&[encoded, reads("db")], vec![]);
        assert!(annotation(&a[1]).is_some_and(|d| d.starts_with("hmac-sha256:")), "{a:?}");
        assert_eq!(annotation(&a[1]), annotation(&b[1]), "stringData wins over data, as on the server");
    }

    #[test]
    fn only_known_secrets_of_the_workloads_namespace_count() {
        let elsewhere = secret("data", "db", json!({"password": "hunter2"}));
        let out = annotated(&[elsewhere, reads("db")], vec![]);
        assert_eq!(annotation(&out[1]), None, "a Secret of another namespace is not the pod's");

        let mut claimed = reads("external");
        claimed["spec"]["template"]["metadata"]["annotations"] = json!({ANNOTATION: "forged", "keep": "me"});
        let out = annotated(&[claimed], vec![]);
        assert_eq!(annotation(&out[0]), None, "no Secret known: the engine's annotation is not there");
        assert_eq!(out[0]["spec"]["template"]["metadata"]["annotations"]["keep"], "me");

        // An unknown Secret beside a known one leaves the digest as the known one makes it.
        let db = secret("shop", "db", json!({"password": "hunter2"}));
        let mut both = reads("db");
        both["spec"]["template"]["spec"]["containers"][0]["envFrom"]
            .as_array_mut()
            .unwrap()
            .push(json!({"secretRef": {"name": "external"}}));
        let one = annotated(&[db.clone(), reads("db")], vec![]);
        let two = annotated(&[db, both], vec![]);
        assert_eq!(annotation(&one[1]), annotation(&two[1]));
    }

    #[test]
    fn a_dependencys_secrets_are_found_at_any_depth_and_the_nearest_wins() {
        let deepest =
            annotate_workloads(Some(&key()), &mut [secret("shop", "db", json!({"password": "p1"}))], vec![]);
        let middle = annotate_workloads(Some(&key()), &mut [], vec![Arc::clone(&deepest)]);
        let through_two = annotated(&[reads("db")], vec![Arc::clone(&middle), deepest]);
        let direct = annotated(&[secret("shop", "db", json!({"password": "p1"})), reads("db")], vec![]);
        assert!(annotation(&through_two[0]).is_some());
        assert_eq!(annotation(&through_two[0]), annotation(&direct[1]));

        let own = annotated(&[secret("shop", "db", json!({"password": "p2"})), reads("db")], vec![middle]);
        assert_ne!(annotation(&own[1]), annotation(&direct[1]), "the component's own Secret comes first");
    }

    #[test]
    fn the_digest_is_keyed_and_changes_with_any_value_or_name() {
        let digest = |s: Value, k: &StateKey| {
            let name = s["metadata"]["name"].as_str().unwrap().to_owned();
            let mut objects = [s, reads(&name)];
            annotate_workloads(Some(k), &mut objects, vec![]);
            annotation(&objects[1]).map(str::to_owned)
        };
        let base = digest(secret("shop", "db", json!({"password": "hunter2"})), &key());
        assert_eq!(base, digest(secret("shop", "db", json!({"password": "hunter2"})), &key()));
        for other in [
            digest(secret("shop", "db", json!({"password": "hunter3"})), &key()),
            digest(secret("shop", "db", json!({"passwd": "hunter2"})), &key()),
            digest(secret("shop", "db2", json!({"password": "hunter2"})), &key()),
            digest(secret("shop", "db", json!({"password": "hunter2"})), &StateKey::from_bytes([8; 32])),
        ] {
            assert_ne!(base, other);
        }
    }
}
