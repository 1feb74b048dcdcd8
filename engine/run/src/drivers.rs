//! Effects, run on the connections configured in client.hcl and env.hcl:
//! PostgreSQL (capstan-sql), RabbitMQ (capstan-amqp), NATS JetStream
//! (capstan-jetstream, `type = "nats"` connections), Vault or OpenBao
//! (capstan-vault, `type = "vault"`) and AWS APIs (capstan-http), one
//! driver per connection, made on first use (a JetStream driver connects to
//! its server on its first effect and keeps that client). This module
//! routes an effect to its driver; it does not decide whether an effect
//! runs (the planner compares it with state, and asks the driver whether
//! its server drifted).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use capstan_amqp::{AmqpConnection, AmqpExecutor};
use capstan_config::{Connection, Stack};
use capstan_core::{ComponentId, Effect, EffectKind, Sensitive, Text};
use capstan_jetstream::{JetStreamConnection, JetStreamExecutor};
use capstan_plan::{EffectRunner, SeamError};
use capstan_sql::{SqlConnection, SqlExecutor};
use capstan_vault::{VaultConnection, VaultExecutor};

/// Runs effects on the connections configured in client.hcl and env.hcl.
pub struct Drivers {
    runtime: tokio::runtime::Handle,
    /// The operator's environment, for the AWS settings chain.
    env: capstan_secrets::Env,
    /// Connections by environment, then by name.
    connections: BTreeMap<String, BTreeMap<String, Connection>>,
    sql: Mutex<BTreeMap<(String, String), Arc<SqlExecutor>>>,
    amqp: Mutex<BTreeMap<(String, String), Arc<AmqpExecutor>>>,
    jetstream: Mutex<BTreeMap<(String, String), Arc<JetStreamExecutor>>>,
    vault: Mutex<BTreeMap<(String, String), Arc<VaultExecutor>>>,
    /// HTTP (AWS API) drivers by environment: one identity and region each.
    http: Mutex<BTreeMap<String, Arc<capstan_http::HttpExecutor>>>,
}

impl Drivers {
    /// Drivers for the connections of every environment in `stack`.
    pub fn new(stack: &Stack, env: capstan_secrets::Env, runtime: tokio::runtime::Handle) -> Self {
        let mut connections = BTreeMap::new();
        for c in stack.components.values() {
            connections.entry(c.id.environment.clone()).or_insert_with(|| stack.connections_for(c));
        }
        Self {
            runtime,
            env,
            connections,
            sql: Mutex::new(BTreeMap::new()),
            amqp: Mutex::new(BTreeMap::new()),
            jetstream: Mutex::new(BTreeMap::new()),
            vault: Mutex::new(BTreeMap::new()),
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
        let (conn, url) = self.typed_connection(
            component,
            name,
            "postgres",
            "SQL",
            "the server's URL, such as postgres://capstan@db:5432/postgres",
        )?;
        let timeouts = sql_timeouts(&conn.settings).map_err(|why| format!("connection {name:?}: {why}"))?;
        let executor =
            Arc::new(SqlExecutor::new(SqlConnection::from_url(name, &url)?.with_timeouts(timeouts)));
        cache.insert(key, Arc::clone(&executor));
        Ok(executor)
    }

    /// Connection `name` of the component's environment, which must be of
    /// type `kind` for the `effects` run on it, and its `url` (`url_is` says
    /// what the URL should be, for the error when it is missing).
    fn typed_connection(
        &self,
        component: &ComponentId,
        name: &str,
        kind: &str,
        effects: &str,
        url_is: &str,
    ) -> Result<(&Connection, Sensitive), SeamError> {
        let conn = self.connection_of_kind(component, name, kind, effects)?;
        let url = url(conn).ok_or_else(|| format!("connection {name:?} has no url ({url_is})"))?;
        Ok((conn, url))
    }

    /// Connection `name` of the component's environment, which must be of
    /// type `kind` for the `effects` run on it.
    fn connection_of_kind(
        &self,
        component: &ComponentId,
        name: &str,
        kind: &str,
        effects: &str,
    ) -> Result<&Connection, SeamError> {
        let conn = self.connection(component, name)?;
        if conn.kind != kind {
            return Err(format!(
                "connection {name:?} has type {:?}, and {effects} effects need a `type = \"{kind}\"` connection",
                conn.kind
            )
            .into());
        }
        Ok(conn)
    }

    /// The driver of a `type = "amqp"` connection: `url` is the broker's
    /// management API, `username` and `password` (normally a secret) its admin.
    fn amqp_executor(&self, component: &ComponentId, name: &str) -> Result<Arc<AmqpExecutor>, SeamError> {
        let key = (component.environment.clone(), name.to_string());
        let mut cache = self.amqp.lock().map_err(|_| "AMQP driver state poisoned")?;
        if let Some(e) = cache.get(&key) {
            return Ok(Arc::clone(e));
        }
        let (conn, url) = self.typed_connection(
            component,
            name,
            "amqp",
            "AMQP",
            "the broker's management API, such as http://broker:15672",
        )?;
        let connection =
            AmqpConnection::new(name, &url, setting(conn, "username"), setting(conn, "password"))?;
        let executor = Arc::new(AmqpExecutor::new(connection)?);
        cache.insert(key, Arc::clone(&executor));
        Ok(executor)
    }

    /// The driver of a `type = "nats"` connection: `url` is the server's
    /// client address (`nats://host:4222`, `tls://…`), and the login, if the
    /// server asks for one, `username` and `password` or `token` (normally
    /// secrets), or the URL's `user:password@`. The server is contacted by
    /// the first effect, not here.
    fn jetstream_executor(
        &self,
        component: &ComponentId,
        name: &str,
    ) -> Result<Arc<JetStreamExecutor>, SeamError> {
        let key = (component.environment.clone(), name.to_string());
        let mut cache = self.jetstream.lock().map_err(|_| "JetStream driver state poisoned")?;
        if let Some(e) = cache.get(&key) {
            return Ok(Arc::clone(e));
        }
        let (conn, url) = self.typed_connection(
            component,
            name,
            "nats",
            "JetStream",
            "the NATS server, such as nats://nats:4222",
        )?;
        let login = ["username", "password", "token"].map(|key| setting(conn, key));
        let [username, password, token] = login;
        let connection = JetStreamConnection::new(name, &url, username, password, token)?;
        let executor = Arc::new(JetStreamExecutor::new(connection));
        cache.insert(key, Arc::clone(&executor));
        Ok(executor)
    }
}

impl Drivers {
    /// The driver of a `type = "vault"` connection: `url` is the server's
    /// API address (`https://vault.internal:8200`), else the operator's
    /// `VAULT_ADDR`; the token is `token` (from a secrets file), else
    /// `VAULT_TOKEN`, else `~/.vault-token` (where `vault login` and `bao
    /// login` keep it); `namespace`, else `VAULT_NAMESPACE`, for Vault
    /// Enterprise namespaces. Nothing is contacted here.
    fn vault_executor(&self, component: &ComponentId, name: &str) -> Result<Arc<VaultExecutor>, SeamError> {
        let key = (component.environment.clone(), name.to_string());
        let mut cache = self.vault.lock().map_err(|_| "Vault driver state poisoned")?;
        if let Some(e) = cache.get(&key) {
            return Ok(Arc::clone(e));
        }
        let conn = self.connection_of_kind(component, name, "vault", "Vault")?;
        let url = url(conn).or_else(|| self.env.get("VAULT_ADDR").map(Sensitive::new)).ok_or_else(|| {
            format!("connection {name:?} has no url (the Vault API, such as https://vault:8200) and VAULT_ADDR is not set")
        })?;
        let token = setting(conn, "token")
            .or_else(|| self.env.vault_token())
            .ok_or_else(|| {
                format!(
                    "connection {name:?} has no token: set `token` (from a secrets file) or VAULT_TOKEN, or log in with `bao login`"
                )
            })?;
        let namespace = setting(conn, "namespace")
            .map(|n| n.expose().to_owned())
            .or_else(|| self.env.get("VAULT_NAMESPACE").map(str::to_owned));
        let executor = Arc::new(VaultExecutor::new(VaultConnection::new(name, &url, token, namespace)?));
        cache.insert(key, Arc::clone(&executor));
        Ok(executor)
    }
}

/// A connection's `url`, sensitive when it came from a secrets file.
fn url(conn: &Connection) -> Option<Sensitive> {
    match &conn.url {
        Some(Text::Plain(u)) => Some(Sensitive::new(u.clone())),
        Some(Text::Sensitive(u)) => Some(u.clone()),
        None => None,
    }
}

/// A connection setting a driver reads as a string: from the secrets if it
/// held one, else as written.
fn setting(conn: &Connection, key: &str) -> Option<Sensitive> {
    conn.sensitive_settings
        .get(key)
        .cloned()
        .or_else(|| conn.settings.get(key).and_then(Value::as_str).map(Sensitive::new))
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
        let executor = Arc::new(capstan_http::HttpExecutor::new(
            aws.as_ref(),
            &self.env,
            capstan_http::DEFAULT_TIMEOUT,
        )?);
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
            EffectKind::JetStream(_) => {
                let executor = self.jetstream_executor(component, &effect.target)?;
                let result = self.runtime.block_on(executor.apply(effect))?;
                Ok(result.body)
            }
            EffectKind::Vault(_) => Ok(self.vault_executor(component, &effect.target)?.apply(effect)?.body),
        }
    }

    fn drift(&self, component: &ComponentId, effect: &Effect) -> Result<Vec<String>, SeamError> {
        match &effect.kind {
            EffectKind::Vault(_) => Ok(self.vault_executor(component, &effect.target)?.check(effect)?),
            EffectKind::Sql(_) | EffectKind::Amqp(_) | EffectKind::Http(_) | EffectKind::JetStream(_) => {
                Ok(Vec::new())
            }
        }
    }
}

/// `connect_timeout`, `statement_timeout` and `lock_timeout` of a
/// PostgreSQL connection block (or the `state` block), over the defaults.
pub(crate) fn sql_timeouts(
    settings: &serde_json::Map<String, Value>,
) -> Result<capstan_sql::Timeouts, String> {
    let mut timeouts = capstan_sql::Timeouts::default();
    for (key, slot) in [
        ("connect_timeout", &mut timeouts.connect),
        ("statement_timeout", &mut timeouts.statement),
        ("lock_timeout", &mut timeouts.lock),
    ] {
        if let Some(value) = settings.get(key) {
            let text = value.as_str().ok_or_else(|| format!("`{key}` is a duration such as \"30s\""))?;
            *slot = capstan_config::parse_duration(text).map_err(|e| format!("`{key}`: {e}"))?;
        }
    }
    Ok(timeouts)
}
