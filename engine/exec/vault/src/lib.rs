//! The Vault effects executor: carries out the `VaultOp`s a plugin declared
//! on a Vault or OpenBao server the operator configured, over its HTTP API
//! (`/v1/…`) with the operator's token.
//!
//! The plugin never sees the server's address or the token: it names a
//! connection (`Effect::target`, granted as `vault:<connection>`) and says
//! what must exist. This crate makes the server match, each op looking
//! first and reporting `created`, `changed` (with what, in words) or
//! `unchanged` (a [`capstan_core::OpOutcome`]), so a second apply of the
//! same plan sends nothing and says so:
//! - `ensure-mount`: mount a secrets engine (`kv-v2` is `kv` with
//!   `options.version = 2`), or tune its description and max lease TTL where
//!   they differ (the server reports the TTL in seconds; `87600h` is
//!   compared as 315360000). A path holding another engine is an error:
//!   remounting would lose what the engine holds.
//! - `ensure-auth`: enable an auth method, or tune its description; a path
//!   holding another method is an error.
//! - `ensure-policy`: write an ACL policy whose rules are missing or differ
//!   (differences of whitespace only are none).
//! - `ensure-config`: write a configuration object (an auth method's role, a
//!   PKI role, a database connection) when it is missing or a field read
//!   back differs. Values compare as the server reads them back: durations
//!   as seconds (`1h` is 3600), comma-separated strings and single values as
//!   lists (compared as sets), `"true"` as `true` (see `compare`). A
//!   declared field the server never reads back (a password) cannot be
//!   compared, so the object is sent on every run, as the contract says;
//!   when that is all that was sent, the outcome is `executed` with the
//!   change `write-only fields re-sent: password`, because whether the
//!   server's value changed cannot be told — the honest report, as for a
//!   plain SQL statement. A path that takes writes only (its read answers
//!   405) is written on every run, `executed` too. When the data is
//!   sensitive, changes name fields, never values.
//! - `ensure-pki-root`: generate a root CA inside a PKI mount (its key never
//!   leaves the server) unless the mount has a CA already; a root is never
//!   regenerated, as that would void every certificate issued under it.
//! - `ensure-pki-intermediate`: unless the mount has a CA already (never
//!   regenerated, for the same reason), generate a key and CSR inside it,
//!   have the CA of the issuer mount sign it (`root/sign-intermediate`,
//!   with the issuer's chain) and set the signed certificate as the
//!   mount's CA. An issuer mount without a CA is an error before any key is
//!   made.
//! - `prune`: delete what `LIST path` names, among the names starting with
//!   the prefix, that the op does not keep — one `changed` outcome for the
//!   path, with a `deleted <name>` change per name. The policies `root` and
//!   `default` are never deleted.
//!
//! [`VaultExecutor::check`] runs the same reads and no write: what on the
//! server differs from the effect, one line per difference, for the
//! planner to show drift of effects that already ran.
//!
//! Requests are blocking (the caller runs effects on worker threads; do not
//! call from inside an async runtime), bounded by a timeout each
//! ([`DEFAULT_TIMEOUT`]). Errors name the effect, the op and the server
//! (`name (http://host:port)`), and carry the server's own message; never
//! the token, never a value of a sensitive configuration (a server's
//! message that quotes one has it replaced by `(sensitive)`).
//!
//! This crate does not decide whether an effect needs to run (the planner
//! compares effect digests in state), does not read or write secrets' data
//! (the secrets crate reads KV), does not unmount engines or disable auth
//! methods, and does not log in: the token is the operator's.
//!
//! With the feature `testing`, `testing::Bao` starts a real OpenBao dev
//! server for tests (this crate's and those of crates that drive it).

#![warn(missing_docs)]

mod api;
mod compare;
mod connection;
mod error;
mod executor;
mod ops;
#[cfg(feature = "testing")]
pub mod testing;

pub use api::Method;
pub use connection::VaultConnection;
pub use error::VaultError;
pub use executor::{DEFAULT_TIMEOUT, VaultExecutor};
