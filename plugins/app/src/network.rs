//! The app's NetworkPolicies, drawn from its dependency graph: the app may
//! reach what it depends on and be reached by what needs it, nothing else.
//!
//! One policy, named after the app, selects its pods and isolates them both
//! ways (`policyTypes: [Ingress, Egress]`), then allows:
//! - egress to the cluster DNS (UDP and TCP 53), to every dependency's
//!   `network` peers (a `dapr` dependency's include what the sidecar needs:
//!   the control plane and the backends of its components) and to the
//!   operator's `network_policy.egress`;
//! - ingress on the app's port from the WAF's `ingress_from` when the app
//!   has an ingress (from any address when the WAF names no pods: a cloud
//!   load balancer sends from outside), and from Prometheus when it has a
//!   service monitor.
//!
//! An app knows what it depends on, never what depends on it, so a caller
//! lets itself in: for each app it depends on whose pods are isolated, it
//! renders in that app's namespace a policy selecting those pods with one
//! ingress rule, the caller's pods on the ports the callee's `network`
//! lists. Policies add up, so the callee's own policy and its callers' admit
//! exactly its clients, and each such policy comes and goes with the
//! dependency that needs it. It is only rendered for a callee that says its
//! pods are isolated (the `network_policies` output): on an open app it
//! would shut every other client out.
//!
//! Pods are matched by namespace name (the `kubernetes.io/metadata.name`
//! label the API server puts on every namespace) and pod labels; a server
//! outside the cluster is any address (`0.0.0.0/0`, `::/0`) on its ports.
//! Ports are container ports: a policy sees traffic after a Service has
//! forwarded it.

use std::collections::{BTreeMap, BTreeSet};

use capstan_sdk::contracts::NetworkPeer;
use capstan_sdk::k8s::{self, Meta};
use capstan_sdk::{ComponentId, PlanError};
use serde_json::{Value, json};

use crate::inputs::{Inputs, PodsInput};
use crate::wiring::Wiring;

/// The label the API server sets on every namespace to its name (since
/// Kubernetes 1.22), so a namespace can be selected without labelling it.
const NAMESPACE_LABEL: &str = "kubernetes.io/metadata.name";

/// The Dapr sidecar's internal gRPC port, where other sidecars deliver
/// service invocations (daprd `--dapr-internal-grpc-port`, which the
/// injector leaves at 50002).
pub const DAPR_INTERNAL_GRPC_PORT: u16 = 50002;

/// Where the cluster DNS answers, over both protocols.
const DNS_PORT: u16 = 53;

const API_VERSION: &str = "networking.k8s.io/v1";
const KIND: &str = "NetworkPolicy";

/// Pods of a namespace, or any address outside the cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    Pods { namespace: String, labels: BTreeMap<String, String> },
    Outside,
}

/// The ports of one peer; `None`: every port (pods a peer names without ports).
type Ports = Option<BTreeSet<u16>>;

impl Peer {
    /// A contract's peer, checked: labels need a namespace, an outside
    /// server needs ports (or every address on every port would be open),
    /// and Kubernetes must accept the namespace and labels.
    fn of(dep: &str, peer: &NetworkPeer) -> Result<Self, PlanError> {
        let refuse = |why: String| {
            PlanError::MissingDependency(format!("dependency `{dep}` has an unusable `network` peer: {why}"))
        };
        match &peer.namespace {
            Some(ns) => {
                if !k8s::is_dns_label(ns) {
                    return Err(refuse(format!("`{ns}` cannot name a namespace")));
                }
                for (key, value) in &peer.pod_labels {
                    if !k8s::is_label_key(key) || !k8s::is_label_value(value) {
                        return Err(refuse(format!("`{key}: {value}` is not a Kubernetes label")));
                    }
                }
                Ok(Peer::Pods { namespace: ns.clone(), labels: peer.pod_labels.clone() })
            }
            None if !peer.pod_labels.is_empty() => Err(refuse("it names pod labels but no namespace".into())),
            None if peer.ports.is_empty() => {
                Err(refuse("a server outside the cluster with no ports would open every address".into()))
            }
            None => Ok(Peer::Outside),
        }
    }

    fn pods(p: &PodsInput) -> Self {
        Peer::Pods { namespace: p.namespace.clone(), labels: p.pod_labels.clone() }
    }

    /// The entries of a rule's `to` or `from`.
    fn selectors(&self) -> Vec<Value> {
        match self {
            Peer::Pods { namespace, labels } => vec![json!({
                "namespaceSelector": { "matchLabels": { NAMESPACE_LABEL: namespace } },
                "podSelector": pod_selector(labels),
            })],
            Peer::Outside => {
                vec![json!({ "ipBlock": { "cidr": "0.0.0.0/0" } }), json!({ "ipBlock": { "cidr": "::/0" } })]
            }
        }
    }
}

/// `{}` (every pod) for no labels, else `matchLabels`.
fn pod_selector(labels: &BTreeMap<String, String>) -> Value {
    if labels.is_empty() { json!({}) } else { json!({ "matchLabels": labels }) }
}

fn tcp(ports: impl IntoIterator<Item = u16>) -> Value {
    ports.into_iter().map(|port| json!({ "protocol": "TCP", "port": port })).collect()
}

/// One rule: `peer` (under `to` or `from`, by `direction`) on `ports`.
fn rule(direction: &str, selectors: Vec<Value>, ports: &Ports) -> Value {
    let mut rule = serde_json::Map::new();
    rule.insert(direction.to_owned(), Value::Array(selectors));
    if let Some(ports) = ports {
        rule.insert("ports".into(), tcp(ports.iter().copied()));
    }
    Value::Object(rule)
}

/// Every NetworkPolicy the app renders: its own (unless turned off), then
/// one per isolated app it calls, letting it in.
pub fn policies(
    component: &ComponentId,
    meta: &Meta,
    inputs: &Inputs,
    wiring: &Wiring,
) -> Result<Vec<Value>, PlanError> {
    let mut out = Vec::new();
    if inputs.network_policy.enabled {
        out.push(own(meta, inputs, wiring)?);
    }
    for (dep, peers) in &wiring.callees {
        out.extend(let_in(component, meta, dep, peers)?);
    }
    Ok(out)
}

/// What a client of this app must reach (the `network` output): its pods,
/// on its port and, with a Dapr sidecar, the sidecar's. Nothing for an app
/// that does not listen: without an app port a sidecar has nowhere to
/// deliver an invocation either.
pub fn peers(meta: &Meta, port: Option<u16>, dapr_sidecar: bool) -> Vec<NetworkPeer> {
    let Some(port) = port else { return Vec::new() };
    let mut ports = vec![port];
    if dapr_sidecar && port != DAPR_INTERNAL_GRPC_PORT {
        ports.push(DAPR_INTERNAL_GRPC_PORT);
    }
    vec![meta.network_peer(&ports)]
}

/// The app's own policy: isolated both ways, with the allowed paths.
fn own(meta: &Meta, inputs: &Inputs, wiring: &Wiring) -> Result<Value, PlanError> {
    let mut spec = serde_json::Map::new();
    spec.insert("podSelector".into(), json!({ "matchLabels": meta.selector_value() }));
    spec.insert("policyTypes".into(), json!(["Ingress", "Egress"]));
    let ingress = ingress(inputs, wiring)?;
    if !ingress.is_empty() {
        spec.insert("ingress".into(), Value::Array(ingress));
    }
    spec.insert("egress".into(), Value::Array(egress(inputs, wiring)?));
    Ok(k8s::custom_resource(API_VERSION, KIND, meta, Value::Object(spec)))
}

/// Who may open connections to the app's port. Apps that depend on this
/// one are let in by their own policies (see the module docs).
fn ingress(inputs: &Inputs, wiring: &Wiring) -> Result<Vec<Value>, PlanError> {
    let Some(port) = inputs.port.map(|p| p.get()) else { return Ok(Vec::new()) };
    let ports: Ports = Some(BTreeSet::from([port]));
    let mut rules = Vec::new();
    if inputs.ingress.is_some() {
        if wiring.ingress_from.is_empty() {
            // No pods named: outside traffic arrives from outside addresses.
            rules.push(json!({ "ports": tcp([port]) }));
        } else {
            let mut from = Vec::new();
            for (dep, peer) in &wiring.ingress_from {
                from.extend(Peer::of(dep, peer)?.selectors());
            }
            rules.push(rule("from", from, &ports));
        }
    }
    if inputs.service_monitor.is_some() {
        rules.push(rule("from", Peer::pods(&inputs.network_policy.prometheus).selectors(), &ports));
    }
    Ok(rules)
}

/// Where the app may open connections: DNS first, then each peer once
/// with every port anything asked for it.
fn egress(inputs: &Inputs, wiring: &Wiring) -> Result<Vec<Value>, PlanError> {
    let np = &inputs.network_policy;
    let mut peers: BTreeMap<Peer, Ports> = BTreeMap::new();
    for (dep, peer) in &wiring.egress {
        add(&mut peers, Peer::of(dep, peer)?, &peer.ports);
    }
    for extra in &np.egress {
        let extra = extra.to_peer();
        let peer = match &extra.namespace {
            Some(ns) => Peer::Pods { namespace: ns.clone(), labels: extra.pod_labels.clone() },
            None => Peer::Outside,
        };
        add(&mut peers, peer, &extra.ports);
    }
    let dns = json!({
        "to": Peer::pods(&np.dns).selectors(),
        "ports": [{ "protocol": "UDP", "port": DNS_PORT }, { "protocol": "TCP", "port": DNS_PORT }],
    });
    let mut rules = vec![dns];
    rules.extend(peers.iter().map(|(peer, ports)| rule("to", peer.selectors(), ports)));
    Ok(rules)
}

/// Adds `ports` of `peer`; no ports means every port, which absorbs the rest.
fn add(peers: &mut BTreeMap<Peer, Ports>, peer: Peer, ports: &[u16]) {
    let entry = peers.entry(peer).or_insert_with(|| Some(BTreeSet::new()));
    match entry {
        Some(_) if ports.is_empty() => *entry = None,
        Some(set) => set.extend(ports),
        None => {}
    }
}

/// The policies letting this app into the pods of an app it calls, one per
/// group of pods its `network` names in the cluster.
fn let_in(
    component: &ComponentId,
    meta: &Meta,
    dep: &str,
    peers: &[NetworkPeer],
) -> Result<Vec<Value>, PlanError> {
    let mut pods = Vec::new();
    for peer in peers {
        if let Peer::Pods { namespace, labels } = Peer::of(dep, peer)? {
            pods.push((namespace, labels, peer.ports.iter().copied().collect::<BTreeSet<u16>>()));
        }
    }
    let caller = Peer::Pods { namespace: component.namespace.clone(), labels: meta.selector() };
    let several = pods.len() > 1;
    let mut out = Vec::with_capacity(pods.len());
    for (i, (namespace, labels, ports)) in pods.into_iter().enumerate() {
        let name = let_in_name(component, dep, &namespace, several.then_some(i))?;
        let ports: Ports = if ports.is_empty() { None } else { Some(ports) };
        let spec = json!({
            "podSelector": pod_selector(&labels),
            "policyTypes": ["Ingress"],
            "ingress": [rule("from", caller.selectors(), &ports)],
        });
        let mut policy = k8s::custom_resource(API_VERSION, KIND, &meta.renamed(name), spec);
        policy["metadata"]["namespace"] = json!(namespace);
        out.push(policy);
    }
    Ok(out)
}

/// `<caller>-to-<dependency>` in the caller's namespace; elsewhere
/// `<caller namespace>.<caller>-to-<dependency>`, so callers of the same
/// name in two namespaces do not collide (a dot never occurs in either form
/// otherwise). `-<n>` when the callee names several groups of pods.
fn let_in_name(
    component: &ComponentId,
    dep: &str,
    namespace: &str,
    index: Option<usize>,
) -> Result<String, PlanError> {
    let mut name = format!("{}-to-{}", component.name, name_part(dep));
    if namespace != component.namespace {
        name = format!("{}.{name}", component.namespace);
    }
    if let Some(i) = index {
        name.push_str(&format!("-{i}"));
    }
    if name.len() > 253 {
        return Err(PlanError::Failed(format!(
            "the NetworkPolicy letting `{}` into dependency `{dep}` would be named `{name}`, longer than \
             Kubernetes' 253 characters; give the dependency a shorter name",
            component.name
        )));
    }
    Ok(name)
}

/// A dependency's name as it may appear in an object name: lower-case
/// letters, digits and `-`.
fn name_part(dep: &str) -> String {
    let s: String =
        dep.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let trimmed = s.trim_matches('-');
    if trimmed.is_empty() { "app".into() } else { trimmed.to_owned() }
}
