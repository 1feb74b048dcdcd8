//! Which cluster a run may touch: each environment's `target "kube"` block
//! names the kubeconfig context it uses and the API server that context
//! must resolve to. A run against any other cluster is refused before a
//! single request reaches it, naming both; `--context` still chooses for one
//! run, with a warning where it differs from the block.

use std::collections::BTreeSet;

use capstan_config::{Setting, Stack};

use crate::RunError;
use crate::events::{Events, Notice};

/// The cluster a run is bound to.
#[derive(Debug, Default)]
pub(crate) struct Binding {
    /// The context to use: the flag's, else the environments' one.
    pub context: Option<String>,
    /// `(environment, server it requires)`.
    servers: Vec<(String, Setting<String>)>,
}

impl Binding {
    /// The binding of every environment in `stack`, with `--context`.
    pub fn of(stack: &Stack, flag: Option<&str>, events: &dyn Events) -> Result<Self, RunError> {
        let contexts: BTreeSet<&str> = stack
            .environments
            .values()
            .filter_map(|e| e.target.kube.context.as_ref().map(|c| c.value.as_str()))
            .collect();
        let configured = match contexts.len() {
            0 => None,
            1 => contexts.first().copied(),
            _ => {
                return Err(RunError::SeveralClusters {
                    what: "contexts",
                    listed: contexts.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>().join(", "),
                });
            }
        };
        let context = match (flag, configured) {
            (Some(flag), Some(configured)) if flag != configured => {
                for (name, env) in &stack.environments {
                    if env.target.kube.context.is_some() {
                        events.notice(&Notice::TargetOverridden {
                            environment: name.clone(),
                            what: "context",
                            configured: configured.to_owned(),
                            given: flag.to_owned(),
                        });
                    }
                }
                Some(flag.to_owned())
            }
            (flag, configured) => flag.or(configured).map(str::to_owned),
        };
        let servers = stack
            .environments
            .iter()
            .filter_map(|(name, env)| Some((name.clone(), env.target.kube.server.clone()?)))
            .collect();
        Ok(Self { context, servers })
    }

    /// Refuses `server` (what `context` resolved to) unless every
    /// environment that names a server names this one.
    pub fn check(&self, context: &str, server: &str) -> Result<(), RunError> {
        for (environment, bound) in &self.servers {
            if normalise(&bound.value) != normalise(server) {
                return Err(RunError::WrongCluster {
                    environment: environment.clone(),
                    bound: bound.value.clone(),
                    at: format!("{}:{}:{}", bound.at.file.display(), bound.at.line, bound.at.col),
                    context: context.to_owned(),
                    server: server.to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// A server URL without the trailing `/` kubeconfig parsing may add.
fn normalise(url: &str) -> &str {
    url.trim_end_matches('/')
}
