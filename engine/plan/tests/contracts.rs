//! The engine enforces the outputs contracts: a plugin whose type is not the
//! component's is refused before it is called, a plugin whose outputs break
//! its type's contract fails naming the output, the JSON path and the rule,
//! and a component that reads its outputs is skipped, never planned with
//! them. The plugins here are native Rust written against the SDK, the way
//! a partner writes one; the stack is real HCL loaded by capstan-config.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use capstan_config::LoadOptions;
use capstan_plan::{ComponentError, ComponentPlanned, EffectRunner, Outcome, SeamError, apply_component};
use capstan_sdk::capstan_core::{SqlOp, SqlRole};
use capstan_sdk::contracts::postgres;
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

mod support;
use support::{Fixture, Native, Plugins};

// ---- native test plugins ------------------------------------------------

fn metadata(name: &str, component_type: &str) -> Metadata {
    MetadataBuilder::new(format!("test/{name}"), "0.1.0")
        .component_type(component_type)
        .backend("test")
        .build()
}

fn good_postgres() -> postgres::Outputs {
    postgres::Outputs {
        host: "db.data.svc".into(),
        port: 5432,
        database: "app".into(),
        user: "app_user".into(),
        password_secret: contracts::SecretKeyRef {
            name: "db-app".into(),
            key: "password".into(),
            namespace: None,
        },
        databases: BTreeMap::new(),
        sslmode: None,
        ca_secret: None,
        network: Vec::new(),
    }
}

/// A postgres backend that keeps its contract.
struct GoodDb;
impl Plugin for GoodDb {
    fn metadata() -> Metadata {
        metadata("good-db", "postgres")
    }
    fn plan(_: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        Ok(ComponentPlan { outputs: contracts::outputs(&good_postgres(), &[])?, ..Default::default() })
    }
}

/// A postgres backend that forgets `host` and writes the port as text.
struct BrokenDb;
impl Plugin for BrokenDb {
    fn metadata() -> Metadata {
        metadata("broken-db", "postgres")
    }
    fn plan(_: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let mut outputs = contracts::outputs(&good_postgres(), &[])?;
        outputs.retain(|o| o.name != "host");
        for o in &mut outputs {
            if o.name == "port" {
                o.value = json!("5432");
            }
        }
        Ok(ComponentPlan { outputs, ..Default::default() })
    }
}

/// A postgres backend whose outputs break the contract only once its
/// effect has run (the result is not what it expected): apply checks the
/// re-planned outputs too.
struct BrokenAfterEffects;
impl Plugin for BrokenAfterEffects {
    fn metadata() -> Metadata {
        metadata("broken-after-effects", "postgres")
    }
    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let mut outputs = contracts::outputs(&good_postgres(), &[])?;
        if !req.effect_results.is_empty() {
            outputs.retain(|o| o.name != "password_secret");
        }
        let effect = Effect {
            id: "role".into(),
            target: "db".into(),
            summary: "create role app_user".into(),
            kind: EffectKind::Sql(vec![SqlOp::EnsureRole(SqlRole {
                name: "app_user".into(),
                password: Some(Sensitive::new("x")),
                login: true,
            })]),
        };
        Ok(ComponentPlan { effects: vec![effect], outputs, ..Default::default() })
    }
}

/// A messaging backend, to be put where a postgres one belongs.
struct Queue;
impl Plugin for Queue {
    fn metadata() -> Metadata {
        metadata("queue", "messaging")
    }
    fn plan(_: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        PLANS.fetch_add(1, Ordering::SeqCst);
        Ok(ComponentPlan::default())
    }
}

/// A third party's type Capstan ships no contract for.
struct Cache;
impl Plugin for Cache {
    fn metadata() -> Metadata {
        metadata("cache", "cache")
    }
    fn plan(_: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let outputs = vec![Output { name: "nodes".into(), value: json!([1, 2, 3]), sensitive: false }];
        Ok(ComponentPlan { outputs, ..Default::default() })
    }
}

/// The contract the `cache` type's plugins publish (contract 0.2).
fn cache_contract() -> Value {
    json!({
        "type": "object",
        "required": ["host", "password_secret"],
        "properties": {
            "host": {"type": "string"},
            "password_secret": {
                "type": "object", "required": ["name", "key"], "additionalProperties": false,
                "properties": {"name": {"type": "string"}, "key": {"type": "string"}}
            }
        }
    })
}

/// A `cache` backend that publishes its type's contract and keeps it, or
/// (`BROKEN`) forgets the Secret's key.
struct PublishedCache<const BROKEN: bool>;
impl<const BROKEN: bool> Plugin for PublishedCache<BROKEN> {
    fn metadata() -> Metadata {
        MetadataBuilder::new(format!("test/published-cache-{BROKEN}"), "0.1.0")
            .component_type("cache")
            .backend("redis")
            .outputs_contract(1, cache_contract())
            .build()
    }
    fn plan(_: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let secret =
            if BROKEN { json!({"name": "cache-auth"}) } else { json!({"name": "cache-auth", "key": "pw"}) };
        let outputs = vec![
            Output { name: "host".into(), value: json!("redis.data.svc"), sensitive: false },
            Output { name: "password_secret".into(), value: secret, sensitive: false },
        ];
        Ok(ComponentPlan { outputs, ..Default::default() })
    }
}

/// A postgres backend that tries to publish a contract of its own for
/// `postgres`, whose contract Capstan ships.
struct RedefinesPostgres;
impl Plugin for RedefinesPostgres {
    fn metadata() -> Metadata {
        MetadataBuilder::new("test/redefines-postgres", "0.1.0")
            .component_type("postgres")
            .backend("test")
            .outputs_contract(1, json!({"type": "object"}))
            .build()
    }
    fn plan(_: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        Ok(ComponentPlan { outputs: contracts::outputs(&good_postgres(), &[])?, ..Default::default() })
    }
}

/// A `cache` backend that finds its inputs wrong only in `plan` (its
/// `validate` accepts them), as a plugin does when a rule needs the
/// dependencies' outputs.
struct RefusesInPlan;
impl Plugin for RefusesInPlan {
    fn metadata() -> Metadata {
        metadata("refuses-in-plan", "cache")
    }
    fn plan(_: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        Err(PlanError::InvalidInputs(vec![Diagnostic {
            path: "/size".into(),
            severity: Severity::Error,
            message: "must be even".into(),
        }]))
    }
}

/// Counts plugin `plan` calls that must never happen.
static PLANS: AtomicUsize = AtomicUsize::new(0);

/// An app that reads its database's outputs through the contract.
struct Consumer;
impl Plugin for Consumer {
    fn metadata() -> Metadata {
        metadata("consumer", "app")
    }
    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        for (_, db) in contracts::all::<postgres::Outputs>(&req.dependencies) {
            db?;
        }
        Ok(ComponentPlan::default())
    }
}

fn all_plugins() -> Plugins {
    Plugins(BTreeMap::from([
        ("test/good-db", Native::<GoodDb>::handle()),
        ("test/broken-db", Native::<BrokenDb>::handle()),
        ("test/broken-after-effects", Native::<BrokenAfterEffects>::handle()),
        ("test/queue", Native::<Queue>::handle()),
        ("test/cache", Native::<Cache>::handle()),
        ("test/published-cache", Native::<PublishedCache<false>>::handle()),
        ("test/published-cache-broken", Native::<PublishedCache<true>>::handle()),
        ("test/redefines-postgres", Native::<RedefinesPostgres>::handle()),
        ("test/consumer", Native::<Consumer>::handle()),
        ("test/refuses-in-plan", Native::<RefusesInPlan>::handle()),
    ]))
}

/// Effects that succeed with an empty result.
struct Succeed;
impl EffectRunner for Succeed {
    fn run(&self, _: &ComponentId, _: &Effect) -> Result<Value, SeamError> {
        Ok(json!({}))
    }
}

// ---- the stack ------------------------------------------------------------

/// A stack with `data/db` (type `db_type`, plugin `db_plugin`) and
/// `data/api`, an app that depends on it.
fn fixture(db_type: &str, db_plugin: &str, db_extra: &str) -> Fixture {
    fixture_with_inputs(db_type, db_plugin, db_extra, "{}")
}

/// [`fixture`], with `data/db`'s `inputs = …` as given.
fn fixture_with_inputs(db_type: &str, db_plugin: &str, db_extra: &str, db_inputs: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("client.hcl", "");
    write("envs/dev/env.hcl", "");
    write("envs/dev/data/namespace.hcl", "namespace = \"data\"\n");
    write(
        "envs/dev/data/db/component.hcl",
        &format!(
            "component {{\n  type    = \"{db_type}\"\n  plugin  = \"{db_plugin}\"\n  version = \"*\"\n{db_extra}}}\ninputs = {db_inputs}\n"
        ),
    );
    write(
        "envs/dev/data/api/component.hcl",
        "component {\n  type    = \"app\"\n  plugin  = \"test/consumer\"\n  version = \"*\"\n}\n\
         dependency \"db\" {\n  config_path = \"../db\"\n}\ninputs = {}\n",
    );
    let stack = capstan_config::load(dir.path(), &LoadOptions::default()).unwrap_or_else(|d| panic!("{d}"));
    Fixture::new(dir, stack, all_plugins())
}

const DB: &str = "envs/dev/data/db";
const API: &str = "envs/dev/data/api";

fn failed<'a>(
    outcomes: &'a BTreeMap<String, Outcome<ComponentPlanned, ComponentError>>,
    key: &str,
) -> &'a ComponentError {
    match &outcomes[key] {
        Outcome::Failed(e) => e,
        Outcome::Done(_) => panic!("{key} was planned"),
        Outcome::Skipped { because } => panic!("{key} was skipped: {because}"),
    }
}

fn skipped(outcomes: &BTreeMap<String, Outcome<ComponentPlanned, ComponentError>>, key: &str) -> bool {
    matches!(&outcomes[key], Outcome::Skipped { because } if because == &format!("dependency {DB} failed"))
}

// ---- the tests ------------------------------------------------------------

#[test]
fn a_plugin_of_another_type_is_refused_before_it_is_called() {
    let f = fixture("postgres", "test/queue", "");
    let before = PLANS.load(Ordering::SeqCst);
    let outcomes = f.plan();
    let err = failed(&outcomes, DB);
    let ComponentError::TypeMismatch { component, at, declared, plugin, plugin_type } = err else {
        panic!("{err:?}");
    };
    assert_eq!(component, DB);
    assert_eq!(at, "envs/dev/data/db/component.hcl:1:1");
    assert_eq!(
        (declared.as_str(), plugin.as_str(), plugin_type.as_str()),
        ("postgres", "test/queue 0.1.0", "messaging")
    );
    assert_eq!(
        err.to_string(),
        "component envs/dev/data/db (envs/dev/data/db/component.hcl:1:1) declares type `postgres`, \
         but its plugin test/queue 0.1.0 plans `messaging` components: use a `postgres` plugin or change the type"
    );
    assert_eq!(PLANS.load(Ordering::SeqCst), before, "the mismatched plugin was called");
    assert!(skipped(&outcomes, API), "{:?}", outcomes[API].done().is_some());
}

#[test]
fn outputs_that_break_the_contract_fail_the_component_and_skip_its_dependents() {
    let f = fixture("postgres", "test/broken-db", "");
    let outcomes = f.plan();
    let err = failed(&outcomes, DB);
    let ComponentError::OutputsContract { plugin, component_type, version, violations } = err else {
        panic!("{err:?}");
    };
    assert_eq!((plugin.as_str(), component_type.as_str(), *version), ("test/broken-db 0.1.0", "postgres", 1));
    let found: Vec<(&str, &str, &str)> =
        violations.iter().map(|v| (v.output.as_str(), v.path.as_str(), v.rule.as_str())).collect();
    assert_eq!(found.len(), 2, "{violations:?}");
    assert!(found.contains(&("host", "/host", "required")), "{found:?}");
    assert!(found.contains(&("port", "/port", "type")), "{found:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "plugin test/broken-db 0.1.0 broke the `postgres` outputs contract (v1):\n  output `"
        ),
        "{text}"
    );
    assert!(text.contains("output `port` at /port breaks `type`"), "{text}");
    assert!(skipped(&outcomes, API), "the app was planned with unchecked outputs");
}

#[test]
fn a_diagnostic_from_plan_points_at_the_hcl_that_set_the_input() {
    let f = fixture_with_inputs("cache", "test/refuses-in-plan", "", "{\n  size = 3\n}");
    let outcomes = f.plan();
    let err = failed(&outcomes, DB);
    let ComponentError::Invalid { plugin, problems } = err else { panic!("{err:?}") };
    assert_eq!(plugin, "test/refuses-in-plan 0.1.0");
    let [problem] = problems.as_slice() else { panic!("{problems:?}") };
    let at = problem.set_at.as_ref().expect("the input was set in HCL");
    assert_eq!((at.file.to_str(), at.line), (Some("envs/dev/data/db/component.hcl"), 7));
    assert_eq!(problem.to_string(), "/size: must be even (set at envs/dev/data/db/component.hcl:7 (inputs))");
    assert!(skipped(&outcomes, API));
}

#[test]
fn outputs_that_keep_the_contract_reach_the_dependent() {
    let f = fixture("postgres", "test/good-db", "");
    let outcomes = f.plan();
    for key in [DB, API] {
        assert!(outcomes[key].done().is_some(), "{key}: {:?}", failed(&outcomes, key));
    }
}

#[test]
fn a_type_without_a_shipped_contract_passes_unchecked() {
    let f = fixture("cache", "test/cache", "");
    let outcomes = f.plan();
    let db = outcomes[DB].done().unwrap_or_else(|| panic!("{:?}", failed(&outcomes, DB)));
    assert_eq!(db.outputs[0].value, json!([1, 2, 3]));
}

#[test]
fn a_new_type_is_checked_against_the_contract_its_plugin_publishes() {
    let f = fixture("cache", "test/published-cache", "");
    let outcomes = f.plan();
    assert!(outcomes[DB].done().is_some(), "{:?}", failed(&outcomes, DB));

    let f = fixture("cache", "test/published-cache-broken", "");
    let outcomes = f.plan();
    let err = failed(&outcomes, DB);
    let ComponentError::OutputsContract { component_type, version, violations, .. } = err else {
        panic!("expected a contract violation, got {err}");
    };
    assert_eq!((component_type.as_str(), *version), ("cache", 1));
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(
        (violations[0].output.as_str(), violations[0].path.as_str(), violations[0].rule.as_str()),
        ("password_secret", "/password_secret", "required")
    );
    assert!(skipped(&outcomes, API));
}

#[test]
fn a_plugin_may_not_publish_a_contract_for_a_shipped_type() {
    let f = fixture("postgres", "test/redefines-postgres", "");
    let outcomes = f.plan();
    let err = failed(&outcomes, DB).to_string();
    assert!(
        err.contains(
            "publishes its own outputs contract for `postgres`, a type whose contract Capstan ships"
        ),
        "{err}"
    );
}

#[test]
fn outputs_replanned_after_effects_are_checked_before_they_are_recorded() {
    let f = fixture("postgres", "test/broken-after-effects", "  grants  = [\"sql:db\"]\n");
    let outcomes = f.plan();
    let planned = outcomes[DB].done().unwrap_or_else(|| panic!("{:?}", failed(&outcomes, DB)));
    let err = apply_component(&f.cx(), planned, &Succeed).err().unwrap();
    let ComponentError::OutputsContract { violations, .. } = &err else { panic!("{err:?}") };
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!((violations[0].path.as_str(), violations[0].rule.as_str()), ("/password_secret", "required"));
}
