//! Services, ingresses and Prometheus scraping.

use serde_json::{Map, Value, json};

use super::{Meta, manifest, match_labels};

/// A ClusterIP Service over `meta`'s pods; each port targets the container
/// port of the same name.
pub fn service(meta: &Meta, ports: &[(&str, u16)]) -> Value {
    let ports: Vec<Value> = ports
        .iter()
        .map(|(name, port)| json!({ "name": name, "port": port, "targetPort": name, "protocol": "TCP" }))
        .collect();
    let mut spec = Map::with_capacity(3);
    spec.insert("type".into(), json!("ClusterIP"));
    spec.insert("selector".into(), meta.selector_value());
    spec.insert("ports".into(), Value::Array(ports));
    manifest("v1", "Service", meta, [("spec", Value::Object(spec))])
}

/// An Ingress (networking.k8s.io/v1).
#[derive(Clone, Debug)]
#[must_use]
pub struct Ingress {
    meta: Meta,
    class: Option<String>,
    rules: Vec<Value>,
    tls: Vec<Value>,
}

impl Ingress {
    /// An Ingress with `meta`'s name and labels and no rules yet.
    pub fn new(meta: Meta) -> Self {
        Self { meta, class: None, rules: Vec::new(), tls: Vec::new() }
    }

    /// The `ingressClassName`, which picks the controller (and the WAF).
    pub fn class(mut self, class: impl Into<String>) -> Self {
        self.class = Some(class.into());
        self
    }

    /// Adds an annotation (a controller or WAF setting), replacing one with the same key.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.meta = self.meta.annotation(key, value);
        self
    }

    /// Routes `host` + `path` (prefix match) to a Service port by name.
    pub fn rule(mut self, host: &str, path: &str, service: &str, port: &str) -> Self {
        self.rules.push(json!({
            "host": host,
            "http": { "paths": [{
                "path": path, "pathType": "Prefix",
                "backend": { "service": { "name": service, "port": { "name": port } } },
            }] },
        }));
        self
    }

    /// Serves `hosts` with the certificate in Secret `secret`.
    pub fn tls(mut self, hosts: &[&str], secret: &str) -> Self {
        self.tls.push(json!({ "hosts": hosts, "secretName": secret }));
        self
    }

    /// The Ingress manifest as JSON.
    pub fn to_value(&self) -> Value {
        let mut spec = Map::with_capacity(3);
        spec.insert("rules".into(), Value::Array(self.rules.clone()));
        if let Some(class) = &self.class {
            spec.insert("ingressClassName".into(), Value::String(class.clone()));
        }
        if !self.tls.is_empty() {
            spec.insert("tls".into(), Value::Array(self.tls.clone()));
        }
        manifest("networking.k8s.io/v1", "Ingress", &self.meta, [("spec", Value::Object(spec))])
    }
}

/// A Prometheus-operator ServiceMonitor (monitoring.coreos.com/v1) scraping
/// `path` on the named port of the Services `meta` selects.
pub fn service_monitor(meta: &Meta, port: &str, path: &str, interval: &str) -> Value {
    let mut spec = Map::with_capacity(2);
    spec.insert("selector".into(), match_labels(meta));
    spec.insert("endpoints".into(), json!([{ "port": port, "path": path, "interval": interval }]));
    manifest("monitoring.coreos.com/v1", "ServiceMonitor", meta, [("spec", Value::Object(spec))])
}
