//! The conformance checks of a policy plugin (`capstan plugin test` on a
//! policy): a policy has no component type and no outputs contract, so what
//! every policy promises is checked instead — its params' defaults satisfy
//! its own schema, it checks a representative plan without failing, it
//! gives the same answer to the same request, and every violation names a
//! rule it lists (the host already refuses a violation that points outside
//! the objects or at no JSON pointer).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use capstan_core::{CheckRequest, ComponentId, PolicySubject, Violation};
use capstan_plan::PolicyHandle;

use crate::{Check, KitSource, Report, fail, not_run, pass};

/// The policy check names, in the order they run.
pub const POLICY_CHECKS: &[&str] = &["params", "checks", "determinism", "rules"];

/// Runs the policy checks over `policy`.
pub fn run_policy(policy: &dyn PolicyHandle) -> Report {
    let meta = policy.metadata();
    let mut checks = Vec::new();
    let params = capstan_plan::params_over_defaults(meta, json!({}));
    checks.push(match &params {
        Ok(_) => pass("params", "the defaults satisfy the params schema".into()),
        Err(why) => fail("params", vec![format!("the params a policy block without `params` gives: {why}")]),
    });
    let answers = match params {
        Ok(params) => {
            let request = sample(params);
            let s = &request.subject;
            let id = ComponentId {
                name: s.name.clone(),
                environment: s.environment.clone(),
                namespace: s.namespace.clone(),
            };
            let ask = || policy.check(&id, &request).map_err(|e| e.to_string());
            Some((ask(), ask()))
        }
        Err(_) => None,
    };
    match answers {
        None => {
            for name in ["checks", "determinism", "rules"] {
                checks.push(not_run(name, "the defaults do not satisfy the params schema".into()));
            }
        }
        Some((first, second)) => {
            checks.push(match &first {
                Ok(Ok(v)) => pass("checks", format!("checked a sample plan: {} violation(s)", v.len())),
                Ok(Err(refused)) => {
                    fail("checks", vec![format!("refused to check with its defaults: {refused}")])
                }
                Err(failed) => fail("checks", vec![failed.clone()]),
            });
            checks.push(if first == second {
                pass("determinism", "the same request gave the same answer".into())
            } else {
                fail("determinism", vec!["the same request gave two different answers".into()])
            });
            checks.push(match &first {
                Ok(Ok(violations)) => rules(&meta.rules, violations),
                _ => not_run("rules", "the sample plan was not checked".into()),
            });
        }
    }
    Report {
        plugin: meta.name.clone(),
        version: meta.version.to_string(),
        kit_type: capstan_core::POLICY_TYPE.to_owned(),
        kit_version: None,
        kit_source: KitSource::Generic,
        checks,
    }
}

fn rules(listed: &[capstan_core::PolicyRule], violations: &[Violation]) -> Check {
    let known: BTreeSet<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    let unknown: Vec<String> = violations
        .iter()
        .filter(|v| !known.contains(v.rule.as_str()))
        .map(|v| format!("a violation names rule `{}`, which the metadata does not list", v.rule))
        .collect();
    if unknown.is_empty() {
        pass("rules", format!("every violation names one of its {} rule(s)", listed.len()))
    } else {
        fail("rules", unknown)
    }
}

/// A plan a policy may be handed: a Deployment that breaks the usual rules
/// (an image by `latest`, no resources, no security context) and one that
/// keeps them, a Service, and a Secret whose values the engine has redacted.
fn sample(params: Value) -> CheckRequest {
    let container = |image: &str, hardened: bool| {
        let mut c = json!({"name": "app", "image": image});
        if hardened {
            c["resources"] = json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}});
            c["securityContext"] = json!({"runAsNonRoot": true, "allowPrivilegeEscalation": false,
                                          "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}});
            c["readinessProbe"] = json!({"tcpSocket": {"port": 8080}});
        }
        c
    };
    let deployment = |name: &str, image: &str, hardened: bool| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": "kit", "labels": {"app.kubernetes.io/name": name}},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                        "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}},
                                     "spec": {"containers": [container(image, hardened)]}}}})
    };
    let objects = vec![
        deployment("careless", "registry.example/app:latest", false),
        deployment("careful", "registry.example/app:1.2.3", true),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "careful", "namespace": "kit"},
               "spec": {"selector": {"app.kubernetes.io/name": "careful"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "careful", "namespace": "kit"},
               "stringData": {"password": capstan_core::REDACTED}}),
    ];
    CheckRequest {
        subject: PolicySubject {
            name: "kit-subject".into(),
            environment: "kit".into(),
            namespace: "kit".into(),
            component_type: "app".into(),
            plugin: "capstan/app".into(),
        },
        objects,
        params,
    }
}
