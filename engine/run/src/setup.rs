//! What a run is set up from: the operator's surroundings (captured once by
//! the front end, never read here from the process), the loaded stack, and
//! the state backend client.hcl chose.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use capstan_config::{Stack, StateBackend as StateSetting};
use capstan_core::Sensitive;
use capstan_state::AnyBackend;

use crate::RunError;

/// The environment variables and kubeconfig files a run may read: secrets'
/// identities, `get_env` in HCL, the AWS settings chain, the cluster (a
/// kubeconfig, else, in a pod, its ServiceAccount).
#[derive(Clone, Default)]
pub struct Surroundings {
    /// Environment variables (only UTF-8 ones).
    pub vars: BTreeMap<String, String>,
    /// Where the kube target looks for kubeconfig files, and the pod's
    /// service variables and ServiceAccount directory for when there are none.
    pub kubeconfig: capstan_kube::KubeconfigSource,
}

impl Surroundings {
    /// The variable's value, if set.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The same variables as capstan-secrets and capstan-http read them.
    pub fn env(&self) -> capstan_secrets::Env {
        capstan_secrets::Env::from_pairs(self.vars.clone())
    }
}

/// Lists variable names only: the environment holds credentials.
impl std::fmt::Debug for Surroundings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Surroundings")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("kubeconfig", &self.kubeconfig)
            .finish()
    }
}

/// Loads the stack below `dir`, with secrets opened by the operator's
/// identity, and components pinned to `local` routed to their builds.
pub fn load_stack(dir: &Path, surroundings: &Surroundings) -> Result<Stack, RunError> {
    let secrets = capstan_secrets::Secrets::from_env(surroundings.env()).map_err(RunError::Secrets)?;
    let options =
        capstan_config::LoadOptions { secrets: Some(Arc::new(secrets)), env: surroundings.vars.clone() };
    let mut stack = capstan_config::load(dir, &options).map_err(RunError::Config)?;
    crate::plugins::route_local_pins(&mut stack);
    Ok(stack)
}

/// The state backend `client.hcl` chose (local when it chose none).
pub async fn state_backend(stack: &Stack) -> Result<AnyBackend, RunError> {
    Ok(match &stack.client.state {
        StateSetting::Local => AnyBackend::local(&stack.root),
        StateSetting::LocalPath { path } => {
            AnyBackend::Local(capstan_state::LocalBackend::in_dir(stack.root.join(path)))
        }
        StateSetting::Postgres { url, settings } => {
            let stack_name =
                settings.get("stack").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| {
                    stack.root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
                });
            let url = Sensitive::new(url.expose());
            let mut config = capstan_state::PostgresConfig::new(url, stack_name);
            config.timeouts = crate::drivers::sql_timeouts(settings).map_err(|what| {
                RunError::StateSettings { what: format!("client.hcl state block: {what}") }
            })?;
            AnyBackend::postgres(config).await.map_err(RunError::StateConnect)?
        }
        StateSetting::Other { name, .. } => return Err(RunError::UnknownStateBackend { name: name.clone() }),
    })
}
