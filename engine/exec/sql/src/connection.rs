//! The operator's connection: parsed once, described without its password,
//! opened per database an op needs.

use capstan_core::Sensitive;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls};

use crate::SqlError;
use crate::error::describe;

/// A named PostgreSQL connection from the operator's config (`client.hcl`).
#[derive(Clone)]
pub struct SqlConnection {
    name: String,
    config: tokio_postgres::Config,
}

impl std::fmt::Debug for SqlConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlConnection").field("name", &self.name).field("target", &self.target()).finish()
    }
}

impl SqlConnection {
    /// `url` is `postgres://user:password@host:port/db?…` or a key=value string.
    pub fn from_url(name: impl Into<String>, url: &Sensitive) -> Result<Self, SqlError> {
        let name = name.into();
        // The parser's error could quote the URL: report only which connection.
        let config: tokio_postgres::Config =
            url.expose().parse().map_err(|_| SqlError::InvalidUrl { connection: name.clone() })?;
        // Only plain connections are built in; refuse rather than silently
        // downgrade what the operator asked to be encrypted.
        match config.get_ssl_mode() {
            SslMode::Require => return Err(SqlError::TlsUnsupported { connection: name, mode: "require" }),
            SslMode::Disable | SslMode::Prefer => {}
            _ => return Err(SqlError::TlsUnsupported { connection: name, mode: "verify" }),
        }
        Ok(Self { name, config })
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

    /// Opens a session on `database` (`None`: the URL's database).
    pub(crate) async fn open(&self, database: Option<&str>) -> Result<Client, SqlError> {
        let mut config = self.config.clone();
        if let Some(db) = database {
            config.dbname(db);
        }
        config.application_name("capstan");
        let target = self.target_in(database.unwrap_or(self.default_database()));
        let (client, connection) =
            config.connect(NoTls).await.map_err(|e| SqlError::Connect { target, message: describe(&e) })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "SQL effects connection ended");
            }
        });
        Ok(client)
    }
}
