//! Turns the operator's configuration into the real things the planner
//! talks to: the state backend, the target, the effect drivers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use serde_json::Value;

use capstan_amqp::{AmqpConnection, AmqpExecutor};
use capstan_config::{Connection, Stack, StateBackend as StateSetting};
use capstan_core::{ComponentId, Effect, EffectKind, Sensitive, Text};
use capstan_plan::{EffectRunner, ObjectRef, ObjectTarget, SeamError};
use capstan_render::{RenderTarget, RenderedComponent};
use capstan_sql::{SqlConnection, SqlExecutor};
use capstan_state::AnyBackend;

/// Loads the stack below `dir`, with secrets opened by the operator's
/// identity, and components pinned to `local` routed to their builds.
pub fn load_stack(dir: &Path) -> anyhow::Result<Stack> {
    let env = capstan_secrets::Env::from_process();
    let secrets = capstan_secrets::Secrets::from_env(env).context("setting up secrets")?;
    let options =
        capstan_config::LoadOptions { secrets: Some(Arc::new(secrets)), env: std::env::vars().collect() };
    let mut stack = capstan_config::load(dir, &options).map_err(|diags| anyhow::anyhow!("{diags}"))?;
    crate::local_build::route(&mut stack);
    Ok(stack)
}

/// The state backend `client.hcl` chose (local when it chose none).
pub async fn state_backend(stack: &Stack) -> anyhow::Result<AnyBackend> {
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
            AnyBackend::postgres(capstan_state::PostgresConfig::new(url, stack_name))
                .await
                .context("connecting to the PostgreSQL state backend")?
        }
        StateSetting::Other { name, .. } => {
            bail!("client.hcl: unknown state backend {name:?} (use local or postgres)")
        }
    })
}

/// The render target: YAML files under `out_dir`.
pub struct Render(pub RenderTarget);

impl Render {
    pub fn new(stack: &Stack, out_dir: Option<&Path>) -> Self {
        let out: PathBuf = out_dir.map_or_else(|| stack.root.join("rendered"), Path::to_path_buf);
        Self(RenderTarget::new(out))
    }
}

impl ObjectTarget for Render {
    fn current(&self, component: &ComponentId, object: &ObjectRef) -> Result<Option<Value>, SeamError> {
        Ok(self.0.current(component, &object.kind, &object.name)?)
    }

    fn apply(
        &self,
        component: &ComponentId,
        objects: &[Value],
        _prune: &[ObjectRef],
    ) -> Result<(), SeamError> {
        // The component's directory is made to hold exactly `objects`, so
        // pruned objects' files go with it.
        self.0.apply_component(&RenderedComponent { id: component.clone(), objects: objects.to_vec() })?;
        Ok(())
    }
}

/// The kube target: server-side apply to a cluster. The seam names a
/// component by its id; the objects' inventory annotation holds its key, so
/// the keys of every component in the tree and in state are kept here, with
/// each component's readiness timeout.
pub struct Kube {
    target: capstan_kube::KubeTarget,
    runtime: tokio::runtime::Handle,
    keys: std::collections::HashMap<ComponentId, String>,
    /// `ready_timeout` of the components whose component.hcl sets one.
    ready_timeouts: std::collections::HashMap<ComponentId, std::time::Duration>,
    /// `--ready-timeout`: for every other component.
    default_ready_timeout: std::time::Duration,
}

impl Kube {
    pub fn connect(
        stack: &Stack,
        state: &capstan_state::State,
        context: Option<&str>,
        kubeconfig: Option<&Path>,
        default_ready_timeout: std::time::Duration,
        runtime: &tokio::runtime::Runtime,
    ) -> anyhow::Result<Self> {
        let mut source = capstan_kube::KubeconfigSource::from_process();
        // `--kubeconfig` replaces what KUBECONFIG lists, as kubectl's does.
        if let Some(file) = kubeconfig {
            source.kubeconfig_env = Some(file.as_os_str().to_owned());
        }
        let settings = capstan_kube::Settings::default();
        let target = runtime.block_on(capstan_kube::KubeTarget::connect(&source, context, settings))?;
        let keys = stack
            .components
            .iter()
            .map(|(k, c)| (c.id.clone(), k.clone()))
            .chain(state.components.iter().map(|(k, c)| (c.id.clone(), k.clone())))
            .collect();
        let ready_timeouts =
            stack.components.values().filter_map(|c| Some((c.id.clone(), c.ready_timeout?))).collect();
        Ok(Self { target, runtime: runtime.handle().clone(), keys, ready_timeouts, default_ready_timeout })
    }

    fn key(&self, component: &ComponentId) -> Result<&str, SeamError> {
        self.keys
            .get(component)
            .map(String::as_str)
            .ok_or_else(|| format!("component {component} is not in the tree or in state").into())
    }

    /// Deletes what a component applied, as state recorded it.
    pub fn remove_component(&self, key: &str, was: &capstan_state::ComponentState) -> anyhow::Result<()> {
        let objects: Vec<capstan_kube::ObjectKey> = was
            .objects
            .iter()
            .map(|o| capstan_kube::ObjectKey {
                api_version: o.api_version.clone(),
                kind: o.kind.clone(),
                namespace: o.namespace.clone(),
                name: o.name.clone(),
            })
            .collect();
        let pruned = self.runtime.block_on(self.target.prune(key, &objects))?;
        for (object, why) in pruned.kept {
            eprintln!("warning: {key}: kept {object}: {why}");
        }
        Ok(())
    }
}

fn object_key(o: &ObjectRef) -> capstan_kube::ObjectKey {
    capstan_kube::ObjectKey {
        api_version: o.api_version.clone(),
        kind: o.kind.clone(),
        namespace: o.namespace.clone(),
        name: o.name.clone(),
    }
}

impl ObjectTarget for Kube {
    fn current(&self, _component: &ComponentId, object: &ObjectRef) -> Result<Option<Value>, SeamError> {
        Ok(self.runtime.block_on(self.target.current(&object_key(object)))?)
    }

    fn apply(
        &self,
        component: &ComponentId,
        objects: &[Value],
        prune: &[ObjectRef],
    ) -> Result<(), SeamError> {
        let key = self.key(component)?;
        self.runtime.block_on(self.target.apply(key, objects))?;
        let prune: Vec<capstan_kube::ObjectKey> = prune.iter().map(object_key).collect();
        let pruned = self.runtime.block_on(self.target.prune(key, &prune))?;
        for (object, why) in pruned.kept {
            eprintln!("warning: {key}: kept {object}: {why}");
        }
        Ok(())
    }

    fn wait_ready(
        &self,
        component: &ComponentId,
        objects: &[ObjectRef],
        health: &(dyn Fn(&Value) -> Result<capstan_core::Health, SeamError> + Sync),
    ) -> Result<(), SeamError> {
        let key = self.key(component)?;
        let objects: Vec<capstan_kube::ObjectKey> = objects.iter().map(object_key).collect();
        let timeout = self.ready_timeouts.get(component).copied().unwrap_or(self.default_ready_timeout);
        let health = |o: &Value| health(o).map_err(|e| e.to_string());
        Ok(self.runtime.block_on(self.target.wait_ready(key, &objects, timeout, &health))?)
    }
}

/// Where objects go, as `--target` chose.
pub enum Target {
    Render(Render),
    // Boxed: it holds the client and per-component tables, and a run has one.
    Kube(Box<Kube>),
}

impl Target {
    /// Removes everything a component applied (destroy, or a component
    /// that left the tree).
    pub fn remove_component(&self, key: &str, was: &capstan_state::ComponentState) -> anyhow::Result<()> {
        match self {
            Target::Render(r) => {
                r.0.remove_component(&was.id)?;
                Ok(())
            }
            Target::Kube(k) => k.remove_component(key, was),
        }
    }

    /// Writes what the target keeps between components (the render marker).
    pub fn flush(&self) -> anyhow::Result<()> {
        match self {
            Target::Render(r) => r.0.flush().context("writing the render marker"),
            Target::Kube(_) => Ok(()),
        }
    }

    fn inner(&self) -> &dyn ObjectTarget {
        match self {
            Target::Render(r) => r,
            Target::Kube(k) => k.as_ref(),
        }
    }
}

impl ObjectTarget for Target {
    fn current(&self, component: &ComponentId, object: &ObjectRef) -> Result<Option<Value>, SeamError> {
        self.inner().current(component, object)
    }

    fn apply(
        &self,
        component: &ComponentId,
        objects: &[Value],
        prune: &[ObjectRef],
    ) -> Result<(), SeamError> {
        self.inner().apply(component, objects, prune)
    }

    fn wait_ready(
        &self,
        component: &ComponentId,
        objects: &[ObjectRef],
        health: &(dyn Fn(&Value) -> Result<capstan_core::Health, SeamError> + Sync),
    ) -> Result<(), SeamError> {
        self.inner().wait_ready(component, objects, health)
    }
}

/// Runs effects on the connections configured in client.hcl and env.hcl.
pub struct Drivers {
    runtime: tokio::runtime::Handle,
    /// Connections by environment, then by name.
    connections: BTreeMap<String, BTreeMap<String, Connection>>,
    sql: Mutex<BTreeMap<(String, String), Arc<SqlExecutor>>>,
    amqp: Mutex<BTreeMap<(String, String), Arc<AmqpExecutor>>>,
    /// HTTP (AWS API) drivers by environment: one identity and region each.
    http: Mutex<BTreeMap<String, Arc<capstan_http::HttpExecutor>>>,
}

impl Drivers {
    pub fn new(stack: &Stack, runtime: tokio::runtime::Handle) -> Self {
        let mut connections = BTreeMap::new();
        for c in stack.components.values() {
            connections.entry(c.id.environment.clone()).or_insert_with(|| stack.connections_for(c));
        }
        Self {
            runtime,
            connections,
            sql: Mutex::new(BTreeMap::new()),
            amqp: Mutex::new(BTreeMap::new()),
            http: Mutex::new(BTreeMap::new()),
        }
    }

    fn connection(&self, component: &ComponentId, name: &str) -> Result<&Connection, SeamError> {
        self.connections.get(&component.environment).and_then(|c| c.get(name)).ok_or_else(|| {
            format!(
                "no connection named {name:?} is configured for environment {} \
                 (add a `connection \"{name}\"` block to client.hcl or env.hcl)",
                component.environment
            )
            .into()
        })
    }

    fn sql_executor(&self, component: &ComponentId, name: &str) -> Result<Arc<SqlExecutor>, SeamError> {
        let key = (component.environment.clone(), name.to_string());
        let mut cache = self.sql.lock().map_err(|_| "SQL driver state poisoned")?;
        if let Some(e) = cache.get(&key) {
            return Ok(Arc::clone(e));
        }
        let conn = self.connection(component, name)?;
        let url = match &conn.url {
            Some(Text::Plain(u)) => Sensitive::new(u.clone()),
            Some(Text::Sensitive(u)) => u.clone(),
            None => return Err(format!("connection {name:?} has no url").into()),
        };
        let executor = Arc::new(SqlExecutor::new(SqlConnection::from_url(name, &url)?));
        cache.insert(key, Arc::clone(&executor));
        Ok(executor)
    }

    /// The driver of a `type = "amqp"` connection: `url` is the broker's
    /// management API, `username` and `password` (normally a secret) its admin.
    fn amqp_executor(&self, component: &ComponentId, name: &str) -> Result<Arc<AmqpExecutor>, SeamError> {
        let key = (component.environment.clone(), name.to_string());
        let mut cache = self.amqp.lock().map_err(|_| "AMQP driver state poisoned")?;
        if let Some(e) = cache.get(&key) {
            return Ok(Arc::clone(e));
        }
        let conn = self.connection(component, name)?;
        if conn.kind != "amqp" {
            return Err(format!(
                "connection {name:?} has type {:?}, and AMQP effects need a `type = \"amqp\"` connection",
                conn.kind
            )
            .into());
        }
        let url = match &conn.url {
            Some(Text::Plain(u)) => Sensitive::new(u.clone()),
            Some(Text::Sensitive(u)) => u.clone(),
            None => {
                return Err(format!(
                    "connection {name:?} has no url (the broker's management API, such as http://broker:15672)"
                )
                .into());
            }
        };
        let setting = |key: &str| {
            conn.sensitive_settings
                .get(key)
                .cloned()
                .or_else(|| conn.settings.get(key).and_then(Value::as_str).map(Sensitive::new))
        };
        let connection = AmqpConnection::new(name, &url, setting("username"), setting("password"))?;
        let executor = Arc::new(AmqpExecutor::new(connection)?);
        cache.insert(key, Arc::clone(&executor));
        Ok(executor)
    }
}

impl Drivers {
    /// The AWS driver of the component's environment: its `connection "aws"`
    /// block if there is one, over the AWS environment variables and profile.
    fn http_executor(&self, component: &ComponentId) -> Result<Arc<capstan_http::HttpExecutor>, SeamError> {
        let mut cache = self.http.lock().map_err(|_| "HTTP driver state poisoned")?;
        if let Some(e) = cache.get(&component.environment) {
            return Ok(Arc::clone(e));
        }
        let name = capstan_http::CONNECTION_NAME;
        let conn = self.connections.get(&component.environment).and_then(|c| c.get(name));
        if conn.is_some_and(|c| c.url.is_some()) {
            return Err(
                format!("connection {name:?}: AWS endpoints are set with `endpoint`, not `url`").into()
            );
        }
        let aws = conn
            .map(|c| {
                capstan_http::AwsConnection::from_settings(name, &c.kind, &c.settings, &c.sensitive_settings)
            })
            .transpose()?;
        let env = capstan_secrets::Env::from_process();
        let executor =
            Arc::new(capstan_http::HttpExecutor::new(aws.as_ref(), &env, capstan_http::DEFAULT_TIMEOUT)?);
        cache.insert(component.environment.clone(), Arc::clone(&executor));
        Ok(executor)
    }
}

impl EffectRunner for Drivers {
    fn run(&self, component: &ComponentId, effect: &Effect) -> Result<Value, SeamError> {
        match &effect.kind {
            EffectKind::Sql(_) => {
                let executor = self.sql_executor(component, &effect.target)?;
                let result = self.runtime.block_on(executor.apply(effect))?;
                Ok(result.body)
            }
            EffectKind::Amqp(_) => {
                let executor = self.amqp_executor(component, &effect.target)?;
                let result = self.runtime.block_on(executor.apply(effect))?;
                Ok(result.body)
            }
            EffectKind::Http(_) => Ok(self.http_executor(component)?.apply(effect)?),
        }
    }
}
