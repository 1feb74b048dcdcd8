//! Choosing the cluster the way kubectl does: the files `KUBECONFIG` lists
//! (merged, first one wins), else `~/.kube/config`; the context given with
//! `--context`, else the kubeconfig's current context. With neither file,
//! inside a pod, the pod's ServiceAccount ([`crate::in_cluster`]).
//!
//! The process environment is read by the caller and handed in as
//! [`KubeconfigSource`], so tests choose their own files.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::KubeError;
use crate::in_cluster::{self, InClusterSource};

/// Where kubeconfig files are looked for, and what a pod offers instead.
#[derive(Debug, Clone, Default)]
pub struct KubeconfigSource {
    /// The value of `KUBECONFIG`: paths separated as `PATH` is.
    pub kubeconfig_env: Option<std::ffi::OsString>,
    /// The user's home directory, for `~/.kube/config`.
    pub home: Option<PathBuf>,
    /// In-cluster configuration, used only when there is no kubeconfig.
    pub in_cluster: InClusterSource,
}

/// Where the cluster's settings come from.
enum Found {
    Kubeconfig(Vec<PathBuf>),
    /// With why there is no kubeconfig.
    InCluster {
        kubeconfig_missing: String,
    },
}

impl KubeconfigSource {
    /// What this process has: `KUBECONFIG`, the home directory, the
    /// service variables of a pod.
    pub fn from_process() -> Self {
        Self {
            kubeconfig_env: std::env::var_os("KUBECONFIG"),
            home: std::env::home_dir(),
            in_cluster: InClusterSource::from_process(),
        }
    }

    /// As client-go: a kubeconfig whenever there is one, else in-cluster
    /// configuration when the pod offers it.
    fn find(&self) -> Result<Found, KubeError> {
        let kubeconfig_missing = match self.paths() {
            Ok(paths) => return Ok(Found::Kubeconfig(paths)),
            Err(Missing::Listed(e)) => return Err(e),
            Err(Missing::Default(why)) => why,
        };
        match self.in_cluster.available() {
            Ok(()) => Ok(Found::InCluster { kubeconfig_missing }),
            Err(in_cluster) => Err(KubeError::NoConfiguration { kubeconfig: kubeconfig_missing, in_cluster }),
        }
    }

    /// The files to read, in order; an empty `KUBECONFIG` counts as unset.
    fn paths(&self) -> Result<Vec<PathBuf>, Missing> {
        let listed: Vec<PathBuf> = self
            .kubeconfig_env
            .as_deref()
            .map(|v| std::env::split_paths(v).filter(|p| !p.as_os_str().is_empty()).collect())
            .unwrap_or_default();
        if !listed.is_empty() {
            // kubectl skips listed files that do not exist.
            let existing: Vec<PathBuf> = listed.iter().filter(|p| p.exists()).cloned().collect();
            // Files named on purpose are what the operator meant: never
            // replaced by the pod's ServiceAccount (`--kubeconfig` comes here).
            if existing.is_empty() {
                return Err(Missing::Listed(KubeError::NoKubeconfig {
                    why: format!(
                        "none of the files KUBECONFIG lists exists ({})",
                        listed.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                    ),
                }));
            }
            return Ok(existing);
        }
        let default = self.home.as_ref().map(|h| h.join(".kube").join("config"));
        let missing = |p: &str| Missing::Default(format!("KUBECONFIG is not set and {p} does not exist"));
        match default {
            Some(p) if p.exists() => Ok(vec![p]),
            Some(p) => Err(missing(&p.display().to_string())),
            None => Err(missing("~/.kube/config")),
        }
    }
}

/// Why there is no kubeconfig to read.
enum Missing {
    /// `KUBECONFIG` lists only files that do not exist: an error as it is.
    Listed(KubeError),
    /// Neither `KUBECONFIG` nor `~/.kube/config`: in-cluster configuration
    /// may stand in.
    Default(String),
}

/// The chosen cluster: the connection settings and the context's name
/// ([`in_cluster::CONTEXT`] for in-cluster configuration).
pub struct ClusterChoice {
    /// The context's name, for messages and for checking which cluster it is.
    pub context: String,
    /// What the client is built from: server URL, credentials, default namespace.
    pub config: kube::Config,
}

/// Reads the kubeconfig and picks the context (`context`, else the current
/// one); without a kubeconfig, in a pod, takes in-cluster configuration,
/// which has no contexts to pick from.
pub async fn choose(source: &KubeconfigSource, context: Option<&str>) -> Result<ClusterChoice, KubeError> {
    match source.find()? {
        Found::Kubeconfig(paths) => from_files(paths, context).await,
        Found::InCluster { kubeconfig_missing } => match context.filter(|c| !c.is_empty()) {
            Some(context) => {
                Err(KubeError::ContextInCluster { context: context.to_owned(), why: kubeconfig_missing })
            }
            None => {
                Ok(ClusterChoice { context: in_cluster::CONTEXT.into(), config: source.in_cluster.config()? })
            }
        },
    }
}

async fn from_files(paths: Vec<PathBuf>, context: Option<&str>) -> Result<ClusterChoice, KubeError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        let file = Kubeconfig::read_from(&path)
            .map_err(|source| KubeError::Kubeconfig { path: path.clone(), source })?;
        merged = Some(match merged {
            None => file,
            Some(m) => m.merge(file).map_err(|source| KubeError::Kubeconfig { path, source })?,
        });
    }
    let kubeconfig = merged.unwrap_or_default();
    let known = || {
        let names: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
        if names.is_empty() { "none".to_string() } else { names.join(", ") }
    };
    let name = match context.or(kubeconfig.current_context.as_deref()).filter(|c| !c.is_empty()) {
        Some(n) => n.to_string(),
        None => return Err(KubeError::NoContext { known: known() }),
    };
    if !kubeconfig.contexts.iter().any(|c| c.name == name) {
        return Err(KubeError::UnknownContext { context: name, known: known() });
    }
    let options = KubeConfigOptions { context: Some(name.clone()), ..KubeConfigOptions::default() };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| KubeError::Context { context: name.clone(), source })?;
    Ok(ClusterChoice { context: name, config })
}
