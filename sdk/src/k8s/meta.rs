//! Object metadata with Capstan's standard labels.

use std::collections::BTreeMap;

use capstan_core::ComponentId;
use serde_json::{Map, Value};

/// The value of `app.kubernetes.io/managed-by` on everything Capstan plans.
pub const MANAGED_BY: &str = "capstan";

/// The `metadata` of one object: name, namespace, labels and annotations.
///
/// Labels: `app.kubernetes.io/name` and `instance` (the component's name),
/// `app.kubernetes.io/component` (the part: `server`, `database`, …),
/// `app.kubernetes.io/managed-by: capstan` and `capstan.dev/environment`.
/// The selector is name + instance + component: stable for the object's
/// life, since a Deployment's selector cannot change once created.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    name: String,
    namespace: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

impl Meta {
    /// Metadata for object `name` of `component`, in its namespace, with the
    /// standard labels; `part` is the `app.kubernetes.io/component` label.
    pub fn new(component: &ComponentId, name: impl Into<String>, part: &str) -> Self {
        let labels = BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), component.name.clone()),
            ("app.kubernetes.io/instance".to_owned(), component.name.clone()),
            ("app.kubernetes.io/component".to_owned(), part.to_owned()),
            ("app.kubernetes.io/managed-by".to_owned(), MANAGED_BY.to_owned()),
            ("capstan.dev/environment".to_owned(), component.environment.clone()),
        ]);
        Self {
            name: name.into(),
            namespace: Some(component.namespace.clone()),
            labels,
            annotations: BTreeMap::new(),
        }
    }

    /// For cluster-scoped objects (ClusterIssuer, ClusterRole, …).
    #[must_use]
    pub fn cluster_scoped(mut self) -> Self {
        self.namespace = None;
        self
    }

    /// Adds a label, replacing one with the same key.
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds an annotation, replacing one with the same key.
    #[must_use]
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// Adds several annotations, replacing any with the same keys.
    #[must_use]
    pub fn annotations<K: Into<String>, V: Into<String>>(
        mut self,
        annotations: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.annotations.extend(annotations.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The same labels for another object of the component (its Service,
    /// its HPA), with another name and no annotations.
    #[must_use]
    pub fn renamed(&self, name: impl Into<String>) -> Self {
        Self { name: name.into(), annotations: BTreeMap::new(), ..self.clone() }
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object's namespace; `None` when cluster-scoped.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// All labels, the standard ones included.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The labels that select this component part's pods.
    pub fn selector(&self) -> BTreeMap<String, String> {
        self.selector_labels().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The pods this metadata selects, on `ports`: what a client of them
    /// must be allowed to reach (an outputs contract's `network`).
    pub fn network_peer(&self, ports: &[u16]) -> crate::contracts::NetworkPeer {
        crate::contracts::NetworkPeer {
            namespace: self.namespace.clone(),
            pod_labels: self.selector(),
            ports: ports.to_vec(),
        }
    }

    /// [`Meta::selector`] as the JSON of a `matchLabels` or a Service's `selector`.
    pub fn selector_value(&self) -> Value {
        string_map(self.selector_labels())
    }

    fn selector_labels(&self) -> impl Iterator<Item = (&String, &String)> {
        // In key order, as a `BTreeMap` of them would be.
        ["app.kubernetes.io/component", "app.kubernetes.io/instance", "app.kubernetes.io/name"]
            .into_iter()
            .filter_map(|k| self.labels.get_key_value(k))
    }

    /// The whole `metadata` JSON: name, namespace (unless cluster-scoped),
    /// labels and annotations (when any).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(self.name.clone()));
        if let Some(ns) = &self.namespace {
            m.insert("namespace".into(), Value::String(ns.clone()));
        }
        self.insert_labels_and_annotations(&mut m);
        Value::Object(m)
    }

    /// The `metadata` of a pod template: labels and annotations only (a
    /// template's pods are named and placed by their controller).
    pub fn template_value(&self) -> Value {
        let mut m = Map::new();
        self.insert_labels_and_annotations(&mut m);
        Value::Object(m)
    }

    fn insert_labels_and_annotations(&self, m: &mut Map<String, Value>) {
        m.insert("labels".into(), string_map(&self.labels));
        if !self.annotations.is_empty() {
            m.insert("annotations".into(), string_map(&self.annotations));
        }
    }
}

/// Built directly rather than through `json!`, which would serialise the
/// map: metadata is made for every object of every plan.
pub(super) fn string_map<'a>(entries: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}
