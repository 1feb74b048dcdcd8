//! The SQL effects executor: carries out the `SqlOp`s a plugin declared, on a
//! PostgreSQL server the operator configured.
//!
//! The plugin never sees the connection: it names a connection (`Effect::target`)
//! and says what must exist. The operator's config maps that name to a URL with
//! credentials; this crate connects with them and makes the server match:
//! - `ensure-role`: create the role if missing, fix its LOGIN flag, set or
//!   rotate its password only when it differs;
//! - `ensure-database`: create it with its owner, or fix the owner;
//! - `grant`: grant the database privileges the role lacks;
//! - `ensure-extension`: create the extension in that database;
//! - `statement`: run a statement the plugin vouches is idempotent.
//!
//! Each op checks before it changes anything and reports `created`, `changed`,
//! `unchanged` or `executed` (a [`capstan_core::OpOutcome`]), so a second
//! apply of the same plan changes nothing and says so. Two runs ensuring the
//! same object at once take turns on a session advisory lock named after it,
//! and a create that someone else wins converges on what the winner made
//! (see `ops.rs`).
//!
//! Passwords never leave this crate in clear except towards the server, and not
//! even there as text: a role's password is sent as a SCRAM-SHA-256 verifier
//! computed here (as `psql`'s `\password` does), so statement logging on the
//! server cannot capture it; that statement, and every sensitive statement,
//! runs with the session's statement logging turned off (see `quiet.rs` for
//! what a role that is not a superuser can turn off). Errors name the effect, the op and the server
//! (`host:port/db`), never a password or the connection URL.
//!
//! Connections follow libpq's `sslmode` (`disable`, `prefer` — the default —,
//! `require`, `verify-ca`, `verify-full`) and `sslrootcert`, over rustls with
//! the ring provider; see `tls.rs`.
//!
//! This crate does not decide whether an effect needs to run (the planner
//! compares effect digests in state), does not revoke privileges or drop
//! anything, and speaks only PostgreSQL.

mod blocking;
mod connection;
mod error;
mod executor;
mod ops;
mod quiet;
mod quote;
mod scram;
mod tls;

pub use blocking::BlockingSqlExecutor;
pub use connection::{ServerInfo, SqlConnection, Timeouts};
pub use error::SqlError;
pub use executor::SqlExecutor;
pub use quote::{quote_ident, quote_literal};
pub use scram::{scram_verifier, verifier_matches};
