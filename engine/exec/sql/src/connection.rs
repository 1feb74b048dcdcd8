//! The operator's connection: parsed once, described without its password,
//! opened per database an op needs.

use std::time::Duration;

use capstan_core::Sensitive;
use tokio_postgres::Client;
use tokio_postgres::config::Host;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::SqlError;
use crate::error::describe;
use crate::tls;

/// A named PostgreSQL connection from the operator's config (`client.hcl`).
#[derive(Clone)]
pub struct SqlConnection {
    name: String,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    timeouts: Timeouts,
}

/// How long a session may wait, so a hung or overloaded server fails a run
/// with a clear error instead of holding it (and the state lock) forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From opening the socket to a ready session (TLS and login included).
    pub connect: Duration,
    /// One statement, enforced by the server (`statement_timeout`).
    pub statement: Duration,
    /// Waiting for a lock on a table or row (`lock_timeout`).
    pub lock: Duration,
}

impl Default for Timeouts {
    /// A login takes milliseconds; an effect's DDL seconds at most; waiting
    /// on another session's lock longer than this means something is stuck.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            statement: Duration::from_secs(120),
            lock: Duration::from_secs(30),
        }
    }
}

/// What [`SqlConnection::probe`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    /// `server_version`, such as `15.20 (Debian 15.20-0+deb12u1)`.
    pub version: String,
    /// Whether the session is encrypted.
    pub tls: bool,
}

impl std::fmt::Debug for SqlConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlConnection").field("name", &self.name).field("target", &self.target()).finish()
    }
}

impl SqlConnection {
    /// `url` is `postgres://user:password@host:port/db?…` or a key=value
    /// string. TLS follows libpq's `sslmode` (`disable`, `prefer` (default),
    /// `require`, `verify-ca`, `verify-full`) and `sslrootcert` (a PEM file;
    /// the Mozilla roots when absent).
    pub fn from_url(name: impl Into<String>, url: &Sensitive) -> Result<Self, SqlError> {
        let name = name.into();
        let (rest, options) = tls::split_tls_options(url.expose());
        // The parser's error could quote the URL: report only which connection.
        let mut config: tokio_postgres::Config =
            rest.parse().map_err(|_| SqlError::InvalidUrl { connection: name.clone() })?;
        let (mode, verify) = tls::resolve(config.get_ssl_mode(), &options);
        config.ssl_mode(mode);
        let tls = tls::connector(&name, verify, options.root_cert.as_deref())?;
        Ok(Self { name, config, tls, timeouts: Timeouts::default() })
    }

    /// The same connection with other timeouts.
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The timeouts its sessions run under.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The connection's name in the operator's config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `name (host:port/db)`, for messages.
    pub fn target(&self) -> String {
        self.target_in(self.default_database())
    }

    pub(crate) fn target_in(&self, database: &str) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_string(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{} ({host}:{port}/{database})", self.name)
    }

    pub(crate) fn default_database(&self) -> &str {
        self.config.get_dbname().or(self.config.get_user()).unwrap_or("postgres")
    }

    /// Connects once and reports the server version and whether TLS is on:
    /// a cheap check before a plan relies on the connection.
    pub async fn probe(&self) -> Result<ServerInfo, SqlError> {
        let client = self.open(None).await?;
        let row = client
            .query_one(
                "SELECT current_setting('server_version'),
                        COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
                &[],
            )
            .await
            .map_err(|e| SqlError::Connect { target: self.target(), message: describe(&e) })?;
        Ok(ServerInfo { version: row.get(0), tls: row.get(1) })
    }

    /// Opens a session on `database` (`None`: the URL's database), with the
    /// connection's TLS settings. Also used by the PostgreSQL state backend.
    pub async fn open(&self, database: Option<&str>) -> Result<Client, SqlError> {
        let mut config = self.config.clone();
        if let Some(db) = database {
            config.dbname(db);
        }
        config.application_name("capstan");
        // Server-side limits for every statement of the session; the
        // operator's own `options` in the URL come first, these after.
        let limits = format!(
            "-c statement_timeout={} -c lock_timeout={}",
            self.timeouts.statement.as_millis(),
            self.timeouts.lock.as_millis()
        );
        let options = match config.get_options() {
            Some(own) if !own.is_empty() => format!("{own} {limits}"),
            _ => limits,
        };
        config.options(&options);
        config.connect_timeout(self.timeouts.connect);
        // A peer that vanished (network cut) is noticed, not waited on.
        config.keepalives(true).keepalives_idle(Duration::from_secs(30));
        let target = self.target_in(database.unwrap_or(self.default_database()));
        // `connect_timeout` covers the TCP connect only; a server that
        // accepts and never answers is bounded here.
        let connecting = tokio::time::timeout(self.timeouts.connect, config.connect(self.tls.clone()));
        let (client, connection) = match connecting.await {
            Ok(connected) => connected.map_err(|e| SqlError::Connect { target, message: describe(&e) })?,
            Err(_) => {
                return Err(SqlError::Connect {
                    target,
                    message: format!("no ready session within {:?} (connect timeout)", self.timeouts.connect),
                });
            }
        };
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "SQL effects connection ended");
            }
        });
        Ok(client)
    }
}
