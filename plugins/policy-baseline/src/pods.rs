//! Where pods are: the pod templates of the workload kinds, and their
//! containers. Custom resources that template pods their own way (the
//! operators') are the rules' business, each where it applies.

use serde_json::Value;

use crate::object;

/// A kind whose objects run pods from a template.
struct Workload {
    group: &'static str,
    kind: &'static str,
    /// The JSON pointer of the pod spec.
    spec: &'static str,
    /// The JSON pointer of the pods' labels.
    labels: &'static str,
    /// Runs until stopped (a Job or CronJob runs to completion; a bare
    /// ReplicaSet is left out, as its Deployment is what is checked).
    long_running: bool,
}

/// Every workload kind and where its pod template is.
const WORKLOADS: &[Workload] = &[
    Workload { group: "", kind: "Pod", spec: "/spec", labels: "/metadata/labels", long_running: true },
    Workload {
        group: "apps",
        kind: "Deployment",
        spec: "/spec/template/spec",
        labels: "/spec/template/metadata/labels",
        long_running: true,
    },
    Workload {
        group: "apps",
        kind: "StatefulSet",
        spec: "/spec/template/spec",
        labels: "/spec/template/metadata/labels",
        long_running: true,
    },
    Workload {
        group: "apps",
        kind: "DaemonSet",
        spec: "/spec/template/spec",
        labels: "/spec/template/metadata/labels",
        long_running: true,
    },
    Workload {
        group: "apps",
        kind: "ReplicaSet",
        spec: "/spec/template/spec",
        labels: "/spec/template/metadata/labels",
        long_running: false,
    },
    Workload {
        group: "batch",
        kind: "Job",
        spec: "/spec/template/spec",
        labels: "/spec/template/metadata/labels",
        long_running: false,
    },
    Workload {
        group: "batch",
        kind: "CronJob",
        spec: "/spec/jobTemplate/spec/template/spec",
        labels: "/spec/jobTemplate/spec/template/metadata/labels",
        long_running: false,
    },
];

/// The pod template of one object.
pub(crate) struct PodTemplate<'a> {
    /// The object's index in the request.
    pub object: usize,
    /// The JSON pointer of the pod spec in the object.
    pub spec_path: &'static str,
    /// The pod spec (`Null` when the object has none).
    pub spec: &'a Value,
    /// Whether the pods run until stopped (probes matter).
    pub long_running: bool,
}

impl<'a> PodTemplate<'a> {
    /// The pod's `securityContext` field `field`, if set.
    pub fn security(&self, field: &str) -> Option<&'a Value> {
        self.spec.get("securityContext")?.get(field).filter(|v| !v.is_null())
    }

    /// Its containers, then its init containers.
    pub fn containers(&self) -> Vec<Container<'a>> {
        containers_at(self.spec, self.spec_path)
    }
}

/// The pod template of every workload among `objects`, in order.
pub(crate) fn templates(objects: &[Value]) -> Vec<PodTemplate<'_>> {
    objects
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            let w = workload(o)?;
            Some(PodTemplate {
                object: i,
                spec_path: w.spec,
                spec: o.pointer(w.spec).unwrap_or(&Value::Null),
                long_running: w.long_running,
            })
        })
        .collect()
}

fn workload(object: &Value) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| object::is(object, w.group, w.kind))
}

/// The labels of the pods of `object`: a workload's template labels, or
/// `/spec/template/metadata/labels` of another scalable kind.
pub(crate) fn pod_labels(object: &Value) -> Option<&serde_json::Map<String, Value>> {
    let at = workload(object).map_or("/spec/template/metadata/labels", |w| w.labels);
    object.pointer(at)?.as_object()
}

/// One container of a pod template.
pub(crate) struct Container<'a> {
    /// `container "api"`, `init container "migrate"`: how messages name it.
    pub label: String,
    /// Its JSON pointer, such as `/spec/template/spec/containers/0`.
    pub path: String,
    /// The container.
    pub value: &'a Value,
    /// An init container.
    pub init: bool,
}

impl<'a> Container<'a> {
    /// Its `securityContext` field `field`, if set.
    pub fn security(&self, field: &str) -> Option<&'a Value> {
        self.value.get("securityContext")?.get(field).filter(|v| !v.is_null())
    }

    /// The JSON pointer of its `securityContext` field `field`.
    pub fn security_path(&self, field: &str) -> String {
        format!("{}/securityContext/{field}", self.path)
    }
}

/// The containers and then the init containers of the pod spec `spec`,
/// which sits at `spec_path` in its object.
pub(crate) fn containers_at<'a>(spec: &'a Value, spec_path: &str) -> Vec<Container<'a>> {
    let mut all = Vec::new();
    for (field, init) in [("containers", false), ("initContainers", true)] {
        let Some(list) = spec.get(field).and_then(Value::as_array) else { continue };
        for (i, value) in list.iter().enumerate() {
            let name =
                value.get("name").and_then(Value::as_str).map_or_else(|| format!("#{i}"), str::to_owned);
            let what = if init { "init container" } else { "container" };
            all.push(Container {
                label: format!("{what} \"{name}\""),
                path: format!("{spec_path}/{field}/{i}"),
                value,
                init,
            });
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_workload_kind_has_its_template_found() {
        let pod = json!({"containers": [{"name": "a"}], "initContainers": [{"name": "i"}]});
        let objects = vec![
            json!({"apiVersion": "v1", "kind": "Pod", "spec": pod}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": pod}}}),
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": pod}}}}}),
            json!({"apiVersion": "v1", "kind": "Service", "spec": {}}),
            json!({"apiVersion": "example.com/v1", "kind": "Deployment", "spec": {"template": {"spec": pod}}}),
        ];
        let templates = templates(&objects);
        let found: Vec<(usize, &str, bool)> =
            templates.iter().map(|t| (t.object, t.spec_path, t.long_running)).collect();
        assert_eq!(
            found,
            vec![
                (0, "/spec", true),
                (1, "/spec/template/spec", true),
                (2, "/spec/jobTemplate/spec/template/spec", false)
            ]
        );
        let containers = templates[2].containers();
        let paths: Vec<(&str, &str, bool)> =
            containers.iter().map(|c| (c.label.as_str(), c.path.as_str(), c.init)).collect();
        assert_eq!(
            paths,
            vec![
                ("container \"a\"", "/spec/jobTemplate/spec/template/spec/containers/0", false),
                ("init container \"i\"", "/spec/jobTemplate/spec/template/spec/initContainers/0", true),
            ]
        );
    }
}
