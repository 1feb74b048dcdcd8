//! The team backend: state in PostgreSQL, one run at a time.
//!
//! Tables (created if missing, in the configured schema):
//! - `<table>`: `(stack, key, body jsonb)`, one row per component plus a header
//!   row (`key = ''`) with version, serial and lineage. Recording a component
//!   after each apply step is one small upsert in a transaction.
//! - `<table>_lock`: who holds each stack's lock (id, holder, pid, host, since,
//!   and the server process id of the holding session).
//! - `<table>_key`: each stack's [`StateKey`].
//!
//! The lock itself is a session-level advisory lock on a key derived from the
//! table and stack name, taken on a connection the [`LockGuard`] owns. If the
//! run dies (even `kill -9`), the server ends the session and frees the lock:
//! no stale lease to clean up. Writes go through that same session, so a run
//! whose lock was forcibly taken away cannot write any more. This needs a
//! session-level connection: point it at PostgreSQL or a session-pooling
//! proxy, not a transaction-pooling one.
//!
//! Connections (URL forms, `sslmode`/`sslrootcert` TLS) are made by
//! `capstan_sql::SqlConnection`, the same code the SQL effects executor uses.

use std::time::{Duration, Instant};

use capstan_core::Sensitive;
use capstan_sql::SqlConnection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use crate::lock::{GuardKind, LockRelease, Progress};
use crate::{
    ComponentState, LockGuard, LockInfo, Revision, RevisionHead, State, StateBackend, StateError, StateKey,
};

const LOCK_POLL: Duration = Duration::from_millis(250);

/// Where the operator keeps state in PostgreSQL.
#[derive(Clone, Debug)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/db` (or a key=value string). Never shown.
    pub url: Sensitive,
    /// Schema for the tables; `None` uses the connection's search path.
    pub schema: Option<String>,
    /// Base table name; default `capstan_state`.
    pub table: String,
    /// Which stack's state (several stacks can share the tables).
    pub stack: String,
    /// Connect, statement and lock timeouts of its sessions.
    pub timeouts: capstan_sql::Timeouts,
}

impl PostgresConfig {
    /// State of `stack` in the `capstan_state` tables at `url`, in the
    /// connection's search path, with default timeouts.
    pub fn new(url: Sensitive, stack: impl Into<String>) -> Self {
        Self {
            url,
            schema: None,
            table: "capstan_state".to_string(),
            stack: stack.into(),
            timeouts: capstan_sql::Timeouts::default(),
        }
    }
}

/// State in PostgreSQL tables, locked with a session advisory lock.
pub struct PostgresBackend {
    conn: SqlConnection,
    target: String,
    qualified: String,
    state_table: String,
    lock_table: String,
    key_table: String,
    revisions_table: String,
    stack: String,
    lock_key: i64,
    client: Client,
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    serial: u64,
    #[serde(default)]
    lineage: String,
}

fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 50
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn open(conn: &SqlConnection) -> Result<Client, StateError> {
    conn.open(None).await.map_err(|e| StateError::Postgres {
        target: conn.target(),
        action: "connecting",
        message: e.to_string(),
    })
}

impl PostgresBackend {
    /// Connects and creates the tables if they are missing.
    pub async fn connect(config: PostgresConfig) -> Result<Self, StateError> {
        // Same connection handling (URL, TLS modes, messages without the
        // password) as the SQL effects executor.
        let conn = SqlConnection::from_url("state", &config.url)
            .map_err(|e| StateError::InvalidConfig { what: e.to_string() })?
            .with_timeouts(config.timeouts);
        for (what, name) in [("table", Some(&config.table)), ("schema", config.schema.as_ref())] {
            if let Some(name) = name
                && !valid_identifier(name)
            {
                return Err(StateError::InvalidConfig {
                    what: format!("state {what} name {name:?}: use letters, digits and _ (at most 50)"),
                });
            }
        }
        if config.stack.is_empty() {
            return Err(StateError::InvalidConfig { what: "empty stack name".to_string() });
        }
        let prefix = config.schema.as_deref().map(|s| format!("{}.", quote_ident(s))).unwrap_or_default();
        let qualified = format!(
            "{}{}",
            config.schema.as_deref().map(|s| format!("{s}.")).unwrap_or_default(),
            config.table
        );
        let lock_key = {
            let digest = Sha256::digest(format!("capstan-state\0{qualified}\0{}", config.stack));
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&digest[..8]);
            i64::from_be_bytes(bytes)
        };
        let target = conn.target();
        let client = open(&conn).await?;
        let backend = Self {
            state_table: format!("{prefix}{}", quote_ident(&config.table)),
            lock_table: format!("{prefix}{}", quote_ident(&format!("{}_lock", config.table))),
            key_table: format!("{prefix}{}", quote_ident(&format!("{}_key", config.table))),
            revisions_table: format!("{prefix}{}", quote_ident(&format!("{}_revisions", config.table))),
            conn,
            target,
            qualified,
            stack: config.stack,
            lock_key,
            client,
        };
        backend.create_tables(config.schema.as_deref()).await?;
        Ok(backend)
    }

    fn err(&self, action: &'static str) -> impl Fn(tokio_postgres::Error) -> StateError + '_ {
        move |e| StateError::Postgres {
            target: self.target.clone(),
            action,
            message: crate::error::pg_message(&e),
        }
    }

    async fn create_tables(&self, schema: Option<&str>) -> Result<(), StateError> {
        // Serialise DDL across runs: concurrent CREATE TABLE IF NOT EXISTS can
        // still collide in the catalog.
        let schema_ddl =
            schema.map(|s| format!("CREATE SCHEMA IF NOT EXISTS {};", quote_ident(s))).unwrap_or_default();
        let ddl = format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock(7237005577332262213);
             {schema_ddl}
             CREATE TABLE IF NOT EXISTS {state} (
                 stack text NOT NULL, key text NOT NULL, body jsonb NOT NULL,
                 PRIMARY KEY (stack, key));
             CREATE TABLE IF NOT EXISTS {lock} (
                 stack text PRIMARY KEY, lock_id text NOT NULL, holder text NOT NULL,
                 operation text NOT NULL, pid bigint NOT NULL, host text NOT NULL,
                 since text NOT NULL, backend_pid integer NOT NULL);
             CREATE TABLE IF NOT EXISTS {key} (stack text PRIMARY KEY, key text NOT NULL);
             CREATE TABLE IF NOT EXISTS {revisions} (
                 stack text NOT NULL, environment text NOT NULL, number bigint NOT NULL,
                 body jsonb NOT NULL, PRIMARY KEY (stack, environment, number));
             COMMIT;",
            state = self.state_table,
            lock = self.lock_table,
            key = self.key_table,
            revisions = self.revisions_table,
        );
        if let Err(e) = self.client.batch_execute(&ddl).await {
            let _ = self.client.batch_execute("ROLLBACK").await;
            return Err(self.err("creating the state tables")(e));
        }
        Ok(())
    }

    /// The holder recorded for this stack, if its session really holds the lock.
    async fn holder(&self, client: &Client) -> Result<Option<LockInfo>, StateError> {
        let (hi, lo) = ((self.lock_key >> 32) & 0xffff_ffff, self.lock_key & 0xffff_ffff);
        let sql = format!(
            "SELECT l.lock_id, l.holder, l.operation, l.pid, l.host, l.since
               FROM {} l
               JOIN pg_locks p ON p.pid = l.backend_pid AND p.locktype = 'advisory' AND p.granted
                AND p.classid::bigint = $2 AND p.objid::bigint = $3 AND p.objsubid = 1
              WHERE l.stack = $1",
            self.lock_table
        );
        let row =
            client.query_opt(&sql, &[&self.stack, &hi, &lo]).await.map_err(self.err("reading the lock"))?;
        Ok(row.map(|r| LockInfo {
            id: r.get(0),
            holder: r.get(1),
            operation: r.get(2),
            pid: u32::try_from(r.get::<_, i64>(3)).unwrap_or(0),
            host: r.get(4),
            since: r.get(5),
        }))
    }

    async fn read_with(&self, client: &Client) -> Result<State, StateError> {
        Ok(self.read_stored(client).await?.0)
    }

    /// The state, and whether its lineage was stored (rather than made up for
    /// an empty state, or for one recorded only component by component so far).
    async fn read_stored(&self, client: &Client) -> Result<(State, bool), StateError> {
        let sql = format!("SELECT key, body::text FROM {} WHERE stack = $1", self.state_table);
        let rows = client.query(&sql, &[&self.stack]).await.map_err(self.err("reading state"))?;
        let location = self.location();
        let mut state = State::new()?;
        let mut lineage_stored = false;
        for row in rows {
            let key: String = row.get(0);
            let body: String = row.get(1);
            if key.is_empty() {
                #[derive(Deserialize)]
                struct Probe {
                    version: u32,
                }
                let parse = |source| StateError::Parse { location: location.clone(), source };
                let probe: Probe = serde_json::from_str(&body).map_err(parse)?;
                crate::model::check_version(probe.version, &location)?;
                let header: Header = serde_json::from_str(&body).map_err(parse)?;
                state.serial = header.serial;
                if !header.lineage.is_empty() {
                    state.lineage = header.lineage;
                    lineage_stored = true;
                }
            } else {
                let component: ComponentState = serde_json::from_str(&body).map_err(|source| {
                    StateError::Parse { location: format!("{location}, component {key}"), source }
                })?;
                state.components.insert(key, component);
            }
        }
        Ok((state, lineage_stored))
    }

    /// Runs `statements` in a transaction on the guard's session.
    async fn in_transaction(
        &self,
        guard: &LockGuard,
        action: &'static str,
        statements: &[(&str, &[&(dyn tokio_postgres::types::ToSql + Sync)])],
    ) -> Result<(), StateError> {
        let client = self.guard_client(guard)?;
        let lost = |e: tokio_postgres::Error| {
            if client.is_closed() {
                StateError::LockLost { location: self.location(), id: guard.info.id.clone() }
            } else {
                self.err(action)(e)
            }
        };
        client.batch_execute("BEGIN").await.map_err(lost)?;
        for (sql, params) in statements {
            if let Err(e) = client.execute(*sql, params).await {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(lost(e));
            }
        }
        client.batch_execute("COMMIT").await.map_err(lost)
    }

    fn guard_client<'g>(&self, guard: &'g LockGuard) -> Result<&'g Client, StateError> {
        guard.check_location(&self.location())?;
        match &guard.kind {
            GuardKind::Postgres { client } => Ok(client),
            GuardKind::Local(_) => Err(StateError::WrongGuard {
                location: self.location(),
                guard_location: guard.location.clone(),
            }),
        }
    }
}

impl StateBackend for PostgresBackend {
    fn location(&self) -> String {
        format!("postgres {} table {} stack {}", self.target, self.qualified, self.stack)
    }

    async fn state_key(&self) -> Result<StateKey, StateError> {
        let fresh = StateKey::generate()?;
        let insert = format!(
            "INSERT INTO {} (stack, key) VALUES ($1, $2) ON CONFLICT (stack) DO NOTHING",
            self.key_table
        );
        self.client
            .execute(&insert, &[&self.stack, &fresh.to_hex()])
            .await
            .map_err(self.err("storing the state key"))?;
        let select = format!("SELECT key FROM {} WHERE stack = $1", self.key_table);
        let row = self
            .client
            .query_one(&select, &[&self.stack])
            .await
            .map_err(self.err("reading the state key"))?;
        StateKey::from_hex(row.get(0), &self.location())
    }

    async fn lock(&self, holder: &LockInfo, timeout: Duration) -> Result<LockGuard, StateError> {
        let client = open(&self.conn).await?;
        let start = Instant::now();
        loop {
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&self.lock_key])
                .await
                .map_err(self.err("taking the lock"))?;
            if row.get::<_, bool>(0) {
                break;
            }
            if start.elapsed() >= timeout {
                return Err(StateError::Locked {
                    location: self.location(),
                    holder: self.holder(&self.client).await?.map(Box::new),
                    waited: start.elapsed(),
                    release: LockRelease::WhenSessionEnds,
                });
            }
            tokio::time::sleep(LOCK_POLL.min(timeout.saturating_sub(start.elapsed()))).await;
        }
        let record = format!(
            "INSERT INTO {} (stack, lock_id, holder, operation, pid, host, since, backend_pid)
             VALUES ($1, $2, $3, $4, $5, $6, $7, pg_backend_pid())
             ON CONFLICT (stack) DO UPDATE SET lock_id = EXCLUDED.lock_id, holder = EXCLUDED.holder,
               operation = EXCLUDED.operation, pid = EXCLUDED.pid, host = EXCLUDED.host,
               since = EXCLUDED.since, backend_pid = EXCLUDED.backend_pid",
            self.lock_table
        );
        client
            .execute(
                &record,
                &[
                    &self.stack,
                    &holder.id,
                    &holder.holder,
                    &holder.operation,
                    &i64::from(holder.pid),
                    &holder.host,
                    &holder.since,
                ],
            )
            .await
            .map_err(self.err("recording the lock holder"))?;
        let (stored, has_lineage) = self.read_stored(&client).await?;
        Ok(LockGuard {
            info: holder.clone(),
            location: self.location(),
            progress: tokio::sync::Mutex::new(Progress {
                serial: stored.serial,
                lineage: has_lineage.then_some(stored.lineage),
            }),
            kind: GuardKind::Postgres { client },
        })
    }

    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        self.holder(&self.client).await
    }

    async fn read(&self) -> Result<State, StateError> {
        self.read_with(&self.client).await
    }

    async fn write(&self, state: &State, guard: &LockGuard) -> Result<u64, StateError> {
        let mut progress = guard.progress.lock().await;
        if let Some(stored) = &progress.lineage
            && *stored != state.lineage
        {
            return Err(StateError::LineageMismatch {
                location: self.location(),
                stored: stored.clone(),
                given: state.lineage.clone(),
            });
        }
        let serial = progress.serial + 1;
        let encode = |source| StateError::Encode { location: self.location(), source };
        let header = serde_json::to_string(&Header {
            version: crate::STATE_VERSION,
            serial,
            lineage: state.lineage.clone(),
        })
        .map_err(encode)?;
        let components = serde_json::to_string(&state.components).map_err(encode)?;
        let delete = format!("DELETE FROM {} WHERE stack = $1", self.state_table);
        let insert = format!(
            "INSERT INTO {} (stack, key, body) SELECT $1, e.key, e.value FROM jsonb_each($2::text::jsonb) e",
            self.state_table
        );
        let head =
            format!("INSERT INTO {} (stack, key, body) VALUES ($1, '', $2::text::jsonb)", self.state_table);
        self.in_transaction(
            guard,
            "writing state",
            &[
                (&delete, &[&self.stack]),
                (&insert, &[&self.stack, &components]),
                (&head, &[&self.stack, &header]),
            ],
        )
        .await?;
        progress.serial = serial;
        progress.lineage = Some(state.lineage.clone());
        Ok(serial)
    }

    async fn write_component(
        &self,
        key: &str,
        component: Option<&ComponentState>,
        guard: &LockGuard,
    ) -> Result<u64, StateError> {
        if key.is_empty() {
            return Err(StateError::InvalidConfig { what: "empty component key".to_string() });
        }
        let mut progress = guard.progress.lock().await;
        let serial = progress.serial + 1;
        let serial_i64 = i64::try_from(serial).unwrap_or(i64::MAX);
        let version = i32::try_from(crate::STATE_VERSION).unwrap_or(i32::MAX);
        let head = format!(
            "INSERT INTO {} AS t (stack, key, body)
             VALUES ($1, '', jsonb_build_object('version', $2::int, 'serial', $3::bigint, 'lineage', ''))
             ON CONFLICT (stack, key) DO UPDATE SET body = t.body || jsonb_build_object('serial', $3::bigint)",
            self.state_table
        );
        let key = key.to_string();
        match component {
            Some(c) => {
                let body = serde_json::to_string(c)
                    .map_err(|source| StateError::Encode { location: self.location(), source })?;
                let upsert = format!(
                    "INSERT INTO {} (stack, key, body) VALUES ($1, $2, $3::text::jsonb)
                     ON CONFLICT (stack, key) DO UPDATE SET body = EXCLUDED.body",
                    self.state_table
                );
                self.in_transaction(
                    guard,
                    "recording a component",
                    &[(&upsert, &[&self.stack, &key, &body]), (&head, &[&self.stack, &version, &serial_i64])],
                )
                .await?;
            }
            None => {
                let delete = format!("DELETE FROM {} WHERE stack = $1 AND key = $2", self.state_table);
                self.in_transaction(
                    guard,
                    "removing a component",
                    &[(&delete, &[&self.stack, &key]), (&head, &[&self.stack, &version, &serial_i64])],
                )
                .await?;
            }
        }
        progress.serial = serial;
        Ok(serial)
    }

    async fn record_revision(
        &self,
        revision: &mut Revision,
        keep: usize,
        guard: &LockGuard,
    ) -> Result<u64, StateError> {
        let client = self.guard_client(guard)?;
        let environment = revision.head.environment.clone();
        // Under the state lock no other run records a revision of this stack.
        let last = format!(
            "SELECT coalesce(max(number), 0) FROM {} WHERE stack = $1 AND environment = $2",
            self.revisions_table
        );
        let row = client
            .query_one(&last, &[&self.stack, &environment])
            .await
            .map_err(self.err("reading revisions"))?;
        let number = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0) + 1;
        revision.head.number = number;
        let body = serde_json::to_string(revision)
            .map_err(|source| StateError::Encode { location: self.location(), source })?;
        let number_i64 = i64::try_from(number).unwrap_or(i64::MAX);
        let oldest_kept = number_i64 - i64::try_from(keep.max(1)).unwrap_or(i64::MAX) + 1;
        let insert = format!(
            "INSERT INTO {} (stack, environment, number, body) VALUES ($1, $2, $3, $4::text::jsonb)",
            self.revisions_table
        );
        let prune = format!(
            "DELETE FROM {} WHERE stack = $1 AND environment = $2 AND number < $3",
            self.revisions_table
        );
        self.in_transaction(
            guard,
            "recording a revision",
            &[
                (&insert, &[&self.stack, &environment, &number_i64, &body]),
                (&prune, &[&self.stack, &environment, &oldest_kept]),
            ],
        )
        .await?;
        Ok(number)
    }

    async fn revision_heads(&self) -> Result<Vec<RevisionHead>, StateError> {
        let sql = format!(
            "SELECT (body - 'components')::text FROM {} WHERE stack = $1 ORDER BY environment, number",
            self.revisions_table
        );
        let rows = self.client.query(&sql, &[&self.stack]).await.map_err(self.err("reading revisions"))?;
        let location = self.location();
        rows.iter().map(|r| RevisionHead::from_json(r.get::<_, &str>(0), &location)).collect()
    }

    async fn latest_revision(&self, environment: &str) -> Result<Option<Revision>, StateError> {
        let sql = format!(
            "SELECT body::text, number FROM {} WHERE stack = $1 AND environment = $2 \
             ORDER BY number DESC LIMIT 1",
            self.revisions_table
        );
        let row = self
            .client
            .query_opt(&sql, &[&self.stack, &environment])
            .await
            .map_err(self.err("reading the latest revision"))?;
        row.map(|r| {
            let location = format!("{}, revision {environment}/{}", self.location(), r.get::<_, i64>(1));
            Revision::from_json(r.get::<_, &str>(0), &location)
        })
        .transpose()
    }

    async fn revision(&self, environment: &str, number: u64) -> Result<Option<Revision>, StateError> {
        let sql = format!(
            "SELECT body::text FROM {} WHERE stack = $1 AND environment = $2 AND number = $3",
            self.revisions_table
        );
        let number = i64::try_from(number).unwrap_or(i64::MAX);
        let row = self
            .client
            .query_opt(&sql, &[&self.stack, &environment, &number])
            .await
            .map_err(self.err("reading a revision"))?;
        let location = format!("{}, revision {environment}/{number}", self.location());
        row.map(|r| Revision::from_json(r.get::<_, &str>(0), &location)).transpose()
    }

    async fn unlock(&self, guard: LockGuard) -> Result<(), StateError> {
        let client = self.guard_client(&guard)?;
        let sql = format!("DELETE FROM {} WHERE stack = $1 AND lock_id = $2", self.lock_table);
        client.execute(&sql, &[&self.stack, &guard.info.id]).await.map_err(self.err("releasing the lock"))?;
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.lock_key])
            .await
            .map_err(self.err("releasing the lock"))?;
        Ok(())
    }

    async fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        let sql = format!("SELECT backend_pid FROM {} WHERE stack = $1 AND lock_id = $2", self.lock_table);
        let Some(row) = self
            .client
            .query_opt(&sql, &[&self.stack, &lock_id])
            .await
            .map_err(self.err("reading the lock"))?
        else {
            return Err(StateError::LockNotFound {
                location: self.location(),
                id: lock_id.to_string(),
                current: self.holder(&self.client).await?.map(Box::new),
            });
        };
        let backend_pid: i32 = row.get(0);
        // End the holding session only if it still holds this stack's lock: the
        // server may have reused the process id for someone else.
        let (hi, lo) = ((self.lock_key >> 32) & 0xffff_ffff, self.lock_key & 0xffff_ffff);
        self.client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks
                  WHERE pid = $1 AND locktype = 'advisory' AND granted
                    AND classid::bigint = $2 AND objid::bigint = $3 AND objsubid = 1",
                &[&backend_pid, &hi, &lo],
            )
            .await
            .map_err(self.err("ending the lock holder's session"))?;
        let delete = format!("DELETE FROM {} WHERE stack = $1 AND lock_id = $2", self.lock_table);
        self.client
            .execute(&delete, &[&self.stack, &lock_id])
            .await
            .map_err(self.err("removing the lock"))?;
        Ok(())
    }
}
