//! The Kubernetes objects of one app.

use std::collections::BTreeMap;

use capstan_sdk::contracts::{self, SecretKeyRef};
use capstan_sdk::k8s::{self, Container, Ingress, Meta, PodTemplate};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

use crate::inputs::Inputs;
use crate::wiring::{Env, NETWORK_POLICIES, Wiring};
use crate::{identity, network};

/// The name of the app container and of its port.
const CONTAINER: &str = "app";
const PORT_NAME: &str = "http";

/// How often the startup probe checks; `startup_seconds` is a count of these.
const STARTUP_PERIOD_SECONDS: u32 = 5;

/// The topology keys pods are spread over, node first.
const SPREAD_KEYS: [&str; 2] = ["kubernetes.io/hostname", "topology.kubernetes.io/zone"];

pub fn plan(req: &PlanRequest, inputs: &Inputs, wiring: &Wiring) -> Result<ComponentPlan, PlanError> {
    let name = req.component.name.as_str();
    if !is_dns_label(name) {
        return Err(PlanError::Failed(format!(
            "component name `{name}` cannot name the app's Deployment and Service: Kubernetes wants at most 63 \
             lower-case letters, digits and `-`, starting with a letter and ending with a letter or digit; \
             rename the component's directory"
        )));
    }
    let meta = Meta::new(&req.component, name, "server");
    let port = inputs.port.map(|p| p.get());
    let mut objects = Vec::new();

    // The operator's own env wins over what dependencies suggest (to point
    // DATABASE_HOST at a pooler, say); duplicates would fail server-side apply.
    let mut env: Vec<(String, Env)> = Vec::new();
    for (key, value) in &wiring.env {
        if inputs.env.contains_key(key) {
            capstan_sdk::log::info!("env {key}: the value from inputs replaces the one from dependencies");
        } else {
            env.push((key.clone(), value.clone()));
        }
    }
    let env_secret_name = format!("{name}-env");
    let mut sensitive_env = BTreeMap::new();
    for (key, value) in &inputs.env {
        let mut pointer = "/env".to_owned();
        capstan_sdk::push_token(&mut pointer, key);
        if req.is_sensitive(&pointer) {
            sensitive_env.insert(key.clone(), Sensitive::new(value.clone()));
            let secret = SecretKeyRef { name: env_secret_name.clone(), key: key.clone(), namespace: None };
            env.push((key.clone(), Env::Secret(secret)));
        } else {
            env.push((key.clone(), Env::Plain(value.clone())));
        }
    }
    if !sensitive_env.is_empty() {
        objects.push(k8s::secret(&meta.renamed(&env_secret_name), &sensitive_env));
    }

    let mut container = Container::new(CONTAINER, &inputs.image)
        .resources(&inputs.resources)
        // The root filesystem is read-only; most runtimes still want a /tmp.
        .volume_mount("tmp", "/tmp");
    if let Some(command) = &inputs.command {
        container = container.command(command.clone());
    }
    if let Some(args) = &inputs.args {
        container = container.args(args.clone());
    }
    for ca in &wiring.ca_files {
        container = container.read_only_mount(&ca.volume, &ca.dir);
    }
    if let Some(socket) = &wiring.socket {
        container = container.read_only_mount(identity::SOCKET_VOLUME, &socket.mount_path);
    }
    for (key, value) in env {
        container = match value {
            Env::Plain(v) => container.env(key, v),
            Env::Secret(s) => container.env_secret(key, &s),
        };
    }
    if let Some(port) = port {
        container = container.port(PORT_NAME, port);
    }
    let probe = match (&inputs.health_command, &inputs.health_path, port) {
        (Some(command), _, _) => Some(k8s::exec_probe(command.iter().map(String::as_str))),
        (None, Some(path), Some(_)) => Some(k8s::http_probe(path, PORT_NAME)),
        (None, None, Some(_)) => Some(k8s::tcp_probe(PORT_NAME)),
        // `validate` refuses a path without a port and warns of a worker without a command.
        (None, _, None) => None,
    };
    if let Some(probe) = probe {
        // The kubelet runs neither readiness nor liveness until the startup
        // probe first succeeds: a slow start is waited for, up to
        // `startup_seconds`, and a fast one is checked at once.
        let mut startup = probe.clone();
        startup["periodSeconds"] = json!(STARTUP_PERIOD_SECONDS);
        startup["failureThreshold"] = json!(inputs.startup_seconds.div_ceil(STARTUP_PERIOD_SECONDS).max(1));
        container = container.startup_probe(startup).readiness_probe(probe.clone()).liveness_probe(probe);
    }

    let mut pod = PodTemplate::new(&meta).container(&container).empty_dir("tmp");
    for ca in &wiring.ca_files {
        pod = pod.volume(serde_json::json!({
            "name": ca.volume,
            "secret": { "secretName": ca.secret.name, "items": [{ "key": ca.secret.key, "path": "ca.crt" }] },
        }));
    }
    if let Some(socket) = &wiring.socket {
        pod = pod.volume(socket.volume.clone());
    }
    if let Some(uid) = inputs.run_as_user {
        pod = pod.run_as(uid, uid);
    }
    for (k, v) in &wiring.pod_annotations {
        pod = pod.annotation(k, v);
    }
    // Its own ServiceAccount when asked for, or when a spire or vault
    // dependency binds the app's identity to it (`identity.rs`), which then
    // says which one.
    if inputs.service_account.is_some() || wiring.own_service_account {
        let sa_name = wiring.service_account.as_deref().unwrap_or_else(|| inputs.service_account_name(name));
        let asked = inputs.service_account.as_ref();
        let annotations = asked.map(|sa| sa.annotations.clone()).unwrap_or_default();
        let automount = asked.is_some_and(|sa| sa.automount_token) || wiring.service_account_token;
        objects.push(k8s::service_account(&meta.renamed(sa_name).annotations(annotations), automount));
        pod = pod.service_account(sa_name).field("automountServiceAccountToken", json!(automount));
    }
    let replicas = match inputs.autoscaling {
        Some(_) => None,
        None => Some(inputs.replicas.get()),
    };
    let several = inputs.autoscaling.is_some() || inputs.replicas.get() > 1;
    if inputs.topology_spread && several {
        pod = pod.field("topologySpreadConstraints", spread(&meta));
    }
    objects.push(k8s::deployment(&meta, replicas, &pod));

    let mut outputs = contracts::app::Outputs {
        service_url: None,
        public_url: None,
        network: network::peers(&meta, port, wiring.dapr_sidecar),
        dapr_invoke_id: wiring.dapr_sidecar.then(|| format!("{name}.{}", req.component.namespace)),
    };
    if let Some(port) = port {
        objects.push(k8s::service(&meta, &[(PORT_NAME, port)]));
        outputs.service_url =
            Some(format!("http://{name}.{}.svc.cluster.local:{port}", req.component.namespace));
    }

    if let Some(a) = &inputs.autoscaling {
        objects.push(k8s::horizontal_pod_autoscaler(&meta, name, a.min.get(), a.max.get(), a.cpu));
    }
    match (&inputs.pdb, &inputs.autoscaling) {
        (Some(pdb), _) => objects.push(k8s::pod_disruption_budget(&meta, &pdb.min_available)),
        // An autoscaled app gets a budget unasked (see `Inputs::pdb`).
        (None, Some(_)) => {
            objects.push(k8s::pod_disruption_budget_max_unavailable(&meta, &k8s::IntOrPercent::Int(1)));
        }
        (None, None) => {}
    }

    if let Some(ing) = &inputs.ingress {
        let mut ingress = Ingress::new(meta.clone()).rule(&ing.host, &ing.path, name, PORT_NAME);
        match (&wiring.ingress_class, &ing.class) {
            (Some((waf, class)), Some(own)) if own != class => {
                return Err(PlanError::InvalidInputs(vec![Diagnostic::error(
                    "/ingress/class",
                    format!(
                        "ingress class `{own}` would bypass the WAF: dependency `{waf}` requires class `{class}`; remove ingress.class"
                    ),
                )]));
            }
            (Some((_, class)), _) | (None, Some(class)) => ingress = ingress.class(class),
            (None, None) => {}
        }
        for (k, v) in &wiring.ingress_annotations {
            ingress = ingress.annotation(k, v);
        }
        if ing.tls {
            let secret = ing.tls_secret.clone().unwrap_or_else(|| format!("{name}-tls"));
            ingress = ingress.tls(&[ing.host.as_str()], &secret);
            if let Some((key, issuer)) = &wiring.issuer_annotation {
                ingress = ingress.annotation(key, issuer);
            }
        }
        objects.push(ingress.to_value());
        let scheme = if ing.tls { "https" } else { "http" };
        outputs.public_url = Some(format!("{scheme}://{}{}", ing.host, ing.path));
    }

    if let Some(sm) = &inputs.service_monitor {
        objects.push(k8s::service_monitor(&meta, PORT_NAME, &sm.path, &sm.interval));
    }
    objects.extend(network::policies(&req.component, &meta, inputs, wiring)?);

    let mut published = contracts::outputs(&outputs, &[])?;
    published.push(Output {
        name: NETWORK_POLICIES.into(),
        value: json!(inputs.network_policy.enabled),
        sensitive: false,
    });
    Ok(ComponentPlan { objects, outputs: published, warnings: wiring.warnings.clone(), ..Default::default() })
}

/// One soft constraint per topology key: at most one pod more in any node
/// (zone) than in another, when the scheduler can manage it. Soft
/// (`ScheduleAnyway`) because a hard one leaves a pod pending on a cluster
/// with one zone, a full or cordoned node, or tainted nodes that still
/// count as empty domains.
fn spread(meta: &Meta) -> Value {
    let constraints = SPREAD_KEYS.map(|key| {
        json!({
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": { "matchLabels": meta.selector_value() },
        })
    });
    Value::Array(constraints.into())
}

/// An RFC 1035 label, what a Service name must be (and what fits in a label value).
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.last().is_some_and(|b| *b != b'-')
}
