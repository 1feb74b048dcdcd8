use capstan_core::{EffectSummary, Outcome, Sensitive, SqlDatabase, SqlExtension, SqlGrant, SqlOp, SqlRole};
use tokio_postgres::{Client, NoTls};

pub fn suffix() -> String {
    let mut b = [0u8; 5];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// The flow of the `external` postgres plugin for one app: its role with a
/// password, its database owned by it, privileges, an extension.
pub fn app_ops(role: &str, db: &str, password: &str) -> Vec<SqlOp> {
    vec![
        SqlOp::EnsureRole(SqlRole {
            name: role.into(),
            password: Some(Sensitive::new(password)),
            login: true,
        }),
        SqlOp::EnsureDatabase(SqlDatabase { name: db.into(), owner: role.into() }),
        SqlOp::Grant(SqlGrant { privileges: vec!["ALL".into()], database: db.into(), role: role.into() }),
        SqlOp::EnsureExtension(SqlExtension { name: "pgcrypto".into(), database: db.into() }),
    ]
}

pub fn outcomes(summary: &EffectSummary) -> Vec<Outcome> {
    summary.ops.iter().map(|o| o.outcome).collect()
}

/// Drops what a test created; runs even after a failed assertion via Drop.
pub struct Cleanup {
    pub admin_url: String,
    pub databases: Vec<String>,
    pub roles: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // One statement per query: DROP DATABASE cannot run inside the implicit
        // transaction of a multi-statement query.
        let mut statements = Vec::new();
        for d in &self.databases {
            statements.push(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", capstan_sql::quote_ident(d)));
        }
        for r in &self.roles {
            statements.push(format!("DROP ROLE IF EXISTS {}", capstan_sql::quote_ident(r)));
        }
        let url = self.admin_url.clone();
        // Drop runs inside the test's runtime: clean up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let c = connect(&url).await.unwrap();
                for sql in statements {
                    if let Err(e) = c.batch_execute(&sql).await {
                        eprintln!("cleanup `{sql}` failed: {}", pg_message(e));
                    }
                }
            });
        })
        .join();
    }
}

/// The server's message (tokio-postgres displays a server error as just "db error").
pub fn pg_message(e: tokio_postgres::Error) -> String {
    e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string())
}
