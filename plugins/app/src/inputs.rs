//! The app plugin's inputs and the cross-field rules the schema cannot say.

use std::collections::BTreeMap;
use std::num::{NonZeroU16, NonZeroU32};

use capstan_sdk::contracts::{PeerInput, check_pods};
use capstan_sdk::k8s::{self, IntOrPercent, Resources};
use capstan_sdk::{Diagnostic, Severity};
use schemars::JsonSchema;
use serde::Deserialize;

/// The defaults operators merge `values_custom` over.
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// Environment variable names Kubernetes accepts (and shells can read).
const ENV_NAME_PATTERN: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";

/// A DNS-1123 subdomain: what Kubernetes accepts as a ServiceAccount name.
const SUBDOMAIN_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// An annotation key: an optional DNS subdomain prefix and `/`, then a name.
const ANNOTATION_KEY_PATTERN: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$";

/// Inputs of `capstan/app`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The container image, with a tag or a digest.
    #[schemars(length(min = 1))]
    pub image: String,
    /// Pods to run when `autoscaling` is not set.
    pub replicas: NonZeroU32,
    /// The port the app listens on. Gives a Service, probes and the
    /// `service_url` output; leave it out for a worker that only consumes.
    #[serde(default)]
    pub port: Option<NonZeroU16>,
    /// HTTP path of the readiness and liveness probes; without it the probes
    /// are TCP connects to the port.
    #[serde(default)]
    pub health_path: Option<String>,
    /// A command run in the app container as its probes instead (exit 0:
    /// healthy), such as `["/app/healthcheck"]`: the only probe a worker
    /// without `port` can have, so the kubelet restarts it when it hangs.
    /// Not with `health_path`. A worker with neither gets no probe, and a
    /// warning.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub health_command: Option<Vec<String>>,
    /// How long the app may take to start (listen, or pass
    /// `health_command`), in seconds, before the kubelet restarts it. A
    /// startup probe (the readiness probe's check, every 5 s) holds off the
    /// liveness probe until the app first answers, so a slow starter is not
    /// killed mid-start; a fast one is not slowed. Only with a probe.
    #[serde(default = "startup_seconds")]
    #[schemars(range(min = 5, max = 3600))]
    pub startup_seconds: u32,
    /// Spread the pods across nodes (`kubernetes.io/hostname`) and zones
    /// (`topology.kubernetes.io/zone`) when there can be more than one, so a
    /// node or zone going down does not take every pod with it. A preference
    /// (`whenUnsatisfiable: ScheduleAnyway`), never a reason to leave a pod
    /// pending. `false` leaves placement to the scheduler alone.
    #[serde(default = "yes")]
    pub topology_spread: bool,
    /// Run the pods as their own ServiceAccount (created with the app)
    /// instead of the namespace's `default` one: to give the app a cloud
    /// identity through annotations, or Kubernetes RBAC of its own. Without
    /// it the pods run as `default`, with no token mounted, unless a `spire`
    /// or `vault` dependency binds the app to a ServiceAccount: then they
    /// get the one it names (else one named after the app) as if this were
    /// `{}`.
    #[serde(default)]
    // Its own schema rather than `anyOf` with null, so a bad field inside is
    // reported at its path, not as "not valid under any of the schemas".
    #[schemars(with = "ServiceAccountInput")]
    pub service_account: Option<ServiceAccountInput>,
    /// CPU and memory requests and limits of the app container. A null
    /// `limits.cpu` drops the default CPU limit; the memory limit stays.
    pub resources: Resources,
    /// Plain environment variables. A value given in
    /// `values_sensitive_custom` goes into a Secret instead and is read from
    /// there; it never appears in the Deployment. Pods read env at start:
    /// after a change of such a value, or of a dependency's Secret (read by
    /// reference), they keep the old value until they restart.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": ENV_NAME_PATTERN }))]
    pub env: BTreeMap<String, String>,
    /// Overrides the image's entrypoint.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Overrides the image's arguments.
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// The user (and group) id the pod runs as; any non-zero id.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub run_as_user: Option<u32>,
    /// Scale on CPU with a HorizontalPodAutoscaler instead of `replicas`.
    #[serde(default)]
    pub autoscaling: Option<Autoscaling>,
    /// Keep this many pods up during voluntary disruptions (node drains).
    /// With `autoscaling` and no `pdb`, the pods get a budget evicting at
    /// most one at a time (`maxUnavailable: 1`): an autoscaled app is one
    /// that must stay up, and that budget never blocks a drain outright.
    #[serde(default)]
    pub pdb: Option<Pdb>,
    /// Expose the app outside the cluster. Needs `port`.
    #[serde(default)]
    pub ingress: Option<IngressInput>,
    /// Let Prometheus scrape the app. Needs `port`.
    #[serde(default)]
    pub service_monitor: Option<ServiceMonitorInput>,
    /// Who the app's pods may talk to and be reached by, as NetworkPolicies
    /// drawn from its dependencies; on unless `enabled` is false.
    #[serde(default)]
    pub network_policy: NetworkPolicyInput,
}

impl Inputs {
    /// The ServiceAccount the operator names for the pods, if any.
    pub fn named_service_account(&self) -> Option<&str> {
        self.service_account.as_ref().and_then(|sa| sa.name.as_deref())
    }

    /// The ServiceAccount the pods run as when they have one of their own
    /// and no `spire` or `vault` dependency names it: `service_account.name`,
    /// else the app's name.
    pub fn service_account_name<'a>(&'a self, app: &'a str) -> &'a str {
        self.named_service_account().unwrap_or(app)
    }
}

/// The `network_policy` section. By default the app's pods may reach the
/// cluster DNS, what their dependencies' `network` outputs name and the
/// servers in `egress`, and be reached on the app's port only by the
/// ingress controller (with an ingress), Prometheus (with a service monitor)
/// and the apps that depend on this one.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkPolicyInput {
    /// Render the NetworkPolicies. `false` leaves the pods open to every pod
    /// and address, both ways: for a cluster whose network plugin enforces
    /// none, or to debug, never for production. Apps that depend on this one
    /// then stop rendering the policy that lets them in, as nothing shuts them out.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The cluster DNS pods, reached on UDP and TCP 53. Default: kube-system,
    /// `k8s-app: kube-dns` (CoreDNS and kube-dns on kubeadm, EKS, GKE and AKS).
    #[serde(default = "cluster_dns")]
    pub dns: PodsInput,
    /// The Prometheus pods that scrape the app when `service_monitor` is set.
    /// Default: namespace `monitoring`, `app.kubernetes.io/name: prometheus`
    /// (the pods prometheus-operator runs, as kube-prometheus-stack installs it).
    #[serde(default = "prometheus")]
    pub prometheus: PodsInput,
    /// More servers the app reaches beyond its dependencies: a partner's API
    /// outside the cluster (`{ ports = [443] }`), a service Capstan does not plan.
    #[serde(default)]
    pub egress: Vec<PeerInput>,
}

impl Default for NetworkPolicyInput {
    fn default() -> Self {
        Self { enabled: true, dns: cluster_dns(), prometheus: prometheus(), egress: Vec::new() }
    }
}

/// Pods of one namespace, selected by labels.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodsInput {
    /// The pods' namespace.
    pub namespace: String,
    /// Labels the pods carry; empty: every pod of the namespace.
    pub pod_labels: BTreeMap<String, String>,
}

fn cluster_dns() -> PodsInput {
    PodsInput {
        namespace: "kube-system".into(),
        pod_labels: BTreeMap::from([("k8s-app".into(), "kube-dns".into())]),
    }
}

fn prometheus() -> PodsInput {
    PodsInput {
        namespace: "monitoring".into(),
        pod_labels: BTreeMap::from([("app.kubernetes.io/name".into(), "prometheus".into())]),
    }
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscaling {
    pub min: NonZeroU32,
    pub max: NonZeroU32,
    /// Target average CPU utilisation, in percent of the CPU request.
    #[schemars(range(min = 1, max = 100))]
    pub cpu: u32,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pdb {
    /// A pod count or a percentage such as `"50%"`.
    pub min_available: IntOrPercent,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountInput {
    /// The ServiceAccount's name; defaults to the app's name.
    #[serde(default)]
    #[schemars(length(min = 1, max = 253), pattern(SUBDOMAIN_PATTERN))]
    pub name: Option<String>,
    /// Annotations of the ServiceAccount, for workload identity: AWS
    /// `eks.amazonaws.com/role-arn`, GKE `iam.gke.io/gcp-service-account`,
    /// Azure `azure.workload.identity/client-id`.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": ANNOTATION_KEY_PATTERN }))]
    pub annotations: BTreeMap<String, String>,
    /// Mount the ServiceAccount's Kubernetes API token in the pods. Off: most
    /// apps never call the Kubernetes API, and a mounted token is a credential
    /// whoever breaks into the app can use. The EKS and AKS workload
    /// identity webhooks project a token of their own; turn this on only if
    /// the app calls the Kubernetes API or your identity setup requires it.
    /// A `vault` dependency the app logs in to with Kubernetes auth mounts it
    /// whatever this says: that login presents it.
    #[serde(default)]
    pub automount_token: bool,
}

fn startup_seconds() -> u32 {
    // Generous: a JVM on the default half-CPU limit can take a minute or
    // more to listen, and a fast starter is let through at its first check.
    120
}

fn root_path() -> String {
    "/".into()
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngressInput {
    /// The public host name, such as `api.example.com`.
    #[schemars(length(min = 1))]
    pub host: String,
    /// The path prefix routed to the app.
    #[serde(default = "root_path")]
    #[schemars(pattern(r"^/"))]
    pub path: String,
    /// Serve HTTPS. The certificate comes from the cert-manager dependency
    /// when there is one, else from the Secret `tls_secret`.
    #[serde(default = "yes")]
    pub tls: bool,
    /// The Secret holding the certificate; defaults to `<app>-tls`.
    #[serde(default)]
    pub tls_secret: Option<String>,
    /// The ingress class, when there is no WAF dependency to dictate it.
    #[serde(default)]
    pub class: Option<String>,
}

fn metrics_path() -> String {
    "/metrics".into()
}

fn thirty_seconds() -> String {
    "30s".into()
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceMonitorInput {
    #[serde(default = "metrics_path")]
    #[schemars(pattern(r"^/"))]
    pub path: String,
    /// Prometheus duration, such as `30s` or `1m`.
    #[serde(default = "thirty_seconds")]
    #[schemars(pattern(r"^[0-9]+(ms|s|m|h)$"))]
    pub interval: String,
}

/// Rules across fields. Runs on inputs that passed the schema; inputs that
/// do not even deserialise are reported by `plan`.
pub fn validate(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for name in inputs.env.keys() {
        if !is_env_name(name) {
            let mut path = "/env".to_owned();
            capstan_sdk::push_token(&mut path, name);
            out.push(Diagnostic::error(path, format!("`{name}` is not a valid environment variable name (letters, digits, `_`; not starting with a digit)")));
        }
    }
    if let Some(command) = &inputs.health_command {
        if inputs.health_path.is_some() {
            out.push(Diagnostic::error(
                "/health_command",
                "health_command and health_path are two probes: keep one",
            ));
        }
        if command.first().is_none_or(|c| c.trim().is_empty()) {
            out.push(Diagnostic::error("/health_command", "name the command to run, then its arguments"));
        }
    } else if inputs.port.is_none() {
        out.push(Diagnostic {
            path: "/health_command".into(),
            severity: Severity::Warning,
            message: "a worker without `port` or `health_command` gets no probe: the kubelet will not \
                      restart it if it hangs; set health_command to a command that tells it is healthy"
                .into(),
        });
    }
    if inputs.port.is_none() {
        if inputs.ingress.is_some() {
            out.push(Diagnostic::error(
                "/ingress",
                "an ingress needs `port`: set the port the app listens on",
            ));
        }
        if inputs.service_monitor.is_some() {
            out.push(Diagnostic::error(
                "/service_monitor",
                "a service monitor needs `port`: set the port the app listens on",
            ));
        }
        if inputs.health_path.is_some() {
            out.push(Diagnostic::error(
                "/health_path",
                "HTTP probes need `port`: set the port the app listens on",
            ));
        }
    }
    if let Some(sa) = &inputs.service_account {
        if let Some(name) = &sa.name
            && !is_subdomain(name)
        {
            out.push(Diagnostic::error(
                "/service_account/name",
                format!("`{name}` cannot name a ServiceAccount: lower-case letters, digits, `-` and `.`, at most 253"),
            ));
        }
        for key in sa.annotations.keys() {
            // An annotation key has a label key's syntax ([`ANNOTATION_KEY_PATTERN`]).
            if !k8s::is_label_key(key) {
                let mut path = "/service_account/annotations".to_owned();
                capstan_sdk::push_token(&mut path, key);
                out.push(Diagnostic::error(
                    path,
                    format!(
                        "`{key}` is not an annotation key (`prefix/name`, as `eks.amazonaws.com/role-arn`)"
                    ),
                ));
            }
        }
    }
    validate_network_policy(&inputs.network_policy, &mut out);
    if let Some(a) = &inputs.autoscaling
        && a.min > a.max
    {
        out.push(Diagnostic::error(
            "/autoscaling/min",
            format!("autoscaling.min ({}) is above autoscaling.max ({})", a.min, a.max),
        ));
    }
    if let Some(pdb) = &inputs.pdb {
        let fewest = inputs.autoscaling.as_ref().map_or(inputs.replicas, |a| a.min).get();
        let blocks = match &pdb.min_available {
            IntOrPercent::Int(n) => *n >= fewest,
            IntOrPercent::Percent(p) => p == "100%",
        };
        if blocks {
            out.push(Diagnostic {
                path: "/pdb/min_available".into(),
                severity: Severity::Warning,
                message: format!(
                    "min_available leaves no pod to evict with {fewest} replica(s): node drains will block"
                ),
            });
        }
    }
    out
}

/// Namespaces and labels Kubernetes would refuse in a NetworkPolicy, and an
/// `egress` entry that names labels but no namespace.
fn validate_network_policy(np: &NetworkPolicyInput, out: &mut Vec<Diagnostic>) {
    let pods = [("/network_policy/dns", &np.dns), ("/network_policy/prometheus", &np.prometheus)];
    for (path, p) in pods {
        check_pods(path, Some(&p.namespace), &p.pod_labels, out);
    }
    for (i, peer) in np.egress.iter().enumerate() {
        peer.check(&format!("/network_policy/egress/{i}"), out);
    }
}

/// The same rule as [`ENV_NAME_PATTERN`], for `plan`, which must not trust
/// that the schema ran.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// [`SUBDOMAIN_PATTERN`] with its length limit, for `plan`.
fn is_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(k8s::is_dns_label)
}
