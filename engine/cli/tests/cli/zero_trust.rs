//! The open-finance example's zero-trust environment (`envs/zero-trust`),
//! applied as an operator applies it: `VAULT_ADDR` and `VAULT_TOKEN` name a
//! real OpenBao (a dev server the test starts), the PostgreSQL on
//! 127.0.0.1:5432 stands in for the managed server (as env.hcl says), and
//! `SPIRE_OIDC_DISCOVERY_URL`/`SPIRE_OIDC_CA_PEM` name the stand-in for
//! SPIRE's OIDC discovery provider (see `oidc_stand_in`: SPIRE cannot run
//! here). Each app is then checked with exactly what its rendered Deployment
//! tells it: it logs in at `VAULT_AUTH_PATH` as `VAULT_AUTH_ROLE` with a
//! JWT-SVID for its `SPIFFE_ID` and `VAULT_AUTH_AUDIENCE`, and that login's
//! token issues its certificate at `VAULT_PKI_ISSUE_PATH` and reads a
//! database credential at `VAULT_DATABASE_CREDS_PATH` that logs in to its
//! own database, and is denied another app's. Another app's JWT-SVID is
//! refused for its role.
//!
//! PostgreSQL here trusts every login on loopback: what is checked is that
//! the dynamic role exists and reaches its app's database and no other.

use std::collections::BTreeMap;
use std::path::Path;

use capstan_vault::testing::Bao;
use serde_json::{Value, json};

use crate::example::{APP_DATABASES, LOCAL_DATABASES, assert_valid_kubernetes, drop_databases};
use crate::oidc_stand_in::OidcStandIn;
use crate::support::{Run, Stack, example, psql_as, walk};

const APPS: [&str; 3] = ["oob-consent", "oob-payments", "oob-directory-sync"];

/// Runs the binary in the example as the operator of the zero-trust
/// environment: the example's test key, and the servers in the environment.
fn run(s: &Stack, bao: &Bao, oidc: &OidcStandIn, args: &[&str]) -> Run {
    let out = s
        .command(args)
        .env("CAPSTAN_AGE_KEY_FILE", s.path("TEST-ONLY-age-key.txt"))
        .env("VAULT_ADDR", &bao.url)
        .env("VAULT_TOKEN", &bao.token)
        .env("SPIRE_OIDC_DISCOVERY_URL", &oidc.url)
        .env("SPIRE_OIDC_CA_PEM", &oidc.ca_pem)
        .output()
        .unwrap();
    s.finish(args, out)
}

/// One call to the Vault API with `token` (none: a login): status and body.
fn call(bao: &Bao, token: Option<&str>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    bao.call_as(token, method, path, body.as_ref())
}

/// The plain `env` of the app's rendered Deployment, by name.
fn deployment_env(out: &Path, app: &str) -> BTreeMap<String, String> {
    let path = out.join(format!("zero-trust/open-finance/{app}/deployment-{app}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_norway::from_str(&text).unwrap();
    doc["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?.to_owned(), e["value"].as_str()?.to_owned())))
        .collect()
}

/// Drops the databases and roles the environment made on the local
/// server, Vault's dynamic roles among them, even after a failed assertion.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        drop_databases(&[APP_DATABASES.as_slice(), &["spire"]].concat());
    }
}

#[test]
fn the_zero_trust_environment_applies_and_each_app_logs_in_with_its_spiffe_id() {
    // The production apply of the example makes the same databases.
    let _databases = LOCAL_DATABASES.lock().unwrap_or_else(|e| e.into_inner());
    let _cleanup = Cleanup;
    let bao = Bao::start();
    let oidc = OidcStandIn::start(&bao);
    let s = example();

    // The plan shows every Vault step before anything runs.
    let plan = run(&s, &bao, &oidc, &["plan", "envs/zero-trust", "--no-color"]).ok();
    for effect in ["policies", "pki", "jwt-auth", "database", "kv"] {
        assert!(plan.stdout.contains(effect), "the plan shows Vault's {effect} effect:\n{}", plan.stdout);
    }
    let applied = run(&s, &bao, &oidc, &["apply", "envs/zero-trust", "--auto-approve", "--no-color"]).ok();
    assert!(applied.stdout.contains("Apply complete"), "{applied:?}");
    for leak in [bao.token.as_str(), "zero-trust-vault-admin-TEST-ONLY"] {
        assert!(!applied.stdout.contains(leak) && !applied.stderr.contains(leak), "a secret in the output");
        for file in walk(&s.path(".capstan")).into_iter().chain(walk(&s.path("rendered"))) {
            let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
            assert!(!text.contains(leak), "a secret in {}", file.display());
        }
    }

    let out = s.path("rendered");
    assert_valid_kubernetes(&out.join("zero-trust"));
    let envs: BTreeMap<&str, BTreeMap<String, String>> =
        APPS.iter().map(|app| (*app, deployment_env(&out, app))).collect();
    for (app, env) in &envs {
        let other = APPS.iter().find(|a| *a != app).unwrap();
        let database = app.replace('-', "_");
        assert_eq!(env["VAULT_ADDR"], "https://vault.zt.opus.example:8200", "{app}");
        assert_eq!(env["VAULT_AUTH_METHOD"], "jwt", "{app} logs in with its SPIFFE ID");
        assert_eq!(env["SPIFFE_ID"], format!("spiffe://zt.opus.example/ns/open-finance/sa/{app}"));
        // The audience to ask SPIRE for, from the vault contract: its JWT roles' (the default).
        assert_eq!(env["VAULT_AUTH_AUDIENCE"], "vault", "{app}");

        // Its JWT-SVID logs it in as its role, with its own policy.
        let login_path = format!("{}/login", env["VAULT_AUTH_PATH"]);
        let role = &env["VAULT_AUTH_ROLE"];
        let svid = oidc.jwt_svid(&env["SPIFFE_ID"], &env["VAULT_AUTH_AUDIENCE"]);
        let (status, login) =
            call(&bao, None, "POST", &login_path, Some(json!({ "role": role, "jwt": svid })));
        assert_eq!(status, 200, "{app}'s JWT-SVID logs in at {login_path}: {login}");
        let token = login["auth"]["client_token"].as_str().unwrap().to_owned();
        let theirs = oidc.jwt_svid(&envs[other]["SPIFFE_ID"], &env["VAULT_AUTH_AUDIENCE"]);
        let (status, _) = call(&bao, None, "POST", &login_path, Some(json!({ "role": role, "jwt": theirs })));
        assert_eq!(status, 400, "{other}'s JWT-SVID must not log in as {app}");

        // Its certificate, for its Service's name and no other's.
        let issue = &env["VAULT_PKI_ISSUE_PATH"];
        assert_eq!(issue, &format!("pki_int/issue/{app}"), "issued by the intermediate CA");
        let own_name = format!("{app}.open-finance.svc");
        let (status, cert) =
            call(&bao, Some(&token), "POST", issue, Some(json!({ "common_name": own_name })));
        assert_eq!(status, 200, "{app} gets a certificate at {issue}: {cert}");
        assert!(cert["data"]["certificate"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
        let other_name = format!("{other}.open-finance.svc");
        let (status, _) = call(&bao, Some(&token), "POST", issue, Some(json!({ "common_name": other_name })));
        assert_eq!(status, 400, "{app}'s role refuses {other}'s name");
        let other_issue = &envs[other]["VAULT_PKI_ISSUE_PATH"];
        let (status, _) =
            call(&bao, Some(&token), "POST", other_issue, Some(json!({ "common_name": other_name })));
        assert_eq!(status, 403, "{app}'s token is denied {other}'s PKI role");

        // Its database credential: its database, not another's.
        let creds_path = &env["VAULT_DATABASE_CREDS_PATH"];
        let (status, creds) = call(&bao, Some(&token), "GET", creds_path, None);
        assert_eq!(status, 200, "{app}'s credential at {creds_path}: {creds}");
        let user = creds["data"]["username"].as_str().unwrap();
        let url = |db: &str| format!("postgres://{user}@127.0.0.1:5432/{db}?sslmode=disable");
        let who = psql_as(&url(&database), "SELECT current_user || ' ' || current_database()")
            .unwrap_or_else(|e| panic!("{app}'s dynamic role logs in to its database: {e}"));
        assert_eq!(who, format!("{user} {database}"));
        let refused = psql_as(&url(&other.replace('-', "_")), "SELECT 1")
            .expect_err("another app's database refuses it");
        assert!(refused.contains("permission denied for database"), "{app} on {other}'s: {refused}");
        let (status, _) = call(&bao, Some(&token), "GET", &envs[other]["VAULT_DATABASE_CREDS_PATH"], None);
        assert_eq!(status, 403, "{app}'s token is denied {other}'s credentials");
    }

    // Applied, the environment plans no change: Vault read back matches.
    let again = run(&s, &bao, &oidc, &["plan", "envs/zero-trust", "--no-color", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "nothing to do after the apply: {again:?}");

    // Before the server stops, its leases go, and with them the dynamic roles.
    bao.ok("PUT", "sys/leases/revoke-prefix/database/creds", None);
}
