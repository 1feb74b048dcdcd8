//! The one error type of this crate: every variant names the object (or the
//! kubeconfig, or the in-cluster file) that failed. Nothing here carries a
//! manifest's values or a credential, so neither a Secret's data nor the
//! pod's ServiceAccount token ever reaches an error.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong choosing, reaching or changing a cluster.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// `KUBECONFIG` is set but none of the files it lists exists.
    #[error(
        "no kubeconfig found: {why} (set KUBECONFIG, or create the file with your cluster's credentials)"
    )]
    NoKubeconfig {
        /// Why, naming the files `KUBECONFIG` lists.
        why: String,
    },

    /// Neither a kubeconfig (`KUBECONFIG`, `~/.kube/config`) nor a pod's
    /// ServiceAccount to fall back on.
    #[error(
        "no kubeconfig found ({kubeconfig}) and no in-cluster configuration ({in_cluster}): \
         set KUBECONFIG or create the file with your cluster's credentials, \
         or, in a pod, mount its ServiceAccount token"
    )]
    NoConfiguration {
        /// Why there is no kubeconfig, e.g. "KUBECONFIG is not set and
        /// /root/.kube/config does not exist".
        kubeconfig: String,
        /// Why in-cluster configuration cannot be used, e.g. a service
        /// variable unset or the token file missing.
        in_cluster: String,
    },

    /// `--context` was given in a pod with no kubeconfig, where only
    /// in-cluster configuration (which has no contexts) is available.
    #[error(
        "context {context:?} was asked for, but there is no kubeconfig ({why}) \
         and in-cluster configuration (the pod's ServiceAccount) has no contexts: \
         give no context, or provide a kubeconfig"
    )]
    ContextInCluster {
        /// The context asked for.
        context: String,
        /// Why there is no kubeconfig.
        why: String,
    },

    /// The pod's in-cluster settings are unusable: a bad
    /// `KUBERNETES_SERVICE_PORT`, an invalid server URL, a `ca.crt` that
    /// is not a CA bundle.
    #[error("in-cluster configuration: {why}")]
    InCluster {
        /// What is wrong, naming the variable or file.
        why: String,
    },

    /// A file of the pod's ServiceAccount (`ca.crt`, `namespace`) could not
    /// be read.
    #[error("in-cluster configuration: reading {path}: {source}")]
    InClusterFile {
        /// The file, under the ServiceAccount directory.
        path: PathBuf,
        /// The read error.
        #[source]
        source: std::io::Error,
    },

    /// A kubeconfig file could not be read or parsed, or not merged with
    /// the files before it in `KUBECONFIG`.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file that failed.
        path: PathBuf,
        /// What kube's parser reported.
        #[source]
        source: kube::config::KubeconfigError,
    },

    /// The context asked for (or the current one) is not in the kubeconfig.
    #[error("kubeconfig has no context named {context:?} (contexts: {known})")]
    UnknownContext {
        /// The context looked for.
        context: String,
        /// The contexts the kubeconfig has, comma-separated, or "none".
        known: String,
    },

    /// No `--context` and the kubeconfig sets no `current-context`.
    #[error("kubeconfig names no current context and --context was not given (contexts: {known})")]
    NoContext {
        /// The contexts the kubeconfig has, comma-separated, or "none".
        known: String,
    },

    /// The context exists but its cluster or user entry cannot be turned
    /// into connection settings (missing cluster, bad certificate data, ...).
    #[error("kubeconfig context {context:?} cannot be used: {source}")]
    Context {
        /// The context chosen.
        context: String,
        /// What kube reported.
        #[source]
        source: kube::config::KubeconfigError,
    },

    /// Building the client failed, or the API server did not answer the
    /// version request: a wrong or unreachable cluster.
    // The cause is left to the chain (the CLI prints it), so it shows once.
    #[error("connecting to the cluster of context {context:?} at {server}")]
    Connect {
        /// The context chosen ([`crate::in_cluster::CONTEXT`] in a pod).
        context: String,
        /// The API server's URL, e.g. `https://10.0.0.1:6443`.
        server: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// A manifest or live object cannot be handled: no kind or name, a
    /// namespaced kind without `metadata.namespace`, an object another
    /// component owns.
    #[error("{object}: {why}")]
    InvalidObject {
        /// The object, as `Kind namespace/name` or `Kind name`.
        object: String,
        /// What is wrong with it.
        why: String,
    },

    /// Discovery does not know the object's kind, usually because its CRD
    /// is not installed (yet).
    #[error("{object}: the cluster does not serve kind {kind} in {api_version} (is its CRD installed?)")]
    UnknownKind {
        /// The object, as `Kind namespace/name` or `Kind name`.
        object: String,
        /// The object's `apiVersion`, e.g. `example.com/v1`.
        api_version: String,
        /// The object's `kind`.
        kind: String,
    },

    /// The discovery request for the object's kind failed for a reason
    /// other than the kind not being served.
    #[error("{object}: discovering its API: {source}")]
    Discovery {
        /// The object, as `Kind namespace/name` or `Kind name`.
        object: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// Server-side apply was refused because another field manager owns
    /// fields the plan sets; Capstan never forces.
    #[error(
        "{object}: server-side apply conflicts with field manager {manager:?} on {}; \
         Capstan does not take fields from another manager: stop {manager:?} setting {}, \
         or remove {} from what the plugin plans",
        fields.join(", "),
        if fields.len() == 1 { "it" } else { "them" },
        if fields.len() == 1 { "it" } else { "them" }
    )]
    Conflict {
        /// The object, as `Kind namespace/name` or `Kind name`.
        object: String,
        /// The other field manager, or "(not reported)".
        manager: String,
        /// The conflicting fields as paths, e.g. `.spec.replicas`.
        fields: Vec<String>,
    },

    /// A request about one object failed at the API server.
    #[error("{object}: {action} failed: {source}")]
    Api {
        /// The object, as `Kind namespace/name` or `Kind name`.
        object: String,
        /// What was being done, e.g. "reading", "deleting", "server-side apply".
        action: &'static str,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// A CRD was not reported Established within
    /// [`Settings::crd_timeout`](crate::Settings::crd_timeout), so its
    /// custom resources cannot be applied.
    #[error("{object}: the CustomResourceDefinition was not Established within {timeout:?}: {reason}")]
    NotEstablished {
        /// The CRD, as `CustomResourceDefinition name`.
        object: String,
        /// How long was waited.
        timeout: Duration,
        /// The last state seen, e.g. its names not accepted.
        reason: String,
    },

    /// Some of a component's objects were still progressing (or missing)
    /// when its readiness timeout ran out.
    #[error(
        "component {component}: not ready after {timeout:?}:{}",
        pending.iter().map(|(o, why)| format!("\n  {o}: {why}")).collect::<String>()
    )]
    NotReady {
        /// The component's key.
        component: String,
        /// How long was waited (the component's timeout).
        timeout: Duration,
        /// Each object not ready, with the plugin's last word on why.
        pending: Vec<(String, String)>,
    },

    /// The plugin's health rules call an object degraded; waiting stops at once.
    #[error("{object} is degraded: {reason}")]
    Degraded {
        /// The object, as `Kind namespace/name` or `Kind name`.
        object: String,
        /// The plugin's reason.
        reason: String,
    },

    /// The plugin's `health` export itself failed on a live object.
    #[error("{object}: the plugin's health check failed: {reason}")]
    Health {
        /// The object, as `Kind namespace/name` or `Kind name`.
        object: String,
        /// The plugin's error.
        reason: String,
    },
}
