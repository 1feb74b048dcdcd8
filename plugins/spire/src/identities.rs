//! The registrations: one `ClusterSPIFFEID` (`spire.spiffe.io/v1alpha1`)
//! per app of the `apps` input, which the controller manager turns into a
//! SPIRE entry for each of the app's pods, so nobody runs `spire-server
//! entry create` by hand.
//!
//! Each gives the Istio-style ID `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`,
//! from a template over the pod (`{{ .PodMeta.Namespace }}`,
//! `{{ .PodSpec.ServiceAccountName }}`). It selects the app's namespace by
//! the `kubernetes.io/metadata.name` label the API server sets on every
//! namespace (`namespaceSelector`); the CRD selects pods by labels only
//! (`podSelector`, from `pod_labels` when given), so the ServiceAccount is
//! a workload selector (`k8s:sa:<service account>`) the agent checks on
//! the calling pod: a pod of the namespace with another ServiceAccount gets
//! an entry it can never match, and so no identity from this registration.

use std::collections::BTreeMap;

use capstan_sdk::contracts::spire::AppIdentity;
use serde_json::{Value, json};

use crate::Plan;

/// The API of the controller manager's custom resources.
pub const API_VERSION: &str = "spire.spiffe.io/v1alpha1";

/// One app's registration, with every default applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The key under `apps`.
    pub app: String,
    /// Its pods' namespace.
    pub namespace: String,
    /// Their ServiceAccount.
    pub service_account: String,
    /// Labels narrowing the pods, if any.
    pub pod_labels: BTreeMap<String, String>,
}

impl Registration {
    /// The SPIFFE ID its pods are issued.
    pub fn spiffe_id(&self, trust_domain: &str) -> String {
        format!("spiffe://{trust_domain}/ns/{}/sa/{}", self.namespace, self.service_account)
    }
}

/// The apps of the inputs, defaults applied: the component's namespace,
/// the app's name as ServiceAccount.
pub fn registrations(p: &Plan) -> Vec<Registration> {
    p.inputs
        .apps
        .iter()
        .map(|(app, spec)| Registration {
            app: app.clone(),
            namespace: spec.namespace.clone().unwrap_or_else(|| p.c.namespace.clone()),
            service_account: spec.service_account.clone().unwrap_or_else(|| app.clone()),
            pod_labels: spec.pod_labels.clone(),
        })
        .collect()
}

/// The `apps` output: each app's SPIFFE ID, and the namespace and
/// ServiceAccount of the pods its registration selects, so a consumer (the
/// app plugin) runs the app's pods as that ServiceAccount without parsing
/// the ID.
pub fn outputs(p: &Plan, registrations: &[Registration]) -> BTreeMap<String, AppIdentity> {
    registrations
        .iter()
        .map(|r| {
            let identity = AppIdentity {
                spiffe_id: r.spiffe_id(p.trust_domain),
                namespace: Some(r.namespace.clone()),
                service_account: Some(r.service_account.clone()),
            };
            (r.app.clone(), identity)
        })
        .collect()
}

/// The template every registration renders its SPIFFE ID with.
pub fn spiffe_id_template(trust_domain: &str) -> String {
    format!(
        "spiffe://{trust_domain}/ns/{{{{ .PodMeta.Namespace }}}}/sa/{{{{ .PodSpec.ServiceAccountName }}}}"
    )
}

/// The ClusterSPIFFEID of every app.
pub fn objects(p: &Plan, registrations: &[Registration]) -> Vec<Value> {
    registrations
        .iter()
        .map(|r| {
            cluster_spiffe_id(
                p,
                &p.names.cluster_scoped(&r.app),
                &r.app,
                &r.namespace,
                &r.service_account,
                &r.pod_labels,
            )
        })
        .collect()
}

/// A ClusterSPIFFEID named `name` for the pods of ServiceAccount
/// `service_account` in `namespace` (with `pod_labels`, when any).
pub fn cluster_spiffe_id(
    p: &Plan,
    name: &str,
    app: &str,
    namespace: &str,
    service_account: &str,
    pod_labels: &BTreeMap<String, String>,
) -> Value {
    let meta = p.meta(name, "identity").cluster_scoped().label("capstan.dev/app", app);
    let mut spec = json!({
        "className": p.names.class,
        "spiffeIDTemplate": spiffe_id_template(p.trust_domain),
        "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": namespace } },
        "workloadSelectorTemplates": [format!("k8s:sa:{service_account}")],
    });
    if !pod_labels.is_empty() {
        spec["podSelector"] = json!({ "matchLabels": pod_labels });
    }
    json!({ "apiVersion": API_VERSION, "kind": "ClusterSPIFFEID", "metadata": meta.to_value(), "spec": spec })
}
