//! Integration tests of the Vault effects executor against a real OpenBao
//! dev server (`capstan_vault::testing::Bao`, shared by the tests running
//! at the same time; each test uses mount paths and names of its own).
//!
//! - `mounts`: secrets engines and auth methods are created, then left
//!   alone; a description and max lease TTL tuned by hand are put back; a
//!   path holding another engine or method is refused and left as it is.
//! - `policies`: a policy is created, then unchanged (also when only its
//!   whitespace differs); one changed by hand is reported by `check` and
//!   restored by `apply`.
//! - `configs`: a role is written, then unchanged though the server reads
//!   its values back in other spellings; a field changed by hand is
//!   reported and corrected; a sensitive user with a password logs in,
//!   and the password is in no result, error or `Debug`.
//! - `pki`: a PKI mount, its root and a role issue a certificate for a
//!   name inside the role's domain and are refused one outside; the root
//!   is never regenerated. An intermediate signed by the root issues
//!   certificates `openssl verify` chains to the root, and is never
//!   regenerated either; one whose issuer has no CA is refused before a
//!   key is made.
//! - `prune`: exactly the undeclared names with the prefix are deleted,
//!   never `default` or `root`.
//! - `errors`: effects for another connection or of another kind are
//!   refused before any request; a wrong token is denied and an
//!   unreachable or silent server named, without the token.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod configs;
mod errors;
mod mounts;
mod pki;
mod policies;
mod prune;
mod support;
