//! `capstan/logs-fluent-bit`: the `logs` component type, collected by
//! fluent-bit running as a DaemonSet.
//!
//! It renders the collector (ServiceAccount, read-only RBAC on pods and
//! namespaces, a ConfigMap with fluent-bit's configuration, the DaemonSet and
//! a Service, and with the forward input the cert-manager objects of its
//! certificate) and ships every container's log to exactly one output: Loki,
//! Elasticsearch, Splunk HEC or the collector's own stdout. Output
//! credentials (the HEC token, a basic-auth password) must come from the
//! secrets file; they go into a Secret and reach fluent-bit as environment
//! variables, never into the ConfigMap.
//!
//! Every record carries the same keys whatever the output (see
//! [`config::RECORD_LABELS`]): that is the labels convention dependents read
//! from the `labels` output.
//!
//! What an operator gets by default, and why:
//! - bounded buffering: each output retries a chunk `buffer.retry_limit`
//!   times, then drops it (fluent-bit counts it), and its on-disk queue is
//!   capped at `buffer.total_limit_size`, so a down log store cannot fill the
//!   node's disk; memory is capped by `buffer.max_chunks_up` and the
//!   container's limits (CPU included);
//! - the collector's own log is not collected (a stdout output would
//!   otherwise feed on itself);
//! - runtime-split lines are rejoined (`docker`, `cri`), and stack traces too
//!   for the languages in `multiline_languages` (none by default);
//! - the `forward` input is off; turned on, it takes a shared key from the
//!   secrets file (the plan warns when it has none) and accepts TLS only,
//!   with a certificate from cert-manager (see [`tls`]: a private CA per
//!   collector unless `forward.tls.issuer` names one, and a sidecar that has
//!   fluent-bit reload it when it is renewed); its outputs give clients the
//!   `tls://` endpoint, the CA to verify it with (`ca_secret`) and the pods
//!   and port to reach (`network`, for their NetworkPolicies);
//! - the container runs as root, because node log files are root-owned and
//!   mode 0640, but with every capability dropped, no privilege escalation,
//!   a read-only root filesystem and the runtime's default seccomp profile;
//!   `run_as_user` picks another uid where the logs allow it.
//!
//! It does not deploy the log store itself, and it does not install parsers
//! beyond `docker`, `cri` and `json`.

pub mod config;
pub mod inputs;
pub mod objects;
pub mod tls;

use capstan_sdk::contracts::{self, logs};
use capstan_sdk::prelude::*;

use crate::inputs::Inputs;

/// The plugin: see the crate docs.
pub struct FluentBit;

impl Plugin for FluentBit {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/logs-fluent-bit", env!("CARGO_PKG_VERSION"))
            .component_type(<logs::Outputs as Contract>::COMPONENT_TYPE)
            .backend("fluent-bit")
            .description(
                "Collects every container's log with fluent-bit (a DaemonSet with the kubernetes \
                 metadata filter) and ships it to Loki, Elasticsearch, Splunk HEC or stdout. \
                 Records carry environment, namespace, app, container, pod and node.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(inputs::DEFAULTS_YAML)
            .build()
    }

    fn validate(inputs: &serde_json::Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, inputs::check)
    }

    fn plan(request: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = request.inputs()?;
        let mut problems = inputs::check(&inputs);
        problems.extend(secrets_not_from_secrets_file(request, &inputs));
        if !problems.is_empty() {
            return Err(PlanError::InvalidInputs(problems));
        }
        let warnings = warnings(&inputs);
        let c = &request.component;
        let cert = tls::certificate(&objects::meta(c), c, &inputs);
        let objects = objects::render(c, &inputs, cert.as_ref());
        let outputs = contracts::outputs(
            &logs::Outputs {
                collector_endpoint: objects::collector_endpoint(c, &inputs).unwrap_or_default(),
                labels: config::RECORD_LABELS.iter().map(|s| (*s).to_owned()).collect(),
                ca_secret: cert.map(|cert| cert.ca),
                network: objects::network(c, &inputs),
            },
            &[],
        )?;
        Ok(ComponentPlan { objects, outputs, warnings, ..Default::default() })
    }
}

/// What the operator should know though the plan is valid.
fn warnings(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if inputs.forward.enabled && inputs.forward.shared_key.is_none() {
        out.push(Diagnostic::warning(
            "/forward/shared_key",
            "the forward input is on without a shared key: any pod that can reach its Service can \
             write records under any app's name; set forward.shared_key in the component's secrets \
             file (values_sensitive_custom), or turn the input off",
        ));
    }
    if inputs.forward.tls.issuer.is_some() && !tls::enabled(inputs) {
        out.push(Diagnostic::warning(
            "/forward/tls/issuer",
            "ignored: the forward input is off or forward.tls.enabled is false, so no certificate is issued",
        ));
    }
    out
}

/// A credential written in plain inputs would sit in the operator's
/// repository in clear and in every plan; refuse it and say where it goes.
fn secrets_not_from_secrets_file(request: &PlanRequest, inputs: &Inputs) -> Vec<Diagnostic> {
    let mut pointers = Vec::new();
    if inputs.splunk.as_ref().is_some_and(|s| s.token.is_some()) {
        pointers.push("/splunk/token");
    }
    if inputs.loki.as_ref().is_some_and(|l| l.auth.is_some()) {
        pointers.push("/loki/auth/password");
    }
    if inputs.elasticsearch.as_ref().is_some_and(|e| e.auth.is_some()) {
        pointers.push("/elasticsearch/auth/password");
    }
    if inputs.forward.shared_key.is_some() {
        pointers.push("/forward/shared_key");
    }
    pointers
        .into_iter()
        .filter(|p| !request.is_sensitive(p))
        .map(|p| {
            Diagnostic::error(
                p,
                "is a credential and must come from the component's secrets file \
                 (values_sensitive_custom), not from plain inputs",
            )
        })
        .collect()
}

capstan_sdk::export_plugin!(FluentBit);
