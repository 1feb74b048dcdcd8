//! A workload's pods roll when a Secret they read changes, even when another
//! component renders it: the planner sets the pod template's
//! `capstan.dev/secrets-digest` to a keyed digest of the Secrets it reads
//! that the component or its dependencies render. Here a database renders
//! an app's password Secret from a secrets-file value, and the app, its
//! dependent, reads it by name.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use capstan_config::LoadOptions;
use capstan_core::leaks::Secrets;
use capstan_core::{SecretProvider, SecretSourceError, SqlOp, SqlRole};
use capstan_plan::secrets_digest::ANNOTATION;
use capstan_plan::{
    Action, ComponentPlanned, ComponentRef, EffectRunner, ObjectRef, ObjectTarget, Outcome, PlanContext,
    SeamError, apply_component, plan_component, schedule, stack_graph,
};
use capstan_sdk::prelude::*;
use capstan_state::StateKey;
use serde_json::{Value, json};

mod support;
use support::{Fixture, Native, Plugins};

/// `secret_ref("env:PASSWORD")`, as this fixture's secrets file would hold it.
struct Env(&'static str);
impl SecretProvider for Env {
    fn open_file(&self, _: &Path, _: &[u8]) -> Result<BTreeMap<String, Sensitive>, SecretSourceError> {
        Err("no secrets files here".into())
    }
    fn resolve_ref(&self, reference: &str) -> Result<Sensitive, SecretSourceError> {
        match reference {
            "env:PASSWORD" => Ok(Sensitive::new(self.0)),
            other => Err(format!("unknown reference {other}").into()),
        }
    }
}

/// A database: the app's credentials Secret (`stringData`, as the SDK
/// writes it) and its name as an output, its server reading the Secret too,
/// and an effect, so apply plans it again.
struct Db;
impl Plugin for Db {
    fn metadata() -> Metadata {
        MetadataBuilder::new("test/db", "0.1.0").component_type("test-db").backend("test").build()
    }
    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-app"}, "type": "Opaque",
            "stringData": {"username": "app", "password": req.inputs["password"]},
        });
        let server = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": {"serviceName": "db", "template": {"spec": {
                "containers": [{"name": "db", "image": "postgres:17"}],
                "volumes": [{"name": "app", "secret": {"secretName": "db-app"}}],
            }}},
        });
        let effect = Effect {
            id: "role".into(),
            target: "db".into(),
            summary: "ensure role app".into(),
            kind: EffectKind::Sql(vec![SqlOp::EnsureRole(SqlRole {
                name: "app".into(),
                password: req.inputs["password"].as_str().map(Sensitive::new),
                login: true,
            })]),
        };
        let outputs = vec![Output { name: "secret".into(), value: json!("db-app"), sensitive: false }];
        Ok(ComponentPlan {
            objects: vec![secret, server],
            effects: vec![effect],
            outputs,
            ..Default::default()
        })
    }
}

/// An app whose Deployment reads `secret` by name (from its `db`
/// dependency's output when it has one) and a Secret nobody renders.
struct App;
impl Plugin for App {
    fn metadata() -> Metadata {
        MetadataBuilder::new("test/app", "0.1.0").component_type("test-app").backend("test").build()
    }
    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let from_db = req.dependency("db").and_then(|d| d.output("secret")).cloned();
        let secret = from_db.unwrap_or_else(|| req.inputs["secret"].clone());
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
            "spec": {"template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{
                "name": "api", "image": "api:1",
                "env": [{"name": "DB_PASSWORD",
                         "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}}],
                "envFrom": [{"secretRef": {"name": "made-by-an-operator"}}],
            }]}}},
        });
        Ok(ComponentPlan { objects: vec![deployment], ..Default::default() })
    }
}

const DB: &str = "envs/dev/shop/db";
const API: &str = "envs/dev/shop/api";

/// The stack with the database's password `password`, and the app depending
/// on it (`depends`) or merely naming its Secret (not).
fn fixture(password: &'static str, depends: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("client.hcl", "");
    write("envs/dev/env.hcl", "");
    write("envs/dev/shop/namespace.hcl", "namespace = \"shop\"\n");
    write(
        &format!("{DB}/component.hcl"),
        "component {\n  type = \"test-db\"\n  plugin = \"test/db\"\n  version = \"*\"\n  grants = [\"sql:db\"]\n}\n\
         inputs = {\n  password = secret_ref(\"env:PASSWORD\")\n}\n",
    );
    let wiring = if depends {
        "dependency \"db\" {\n  config_path = \"../db\"\n}\ninputs = {}\n"
    } else {
        "inputs = {\n  secret = \"db-app\"\n}\n"
    };
    write(
        &format!("{API}/component.hcl"),
        &format!(
            "component {{\n  type = \"test-app\"\n  plugin = \"test/app\"\n  version = \"*\"\n}}\n{wiring}"
        ),
    );
    let options = LoadOptions { secrets: Some(Arc::new(Env(password))), env: BTreeMap::new() };
    let stack = capstan_config::load(dir.path(), &options).unwrap_or_else(|d| panic!("{d}"));
    let plugins =
        Plugins(BTreeMap::from([("test/db", Native::<Db>::handle()), ("test/app", Native::<App>::handle())]));
    let mut fixture = Fixture::new(dir, stack, plugins);
    // One stack's key, as its state keeps it from run to run.
    fixture.key = StateKey::from_bytes([42; 32]);
    fixture
}

fn planned<'o>(
    outcomes: &'o BTreeMap<String, Outcome<ComponentPlanned, capstan_plan::ComponentError>>,
    key: &str,
) -> &'o ComponentPlanned {
    match &outcomes[key] {
        Outcome::Done(p) => p,
        Outcome::Failed(e) => panic!("{key} failed: {e}"),
        Outcome::Skipped { because } => panic!("{key} skipped: {because}"),
    }
}

/// The app's Deployment as it would be applied.
fn deployment(f: &Fixture) -> Value {
    let outcomes = f.plan();
    planned(&outcomes, API).desired_objects().into_iter().next().unwrap()
}

fn digest(deployment: &Value) -> Option<String> {
    deployment["spec"]["template"]["metadata"]["annotations"][ANNOTATION].as_str().map(str::to_owned)
}

/// `sha256:<hex>` and the bare hex of some text.
fn plain_sha256(text: &str) -> [String; 2] {
    let hex = capstan_state::sha256_digest(text.as_bytes());
    [hex.clone(), hex.trim_start_matches("sha256:").to_owned()]
}

#[test]
fn a_dependencys_changed_secret_changes_its_dependents_pod_template() {
    let before = digest(&deployment(&fixture("hunter2", true))).expect("the app reads the db's Secret");
    let again = digest(&deployment(&fixture("hunter2", true)));
    assert_eq!(again.as_deref(), Some(before.as_str()), "same Secrets and key, same annotation");
    let rotated = digest(&deployment(&fixture("hunter3", true))).unwrap();
    assert_ne!(rotated, before, "a rotated password rolls the pods");

    // Under another stack's key the same password gives another digest: it
    // is keyed, not a hash anyone could recompute.
    let mut other = fixture("hunter2", true);
    other.key = StateKey::from_bytes([7; 32]);
    assert_ne!(digest(&deployment(&other)).unwrap(), before);
}

#[test]
fn the_annotation_reveals_nothing_of_the_secret() {
    let f = fixture("hunter2", true);
    let deployment = deployment(&f);
    let annotation = digest(&deployment).unwrap();
    assert!(annotation.starts_with("hmac-sha256:"), "{annotation}");
    let data = r#"{"password":"hunter2","username":"app"}"#;
    for plain in ["hunter2", data, "db-apphunter2"].iter().flat_map(|t| plain_sha256(t)) {
        assert!(!annotation.contains(&plain), "the annotation is a plain hash: {annotation}");
    }
    // The engine's own leak rule finds nothing of the password in the
    // annotated Deployment, in any form it looks for.
    let mut secrets = Secrets::default();
    secrets.add("/password", "hunter2");
    let plan = ComponentPlan { objects: vec![deployment], ..Default::default() };
    assert!(secrets.in_plan(&plan, &[]).is_empty());
}

#[test]
fn a_secret_the_component_does_not_depend_on_is_not_known() {
    // The db is planned beside the app, maybe after it: reading its Secret
    // anyway would make the plan depend on the schedule.
    let deployment = deployment(&fixture("hunter2", false));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        "db-app"
    );
    assert_eq!(digest(&deployment), None);
}

/// A target holding what was applied before, by object.
#[derive(Default)]
struct Holding(Mutex<BTreeMap<ObjectRef, Value>>);

impl ObjectTarget for Holding {
    fn current(&self, _: ComponentRef<'_>, object: &ObjectRef) -> Result<Option<Value>, SeamError> {
        Ok(self.0.lock().unwrap().get(object).cloned())
    }
    fn apply(&self, _: ComponentRef<'_>, objects: &[Value], _: &[ObjectRef]) -> Result<(), SeamError> {
        let mut held = self.0.lock().unwrap();
        for o in objects {
            held.insert(ObjectRef::of(o).unwrap(), o.clone());
        }
        Ok(())
    }
    fn remove(&self, _: ComponentRef<'_>, _: &[ObjectRef]) -> Result<(), SeamError> {
        Ok(())
    }
}

#[test]
fn the_plan_shows_the_reader_changing_with_the_new_digest_only() {
    let applied = fixture("hunter2", true);
    let target = Holding::default();
    let held = deployment(&applied);
    target.0.lock().unwrap().insert(ObjectRef::of(&held).unwrap(), held.clone());

    let rotated = fixture("hunter3", true);
    let cx = PlanContext { target: &target, ..rotated.cx() };
    let outcomes =
        schedule::run(&stack_graph(&rotated.stack).unwrap(), 2, |key, deps| plan_component(&cx, key, deps));
    let app = planned(&outcomes, API);
    let Action::Update(changes) = &app.objects[0].action else { panic!("{:?}", app.objects[0].action) };
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].path, "/spec/template/metadata/annotations/capstan.dev~1secrets-digest");
    let shown = |d: Option<String>| d.map(|d| format!("{d:?}"));
    assert_eq!(changes[0].before, shown(digest(&held)));
    assert_eq!(changes[0].after, shown(digest(&app.desired_objects()[0])));
}

/// Answers every effect with `{}`.
struct Quiet;
impl EffectRunner for Quiet {
    fn run(&self, _: &ComponentId, _: &Effect) -> Result<Value, SeamError> {
        Ok(json!({}))
    }
}

#[test]
fn apply_annotates_a_plan_made_again_after_effects_as_the_plan_was() {
    let f = fixture("hunter2", true);
    let outcomes = f.plan();
    let db = planned(&outcomes, DB);
    let planned_server = db.desired_objects().into_iter().find(|o| o["kind"] == "StatefulSet").unwrap();
    assert!(digest(&planned_server).is_some(), "the server reads its own Secret");

    let target = Holding::default();
    let cx = PlanContext { target: &target, ..f.cx() };
    apply_component(&cx, db, &Quiet).unwrap_or_else(|e| panic!("{e}"));
    let server = ObjectRef::of(&planned_server).unwrap();
    let applied = target.0.lock().unwrap()[&server].clone();
    assert_eq!(applied, planned_server, "the effect ran, the plugin planned again, the digest stayed");
}
