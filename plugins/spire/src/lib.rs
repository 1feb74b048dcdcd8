//! Capstan plugin `capstan/spire`: the `spire` component type — SPIFFE
//! identities for the platform's workloads, from SPIRE.
//!
//! It renders, in the component's namespace:
//!
//! - the SPIRE server ([`server`]): a StatefulSet (`replicas`, a volume
//!   each for the CA keys) on a PostgreSQL datastore, the `postgres`
//!   dependency's database for this component ([`datastore`]; the password
//!   stays in its Secret), attesting agents with `k8s_psat` and writing the
//!   trust bundle into a ConfigMap for them (`k8sbundle`), with its
//!   Services, ServiceAccount and RBAC;
//! - the SPIRE controller manager as a sidecar of each server, sharing its
//!   admin socket, with its configuration and RBAC;
//! - the SPIRE agent on every node ([`agent`]): a DaemonSet serving the
//!   Workload API on a Unix socket in a hostPath directory;
//! - optionally the OIDC discovery provider ([`oidc`]), so Vault's JWT auth
//!   can verify JWT-SVIDs with its JWKS;
//! - one `ClusterSPIFFEID` per app of `apps` ([`identities`]), so every pod
//!   of the app's ServiceAccount gets `spiffe://<trust domain>/ns/<ns>/sa/<sa>`
//!   without anyone running `spire-server entry create`.
//!
//! With `monitoring`, the server and the agents also export Prometheus
//! metrics, scraped through a ServiceMonitor and a PodMonitor, with the
//! alerts and a Grafana dashboard on them ([`monitoring`]).
//!
//! Its outputs are the `spire` contract: the trust domain, the server's
//! address, the Workload API socket and how a pod mounts it (hostPath), each
//! app's SPIFFE ID with the namespace and ServiceAccount of its pods, the
//! OIDC URLs, and `network`.
//!
//! It does not install the controller manager's CRDs (ClusterSPIFFEID,
//! ClusterFederatedTrustDomain, ClusterStaticEntry, from its release
//! matching the image), cert-manager (for the OIDC provider's certificate)
//! or the SPIFFE CSI driver (pods mount the socket's hostPath directory),
//! and it does not federate trust domains.

pub mod agent;
pub mod datastore;
pub mod identities;
pub mod inputs;
pub mod monitoring;
pub mod names;
pub mod oidc;
pub mod server;

use capstan_sdk::contracts::NetworkPeer;
use capstan_sdk::contracts::spire::{self, SocketVolume, WorkloadApiSocket};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::inputs::Inputs;
use crate::names::{Names, ports};
use crate::oidc::OidcPlan;

/// The plugin: see the crate docs.
pub struct Spire;

impl Plugin for Spire {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/spire", env!("CARGO_PKG_VERSION"))
            .component_type(<spire::Outputs as Contract>::COMPONENT_TYPE)
            .backend("spire")
            .description(
                "SPIRE: the server (StatefulSet on the postgres dependency's database, k8s_psat node \
                 attestation, trust bundle published for the agents) with the SPIRE controller manager \
                 beside it, an agent on every node serving the Workload API on a hostPath socket, an \
                 optional OIDC discovery provider for JWT-SVID verifiers such as Vault, and a \
                 ClusterSPIFFEID per app giving its ServiceAccount's pods spiffe://<trust domain>/ns/<ns>/sa/<sa>.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(inputs::DEFAULTS_YAML)
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, inputs::check)
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?;
        let problems = inputs::check(&inputs);
        if problems.iter().any(|d| d.severity == Severity::Error) {
            return Err(PlanError::InvalidInputs(problems));
        }
        let p = Plan::new(&req.component, &inputs)?;
        let ds = datastore::resolve(req, &inputs.postgres)?;
        let mut warnings = ds.warnings.clone();

        let registrations = identities::registrations(&p);
        let mut objects = server::objects(&p, &ds);
        objects.extend(agent::objects(&p));
        if let Some(oidc) = &p.oidc {
            if !oidc.is_service_name(&p.names.oidc, &p.c.namespace) {
                warnings.push(Diagnostic::warning(
                    "/oidc/domain",
                    format!(
                        "`{}` must lead to Service `{}` in `{}` (port 443): this plan renders no Ingress or DNS \
                         record for it",
                        oidc.domain, p.names.oidc, p.c.namespace
                    ),
                ));
            }
            objects.extend(oidc::objects(&p, oidc));
        }
        objects.extend(identities::objects(&p, &registrations));
        if let Some(m) = &inputs.monitoring {
            objects.extend(monitoring::objects(&p, m));
        }

        let outputs = spire::Outputs {
            trust_domain: p.trust_domain.to_owned(),
            server_address: format!("{}:{}", p.server_host(), ports::SERVER),
            workload_api_socket: workload_api_socket(&inputs),
            oidc_discovery_url: p.oidc.as_ref().map(|o| o.issuer.clone()),
            jwks_url: p.oidc.as_ref().map(|o| o.jwks_url.clone()),
            jwt_issuer: p.oidc.as_ref().map(|o| o.issuer.clone()),
            apps: identities::outputs(&p, &registrations),
            network: network(&p),
        };
        let outputs = contracts::outputs(&outputs, &[])?;
        Ok(ComponentPlan { objects, outputs, warnings, ..Default::default() })
    }

    fn health(object: &Value) -> Health {
        match object.get("kind").and_then(Value::as_str) {
            Some("DaemonSet") => daemon_set_health(object),
            Some("ClusterSPIFFEID") => cluster_spiffe_id_health(object),
            _ => capstan_sdk::health::default_health(object),
        }
    }
}

/// What every part of the plan shares: the component, its inputs with the
/// required ones present, the names, and the OIDC provider when on.
pub struct Plan<'a> {
    /// The component planned.
    pub c: &'a ComponentId,
    /// Its inputs, checked.
    pub inputs: &'a Inputs,
    /// The trust domain (checked present).
    pub trust_domain: &'a str,
    /// The cluster name (checked present).
    pub cluster_name: &'a str,
    /// Every object's name.
    pub names: Names,
    /// The OIDC discovery provider, when on.
    pub oidc: Option<OidcPlan>,
}

impl<'a> Plan<'a> {
    fn new(c: &'a ComponentId, inputs: &'a Inputs) -> Result<Self, PlanError> {
        let required = |value: &'a Option<String>, path: &str| {
            value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
                PlanError::InvalidInputs(vec![Diagnostic::error(path, format!("{} is required", &path[1..]))])
            })
        };
        let names = Names::new(c);
        let oidc =
            inputs.oidc.as_ref().map(|o| OidcPlan::new(o.domain.as_deref(), &names.oidc, &c.namespace));
        Ok(Plan {
            c,
            inputs,
            trust_domain: required(&inputs.trust_domain, "/trust_domain")?,
            cluster_name: required(&inputs.cluster_name, "/cluster_name")?,
            names,
            oidc,
        })
    }

    /// Metadata of object `name`, part `part` of the component.
    pub fn meta(&self, name: &str, part: &str) -> k8s::Meta {
        k8s::Meta::new(self.c, name, part)
    }

    /// The server's Service, as every client names it.
    pub fn server_host(&self) -> String {
        format!("{}.{}.svc", self.names.server, self.c.namespace)
    }
}

/// A Role (or ClusterRole, `cluster`) named `name` with `rules`, and its
/// binding to `subjects`.
pub(crate) fn role_pair(
    p: &Plan,
    cluster: bool,
    name: &str,
    part: &str,
    rules: Value,
    subjects: &[Value],
) -> [Value; 2] {
    let (role, binding) =
        if cluster { ("ClusterRole", "ClusterRoleBinding") } else { ("Role", "RoleBinding") };
    let meta = if cluster { p.meta(name, part).cluster_scoped() } else { p.meta(name, part) };
    [
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": role,
            "metadata": meta.to_value(),
            "rules": rules,
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": binding,
            "metadata": meta.to_value(),
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": role, "name": name },
            "subjects": subjects,
        }),
    ]
}

/// The socket apps use: the agent's hostPath directory, mounted read-only
/// where the SPIFFE libraries' examples put it.
fn workload_api_socket(inputs: &Inputs) -> WorkloadApiSocket {
    let socket_path = format!("{}/{}", oidc::WORKLOAD_API_DIR, agent::SOCKET_FILE);
    WorkloadApiSocket {
        volume: SocketVolume::HostPath,
        host_path: Some(inputs.agent.socket_dir.clone()),
        csi_driver: None,
        mount_path: oidc::WORKLOAD_API_DIR.to_owned(),
        endpoint: format!("unix://{socket_path}"),
        socket_path,
    }
}

/// What a client reaches: the servers' gRPC port (agents, and nested SPIRE
/// servers), and the OIDC discovery provider when it runs (JWT verifiers).
fn network(p: &Plan) -> Vec<NetworkPeer> {
    let mut peers = vec![p.meta(&p.names.server, "server").network_peer(&[ports::SERVER])];
    if p.oidc.is_some() {
        peers.push(p.meta(&p.names.oidc, "oidc-discovery-provider").network_peer(&[ports::OIDC]));
    }
    peers
}

/// The agents are ready when every node that should run one runs a ready
/// one of the current spec.
fn daemon_set_health(object: &Value) -> Health {
    let int = |p: &str| object.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    if int("/status/observedGeneration") < int("/metadata/generation") {
        return Health::Progressing("waiting for the controller to see the new spec".into());
    }
    let desired = int("/status/desiredNumberScheduled");
    let (ready, updated) = (int("/status/numberReady"), int("/status/updatedNumberScheduled"));
    if ready == desired && updated >= desired {
        Health::Ready
    } else {
        Health::Progressing(format!("{ready} of {desired} agents ready, {updated} updated"))
    }
}

/// A registration whose template cannot be rendered for a pod stays so
/// until its spec changes; one the server refused may pass (a server still
/// starting).
fn cluster_spiffe_id_health(object: &Value) -> Health {
    let stat = |k: &str| object.pointer(&format!("/status/stats/{k}")).and_then(Value::as_i64).unwrap_or(0);
    match (stat("podEntryRenderFailures"), stat("entryFailures")) {
        (0, 0) => Health::Ready,
        (n, _) if n > 0 => {
            Health::Degraded(format!("the controller manager could not render an entry for {n} pod(s)"))
        }
        (_, n) => Health::Progressing(format!("{n} entries not yet taken by the SPIRE server")),
    }
}

/// 16 hex digits of SHA-256: enough to tell two configurations apart.
pub(crate) fn short_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_owned()
}

capstan_sdk::export_plugin!(Spire);
