//! `capstan/cert-manager`: the `cert-manager` component type — who issues
//! certificates, for an installed cert-manager.
//!
//! It renders up to two ClusterIssuers: an ACME issuer (Let's Encrypt
//! staging by default) and a CA issuer signing with a CA key pair the
//! operator provides in the secrets file (production certificates in open
//! finance come from a regulated authority, not from ACME). With the CA
//! issuer it also publishes a CA bundle Secret (`ca.crt`, public certificates
//! only) that the WAF verifies client certificates against. It renders the
//! `Certificate`s listed in its inputs.
//!
//! The ACME issuer answers HTTP-01 challenges through the ingress class of
//! the `waf` dependency and, with `acme.dns01`, DNS-01 challenges through
//! Route 53, Cloudflare or an RFC 2136 server — the only way to a wildcard
//! certificate, so wildcards are refused without it. CAs that require an
//! external account binding (ZeroSSL, Google Trust Services) get one with
//! `acme.external_account_binding`. DNS and EAB credentials are never
//! inputs: the issuer names Secrets in the cluster resource namespace that
//! the operator provides, and cert-manager reads them.
//!
//! It does not install cert-manager, nor create the DNS or EAB credential
//! Secrets, nor the IAM role or RBAC behind Route 53 web identity. What the
//! tests cannot show on a machine without a cluster and the internet is
//! that a CA accepts the account and a DNS provider the records: they
//! check the rendered issuers against cert-manager's CRD schema only.
//! A `waf` component that takes its mTLS CA from this component cannot also
//! be this component's HTTP-01 ingress: that would be a dependency cycle;
//! use `acme.ingress_class` on one side.

pub mod acme;
pub mod inputs;

use std::collections::BTreeMap;

use capstan_sdk::contracts::{self, SecretKeyRef, cert_manager, waf};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

use crate::inputs::Inputs;

/// The key of the CA bundle Secret: what ingress-nginx and most TLS clients read.
pub const CA_BUNDLE_KEY: &str = "ca.crt";
const API_VERSION: &str = "cert-manager.io/v1";

/// The plugin.
pub struct CertManager;

impl Plugin for CertManager {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/cert-manager", env!("CARGO_PKG_VERSION"))
            .component_type(<cert_manager::Outputs as Contract>::COMPONENT_TYPE)
            .backend("cert-manager")
            .description(
                "ClusterIssuers for an installed cert-manager: ACME (Let's Encrypt staging by \
                 default; HTTP-01 through the WAF's ingress class, DNS-01 through Route 53, \
                 Cloudflare or RFC 2136 for wildcards, external account binding for ZeroSSL or \
                 Google) and/or a CA issuer from a CA key pair in the secrets file, a CA bundle \
                 Secret for mTLS, and Certificates for given hosts.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(inputs::DEFAULTS_YAML)
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, inputs::check)
    }

    fn plan(request: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = request.inputs()?;
        let (mut problems, warnings): (Vec<_>, Vec<_>) =
            inputs::check(&inputs).into_iter().partition(|d| d.severity == Severity::Error);
        if inputs.ca.enabled && inputs.ca.private_key.is_some() && !request.is_sensitive("/ca/private_key") {
            problems.push(Diagnostic::error(
                "/ca/private_key",
                "the CA private key must come from the component's secrets file \
                 (values_sensitive_custom), not from plain inputs",
            ));
        }
        if !problems.is_empty() {
            return Err(PlanError::InvalidInputs(problems));
        }
        let c = &request.component;
        let mut objects = Vec::new();

        if inputs.acme.enabled {
            let class = if inputs.acme.http01 { Some(http01_ingress_class(request, &inputs)?) } else { None };
            let meta = k8s::Meta::new(c, inputs.acme.name.clone(), "issuer").cluster_scoped();
            objects.push(cluster_issuer(
                &meta,
                json!({ "acme": acme::issuer_spec(&inputs.acme, class.as_deref()) }),
            ));
        }

        let mut ca_bundle_secret = None;
        if let (true, Some(cert), Some(key)) =
            (inputs.ca.enabled, &inputs.ca.certificate, &inputs.ca.private_key)
        {
            let keypair = format!("{}-keypair", inputs.ca.name);
            let meta = k8s::Meta::new(c, keypair.clone(), "issuer");
            let mut secret = k8s::secret(
                &meta,
                &BTreeMap::from([
                    ("tls.crt".to_owned(), Sensitive::new(cert.clone())),
                    ("tls.key".to_owned(), Sensitive::new(key.clone())),
                ]),
            );
            secret["type"] = json!("kubernetes.io/tls");
            secret["metadata"]["namespace"] = json!(inputs.cluster_resource_namespace);
            objects.push(secret);
            let meta = k8s::Meta::new(c, inputs.ca.name.clone(), "issuer").cluster_scoped();
            objects.push(cluster_issuer(&meta, json!({ "ca": { "secretName": keypair } })));

            // Public certificates only: anyone may read this one.
            let bundle_name = format!("{}-ca-bundle", c.name);
            let mut pem = cert.trim_end().to_owned();
            if let Some(extra) = &inputs.ca.trust_bundle {
                pem.push('\n');
                pem.push_str(extra.trim_end());
            }
            pem.push('\n');
            let meta = k8s::Meta::new(c, bundle_name.clone(), "ca-bundle");
            objects
                .push(k8s::secret(&meta, &BTreeMap::from([(CA_BUNDLE_KEY.to_owned(), Sensitive::new(pem))])));
            ca_bundle_secret = Some(SecretKeyRef {
                name: bundle_name,
                key: CA_BUNDLE_KEY.into(),
                namespace: Some(c.namespace.clone()),
            });
        }

        for cert in &inputs.certificates {
            let issuer = cert.issuer.unwrap_or(inputs.default_issuer);
            let meta = k8s::Meta::new(c, cert.name.clone(), "certificate");
            let mut spec = json!({
                "secretName": cert.secret_name.clone().unwrap_or_else(|| format!("{}-tls", cert.name)),
                "dnsNames": cert.hosts,
                "issuerRef": {
                    "group": "cert-manager.io",
                    "kind": cert_manager::CLUSTER_ISSUER,
                    "name": inputs.issuer_name(issuer),
                },
                // A fresh key at every renewal: a leaked key dies with its certificate.
                "privateKey": { "algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always" },
            });
            if let Some(d) = &cert.duration {
                spec["duration"] = json!(d);
            }
            if let Some(r) = &cert.renew_before {
                spec["renewBefore"] = json!(r);
            }
            let mut object = k8s::custom_resource(API_VERSION, "Certificate", &meta, spec);
            if let Some(ns) = &cert.namespace {
                object["metadata"]["namespace"] = json!(ns);
            }
            objects.push(object);
        }

        let outputs = contracts::outputs(
            &cert_manager::Outputs {
                issuer: cert_manager::IssuerRef {
                    kind: cert_manager::CLUSTER_ISSUER.into(),
                    name: inputs.issuer_name(inputs.default_issuer).to_owned(),
                },
                ca_bundle_secret,
            },
            &[],
        )?;
        Ok(ComponentPlan { objects, outputs, warnings, ..Default::default() })
    }

    fn health(object: &Value) -> Health {
        issuer_or_certificate_health(object)
    }
}

fn cluster_issuer(meta: &k8s::Meta, spec: Value) -> Value {
    k8s::custom_resource(API_VERSION, "ClusterIssuer", meta, spec)
}

/// The ingress class HTTP-01 solvers go through: the WAF's, so challenges
/// pass the same controller as the traffic they prove; else the input.
fn http01_ingress_class(request: &PlanRequest, inputs: &Inputs) -> Result<String, PlanError> {
    if let Some((_, outputs)) = contracts::all::<waf::Outputs>(&request.dependencies).next() {
        return Ok(outputs?.ingress_class);
    }
    match &inputs.acme.ingress_class {
        Some(class) if !class.is_empty() => Ok(class.clone()),
        _ => Err(PlanError::MissingDependency(
            "the ACME issuer answers HTTP-01 challenges through an ingress class: add a `waf` \
             dependency, set acme.ingress_class, or turn acme.http01 off and answer over acme.dns01"
                .into(),
        )),
    }
}

/// cert-manager reports readiness as a `Ready` condition on issuers and
/// certificates alike.
fn issuer_or_certificate_health(object: &Value) -> Health {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    if !matches!(kind, "ClusterIssuer" | "Certificate") {
        return capstan_sdk::health::default_health(object);
    }
    let ready = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("Ready")));
    match ready {
        Some(c) if c.get("status").and_then(Value::as_str) == Some("True") => Health::Ready,
        Some(c) => {
            let why = c.get("message").and_then(Value::as_str).unwrap_or("not ready");
            if c.get("status").and_then(Value::as_str) == Some("False") && kind == "ClusterIssuer" {
                Health::Degraded(why.to_owned())
            } else {
                Health::Progressing(why.to_owned())
            }
        }
        None => Health::Progressing(format!("{kind} has no Ready condition yet")),
    }
}

capstan_sdk::export_plugin!(CertManager);
