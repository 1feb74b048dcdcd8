//! State the backend would not take: the errored-state file an apply saves,
//! and `capstan state push` storing it back.

use std::path::Path;

use crate::support::{app_component, web_stack};

/// Makes the local backend refuse every write, in a way that holds for root
/// too (file permissions do not stop root): the journal becomes a symlink
/// into a directory that does not exist, so appending a component fails, and
/// `state.json.prev` becomes a directory, so the final snapshot cannot move
/// the previous one aside.
fn break_local_backend(dir: &Path) {
    let _ = std::fs::remove_file(dir.join("state.journal"));
    std::os::unix::fs::symlink(dir.join("missing/state.journal"), dir.join("state.journal")).unwrap();
    std::fs::create_dir_all(dir.join("state.json.prev/in-the-way")).unwrap();
}

fn repair_local_backend(dir: &Path) {
    std::fs::remove_file(dir.join("state.journal")).unwrap();
    std::fs::remove_dir_all(dir.join("state.json.prev")).unwrap();
}

#[test]
fn a_state_write_that_fails_saves_errored_state_and_state_push_stores_it_back() {
    let s = web_stack(&["api"]);
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    s.write("envs/dev/web/worker/component.hcl", &app_component("registry.example/worker:1.0.0", "1"));
    let state_dir = s.path(".capstan");
    break_local_backend(&state_dir);

    let failed = s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]);
    assert_eq!(failed.code, 1, "{failed:?}");
    let errored = s.path("errored.capstanstate");
    assert!(
        failed.stderr.contains(&errored.display().to_string())
            && failed.stderr.contains(&format!("capstan state push {}", errored.display())),
        "the error names the file and the command that stores it back: {failed:?}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&errored).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "errored state is private");
    }
    let saved: serde_json::Value = serde_json::from_str(&s.read("errored.capstanstate")).unwrap();
    for key in ["envs/dev/web/api", "envs/dev/web/worker"] {
        assert!(saved["components"][key].is_object(), "{key} is in the errored state: {saved}");
    }
    // The worker was applied (its files are there) but the backend lost it.
    assert!(s.path("rendered/dev/web/worker/deployment-worker.yaml").exists());
    repair_local_backend(&state_dir);
    let listed = s.run(&["state", "list", "."]).ok();
    assert!(!listed.stdout.contains("worker"), "{listed:?}");

    // Another stack's state is refused.
    let mut other = saved.clone();
    other["lineage"] = "0123456789abcdef0123456789abcdef".into();
    s.write("other.capstanstate", &other.to_string());
    let refused = s.run(&["state", "push", "other.capstanstate"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("lineage") && refused.stderr.contains("--force"), "{refused:?}");

    let pushed = s.run(&["state", "push", "errored.capstanstate", "--no-color"]).ok();
    assert!(pushed.stdout.contains("+ record envs/dev/web/worker"), "it shows what it replaces: {pushed:?}");
    let listed = s.run(&["state", "list", "."]).ok();
    assert!(listed.stdout.contains("envs/dev/web/worker"), "{listed:?}");
    let plan = s.run(&["plan", "envs/dev", "--detailed-exitcode", "--no-color"]);
    assert_eq!(plan.code, 0, "after the push, nothing is left to do: {plan:?}");

    // Once a run has stored newer state, the old file is refused.
    s.write("envs/dev/env.hcl", "replicas = 3\n");
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    let stale = s.run(&["state", "push", "errored.capstanstate"]);
    assert_eq!(stale.code, 1, "{stale:?}");
    assert!(stale.stderr.contains("serial"), "{stale:?}");
}

/// Runs `sql` with psql as the superuser, in `database`.
fn psql(database: &str, sql: &str) {
    let out = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Drops the test's database and role, even after a failed assertion.
struct DropPostgres(String);

impl Drop for DropPostgres {
    fn drop(&mut self) {
        for sql in [
            format!("DROP DATABASE IF EXISTS {0} WITH (FORCE)", self.0),
            format!("DROP ROLE IF EXISTS {0}", self.0),
        ] {
            let _ = std::process::Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", &sql])
                .output();
        }
    }
}

#[test]
fn a_postgres_state_write_refused_by_a_revoked_privilege_is_saved_and_pushed_back() {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("capstan_pgstate_{}_{nanos}", std::process::id());
    let _drop = DropPostgres(name.clone());
    // A role of its own, not a superuser (a superuser ignores privileges),
    // owning the database the state tables are created in.
    psql("postgres", &format!("CREATE ROLE {name} LOGIN"));
    psql("postgres", &format!("CREATE DATABASE {name} OWNER {name}"));
    let s = web_stack(&["api"]);
    s.write(
        "client.hcl",
        &format!(
            "state {{\n  backend = \"postgres\"\n  url     = \"postgres://{name}@127.0.0.1:5432/{name}\"\n  stack   = \"web\"\n}}\n"
        ),
    );
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    s.write("envs/dev/web/worker/component.hcl", &app_component("registry.example/worker:1.0.0", "1"));
    // The lock still works (its own table); recording state does not.
    psql(&name, &format!("REVOKE INSERT, UPDATE, DELETE ON capstan_state FROM {name}"));

    let failed = s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]);
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(failed.stderr.contains("permission denied"), "the backend's refusal is shown: {failed:?}");
    assert!(failed.stderr.contains("capstan state push"), "{failed:?}");
    let saved: serde_json::Value = serde_json::from_str(&s.read("errored.capstanstate")).unwrap();
    assert!(saved["components"]["envs/dev/web/worker"].is_object(), "{saved}");
    let listed = s.run(&["state", "list", "."]).ok();
    assert!(!listed.stdout.contains("worker"), "{listed:?}");

    psql(&name, &format!("GRANT INSERT, UPDATE, DELETE ON capstan_state TO {name}"));
    let pushed = s.run(&["state", "push", "errored.capstanstate"]).ok();
    assert!(pushed.stdout.contains("+ record envs/dev/web/worker"), "{pushed:?}");
    assert!(s.run(&["state", "list", "."]).ok().stdout.contains("envs/dev/web/worker"));
    let plan = s.run(&["plan", "envs/dev", "--detailed-exitcode", "--no-color"]);
    assert_eq!(plan.code, 0, "after the push, nothing is left to do: {plan:?}");
}
