//! The `vault` component type on real servers: `capstan/vault-openbao` in
//! external mode, applied through the binary to an OpenBao dev server
//! (`bao server -dev`, started by the test) and the PostgreSQL on
//! 127.0.0.1:5432, where `capstan/postgres-external` made a database and a
//! role per app. Each app is then checked with what Vault gives it, as its
//! own code or its Vault agent would use it:
//! - the PKI issues from an intermediate CA the root signed: a certificate
//!   for the app's names under its role, which `openssl verify` chains to
//!   the root through the intermediate, and refuses a name outside them;
//!   the root keeps no role;
//! - a token of the app's policy issues under its own PKI role, signs a CSR
//!   of a key it keeps for its own name (`sign`, as cert-manager's Vault
//!   issuer calls it) and reads its own database credentials, and is denied
//!   the other app's;
//! - the database secrets engine hands out a credential that logs in to the
//!   app's database only, and revoking its lease drops the role;
//! - the JWT auth role of an app accepts a JWT for its SPIFFE ID and
//!   audience signed by the key the test controls (as SPIRE signs a
//!   JWT-SVID) and refuses it for the other app's role;
//! - a second apply changes nothing; a policy edited by hand shows in the
//!   next plan and the apply after it puts it back; an app removed from the
//!   component loses its policy and roles.
//!
//! PostgreSQL here trusts every login on loopback, so a dynamic credential's
//! password is not what lets it in: what is checked is that its role exists,
//! reaches its app's database and no other, and is gone once revoked.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use capstan_vault::testing::{Bao, openssl};
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};

use crate::support::{PG_ADMIN, PgCleanup, Stack, psql_as, unique};

/// One call to the Vault API as `token` (`""`: none, a login): the status and the JSON body.
fn call(bao: &Bao, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    bao.call_as(Some(token).filter(|t| !t.is_empty()), method, path, body.as_ref())
}

/// A token holding only `policy`, as an app's login would give it.
fn token_of(bao: &Bao, policy: &str) -> String {
    let (status, body) = call(
        bao,
        &bao.token,
        "POST",
        "auth/token/create",
        Some(json!({ "policies": [policy], "ttl": "10m" })),
    );
    assert_eq!(status, 200, "token for {policy}: {body}");
    body["auth"]["client_token"].as_str().unwrap().to_owned()
}

/// The key the test signs JWTs with, as SPIRE's JWT-SVID key would.
fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// Its public half as PEM (an Ed25519 SubjectPublicKeyInfo).
fn public_pem(key: &SigningKey) -> String {
    let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    der.extend_from_slice(key.verifying_key().as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

/// A JWT-SVID-shaped token: `sub` the SPIFFE ID, `aud` the audience.
fn jwt(key: &SigningKey, subject: &str, audience: &str) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let header = b64(&json!({ "alg": "EdDSA", "typ": "JWT" }));
    let claims = b64(&json!({ "sub": subject, "aud": [audience], "iat": now, "exp": now + 300 }));
    let signature = key.sign(format!("{header}.{claims}").as_bytes());
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.to_bytes());
    format!("{header}.{claims}.{signature}")
}

fn spiffe_id(app: &str) -> String {
    format!("spiffe://dev.example/ns/shop/sa/{app}")
}

/// A CA certificate for the Kubernetes auth method's `kubernetes_ca_cert`,
/// which an OpenBao outside a pod must be given: a root made on the same
/// server, in a mount of the test's own.
fn kubernetes_ca(bao: &Bao) -> String {
    let (status, body) =
        call(bao, &bao.token, "POST", "sys/mounts/test-k8s-ca", Some(json!({ "type": "pki" })));
    assert!(status == 204 || status == 200, "mounting the test CA: {body}");
    let (status, body) = call(
        bao,
        &bao.token,
        "POST",
        "test-k8s-ca/root/generate/internal",
        Some(json!({ "common_name": "kubernetes", "ttl": "24h" })),
    );
    assert_eq!(status, 200, "the test CA: {body}");
    body["data"]["certificate"].as_str().unwrap().to_owned()
}

/// The vault component, configuring the apps named.
fn vault_component(bao: &Bao, kubernetes_ca: &str, apps: &[&str]) -> String {
    let apps: String =
        apps.iter().map(|app| format!("    {app} = {{ spiffe_id = \"{}\" }}\n", spiffe_id(app))).collect();
    let pem = public_pem(&signing_key()).replace('\n', "\\n");
    format!(
        r#"component {{
  type    = "vault"
  plugin  = "capstan/vault-openbao"
  version = "^0.1"
  grants  = ["vault:vault"]
}}
dependency "postgres" {{
  config_path = "../db"
}}
inputs = {{
  mode    = "external"
  address = "{url}"
  pki = {{
    common_name  = "Shop Internal CA"
    intermediate = {{ common_name = "Shop Issuing CA" }}
  }}
  kv = {{}}
  kubernetes_auth = {{
    kubernetes_host    = "https://kubernetes.default.svc"
    kubernetes_ca_cert = "{ca}"
  }}
  jwt_auth = {{
    jwt_validation_pubkeys = ["{pem}"]
    audience               = "vault"
  }}
  database = {{
    username = "postgres"
  }}
  apps = {{
{apps}  }}
}}
"#,
        url = bao.url,
        ca = kubernetes_ca.replace('\n', "\\n"),
    )
}

/// The stack: PostgreSQL external with a database per app, and Vault.
fn write_stack(s: &Stack, bao: &Bao, kubernetes_ca: &str, db: &dyn Fn(&str) -> String) {
    s.write(
        "envs/dev/env.hcl",
        &format!(
            r#"connection "pg" {{
  type = "postgres"
  url  = "{PG_ADMIN}"
}}
connection "vault" {{
  type  = "vault"
  url   = "{url}"
  token = secrets.vault_token
}}
target "render" {{
  secrets = "plain"
}}
"#,
            url = bao.url
        ),
    );
    s.write("envs/dev/shop/namespace.hcl", "namespace = \"shop\"\n");
    s.write(
        "envs/dev/shop/db/component.hcl",
        &format!(
            r#"component {{
  type    = "postgres"
  plugin  = "capstan/postgres-external"
  version = "^0.1"
  grants  = ["sql:pg"]
}}
inputs = {{
  db_host    = "127.0.0.1"
  connection = "pg"
  sslmode    = "disable"
  apps = {{
    billing  = {{ database = "{}" }}
    shipping = {{ database = "{}" }}
  }}
}}
"#,
            db("billing"),
            db("shipping")
        ),
    );
    s.write(
        "envs/dev/shop/vault/component.hcl",
        &vault_component(bao, kubernetes_ca, &["billing", "shipping"]),
    );
    s.run(&["secrets", "keygen"]).ok();
    s.run_with_stdin(&["secrets", "set", "envs/dev/secrets.enc.hcl", "vault_token"], &bao.token).ok();
    s.run_with_stdin(
        &["secrets", "set", "envs/dev/shop/db/secrets.enc.hcl", "values_sensitive_custom"],
        "apps:\n  billing: { password: billing-pw }\n  shipping: { password: shipping-pw }\n",
    )
    .ok();
    // The password Vault logs in to PostgreSQL with (trust auth takes any).
    s.run_with_stdin(
        &["secrets", "set", "envs/dev/shop/vault/secrets.enc.hcl", "values_sensitive_custom"],
        "database:\n  password: vault-admin-pw\n",
    )
    .ok();
}

#[test]
fn each_app_gets_its_certificates_credentials_and_login_from_vault_and_nothing_of_another() {
    let bao = Bao::start();
    let id = unique();
    let db = |app: &str| format!("vt_{id}_{app}");
    let _cleanup =
        PgCleanup(["billing", "shipping"].iter().map(|a| (db(a), format!("{}_user", db(a)))).collect());
    let s = Stack::new("");
    let kubernetes_ca = kubernetes_ca(&bao);
    write_stack(&s, &bao, &kubernetes_ca, &db);

    let applied = s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]).ok();
    assert!(applied.stdout.contains("vault"), "{}", applied.stdout);
    for leak in [bao.token.as_str(), "vault-admin-pw"] {
        assert!(!applied.stdout.contains(leak) && !applied.stderr.contains(leak), "a secret in the output");
    }

    // The PKI: each app's role, on the intermediate, issues for its own
    // names and nothing else, and what it issues chains to the root.
    let (status, cert) = call(
        &bao,
        &bao.token,
        "POST",
        "pki_int/issue/billing",
        Some(json!({ "common_name": "billing.shop.svc", "ttl": "1h" })),
    );
    assert_eq!(status, 200, "billing's certificate: {cert}");
    let pem = |value: &Value| format!("{}\n", value.as_str().unwrap().trim());
    let ca = |mount: &str| {
        pem(&call(&bao, &bao.token, "GET", &format!("{mount}/cert/ca"), None).1["data"]["certificate"])
    };
    let (root, intermediate) = (ca("pki"), ca("pki_int"));
    assert_ne!(root, intermediate);
    assert_eq!(pem(&cert["data"]["issuing_ca"]), intermediate, "issued by the intermediate");
    let chain: Vec<String> = cert["data"]["ca_chain"].as_array().unwrap().iter().map(pem).collect();
    assert_eq!(chain, [intermediate.clone(), root.clone()], "the chain ends at the root");
    let pki_dir = s.path("pki");
    std::fs::create_dir_all(&pki_dir).unwrap();
    for (file, text) in
        [("root.pem", &root), ("int.pem", &intermediate), ("leaf.pem", &pem(&cert["data"]["certificate"]))]
    {
        std::fs::write(pki_dir.join(file), text).unwrap();
    }
    let verified = openssl(&pki_dir, &["verify", "-CAfile", "root.pem", "-untrusted", "int.pem", "leaf.pem"]);
    assert_eq!(verified.unwrap_or_else(|e| panic!("{e}")).trim(), "leaf.pem: OK");
    let issuer = openssl(&pki_dir, &["x509", "-in", "int.pem", "-noout", "-issuer", "-subject"]).unwrap();
    assert!(issuer.contains("Shop Internal CA") && issuer.contains("Shop Issuing CA"), "{issuer}");
    let (status, refused) = call(
        &bao,
        &bao.token,
        "POST",
        "pki_int/issue/billing",
        Some(json!({ "common_name": "shipping.shop.svc", "ttl": "1h" })),
    );
    assert_eq!(status, 400, "a name outside billing's role must be refused: {refused}");
    // The root signs the intermediate only: no app role is on it.
    assert_eq!(call(&bao, &bao.token, "LIST", "pki/roles", None).0, 404, "no role on the root");

    // Policies: each app's token reaches its own paths and not the other's.
    for (app, other) in [("billing", "shipping"), ("shipping", "billing")] {
        let token = token_of(&bao, &format!("capstan-dev-{app}"));
        let own = call(
            &bao,
            &token,
            "POST",
            &format!("pki_int/issue/{app}"),
            Some(json!({ "common_name": format!("{app}.shop.svc") })),
        );
        assert_eq!(own.0, 200, "{app} issues under its own role: {}", own.1);
        let theirs = call(
            &bao,
            &token,
            "POST",
            &format!("pki_int/issue/{other}"),
            Some(json!({ "common_name": format!("{other}.shop.svc") })),
        );
        assert_eq!(theirs.0, 403, "{app} must be denied {other}'s PKI role");
        let on_root = call(
            &bao,
            &token,
            "POST",
            &format!("pki/issue/{app}"),
            Some(json!({ "common_name": format!("{app}.shop.svc") })),
        );
        assert_eq!(on_root.0, 403, "{app}'s policy grants nothing on the root");

        // A CSR of a key the app keeps is signed under its own role, for
        // its own name, and the certificate holds that key.
        let key = format!("{app}.key");
        let csr = format!("{app}.csr");
        let subject = format!("/CN={app}.shop.svc");
        let new_key = ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        let args = [&new_key[..], &["-subj", &subject, "-keyout", &key, "-out", &csr]].concat();
        openssl(&pki_dir, &args).unwrap_or_else(|e| panic!("{e}"));
        let csr_pem = std::fs::read_to_string(pki_dir.join(&csr)).unwrap();
        let (status, signed) = call(
            &bao,
            &token,
            "POST",
            &format!("pki_int/sign/{app}"),
            Some(json!({ "csr": csr_pem, "common_name": format!("{app}.shop.svc"), "ttl": "1h" })),
        );
        assert_eq!(status, 200, "{app} signs its CSR under its own role: {signed}");
        assert!(signed["data"].get("private_key").is_none(), "the key stays with the app: {signed}");
        let crt = format!("{app}.crt");
        std::fs::write(pki_dir.join(&crt), pem(&signed["data"]["certificate"])).unwrap();
        let verified = openssl(&pki_dir, &["verify", "-CAfile", "root.pem", "-untrusted", "int.pem", &crt]);
        assert_eq!(verified.unwrap_or_else(|e| panic!("{e}")).trim(), format!("{crt}: OK"));
        let public = |args: &[&str]| openssl(&pki_dir, args).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            public(&["x509", "-in", &crt, "-noout", "-pubkey"]),
            public(&["pkey", "-in", &key, "-pubout"]),
            "the certificate holds the app's own key"
        );
        let theirs = call(
            &bao,
            &token,
            "POST",
            &format!("pki_int/sign/{other}"),
            Some(json!({ "csr": csr_pem, "common_name": format!("{app}.shop.svc") })),
        );
        assert_eq!(theirs.0, 403, "{app} must be denied {other}'s sign path: {}", theirs.1);
        assert_eq!(call(&bao, &token, "GET", &format!("database/creds/{other}"), None).0, 403);

        // Its database credential: its database, not the other's.
        let (status, creds) = call(&bao, &token, "GET", &format!("database/creds/{app}"), None);
        assert_eq!(status, 200, "{app}'s database credential: {creds}");
        let user = creds["data"]["username"].as_str().unwrap().to_owned();
        let url = |database: &str| format!("postgres://{user}@127.0.0.1:5432/{database}?sslmode=disable");
        let who = psql_as(&url(&db(app)), "SELECT current_user || ' ' || current_database()")
            .unwrap_or_else(|e| panic!("{app}'s dynamic role logs in to its database: {e}"));
        assert_eq!(who, format!("{user} {}", db(app)));
        let refused = psql_as(&url(&db(other)), "SELECT 1").expect_err("another app's database refuses it");
        assert!(refused.contains("permission denied for database"), "{app} on {other}'s: {refused}");

        // Revoking the lease drops the role.
        let lease = creds["lease_id"].as_str().unwrap();
        let (status, body) =
            call(&bao, &bao.token, "PUT", "sys/leases/revoke", Some(json!({ "lease_id": lease })));
        assert!(status == 204 || status == 200, "revoke: {body}");
        let left =
            psql_as(PG_ADMIN, &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{user}'")).unwrap();
        assert_eq!(left, "0", "the revoked credential's role is gone");
    }

    // JWT auth: a JWT-SVID of billing logs in as billing, not as shipping.
    let key = signing_key();
    let svid = jwt(&key, &spiffe_id("billing"), "vault");
    let (status, login) =
        call(&bao, "", "POST", "auth/jwt/login", Some(json!({ "role": "billing", "jwt": svid })));
    assert_eq!(status, 200, "billing's JWT-SVID logs in: {login}");
    let policies = login["auth"]["policies"].to_string();
    assert!(policies.contains("capstan-dev-billing"), "{policies}");
    let (status, _) =
        call(&bao, "", "POST", "auth/jwt/login", Some(json!({ "role": "shipping", "jwt": svid })));
    assert_eq!(status, 400, "billing's JWT-SVID must not log in as shipping");
    let wrong_audience = jwt(&key, &spiffe_id("billing"), "another");
    let (status, _) =
        call(&bao, "", "POST", "auth/jwt/login", Some(json!({ "role": "billing", "jwt": wrong_audience })));
    assert_eq!(status, 400, "a JWT for another audience must be refused");

    // A second apply changes nothing.
    let again = s.run(&["plan", "envs/dev", "--no-color", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "nothing to do after an apply: {again:?}");

    // A policy edited by hand shows in the plan and apply puts it back.
    let policy_path = "sys/policies/acl/capstan-dev-billing";
    let declared = call(&bao, &bao.token, "GET", policy_path, None).1["data"]["policy"].clone();
    let (status, _) = call(
        &bao,
        &bao.token,
        "PUT",
        policy_path,
        Some(json!({ "policy": "path \"secret/*\" { capabilities = [\"read\", \"list\"] }" })),
    );
    assert_eq!(status, 204);
    // --refresh=false compares with state alone, as a CI job without a
    // Vault token does: the edit is not seen.
    let unread = s.run(&["plan", "envs/dev", "--no-color", "--detailed-exitcode", "--refresh=false"]);
    assert_eq!(unread.code, 0, "--refresh=false reads no server: {unread:?}");
    let drifted = s.run(&["plan", "envs/dev", "--no-color", "--detailed-exitcode"]);
    assert_eq!(drifted.code, 2, "a hand edit is a change to make: {drifted:?}");
    assert!(
        drifted.stdout.contains("changed outside Capstan") && drifted.stdout.contains("capstan-dev-billing"),
        "{}",
        drifted.stdout
    );
    s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]).ok();
    assert_eq!(call(&bao, &bao.token, "GET", policy_path, None).1["data"]["policy"], declared);
    assert_eq!(s.run(&["plan", "envs/dev", "--no-color", "--detailed-exitcode"]).code, 0);

    // An app removed from the component loses its policy and roles.
    s.write("envs/dev/shop/vault/component.hcl", &vault_component(&bao, &kubernetes_ca, &["billing"]));
    s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]).ok();
    for path in [
        "sys/policies/acl/capstan-dev-shipping",
        "pki_int/roles/shipping",
        "database/roles/shipping",
        "auth/jwt/role/shipping",
        "auth/kubernetes/role/shipping",
    ] {
        assert_eq!(call(&bao, &bao.token, "GET", path, None).0, 404, "{path} is removed with its app");
    }
    assert_eq!(call(&bao, &bao.token, "GET", "pki_int/roles/billing", None).0, 200, "billing's role stays");
}
