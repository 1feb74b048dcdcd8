//! capstan/external-secrets through the SDK test kit, planned natively: the
//! ClusterSecretStore on a `vault` dependency and on AWS Secrets Manager,
//! checked against Kubernetes 1.30 and the External Secrets CRDs vendored in
//! tests/crds; the outputs against the `external-secrets` contract's JSON
//! Schema; the diagnostics a missing dependency, mount, auth method or role
//! gives, each at the `vault` input; the type's conformance kit; and the
//! built `.wasm` planning the same in the engine's sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use capstan_plugin_external_secrets::ExternalSecrets;
use capstan_plugin_testsupport as support;
use capstan_sdk::contracts::{external_secrets, vault};
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, defaults_of, invalid_inputs, merge};
use serde_json::{Value, json};

const ADDRESS: &str = "https://vault.security.svc:8200";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/external-secrets";

/// A vault component's outputs with this component (`eso`) among its apps,
/// as `capstan/vault-openbao` writes them; checked against the contract.
fn vault_outputs() -> Value {
    let outputs = json!({
        "address": ADDRESS,
        "mounts": { "kv": "secret", "pki": "pki" },
        "auth": { "kubernetes": "kubernetes" },
        "apps": {
            "eso": { "policy": "staging-eso", "kubernetes_role": "staging-eso" },
            "payments": { "policy": "staging-payments", "kubernetes_role": "staging-payments" },
        },
    });
    let schema: Value = serde_json::from_str(vault::SCHEMA).unwrap();
    let errors: Vec<String> =
        jsonschema::draft202012::new(&schema).unwrap().iter_errors(&outputs).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "the test's vault outputs break the vault contract: {errors:?}");
    outputs
}

fn call(inputs: Value) -> PlanCall {
    PlanCall::new(inputs).component("staging", "external-secrets", "eso")
}

fn on_vault(inputs: Value) -> PlanCall {
    call(inputs).dependency("vault", "vault", vault_outputs())
}

fn aws(extra: Value) -> PlanCall {
    let mut inputs = json!({ "backend": "aws-secrets-manager", "aws": { "region": "eu-west-1" } });
    merge(&mut inputs, extra);
    call(inputs)
}

/// Every diagnostic `validate` gives for `inputs` over the defaults.
fn validate(inputs: Value) -> Vec<Diagnostic> {
    let mut merged = defaults_of(&ExternalSecrets::metadata());
    merge(&mut merged, inputs);
    ExternalSecrets::validate(&merged)
}

/// The plan's outputs as one object, checked against the contract's schema.
fn contract_outputs(plan: &ComponentPlan) -> Value {
    let object: serde_json::Map<String, Value> =
        plan.outputs.iter().map(|o| (o.name.clone(), o.value.clone())).collect();
    let object = Value::Object(object);
    let schema: Value = serde_json::from_str(external_secrets::SCHEMA).unwrap();
    let errors: Vec<String> =
        jsonschema::draft202012::new(&schema).unwrap().iter_errors(&object).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "outputs {object} break the contract: {errors:?}");
    object
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<ExternalSecrets>();
    assert_eq!(
        (m.name.as_str(), m.component_type.as_str(), m.backend.as_str()),
        ("capstan/external-secrets", "external-secrets", "external-secrets")
    );
    assert!(m.capabilities.is_empty(), "it renders objects only: no effect, no capability");
    let defaults = defaults_of(&m);
    assert_eq!((defaults["backend"].as_str(), defaults["vault"].as_str()), (Some("vault"), Some("vault")));
    assert_eq!(defaults["refresh"], "1h");
    assert_eq!(defaults["service_account"]["create"], false);
    assert!(defaults.get("store").is_none(), "the store is named after the component by default");
}

#[test]
fn a_vault_store_reads_the_kv_mount_as_the_role_the_vault_component_made_for_it() {
    let plan = on_vault(json!({})).run::<ExternalSecrets>().unwrap();
    assert_eq!(plan.object_ids(), ["ClusterSecretStore/eso"], "no ServiceAccount unless asked");
    let store = plan.expect_object("ClusterSecretStore", "eso");
    assert_eq!(store["apiVersion"], "external-secrets.io/v1");
    assert!(store["metadata"].get("namespace").is_none(), "cluster-scoped");
    assert_eq!(
        store["spec"],
        json!({ "provider": { "vault": {
            "server": ADDRESS,
            "path": "secret",
            "version": "v2",
            "auth": { "kubernetes": {
                "mountPath": "kubernetes",
                "role": "staging-eso",
                "serviceAccountRef": { "name": "eso", "namespace": "external-secrets" },
            } },
        } } })
    );
    assert_eq!(
        contract_outputs(&plan),
        json!({
            "store": { "kind": "ClusterSecretStore", "name": "eso" },
            "backend": "vault",
            "refresh": "1h",
            "mount": "secret",
        })
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn a_vault_store_with_its_service_account_a_ca_and_allowed_namespaces() {
    let plan = on_vault(json!({
        "store": "platform-store",
        "service_account": { "create": true, "name": "eso-vault", "annotations": { "example.com/team": "platform" } },
        "ca_secret": { "name": "vault-ca" },
        "namespaces": ["payments", "consent"],
        "refresh": "15m",
    }))
    .run::<ExternalSecrets>()
    .unwrap();
    assert_eq!(plan.object_ids(), ["ServiceAccount/eso-vault", "ClusterSecretStore/platform-store"]);
    let account = plan.expect_object("ServiceAccount", "eso-vault");
    assert_eq!(account["metadata"]["namespace"], "external-secrets");
    assert_eq!(account["metadata"]["annotations"], json!({ "example.com/team": "platform" }));
    assert_eq!(account["automountServiceAccountToken"], false, "the operator requests its tokens");

    let spec = &plan.expect_object("ClusterSecretStore", "platform-store")["spec"];
    let vault = &spec["provider"]["vault"];
    assert_eq!(
        vault["auth"]["kubernetes"]["serviceAccountRef"],
        json!({ "name": "eso-vault", "namespace": "external-secrets" })
    );
    assert_eq!(
        vault["caProvider"],
        json!({ "type": "Secret", "name": "vault-ca", "key": "ca.crt", "namespace": "external-secrets" })
    );
    assert_eq!(spec["conditions"], json!([{ "namespaces": ["payments", "consent"] }]));
    let outputs = contract_outputs(&plan);
    assert_eq!(outputs["store"], json!({ "kind": "ClusterSecretStore", "name": "platform-store" }));
    assert_eq!(outputs["refresh"], "15m");
}

#[test]
fn an_aws_store_uses_secrets_manager_through_irsa() {
    let plan = aws(json!({ "aws": { "role_arn": ROLE_ARN }, "service_account": { "create": true } }))
        .run::<ExternalSecrets>()
        .unwrap();
    assert_eq!(plan.object_ids(), ["ServiceAccount/eso", "ClusterSecretStore/eso"]);
    let account = plan.expect_object("ServiceAccount", "eso");
    assert_eq!(account["metadata"]["annotations"], json!({ "eks.amazonaws.com/role-arn": ROLE_ARN }));
    assert_eq!(
        plan.expect_object("ClusterSecretStore", "eso")["spec"],
        json!({ "provider": { "aws": {
            "service": "SecretsManager",
            "region": "eu-west-1",
            "auth": { "jwt": { "serviceAccountRef": { "name": "eso", "namespace": "external-secrets" } } },
        } } })
    );
    assert_eq!(
        contract_outputs(&plan),
        json!({
            "store": { "kind": "ClusterSecretStore", "name": "eso" },
            "backend": "aws-secrets-manager",
            "refresh": "1h",
            "region": "eu-west-1",
        })
    );
}

#[test]
fn an_aws_store_without_a_role_uses_the_operators_own_credentials_and_says_so() {
    let plan = aws(json!({})).run::<ExternalSecrets>().unwrap();
    assert_eq!(plan.object_ids(), ["ClusterSecretStore/eso"]);
    let provider = &plan.expect_object("ClusterSecretStore", "eso")["spec"]["provider"]["aws"];
    assert!(provider.get("auth").is_none(), "{provider}");
    let notes = validate(json!({ "backend": "aws-secrets-manager", "aws": { "region": "eu-west-1" } }));
    assert!(
        notes.iter().any(|d| d.path == "/aws"
            && d.severity == Severity::Info
            && d.message.contains("own credentials")),
        "{notes:?}"
    );
    // An existing ServiceAccount must carry the role itself.
    let notes = validate(json!({ "backend": "aws-secrets-manager",
                                  "aws": { "region": "eu-west-1", "role_arn": ROLE_ARN } }));
    assert!(
        notes.iter().any(|d| d.path == "/aws/role_arn" && d.message.contains("eks.amazonaws.com/role-arn")),
        "{notes:?}"
    );
}

/// Every variant's objects at once, against Kubernetes 1.30 and the
/// vendored ClusterSecretStore CRD (one validator run for all of them).
#[test]
fn every_rendered_object_is_valid_against_kubernetes_and_the_crd() {
    let mut objects = Vec::new();
    for (label, call) in [
        ("vault", on_vault(json!({ "store": "vault-minimal" }))),
        (
            "vault, everything",
            on_vault(json!({
                "store": "vault-full",
                "service_account": { "create": true, "name": "eso-vault", "namespace": "security",
                                     "annotations": { "example.com/team": "platform" } },
                "ca_secret": { "name": "vault-ca", "key": "bundle.pem", "namespace": "security" },
                "namespaces": ["payments"],
            })),
        ),
        (
            "aws with IRSA",
            aws(json!({ "store": "aws-irsa", "aws": { "role_arn": ROLE_ARN },
                        "service_account": { "create": true, "name": "eso-aws" } })),
        ),
        ("aws, own credentials", aws(json!({ "store": "aws-own" }))),
    ] {
        let plan = call.run::<ExternalSecrets>().unwrap_or_else(|e| panic!("{label}: {e:?}"));
        objects.extend(plan.objects);
    }
    assert_eq!(objects.len(), 6);
    support::assert_valid(&objects, &[]);

    // The validator does read the CRD: a store missing its provider's
    // required field is refused.
    let mut broken = objects[0].clone();
    broken["spec"]["provider"]["vault"].as_object_mut().unwrap().remove("server");
    let report = support::validate(&[broken], &[]).expect_err("a vault provider without its server");
    assert!(report.contains("server"), "{report}");
}

#[test]
fn a_missing_vault_dependency_is_an_error_at_the_vault_input_naming_it() {
    let problems = invalid_inputs(call(json!({})).run::<ExternalSecrets>().unwrap_err());
    assert_eq!(problems.len(), 1, "{problems:?}");
    let (path, message) = &problems[0];
    assert_eq!(path, "/vault");
    assert!(message.contains("`vault` dependency `vault`"), "{message}");
    assert!(message.contains("dependency \"vault\""), "says what to add: {message}");

    // Named otherwise: the message names that, and the vault dependency it has.
    let problems = invalid_inputs(
        call(json!({ "vault": "bao" }))
            .dependency("secrets", "vault", vault_outputs())
            .run::<ExternalSecrets>()
            .unwrap_err(),
    );
    assert_eq!(problems[0].0, "/vault");
    assert!(problems[0].1.contains("`bao`") && problems[0].1.contains("named secrets"), "{problems:?}");

    // The right name on a component of another type.
    let problems = invalid_inputs(
        call(json!({}))
            .dependency("vault", "postgres", json!({ "host": "db" }))
            .run::<ExternalSecrets>()
            .unwrap_err(),
    );
    assert_eq!(problems[0].0, "/vault");
    assert!(problems[0].1.contains("`postgres` component, expected `vault`"), "{problems:?}");
}

#[test]
fn a_vault_component_without_this_app_or_its_role_is_an_error_at_the_vault_input() {
    let mut outputs = vault_outputs();
    outputs["apps"].as_object_mut().unwrap().remove("eso");
    let problems = invalid_inputs(
        call(json!({})).dependency("vault", "vault", outputs).run::<ExternalSecrets>().unwrap_err(),
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "/vault");
    assert!(problems[0].1.contains("has no app `eso`"), "{problems:?}");
    assert!(problems[0].1.contains("apps = { eso = {"), "says what to add: {problems:?}");

    let mut outputs = vault_outputs();
    outputs["apps"]["eso"].as_object_mut().unwrap().remove("kubernetes_role");
    let problems = invalid_inputs(
        call(json!({})).dependency("vault", "vault", outputs).run::<ExternalSecrets>().unwrap_err(),
    );
    assert!(problems[0].1.contains("app `eso` of the vault component `vault` has no `kubernetes_role`"));

    // No KV engine and no Kubernetes auth: both said at once.
    let outputs = json!({ "address": ADDRESS, "apps": { "eso": { "policy": "p" } } });
    let problems = invalid_inputs(
        call(json!({})).dependency("vault", "vault", outputs).run::<ExternalSecrets>().unwrap_err(),
    );
    let messages: Vec<&str> = problems
        .iter()
        .map(|(p, m)| {
            assert_eq!(p, "/vault");
            m.as_str()
        })
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages[0].contains("no KV engine"), "{messages:?}");
    assert!(messages[1].contains("no Kubernetes auth"), "{messages:?}");
    assert!(messages[2].contains("no `kubernetes_role`"), "{messages:?}");
}

#[test]
fn a_ca_for_a_plain_http_vault_is_a_warning() {
    let mut outputs = vault_outputs();
    outputs["address"] = json!("http://vault.security.svc:8200");
    let plan = call(json!({ "ca_secret": { "name": "vault-ca" } }))
        .dependency("vault", "vault", outputs)
        .run::<ExternalSecrets>()
        .unwrap();
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert_eq!(plan.warnings[0].path, "/ca_secret");
    assert!(plan.warnings[0].message.contains("plain HTTP"));
}

#[test]
fn validate_refuses_what_kubernetes_aws_or_the_operator_would() {
    let errors = |inputs: Value| -> Vec<(String, String)> {
        validate(inputs)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| (d.path, d.message))
            .collect()
    };
    let at = |inputs: Value| -> Vec<String> { errors(inputs).into_iter().map(|(p, _)| p).collect() };
    assert!(errors(json!({})).is_empty(), "the defaults are valid: {:?}", errors(json!({})));
    assert_eq!(at(json!({ "store": "Platform_Store" })), ["/store"]);
    assert_eq!(at(json!({ "refresh": "1d" })), ["/refresh"]);
    assert_eq!(at(json!({ "vault": "" })), ["/vault"]);
    assert_eq!(at(json!({ "namespaces": ["ok", "Not OK"] })), ["/namespaces/1"]);
    assert_eq!(
        at(json!({ "service_account": { "name": "a_b", "namespace": "x.y" } })),
        ["/service_account/name", "/service_account/namespace"]
    );
    assert_eq!(at(json!({ "ca_secret": { "name": "ca", "key": "ca crt" } })), ["/ca_secret/key"]);
    assert_eq!(at(json!({ "backend": "aws-secrets-manager" })), ["/aws"]);
    assert_eq!(
        at(json!({ "backend": "aws-secrets-manager", "aws": { "region": "Ireland" } })),
        ["/aws/region"]
    );
    assert_eq!(
        at(json!({ "backend": "aws-secrets-manager",
                   "aws": { "region": "eu-west-1", "role_arn": "arn:aws:iam::123:user/x" } })),
        ["/aws/role_arn"]
    );
    // The schema: an unknown backend, a misspelt setting.
    let problems = invalid_inputs(call(json!({ "backend": "gcp" })).run::<ExternalSecrets>().unwrap_err());
    assert_eq!(problems[0].0, "/backend", "{problems:?}");
    let problems = invalid_inputs(call(json!({ "stor": "x" })).run::<ExternalSecrets>().unwrap_err());
    assert!(problems[0].1.contains("stor"), "{problems:?}");

    // Settings of the other backend are ignored, with a warning.
    let warnings = validate(json!({ "aws": { "region": "eu-west-1" } }));
    assert!(warnings.iter().any(|d| d.path == "/aws" && d.severity == Severity::Warning), "{warnings:?}");
    let warnings = validate(json!({ "backend": "aws-secrets-manager", "aws": { "region": "eu-west-1" },
                         "ca_secret": { "name": "ca" } }));
    assert!(
        warnings.iter().any(|d| d.path == "/ca_secret" && d.severity == Severity::Warning),
        "{warnings:?}"
    );
}

#[test]
fn health_follows_the_stores_ready_condition() {
    let plan = on_vault(json!({})).run::<ExternalSecrets>().unwrap();
    let mut store = plan.expect_object("ClusterSecretStore", "eso").clone();
    assert!(matches!(ExternalSecrets::health(&store), Health::Progressing(_)));
    store["status"] = json!({ "conditions": [{ "type": "Ready", "status": "False",
        "reason": "InvalidProviderConfig", "message": "permission denied" }] });
    match ExternalSecrets::health(&store) {
        Health::Progressing(m) => assert!(m.contains("InvalidProviderConfig: permission denied"), "{m}"),
        other => panic!("{other:?}"),
    }
    store["status"]["conditions"][0]["status"] = json!("True");
    assert_eq!(ExternalSecrets::health(&store), Health::Ready);
}

/// The type's conformance kit (`wit/contracts/kits/external-secrets.json`)
/// run the way `capstan plugin test` runs it, natively: every case plans,
/// its outputs keep the contract and its objects are valid; every bad input
/// is refused at its path.
#[test]
fn the_kit_passes() {
    let kit: Value =
        serde_json::from_str(include_str!("../../../wit/contracts/kits/external-secrets.json")).unwrap();
    assert_eq!(kit["component_type"], "external-secrets");
    let mut objects = Vec::new();
    for case in kit["cases"].as_array().unwrap() {
        let mut call = PlanCall::new(case["inputs"].clone()).component("kit", "kit", "kit-subject");
        for (name, dependency) in case["dependencies"].as_object().into_iter().flatten() {
            call = call.dependency(
                name,
                dependency["component_type"].as_str().unwrap(),
                dependency["outputs"].clone(),
            );
        }
        let plan = call.run::<ExternalSecrets>().unwrap_or_else(|e| panic!("case {}: {e:?}", case["name"]));
        contract_outputs(&plan);
        objects.extend(plan.objects);
    }
    support::assert_valid(&objects, &[]);
    for bad in kit["bad_inputs"].as_array().unwrap() {
        let path = bad["path"].as_str().unwrap();
        let refused = validate(bad["inputs"].clone())
            .into_iter()
            .any(|d| d.severity == Severity::Error && d.path.starts_with(path));
        assert!(refused, "bad input {} is not refused at {path}", bad["name"]);
    }
}

/// The `.wasm` built from this crate, run through the engine's host, plans
/// what the native build plans, and refuses what it refuses.
#[test]
fn the_built_wasm_component_plans_the_same_in_the_sandbox() {
    let workspace = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));
    let wasm = capstan_sdk::testkit::wasm::build(workspace, env!("CARGO_PKG_NAME")).unwrap();
    for variant in [
        on_vault(json!({ "service_account": { "create": true }, "ca_secret": { "name": "vault-ca" } })),
        aws(json!({ "aws": { "role_arn": ROLE_ARN }, "service_account": { "create": true } })),
    ] {
        assert_eq!(variant.run_wasm(&wasm).unwrap().unwrap(), variant.run::<ExternalSecrets>().unwrap());
    }
    let missing = call(json!({}));
    assert_eq!(missing.run_wasm(&wasm).unwrap().unwrap_err(), missing.run::<ExternalSecrets>().unwrap_err());
}
