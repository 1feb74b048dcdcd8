//! capstan/postgres-external through the SDK test kit: inputs as an operator
//! writes them, defaults merged, schema and `validate` applied, then `plan`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use capstan_plugin_testsupport as support;

use capstan_plugin_postgres_external::PostgresExternal;
use capstan_sdk::capstan_core::{SqlOp, SqlRole};
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata};
use serde_json::{Value, json};

const CONSENT_PW: &str = "consent-s3cret-pw";
const PAY_PW: &str = "payments-s3cret-pw";

fn call() -> PlanCall {
    PlanCall::new(json!({
        "db_host": "opus.abc123.eu-west-1.rds.amazonaws.com",
        "apps": {
            "oob-consent": { "password": CONSENT_PW, "extensions": ["pgcrypto"] },
            "payments": { "database": "pay", "user": "pay_app", "password": PAY_PW },
        },
        "default_app": "oob-consent",
    }))
    .component("prod", "opus", "db")
    .sensitive("/apps/oob-consent/password")
    .sensitive("/apps/payments/password")
}

fn errors(result: Result<ComponentPlan, PlanError>) -> Vec<Diagnostic> {
    match result {
        Err(PlanError::InvalidInputs(d)) => d,
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<PostgresExternal>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("postgres", "external"));
    assert_eq!(m.capabilities, vec![Capability::Sql("postgres".into())]);
}

#[test]
fn renders_only_one_basic_auth_secret_per_app() {
    let plan = call().run::<PostgresExternal>().unwrap();
    assert_eq!(plan.object_ids(), ["Secret/db-oob-consent", "Secret/db-payments"]);
    let s = plan.expect_object("Secret", "db-oob-consent");
    assert_eq!(s["type"], "kubernetes.io/basic-auth");
    assert_eq!(s["metadata"]["namespace"], "opus");
    assert_eq!(s["metadata"]["labels"]["capstan.dev/app"], "oob-consent");
    assert_eq!(s["stringData"]["username"], "oob_consent_user");
    assert_eq!(s["stringData"]["password"], CONSENT_PW);
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn declares_idempotent_sql_per_app_on_the_granted_connection() {
    let plan = call().run::<PostgresExternal>().unwrap();
    assert_eq!(plan.effects.len(), 2);
    let consent = &plan.effects[0];
    assert_eq!(consent.id, "app:oob-consent");
    assert_eq!(consent.target, "postgres");
    let EffectKind::Sql(ops) = &consent.kind else { panic!("not SQL: {consent:?}") };
    let SqlOp::EnsureRole(SqlRole { name, password, login }) = &ops[0] else { panic!("{ops:?}") };
    assert_eq!((name.as_str(), *login), ("oob_consent_user", true));
    assert_eq!(password.as_ref().unwrap().expose(), CONSENT_PW);
    assert_eq!(
        serde_json::to_value(&ops[1..]).unwrap(),
        json!([
            { "ensure-database": { "name": "oob_consent", "owner": "oob_consent_user" } },
            { "grant": { "privileges": ["ALL"], "database": "oob_consent", "role": "oob_consent_user" } },
            { "ensure-extension": { "name": "pgcrypto", "database": "oob_consent" } },
        ])
    );
    // The plan line an operator reads never carries the password.
    assert!(!consent.summary.contains(CONSENT_PW), "{}", consent.summary);
    assert!(!format!("{:?}", plan.effects).contains(CONSENT_PW));

    let custom = PlanCall::new(json!({
        "db_host": "h", "connection": "rds-admin", "privileges": ["connect", "temporary"],
        "apps": { "a": { "password": "x" } },
    }))
    .sensitive("/apps/a/password")
    .run::<PostgresExternal>()
    .unwrap();
    assert_eq!(custom.effects[0].target, "rds-admin");
    let EffectKind::Sql(ops) = &custom.effects[0].kind else { panic!() };
    assert!(matches!(&ops[2], SqlOp::Grant(g) if g.privileges == ["CONNECT", "TEMPORARY"]));
}

#[test]
fn outputs_follow_the_postgres_contract_with_secret_references_only() {
    let plan = call().run::<PostgresExternal>().unwrap();
    let names: Vec<&str> = plan.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["host", "port", "database", "user", "password_secret", "databases", "sslmode", "network"]
    );
    // A managed server is outside the cluster: its port, at any address.
    assert_eq!(plan.output("network").unwrap(), &json!([{ "ports": [5432] }]));
    assert_eq!(plan.output("host").unwrap(), "opus.abc123.eu-west-1.rds.amazonaws.com");
    assert_eq!(plan.output("sslmode").unwrap(), "require", "TLS by default to a managed server");
    assert_eq!(plan.output("port").unwrap(), 5432);
    assert_eq!(plan.output("database").unwrap(), "oob_consent");
    assert_eq!(plan.output("user").unwrap(), "oob_consent_user");
    assert_eq!(
        plan.output("password_secret").unwrap(),
        &json!({ "name": "db-oob-consent", "key": "password", "namespace": "opus" })
    );
    assert_eq!(plan.output("databases").unwrap()["payments"]["user"], "pay_app");
    let all = serde_json::to_string(&plan.outputs).unwrap();
    assert!(!all.contains(CONSENT_PW) && !all.contains(PAY_PW), "a password leaked into outputs");
    // A consumer reads them through the SDK contract.
    let dep = Dependency {
        name: "db".into(),
        component_type: "postgres".into(),
        outputs: plan.outputs.clone().into(),
    };
    let read: contracts::postgres::Outputs = contracts::read(&dep).unwrap();
    assert_eq!(read.access_for("payments").database, "pay");
}

#[test]
fn a_password_in_clear_config_is_refused() {
    let only_one = PlanCall::new(call().request().inputs).sensitive("/apps/payments/password");
    let d = errors(only_one.run::<PostgresExternal>());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "/apps/oob-consent/password");
    assert!(d[0].message.contains("values_sensitive_custom"), "{}", d[0].message);
    assert!(!d[0].message.contains(CONSENT_PW));
}

#[test]
fn validate_names_the_attribute_it_refuses() {
    let bad = |patch: Value| {
        let mut inputs = call().request().inputs;
        capstan_sdk::testkit::merge(&mut inputs, patch);
        let d = PostgresExternal::validate(&inputs);
        assert!(!d.is_empty(), "expected a diagnostic");
        d
    };
    let d = bad(json!({ "apps": { "payments": { "database": "Pay-DB" } } }));
    assert_eq!(d[0].path, "/apps/payments/database");
    let d = bad(json!({ "apps": { "payments": { "user": "oob_consent_user" } } }));
    assert_eq!(d[0].path, "/apps/payments/user");
    assert!(d[0].message.contains("also used by app `oob-consent`"));
    let d = bad(json!({ "default_app": "billing" }));
    assert_eq!(d[0].path, "/default_app");
    let d = bad(json!({ "privileges": ["ALL", "SUPERUSER"] }));
    assert_eq!(d[0].path, "/privileges/1");
    let d = bad(json!({ "db_host": "postgres://h:5432" }));
    assert_eq!(d[0].path, "/db_host");
    let d = bad(json!({ "apps": { "Bad_Key": { "password": "x" } } }));
    assert_eq!(d[0].path, "/apps/Bad_Key");
    let d = bad(json!({ "apps": { "oob-consent": { "extensions": ["pg crypto; drop"] } } }));
    assert_eq!(d[0].path, "/apps/oob-consent/extensions/0");

    // Unknown options are refused by the schema, at their pointer.
    let d = errors(
        call().request_with(json!({ "apps": { "payments": { "passwd": "x" } } })).run::<PostgresExternal>(),
    );
    assert!(d.iter().any(|d| d.path == "/apps/payments"), "{d:?}");
    let d = errors(PlanCall::new(json!({ "apps": {} })).run::<PostgresExternal>());
    assert!(!d.is_empty());
}

trait WithPatch {
    fn request_with(self, patch: Value) -> PlanCall;
}
impl WithPatch for PlanCall {
    fn request_with(self, patch: Value) -> PlanCall {
        let mut inputs = self.request().inputs;
        capstan_sdk::testkit::merge(&mut inputs, patch);
        PlanCall::new(inputs)
    }
}
