//! The planner runs the policies: a `policy` block's plugin checks each
//! component it matches, an enforcing policy's error refuses the component
//! (and skips its dependents) with the violation traced to the input and the
//! HCL line that caused it, an audit policy's is kept as a finding, a named
//! exception waives it, and objects re-planned after effects are checked
//! again before they are applied. Plugins and policy are native Rust written
//! against the SDK; the stack is real HCL loaded by capstan-config.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::collections::BTreeMap;
use std::sync::Arc;

use capstan_config::LoadOptions;
use capstan_plan::{
    Cause, ComponentError, ComponentPlanned, EffectRunner, Outcome, PlanContext, PluginHandle,
    PluginResolver, Policies, PolicyHandle, SeamError, apply_component, plan_component, schedule,
    stack_graph,
};
use capstan_sdk::capstan_core::{SqlOp, SqlRole};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

mod support;
use support::{Fixture, Native, Plugins};

// ---- a native policy and plugins ----------------------------------------

/// No image by `:latest`.
struct Pinned;
impl Policy for Pinned {
    fn metadata() -> Metadata {
        MetadataBuilder::policy("test/pinned", "0.1.0").rule("pinned", "No image is `:latest`.").build()
    }
    fn check(req: &CheckRequest) -> Result<Vec<Violation>, String> {
        Ok(req
            .objects
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.pointer("/spec/image").and_then(Value::as_str).is_some_and(|i| i.ends_with(":latest"))
            })
            .map(|(i, _)| {
                Violation::error("pinned", i, "/spec/image", "the image is `:latest`; pin a version")
            })
            .collect())
    }
}

/// A [`PolicyHandle`] over a policy called natively.
struct NativePolicy<P>(Metadata, std::marker::PhantomData<fn() -> P>);
impl<P: Policy + 'static> PolicyHandle for NativePolicy<P> {
    fn metadata(&self) -> &Metadata {
        &self.0
    }
    fn check(
        &self,
        _: &ComponentId,
        request: &CheckRequest,
    ) -> Result<Result<Vec<Violation>, String>, SeamError> {
        Ok(P::check(request))
    }
}

/// A pod-ish object from the `image` input; after its effect has run, the
/// image the effect's result names (a registry that answers `:latest`).
struct Runner;
impl Plugin for Runner {
    fn metadata() -> Metadata {
        MetadataBuilder::new("test/runner", "0.1.0").component_type("app").backend("test").build()
    }
    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let image = match req.effect_results.first() {
            Some(result) => result.body["image"].as_str().unwrap_or_default().to_owned(),
            None => req.inputs["image"].as_str().unwrap_or_default().to_owned(),
        };
        let object = json!({"apiVersion": "test/v1", "kind": "Runner", "metadata": {"name": req.component.name},
                            "spec": {"image": image}});
        let effects = match req.inputs.get("with_effect") {
            Some(Value::Bool(true)) => vec![Effect {
                id: "role".into(),
                target: "db".into(),
                summary: "create role runner".into(),
                kind: EffectKind::Sql(vec![SqlOp::EnsureRole(SqlRole {
                    name: "runner".into(),
                    password: None,
                    login: false,
                })]),
            }],
            _ => Vec::new(),
        };
        Ok(ComponentPlan { objects: vec![object], effects, ..Default::default() })
    }
}

/// The plugins, and the policy under `test/pinned`.
struct Resolver(Plugins);
impl PluginResolver for Resolver {
    fn resolve(&self, name: &str, version: &semver::VersionReq) -> Result<Arc<dyn PluginHandle>, SeamError> {
        self.0.resolve(name, version)
    }
    fn resolve_policy(&self, name: &str, _: &semver::VersionReq) -> Result<Arc<dyn PolicyHandle>, SeamError> {
        match name {
            "test/pinned" => {
                Ok(Arc::new(NativePolicy::<Pinned>(Pinned::metadata(), std::marker::PhantomData)))
            }
            other => Err(format!("no policy named {other}").into()),
        }
    }
}

/// Effects whose result names a `:latest` image.
struct AnswersLatest;
impl EffectRunner for AnswersLatest {
    fn run(&self, _: &ComponentId, _: &Effect) -> Result<Value, SeamError> {
        Ok(json!({"image": "registry.example/runner:latest"}))
    }
}

// ---- the stack ----------------------------------------------------------

const WEB: &str = "envs/dev/web/web";
const BEHIND: &str = "envs/dev/web/behind";

/// `envs/dev/web/web` (image `web_image`) and `behind`, which depends on it;
/// client.hcl holds `policy`.
fn fixture(policy: &str, web_image: &str, web_extra: &str) -> (Fixture, Resolver) {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("client.hcl", policy);
    write("envs/dev/env.hcl", "");
    write("envs/dev/web/namespace.hcl", "namespace = \"web\"\n");
    let component = |extra: &str| {
        format!(
            "component {{\n  type    = \"app\"\n  plugin  = \"test/runner\"\n  version = \"*\"\n{extra}}}\n"
        )
    };
    write(
        "envs/dev/web/web/component.hcl",
        &format!(
            "{}inputs = {{\n  replicas = 2\n  image    = \"{web_image}\"\n{web_extra}}}\n",
            component("  grants  = [\"sql:db\"]\n")
        ),
    );
    write(
        "envs/dev/web/behind/component.hcl",
        &format!(
            "{}dependency \"web\" {{\n  config_path = \"../web\"\n}}\ninputs = {{ image = \"registry.example/behind:1.0\" }}\n",
            component("")
        ),
    );
    let stack = capstan_config::load(dir.path(), &LoadOptions::default()).unwrap_or_else(|d| panic!("{d}"));
    let plugins = || Plugins(BTreeMap::from([("test/runner", Native::<Runner>::handle())]));
    (Fixture::new(dir, stack, plugins()), Resolver(plugins()))
}

fn policy_block(mode: &str, exceptions: &str) -> String {
    format!(
        "policy \"pins\" {{\n  plugin  = \"test/pinned\"\n  version = \"^0.1\"\n  mode    = \"{mode}\"\n{exceptions}}}\n"
    )
}

type Outcomes = BTreeMap<String, Outcome<ComponentPlanned, ComponentError>>;

fn plan(f: &Fixture, resolver: &Resolver, policies: &Policies) -> Outcomes {
    let cx = PlanContext { plugins: resolver, policies, ..f.cx() };
    schedule::run(&stack_graph(&f.stack).unwrap(), 2, |key, deps| plan_component(&cx, key, deps))
}

fn bind(f: &Fixture, resolver: &Resolver) -> Policies {
    Policies::bind(&f.stack, resolver).unwrap_or_else(|e| panic!("{e}"))
}

// ---- the tests ----------------------------------------------------------

#[test]
fn an_enforcing_policy_refuses_the_component_at_the_input_that_caused_it_and_skips_its_dependents() {
    let (f, resolver) = fixture(&policy_block("enforce", ""), "registry.example/web:latest", "");
    let outcomes = plan(&f, &resolver, &bind(&f, &resolver));
    let Outcome::Failed(ComponentError::Policy { findings }) = &outcomes[WEB] else {
        panic!("{WEB} is not refused: {:?}", outcomes[WEB].done().map(|p| &p.policy_findings));
    };
    assert_eq!(findings.len(), 1, "{findings:?}");
    let finding = &findings[0];
    assert_eq!(
        (finding.policy.as_str(), finding.rule.as_str(), finding.path.as_str()),
        ("pins", "pinned", "/spec/image")
    );
    assert_eq!(finding.object.kind, "Runner");
    assert!(finding.blocks());
    let Cause::Input { pointer, set_at } = &finding.cause else { panic!("{:?}", finding.cause) };
    assert_eq!(pointer, "/image");
    assert_eq!((set_at.file.to_str().unwrap(), set_at.line), ("envs/dev/web/web/component.hcl", 9));
    assert!(
        matches!(&outcomes[BEHIND], Outcome::Skipped { .. }),
        "a refused dependency skips its dependents"
    );
}

#[test]
fn audit_keeps_the_finding_and_an_exception_waives_it() {
    let (f, resolver) = fixture(&policy_block("audit", ""), "registry.example/web:latest", "");
    let outcomes = plan(&f, &resolver, &bind(&f, &resolver));
    let planned = outcomes[WEB].done().unwrap();
    assert_eq!(planned.policy_findings.len(), 1);
    assert!(!planned.policy_findings[0].blocks());
    assert!(outcomes[BEHIND].done().is_some());

    let exception = "  exceptions = [{ name = \"web-tracks-latest\", rules = [\"pinned\"], components = [\"web\"],\n    reason = \"the web team deploys every build\" }]\n";
    let (f, resolver) = fixture(&policy_block("enforce", exception), "registry.example/web:latest", "");
    let outcomes = plan(&f, &resolver, &bind(&f, &resolver));
    let planned = outcomes[WEB].done().unwrap_or_else(|| panic!("waived, so planned"));
    let waiver = planned.policy_findings[0].waived_by.as_ref().unwrap();
    assert_eq!(
        (waiver.name.as_str(), waiver.reason.as_str()),
        ("web-tracks-latest", "the web team deploys every build")
    );
    assert!(waiver.set_at.starts_with("client.hcl:"), "{}", waiver.set_at);
}

#[test]
fn a_pinned_plan_passes_and_no_policy_block_checks_nothing() {
    let (f, resolver) = fixture(&policy_block("enforce", ""), "registry.example/web:1.0", "");
    let outcomes = plan(&f, &resolver, &bind(&f, &resolver));
    assert!(outcomes.values().all(|o| o.done().is_some_and(|p| p.policy_findings.is_empty())));
    let (f, resolver) = fixture("", "registry.example/web:latest", "");
    assert!(bind(&f, &resolver).is_empty());
    assert!(f.plan()[WEB].done().is_some_and(|p| p.policy_findings.is_empty()));
}

#[test]
fn objects_replanned_after_effects_are_checked_again_before_they_are_applied() {
    let (f, resolver) =
        fixture(&policy_block("enforce", ""), "registry.example/web:1.0", "  with_effect = true\n");
    let policies = bind(&f, &resolver);
    let outcomes = plan(&f, &resolver, &policies);
    let planned = outcomes[WEB].done().unwrap_or_else(|| panic!("a pinned image plans"));
    let cx = PlanContext { plugins: &resolver, policies: &policies, ..f.cx() };
    let err = apply_component(&cx, planned, &AnswersLatest).err().expect("the re-planned image is refused");
    let ComponentError::Policy { findings } = &err else { panic!("{err}") };
    assert_eq!(findings[0].rule, "pinned");
    // Without the policy the same apply goes through.
    let none = Policies::none();
    let cx = PlanContext { plugins: &resolver, policies: &none, ..f.cx() };
    assert!(apply_component(&cx, planned, &AnswersLatest).is_ok());
}

#[test]
fn a_policy_block_naming_no_policy_plugin_is_a_clear_error_before_planning() {
    let block = "policy \"pins\" {\n  plugin  = \"test/missing\"\n  version = \"^0.1\"\n}\n";
    let (f, resolver) = fixture(block, "registry.example/web:1.0", "");
    let err = Policies::bind(&f.stack, &resolver).err().unwrap().to_string();
    assert!(
        err.starts_with("policy pins (client.hcl:1:1): plugin test/missing ^0.1 could not be loaded"),
        "{err}"
    );
}
