//! The `forward` input: its shared key, its TLS (a cert-manager certificate
//! wired from the Certificate's Secret through the DaemonSet's volume into
//! fluent-bit's config, and the sidecar that reloads it), and the outputs a
//! client pushing logs reads (`collector_endpoint`, `ca_secret`, `network`).

use capstan_core::ComponentPlan;
use capstan_plugin_logs_fluent_bit::FluentBit;
use capstan_sdk::contracts::{self, NetworkPeer, SecretKeyRef, logs};
use capstan_sdk::testkit::{PlanExt, container_env, invalid_inputs};
use capstan_sdk::{Dependency, Output};
use serde_json::{Value, json};

use super::{TOKEN, call, config_of, section_of, value};

const KEY: &str = "fwd-key-not-a-real-one";

/// The forward input on with a shared key from the secrets file, `extra`
/// merged into its section.
fn forward(extra: Value) -> ComponentPlan {
    let mut section = json!({ "enabled": true, "port": 24224, "shared_key": KEY });
    section.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    call(json!({ "forward": section })).sensitive("/forward/shared_key").run::<FluentBit>().unwrap()
}

/// The outputs as a consumer reads them, through the SDK's `logs` contract.
fn outputs(plan: &ComponentPlan) -> logs::Outputs {
    let outputs: Vec<Output> = plan.outputs.clone();
    let dep = Dependency { name: "logs".into(), component_type: "logs".into(), outputs: outputs.into() };
    contracts::read::<logs::Outputs>(&dep).unwrap()
}

fn containers(plan: &ComponentPlan) -> &Vec<Value> {
    let ds = plan.expect_object("DaemonSet", "fluent-bit");
    ds.pointer("/spec/template/spec/containers").unwrap().as_array().unwrap()
}

fn volumes(plan: &ComponentPlan) -> &Vec<Value> {
    let ds = plan.expect_object("DaemonSet", "fluent-bit");
    ds.pointer("/spec/template/spec/volumes").unwrap().as_array().unwrap()
}

/// Where `container` mounts the pod volume `volume`.
fn mount_path<'a>(container: &'a Value, volume: &str) -> Option<&'a str> {
    container["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == volume)?["mountPath"].as_str()
}

/// The kinds and names of the cert-manager objects.
fn cert_manager_objects(plan: &ComponentPlan) -> Vec<String> {
    plan.object_ids()
        .into_iter()
        .filter(|id| id.starts_with("Certificate/") || id.starts_with("Issuer/"))
        .collect()
}

#[test]
fn the_forward_input_serves_tls_from_the_certificate_cert_manager_writes() {
    let plan = forward(json!({}));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

    // The Certificate names the Secret cert-manager writes ...
    let cert = plan.expect_object("Certificate", "fluent-bit-tls");
    let secret = cert["spec"]["secretName"].as_str().unwrap();
    // ... the DaemonSet mounts that Secret's certificate and key ...
    let volume = volumes(&plan).iter().find(|v| v["secret"]["secretName"] == secret).unwrap();
    let file = |key: &str| {
        let items = volume["secret"]["items"].as_array().unwrap();
        items.iter().find(|i| i["key"] == key).unwrap()["path"].as_str().unwrap().to_owned()
    };
    let fluent_bit = &containers(&plan)[0];
    assert_eq!(fluent_bit["name"], "fluent-bit");
    let dir = mount_path(fluent_bit, volume["name"].as_str().unwrap()).unwrap();
    // ... and fluent-bit's forward input reads those files.
    let cfg = config_of(&plan);
    let input = section_of(&cfg, "INPUT", "forward");
    assert_eq!(value(&input, "tls"), Some("On"));
    assert_eq!(value(&input, "tls.verify"), Some("Off"), "a server does not ask clients for certificates");
    assert_eq!(value(&input, "tls.crt_file"), Some(format!("{dir}/{}", file("tls.crt")).as_str()));
    assert_eq!(value(&input, "tls.key_file"), Some(format!("{dir}/{}", file("tls.key")).as_str()));
    assert_eq!(value(&input, "Shared_Key"), Some("${FORWARD_SHARED_KEY}"), "TLS does not replace the key");

    // Clients connect with TLS to a name the certificate carries, on the
    // input's port, and verify it with the CA cert-manager puts in the same Secret.
    let out = outputs(&plan);
    assert_eq!(out.collector_endpoint, "tls://fluent-bit.logging.svc.cluster.local:24224");
    let host = "fluent-bit.logging.svc.cluster.local";
    assert!(cert["spec"]["dnsNames"].as_array().unwrap().contains(&json!(host)), "{cert}");
    assert_eq!(value(&input, "Port"), Some("24224"));
    assert_eq!(
        out.ca_secret,
        Some(SecretKeyRef {
            name: secret.to_owned(),
            key: "ca.crt".into(),
            namespace: Some("logging".into())
        })
    );
}

#[test]
fn without_an_issuer_the_collector_gets_a_private_ca_of_its_own() {
    let plan = forward(json!({}));
    assert_eq!(
        cert_manager_objects(&plan),
        [
            "Issuer/fluent-bit-selfsigned",
            "Certificate/fluent-bit-ca",
            "Issuer/fluent-bit-ca-issuer",
            "Certificate/fluent-bit-tls",
        ]
    );
    let ca_issuer = plan.expect_object("Issuer", "fluent-bit-ca-issuer");
    let ca = plan.expect_object("Certificate", "fluent-bit-ca");
    assert_eq!(ca_issuer["spec"]["ca"]["secretName"], ca["spec"]["secretName"]);
    assert_eq!(
        plan.expect_object("Certificate", "fluent-bit-tls")["spec"]["issuerRef"]["name"],
        "fluent-bit-ca-issuer"
    );
    let ids = plan.object_ids();
    let position = |id: &str| ids.iter().position(|i| i == id).unwrap();
    assert!(position("Certificate/fluent-bit-tls") < position("DaemonSet/fluent-bit"), "{ids:?}");
}

#[test]
fn a_given_issuer_signs_the_certificate_and_no_ca_is_made() {
    let plan = forward(json!({ "tls": { "issuer": { "kind": "ClusterIssuer", "name": "internal-ca" } } }));
    assert_eq!(cert_manager_objects(&plan), ["Certificate/fluent-bit-tls"]);
    assert_eq!(
        plan.expect_object("Certificate", "fluent-bit-tls")["spec"]["issuerRef"],
        json!({ "kind": "ClusterIssuer", "name": "internal-ca", "group": "cert-manager.io" })
    );
    assert_eq!(outputs(&plan).ca_secret.unwrap().name, "fluent-bit-tls");

    let plan = forward(json!({ "tls": { "issuer": { "kind": "Issuer", "name": "vault" } } }));
    assert_eq!(plan.expect_object("Certificate", "fluent-bit-tls")["spec"]["issuerRef"]["kind"], "Issuer");
}

#[test]
fn a_renewed_certificate_is_reloaded_by_the_sidecar() {
    let plan = forward(json!({}));
    let cfg = config_of(&plan);
    let service = section_of(&cfg, "SERVICE", "");
    assert_eq!(value(&service, "Hot_Reload"), Some("On"));

    let containers = containers(&plan);
    assert_eq!(containers.len(), 2, "{containers:?}");
    let reloader = &containers[1];
    assert_eq!(reloader["name"], "tls-reloader");
    assert_eq!(reloader["image"], "ghcr.io/jimmidyson/configmap-reload:v0.15.0");
    // It watches the very volume fluent-bit reads the certificate from ...
    let secret = plan.expect_object("Certificate", "fluent-bit-tls")["spec"]["secretName"].clone();
    let volume = volumes(&plan).iter().find(|v| v["secret"]["secretName"] == secret).unwrap();
    let watched = mount_path(reloader, volume["name"].as_str().unwrap()).unwrap();
    let args: Vec<&str> = reloader["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(args.contains(&format!("--volume-dir={watched}").as_str()), "{args:?}");
    // ... and calls fluent-bit's reload endpoint on the port its HTTP server listens on.
    let port = value(&service, "HTTP_Port").unwrap();
    assert!(
        args.contains(&format!("--webhook-url=http://127.0.0.1:{port}/api/v2/reload").as_str()),
        "{args:?}"
    );
    assert_eq!(
        reloader["securityContext"],
        json!({
            "runAsUser": 65534,
            "runAsNonRoot": true,
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        })
    );
    assert!(reloader["volumeMounts"].as_array().unwrap().iter().all(|m| m["readOnly"] == true));
    assert!(
        reloader["resources"]["limits"]["memory"].is_string()
            && reloader["resources"]["limits"]["cpu"].is_string()
    );
    // Its liveness probe reaches its own listener, so that listens on the pod's address.
    let probe = &reloader["livenessProbe"]["httpGet"];
    assert_eq!(probe["port"], "reloader");
    // The one path configmap-reload serves; any other answers 404, which the kubelet counts as dead.
    assert_eq!(probe["path"], "/metrics");
    assert_eq!(reloader["ports"][0]["name"], "reloader");
    let listen = format!("--web.listen-address=:{}", reloader["ports"][0]["containerPort"]);
    assert!(args.contains(&listen.as_str()), "{args:?}");

    let plan = forward(json!({ "tls": { "reloader_image": "registry.example/configmap-reload:v0.15.0" } }));
    assert_eq!(config_of(&plan).matches("Hot_Reload").count(), 1);
    assert_eq!(
        plan.expect_object("DaemonSet", "fluent-bit")["spec"]["template"]["spec"]["containers"][1]["image"],
        "registry.example/configmap-reload:v0.15.0"
    );
}

#[test]
fn tls_off_serves_plaintext_with_no_certificate_sidecar_or_reload_endpoint() {
    let plan = forward(json!({ "tls": { "enabled": false } }));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    assert!(cert_manager_objects(&plan).is_empty(), "{:?}", plan.object_ids());
    let cfg = config_of(&plan);
    let input = section_of(&cfg, "INPUT", "forward");
    assert!(input.iter().all(|(k, _)| !k.starts_with("tls")), "{input:?}");
    assert_eq!(value(&section_of(&cfg, "SERVICE", ""), "Hot_Reload"), None, "nothing to reload");
    assert_eq!(containers(&plan).len(), 1);
    assert!(volumes(&plan).iter().all(|v| v.get("secret").is_none()), "{:?}", volumes(&plan));

    let out = outputs(&plan);
    assert_eq!(out.collector_endpoint, "tcp://fluent-bit.logging.svc.cluster.local:24224");
    assert_eq!(out.ca_secret, None);
    assert_eq!(out.network.len(), 1, "the input is still there to reach");
    assert!(plan.output("ca_secret").is_none());
}

#[test]
fn an_issuer_with_tls_off_is_ignored_with_a_warning() {
    let plan = forward(
        json!({ "tls": { "enabled": false, "issuer": { "kind": "ClusterIssuer", "name": "internal-ca" } } }),
    );
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert_eq!(plan.warnings[0].path, "/forward/tls/issuer");
    assert!(plan.warnings[0].message.starts_with("ignored"), "{}", plan.warnings[0].message);
    assert!(cert_manager_objects(&plan).is_empty());
}

#[test]
fn issuers_cert_manager_could_not_find_are_refused_at_their_path() {
    let err = call(
        json!({ "forward": { "tls": { "issuer": { "kind": "ClusterIssuer", "name": "Internal CA" } } } }),
    )
    .run::<FluentBit>()
    .unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/forward/tls/issuer/name");
    let err = call(json!({ "forward": { "tls": { "issuer": { "kind": "VaultIssuer", "name": "vault" } } } }))
        .run::<FluentBit>()
        .unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/forward/tls/issuer/kind");
    let err =
        call(json!({ "forward": { "tls": { "reloader_image": " " } } })).run::<FluentBit>().unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/forward/tls/reloader_image");
}

/// `forward.tls_secret` (an existing Secret) gave way to the certificate
/// cert-manager issues; an operator still setting it is told, not ignored.
#[test]
fn the_former_tls_secret_input_is_refused() {
    let err = call(json!({ "forward": { "tls_secret": "forward-tls" } })).run::<FluentBit>().unwrap_err();
    let d = invalid_inputs(err);
    assert!(
        d.iter().any(|(path, message)| path.starts_with("/forward") && message.contains("tls_secret")),
        "{d:?}"
    );
}

#[test]
fn clients_may_reach_the_collectors_pods_on_the_forward_port() {
    let plan = forward(json!({ "port": 24300 }));
    let network = outputs(&plan).network;
    let ds = plan.expect_object("DaemonSet", "fluent-bit");
    let pod_labels = ds.pointer("/spec/template/metadata/labels").unwrap();
    assert_eq!(network.len(), 1, "{network:?}");
    let peer: &NetworkPeer = &network[0];
    assert_eq!(peer.namespace.as_deref(), Some("logging"));
    assert!(!peer.pod_labels.is_empty());
    for (k, v) in &peer.pod_labels {
        assert_eq!(pod_labels[k], json!(v), "the peer selects the DaemonSet's pods: {k}");
    }
    assert_eq!(
        peer.pod_labels,
        serde_json::from_value(ds["spec"]["selector"]["matchLabels"].clone()).unwrap()
    );
    // The container port: a NetworkPolicy sees traffic after the Service forwarded it.
    let port =
        containers(&plan)[0]["ports"].as_array().unwrap().iter().find(|p| p["name"] == "forward").unwrap();
    assert_eq!(peer.ports, [port["containerPort"].as_u64().unwrap() as u16]);
    assert_eq!(peer.ports, [24300]);
    assert_eq!(outputs(&plan).collector_endpoint, "tls://fluent-bit.logging.svc.cluster.local:24300");
}

#[test]
fn the_forward_shared_key_lives_only_in_a_secret() {
    let plan = call(json!({
        "output": "splunk",
        "splunk": { "host": "hec", "token": TOKEN },
        "forward": { "enabled": true, "port": 24224, "shared_key": KEY },
    }))
    .sensitive("/splunk/token")
    .sensitive("/forward/shared_key")
    .run::<FluentBit>()
    .unwrap();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

    let cfg = config_of(&plan);
    let forward = section_of(&cfg, "INPUT", "forward");
    assert_eq!(value(&forward, "Shared_Key"), Some("${FORWARD_SHARED_KEY}"));
    assert_eq!(value(&forward, "Mem_Buf_Limit"), Some("50MB"), "a fast client is paused, not buffered");

    let secret = plan.expect_object("Secret", "fluent-bit-credentials");
    assert_eq!(secret["stringData"], json!({ "forward-shared-key": KEY, "splunk-hec-token": TOKEN }));
    let ds = plan.expect_object("DaemonSet", "fluent-bit");
    assert_eq!(
        container_env(ds, "FORWARD_SHARED_KEY").unwrap()["valueFrom"]["secretKeyRef"],
        json!({ "name": "fluent-bit-credentials", "key": "forward-shared-key" })
    );
    for object in plan.objects.iter().filter(|o| o["kind"] != "Secret") {
        assert!(!object.to_string().contains(KEY), "shared key leaked into {}", object["kind"]);
    }
}

#[test]
fn a_forward_input_without_a_shared_key_is_planned_with_a_warning() {
    let plan = call(json!({ "forward": { "enabled": true, "port": 24224 } })).run::<FluentBit>().unwrap();
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert_eq!(plan.warnings[0].path, "/forward/shared_key");
    assert!(plan.warnings[0].message.contains("any pod"), "{}", plan.warnings[0].message);
    assert!(!config_of(&plan).contains("Shared_Key"));
    assert_eq!(
        plan.output("collector_endpoint"),
        Some(&json!("tls://fluent-bit.logging.svc.cluster.local:24224"))
    );
}

#[test]
fn a_forward_shared_key_in_plain_inputs_is_refused_at_its_path() {
    let err = call(json!({ "forward": { "enabled": true, "port": 24224, "shared_key": "k" } }))
        .run::<FluentBit>()
        .unwrap_err();
    let d = invalid_inputs(err);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, "/forward/shared_key");
    assert!(d[0].1.contains("secrets file"), "{}", d[0].1);
}

/// The default: nothing to push to, so nothing to reach or verify, and no
/// certificate, though `forward.tls.enabled` defaults to true.
#[test]
fn without_the_forward_input_there_is_no_endpoint_certificate_or_network() {
    let plan = call(json!({ "forward": { "enabled": false, "port": 24224 } })).run::<FluentBit>().unwrap();
    assert_eq!(plan.output("collector_endpoint"), Some(&json!("")));
    assert!(plan.output("ca_secret").is_none());
    assert!(plan.output("network").is_none());
    assert!(cert_manager_objects(&plan).is_empty());
    assert!(!config_of(&plan).contains("forward"));
    assert!(!config_of(&plan).contains("Hot_Reload"));
    assert_eq!(containers(&plan).len(), 1);
    let svc = plan.expect_object("Service", "fluent-bit");
    assert_eq!(svc["spec"]["ports"].as_array().unwrap().len(), 1, "metrics port only");
}
