//! One function per op kind: look, then change only what differs.
//!
//! Two runs may ensure the same object at once (parallel applies of two
//! stacks that share a role, a retried CI job beside the first one). Each
//! op's look-then-change holds a session advisory lock named after the
//! object, so Capstan's own executors take turns and the second one finds
//! what the first made. Anyone else may still create the object between
//! our look and our create: a create that loses that race (the server says
//! the object exists) looks again and converges on what the winner made,
//! instead of failing the effect.

use std::collections::BTreeSet;
use std::future::Future;

use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use capstan_core::{
    OpOutcome, Outcome, SqlDatabase, SqlExtension, SqlGrant, SqlOp, SqlRole, SqlStatement, Text,
};

use crate::error::describe;
use crate::executor::Sessions;
use crate::quiet::Quiet;
use crate::{SqlError, quote_ident, quote_literal, scram_verifier, verifier_matches};

/// SQLSTATE insufficient_privilege: a non-superuser cannot read `pg_authid`.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

struct Ctx<'e> {
    effect: &'e str,
    op: String,
    target: String,
}

impl Ctx<'_> {
    fn failed(&self, err: &tokio_postgres::Error) -> SqlError {
        SqlError::Op {
            effect: self.effect.to_string(),
            op: self.op.clone(),
            target: self.target.clone(),
            message: describe(err),
        }
    }

    fn invalid(&self, why: impl Into<String>) -> SqlError {
        SqlError::InvalidOp { effect: self.effect.to_string(), op: self.op.clone(), why: why.into() }
    }

    /// A sensitive statement failed. The server's message may quote it
    /// ("syntax error at or near …"): keep only the error code.
    fn hidden(&self, err: &tokio_postgres::Error) -> SqlError {
        SqlError::Op {
            effect: self.effect.to_string(),
            op: self.op.clone(),
            target: self.target.clone(),
            message: format!(
                "the sensitive statement failed (SQLSTATE {}; the server's message is hidden as it may quote it)",
                err.code().map_or("unknown", |c| c.code())
            ),
        }
    }

    /// Runs `sql`, which carries a secret, with the session's statement
    /// logging off (see [`Quiet`]); gives what could not be turned off.
    async fn quietly(&self, client: &Client, sql: &str, hide_message: bool) -> Result<Vec<String>, SqlError> {
        let (ran, notes) = self.quietly_raw(client, sql).await?;
        ran.map_err(|e| if hide_message { self.hidden(&e) } else { self.failed(&e) })?;
        Ok(notes)
    }

    /// [`Self::quietly`], giving the statement's own result for the caller
    /// to judge (a create another session won is not a failure).
    async fn quietly_raw(
        &self,
        client: &Client,
        sql: &str,
    ) -> Result<(Result<(), tokio_postgres::Error>, Vec<String>), SqlError> {
        let quiet = Quiet::start(client).await.map_err(|e| self.failed(&e))?;
        let ran = client.batch_execute(sql).await;
        let notes = quiet.restore(client).await.map_err(|e| self.failed(&e))?;
        Ok((ran, notes))
    }
}

/// Whether `err` says the object a create was making exists already: made by
/// another session between our look and our create. `CREATE ROLE` and
/// `CREATE EXTENSION` that find the other's row committed say
/// duplicate_object (42710) or duplicate_database (42P04); ones that waited
/// for the other's transaction hit the catalog's unique index (23505).
fn lost_race(err: &tokio_postgres::Error) -> bool {
    err.code().is_some_and(|c| {
        *c == SqlState::DUPLICATE_OBJECT
            || *c == SqlState::DUPLICATE_DATABASE
            || *c == SqlState::UNIQUE_VIOLATION
    })
}

/// The advisory lock key of one object: a hash, so any name fits in the
/// 64-bit key, prefixed so it cannot collide with the state backend's keys.
fn advisory_key(kind: &str, name: &str) -> i64 {
    let digest = Sha256::digest(format!("capstan-sql\0{kind}\0{name}"));
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Runs `body` holding the advisory lock of `(kind, name)` on `client`'s
/// session. A session lock, not a transaction one: `CREATE DATABASE` cannot
/// run in a transaction. Waiting for it is bounded by the session's
/// `lock_timeout`; a session that dies frees it.
async fn serialised<T>(
    client: &Client,
    ctx: &Ctx<'_>,
    kind: &str,
    name: &str,
    body: impl Future<Output = Result<T, SqlError>>,
) -> Result<T, SqlError> {
    let key = advisory_key(kind, name);
    client.execute("SELECT pg_advisory_lock($1)", &[&key]).await.map_err(|e| ctx.failed(&e))?;
    let result = body.await;
    // Released whatever the body did; the body's error comes first.
    let released = client.execute("SELECT pg_advisory_unlock($1)", &[&key]).await;
    let value = result?;
    released.map_err(|e| ctx.failed(&e))?;
    Ok(value)
}

pub(crate) async fn run(
    sessions: &mut Sessions<'_>,
    effect: &str,
    index: usize,
    op: &SqlOp,
) -> Result<OpOutcome, SqlError> {
    match op {
        SqlOp::EnsureRole(r) => ensure_role(sessions, effect, r).await,
        SqlOp::EnsureDatabase(d) => ensure_database(sessions, effect, d).await,
        SqlOp::Grant(g) => grant(sessions, effect, g).await,
        SqlOp::EnsureExtension(e) => ensure_extension(sessions, effect, e).await,
        SqlOp::Statement(s) => statement(sessions, effect, index, s).await,
    }
}

fn non_empty(ctx: &Ctx<'_>, what: &str, value: &str) -> Result<(), SqlError> {
    if value.is_empty() || value.contains('\0') {
        return Err(ctx.invalid(format!("{what} must be a non-empty name without NUL")));
    }
    Ok(())
}

async fn ensure_role(
    sessions: &mut Sessions<'_>,
    effect: &str,
    role: &SqlRole,
) -> Result<OpOutcome, SqlError> {
    let ctx = Ctx { effect, op: format!("ensure-role {}", role.name), target: sessions.target(None) };
    non_empty(&ctx, "the role name", &role.name)?;
    let client = sessions.get(None).await?;
    serialised(client, &ctx, "role", &role.name, converge_role(client, &ctx, role)).await
}

async fn converge_role(client: &Client, ctx: &Ctx<'_>, role: &SqlRole) -> Result<OpOutcome, SqlError> {
    let name = quote_ident(&role.name);
    let login = if role.login { "LOGIN" } else { "NOLOGIN" };
    let look = || async {
        client
            .query_opt("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", &[&role.name])
            .await
            .map_err(|e| ctx.failed(&e))
    };
    let row = match look().await? {
        Some(row) => row,
        None => {
            // The verifier, not the password, goes into the statement.
            let password = role
                .password
                .as_ref()
                .map(|p| format!(" PASSWORD {}", quote_literal(&scram_verifier(p.expose()))));
            let (ran, notes) = match password {
                Some(password) => {
                    ctx.quietly_raw(client, &format!("CREATE ROLE {name} {login}{password}")).await?
                }
                None => (client.batch_execute(&format!("CREATE ROLE {name} {login}")).await, Vec::new()),
            };
            match ran {
                Ok(()) => return Ok(OpOutcome::created("ensure-role", &role.name).with_changes(notes)),
                // Another session made it: make it what we want, as if it had been there.
                Err(e) if lost_race(&e) => look().await?.ok_or_else(|| ctx.failed(&e))?,
                Err(e) => return Err(ctx.failed(&e)),
            }
        }
    };
    let mut changes = Vec::new();
    if row.get::<_, bool>(0) != role.login {
        client.batch_execute(&format!("ALTER ROLE {name} {login}")).await.map_err(|e| ctx.failed(&e))?;
        changes.push(if role.login { "login enabled" } else { "login disabled" }.to_string());
    }
    if let Some(password) = &role.password {
        let stored = match client
            .query_opt("SELECT rolpassword FROM pg_authid WHERE rolname = $1", &[&role.name])
            .await
        {
            Ok(row) => Some(row.and_then(|r| r.get::<_, Option<String>>(0))),
            // Managed servers (RDS, Cloud SQL) hide pg_authid from their admin
            // role: we cannot compare, so we set it (and say so).
            Err(e) if e.code().map(|c| c.code()) == Some(INSUFFICIENT_PRIVILEGE) => None,
            Err(e) => return Err(ctx.failed(&e)),
        };
        let matches =
            stored.as_ref().map(|v| v.as_deref().is_some_and(|v| verifier_matches(password.expose(), v)));
        if matches != Some(true) {
            let sql =
                format!("ALTER ROLE {name} PASSWORD {}", quote_literal(&scram_verifier(password.expose())));
            let notes = ctx.quietly(client, &sql, false).await?;
            changes.push(match matches {
                Some(_) => "password rotated".to_string(),
                None => "password set (the current one cannot be read to compare)".to_string(),
            });
            changes.extend(notes);
        }
    }
    Ok(OpOutcome::corrected("ensure-role", &role.name, changes))
}

async fn ensure_database(
    sessions: &mut Sessions<'_>,
    effect: &str,
    db: &SqlDatabase,
) -> Result<OpOutcome, SqlError> {
    let ctx = Ctx { effect, op: format!("ensure-database {}", db.name), target: sessions.target(None) };
    non_empty(&ctx, "the database name", &db.name)?;
    non_empty(&ctx, "the owner", &db.owner)?;
    let client = sessions.get(None).await?;
    serialised(client, &ctx, "database", &db.name, async {
        let mut outcome = converge_owner(client, &ctx, db).await?;
        if let Some(change) = close_to_public(client, &ctx, db).await? {
            if outcome.outcome == Outcome::Unchanged {
                outcome.outcome = Outcome::Changed;
            }
            outcome.changes.push(change);
        }
        Ok(outcome)
    })
    .await
}

/// PostgreSQL lets every role (`PUBLIC`) connect to a new database and make
/// temporary tables in it: take that away, so that only the owner (and the
/// roles granted) reach a database Capstan ensures. Says what it revoked.
async fn close_to_public(
    client: &Client,
    ctx: &Ctx<'_>,
    db: &SqlDatabase,
) -> Result<Option<String>, SqlError> {
    let rows = client
        .query(
            "SELECT a.privilege_type
               FROM pg_database d,
                    LATERAL aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a
              WHERE d.datname = $1 AND a.grantee = 0 AND a.privilege_type IN ('CONNECT', 'TEMPORARY')
              ORDER BY 1",
            &[&db.name],
        )
        .await
        .map_err(|e| ctx.failed(&e))?;
    let held: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    if held.is_empty() {
        return Ok(None);
    }
    let privileges = held.join(", ");
    client
        .batch_execute(&format!("REVOKE {privileges} ON DATABASE {} FROM PUBLIC", quote_ident(&db.name)))
        .await
        .map_err(|e| ctx.failed(&e))?;
    Ok(Some(format!("revoked {privileges} from PUBLIC")))
}

async fn converge_owner(client: &Client, ctx: &Ctx<'_>, db: &SqlDatabase) -> Result<OpOutcome, SqlError> {
    let owner_now = || async {
        client
            .query_opt(
                "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
                &[&db.name],
            )
            .await
            .map(|row| row.map(|r| r.get::<_, String>(0)))
            .map_err(|e| ctx.failed(&e))
    };
    let (name, owner) = (quote_ident(&db.name), quote_ident(&db.owner));
    let mut current = owner_now().await?;
    if current.as_deref() == Some(db.owner.as_str()) {
        return Ok(OpOutcome::unchanged("ensure-database", &db.name));
    }
    let mut changes = Vec::new();
    // Handing a database to a role needs membership in it unless we are a
    // superuser; managed servers (RDS, Cloud SQL) give a non-superuser admin
    // with CREATEROLE, which can grant itself that membership.
    let membership = client
        .query_one(
            "SELECT current_user::text,
                    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                    OR pg_has_role(current_user, $1::text, 'MEMBER')",
            &[&db.owner],
        )
        .await
        .map_err(|e| ctx.failed(&e))?;
    if !membership.get::<_, bool>(1) {
        let me: String = membership.get(0);
        client
            .batch_execute(&format!("GRANT {owner} TO {}", quote_ident(&me)))
            .await
            .map_err(|e| ctx.failed(&e))?;
        changes.push(format!("granted membership in {} to {me} (needed to hand it the database)", db.owner));
    }
    if current.is_none() {
        // CREATE DATABASE cannot run in a transaction: batch_execute sends it alone.
        match client.batch_execute(&format!("CREATE DATABASE {name} OWNER {owner}")).await {
            Ok(()) => return Ok(OpOutcome::created("ensure-database", &db.name).with_changes(changes)),
            // Another session made it: give it the owner we want, if it has another.
            Err(e) if lost_race(&e) => {
                current = owner_now().await?;
                if current.as_deref() == Some(db.owner.as_str()) {
                    return Ok(OpOutcome::corrected("ensure-database", &db.name, changes));
                }
            }
            Err(e) => return Err(ctx.failed(&e)),
        }
    }
    let Some(current) = current else {
        // Created by someone else, and gone again before we looked.
        return Err(ctx.invalid("the database was created by another session and then dropped; apply again"));
    };
    client
        .batch_execute(&format!("ALTER DATABASE {name} OWNER TO {owner}"))
        .await
        .map_err(|e| ctx.failed(&e))?;
    changes.push(format!("owner {current} → {}", db.owner));
    Ok(OpOutcome::corrected("ensure-database", &db.name, changes))
}

/// Database privileges, as `aclexplode` names them.
const DATABASE_PRIVILEGES: [&str; 3] = ["CREATE", "CONNECT", "TEMPORARY"];

fn wanted_privileges(ctx: &Ctx<'_>, privileges: &[String]) -> Result<BTreeSet<&'static str>, SqlError> {
    let mut wanted = BTreeSet::new();
    if privileges.is_empty() {
        return Err(ctx.invalid("no privileges listed"));
    }
    for p in privileges {
        match p.trim().to_ascii_uppercase().as_str() {
            "ALL" | "ALL PRIVILEGES" => wanted.extend(DATABASE_PRIVILEGES),
            "CREATE" => _ = wanted.insert("CREATE"),
            "CONNECT" => _ = wanted.insert("CONNECT"),
            "TEMPORARY" | "TEMP" => _ = wanted.insert("TEMPORARY"),
            _ => {
                return Err(ctx.invalid(format!(
                    "unknown database privilege {p:?} (expected ALL, CREATE, CONNECT or TEMPORARY)"
                )));
            }
        }
    }
    Ok(wanted)
}

async fn grant(sessions: &mut Sessions<'_>, effect: &str, g: &SqlGrant) -> Result<OpOutcome, SqlError> {
    let ctx = Ctx {
        effect,
        op: format!("grant {} on database {} to {}", g.privileges.join(", "), g.database, g.role),
        target: sessions.target(None),
    };
    non_empty(&ctx, "the database name", &g.database)?;
    non_empty(&ctx, "the role name", &g.role)?;
    let wanted = wanted_privileges(&ctx, &g.privileges)?;
    let client = sessions.get(None).await?;
    // Two GRANTs on one database at once can fail with "tuple concurrently
    // updated": Capstan's own take turns on the database's lock.
    serialised(client, &ctx, "database", &g.database, converge_grant(client, &ctx, g, &wanted)).await
}

async fn converge_grant(
    client: &Client,
    ctx: &Ctx<'_>,
    g: &SqlGrant,
    wanted: &BTreeSet<&'static str>,
) -> Result<OpOutcome, SqlError> {
    let found = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1),
                    EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)",
            &[&g.database, &g.role],
        )
        .await
        .map_err(|e| ctx.failed(&e))?;
    if !found.get::<_, bool>(0) {
        return Err(ctx
            .invalid(format!("database {:?} does not exist (ensure it earlier in the effect)", g.database)));
    }
    if !found.get::<_, bool>(1) {
        return Err(
            ctx.invalid(format!("role {:?} does not exist (ensure it earlier in the effect)", g.role))
        );
    }
    // Privileges granted to the role itself (the owner's implicit ones included
    // through acldefault); what PUBLIC has does not count.
    let rows = client
        .query(
            "SELECT a.privilege_type
               FROM pg_database d,
                    LATERAL aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a
              WHERE d.datname = $1 AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2)",
            &[&g.database, &g.role],
        )
        .await
        .map_err(|e| ctx.failed(&e))?;
    let held: BTreeSet<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    let missing: Vec<&str> = wanted.iter().copied().filter(|p| !held.contains(*p)).collect();
    if missing.is_empty() {
        return Ok(OpOutcome::unchanged("grant", format!("{} on {}", g.role, g.database)));
    }
    let sql = format!(
        "GRANT {} ON DATABASE {} TO {}",
        missing.join(", "),
        quote_ident(&g.database),
        quote_ident(&g.role)
    );
    client.batch_execute(&sql).await.map_err(|e| ctx.failed(&e))?;
    Ok(OpOutcome::corrected(
        "grant",
        format!("{} on {}", g.role, g.database),
        vec![format!("granted {}", missing.join(", "))],
    ))
}

async fn ensure_extension(
    sessions: &mut Sessions<'_>,
    effect: &str,
    ext: &SqlExtension,
) -> Result<OpOutcome, SqlError> {
    let ctx = Ctx {
        effect,
        op: format!("ensure-extension {} in {}", ext.name, ext.database),
        target: sessions.target(Some(&ext.database)),
    };
    non_empty(&ctx, "the extension name", &ext.name)?;
    non_empty(&ctx, "the database name", &ext.database)?;
    let client = sessions.get(Some(&ext.database)).await?;
    let key = format!("{}\0{}", ext.database, ext.name);
    serialised(client, &ctx, "extension", &key, converge_extension(client, &ctx, ext)).await
}

async fn converge_extension(
    client: &Client,
    ctx: &Ctx<'_>,
    ext: &SqlExtension,
) -> Result<OpOutcome, SqlError> {
    let present = client
        .query_opt("SELECT 1 FROM pg_extension WHERE extname = $1", &[&ext.name])
        .await
        .map_err(|e| ctx.failed(&e))?;
    if present.is_some() {
        return Ok(OpOutcome::unchanged("ensure-extension", &ext.name));
    }
    // IF NOT EXISTS covers one committed before our look; one committed while
    // ours waited on it hits the unique index instead, and is there all the same.
    match client.batch_execute(&format!("CREATE EXTENSION IF NOT EXISTS {}", quote_ident(&ext.name))).await {
        Ok(()) => Ok(OpOutcome::created("ensure-extension", &ext.name)),
        Err(e) if lost_race(&e) => Ok(OpOutcome::unchanged("ensure-extension", &ext.name)),
        Err(e) => Err(ctx.failed(&e)),
    }
}

async fn statement(
    sessions: &mut Sessions<'_>,
    effect: &str,
    index: usize,
    s: &SqlStatement,
) -> Result<OpOutcome, SqlError> {
    let database = s.database.as_deref();
    let ctx = Ctx { effect, op: format!("statement #{index}"), target: sessions.target(database) };
    let client = sessions.get(database).await?;
    let notes = match &s.sql {
        Text::Plain(sql) => {
            client.batch_execute(sql).await.map_err(|e| ctx.failed(&e))?;
            Vec::new()
        }
        Text::Sensitive(sql) => ctx.quietly(client, sql.expose(), true).await?,
    };
    Ok(OpOutcome::executed("statement", format!("#{index}")).with_changes(notes))
}
