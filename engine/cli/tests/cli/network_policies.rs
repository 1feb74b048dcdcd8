//! The open-finance example's NetworkPolicies, checked path by path in both
//! environments: each app reaches DNS and the servers its dependencies name
//! (the database, the broker, the Dapr control plane), `oob-payments`
//! reaches `oob-consent` and not the other way round, the ingress controller
//! and Prometheus reach the public apps, and nothing else gets through, on
//! any port nobody declared.
//!
//! No cluster runs here, so the policies are read by a small evaluator of
//! the NetworkPolicy rules (below) over the objects `capstan render` gives
//! and the outputs `capstan plan --json` shows. The pods are the Deployments'
//! templates and, for what an operator runs (RabbitMQ, Kafka) or what is
//! installed beside the platform (DNS, Dapr's control plane, the ingress
//! controller, Prometheus), pods carrying the labels the `network` outputs
//! and the plugins' defaults name; a test checks that each server named is
//! a workload or a custom resource the backend renders. None of it reads the
//! golden files.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{example, with_test_key};

const ENVIRONMENTS: [&str; 2] = ["staging", "production"];

/// Where every app of the example is, and the components `_templates/app.hcl`
/// makes each of them depend on.
const NAMESPACE: &str = "open-finance";
const APPS: [&str; 3] = ["oob-consent", "oob-payments", "oob-directory-sync"];
const EVERY_APP_DEPENDS_ON: [&str; 3] = ["postgres", "messaging", "dapr"];

/// The one app-to-app dependency (oob-payments/component.hcl).
const CALLER: &str = "oob-payments";
const CALLEE: &str = "oob-consent";

/// The Dapr sidecar's internal gRPC port, where callers' sidecars deliver.
const DAPR_INTERNAL_GRPC: u16 = 50002;

/// A pod (its namespace and labels) or an address outside the cluster.
#[derive(Clone, Debug, PartialEq)]
enum Endpoint {
    Pod { namespace: String, labels: BTreeMap<String, String> },
    Outside,
}

fn pod(namespace: &str, labels: &[(&str, &str)]) -> Endpoint {
    Endpoint::Pod {
        namespace: namespace.to_owned(),
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    }
}

/// The cluster DNS and Prometheus, as the app plugin's defaults name them
/// (CoreDNS's `k8s-app: kube-dns`; the labels prometheus-operator gives its pods).
fn dns() -> Endpoint {
    pod("kube-system", &[("k8s-app", "kube-dns")])
}

fn prometheus() -> Endpoint {
    pod("monitoring", &[("app.kubernetes.io/name", "prometheus"), ("prometheus", "k8s")])
}

/// Pods nobody declared: one in another namespace, one beside the apps.
fn intruders() -> [Endpoint; 2] {
    [pod("default", &[("app", "intruder")]), pod(NAMESPACE, &[("app", "debug-shell")])]
}

// ---------------------------------------------------------------------------
// The evaluator: NetworkPolicy (networking.k8s.io/v1) semantics, as the
// Kubernetes documentation states them. A pod is isolated for a direction
// when a policy in its namespace selects it with that policy type; a
// connection needs the source's egress and the destination's ingress, each
// allowed when the side is not isolated or some selecting policy has a rule
// matching the peer and the port. Only what the renders use is modelled:
// a selector with anything but `matchLabels`, a named port or an `ipBlock`
// other than everything fails the test rather than being guessed at.
// ---------------------------------------------------------------------------

/// The policies of one environment.
struct Policies(Vec<Value>);

impl Policies {
    /// Whether `from` may open a connection to `to` on `protocol`/`port`.
    fn allow(&self, from: &Endpoint, to: &Endpoint, protocol: &str, port: u16) -> bool {
        self.side_allows(from, Direction::Egress, to, protocol, port)
            && self.side_allows(to, Direction::Ingress, from, protocol, port)
    }

    fn side_allows(
        &self,
        subject: &Endpoint,
        side: Direction,
        other: &Endpoint,
        protocol: &str,
        port: u16,
    ) -> bool {
        // Traffic of an address outside the cluster is no policy's business.
        let Endpoint::Pod { namespace, labels } = subject else { return true };
        let selecting: Vec<&Value> =
            self.0.iter().filter(|p| selects_for(p, namespace, labels, side)).collect();
        selecting.is_empty()
            || selecting.iter().any(|p| {
                let policy_namespace = p["metadata"]["namespace"].as_str().unwrap();
                p["spec"][side.rules()].as_array().into_iter().flatten().any(|rule| {
                    peers_match(rule.get(side.peers()), policy_namespace, other)
                        && ports_match(rule.get("ports"), protocol, port)
                })
            })
    }

    /// The policies selecting the pods of `endpoint`.
    fn selecting(&self, endpoint: &Endpoint, side: Direction) -> Vec<&Value> {
        let Endpoint::Pod { namespace, labels } = endpoint else { return Vec::new() };
        self.0.iter().filter(|p| selects_for(p, namespace, labels, side)).collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn policy_type(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
    fn rules(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
    fn peers(self) -> &'static str {
        match self {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        }
    }
}

/// `policy` is in the pod's namespace, selects it and isolates it for `side`.
/// Without `policyTypes`, a policy is an Ingress one, and an Egress one too
/// when it has egress rules.
fn selects_for(policy: &Value, namespace: &str, labels: &BTreeMap<String, String>, side: Direction) -> bool {
    let spec = &policy["spec"];
    let types: Vec<&str> = match spec.get("policyTypes").and_then(Value::as_array) {
        Some(types) => types.iter().map(|t| t.as_str().unwrap()).collect(),
        None if spec.get("egress").is_some() => vec!["Ingress", "Egress"],
        None => vec!["Ingress"],
    };
    policy["metadata"]["namespace"] == namespace
        && selector_matches(&spec["podSelector"], labels)
        && types.contains(&side.policy_type())
}

/// A label selector: `{}` selects everything, `matchLabels` must all hold.
fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let selector = selector.as_object().expect("a selector is an object");
    assert!(
        selector.keys().all(|k| k == "matchLabels"),
        "the evaluator models matchLabels only, not {selector:?}"
    );
    selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
}

/// The labels the API server gives every namespace.
fn namespace_labels(namespace: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("kubernetes.io/metadata.name".to_owned(), namespace.to_owned())])
}

/// A rule's `from`/`to`: absent or empty admits every peer.
fn peers_match(peers: Option<&Value>, policy_namespace: &str, other: &Endpoint) -> bool {
    let Some(peers) = peers.and_then(Value::as_array).filter(|p| !p.is_empty()) else { return true };
    peers.iter().any(|peer| peer_matches(peer, policy_namespace, other))
}

fn peer_matches(peer: &Value, policy_namespace: &str, other: &Endpoint) -> bool {
    if let Some(block) = peer.get("ipBlock") {
        // Read cautiously: some network plugins apply an ipBlock to pod
        // addresses too, so "every address" admits pods as well.
        let cidr = block["cidr"].as_str().unwrap();
        assert!(
            ["0.0.0.0/0", "::/0"].contains(&cidr) && block.get("except").is_none(),
            "the evaluator models every-address blocks only, not {block}"
        );
        return true;
    }
    let Endpoint::Pod { namespace, labels } = other else { return false };
    let in_namespace = match peer.get("namespaceSelector") {
        // A peer without a namespace selector means the policy's namespace.
        None => namespace == policy_namespace,
        Some(selector) => selector_matches(selector, &namespace_labels(namespace)),
    };
    let pod = peer.get("podSelector").is_none_or(|selector| selector_matches(selector, labels));
    in_namespace && pod
}

/// A rule's `ports`: absent or empty admits every port.
fn ports_match(ports: Option<&Value>, protocol: &str, port: u16) -> bool {
    let Some(ports) = ports.and_then(Value::as_array).filter(|p| !p.is_empty()) else { return true };
    ports.iter().any(|p| {
        let same_protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP") == protocol;
        let first = match p.get("port") {
            None => return same_protocol,
            Some(Value::Number(n)) => n.as_u64().unwrap(),
            Some(named) => panic!("the evaluator models numeric ports only, not {named}"),
        };
        let last = p.get("endPort").and_then(Value::as_u64).unwrap_or(first);
        same_protocol && (first..=last).contains(&u64::from(port))
    })
}

// ---------------------------------------------------------------------------
// One environment, rendered and planned once per test run.
// ---------------------------------------------------------------------------

struct Environment {
    name: &'static str,
    policies: Policies,
    /// Every rendered object.
    objects: Vec<Value>,
    /// Each component's outputs, by its directory below the environment (`open-finance/postgres`).
    outputs: BTreeMap<String, Value>,
}

impl Environment {
    /// The pods of the app `name`: its Deployment's template.
    fn app(&self, name: &str) -> Endpoint {
        let deployment = self
            .objects
            .iter()
            .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{}: no Deployment {name}", self.name));
        let labels = deployment["spec"]["template"]["metadata"]["labels"].as_object().unwrap();
        Endpoint::Pod {
            namespace: deployment["metadata"]["namespace"].as_str().unwrap().to_owned(),
            labels: labels.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect(),
        }
    }

    /// The container port of the app `name`, if it listens.
    fn port(&self, name: &str) -> Option<u16> {
        let deployment =
            self.objects.iter().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == name)?;
        let port = deployment.pointer("/spec/template/spec/containers/0/ports/0/containerPort")?;
        Some(u16::try_from(port.as_u64()?).unwrap())
    }

    fn has(&self, kind: &str, name: &str) -> bool {
        self.objects.iter().any(|o| o["kind"] == kind && o["metadata"]["name"] == name)
    }

    /// The peers of `output` of component `component` (`network`, `ingress_from`).
    fn peers(&self, component: &str, output: &str) -> Vec<(Endpoint, Vec<u16>)> {
        let outputs = self.outputs.get(component).unwrap_or_else(|| panic!("{}: no {component}", self.name));
        let Some(peers) = outputs.get(output).and_then(Value::as_array) else { return Vec::new() };
        peers
            .iter()
            .map(|p| {
                let ports = p["ports"].as_array().into_iter().flatten().map(|n| n.as_u64().unwrap() as u16);
                let endpoint = match p["namespace"].as_str() {
                    Some(namespace) => Endpoint::Pod {
                        namespace: namespace.to_owned(),
                        labels: p["pod_labels"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                            .collect(),
                    },
                    None => Endpoint::Outside,
                };
                (endpoint, ports.collect())
            })
            .collect()
    }

    #[track_caller]
    fn assert_allowed(&self, from: &Endpoint, to: &Endpoint, protocol: &str, port: u16, what: &str) {
        assert!(
            self.policies.allow(from, to, protocol, port),
            "{}: {what} must be allowed ({from:?} → {to:?} on {protocol}/{port}); policies selecting the \
             source: {:#?}; the destination: {:#?}",
            self.name,
            self.policies.selecting(from, Direction::Egress),
            self.policies.selecting(to, Direction::Ingress)
        );
    }

    #[track_caller]
    fn assert_denied(&self, from: &Endpoint, to: &Endpoint, protocol: &str, port: u16, what: &str) {
        assert!(
            !self.policies.allow(from, to, protocol, port),
            "{}: {what} must be denied ({from:?} → {to:?} on {protocol}/{port})",
            self.name
        );
    }
}

fn environments() -> &'static [Environment] {
    static ENVS: OnceLock<Vec<Environment>> = OnceLock::new();
    ENVS.get_or_init(|| ENVIRONMENTS.iter().map(|env| load(env)).collect())
}

/// `capstan render --stdout` for the objects (nothing applied, no effect
/// run) and `capstan plan --json` for the outputs, on a copy of the example.
fn load(env: &'static str) -> Environment {
    use serde::Deserialize as _;
    let s = example();
    let dir = format!("envs/{env}");
    let render = with_test_key(&s, &["render", &dir, "--stdout", "--secrets", "plain"]).ok();
    let objects: Vec<Value> = serde_norway::Deserializer::from_str(&render.stdout)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|o| !o.is_null())
        .collect();
    let plan = with_test_key(&s, &["plan", &dir, "--json"]).ok();
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap_or_else(|e| panic!("{plan:?}: {e}"));
    let prefix = format!("envs/{env}/");
    let outputs = plan["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["key"].as_str().unwrap().strip_prefix(&prefix).unwrap().to_owned(), c["outputs"].clone()))
        .collect();
    let policies = Policies(objects.iter().filter(|o| o["kind"] == "NetworkPolicy").cloned().collect());
    Environment { name: env, policies, objects, outputs }
}

fn component(name: &str) -> String {
    format!("{NAMESPACE}/{name}")
}

// ---------------------------------------------------------------------------
// The paths.
// ---------------------------------------------------------------------------

#[test]
fn every_app_is_isolated_both_ways_in_both_environments() {
    for env in environments() {
        for app in APPS {
            let pods = env.app(app);
            for side in [Direction::Ingress, Direction::Egress] {
                assert!(
                    !env.policies.selecting(&pods, side).is_empty(),
                    "{}: no NetworkPolicy isolates {app} for {side:?}",
                    env.name
                );
            }
            assert_eq!(env.outputs[&component(app)]["network_policies"], true, "{}: {app}", env.name);
        }
    }
}

#[test]
fn apps_reach_dns_and_every_server_their_dependencies_name() {
    for env in environments() {
        for app in APPS {
            let pods = env.app(app);
            for protocol in ["UDP", "TCP"] {
                env.assert_allowed(&pods, &dns(), protocol, 53, &format!("{app} → DNS"));
            }
            env.assert_denied(&pods, &dns(), "UDP", 5353, &format!("{app} → DNS on another port"));
            for dependency in EVERY_APP_DEPENDS_ON {
                let peers = env.peers(&component(dependency), "network");
                assert!(
                    !peers.is_empty(),
                    "{}: {dependency} names no `network`: an app under a NetworkPolicy could not reach it",
                    env.name
                );
                for (server, ports) in &peers {
                    assert!(!ports.is_empty(), "{}: {dependency}: {server:?} without ports", env.name);
                    for port in ports {
                        env.assert_allowed(&pods, server, "TCP", *port, &format!("{app} → {dependency}"));
                    }
                    let undeclared = (1..).find(|p| !ports.contains(p)).unwrap();
                    env.assert_denied(
                        &pods,
                        server,
                        "TCP",
                        undeclared,
                        &format!("{app} → {dependency} on undeclared port {undeclared}"),
                    );
                }
            }
        }
    }
}

#[test]
fn the_dapr_sidecar_reaches_the_control_plane_and_its_components_servers() {
    for env in environments() {
        let network = env.peers(&component("dapr"), "network");
        for (app, port) in [("dapr-sentry", 50001), ("dapr-operator", 6500), ("dapr-placement-server", 50005)]
        {
            let control = pod("dapr-system", &[("app", app)]);
            assert!(
                network.iter().any(|(p, ports)| *p == control && ports.contains(&port)),
                "{}: {app}",
                env.name
            );
            env.assert_allowed(&env.app(CALLEE), &control, "TCP", port, &format!("a sidecar → {app}"));
        }
        // The sidecar talks to the same broker and database the apps use.
        for backend in ["messaging", "postgres"] {
            for peer in env.peers(&component(backend), "network") {
                assert!(network.contains(&peer), "{}: dapr reaches {backend}'s {peer:?}", env.name);
            }
        }
    }
}

#[test]
fn payments_reaches_consent_and_nothing_reaches_back_or_across() {
    for env in environments() {
        let (caller, callee) = (env.app(CALLER), env.app(CALLEE));
        let port = env.port(CALLEE).unwrap();
        env.assert_allowed(&caller, &callee, "TCP", port, "oob-payments → oob-consent");
        env.assert_allowed(
            &caller,
            &callee,
            "TCP",
            DAPR_INTERNAL_GRPC,
            "oob-payments → oob-consent's sidecar",
        );
        env.assert_denied(&caller, &callee, "TCP", 9090, "oob-payments → oob-consent on an undeclared port");
        let back = env.port(CALLER).unwrap();
        env.assert_denied(&callee, &caller, "TCP", back, "oob-consent → oob-payments");
        env.assert_denied(&callee, &caller, "TCP", DAPR_INTERNAL_GRPC, "oob-consent → oob-payments' sidecar");
        // The worker depends on neither.
        let worker = env.app("oob-directory-sync");
        for (other, name) in [(&callee, CALLEE), (&caller, CALLER)] {
            for p in [port, DAPR_INTERNAL_GRPC] {
                env.assert_denied(&worker, other, "TCP", p, &format!("oob-directory-sync → {name}"));
            }
        }
    }
}

#[test]
fn only_the_ingress_controller_and_prometheus_reach_the_public_apps() {
    for env in environments() {
        let controllers = env.peers("platform/waf", "ingress_from");
        assert!(!controllers.is_empty(), "{}: the WAF names its controller's pods", env.name);
        let public: Vec<&str> = APPS.into_iter().filter(|a| env.has("Ingress", a)).collect();
        assert_eq!(public, [CALLEE, CALLER], "{}", env.name);
        for app in public {
            let (pods, port) = (env.app(app), env.port(app).unwrap());
            for (controller, _) in &controllers {
                env.assert_allowed(controller, &pods, "TCP", port, &format!("ingress controller → {app}"));
                env.assert_denied(
                    controller,
                    &pods,
                    "TCP",
                    9090,
                    &format!("ingress controller → {app}:9090"),
                );
                env.assert_denied(
                    controller,
                    &pods,
                    "TCP",
                    DAPR_INTERNAL_GRPC,
                    &format!("ingress controller → {app}'s sidecar"),
                );
            }
            assert!(env.has("ServiceMonitor", app), "{}: {app} is scraped", env.name);
            env.assert_allowed(&prometheus(), &pods, "TCP", port, &format!("Prometheus → {app}"));
            for intruder in intruders().iter().chain([&Endpoint::Outside]) {
                env.assert_denied(intruder, &pods, "TCP", port, &format!("{intruder:?} → {app}"));
            }
        }
    }
}

#[test]
fn nothing_is_reachable_that_nobody_declared() {
    for env in environments() {
        for app in APPS {
            let pods = env.app(app);
            for intruder in intruders() {
                env.assert_denied(&pods, &intruder, "TCP", 8080, &format!("{app} → {intruder:?}"));
                env.assert_denied(&pods, &intruder, "UDP", 53, &format!("{app} → {intruder:?} as DNS"));
            }
            // Outside the cluster: only what is declared, HTTPS (the
            // participant directory, `network_policy.egress` in
            // _templates/app.hcl) and, in production, the managed database's port.
            env.assert_allowed(&pods, &Endpoint::Outside, "TCP", 443, &format!("{app} → HTTPS out"));
            for port in [22, 80, 8080] {
                env.assert_denied(
                    &pods,
                    &Endpoint::Outside,
                    "TCP",
                    port,
                    &format!("{app} → the internet on {port}"),
                );
            }
            env.assert_denied(&pods, &prometheus(), "TCP", 9090, &format!("{app} → Prometheus"));
        }
    }
}

/// The servers the backends name are pods they really run: a rendered pod
/// template's, or those of a custom resource the backend renders (an
/// operator's RabbitmqCluster or Kafka, whose name the labels carry).
#[test]
fn the_servers_named_are_the_pods_the_backends_run() {
    for env in environments() {
        for backend in ["postgres", "messaging"] {
            for (server, _) in env.peers(&component(backend), "network") {
                let Endpoint::Pod { namespace, labels } = &server else { continue };
                let in_namespace = |o: &&Value| o["metadata"]["namespace"] == namespace.as_str();
                let workload = env.objects.iter().filter(in_namespace).any(|o| {
                    let template = o.pointer("/spec/template/metadata/labels").and_then(Value::as_object);
                    ["Deployment", "StatefulSet"].contains(&o["kind"].as_str().unwrap())
                        && template.is_some_and(|t| {
                            labels.iter().all(|(k, v)| t.get(k).and_then(Value::as_str) == Some(v))
                        })
                });
                // A custom resource: its API group is not one of Kubernetes' own.
                let custom_resource = env.objects.iter().filter(in_namespace).any(|o| {
                    let api = o["apiVersion"].as_str().unwrap();
                    api.contains('.')
                        && !api.contains(".k8s.io/")
                        && labels.values().any(|v| o["metadata"]["name"] == v.as_str())
                });
                assert!(
                    workload || custom_resource,
                    "{}: {backend} names {server:?}, which no rendered workload or custom resource runs",
                    env.name
                );
            }
        }
    }
}

/// The evaluator against the cases the Kubernetes documentation spells out,
/// so a pass above means what it says.
#[test]
fn the_evaluator_reads_networkpolicies_as_kubernetes_does() {
    let web = pod("shop", &[("app", "web")]);
    let db = pod("shop", &[("app", "db")]);
    let other = pod("tools", &[("app", "db")]);
    let policy = |name: &str, spec: Value| serde_json::json!({ "kind": "NetworkPolicy", "metadata": { "name": name, "namespace": "shop" }, "spec": spec });
    // No policy: everything flows.
    assert!(Policies(vec![]).allow(&web, &db, "TCP", 5432));
    // The db isolated for ingress, web let in by a bare podSelector (same namespace only).
    let isolated = Policies(vec![policy(
        "db",
        serde_json::json!({ "podSelector": { "matchLabels": { "app": "db" } },
            "ingress": [{ "from": [{ "podSelector": { "matchLabels": { "app": "web" } } }],
                          "ports": [{ "port": 5432 }] }] }),
    )]);
    assert!(isolated.allow(&web, &db, "TCP", 5432));
    assert!(!isolated.allow(&web, &db, "TCP", 5433), "another port");
    assert!(!isolated.allow(&web, &db, "UDP", 5432), "another protocol");
    assert!(!isolated.allow(&pod("tools", &[("app", "web")]), &db, "TCP", 5432), "another namespace");
    assert!(isolated.allow(&db, &other, "TCP", 5432), "egress is not isolated by an ingress-only policy");
    // Egress isolation with an empty rule list denies everything but what another policy adds.
    let egress = Policies(vec![
        policy("deny", serde_json::json!({ "podSelector": {}, "policyTypes": ["Egress"] })),
        policy(
            "dns",
            serde_json::json!({ "podSelector": { "matchLabels": { "app": "web" } }, "policyTypes": ["Egress"],
                "egress": [{ "to": [{ "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "tools" } } }] }] }),
        ),
    ]);
    assert!(egress.allow(&web, &other, "TCP", 1), "a namespace selector alone admits its every pod and port");
    assert!(!egress.allow(&db, &other, "TCP", 1), "db is only under the deny-all");
    assert!(!egress.allow(&web, &Endpoint::Outside, "TCP", 443));
    assert!(Policies(vec![]).allow(&Endpoint::Outside, &web, "TCP", 80));
}
