//! `capstan/waf-ingress-nginx`: the `waf` component type on an
//! ingress-nginx controller, with ModSecurity, the OWASP Core Rule Set and
//! mutual TLS.
//!
//! What it renders, honestly: the controller's ConfigMap (ModSecurity and
//! the CRS switched on globally, the engine mode, paranoia level, anomaly
//! thresholds and rule exclusions) and, unless told not to, the
//! IngressClass. Most of the WAF's effect is in its outputs: the
//! `ingress_class` and the `annotations` every app ingress must carry,
//! including the client-certificate verification against the CA bundle from
//! the cert-manager dependency when mTLS is on (ingress-nginx verifies
//! client certificates per ingress, not globally), and `ingress_from`, the
//! controller's pods (`controller_namespace`, `controller_pod_labels`),
//! which the apps' NetworkPolicies let in on their ports.
//!
//! Request limits ride along: the largest body (`proxy-body-size` in the
//! ConfigMap and on each ingress, ModSecurity's `SecRequestBodyLimit` to
//! match) and per-client-IP request and connection limits (`limit-rps`,
//! `limit-burst-multiplier`, `limit-connections`), answered with 429 rather
//! than nginx's 503 so clients back off instead of failing over. Mutual TLS
//! can also pin the client certificate's subject (`auth-tls-match-cn`) and
//! insist on revocation checks: ingress-nginx has no CRL annotation, it
//! reads `ca.crl` from the same Secret as `ca.crt`, so `mtls.require_crl`
//! makes the plan point at an operator-kept Secret (`mtls.ca_secret`) and
//! refuses the cert-manager CA bundle, which carries no CRL. Whether the
//! key is really there is not something a plan can see (the plugin only
//! names the Secret).
//!
//! It does not install the controller (Deployment, RBAC, admission webhook):
//! use the upstream chart or manifests, and leave the keys this plugin sets
//! out of the chart's `controller.config`, since both would own them.

pub mod inputs;
pub mod modsecurity;

use std::collections::BTreeMap;

use capstan_sdk::contracts::{self, NetworkPeer, SecretRef, cert_manager, waf};
use capstan_sdk::prelude::*;
use serde_json::json;

use crate::inputs::Inputs;

/// The key ingress-nginx reads the CA bundle from, in the `auth-tls-secret`.
pub const CA_KEY: &str = "ca.crt";

const ANNOTATION_PREFIX: &str = "nginx.ingress.kubernetes.io/";

/// The plugin.
pub struct IngressNginxWaf;

impl Plugin for IngressNginxWaf {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/waf-ingress-nginx", env!("CARGO_PKG_VERSION"))
            .component_type(<waf::Outputs as Contract>::COMPONENT_TYPE)
            .backend("ingress-nginx")
            .description(
                "Turns on ModSecurity with the OWASP Core Rule Set in an installed ingress-nginx \
                 controller (mode, paranoia level, anomaly thresholds, rule exclusions) and tells \
                 app ingresses which class and annotations to use, including mutual TLS against \
                 the CA bundle of a cert-manager dependency.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(inputs::DEFAULTS_YAML)
            .build()
    }

    fn validate(inputs: &serde_json::Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, inputs::check)
    }

    fn plan(request: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = request.inputs()?;
        let problems = inputs::check(&inputs);
        if !problems.is_empty() {
            return Err(PlanError::InvalidInputs(problems));
        }
        let ca = if inputs.mtls.enabled { Some(mtls_ca(request, &inputs)?) } else { None };

        let c = &request.component;
        let namespace = if inputs.controller_namespace.is_empty() {
            c.namespace.clone()
        } else {
            inputs.controller_namespace.clone()
        };
        let meta = k8s::Meta::new(c, inputs.controller_config_map.clone(), "waf");
        let mut data = inputs.extra_config.clone();
        data.insert("enable-modsecurity".into(), "true".into());
        data.insert("enable-owasp-modsecurity-crs".into(), "true".into());
        data.insert("modsecurity-snippet".into(), modsecurity::snippet(&inputs));
        // Snippet annotations would let any ingress author rewrite or switch
        // off the WAF for their host.
        data.insert("allow-snippet-annotations".into(), "false".into());
        // The ingress annotations below carry the same size; the global key
        // covers ingresses of this class that do not.
        data.insert("proxy-body-size".into(), inputs.max_body_size.clone());
        // nginx answers an exceeded limit_req/limit_conn with 503 by
        // default, which clients and load balancers read as "server down".
        data.insert("limit-req-status-code".into(), "429".into());
        data.insert("limit-conn-status-code".into(), "429".into());
        let mut config_map = k8s::config_map(&meta, &data);
        config_map["metadata"]["namespace"] = json!(namespace);

        let mut objects = vec![config_map];
        if inputs.manage_ingress_class {
            objects.push(json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": meta.renamed(inputs.ingress_class.clone()).cluster_scoped().to_value(),
                "spec": { "controller": inputs.controller_class },
            }));
        }

        let outputs = contracts::outputs(
            &waf::Outputs {
                ingress_class: inputs.ingress_class.clone(),
                annotations: annotations(&inputs, ca.as_ref()),
                mtls_ca_secret: ca,
                // The controller proxies outside traffic from its own pods:
                // the apps' NetworkPolicies let those in, and nobody else.
                ingress_from: vec![NetworkPeer {
                    namespace: Some(namespace),
                    pod_labels: inputs.controller_pod_labels.clone(),
                    ports: Vec::new(),
                }],
            },
            &[],
        )?;
        Ok(ComponentPlan { objects, outputs, ..Default::default() })
    }
}

/// The annotations app ingresses must carry. ModSecurity is on globally;
/// the per-ingress switches keep it on for an app even if someone edits
/// the controller's ConfigMap, and say so where the app is read.
pub fn annotations(inputs: &Inputs, ca: Option<&SecretRef>) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        a.insert(format!("{ANNOTATION_PREFIX}{k}"), v);
    };
    put("enable-modsecurity", "true".into());
    put("enable-owasp-core-rules", "true".into());
    put("proxy-body-size", inputs.max_body_size.clone());
    let limits = &inputs.rate_limit;
    if limits.enabled {
        put("limit-rps", limits.requests_per_second.to_string());
        put("limit-burst-multiplier", limits.burst_multiplier.to_string());
        put("limit-connections", limits.connections.to_string());
    }
    if let Some(ca) = ca {
        put("auth-tls-verify-client", inputs.mtls.verify_client.as_str().into());
        put("auth-tls-secret", format!("{}/{}", ca.namespace.as_deref().unwrap_or_default(), ca.name));
        put("auth-tls-verify-depth", inputs.mtls.verify_depth.to_string());
        put("auth-tls-pass-certificate-to-upstream", inputs.mtls.pass_certificate_to_upstream.to_string());
        if !inputs.mtls.match_cn.is_empty() {
            put("auth-tls-match-cn", inputs.mtls.match_cn.clone());
        }
    }
    a
}

/// The CA bundle client certificates are verified against: the
/// cert-manager dependency's `ca_bundle_secret`, else `mtls.ca_secret`;
/// always `mtls.ca_secret` when a CRL is required, since only that Secret
/// can hold one.
fn mtls_ca(request: &PlanRequest, inputs: &Inputs) -> Result<SecretRef, PlanError> {
    if inputs.mtls.require_crl {
        return given_ca_secret(inputs);
    }
    if let Some((dep, outputs)) = contracts::all::<cert_manager::Outputs>(&request.dependencies).next() {
        let outputs = outputs?;
        let Some(bundle) = outputs.ca_bundle_secret else {
            return Err(PlanError::MissingDependency(format!(
                "mtls is enabled but cert-manager dependency `{}` publishes no CA bundle \
                 (ca_bundle_secret); give it a CA issuer or set mtls.ca_secret",
                dep.name
            )));
        };
        if bundle.key != CA_KEY {
            return Err(PlanError::MissingDependency(format!(
                "the CA bundle of cert-manager dependency `{}` is under key `{}`; ingress-nginx \
                 reads client-certificate CAs from `{CA_KEY}` only",
                dep.name, bundle.key
            )));
        }
        let Some(namespace) = bundle.namespace else {
            return Err(PlanError::MissingDependency(format!(
                "the CA bundle of cert-manager dependency `{}` does not say its namespace, which \
                 ingress-nginx needs (auth-tls-secret is `namespace/name`)",
                dep.name
            )));
        };
        return Ok(SecretRef { name: bundle.name, namespace: Some(namespace) });
    }
    given_ca_secret(inputs)
}

/// `mtls.ca_secret`, which `inputs::check` has already held to `namespace/name`.
fn given_ca_secret(inputs: &Inputs) -> Result<SecretRef, PlanError> {
    match inputs.mtls.ca_secret.as_deref().and_then(inputs::parse_secret_ref) {
        Some((namespace, name)) => Ok(SecretRef { name: name.into(), namespace: Some(namespace.into()) }),
        None => Err(PlanError::MissingDependency(
            "mtls is enabled but there is no cert-manager dependency to take the client CA bundle \
             from; add one, or set mtls.ca_secret to `namespace/name` of a Secret with `ca.crt`"
                .into(),
        )),
    }
}

capstan_sdk::export_plugin!(IngressNginxWaf);
