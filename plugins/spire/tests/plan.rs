//! capstan/spire through the SDK test kit: the server, controller manager,
//! agents, OIDC discovery provider and ClusterSPIFFEIDs it renders (every
//! object checked against Kubernetes 1.30 and the vendored CRDs: the
//! ClusterSPIFFEIDs against the SPIRE controller manager's, the OIDC
//! certificate against cert-manager's), the datastore wired to the postgres
//! dependency without its password, the outputs against the `spire`
//! contract's schema, what validate and plan refuse, the health rules, the
//! `spire` kit's cases, the real postgres plugin's outputs, the built
//! `.wasm` in the sandbox, and `monitoring`: the exporters in both
//! configurations, the ServiceMonitor, PodMonitor, PrometheusRule and
//! dashboard against the vendored prometheus-operator CRDs, and the rules
//! and dashboard queries through the real `promtool` (which must be
//! installed: nothing is skipped).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;

use capstan_plugin_spire::Spire;
use capstan_plugin_testsupport::{alert_names, assert_valid, assert_valid_manifests, promtool_check_rules};
use capstan_sdk::contracts::{self, NetworkPeer, spire};
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{
    PlanCall, PlanExt, check_metadata, container_env, defaults_of, invalid_inputs, merge,
};
use serde_json::{Value, json};

const NS: &str = "security";
const TD: &str = "dev.example";
const TEMPLATE: &str =
    "spiffe://dev.example/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}";

/// A postgres dependency that made a database for `spire`, in its namespace,
/// verified with its CA.
fn postgres() -> Value {
    json!({
        "host": "postgres.security.svc",
        "port": 5432,
        "database": "ledger",
        "user": "ledger_user",
        "password_secret": { "name": "postgres-ledger", "key": "password", "namespace": NS },
        "databases": {
            "ledger": { "database": "ledger", "user": "ledger_user",
                        "password_secret": { "name": "postgres-ledger", "key": "password", "namespace": NS } },
            "spire": { "database": "spire", "user": "spire_user",
                       "password_secret": { "name": "postgres-spire", "key": "password", "namespace": NS } },
        },
        "sslmode": "verify-full",
        "ca_secret": { "name": "postgres-tls", "key": "ca.crt", "namespace": NS },
        "network": [{ "namespace": NS, "pod_labels": { "app.kubernetes.io/name": "postgres" }, "ports": [5432] }],
    })
}

fn inputs(patch: Value) -> Value {
    let mut i = json!({
        "trust_domain": TD,
        "cluster_name": "prod-eu",
        "apps": {
            "payments-api": {},
            "ledger": { "namespace": "finance", "service_account": "ledger-worker" },
            "web": { "namespace": "edge", "pod_labels": { "app.kubernetes.io/name": "web" } },
        },
    });
    merge(&mut i, patch);
    i
}

fn call(patch: Value) -> PlanCall {
    PlanCall::new(inputs(patch)).component("staging", NS, "spire").dependency(
        "postgres",
        "postgres",
        postgres(),
    )
}

fn plan(patch: Value) -> ComponentPlan {
    call(patch).run::<Spire>().unwrap()
}

fn with_oidc() -> ComponentPlan {
    plan(json!({ "oidc": {} }))
}

fn config(plan: &ComponentPlan, name: &str, key: &str) -> String {
    plan.expect_object("ConfigMap", name)["data"][key].as_str().unwrap().to_owned()
}

fn container<'a>(workload: &'a Value, name: &str) -> &'a Value {
    workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name} in {workload}"))
}

fn volume<'a>(workload: &'a Value, name: &str) -> &'a Value {
    workload["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no volume {name}"))
}

fn mount<'a>(container: &'a Value, volume: &str) -> &'a Value {
    container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume)
        .unwrap_or_else(|| panic!("no mount of {volume} in {container}"))
}

fn refused(patch: Value) -> Vec<(String, String)> {
    invalid_inputs(call(patch).run::<Spire>().unwrap_err())
}

/// Every diagnostic `validate` gives for the inputs (over the defaults).
fn validate(value: Value) -> Vec<Diagnostic> {
    let mut merged = defaults_of(&Spire::metadata());
    merge(&mut merged, value);
    Spire::validate(&merged)
}

fn outputs_object(plan: &ComponentPlan) -> Value {
    Value::Object(plan.outputs.iter().map(|o| (o.name.clone(), o.value.clone())).collect())
}

fn read_outputs(plan: &ComponentPlan) -> spire::Outputs {
    contracts::read(&Dependency {
        name: "spire".into(),
        component_type: "spire".into(),
        outputs: plan.outputs.clone().into(),
    })
    .unwrap()
}

fn assert_contract(plan: &ComponentPlan) {
    let schema: Value = serde_json::from_str(spire::SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let object = outputs_object(plan);
    let errors: Vec<String> = validator.iter_errors(&object).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{object}: {errors:?}");
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<Spire>();
    assert_eq!(
        (m.name.as_str(), m.component_type.as_str(), m.backend.as_str()),
        ("capstan/spire", "spire", "spire")
    );
    assert!(m.outputs_contract.is_none(), "spire is a shipped type: the engine holds its contract");
    let d = defaults_of(&m);
    assert_eq!(d["replicas"], 1);
    assert_eq!(d["postgres"], "postgres");
    assert!(d.get("trust_domain").is_none() && d.get("cluster_name").is_none(), "the operator names them");
    assert!(d.get("oidc").is_none(), "the provider is off unless asked for");
    assert_eq!(d["images"]["server"], "ghcr.io/spiffe/spire-server:1.15.3");
    assert_eq!(d["images"]["agent"], "ghcr.io/spiffe/spire-agent:1.15.3");
    assert_eq!(d["images"]["controller_manager"], "ghcr.io/spiffe/spire-controller-manager:0.6.6");
    assert_eq!(d["images"]["oidc_discovery_provider"], "ghcr.io/spiffe/oidc-discovery-provider:1.15.3");
}

#[test]
fn it_renders_the_server_agents_and_a_registration_per_app_valid_for_kubernetes_and_the_crds() {
    let plan = plan(json!({}));
    assert_eq!(
        plan.object_ids(),
        [
            "ServiceAccount/spire-server",
            "ClusterRole/security.spire.server",
            "ClusterRoleBinding/security.spire.server",
            "Role/spire-server",
            "RoleBinding/spire-server",
            "ClusterRole/security.spire.controller-manager",
            "ClusterRoleBinding/security.spire.controller-manager",
            "Role/spire-controller-manager",
            "RoleBinding/spire-controller-manager",
            "ConfigMap/spire-bundle",
            "ConfigMap/spire-server",
            "ConfigMap/spire-controller-manager",
            "Service/spire-server-headless",
            "Service/spire-server",
            "StatefulSet/spire-server",
            "ServiceAccount/spire-agent",
            "ClusterRole/security.spire.agent",
            "ClusterRoleBinding/security.spire.agent",
            "ConfigMap/spire-agent",
            "DaemonSet/spire-agent",
            "ClusterSPIFFEID/security.spire.ledger",
            "ClusterSPIFFEID/security.spire.payments-api",
            "ClusterSPIFFEID/security.spire.web",
        ]
    );
    assert!(plan.effects.is_empty());
    assert_eq!(plan.warnings, []);
    assert_valid(&plan.objects, &[]);
    let with_oidc = with_oidc();
    assert_valid_manifests("with the OIDC discovery provider", &with_oidc.objects);
}

#[test]
fn the_server_configuration_names_the_trust_domain_datastore_attestor_keys_and_bundle() {
    let conf = config(&plan(json!({})), "spire-server", "server.conf");
    for line in [
        "trust_domain = \"dev.example\"",
        "data_dir = \"/run/spire/server/data\"",
        "socket_path = \"/run/spire/server/private/api.sock\"",
        "bind_port = \"8081\"",
        "ca_subject {\n    country = []\n    organization = [\"SPIRE\"]\n    common_name = \"\"\n  }",
        "DataStore \"sql\" {",
        "database_type = \"postgres\"",
        "connection_string = \"host=postgres.security.svc port=5432 dbname=spire user=spire_user \
         sslmode=verify-full sslrootcert=/run/spire/postgres-ca/ca.crt connect_timeout=10\"",
        "NodeAttestor \"k8s_psat\" {",
        "\"prod-eu\" = {\n          service_account_allow_list = [\"security:spire-agent\"]",
        "KeyManager \"disk\" {",
        "keys_path = \"/run/spire/server/data/keys.json\"",
        "Notifier \"k8sbundle\" {",
        "namespace = \"security\"\n      config_map = \"spire-bundle\"",
        "listener_enabled = true",
    ] {
        assert!(conf.contains(line), "server.conf lacks {line:?}:\n{conf}");
    }
    assert!(!conf.contains("jwt_issuer"), "no OIDC provider, no issuer:\n{conf}");
    let connection = conf.lines().find(|l| l.contains("connection_string")).unwrap();
    assert!(
        !connection.contains("password") && !conf.contains("${"),
        "no password, no expansion: {connection}"
    );
    let subject = config(
        &plan(
            json!({ "ca_subject": { "country": ["DE"], "organization": ["Opus \"Finance\""], "common_name": "SPIRE CA" } }),
        ),
        "spire-server",
        "server.conf",
    );
    assert!(
        subject.contains("country = [\"DE\"]\n    organization = [\"Opus \\\"Finance\\\"\"]\n    common_name = \"SPIRE CA\""),
        "{subject}"
    );
}

#[test]
fn the_password_stays_in_its_secret_and_reaches_the_server_as_pgpassword() {
    let plan = plan(json!({}));
    for cm in plan.objects_of_kind("ConfigMap") {
        let text = cm.to_string();
        assert!(!text.contains("password=") && !text.contains("PGPASSWORD="), "{text}");
    }
    let sts = plan.expect_object("StatefulSet", "spire-server");
    assert_eq!(
        container_env(sts, "PGPASSWORD").unwrap(),
        &json!({ "name": "PGPASSWORD", "valueFrom": { "secretKeyRef": { "name": "postgres-spire", "key": "password" } } }),
        "the role's own Secret, the one the postgres outputs name for this component"
    );
    let server = container(sts, "spire-server");
    assert_eq!(server["args"], json!(["-config", "/run/spire/server/config/server.conf"]), "no -expandEnv");
    assert_eq!(mount(server, "postgres-ca")["mountPath"], "/run/spire/postgres-ca");
    assert_eq!(
        volume(sts, "postgres-ca")["secret"],
        json!({ "secretName": "postgres-tls", "items": [{ "key": "ca.crt", "path": "ca.crt" }] })
    );

    // A server that is not verified: no CA, the mode as the contract says.
    let mut plain = postgres();
    plain["sslmode"] = json!("disable");
    plain.as_object_mut().unwrap().remove("ca_secret");
    let plan = PlanCall::new(inputs(json!({})))
        .component("staging", NS, "spire")
        .dependency("postgres", "postgres", plain)
        .run::<Spire>()
        .unwrap();
    let conf = config(&plan, "spire-server", "server.conf");
    assert!(conf.contains("dbname=spire user=spire_user sslmode=disable connect_timeout=10\""), "{conf}");
    let sts = plan.expect_object("StatefulSet", "spire-server");
    assert!(!sts.to_string().contains("postgres-ca"));
}

#[test]
fn the_stateful_set_runs_the_server_and_the_controller_manager_on_one_admin_socket() {
    let plan = plan(json!({ "replicas": 3, "storage": { "size": "5Gi", "class": "fast" } }));
    let sts = plan.expect_object("StatefulSet", "spire-server");
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["spec"]["serviceName"], "spire-server-headless");
    let claim = &sts["spec"]["volumeClaimTemplates"][0];
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "5Gi");
    assert_eq!(claim["spec"]["storageClassName"], "fast");
    let pod = &sts["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "spire-server");
    assert_eq!(pod["automountServiceAccountToken"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 1000);

    let server = container(sts, "spire-server");
    assert_eq!(server["image"], "ghcr.io/spiffe/spire-server:1.15.3");
    assert_eq!(mount(server, "admin-socket")["mountPath"], "/run/spire/server/private");
    assert_eq!(mount(server, "data")["mountPath"], "/run/spire/server/data");
    let cm = container(sts, "spire-controller-manager");
    assert_eq!(cm["image"], "ghcr.io/spiffe/spire-controller-manager:0.6.6");
    assert_eq!(mount(cm, "admin-socket")["mountPath"], "/spire-server");
    assert_eq!(cm["env"], json!([{ "name": "ENABLE_WEBHOOKS", "value": "false" }]));
    assert_eq!(cm["args"], json!(["--config=/etc/spire-controller-manager/config.yaml"]));
    assert!(
        pod["containers"].as_array().unwrap().iter().all(|c| c["resources"]["limits"]["memory"].is_string())
    );

    let service = plan.expect_object("Service", "spire-server");
    assert_eq!(
        service["spec"]["ports"],
        json!([{ "name": "grpc", "port": 8081, "targetPort": "grpc", "protocol": "TCP" }])
    );
    assert_eq!(plan.expect_object("Service", "spire-server-headless")["spec"]["clusterIP"], "None");
    assert!(plan.expect_object("ConfigMap", "spire-bundle").get("data").is_none(), "the notifier writes it");

    let cm_conf = config(&plan, "spire-controller-manager", "config.yaml");
    for line in [
        "kind: ControllerManagerConfig",
        "clusterName: \"prod-eu\"",
        "trustDomain: \"dev.example\"",
        "spireServerSocketPath: \"/spire-server/api.sock\"",
        "className: \"security/spire\"",
        "resourceNamespace: \"security\"",
        "healthProbeBindAddress: \"0.0.0.0:8083\"",
        "  - \"^kube-system$\"",
    ] {
        assert!(cm_conf.contains(line), "controller manager config lacks {line:?}:\n{cm_conf}");
    }

    // A new configuration rolls the servers.
    let before = &sts["spec"]["template"]["metadata"]["annotations"]["capstan.dev/config-sha256"];
    let other = self::plan(json!({ "log_level": "debug" }));
    let after = &other.expect_object("StatefulSet", "spire-server")["spec"]["template"]["metadata"]["annotations"]
        ["capstan.dev/config-sha256"];
    assert_ne!(before, after);
}

#[test]
fn rbac_grants_what_psat_the_bundle_notifier_and_the_controller_manager_use() {
    let plan = plan(json!({}));
    let rules = |kind: &str, name: &str| plan.expect_object(kind, name)["rules"].clone();
    assert_eq!(
        rules("ClusterRole", "security.spire.server"),
        json!([
            { "apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create", "get"] },
            { "apiGroups": [""], "resources": ["nodes"], "verbs": ["get"] },
        ])
    );
    assert_eq!(
        rules("Role", "spire-server"),
        json!([
            { "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] },
            { "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["spire-bundle"], "verbs": ["get", "patch"] },
        ])
    );
    let cm = rules("ClusterRole", "security.spire.controller-manager").to_string();
    assert!(cm.contains("clusterspiffeids") && cm.contains("clusterspiffeids/status"), "{cm}");
    assert!(!cm.contains("validatingwebhookconfigurations"), "the webhook is off: {cm}");
    assert!(rules("Role", "spire-controller-manager").to_string().contains("leases"));
    assert_eq!(
        rules("ClusterRole", "security.spire.agent"),
        json!([{ "apiGroups": [""], "resources": ["pods", "nodes", "nodes/proxy"], "verbs": ["get"] }])
    );
    for (kind, name, sa) in [
        ("ClusterRoleBinding", "security.spire.server", "spire-server"),
        ("RoleBinding", "spire-server", "spire-server"),
        ("ClusterRoleBinding", "security.spire.controller-manager", "spire-server"),
        ("RoleBinding", "spire-controller-manager", "spire-server"),
        ("ClusterRoleBinding", "security.spire.agent", "spire-agent"),
    ] {
        let binding = plan.expect_object(kind, name);
        assert_eq!(binding["roleRef"]["name"], name, "{kind}/{name}");
        assert_eq!(binding["subjects"], json!([{ "kind": "ServiceAccount", "name": sa, "namespace": NS }]));
    }
}

#[test]
fn the_agents_attest_with_psat_and_serve_the_workload_api_in_a_host_path() {
    let plan = plan(json!({ "agent": { "tolerations": [{ "operator": "Exists" }] } }));
    let conf = config(&plan, "spire-agent", "agent.conf");
    for line in [
        "server_address = \"spire-server.security.svc\"",
        "server_port = \"8081\"",
        "trust_domain = \"dev.example\"",
        "socket_path = \"/run/spire/agent-sockets/spire-agent.sock\"",
        "trust_bundle_path = \"/run/spire/bundle/bundle.crt\"",
        "NodeAttestor \"k8s_psat\" {\n    plugin_data {\n      cluster = \"prod-eu\"",
        "WorkloadAttestor \"k8s\" {",
        "skip_kubelet_verification = true",
        "node_name_env = \"MY_NODE_NAME\"",
    ] {
        assert!(conf.contains(line), "agent.conf lacks {line:?}:\n{conf}");
    }
    let ds = plan.expect_object("DaemonSet", "spire-agent");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"], true, "the k8s workload attestor reads callers' processes");
    assert!(pod.get("hostNetwork").is_none());
    assert_eq!(pod["tolerations"], json!([{ "operator": "Exists" }]));
    assert_eq!(
        volume(ds, "sockets")["hostPath"],
        json!({ "path": "/run/spire/agent-sockets", "type": "DirectoryOrCreate" })
    );
    assert_eq!(volume(ds, "bundle")["configMap"]["name"], "spire-bundle");
    assert_eq!(
        volume(ds, "token")["projected"]["sources"][0]["serviceAccountToken"],
        json!({ "path": "spire-agent", "expirationSeconds": 7200, "audience": "spire-server" })
    );
    let agent = container(ds, "spire-agent");
    assert_eq!(agent["image"], "ghcr.io/spiffe/spire-agent:1.15.3");
    assert_eq!(agent["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(agent["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(agent["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "status.hostIP");

    let verified = self::plan(json!({ "agent": { "verify_kubelet": true, "socket_dir": "/var/run/spire" } }));
    let conf = config(&verified, "spire-agent", "agent.conf");
    assert!(!conf.contains("skip_kubelet_verification"), "{conf}");
    let ds = verified.expect_object("DaemonSet", "spire-agent");
    assert_eq!(container(ds, "spire-agent")["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName");
    assert_eq!(volume(ds, "sockets")["hostPath"]["path"], "/var/run/spire");
    assert_eq!(read_outputs(&verified).workload_api_socket.host_path.as_deref(), Some("/var/run/spire"));
}

#[test]
fn each_app_gets_one_cluster_spiffe_id_selecting_its_namespace_and_service_account() {
    let plan = plan(json!({}));
    let ids = plan.objects_of_kind("ClusterSPIFFEID");
    assert_eq!(ids.len(), 3);
    let spec = |name: &str| plan.expect_object("ClusterSPIFFEID", name)["spec"].clone();
    assert_eq!(
        spec("security.spire.payments-api"),
        json!({
            "className": "security/spire",
            "spiffeIDTemplate": TEMPLATE,
            "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "security" } },
            "workloadSelectorTemplates": ["k8s:sa:payments-api"],
        }),
        "the component's namespace and the app's name by default"
    );
    assert_eq!(
        spec("security.spire.ledger"),
        json!({
            "className": "security/spire",
            "spiffeIDTemplate": TEMPLATE,
            "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "finance" } },
            "workloadSelectorTemplates": ["k8s:sa:ledger-worker"],
        })
    );
    assert_eq!(
        spec("security.spire.web")["podSelector"],
        json!({ "matchLabels": { "app.kubernetes.io/name": "web" } })
    );
    let meta = &plan.expect_object("ClusterSPIFFEID", "security.spire.ledger")["metadata"];
    assert!(meta.get("namespace").is_none(), "cluster-scoped");
    assert_eq!(meta["labels"]["capstan.dev/app"], "ledger");

    let out = read_outputs(&plan);
    assert_eq!(out.spiffe_id_for("payments-api"), Some("spiffe://dev.example/ns/security/sa/payments-api"));
    assert_eq!(out.spiffe_id_for("ledger"), Some("spiffe://dev.example/ns/finance/sa/ledger-worker"));
    assert_eq!(out.spiffe_id_for("web"), Some("spiffe://dev.example/ns/edge/sa/web"));
    // Which pods each ID is issued to, defaults applied: what the app
    // plugin runs the app's pods as, without parsing the ID.
    assert_eq!(
        plan.output("apps").unwrap(),
        &json!({
            "payments-api": { "spiffe_id": "spiffe://dev.example/ns/security/sa/payments-api",
                              "namespace": "security", "service_account": "payments-api" },
            "ledger": { "spiffe_id": "spiffe://dev.example/ns/finance/sa/ledger-worker",
                        "namespace": "finance", "service_account": "ledger-worker" },
            "web": { "spiffe_id": "spiffe://dev.example/ns/edge/sa/web",
                     "namespace": "edge", "service_account": "web" },
        })
    );
    for (app, identity) in &out.apps {
        let spec = spec(&format!("security.spire.{app}"));
        assert_eq!(
            spec["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"].as_str(),
            identity.namespace.as_deref(),
            "{app}: the output names the namespace the registration selects"
        );
        assert_eq!(
            spec["workloadSelectorTemplates"][0].as_str(),
            identity.service_account.as_ref().map(|sa| format!("k8s:sa:{sa}")).as_deref(),
            "{app}: and the ServiceAccount"
        );
        assert_eq!(
            identity.pods_namespace().zip(identity.pods_service_account()),
            spire::kubernetes_path(&identity.spiffe_id),
            "{app}: the fields agree with the ID"
        );
    }

    let mut bare = inputs(json!({}));
    bare.as_object_mut().unwrap().remove("apps");
    let none = PlanCall::new(bare)
        .component("staging", NS, "spire")
        .dependency("postgres", "postgres", postgres())
        .run::<Spire>()
        .unwrap();
    assert!(none.objects_of_kind("ClusterSPIFFEID").is_empty());
    assert!(none.output("apps").is_none());
}

#[test]
fn the_oidc_discovery_provider_serves_https_for_the_issuer_the_server_signs_with() {
    let plan = with_oidc();
    let conf = config(&plan, "spire-server", "server.conf");
    assert!(conf.contains("jwt_issuer = \"https://spire-oidc.security.svc\""), "{conf}");
    let provider = config(&plan, "spire-oidc", "oidc-discovery-provider.conf");
    for line in [
        "domains = [\"spire-oidc.security.svc\", \"spire-oidc.security.svc.cluster.local\", \"spire-oidc.security\", \"spire-oidc\"]",
        "jwt_issuer = \"https://spire-oidc.security.svc\"",
        "jwks_uri = \"https://spire-oidc.security.svc/keys\"",
        "addr = \":8443\"",
        "socket_path = \"/spiffe-workload-api/spire-agent.sock\"",
        "trust_domain = \"dev.example\"",
    ] {
        assert!(provider.contains(line), "provider config lacks {line:?}:\n{provider}");
    }
    let deployment = plan.expect_object("Deployment", "spire-oidc");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["template"]["spec"]["serviceAccountName"], "spire-oidc");
    assert_eq!(volume(deployment, "workload-api")["hostPath"]["path"], "/run/spire/agent-sockets");
    assert_eq!(volume(deployment, "tls")["secret"]["secretName"], "spire-oidc-tls");
    let service = plan.expect_object("Service", "spire-oidc");
    assert_eq!(
        service["spec"]["ports"][0],
        json!({ "name": "https", "port": 443, "targetPort": "https", "protocol": "TCP" })
    );
    let cert = plan.expect_object("Certificate", "spire-oidc-tls");
    assert_eq!(cert["spec"]["dnsNames"][0], "spire-oidc.security.svc");
    assert!(plan.object("Issuer", "spire-oidc-ca-issuer").is_some(), "a private CA by default");
    // The provider reads the keys from the Workload API, so it is registered too.
    let own = plan.expect_object("ClusterSPIFFEID", "security.spire.oidc-discovery-provider");
    assert_eq!(own["spec"]["workloadSelectorTemplates"], json!(["k8s:sa:spire-oidc"]));
    assert_eq!(
        own["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
        "oidc-discovery-provider"
    );

    let out = read_outputs(&plan);
    assert_eq!(out.oidc_discovery_url.as_deref(), Some("https://spire-oidc.security.svc"));
    assert_eq!(out.jwks_url.as_deref(), Some("https://spire-oidc.security.svc/keys"));
    assert_eq!(out.jwt_issuer.as_deref(), Some("https://spire-oidc.security.svc"));
    assert_eq!(plan.warnings, []);

    // Another host name and the operator's issuer: no private CA, and a
    // warning that the name must lead to the Service.
    let custom = self::plan(json!({ "oidc": {
        "domain": "oidc.dev.example", "issuer": { "kind": "ClusterIssuer", "name": "internal-ca" }, "replicas": 2,
    } }));
    assert!(custom.object("Issuer", "spire-oidc-ca-issuer").is_none());
    let cert = custom.expect_object("Certificate", "spire-oidc-tls");
    assert_eq!(cert["spec"]["issuerRef"]["name"], "internal-ca");
    assert_eq!(cert["spec"]["dnsNames"][0], "oidc.dev.example");
    assert_eq!(custom.expect_object("Deployment", "spire-oidc")["spec"]["replicas"], 2);
    assert_eq!(read_outputs(&custom).jwks_url.as_deref(), Some("https://oidc.dev.example/keys"));
    assert_eq!(custom.warnings.len(), 1);
    assert_eq!(custom.warnings[0].path, "/oidc/domain");
    assert!(custom.warnings[0].message.contains("Service `spire-oidc`"), "{:?}", custom.warnings);
    assert_valid_manifests("OIDC on another domain", &custom.objects);
}

#[test]
fn the_outputs_satisfy_the_spire_contract() {
    for plan in [plan(json!({})), with_oidc()] {
        assert_contract(&plan);
        let out = read_outputs(&plan);
        assert_eq!(out.trust_domain, TD);
        assert_eq!(out.server_address, "spire-server.security.svc:8081");
        assert_eq!(
            serde_json::to_value(&out.workload_api_socket).unwrap(),
            json!({
                "volume": "host-path",
                "host_path": "/run/spire/agent-sockets",
                "mount_path": "/spiffe-workload-api",
                "socket_path": "/spiffe-workload-api/spire-agent.sock",
                "endpoint": "unix:///spiffe-workload-api/spire-agent.sock",
            })
        );
        assert_eq!(
            out.workload_api_socket.pod_volume("spiffe"),
            Some(
                json!({ "name": "spiffe", "hostPath": { "path": "/run/spire/agent-sockets", "type": "Directory" } })
            )
        );
        assert_eq!(
            out.network[0],
            NetworkPeer::pods(
                NS,
                &[
                    ("app.kubernetes.io/component", "server"),
                    ("app.kubernetes.io/instance", "spire"),
                    ("app.kubernetes.io/name", "spire"),
                ],
                &[8081]
            )
        );
    }
    let out = read_outputs(&with_oidc());
    assert_eq!(out.network.len(), 2);
    assert_eq!(out.network[1].ports, [8443]);
    assert_eq!(read_outputs(&plan(json!({}))).oidc_discovery_url, None);
}

#[test]
fn a_missing_or_misnamed_postgres_dependency_is_refused_at_the_postgres_input() {
    let no_dep =
        PlanCall::new(inputs(json!({}))).component("staging", NS, "spire").run::<Spire>().unwrap_err();
    let d = invalid_inputs(no_dep);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0, "/postgres");
    assert!(
        d[0].1.contains("dependency `postgres`") && d[0].1.contains("add `dependency \"postgres\""),
        "{d:?}"
    );

    let other_name = PlanCall::new(inputs(json!({})))
        .component("staging", NS, "spire")
        .dependency("db", "postgres", postgres())
        .run::<Spire>()
        .unwrap_err();
    let d = invalid_inputs(other_name);
    assert_eq!(d[0].0, "/postgres");
    assert!(d[0].1.contains("set `postgres = \"db\"`"), "{d:?}");
    // …which the input then names.
    PlanCall::new(inputs(json!({ "postgres": "db" })))
        .component("staging", NS, "spire")
        .dependency("db", "postgres", postgres())
        .run::<Spire>()
        .unwrap();

    let wrong_type = PlanCall::new(inputs(json!({})))
        .component("staging", NS, "spire")
        .dependency("postgres", "messaging", json!({ "protocol": "amqp", "endpoint": "amqp://mq" }))
        .run::<Spire>()
        .unwrap_err();
    let d = invalid_inputs(wrong_type);
    assert!(d[0].0 == "/postgres" && d[0].1.contains("is a `messaging` component"), "{d:?}");

    let mut broken = postgres();
    broken.as_object_mut().unwrap().remove("host");
    let err = PlanCall::new(inputs(json!({})))
        .component("staging", NS, "spire")
        .dependency("postgres", "postgres", broken)
        .run::<Spire>()
        .unwrap_err();
    assert!(matches!(&err, PlanError::MissingDependency(m) if m.contains("missing field `host`")), "{err:?}");
}

#[test]
fn a_datastore_secret_in_another_namespace_is_refused_naming_the_dependency() {
    let plan = PlanCall::new(inputs(json!({})))
        .component("staging", "identity", "spire")
        .dependency("postgres", "postgres", postgres())
        .run::<Spire>()
        .unwrap_err();
    assert!(
        matches!(&plan, PlanError::MissingDependency(m)
            if m.contains("dependency `postgres` keeps Secret `security/postgres-spire`") && m.contains("runs in `identity`")),
        "{plan:?}"
    );
}

#[test]
fn a_postgres_without_a_database_for_this_component_is_used_with_a_warning() {
    let mut shared = postgres();
    shared["databases"].as_object_mut().unwrap().remove("spire");
    let plan = PlanCall::new(inputs(json!({})))
        .component("staging", NS, "spire")
        .dependency("postgres", "postgres", shared)
        .run::<Spire>()
        .unwrap();
    assert!(config(&plan, "spire-server", "server.conf").contains("dbname=ledger user=ledger_user"));
    assert_eq!(plan.warnings.len(), 1);
    assert_eq!(plan.warnings[0].path, "/postgres");
    assert!(plan.warnings[0].message.contains("add `apps.spire`"), "{:?}", plan.warnings);
}

#[test]
fn a_missing_or_malformed_trust_domain_or_cluster_name_is_refused_at_its_input() {
    let mut bare = inputs(json!({}));
    bare.as_object_mut().unwrap().remove("trust_domain");
    bare.as_object_mut().unwrap().remove("cluster_name");
    let d = invalid_inputs(
        PlanCall::new(bare)
            .component("staging", NS, "spire")
            .dependency("postgres", "postgres", postgres())
            .run::<Spire>()
            .unwrap_err(),
    );
    let paths: Vec<&str> = d.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/trust_domain", "/cluster_name"]);
    assert!(d[0].1.contains("trust domain") && d[0].1.contains("required"), "{d:?}");

    for (bad, says) in [
        ("spiffe://dev.example", "without `spiffe://`"),
        ("Dev.Example", "lower case"),
        ("dev.example/ns", "no scheme, port or path"),
    ] {
        let d = refused(json!({ "trust_domain": bad }));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].0 == "/trust_domain" && d[0].1.contains(says), "{bad}: {d:?}");
    }
    let d = refused(json!({ "cluster_name": "prod/eu" }));
    assert!(d[0].0 == "/cluster_name" && d[0].1.contains("SPIFFE ID"), "{d:?}");
}

#[test]
fn unknown_keys_and_bad_values_are_refused_at_their_input() {
    let d = refused(json!({ "trust_domian": "dev.example" }));
    assert!(d.iter().any(|(p, m)| p.is_empty() && m.contains("trust_domian")), "{d:?}");
    let d = refused(json!({ "apps": { "ledger": { "serviceaccount": "x" } } }));
    assert!(d.iter().any(|(p, m)| p == "/apps/ledger" && m.contains("serviceaccount")), "{d:?}");

    let diagnostics = validate(inputs(json!({
        "replicas": 0,
        "apps": {
            "Bad_App": {},
            "oidc-discovery-provider": {},
            "ledger": { "namespace": "kube-system", "service_account": "Ledger" },
            "web": { "pod_labels": { "app.kubernetes.io/name": "not ok!" } },
        },
        "oidc": { "domain": "Not A Host", "replicas": 0 },
        "agent": { "socket_dir": "relative/dir" },
        "images": { "agent": "" },
        "ca_subject": { "common_name": "${HOSTNAME}" },
        "postgres": "",
    })));
    let paths: Vec<&str> = diagnostics.iter().map(|d| d.path.as_str()).collect();
    for path in [
        "/replicas",
        "/postgres",
        "/oidc/domain",
        "/oidc/replicas",
        "/apps/Bad_App",
        "/apps/oidc-discovery-provider",
        "/apps/ledger/namespace",
        "/apps/ledger/service_account",
        "/apps/web/pod_labels/app.kubernetes.io~1name",
        "/images/agent",
        "/ca_subject",
        "/agent/socket_dir",
    ] {
        assert!(paths.contains(&path), "no diagnostic at {path}: {diagnostics:?}");
    }
    assert!(diagnostics.iter().all(|d| d.severity == Severity::Error));
    assert!(validate(inputs(json!({}))).is_empty());
}

#[test]
fn health_waits_for_every_agent_and_for_registrations_the_server_took() {
    let ds =
        |status: Value| json!({ "kind": "DaemonSet", "metadata": { "generation": 2 }, "status": status });
    assert_eq!(
        Spire::health(&ds(
            json!({ "observedGeneration": 2, "desiredNumberScheduled": 3, "numberReady": 3, "updatedNumberScheduled": 3 })
        )),
        Health::Ready
    );
    assert_eq!(
        Spire::health(&ds(
            json!({ "observedGeneration": 2, "desiredNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3 })
        )),
        Health::Progressing("2 of 3 agents ready, 3 updated".into())
    );
    assert!(matches!(
        Spire::health(&ds(
            json!({ "observedGeneration": 1, "desiredNumberScheduled": 3, "numberReady": 3, "updatedNumberScheduled": 3 })
        )),
        Health::Progressing(_)
    ));
    let sts = json!({ "kind": "StatefulSet", "metadata": { "generation": 1 }, "spec": { "replicas": 2 },
                      "status": { "observedGeneration": 1, "readyReplicas": 1 } });
    assert!(matches!(Spire::health(&sts), Health::Progressing(m) if m.contains("1 of 2")));
    let id = |stats: Value| json!({ "kind": "ClusterSPIFFEID", "status": { "stats": stats } });
    assert_eq!(Spire::health(&id(json!({ "podsSelected": 2, "entriesToSet": 2 }))), Health::Ready);
    assert_eq!(Spire::health(&json!({ "kind": "ClusterSPIFFEID" })), Health::Ready);
    assert!(matches!(Spire::health(&id(json!({ "entryFailures": 1 }))), Health::Progressing(_)));
    assert!(
        matches!(Spire::health(&id(json!({ "podEntryRenderFailures": 2 }))), Health::Degraded(m) if m.contains("2 pod"))
    );
}

/// The real `capstan/postgres-statefulset`, with an app for this component,
/// in its namespace: its outputs bind the datastore as they are.
#[test]
fn outputs_of_the_real_postgres_plugin_bind_the_datastore() {
    use capstan_plugin_postgres_statefulset::PostgresStatefulSet;
    let pg = PlanCall::new(json!({
        "superuser_password": "super-s3cret",
        "apps": { "spire": { "password": "spire-s3cret" }, "ledger": { "password": "ledger-s3cret" } },
        "default_app": "ledger",
    }))
    .component("staging", NS, "postgres")
    .sensitive("/superuser_password")
    .sensitive("/apps/spire/password")
    .sensitive("/apps/ledger/password")
    .run::<PostgresStatefulSet>()
    .unwrap();
    let plan = PlanCall::new(inputs(json!({ "oidc": {} })))
        .component("staging", NS, "spire")
        .dependency_outputs("postgres", "postgres", pg.outputs.clone())
        .run::<Spire>()
        .unwrap();
    assert_eq!(plan.warnings, []);
    let conf = config(&plan, "spire-server", "server.conf");
    assert!(
        conf.contains(
            "connection_string = \"host=postgres.security.svc port=5432 dbname=spire user=spire_user \
             sslmode=verify-full sslrootcert=/run/spire/postgres-ca/ca.crt connect_timeout=10\""
        ),
        "{conf}"
    );
    let sts = plan.expect_object("StatefulSet", "spire-server");
    assert_eq!(
        container_env(sts, "PGPASSWORD").unwrap()["valueFrom"]["secretKeyRef"]["name"],
        "postgres-spire"
    );
    assert_eq!(volume(sts, "postgres-ca")["secret"]["secretName"], "postgres-tls");
    assert!(!serde_json::to_string(&plan.objects).unwrap().contains("spire-s3cret"));
    assert_contract(&plan);
    assert_valid_manifests("spire on postgres-statefulset", &plan.objects);
}

/// The `spire` kit (`wit/contracts/kits/spire.json`) as `capstan plugin
/// test` runs it, natively: each case validates and plans, its outputs
/// keep the contract and its objects are valid; each bad input is refused
/// by `validate` at its path.
#[test]
fn the_spire_kit_passes() {
    let kit: Value = serde_json::from_str(include_str!("../../../wit/contracts/kits/spire.json")).unwrap();
    assert_eq!(kit["component_type"], "spire");
    for case in kit["cases"].as_array().unwrap() {
        let mut call = PlanCall::new(case["inputs"].clone()).component("kit", "kit", "kit-subject");
        for (name, dep) in case["dependencies"].as_object().unwrap() {
            call = call.dependency(name, dep["component_type"].as_str().unwrap(), dep["outputs"].clone());
        }
        let plan = call.run::<Spire>().unwrap_or_else(|e| panic!("case {}: {e}", case["name"]));
        assert_contract(&plan);
        assert_valid_manifests(case["name"].as_str().unwrap(), &plan.objects);
        assert_eq!(plan, call.run::<Spire>().unwrap(), "deterministic");
    }
    for bad in kit["bad_inputs"].as_array().unwrap() {
        let path = bad["path"].as_str().unwrap();
        let d = validate(bad["inputs"].clone());
        assert!(
            d.iter().any(|d| d.severity == Severity::Error && d.path.starts_with(path)),
            "{}: nothing at {path}: {d:?}",
            bad["name"]
        );
    }
}

/// The `.wasm` built from this crate, run through the engine's host (the
/// sandbox and the WIT conversions), plans what the native build plans.
#[test]
fn the_built_wasm_component_plans_the_same_in_the_sandbox() {
    let workspace = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));
    let wasm = capstan_sdk::testkit::wasm::build(workspace, env!("CARGO_PKG_NAME")).unwrap();
    for variant in [
        call(json!({})),
        call(json!({ "oidc": {} })),
        call(json!({ "monitoring": { "labels": { "release": "kube-prometheus-stack" } } })),
    ] {
        assert_eq!(variant.run_wasm(&wasm).unwrap().unwrap(), variant.run::<Spire>().unwrap());
    }
    let bad = call(json!({ "trust_domain": "Dev.Example" }));
    assert_eq!(bad.run_wasm(&wasm).unwrap().unwrap_err(), bad.run::<Spire>().unwrap_err());
}

/// What SPIRE and the controller manager read parses: the HCL files (HCL 2
/// is a superset of what SPIRE's HCL 1 parser takes in these shapes), and
/// the controller manager's YAML with the fields it decodes.
#[test]
fn the_rendered_configurations_parse() {
    let plan = plan(json!({
        "oidc": {},
        "ca_subject": { "organization": ["Opus \"Finance\" \\ Co"], "common_name": "SPIRE" },
    }));
    for (name, key) in [
        ("spire-server", "server.conf"),
        ("spire-agent", "agent.conf"),
        ("spire-oidc", "oidc-discovery-provider.conf"),
    ] {
        let text = config(&plan, name, key);
        let json: Value = hcl::from_str(&text).unwrap_or_else(|e| panic!("{key} is not HCL: {e}\n{text}"));
        assert!(json.is_object(), "{json}");
    }
    let server: Value = hcl::from_str(&config(&plan, "spire-server", "server.conf")).unwrap();
    assert_eq!(server["server"]["trust_domain"], TD);
    assert_eq!(server["server"]["ca_subject"]["organization"], json!(["Opus \"Finance\" \\ Co"]));
    assert_eq!(server["plugins"]["DataStore"]["sql"]["plugin_data"]["database_type"], "postgres");
    assert_eq!(
        server["plugins"]["NodeAttestor"]["k8s_psat"]["plugin_data"]["clusters"]["prod-eu"]["service_account_allow_list"],
        json!(["security:spire-agent"])
    );

    let cm: Value =
        serde_norway::from_str(&config(&plan, "spire-controller-manager", "config.yaml")).unwrap();
    assert_eq!(
        cm,
        json!({
            "apiVersion": "spire.spiffe.io/v1alpha1",
            "kind": "ControllerManagerConfig",
            "metrics": { "bindAddress": "127.0.0.1:8082" },
            "health": { "healthProbeBindAddress": "0.0.0.0:8083" },
            "leaderElection": { "leaderElect": true, "resourceName": "spire-controller-manager", "resourceNamespace": NS },
            "clusterName": "prod-eu",
            "trustDomain": TD,
            "spireServerSocketPath": "/spire-server/api.sock",
            "className": "security/spire",
            "watchClassless": true,
            "ignoreNamespaces": ["^kube-system$", "^kube-public$"],
            "logLevel": "info",
        })
    );
}

// ---- monitoring ----

fn port_names(container: &Value) -> Vec<&str> {
    container["ports"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect()
}

#[test]
fn monitoring_is_off_by_default_and_renders_nothing_then() {
    assert!(defaults_of(&Spire::metadata()).get("monitoring").is_none(), "off unless set");
    let plan = plan(json!({ "oidc": {} }));
    for kind in ["PrometheusRule", "ServiceMonitor", "PodMonitor"] {
        assert!(plan.objects_of_kind(kind).is_empty(), "{kind} in {:?}", plan.object_ids());
    }
    assert!(plan.object("ConfigMap", "spire-dashboard").is_none());
    for (name, key) in [("spire-server", "server.conf"), ("spire-agent", "agent.conf")] {
        assert!(!config(&plan, name, key).contains("telemetry"), "{key}");
    }
    let sts = plan.expect_object("StatefulSet", "spire-server");
    assert_eq!(port_names(container(sts, "spire-server")), ["grpc", "health"]);
    let ds = plan.expect_object("DaemonSet", "spire-agent");
    assert_eq!(port_names(container(ds, "spire-agent")), ["health"]);
    let service = plan.expect_object("Service", "spire-server");
    assert_eq!(service["spec"]["ports"].as_array().unwrap().len(), 1);
    assert!(service["metadata"]["labels"].get("capstan.dev/metrics").is_none());
}

#[test]
fn monitoring_exports_the_metrics_scrapes_them_and_renders_the_alerts_and_dashboard() {
    let plan =
        plan(json!({ "oidc": {}, "monitoring": { "labels": { "release": "kube-prometheus-stack" } } }));
    let ids = plan.object_ids();
    assert_eq!(
        ids[ids.len() - 4..],
        [
            "ServiceMonitor/spire-server",
            "PodMonitor/spire-agent",
            "PrometheusRule/spire-alerts",
            "ConfigMap/spire-dashboard"
        ]
    );

    // Both configurations run SPIRE's Prometheus exporter on every address, port 9988.
    let telemetry = "telemetry {\n  Prometheus {\n    host = \"0.0.0.0\"\n    port = 9988\n  }\n}\n";
    for (name, key) in [("spire-server", "server.conf"), ("spire-agent", "agent.conf")] {
        let text = config(&plan, name, key);
        assert!(text.contains(telemetry), "{key}:\n{text}");
        let parsed: Value = hcl::from_str(&text).unwrap_or_else(|e| panic!("{key} is not HCL: {e}\n{text}"));
        assert_eq!(
            parsed["telemetry"],
            json!({ "Prometheus": { "host": "0.0.0.0", "port": 9988 } }),
            "{key}"
        );
    }
    let metrics = json!({ "name": "metrics", "containerPort": 9988, "protocol": "TCP" });
    let sts = plan.expect_object("StatefulSet", "spire-server");
    let server = container(sts, "spire-server");
    assert_eq!(port_names(server), ["grpc", "health", "metrics"]);
    assert_eq!(server["ports"][2], metrics);
    let ds = plan.expect_object("DaemonSet", "spire-agent");
    assert_eq!(
        container(ds, "spire-agent")["ports"],
        json!([
            { "name": "health", "containerPort": 8080, "protocol": "TCP" }, metrics
        ])
    );

    // The servers through their Service (alone: the headless one has no label), job spire-server.
    let service = plan.expect_object("Service", "spire-server");
    assert_eq!(service["metadata"]["labels"]["capstan.dev/metrics"], "true");
    assert_eq!(
        service["spec"]["ports"][1],
        json!({ "name": "metrics", "port": 9988, "targetPort": "metrics", "protocol": "TCP" })
    );
    let headless = plan.expect_object("Service", "spire-server-headless");
    assert!(headless["metadata"]["labels"].get("capstan.dev/metrics").is_none());
    let sm = plan.expect_object("ServiceMonitor", "spire-server");
    assert_eq!(sm["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"],
        json!({ "app.kubernetes.io/component": "server", "app.kubernetes.io/instance": "spire",
                "app.kubernetes.io/name": "spire", "capstan.dev/metrics": "true" })
    );
    assert_eq!(
        sm["spec"]["endpoints"],
        json!([{ "port": "metrics", "path": "/metrics", "interval": "30s",
                 "relabelings": [{ "action": "replace", "targetLabel": "job", "replacement": "spire-server" }] }])
    );
    // The agents' pods, job spire-agent.
    let pm = plan.expect_object("PodMonitor", "spire-agent");
    assert_eq!(pm["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(pm["spec"]["selector"]["matchLabels"], ds["spec"]["selector"]["matchLabels"]);
    assert_eq!(
        pm["spec"]["podMetricsEndpoints"],
        json!([{ "port": "metrics", "path": "/metrics", "interval": "30s",
                 "relabelings": [{ "action": "replace", "targetLabel": "job", "replacement": "spire-agent" }] }])
    );

    // The alerts on those two jobs, in the namespace.
    let rule = plan.expect_object("PrometheusRule", "spire-alerts");
    assert_eq!(rule["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(alert_names(rule), ["SpireServerDown", "SpireAgentDown", "SpireAgentWorkloadApiErrors"]);
    assert_eq!(
        rule["spec"],
        k8s::monitoring::rules_file(&[k8s::monitoring::spire_alerts(NS, "spire-server", "spire-agent")])
    );
    assert_eq!(
        rule["spec"]["groups"][0]["rules"][0]["expr"],
        "up{job=\"spire-server\",namespace=\"security\"} == 0"
    );
    assert_eq!(
        rule["spec"]["groups"][0]["rules"][1]["expr"],
        "up{job=\"spire-agent\",namespace=\"security\"} == 0"
    );

    let dashboard = plan.expect_object("ConfigMap", "spire-dashboard");
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    assert!(
        dashboard["metadata"]["labels"].get("release").is_none(),
        "the labels are for Prometheus's selectors"
    );
    let model: Value =
        serde_json::from_str(dashboard["data"]["capstan-spire-security-spire-server.json"].as_str().unwrap())
            .unwrap();
    let exprs: Vec<&str> = model["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["targets"][0]["expr"].as_str().unwrap())
        .collect();
    assert_eq!(exprs.len(), 4, "{exprs:?}");

    // Kubernetes 1.30 and the vendored CRDs (prometheus-operator's among them).
    assert_valid(&plan.objects, &[]);
    // The real promtool: the rules as rendered, and every dashboard query.
    let report = promtool_check_rules(&rule["spec"]).unwrap_or_else(|r| panic!("{r}"));
    assert!(report.contains("SUCCESS: 3 rules found"), "{report}");
    let report = promtool_check_rules(&k8s::monitoring::recording_rules_file(&exprs))
        .unwrap_or_else(|r| panic!("{r}"));
    assert!(report.contains("SUCCESS: 4 rules found"), "{report}");

    // A new configuration rolls the servers and the agents.
    let before = self::plan(json!({}));
    for (kind, name) in [("StatefulSet", "spire-server"), ("DaemonSet", "spire-agent")] {
        let sha = |p: &ComponentPlan| {
            p.expect_object(kind, name)["spec"]["template"]["metadata"]["annotations"]["capstan.dev/config-sha256"]
                .clone()
        };
        assert_ne!(sha(&before), sha(&plan), "{kind}");
    }
}

#[test]
fn monitoring_without_the_dashboard_and_what_it_refuses() {
    let plan = plan(json!({ "monitoring": { "dashboard": false } }));
    assert!(plan.object("ConfigMap", "spire-dashboard").is_none());
    assert!(plan.object("PrometheusRule", "spire-alerts").is_some());
    assert_valid_manifests("monitoring without the dashboard", &plan.objects);

    let d = refused(json!({ "monitoring": { "job": "spire" } }));
    assert!(d.iter().any(|(p, m)| p == "/monitoring" && m.contains("job")), "{d:?}");
    let d = refused(json!({ "monitoring": { "dashboard": "yes" } }));
    assert!(d.iter().any(|(p, _)| p == "/monitoring/dashboard"), "{d:?}");
    for (labels, path) in [
        (json!({ "not a key": "x" }), "/monitoring/labels/not a key"),
        (json!({ "release": "kube prometheus" }), "/monitoring/labels/release"),
        (json!({ "capstan.dev/metrics": "false" }), "/monitoring/labels/capstan.dev~1metrics"),
    ] {
        let found = validate(inputs(json!({ "monitoring": { "labels": labels.clone() } })));
        assert_eq!(
            found.iter().map(|d| (d.path.as_str(), d.severity)).collect::<Vec<_>>(),
            [(path, Severity::Error)],
            "{labels}: {found:?}"
        );
    }
    assert!(validate(inputs(json!({ "monitoring": { "labels": { "release": "kps" } } }))).is_empty());
}
