//! The server's datastore: SPIRE's `sql` plugin on the `postgres`
//! dependency the `postgres` input names.
//!
//! The database and role are the ones the postgres component made for this
//! component (its outputs' `databases.<this component>`, the contract's
//! per-app access). The connection string holds no password: the server
//! container reads it from the Secret the outputs name into `PGPASSWORD`,
//! which lib/pq (SPIRE's PostgreSQL driver) reads whenever the connection
//! string has no `password`. SPIRE's `-expandEnv` could paste it into the
//! string instead, but that would put an arbitrary password, unquoted, into
//! both the HCL file and libpq's `key=value` syntax, where a `"`, `'`, `\`
//! or space breaks one or the other; `PGPASSWORD` takes any value as it is.
//! With `verify-ca`/`verify-full`, the CA the outputs name is mounted and
//! given as `sslrootcert`.

use capstan_sdk::contracts::postgres::{self, SslMode};
use capstan_sdk::contracts::{self, SecretKeyRef};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

/// The environment variable lib/pq reads the password from.
pub const PASSWORD_ENV: &str = "PGPASSWORD";
/// Where the server container finds the CA of the PostgreSQL server.
pub const CA_DIR: &str = "/run/spire/postgres-ca";
/// The pod volume holding it.
pub const CA_VOLUME: &str = "postgres-ca";

/// What the server needs to reach its datastore.
#[derive(Debug)]
pub struct Datastore {
    /// SPIRE's `connection_string`: libpq `key=value` pairs, no password.
    pub connection_string: String,
    /// The Secret key holding the role's password, for [`PASSWORD_ENV`].
    pub password: SecretKeyRef,
    /// The CA's Secret key, mounted at [`CA_DIR`] when the connection verifies the server.
    pub ca: Option<SecretKeyRef>,
    /// What the plan should say (the component has no database of its own).
    pub warnings: Vec<Diagnostic>,
}

impl Datastore {
    /// The pod volume of the CA, when there is one.
    pub fn ca_volume(&self) -> Option<Value> {
        self.ca.as_ref().map(|ca| {
            json!({
                "name": CA_VOLUME,
                "secret": { "secretName": ca.name, "items": [{ "key": ca.key, "path": "ca.crt" }] },
            })
        })
    }
}

/// The datastore on the dependency named `name` (the `postgres` input).
pub fn resolve(req: &PlanRequest, name: &str) -> Result<Datastore, PlanError> {
    let c = &req.component;
    let Some(dep) = req.dependencies.iter().find(|d| d.name == name) else {
        let others: Vec<&str> = req
            .dependencies
            .iter()
            .filter(|d| d.component_type == postgres::Outputs::COMPONENT_TYPE)
            .map(|d| d.name.as_str())
            .collect();
        let hint = match others.as_slice() {
            [] => format!(
                "add `dependency \"{name}\" {{ config_path = \"…\" }}` naming the postgres component whose \
                 `apps` include `{}`",
                c.name
            ),
            [one] => format!("the postgres dependency is named `{one}`: set `postgres = \"{one}\"`"),
            many => format!("set `postgres` to one of `{}`", many.join("`, `")),
        };
        return Err(PlanError::InvalidInputs(vec![Diagnostic::error(
            "/postgres",
            format!(
                "the SPIRE server keeps its datastore on dependency `{name}`, which this component does not have: {hint}"
            ),
        )]));
    };
    if dep.component_type != postgres::Outputs::COMPONENT_TYPE {
        return Err(PlanError::InvalidInputs(vec![Diagnostic::error(
            "/postgres",
            format!(
                "dependency `{name}` is a `{}` component; the datastore needs a `postgres` one",
                dep.component_type
            ),
        )]));
    }
    let pg = contracts::read::<postgres::Outputs>(dep)?;
    let mut warnings = Vec::new();
    if !pg.databases.contains_key(&c.name) {
        warnings.push(Diagnostic::warning(
            "/postgres",
            format!(
                "dependency `{name}` lists no database for `{}`: the server uses its default database `{}` as \
                 `{}`, which other apps may use too; add `apps.{}` to the postgres component to give SPIRE \
                 a database and role of its own",
                c.name, pg.database, pg.user, c.name
            ),
        ));
    }
    let access = pg.access_for(&c.name);
    secret_is_local(c, name, &access.password_secret)?;

    let mut parts = vec![
        format!("host={}", libpq_value(&pg.host)),
        format!("port={}", pg.port),
        format!("dbname={}", libpq_value(&access.database)),
        format!("user={}", libpq_value(&access.user)),
    ];
    if let Some(mode) = pg.sslmode {
        parts.push(format!("sslmode={}", mode.as_str()));
    }
    let ca = match (&pg.ca_secret, pg.sslmode) {
        (Some(ca), Some(mode)) if mode.verifies() => {
            secret_is_local(c, name, ca)?;
            parts.push(format!("sslrootcert={CA_DIR}/ca.crt"));
            Some(ca.clone())
        }
        (None, Some(mode @ (SslMode::VerifyCa | SslMode::VerifyFull))) => {
            warnings.push(Diagnostic::warning(
                "/postgres",
                format!(
                    "dependency `{name}` asks for sslmode={} but names no CA: the server's certificate is \
                     checked against the system's roots",
                    mode.as_str()
                ),
            ));
            None
        }
        _ => None,
    };
    parts.push("connect_timeout=10".to_owned());
    Ok(Datastore { connection_string: parts.join(" "), password: access.password_secret, ca, warnings })
}

/// A pod reads Secrets of its own namespace only.
fn secret_is_local(c: &ComponentId, dep: &str, secret: &SecretKeyRef) -> Result<(), PlanError> {
    match secret.namespace.as_deref() {
        Some(ns) if ns != c.namespace => Err(PlanError::MissingDependency(format!(
            "dependency `{dep}` keeps Secret `{ns}/{}`, but the SPIRE server runs in `{}` and a pod reads \
             Secrets of its own namespace only; put the postgres component in `{}` or the Secret there",
            secret.name, c.namespace, c.namespace
        ))),
        _ => Ok(()),
    }
}

/// A libpq connection-string value: as it is when plain, else single-quoted
/// with `\` and `'` escaped.
pub fn libpq_value(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/'));
    if plain { v.to_owned() } else { format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_values_are_quoted_only_when_they_must_be() {
        assert_eq!(libpq_value("db-rw.data.svc"), "db-rw.data.svc");
        assert_eq!(libpq_value("my db"), "'my db'");
        assert_eq!(libpq_value(r"o'b\x"), r"'o\'b\\x'");
        assert_eq!(libpq_value(""), "''");
    }
}
