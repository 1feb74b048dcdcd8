//! Secrets from an encrypted file become a role and a database on the real
//! PostgreSQL on 127.0.0.1:5432, and no secret value reaches any output.
//!
//! The server here trusts local connections, so logging in proves nothing
//! about the password; instead the test reads the role's stored SCRAM
//! verifier (capstan-sql's own tests check logins against a server that
//! demands passwords).

use std::process::Command;

use crate::support::{Stack, psql, walk};

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {0}", self.0))
            .output();
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
            .arg(format!("DROP ROLE IF EXISTS {0}_user", self.0))
            .output();
    }
}

#[test]
fn sql_effects_create_roles_from_encrypted_secrets_and_never_show_them() {
    let name = format!("capstan_e2e_{}", std::process::id());
    let _cleanup = Cleanup(name.clone());
    // The app key names a Secret (a DNS label); its database is the key with `_`.
    let key = name.replace('_', "-");
    let password = format!("pw-{}-never-shown", std::process::id());

    let s = Stack::new(
        "connection \"platform\" {\n  type = \"postgres\"\n  url  = \"postgres://postgres@127.0.0.1:5432/postgres\"\n}\n",
    );
    s.write("envs/prod/env.hcl", "db_host = \"127.0.0.1\"\n");
    s.write("envs/prod/data/namespace.hcl", "namespace = \"data\"\n");
    s.write(
        "envs/prod/data/db/component.hcl",
        &format!(
            r#"component {{
  type    = "postgres"
  plugin  = "capstan/postgres-external"
  version = "^0.1"
  grants  = ["sql:platform"]
}}
inputs = {{
  db_host    = local.env.db_host
  connection = "platform"
  apps       = {{ {key} = {{ extensions = ["pgcrypto"] }} }}
}}
"#
        ),
    );
    let mut transcript = String::new();
    let mut record = |r: &crate::support::Run| transcript.push_str(&format!("{}{}", r.stdout, r.stderr));

    let keygen = s.run(&["secrets", "keygen"]).ok();
    record(&keygen);
    let yaml = format!("apps:\n  {key}:\n    password: {password}\n");
    let set = s
        .run_with_stdin(
            &["secrets", "set", "envs/prod/data/db/secrets.enc.hcl", "values_sensitive_custom"],
            &yaml,
        )
        .ok();
    record(&set);
    assert!(
        !s.read("envs/prod/data/db/secrets.enc.hcl").contains(&password),
        "the secrets file is encrypted"
    );

    let plan = s.run(&["plan", "envs/prod", "--no-color"]).ok();
    record(&plan);
    assert!(plan.stdout.contains("effects to run"), "{plan:?}");
    let json = s.run(&["plan", "envs/prod", "--json"]).ok();
    record(&json);
    let shown = s.run(&["config", "show", "envs/prod/data/db"]).ok();
    record(&shown);
    assert!(shown.stdout.contains("(sensitive)"), "{shown:?}");

    let apply = s.run(&["apply", "envs/prod", "--auto-approve", "--no-color"]).ok();
    record(&apply);
    assert_eq!(
        psql(&format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{name}'")),
        format!("{name}_user")
    );
    let verifier = psql(&format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{name}_user'"));
    assert!(verifier.starts_with("SCRAM-SHA-256$"), "the role has a password: {verifier}");
    assert_eq!(psql(&format!("SELECT rolcanlogin FROM pg_roles WHERE rolname = '{name}_user'")), "t");

    // Nothing changed: nothing runs again.
    let again = s.run(&["apply", "envs/prod", "--auto-approve", "--no-color"]).ok();
    record(&again);
    assert!(again.stdout.contains("No changes."), "{again:?}");

    // A new password is rotated, and still never shown.
    let rotated = format!("{password}-rotated");
    s.run_with_stdin(
        &["secrets", "set", "envs/prod/data/db/secrets.enc.hcl", "values_sensitive_custom"],
        &format!("apps:\n  {key}:\n    password: {rotated}\n"),
    )
    .ok();
    let rotate = s.run(&["apply", "envs/prod", "--auto-approve", "--no-color"]).ok();
    record(&rotate);
    let verifier2 = psql(&format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{name}_user'"));
    assert_ne!(verifier, verifier2, "the password was rotated");

    // The sweep: every output channel, the state and every rendered file:
    // the Secrets are SOPS documents (the environment has age recipients),
    // so no file holds a password in clear.
    for secret in [&password, &rotated] {
        assert!(!transcript.contains(secret.as_str()), "a secret reached the output:\n{transcript}");
    }
    let mut sealed = 0;
    for entry in walk(&s.path(".capstan")).into_iter().chain(walk(&s.path("rendered"))) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains(&password) && !text.contains(&rotated), "{} holds a secret", entry.display());
        if entry.file_name().is_some_and(|n| n.to_string_lossy().starts_with("secret-")) {
            assert!(text.contains("ENC[AES256_GCM,") && text.contains("\nsops:\n"), "{}", entry.display());
            sealed += 1;
        }
    }
    assert!(sealed > 0, "the Secrets were rendered, encrypted");
}

/// Two stacks (their own state, as two teams' repositories) whose applies
/// ensure the same role and database at the same moment: both succeed, and
/// the objects are as each asked.
#[test]
fn parallel_applies_ensuring_the_same_database_both_succeed() {
    let name = format!("capstan_par_{}", std::process::id());
    let _cleanup = Cleanup(name.clone());
    let key = name.replace('_', "-");
    let stacks: Vec<Stack> = (0..3)
        .map(|_| {
            let s = Stack::new(
                "connection \"platform\" {\n  type = \"postgres\"\n  url  = \"postgres://postgres@127.0.0.1:5432/postgres\"\n}\n",
            );
            s.write("envs/prod/env.hcl", "db_host = \"127.0.0.1\"\n");
            s.write("envs/prod/data/namespace.hcl", "namespace = \"data\"\n");
            s.write(
                "envs/prod/data/db/component.hcl",
                &format!(
                    r#"component {{
  type    = "postgres"
  plugin  = "capstan/postgres-external"
  version = "^0.1"
  grants  = ["sql:platform"]
}}
inputs = {{
  db_host    = local.env.db_host
  connection = "platform"
  apps       = {{ {key} = {{ extensions = ["pgcrypto"] }} }}
}}
"#
                ),
            );
            s.run(&["secrets", "keygen"]).ok();
            s.run_with_stdin(
                &["secrets", "set", "envs/prod/data/db/secrets.enc.hcl", "values_sensitive_custom"],
                &format!("apps:\n  {key}:\n    password: parallel-password\n"),
            )
            .ok();
            // Plugins compiled and cached, so the applies below start together.
            s.run(&["plan", "envs/prod"]).ok();
            s
        })
        .collect();
    let children: Vec<_> = stacks
        .iter()
        .map(|s| {
            let child = s
                .command(&["apply", "envs/prod", "--auto-approve", "--no-color"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (s, child)
        })
        .collect();
    for (s, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "an apply in {} failed:\n{}\n{}",
            s.root().display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        psql(&format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{name}'")),
        format!("{name}_user")
    );
    assert_eq!(psql(&format!("SELECT rolcanlogin FROM pg_roles WHERE rolname = '{name}_user'")), "t");
}
