//! The script that creates each app's role and database, run by a Job with
//! `psql` against the server.
//!
//! Why a Job and not the image's `/docker-entrypoint-initdb.d`: that runs
//! only on an empty data directory, so an app added later, or a rotated
//! password, would never reach the server. The script is idempotent (it
//! checks before it creates, and sets the password every time), so running
//! it again is harmless.
//!
//! Each app reaches only its own database: PostgreSQL lets every role
//! (`PUBLIC`) connect to every database by default, so the script revokes
//! that on each app's database and grants `CONNECT` to the app's role alone,
//! on every run, so a database created earlier converges too.
//!
//! Passwords are never in the script nor on a command line: the Job mounts
//! each app's Secret as a file, `<app key>` in the directory the psql
//! variable `app_passwords` names ([`PASSWORDS_VAR`]), and psql reads it
//! with a backtick command (`cat`), which psql has had for ages; `\getenv`
//! would have needed psql 15, and the platform supports PostgreSQL 14. The
//! value goes into SQL only as `:'password'`, which psql quotes as a literal
//! whatever it holds. Names are inlined: the SDK's
//! [`apps`](capstan_sdk::contracts::postgres::apps) admits only identifiers
//! that need no quoting, and app keys are DNS labels, safe in a shell word.

use std::fmt::Write as _;

use capstan_sdk::contracts::postgres::apps::App;

/// The psql variable naming the directory of the password files (`psql -v
/// app_passwords=DIR`). A directory, not a password: it may be on a command line.
pub const PASSWORDS_VAR: &str = "app_passwords";

/// The name of the file, in the `app_passwords` directory, holding `app`'s
/// password: its key, a DNS label.
pub fn password_file(app: &App) -> &str {
    &app.key
}

/// The script for these apps, in order.
pub fn script(apps: &[App]) -> String {
    let mut sql = format!(
        "-- Written by capstan/postgres-statefulset. Idempotent: safe to run again.\n\
         \\set ON_ERROR_STOP on\n\
         \\if :{{?{PASSWORDS_VAR}}}\n\
         \\else\n\
         DO $$ BEGIN RAISE EXCEPTION 'psql variable {PASSWORDS_VAR} is not set: run psql with -v {PASSWORDS_VAR}=DIR, the directory of the password files'; END $$;\n\
         \\endif\n"
    );
    for app in apps {
        read_password(&mut sql, app);
        create(&mut sql, app);
        extensions(&mut sql, app);
    }
    sql
}

/// Sets the psql variable `password` from the app's file, or stops the
/// script. psql drops one trailing newline from a backtick's output, so the
/// command prints a `.` after the file and SQL cuts it off: a password
/// ending in a newline survives, and a missing file (no `.`, as `cat`
/// failed) gives an empty value. A failing backtick does not stop psql
/// (`ON_ERROR_STOP` does not see it), hence the explicit check.
fn read_password(sql: &mut String, app: &App) {
    // `write!` to a String cannot fail.
    let _ = write!(
        sql,
        "\n-- app {key}\n\
         \\set password_file `cat :'{PASSWORDS_VAR}'/{file} && printf .`\n\
         SELECT :'password_file' = '' AS password_missing, left(:'password_file', -1) AS password \\gset\n\
         \\unset password_file\n\
         \\if :password_missing\n\
         DO $$ BEGIN RAISE EXCEPTION 'no password for app {key}: cannot read file {file} in the {PASSWORDS_VAR} directory'; END $$;\n\
         \\endif\n",
        key = app.key,
        file = password_file(app),
    );
}

/// The role, its password, the database, its owner and who may connect.
fn create(sql: &mut String, app: &App) {
    let (user, db) = (&app.user, &app.database);
    let _ = write!(
        sql,
        "SELECT 'CREATE ROLE {user} LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}')\\gexec\n\
         ALTER ROLE {user} WITH LOGIN PASSWORD :'password';\n\
         \\unset password\n\
         SELECT 'CREATE DATABASE {db} OWNER {user}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{db}')\\gexec\n\
         ALTER DATABASE {db} OWNER TO {user};\n\
         GRANT ALL ON DATABASE {db} TO {user};\n\
         REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC;\n"
    );
}

/// The app's extensions, created in its database.
fn extensions(sql: &mut String, app: &App) {
    if app.extensions.is_empty() {
        return;
    }
    let _ = writeln!(sql, "\\connect {}", app.database);
    for ext in &app.extensions {
        let _ = writeln!(sql, "CREATE EXTENSION IF NOT EXISTS {ext};");
    }
    let _ = writeln!(sql, "\\connect postgres");
}
