//! Which API serves a kind: asked of the cluster's discovery API, as
//! kubectl does, and remembered for the run. A group is forgotten when a
//! CRD for it is applied, so its new kinds are looked up again.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::Client;
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{self, Scope};

use crate::{KubeError, ObjectRef};

/// How to reach one kind.
#[derive(Clone, Debug)]
pub(crate) struct Served {
    pub(crate) resource: ApiResource,
    pub(crate) namespaced: bool,
}

#[derive(Default)]
pub(crate) struct Resources {
    known: Mutex<HashMap<(String, String), Served>>,
}

impl Resources {
    pub(crate) async fn resolve(&self, client: &Client, key: &ObjectRef) -> Result<Served, KubeError> {
        let id = (key.api_version.clone(), key.kind.clone());
        if let Some(s) = self.lock().get(&id) {
            return Ok(s.clone());
        }
        let (group, version) = key.group_version();
        let gvk = GroupVersionKind::gvk(group, version, &key.kind);
        let served = match discovery::pinned_kind(client, &gvk).await {
            Ok((resource, caps)) => Served { resource, namespaced: caps.scope == Scope::Namespaced },
            Err(kube::Error::Api(status)) if status.is_not_found() => {
                return Err(unknown(key));
            }
            Err(kube::Error::Discovery(_)) => return Err(unknown(key)),
            Err(source) => {
                return Err(KubeError::Discovery { object: key.to_string(), source: Box::new(source) });
            }
        };
        self.lock().insert(id, served.clone());
        Ok(served)
    }

    /// Forgets every kind of `group` (a CRD for it was just applied).
    pub(crate) fn forget_group(&self, group: &str) {
        self.lock().retain(|(api_version, _), _| api_version.split_once('/').map(|(g, _)| g) != Some(group));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Served>> {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn unknown(key: &ObjectRef) -> KubeError {
    KubeError::UnknownKind {
        object: key.to_string(),
        api_version: key.api_version.clone(),
        kind: key.kind.clone(),
    }
}
