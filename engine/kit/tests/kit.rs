//! The kit against native plugins: one that keeps every rule passes, and
//! each hostile one (a wrong type, a missing output, an output of the wrong
//! shape, a password outside a Secret, a different answer each time, an
//! effect on a capability it never declared, a `validate` that accepts
//! anything) fails with a report that names the check and the fault.
//! Objects go to a validator that records them, except in the tests of the
//! real `tests/validate_manifests.py`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use capstan_core::{
    Capability, ComponentId, ComponentPlan, Diagnostic, Effect, EffectKind, Health, Metadata, Output,
    OutputsContract, PlanError, PlanRequest, Sensitive, Severity, SqlOp, SqlRole,
};
use capstan_kit::{KitSource, ManifestValidator, Report, ScriptValidator, Status, Verdict};
use capstan_plan::{PluginHandle, SeamError};

/// What a test plugin does wrong, if anything.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    None,
    MissingHost,
    PortAsString,
    PasswordInConfigMap,
    PasswordInOutput,
    Nondeterministic,
    UndeclaredEffect,
    AcceptsEverything,
    PasswordInDiagnostic,
}

/// A small `postgres` backend: one Secret per app, a Service, the contract's outputs.
struct Postgres {
    meta: Metadata,
    fault: Fault,
    calls: AtomicU64,
}

fn plugin(component_type: &str, fault: Fault) -> Postgres {
    let meta = Metadata {
        name: "acme/postgres-native".into(),
        version: semver::Version::new(1, 2, 3),
        component_type: component_type.into(),
        backend: "native".into(),
        description: "a test backend".into(),
        input_schema: json!({ "type": "object" }),
        defaults: "apps: {}\n".into(),
        capabilities: if fault == Fault::UndeclaredEffect {
            vec![]
        } else {
            vec![Capability::Sql("postgres".into())]
        },
        outputs_contract: None,
        rules: Vec::new(),
    };
    Postgres { meta, fault, calls: AtomicU64::new(0) }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl PluginHandle for Postgres {
    fn metadata(&self) -> &Metadata {
        &self.meta
    }

    fn digest(&self) -> &str {
        "0000"
    }

    fn validate(&self, _component: &ComponentId, inputs: &Value) -> Result<Vec<Diagnostic>, SeamError> {
        if self.fault == Fault::AcceptsEverything {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let apps = inputs["apps"].as_object().cloned().unwrap_or_default();
        for (key, app) in &apps {
            if !is_dns_label(key) {
                out.push(Diagnostic::error(format!("/apps/{key}"), "app keys must be DNS labels"));
            }
            if self.fault == Fault::PasswordInDiagnostic {
                out.push(Diagnostic {
                    path: format!("/apps/{key}/password"),
                    severity: Severity::Warning,
                    message: format!("`{}` is a weak password", app["password"].as_str().unwrap_or_default()),
                });
            }
            if app["user"] == "postgres" {
                out.push(Diagnostic::error(format!("/apps/{key}/user"), "`postgres` is reserved"));
            }
        }
        if let Some(d) = inputs["default_app"].as_str()
            && !apps.contains_key(d)
        {
            out.push(Diagnostic::error("/default_app", "not one of the apps"));
        }
        Ok(out)
    }

    fn plan(
        &self,
        _dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<Result<ComponentPlan, PlanError>, SeamError> {
        let ns = &request.component.namespace;
        let apps = request.inputs["apps"].as_object().cloned().unwrap_or_default();
        let mut objects = vec![json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": "db", "namespace": ns },
            "spec": { "ports": [{ "port": 5432 }], "selector": { "app": "db" } },
        })];
        let mut effects = Vec::new();
        let mut databases = serde_json::Map::new();
        for (key, app) in &apps {
            let password = app["password"].as_str().unwrap_or_default();
            objects.push(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": { "name": format!("db-{key}"), "namespace": ns },
                "stringData": { "password": password },
            }));
            if self.fault == Fault::PasswordInConfigMap {
                objects.push(json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": { "name": format!("db-{key}-settings"), "namespace": ns },
                    "data": { "DATABASE_URL": format!("postgres://{key}:{password}@db:5432/{key}") },
                }));
            }
            effects.push(Effect {
                id: format!("role-{key}"),
                target: "postgres".into(),
                summary: format!("role {key}"),
                kind: EffectKind::Sql(vec![SqlOp::EnsureRole(SqlRole {
                    name: key.clone(),
                    password: Some(Sensitive::new(password)),
                    login: true,
                })]),
            });
            databases.insert(
                key.clone(),
                json!({ "database": key, "user": key, "password_secret": { "name": format!("db-{key}"), "key": "password" } }),
            );
        }
        if self.fault == Fault::Nondeterministic {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            objects[0]["metadata"]["annotations"] = json!({ "acme.example/planned-at": n.to_string() });
        }
        let first = apps.keys().next().cloned().unwrap_or_default();
        let mut outputs = vec![
            out("host", json!(format!("db.{ns}.svc.cluster.local"))),
            out("port", if self.fault == Fault::PortAsString { json!("5432") } else { json!(5432) }),
            out("database", json!(first)),
            out("user", json!(first)),
            out("password_secret", json!({ "name": format!("db-{first}"), "key": "password" })),
            out("databases", Value::Object(databases)),
        ];
        if self.fault == Fault::MissingHost {
            outputs.retain(|o| o.name != "host");
        }
        if self.fault == Fault::PasswordInOutput
            && let Some(app) = apps.values().next()
        {
            outputs.push(out("admin_password", app["password"].clone()));
        }
        Ok(Ok(ComponentPlan { objects, effects, outputs, ..Default::default() }))
    }

    fn health(&self, _component: &ComponentId, _object: &Value) -> Result<Health, SeamError> {
        Ok(Health::Ready)
    }
}

fn out(name: &str, value: Value) -> Output {
    Output { name: name.into(), value, sensitive: false }
}

/// Calls every object valid, keeping what it was shown.
#[derive(Default)]
struct Recording(Mutex<Vec<(String, Value)>>);

impl ManifestValidator for Recording {
    fn validate(&self, objects: &[(String, Value)], _missing_crds: &[&str]) -> Verdict {
        self.0.lock().unwrap().extend(objects.iter().cloned());
        Verdict::Valid
    }
}

fn run(component_type: &str, fault: Fault) -> Report {
    capstan_kit::run(&plugin(component_type, fault), Some("postgres"), &Recording::default())
}

/// The one failing check of `report`, with its reasons joined.
fn only_failure(report: &Report) -> (&'static str, String) {
    let failed: Vec<_> = report.checks.iter().filter(|c| c.status != Status::Pass).collect();
    assert_eq!(failed.len(), 1, "exactly one check fails:\n{report}");
    (failed[0].name, failed[0].reasons.join("\n"))
}

#[test]
fn a_plugin_that_keeps_every_rule_passes_every_check() {
    let recording = Recording::default();
    let report = capstan_kit::run(&plugin("postgres", Fault::None), None, &recording);
    assert!(report.passed(), "{report}");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, capstan_kit::CHECKS);
    assert_eq!((report.kit_type.as_str(), report.kit_version), ("postgres", Some(1)));
    // The kit's postgres cases reached the plugin: one app, then two.
    let objects = recording.0.lock().unwrap();
    let secrets: Vec<&str> = objects
        .iter()
        .filter(|(_, o)| o["kind"] == "Secret")
        .map(|(_, o)| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(secrets, ["db-orders", "db-orders", "db-billing-api"], "{objects:?}");
    assert!(report.to_string().ends_with("passed: 8 checks"), "{report}");
}

#[test]
fn a_wrong_type_fails_naming_both_types() {
    let report = run("messaging", Fault::None);
    let (check, why) = only_failure(&report);
    assert_eq!(check, "type");
    assert!(why.contains("`messaging`") && why.contains("`postgres`"), "{why}");
}

#[test]
fn a_missing_output_fails_the_contract_naming_it() {
    let (check, why) = only_failure(&run("postgres", Fault::MissingHost));
    assert_eq!(check, "contract");
    assert!(why.contains("output `host` at /host breaks `required`"), "{why}");
    assert!(why.contains("case `one app`"), "{why}");
}

#[test]
fn an_output_of_the_wrong_shape_fails_the_contract_naming_path_and_rule() {
    let (check, why) = only_failure(&run("postgres", Fault::PortAsString));
    assert_eq!(check, "contract");
    assert!(why.contains("output `port` at /port breaks `type`"), "{why}");
}

#[test]
fn a_password_in_a_config_map_fails_naming_the_object_and_the_input() {
    let (check, why) = only_failure(&run("postgres", Fault::PasswordInConfigMap));
    assert_eq!(check, "sensitive");
    assert!(
        why.contains("the value of /apps/orders/password appears in ConfigMap kit/db-orders-settings at /data/DATABASE_URL"),
        "{why}"
    );
    assert!(!why.contains("kit-orders-pw"), "the report never repeats the secret: {why}");
}

#[test]
fn a_password_in_an_output_not_marked_sensitive_fails() {
    let (check, why) = only_failure(&run("postgres", Fault::PasswordInOutput));
    assert_eq!(check, "sensitive");
    assert!(
        why.contains("appears in output `admin_password` at /admin_password, which is not marked sensitive"),
        "{why}"
    );
}

#[test]
fn a_password_repeated_in_a_diagnostic_fails_and_the_report_does_not_repeat_it() {
    let report = run("postgres", Fault::PasswordInDiagnostic);
    let (check, why) = only_failure(&report);
    assert_eq!(check, "sensitive");
    assert!(why.contains("case `one app`: the value of /apps/orders/password appears in a diagnostic at /apps/orders/password"), "{why}");
    // The bad inputs' diagnostics are searched too.
    assert!(
        why.contains("bad input `a user name PostgreSQL reserves`: the value of /apps/orders/password"),
        "{why}"
    );
    let text = format!("{report}{}", serde_json::to_string(&report).unwrap());
    assert!(!text.contains("kit-orders-pw") && !text.contains("kit-bad-pw"), "{text}");
}

#[test]
fn a_different_answer_to_the_same_request_fails_naming_the_object() {
    let (check, why) = only_failure(&run("postgres", Fault::Nondeterministic));
    assert_eq!(check, "determinism");
    assert!(why.contains("Service kit/db differs between two plans of the same request"), "{why}");
}

#[test]
fn an_effect_on_an_undeclared_capability_fails_naming_it() {
    let (check, why) = only_failure(&run("postgres", Fault::UndeclaredEffect));
    assert_eq!(check, "effects");
    assert!(
        why.contains("effect `role-orders` runs on sql:postgres, which the plugin does not declare"),
        "{why}"
    );
}

#[test]
fn a_validate_that_accepts_bad_inputs_fails_naming_each() {
    let (check, why) = only_failure(&run("postgres", Fault::AcceptsEverything));
    assert_eq!(check, "bad-inputs");
    assert!(why.contains("bad input `an app key that is not a DNS label`: `validate` accepted it (expected an error at /apps/Orders_DB)"), "{why}");
    assert_eq!(why.lines().count(), 3, "{why}");
}

#[test]
fn a_type_without_a_kit_gets_the_generic_checks_over_its_defaults() {
    let report = capstan_kit::run(&plugin("cache", Fault::None), None, &Recording::default());
    assert_eq!(report.kit_version, None);
    assert!(report.passed(), "{report}");
    assert!(
        report.to_string().contains("the generic checks (no `cache` kit is shipped or published)"),
        "{report}"
    );
    assert!(report.check("contract").unwrap().reasons[0].contains("no outputs contract for `cache`"));
}

#[test]
fn a_new_type_is_checked_against_the_contract_its_plugin_publishes() {
    let publishing = |required: &str| {
        let mut p = plugin("cache", Fault::None);
        p.meta.outputs_contract = Some(OutputsContract {
            version: 3,
            schema: json!({"type": "object", "required": [required], "properties": {"host": {"type": "string"}}}),
            kit: None,
        });
        capstan_kit::run(&p, None, &Recording::default())
    };
    let kept = publishing("host");
    assert!(kept.passed(), "{kept}");
    assert!(
        kept.check("contract").unwrap().reasons[0].contains("satisfy `cache` v3, as the plugin publishes it"),
        "{kept}"
    );
    let (check, why) = only_failure(&publishing("shards"));
    assert_eq!(check, "contract");
    assert!(why.contains("output `shards` at /shards breaks `required`"), "{why}");
}

/// A `cache` backend (the test plugin, under a type Capstan does not ship)
/// that publishes its type's contract with `kit`.
fn publishing_cache(fault: Fault, kit: Value) -> Postgres {
    let mut p = plugin("cache", fault);
    p.meta.outputs_contract = Some(OutputsContract {
        version: 1,
        schema: json!({"type": "object", "required": ["host"], "properties": {"host": {"type": "string"}}}),
        kit: Some(kit),
    });
    p
}

fn cache_kit() -> Value {
    json!({
        "component_type": "cache",
        "version": 2,
        "cases": [{
            "name": "two apps",
            "inputs": {"apps": {"orders": {"password": "kit-cache-pw-1"}, "audit": {"password": "kit-cache-pw-2"}}},
            "sensitive": ["/apps/orders/password", "/apps/audit/password"]
        }],
        "bad_inputs": [{"name": "an app key with capitals", "inputs": {"apps": {"Orders": {}}}, "path": "/apps/Orders"}]
    })
}

#[test]
fn a_new_type_runs_the_kit_its_plugin_publishes() {
    let report = capstan_kit::run(&publishing_cache(Fault::None, cache_kit()), None, &Recording::default());
    assert!(report.passed(), "{report}");
    assert_eq!((report.kit_source, report.kit_version), (KitSource::Published, Some(2)));
    assert!(report.to_string().contains("the `cache` kit v2, as the plugin publishes it"), "{report}");
    assert_eq!(report.check("plans").unwrap().reasons, ["1 case(s) validated and planned"]);
    assert!(report.check("sensitive").unwrap().status == Status::Pass, "{report}");

    // The published bad inputs are demanded like the shipped kits' are.
    let lax = capstan_kit::run(
        &publishing_cache(Fault::AcceptsEverything, cache_kit()),
        None,
        &Recording::default(),
    );
    let (check, why) = only_failure(&lax);
    assert_eq!(check, "bad-inputs");
    assert!(why.contains("bad input `an app key with capitals`: `validate` accepted it"), "{why}");
}

#[test]
fn a_published_kit_that_cannot_be_read_fails_and_the_generic_checks_run() {
    let not_a_kit = capstan_kit::run(
        &publishing_cache(Fault::None, json!({"component_type": "cache", "version": 1, "cases": "all"})),
        None,
        &Recording::default(),
    );
    assert_eq!(not_a_kit.kit_source, KitSource::Generic);
    let (check, why) = only_failure(&not_a_kit);
    assert_eq!(check, "kit");
    assert!(why.starts_with("the kit the plugin publishes is not a kit"), "{why}");

    let mut other_type = cache_kit();
    other_type["component_type"] = json!("queue");
    let (check, why) = only_failure(&capstan_kit::run(
        &publishing_cache(Fault::None, other_type),
        None,
        &Recording::default(),
    ));
    assert_eq!(check, "kit");
    assert!(why.contains("is the kit of `queue`, not of its own type `cache`"), "{why}");
}

#[test]
fn a_contract_published_for_a_shipped_type_fails() {
    let mut p = plugin("postgres", Fault::None);
    p.meta.outputs_contract =
        Some(OutputsContract { version: 1, schema: json!({"type": "object"}), kit: None });
    let (check, why) = only_failure(&capstan_kit::run(&p, None, &Recording::default()));
    assert_eq!(check, "contract");
    assert!(why.contains("publishes its own outputs contract for `postgres`"), "{why}");
}

#[test]
fn the_json_report_carries_each_check_and_its_status() {
    let report = run("postgres", Fault::MissingHost);
    let doc = serde_json::to_value(&report).unwrap();
    assert_eq!(doc["plugin"], "acme/postgres-native");
    assert_eq!(doc["kit_type"], "postgres");
    let contract = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "contract").unwrap();
    assert_eq!(contract["status"], "fail");
    assert_eq!(doc["checks"][0]["status"], "pass");
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_real_validator_refuses_an_invalid_object_and_the_kit_fails_the_manifests_check() {
    let validator = ScriptValidator { script: repository().join("tests/validate_manifests.py"), crds: None };
    let good = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "ok" }, "data": { "a": "b" } });
    assert_eq!(validator.validate(&[("good".into(), good)], &[]), Verdict::Valid);
    let bad = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "Not_A_Name" }, "data": { "a": 1 } });
    match validator.validate(&[("bad".into(), bad)], &[]) {
        Verdict::Invalid(report) => assert!(report.contains("ConfigMap/Not_A_Name"), "{report}"),
        other => panic!("{other:?}"),
    }
    // The kit's plugin renders valid objects: all pass through the real validator.
    let report = capstan_kit::run(&plugin("postgres", Fault::None), None, &validator);
    assert!(report.passed(), "{report}");
}

#[test]
fn a_validator_that_cannot_run_fails_the_check_saying_so() {
    let missing = ScriptValidator { script: repository().join("tests/no-such-validator.py"), crds: None };
    let report = capstan_kit::run(&plugin("postgres", Fault::None), None, &missing);
    let (check, why) = only_failure(&report);
    assert_eq!(check, "manifests");
    assert_eq!(report.check("manifests").unwrap().status, Status::NotRun);
    assert!(why.contains("could not check the objects") && why.contains("no-such-validator.py"), "{why}");
    assert!(report.to_string().contains("NOT RUN manifests"), "{report}");
}

/// A validator whose Python module is missing (kubernetes-validate not
/// installed) is an environment problem: the check does not run, and says
/// what to install, rather than calling the objects invalid or valid.
#[test]
fn a_validator_missing_a_python_module_is_reported_as_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("validate.py");
    std::fs::write(&script, "import kubernetes_validate_not_installed_here\n").unwrap();
    let validator = ScriptValidator { script, crds: None };
    let object = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "ok" } });
    match validator.validate(&[("one".into(), object)], &[]) {
        Verdict::Unavailable(why) => {
            assert!(why.contains("lacks a Python module") && why.contains("kubernetes-validate"), "{why}");
            assert!(why.contains("kubernetes_validate_not_installed_here"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

// ---- policy plugins ---------------------------------------------------------

/// A policy that flags every `:latest` image; faulty, it names a rule it
/// does not list, or answers differently each time.
struct Latest {
    meta: Metadata,
    fault: Fault,
    calls: AtomicU64,
}

fn policy(fault: Fault, defaults: &str) -> Latest {
    let meta = Metadata {
        name: "test/latest".into(),
        version: semver::Version::new(0, 1, 0),
        component_type: capstan_core::POLICY_TYPE.into(),
        backend: String::new(),
        description: "No image by latest.".into(),
        input_schema: json!({"type": "object", "properties": {"strict": {"type": "boolean"}}, "additionalProperties": false}),
        defaults: defaults.into(),
        capabilities: vec![],
        outputs_contract: None,
        rules: vec![capstan_core::PolicyRule { id: "pinned".into(), description: "pinned images".into() }],
    };
    Latest { meta, fault, calls: AtomicU64::new(0) }
}

impl capstan_plan::PolicyHandle for Latest {
    fn metadata(&self) -> &Metadata {
        &self.meta
    }
    fn check(
        &self,
        _: &ComponentId,
        request: &capstan_core::CheckRequest,
    ) -> Result<Result<Vec<capstan_core::Violation>, String>, SeamError> {
        let rule = if self.fault == Fault::MissingHost { "unlisted" } else { "pinned" };
        let mut violations: Vec<capstan_core::Violation> = request
            .objects
            .iter()
            .enumerate()
            .filter(|(_, o)| o.to_string().contains(":latest"))
            .map(|(i, _)| capstan_core::Violation::error(rule, i, "/spec", "pin it"))
            .collect();
        if self.fault == Fault::Nondeterministic && self.calls.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
            violations.clear();
        }
        Ok(Ok(violations))
    }
}

fn policy_failures(report: &Report) -> Vec<&'static str> {
    report.checks.iter().filter(|c| c.status != Status::Pass).map(|c| c.name).collect()
}

#[test]
fn a_policy_that_keeps_its_promises_passes_the_policy_checks() {
    let report = capstan_kit::run_policy(&policy(Fault::None, "strict: true\n"));
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.kit_type, "policy");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, capstan_kit::POLICY_CHECKS);
    assert!(report.check("checks").unwrap().reasons[0].contains("1 violation"), "{report:#?}");
}

#[test]
fn a_policy_fails_for_defaults_its_schema_refuses_an_unlisted_rule_or_a_changing_answer() {
    let report = capstan_kit::run_policy(&policy(Fault::None, "strict: maybe\n"));
    assert_eq!(policy_failures(&report), ["params", "checks", "determinism", "rules"], "{report:#?}");
    assert!(report.check("params").unwrap().reasons[0].contains("strict"), "{report:#?}");
    let report = capstan_kit::run_policy(&policy(Fault::MissingHost, ""));
    assert_eq!(policy_failures(&report), ["rules"], "{report:#?}");
    assert!(report.check("rules").unwrap().reasons[0].contains("`unlisted`"), "{report:#?}");
    let report = capstan_kit::run_policy(&policy(Fault::Nondeterministic, ""));
    assert_eq!(policy_failures(&report), ["determinism"], "{report:#?}");
}
