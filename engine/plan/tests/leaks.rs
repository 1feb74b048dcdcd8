//! The planner and apply check every answer of a plugin against the
//! component's sensitive values before anything of it is shown or stored:
//! a dependency's sensitive output counts as one of the component's
//! secrets, an effect's result (kept in state) is checked before it is
//! recorded, and a plan made again after effects ran is checked like the
//! first. (Each channel of a wasm plugin — logs, panics, diagnostics… — is
//! run through the real engine in `tests/tests/all/leaks.rs`.)

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use capstan_config::LoadOptions;
use capstan_core::{SecretProvider, SecretSourceError, SqlOp, SqlRole};
use capstan_plan::{ComponentError, EffectRunner, Outcome, SeamError, apply_component};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

mod support;
use support::{Fixture, Native, Plugins};

const PASSWORD: &str = "correct horse battery";
const ADMIN: &str = "admin-staple-9";

/// `secret_ref("env:PASSWORD")` and nothing else.
struct Env;
impl SecretProvider for Env {
    fn open_file(&self, _: &Path, _: &[u8]) -> Result<BTreeMap<String, Sensitive>, SecretSourceError> {
        Err("no secrets files here".into())
    }
    fn resolve_ref(&self, reference: &str) -> Result<Sensitive, SecretSourceError> {
        match reference {
            "env:PASSWORD" => Ok(Sensitive::new(PASSWORD)),
            other => Err(format!("unknown reference {other}").into()),
        }
    }
}

/// A database server: a role with the `password` input, and an admin
/// password output marked sensitive. Once its effect ran, it also puts
/// the password in a plain output (a plugin that leaks only on apply).
struct Server;
impl Plugin for Server {
    fn metadata() -> Metadata {
        MetadataBuilder::new("test/server", "0.1.0").component_type("db").backend("test").build()
    }
    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let password = req.inputs["password"].as_str().unwrap_or_default().to_owned();
        let effect = Effect {
            id: "role".into(),
            target: "db".into(),
            summary: "ensure role app".into(),
            kind: EffectKind::Sql(vec![SqlOp::EnsureRole(SqlRole {
                name: "app".into(),
                password: Some(Sensitive::new(&password)),
                login: true,
            })]),
        };
        let mut outputs = vec![Output { name: "admin".into(), value: json!(ADMIN), sensitive: true }];
        if !req.effect_results.is_empty() && req.inputs["leak_after_apply"] == true {
            outputs.push(Output {
                name: "dsn".into(),
                value: json!(format!("app:{password}@db")),
                sensitive: false,
            });
        }
        Ok(ComponentPlan { effects: vec![effect], outputs, ..Default::default() })
    }
}

/// An app that writes its database's admin password into a ConfigMap.
struct App;
impl Plugin for App {
    fn metadata() -> Metadata {
        MetadataBuilder::new("test/app", "0.1.0").component_type("app").backend("test").build()
    }
    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let admin = req.dependency("db").and_then(|d| d.output("admin")).cloned().unwrap_or_default();
        let config_map = json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}, "data": {"admin": admin},
        });
        Ok(ComponentPlan { objects: vec![config_map], ..Default::default() })
    }
}

fn plugins() -> Plugins {
    Plugins(BTreeMap::from([
        ("test/server", Native::<Server>::handle()),
        ("test/app", Native::<App>::handle()),
    ]))
}

/// A server that answers with what it was sent: the password comes back in
/// the effect's result, which state would keep in clear.
struct Echo;
impl EffectRunner for Echo {
    fn run(&self, _: &ComponentId, effect: &Effect) -> Result<Value, SeamError> {
        let EffectKind::Sql(ops) = &effect.kind else { return Ok(json!({})) };
        let SqlOp::EnsureRole(role) = &ops[0] else { return Ok(json!({})) };
        Ok(json!({"created": role.name, "echo": role.password.as_ref().map(|p| p.expose())}))
    }
}

/// Answers `{}`: nothing echoed.
struct Quiet;
impl EffectRunner for Quiet {
    fn run(&self, _: &ComponentId, _: &Effect) -> Result<Value, SeamError> {
        Ok(json!({}))
    }
}

fn fixture(leak_after_apply: bool) -> Fixture {
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
            "component {{\n  type = \"db\"\n  plugin = \"test/server\"\n  version = \"*\"\n  grants = [\"sql:db\"]\n}}\n\
             inputs = {{\n  password = secret_ref(\"env:PASSWORD\")\n  leak_after_apply = {leak_after_apply}\n}}\n"
        ),
    );
    write(
        "envs/dev/data/api/component.hcl",
        "component {\n  type = \"app\"\n  plugin = \"test/app\"\n  version = \"*\"\n}\n\
         dependency \"db\" {\n  config_path = \"../db\"\n}\ninputs = {}\n",
    );
    let options = LoadOptions { secrets: Some(Arc::new(Env)), env: BTreeMap::new() };
    let stack = capstan_config::load(dir.path(), &options).unwrap_or_else(|d| panic!("{d}"));
    Fixture::new(dir, stack, plugins())
}

const DB: &str = "envs/dev/data/db";
const API: &str = "envs/dev/data/api";

fn leak_message(err: &ComponentError) -> String {
    let ComponentError::Leaked { .. } = err else { panic!("not a leak: {err}") };
    let text = err.to_string();
    for secret in [PASSWORD, ADMIN] {
        assert!(!text.contains(secret) && !format!("{err:?}").contains(secret), "{text}");
    }
    text
}

#[test]
fn a_dependencys_sensitive_output_is_a_secret_of_its_dependents() {
    let f = fixture(false);
    let outcomes = f.plan();
    assert!(outcomes[DB].done().is_some(), "the server keeps its secrets where they may be");
    let Outcome::Failed(err) = &outcomes[API] else { panic!("the app's leak was not caught") };
    assert_eq!(
        leak_message(err),
        "plugin test/app 0.1.0 leaked a sensitive value at ConfigMap app field /data/admin \
         (component envs/dev/data/api, the value of dependency.db.admin); it was redacted and the \
         component's plan dropped"
    );
}

#[test]
fn an_effect_result_holding_a_secret_is_not_recorded() {
    let f = fixture(false);
    let outcomes = f.plan();
    let planned = outcomes[DB].done().unwrap();
    let err = apply_component(&f.cx(), planned, &Echo).err().expect("the echoed password was recorded");
    assert_eq!(
        leak_message(&err),
        "plugin test/server 0.1.0 leaked a sensitive value at the result of effect `role` field /echo \
         (component envs/dev/data/db, the value of /password); it was redacted and the component's plan dropped"
    );
    // The same effect answered without the password is recorded.
    let applied = apply_component(&f.cx(), planned, &Quiet).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(applied.state.effects.len(), 1);
}

#[test]
fn a_plan_made_again_after_effects_is_checked_like_the_first() {
    let f = fixture(true);
    let outcomes = f.plan();
    let planned = outcomes[DB].done().unwrap_or_else(|| panic!("it leaks only once effects ran"));
    let err = apply_component(&f.cx(), planned, &Quiet).err().expect("the re-planned leak was recorded");
    assert_eq!(
        leak_message(&err),
        "plugin test/server 0.1.0 leaked a sensitive value at output `dsn` (component envs/dev/data/db, \
         the value of /password); it was redacted and the component's plan dropped"
    );
}
