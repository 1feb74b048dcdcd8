//! Server-side statement logging, off while a statement carrying a secret
//! runs.
//!
//! PostgreSQL writes a statement's text to its log when `log_statement`
//! covers it (`ddl`, `mod`, `all`), when it runs longer than
//! `log_min_duration_statement`, and when it fails at or above
//! `log_min_error_statement` (`error` by default: every failed statement is
//! logged with its text); the error itself, logged at or above
//! `log_min_messages`, may quote it too ("syntax error at or near …"). A
//! sensitive statement, or a role's password verifier, must not land there,
//! so the session turns all four off just before it and restores them just
//! after (other ops of the effect stay in the operator's audit log).
//!
//! All four are superuser settings. A role that is not a superuser may set
//! them only when granted `SET` on them (PostgreSQL 15: `GRANT SET ON
//! PARAMETER log_statement, log_min_duration_statement,
//! log_min_error_statement, log_min_messages TO …`). Each is set on its own, so those the role
//! may set are off whatever the others do; the ones it may not are reported
//! (the statement still runs: a server's own defaults log no statement text
//! except a failed one's, and refusing every sensitive statement would
//! refuse every managed server). Not covered: extensions that keep statement
//! text (`pg_stat_statements` keeps utility statements' text, `pgaudit`),
//! and settings a superuser forces per role or database after connect.

use tokio_postgres::Client;

/// SQLSTATE insufficient_privilege: the role may not set the parameter.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// Each setting that can write a statement's text to the server log, and
/// the value that stops it.
const SETTINGS: [(&str, &str); 4] = [
    ("log_statement", "none"),
    ("log_min_duration_statement", "-1"),
    ("log_min_error_statement", "panic"),
    ("log_min_messages", "panic"),
];

/// Logging turned off on one session; [`Quiet::restore`] turns it back on.
pub(crate) struct Quiet {
    set: Vec<&'static str>,
    refused: Vec<&'static str>,
}

impl Quiet {
    /// Turns off every setting the session's role may set.
    pub(crate) async fn start(client: &Client) -> Result<Self, tokio_postgres::Error> {
        let mut quiet = Self { set: Vec::new(), refused: Vec::new() };
        for (name, value) in SETTINGS {
            match client.batch_execute(&format!("SET {name} = {value}")).await {
                Ok(()) => quiet.set.push(name),
                Err(e) if e.code().map(|c| c.code()) == Some(INSUFFICIENT_PRIVILEGE) => {
                    quiet.refused.push(name)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(quiet)
    }

    /// Gives the session back its own settings (those it was connected
    /// with). Runs after the statement whether or not it succeeded.
    pub(crate) async fn restore(self, client: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
        let reset: String = self.set.iter().map(|name| format!("RESET {name};")).collect();
        if !reset.is_empty() {
            client.batch_execute(&reset).await?;
        }
        Ok(self.note().into_iter().collect())
    }

    /// What the op's outcome says when some setting stayed on.
    fn note(&self) -> Option<String> {
        (!self.refused.is_empty()).then(|| {
            format!(
                "server statement logging left as configured for {} (the role may not set {}; \
                 GRANT SET ON PARAMETER to it, or make it a superuser)",
                self.refused.join(", "),
                if self.refused.len() == 1 { "it" } else { "them" }
            )
        })
    }
}
