//! The one error type of this crate: every variant names the object (or the
//! kubeconfig, or the in-cluster file) that failed. Nothing here carries a
//! manifest's values or a credential, so neither a Secret's data nor the
//! pod's ServiceAccount token ever reaches an error.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error(
        "no kubeconfig found: {why} (set KUBECONFIG, or create the file with your cluster's credentials)"
    )]
    NoKubeconfig { why: String },

    #[error(
        "no kubeconfig found ({kubeconfig}) and no in-cluster configuration ({in_cluster}): \
         set KUBECONFIG or create the file with your cluster's credentials, \
         or, in a pod, mount its ServiceAccount token"
    )]
    NoConfiguration { kubeconfig: String, in_cluster: String },

    #[error(
        "context {context:?} was asked for, but there is no kubeconfig ({why}) \
         and in-cluster configuration (the pod's ServiceAccount) has no contexts: \
         give no context, or provide a kubeconfig"
    )]
    ContextInCluster { context: String, why: String },

    #[error("in-cluster configuration: {why}")]
    InCluster { why: String },

    #[error("in-cluster configuration: reading {path}: {source}")]
    InClusterFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },

    #[error("kubeconfig has no context named {context:?} (contexts: {known})")]
    UnknownContext { context: String, known: String },

    #[error("kubeconfig names no current context and --context was not given (contexts: {known})")]
    NoContext { known: String },

    #[error("kubeconfig context {context:?} cannot be used: {source}")]
    Context {
        context: String,
        #[source]
        source: kube::config::KubeconfigError,
    },

    // The cause is left to the chain (the CLI prints it), so it shows once.
    #[error("connecting to the cluster of context {context:?} at {server}")]
    Connect {
        context: String,
        server: String,
        #[source]
        source: Box<kube::Error>,
    },

    #[error("{object}: {why}")]
    InvalidObject { object: String, why: String },

    #[error("{object}: the cluster does not serve kind {kind} in {api_version} (is its CRD installed?)")]
    UnknownKind { object: String, api_version: String, kind: String },

    #[error("{object}: discovering its API: {source}")]
    Discovery {
        object: String,
        #[source]
        source: Box<kube::Error>,
    },

    #[error(
        "{object}: server-side apply conflicts with field manager {manager:?} on {}; \
         Capstan does not take fields from another manager: stop {manager:?} setting {}, \
         or remove {} from what the plugin plans",
        fields.join(", "),
        if fields.len() == 1 { "it" } else { "them" },
        if fields.len() == 1 { "it" } else { "them" }
    )]
    Conflict { object: String, manager: String, fields: Vec<String> },

    #[error("{object}: {action} failed: {source}")]
    Api {
        object: String,
        action: &'static str,
        #[source]
        source: Box<kube::Error>,
    },

    #[error("{object}: the CustomResourceDefinition was not Established within {timeout:?}: {reason}")]
    NotEstablished { object: String, timeout: Duration, reason: String },

    #[error(
        "component {component}: not ready after {timeout:?}:{}",
        pending.iter().map(|(o, why)| format!("\n  {o}: {why}")).collect::<String>()
    )]
    NotReady { component: String, timeout: Duration, pending: Vec<(String, String)> },

    #[error("{object} is degraded: {reason}")]
    Degraded { object: String, reason: String },

    #[error("{object}: the plugin's health check failed: {reason}")]
    Health { object: String, reason: String },
}
