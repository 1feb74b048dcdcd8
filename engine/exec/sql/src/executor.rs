//! Running one effect's ops in order, with one session per database.

use std::collections::HashMap;

use capstan_core::{Effect, EffectKind, EffectResult, EffectSummary, SqlOp};
use tokio_postgres::Client;

use crate::{SqlConnection, SqlError, ops};

/// Carries out SQL effects on one operator-configured connection.
#[derive(Clone, Debug)]
pub struct SqlExecutor {
    connection: SqlConnection,
}

/// Sessions opened during one effect, by database (`None` = the URL's own).
pub(crate) struct Sessions<'a> {
    connection: &'a SqlConnection,
    clients: HashMap<Option<String>, Client>,
}

impl Sessions<'_> {
    pub(crate) async fn get(&mut self, database: Option<&str>) -> Result<&Client, SqlError> {
        let key = database.map(str::to_string);
        if !self.clients.contains_key(&key) {
            let client = self.connection.open(database).await?;
            self.clients.insert(key.clone(), client);
        }
        // Present: inserted just above if it was missing.
        self.clients.get(&key).ok_or_else(|| SqlError::Connect {
            target: self.connection.target(),
            message: "session vanished".to_string(),
        })
    }

    pub(crate) fn target(&self, database: Option<&str>) -> String {
        database.map_or_else(|| self.connection.target(), |db| self.connection.target_in(db))
    }
}

impl SqlExecutor {
    /// An executor for `connection`; sessions are opened per effect, not here.
    pub fn new(connection: SqlConnection) -> Self {
        Self { connection }
    }

    /// The connection this executor serves.
    pub fn connection(&self) -> &SqlConnection {
        &self.connection
    }

    /// Runs `ops` in order, stopping at the first failure. `effect_id` is for
    /// messages.
    pub async fn run(&self, effect_id: &str, ops: &[SqlOp]) -> Result<EffectSummary, SqlError> {
        let mut sessions = Sessions { connection: &self.connection, clients: HashMap::new() };
        let mut outcomes = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            outcomes.push(ops::run(&mut sessions, effect_id, index, op).await?);
        }
        Ok(EffectSummary { target: self.connection.target(), ops: outcomes })
    }

    /// Runs one declared effect; it must be a SQL effect for this connection.
    pub async fn apply(&self, effect: &Effect) -> Result<EffectResult, SqlError> {
        let ops = match &effect.kind {
            EffectKind::Sql(ops) => ops,
            other => return Err(SqlError::NotSql { effect: effect.id.clone(), kind: other.name() }),
        };
        if effect.target != self.connection.name() {
            return Err(SqlError::WrongTarget {
                effect: effect.id.clone(),
                wanted: effect.target.clone(),
                serves: self.connection.name().to_string(),
            });
        }
        let summary = self.run(&effect.id, ops).await?;
        Ok(EffectResult { id: effect.id.clone(), body: summary.to_json() })
    }
}
