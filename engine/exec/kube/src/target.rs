//! The cluster as an apply target: server-side apply under one field
//! manager, in stage order, with ownership checked before anything is
//! changed or deleted.

use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use capstan_core::Health;
use capstan_core::inventory::{COMPONENT_ANNOTATION, MANAGED_BY};

use crate::fields;
use crate::kubeconfig::{self, KubeconfigSource};
use crate::namespaces;
use crate::object::{Stage, delete_order, is_crd, is_namespace, object_ref};
use crate::resources::Resources;
use crate::{KubeError, ObjectRef};

/// How the target behaves; [`Settings::default`] is what the CLI uses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The field manager every apply is made as.
    pub field_manager: String,
    /// How long a CRD may take to be Established before its custom
    /// resources are applied.
    pub crd_timeout: Duration,
    /// How often a waiting object is looked at again.
    pub poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            field_manager: "capstan".into(),
            // The API server establishes a CRD in well under a second; a
            // minute means its names clash with another CRD's.
            crd_timeout: Duration::from_secs(60),
            poll: Duration::from_secs(2),
        }
    }
}

/// The plugin's health rules for one live object (its `health` export).
pub type HealthCheck<'a> = &'a (dyn Fn(&Value) -> Result<Health, String> + Sync);

/// What pruning did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Objects deleted, in the order they were deleted; ones already gone are not listed.
    pub deleted: Vec<ObjectRef>,
    /// Left in place, with the reason (another component or tool owns it now).
    pub kept: Vec<(ObjectRef, String)>,
}

/// What [`KubeTarget::reassign`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reassigned {
    /// Objects that now name the new component, in the order given.
    pub moved: Vec<ObjectRef>,
    /// Left as they were, with the reason (not in the cluster, another component's).
    pub kept: Vec<(ObjectRef, String)>,
}

/// A cluster reached through a `kube::Client` — a real one from the
/// kubeconfig ([`KubeTarget::connect`]), or any client a test builds.
pub struct KubeTarget {
    client: Client,
    settings: Settings,
    resources: Resources,
}

impl KubeTarget {
    /// A target on `client`, which is used as it is: no request is made here.
    pub fn new(client: Client, settings: Settings) -> Self {
        Self { client, settings, resources: Resources::default() }
    }

    /// Connects to the cluster of `context` (else the current context) of
    /// the kubeconfig kubectl would read, and asks its version: a wrong or
    /// unreachable cluster is one error naming the context and the server,
    /// not one per object.
    pub async fn connect(
        source: &KubeconfigSource,
        context: Option<&str>,
        settings: Settings,
    ) -> Result<Self, KubeError> {
        Self::connect_chosen(kubeconfig::choose(source, context).await?, settings).await
    }

    /// Connects to a cluster already chosen (with [`kubeconfig::choose`]),
    /// so a caller can check which cluster it is before any request.
    pub async fn connect_chosen(
        choice: kubeconfig::ClusterChoice,
        settings: Settings,
    ) -> Result<Self, KubeError> {
        let server = choice.config.cluster_url.to_string();
        let failed = |source| KubeError::Connect {
            context: choice.context.clone(),
            server: server.clone(),
            source: Box::new(source),
        };
        let client = Client::try_from(choice.config).map_err(failed)?;
        client.apiserver_version().await.map_err(failed)?;
        Ok(Self::new(client, settings))
    }

    /// The live object as the API server returns it.
    pub async fn live(&self, key: &ObjectRef) -> Result<Option<Value>, KubeError> {
        let api = match self.api(key).await {
            Ok(api) => api,
            // Its kind is not served (yet): so the object does not exist.
            Err(KubeError::UnknownKind { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let found = api.get_opt(&key.name).await.map_err(|source| KubeError::Api {
            object: key.to_string(),
            action: "reading",
            source: Box::new(source),
        })?;
        found.map(|o| to_json(key, &o)).transpose()
    }

    /// What Capstan manages of the live object: the fields its field
    /// manager owns, with the object's identity. `None` when it does not exist.
    pub async fn current(&self, key: &ObjectRef) -> Result<Option<Value>, KubeError> {
        Ok(self.live(key).await?.map(|live| fields::owned_by(&live, &self.settings.field_manager)))
    }

    /// Applies a component's objects: namespaces (the planned ones, and any
    /// other the objects live in that does not exist yet), then CRDs
    /// (waiting until each is Established), then the rest in plan order.
    /// `owner` is the component's key, which the objects carry in their
    /// inventory annotation.
    pub async fn apply(&self, owner: &str, objects: &[Value]) -> Result<(), KubeError> {
        let keyed = objects.iter().map(|o| Ok((object_ref(o)?, o))).collect::<Result<Vec<_>, KubeError>>()?;
        for stage in [Stage::Namespaces, Stage::Definitions, Stage::Objects] {
            let batch: Vec<&(ObjectRef, &Value)> =
                keyed.iter().filter(|(k, _)| Stage::of(k) == stage).collect();
            for (key, manifest) in &batch {
                self.apply_one(owner, key, manifest).await?;
            }
            if stage == Stage::Namespaces {
                for name in namespaces::unplanned(keyed.iter().map(|(k, _)| k)) {
                    self.ensure_namespace(&name).await?;
                }
            }
            if stage == Stage::Definitions {
                for (key, manifest) in &batch {
                    self.wait_established(key).await?;
                    if let Some(group) = manifest.pointer("/spec/group").and_then(Value::as_str) {
                        self.resources.forget_group(group);
                    }
                }
            }
        }
        Ok(())
    }

    async fn apply_one(&self, owner: &str, key: &ObjectRef, manifest: &Value) -> Result<(), KubeError> {
        let api = self.api(key).await?;
        let read =
            |source| KubeError::Api { object: key.to_string(), action: "reading", source: Box::new(source) };
        if let Some(live) = api.get_opt(&key.name).await.map_err(read)? {
            let live = to_json(key, &live)?;
            if let Some(other) = annotation(&live).filter(|o| *o != owner) {
                return Err(KubeError::InvalidObject {
                    object: key.to_string(),
                    why: format!(
                        "it already exists and belongs to component {other}; two components cannot apply the same object"
                    ),
                });
            }
            // Marked before Capstan's label lands on it, so no crash in
            // between can make it look like a namespace Capstan created.
            if is_namespace(key) && !managed(&live) && !namespaces::is_adopted(&live) {
                self.mark_adopted(&api, owner, key).await?;
            }
        }
        let params = PatchParams::apply(&self.settings.field_manager);
        match api.patch(&key.name, &params, &Patch::Apply(manifest)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_conflict() => {
                Err(self.conflict(&api, key, manifest, &status).await)
            }
            Err(source) => Err(KubeError::Api {
                object: key.to_string(),
                action: "server-side apply",
                source: Box::new(source),
            }),
        }
    }

    /// Marks a namespace someone else created, under a field manager of its
    /// own: the mark is not part of what Capstan's manager applies, so
    /// later applies neither drop it nor show it in the plan's diff.
    async fn mark_adopted(
        &self,
        api: &Api<DynamicObject>,
        owner: &str,
        key: &ObjectRef,
    ) -> Result<(), KubeError> {
        let params = PatchParams {
            field_manager: Some(format!("{}-adopt", self.settings.field_manager)),
            ..PatchParams::default()
        };
        api.patch(&key.name, &params, &Patch::Merge(namespaces::adoption_patch(owner))).await.map_err(
            |source| KubeError::Api {
                object: key.to_string(),
                action: "marking the existing namespace adopted",
                source: Box::new(source),
            },
        )?;
        tracing::info!(object = %key, "it existed before Capstan applied it: marked adopted, never deleted");
        Ok(())
    }

    /// Creates a namespace objects live in that no plugin planned, unless
    /// it exists (whoever made it). Components apply in parallel, so two of
    /// one namespace may both find it missing: the one whose write loses
    /// the race gets a 409, and finding the namespace there is what it
    /// wanted.
    async fn ensure_namespace(&self, name: &str) -> Result<(), KubeError> {
        let key = namespaces::key(name);
        match self.live(&key).await {
            Ok(Some(_)) => return Ok(()),
            Ok(None) => {}
            // Many clusters let a deployer write inside its namespaces but
            // not read Namespace objects; it could not create one either,
            // so the objects' own applies say whether it is there.
            Err(KubeError::Api { source, .. }) if matches!(source.as_ref(), kube::Error::Api(status) if status.code == 403) =>
            {
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let api = self.api(&key).await?;
        let params = PatchParams::apply(&self.settings.field_manager);
        match api.patch(name, &params, &Patch::Apply(namespaces::manifest(name))).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 && self.live(&key).await?.is_some() => Ok(()),
            Err(source) => Err(KubeError::Api {
                object: key.to_string(),
                action: "creating the namespace",
                source: Box::new(source),
            }),
        }
    }

    /// Turns a 409 from server-side apply into an error naming the other
    /// manager and the fields, read from the live object's managedFields
    /// (the message of the API server is the fallback).
    async fn conflict(
        &self,
        api: &Api<DynamicObject>,
        key: &ObjectRef,
        manifest: &Value,
        status: &kube::core::Status,
    ) -> KubeError {
        let live = api.get_opt(&key.name).await.ok().flatten().and_then(|o| to_json(key, &o).ok());
        let found =
            live.map(|l| fields::conflicts(&l, manifest, &self.settings.field_manager)).unwrap_or_default();
        if let Some((manager, fields)) = found.into_iter().next() {
            return KubeError::Conflict { object: key.to_string(), manager, fields };
        }
        let manager = status
            .message
            .split("conflict with \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("(not reported)")
            .to_string();
        let fields: Vec<String> = status
            .details
            .iter()
            .flat_map(|d| d.causes.iter())
            .map(|c| c.field.clone())
            .filter(|f| !f.is_empty())
            .collect();
        let fields = if fields.is_empty() {
            vec![format!("fields the server did not name ({})", status.message)]
        } else {
            fields
        };
        KubeError::Conflict { object: key.to_string(), manager, fields }
    }

    async fn wait_established(&self, key: &ObjectRef) -> Result<(), KubeError> {
        let deadline = Instant::now() + self.settings.crd_timeout;
        loop {
            let live = self.live(key).await?;
            let conditions =
                live.as_ref().and_then(|l| l.pointer("/status/conditions")).and_then(Value::as_array);
            let condition = |t: &str| conditions.and_then(|cs| cs.iter().find(|c| c["type"] == t));
            if condition("Established").is_some_and(|c| c["status"] == "True") {
                return Ok(());
            }
            let reason = match condition("NamesAccepted") {
                Some(c) if c["status"] == "False" => {
                    format!("its names are not accepted: {}", c["message"].as_str().unwrap_or_default())
                }
                _ => "the API server has not reported it Established".to_string(),
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(KubeError::NotEstablished {
                    object: key.to_string(),
                    timeout: self.settings.crd_timeout,
                    reason,
                });
            }
            tokio::time::sleep(self.settings.poll.min(deadline - now)).await;
        }
    }

    /// Hands the live objects `keys` of component `from` to component `to`
    /// (`capstan state mv`): each whose inventory annotation names `from`
    /// gets `to`'s instead, and nothing else of it changes, so the move
    /// neither deletes nor recreates anything and `to`'s next apply is not
    /// refused as another component's object. The merge patch carries the
    /// `resourceVersion` it read, so an object changed in between is refused
    /// by the server rather than relabelled blindly; it is made as Capstan's
    /// field manager, so the next plan, which compares what that manager
    /// owns, sees the annotation as Capstan's. An object already naming
    /// `to` counts as moved: a move stopped half-way can be run again.
    pub async fn reassign(&self, from: &str, to: &str, keys: &[ObjectRef]) -> Result<Reassigned, KubeError> {
        let mut out = Reassigned::default();
        for key in keys {
            let Some(live) = self.live(key).await? else {
                out.kept.push((key.clone(), "it is not in the cluster".to_string()));
                continue;
            };
            match annotation(&live) {
                Some(owner) if owner == to => {}
                Some(owner) if owner == from => {
                    let version = live.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
                    let patch = serde_json::json!({"metadata": {
                        "resourceVersion": version,
                        "annotations": { COMPONENT_ANNOTATION: to },
                    }});
                    let params = PatchParams {
                        field_manager: Some(self.settings.field_manager.clone()),
                        ..PatchParams::default()
                    };
                    let api = self.api(key).await?;
                    api.patch(&key.name, &params, &Patch::Merge(&patch)).await.map_err(|source| {
                        KubeError::Api {
                            object: key.to_string(),
                            action: "moving it to its new component",
                            source: Box::new(source),
                        }
                    })?;
                }
                Some(other) => {
                    out.kept.push((key.clone(), format!("it belongs to component {other}")));
                    continue;
                }
                None => {
                    out.kept.push((key.clone(), format!("it has no annotation {COMPONENT_ANNOTATION}")));
                    continue;
                }
            }
            out.moved.push(key.clone());
        }
        Ok(out)
    }

    /// Deletes objects that left `owner`'s plan, custom resources before
    /// their CRD and namespaces last. Only objects that still carry
    /// Capstan's label and `owner`'s annotation are deleted, and never a
    /// namespace that existed before Capstan applied it; anything else is
    /// kept and reported.
    pub async fn prune(&self, owner: &str, keys: &[ObjectRef]) -> Result<Pruned, KubeError> {
        let mut out = Pruned::default();
        for key in delete_order(keys) {
            let Some(live) = self.live(&key).await? else { continue };
            let why_kept = match annotation(&live) {
                _ if !managed(&live) => {
                    Some(format!("it no longer has the label {}={}", MANAGED_BY.0, MANAGED_BY.1))
                }
                _ if is_namespace(&key) && namespaces::is_adopted(&live) => Some(format!(
                    "it existed before Capstan applied it ({} is set), so Capstan does not delete it",
                    namespaces::ADOPTED_ANNOTATION
                )),
                Some(o) if o == owner => None,
                Some(other) => Some(format!("it belongs to component {other} now")),
                None => Some(format!("it no longer has the annotation {COMPONENT_ANNOTATION}")),
            };
            if let Some(why) = why_kept {
                tracing::warn!(object = %key, "not deleting: {why}");
                out.kept.push((key, why));
                continue;
            }
            let api = self.api(&key).await?;
            match api.delete(&key.name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.is_not_found() => {}
                Err(source) => {
                    return Err(KubeError::Api {
                        object: key.to_string(),
                        action: "deleting",
                        source: Box::new(source),
                    });
                }
            }
            if is_crd(&key)
                && let Some(group) = live.pointer("/spec/group").and_then(Value::as_str)
            {
                self.resources.forget_group(group);
            }
            out.deleted.push(key);
        }
        Ok(out)
    }

    /// Waits until the plugin's health rules call every object ready, for
    /// at most `timeout` (the component's own, chosen by the caller). A
    /// degraded object fails at once.
    pub async fn wait_ready(
        &self,
        component: &str,
        keys: &[ObjectRef],
        timeout: Duration,
        health: HealthCheck<'_>,
    ) -> Result<(), KubeError> {
        let deadline = Instant::now() + timeout;
        let mut pending: Vec<ObjectRef> = keys.to_vec();
        loop {
            let mut waiting = Vec::new();
            for key in pending {
                let Some(mut live) = self.live(&key).await? else {
                    waiting.push((key, "it does not exist in the cluster".to_string()));
                    continue;
                };
                if let Some(meta) = live.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("managedFields");
                }
                match health(&live).map_err(|reason| KubeError::Health { object: key.to_string(), reason })? {
                    Health::Ready => {}
                    Health::Progressing(why) => waiting.push((key, why)),
                    Health::Degraded(reason) => {
                        return Err(KubeError::Degraded { object: key.to_string(), reason });
                    }
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                let pending = waiting.into_iter().map(|(k, why)| (k.to_string(), why)).collect();
                return Err(KubeError::NotReady { component: component.to_string(), timeout, pending });
            }
            pending = waiting.into_iter().map(|(k, _)| k).collect();
            tokio::time::sleep(self.settings.poll.min(deadline - now)).await;
        }
    }

    async fn api(&self, key: &ObjectRef) -> Result<Api<DynamicObject>, KubeError> {
        let served = self.resources.resolve(&self.client, key).await?;
        if !served.namespaced {
            return Ok(Api::all_with(self.client.clone(), &served.resource));
        }
        let ns = key.namespace.as_deref().ok_or_else(|| KubeError::InvalidObject {
            object: key.to_string(),
            why: "its kind is namespaced and it has no metadata.namespace".into(),
        })?;
        Ok(Api::namespaced_with(self.client.clone(), ns, &served.resource))
    }
}

/// Whether the live object carries Capstan's label.
fn managed(live: &Value) -> bool {
    live.pointer("/metadata/labels").and_then(|l| l.get(MANAGED_BY.0)).and_then(Value::as_str)
        == Some(MANAGED_BY.1)
}

fn annotation(live: &Value) -> Option<&str> {
    live.pointer("/metadata/annotations").and_then(|a| a.get(COMPONENT_ANNOTATION)).and_then(Value::as_str)
}

fn to_json(key: &ObjectRef, object: &DynamicObject) -> Result<Value, KubeError> {
    serde_json::to_value(object).map_err(|e| KubeError::InvalidObject {
        object: key.to_string(),
        why: format!("the API server's answer: {e}"),
    })
}
