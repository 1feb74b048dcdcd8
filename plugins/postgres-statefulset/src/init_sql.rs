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
//! Passwords are never in the script: psql reads them from the Job's
//! environment (`\getenv`, psql 15+), which the kubelet fills from the apps'
//! Secrets. Names are inlined: the SDK's
//! [`apps`](capstan_sdk::contracts::postgres::apps) admits only identifiers
//! that need no quoting.

use std::fmt::Write as _;

use capstan_sdk::contracts::postgres::apps::App;

/// The environment variable holding the password of the `index`th app.
pub fn password_env(index: usize) -> String {
    format!("APP_PASSWORD_{index}")
}

/// The script for these apps, in order.
pub fn script(apps: &[App]) -> String {
    let mut sql = String::from(
        "-- Written by capstan/postgres-statefulset. Idempotent: safe to run again.\n\\set ON_ERROR_STOP on\n",
    );
    for (i, app) in apps.iter().enumerate() {
        let (user, db) = (&app.user, &app.database);
        // `write!` to a String cannot fail.
        let _ = write!(
            sql,
            "\n-- app {key}\n\
             \\getenv password {env}\n\
             \\if :{{?password}}\n\
             \\else\n\
             DO $$ BEGIN RAISE EXCEPTION '{env} is not set: no password for app {key}'; END $$;\n\
             \\endif\n\
             SELECT 'CREATE ROLE {user} LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}')\\gexec\n\
             ALTER ROLE {user} WITH LOGIN PASSWORD :'password';\n\
             SELECT 'CREATE DATABASE {db} OWNER {user}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{db}')\\gexec\n\
             ALTER DATABASE {db} OWNER TO {user};\n\
             GRANT ALL ON DATABASE {db} TO {user};\n\
             REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC;\n\
             \\unset password\n",
            key = app.key,
            env = password_env(i),
        );
        if !app.extensions.is_empty() {
            let _ = writeln!(sql, "\\connect {db}");
            for ext in &app.extensions {
                let _ = writeln!(sql, "CREATE EXTENSION IF NOT EXISTS {ext};");
            }
            let _ = writeln!(sql, "\\connect postgres");
        }
    }
    sql
}
