//! A stack in a temporary directory and a way to run `capstan` on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Stack {
    pub dir: tempfile::TempDir,
}

/// What one run printed, shown in full when an assertion fails.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub command: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\nexit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

impl Stack {
    /// A stack root with a client.hcl.
    pub fn new(client_hcl: &str) -> Self {
        let s = Self { dir: tempfile::tempdir().unwrap() };
        s.write("client.hcl", client_hcl);
        s
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// The command, with a private identity and HOME, and the compiled
    /// plugin cache shared by all tests of this run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_capstan"));
        c.args(args)
            .current_dir(self.root())
            .env("HOME", self.root().join(".home"))
            .env("CAPSTAN_AGE_KEY_FILE", self.root().join(".home/keys.txt"))
            .env("CAPSTAN_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("capstan-plugin-cache"))
            .env_remove("CAPSTAN_LOG")
            // The operator's choices, which a test makes explicitly: a CI
            // runner's `CI=true` would make every run's lock read-only.
            .env_remove("CI")
            .env_remove("CAPSTAN_ALLOW_UNSIGNED")
            // Run inside a pod (a CI runner in a cluster), the tests must not
            // find its cluster: with no kubeconfig, these name it.
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.finish(args, self.command(args).output().unwrap())
    }

    /// Runs with extra environment variables (`KUBECONFIG`, say).
    pub fn run_env(&self, args: &[&str], env: &[(&str, &Path)]) -> Run {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        self.finish(args, command.output().unwrap())
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write as _;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        self.finish(args, out)
    }

    /// What `capstan <args>`, run in this stack, ended with.
    pub fn finish(&self, args: &[&str], out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            command: format!("capstan {} (in {})", args.join(" "), self.root().display()),
        }
    }
}

/// client.hcl blocks for plugins a publisher `acme` signed: the bundles in
/// `dist/` as a `dir` plugin source, and `keys/acme.pub` trusted for `acme/*`.
pub const ACME_SIGNED_SOURCE: &str = r#"plugin_source "local" {
  type = "dir"
  path = "dist"
}

trust "acme" {
  key_files = ["keys/acme.pub"]
  plugins   = ["acme/*"]
}
"#;

/// A minimal app component.
pub fn app_component(image: &str, replicas_expr: &str) -> String {
    format!(
        r#"component {{
  type    = "app"
  plugin  = "capstan/app"
  version = "^0.1"
}}
inputs = {{
  image    = "{image}"
  replicas = {replicas_expr}
  port     = 8080
}}
"#
    )
}

/// A stack with one environment `dev`, namespace `web`, and the given apps.
pub fn web_stack(apps: &[&str]) -> Stack {
    let s = Stack::new("locals {\n  org = \"acme\"\n}\n");
    s.write("envs/dev/env.hcl", "replicas = 2\n");
    s.write("envs/dev/web/namespace.hcl", "namespace = \"web\"\n");
    for app in apps {
        s.write(
            &format!("envs/dev/web/{app}/component.hcl"),
            &app_component("registry.example/api:1.0.0", "local.env.replicas"),
        );
    }
    s
}

/// Every file below `dir` (none when it does not exist).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else { return out };
    for e in read.flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// The RabbitMQ broker on this machine, through its management API.
pub mod rabbitmq {
    use std::process::Command;

    const MANAGEMENT: &str = "http://127.0.0.1:15672/api";

    /// A management API call as `guest`: `(HTTP status, body)`.
    pub fn management(method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut c = Command::new("curl");
        c.args(["-s", "-u", "guest:guest", "-X", method, "-w", "\n%{http_code}"]);
        if let Some(body) = body {
            c.args(["-H", "content-type: application/json", "-d", body]);
        }
        let out =
            c.arg(format!("{MANAGEMENT}/{path}")).output().expect("curl runs (tests/setup.sh installs it)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (status.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Creates the broker administrator a test's connection logs in as, so
    /// that the connection's password is a real secret (not `guest`'s).
    pub fn create_admin(name: &str, password: &str) {
        let body = format!(r#"{{"password":"{password}","tags":"administrator"}}"#);
        let (status, said) = management("PUT", &format!("users/{name}"), Some(&body));
        assert_eq!(status, 201, "creating the test's admin user: {said}");
    }

    /// The env.hcl `connection "rabbitmq"` block logging in as `admin` with
    /// the environment secret `rabbitmq_admin_password`.
    pub fn connection_block(admin: &str) -> String {
        format!(
            r#"connection "rabbitmq" {{
  type     = "amqp"
  url      = "http://127.0.0.1:15672"
  username = "{admin}"
  password = secrets.rabbitmq_admin_password
}}
"#
        )
    }

    /// Deletes a test's vhost and users, even after a failed assertion.
    pub struct BrokerCleanup {
        pub vhost: String,
        pub users: Vec<String>,
    }

    impl Drop for BrokerCleanup {
        fn drop(&mut self) {
            management("DELETE", &format!("vhosts/{}", self.vhost), None);
            for u in &self.users {
                management("DELETE", &format!("users/{u}"), None);
            }
        }
    }
}

/// The repository's root (the checkout the tests run in).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A copy of the open-finance example, without what a run left in the
/// checkout, so the tests' runs leave nothing there either.
pub fn example() -> Stack {
    let s = Stack { dir: tempfile::tempdir().unwrap() };
    let copy = Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("examples/open-finance/."))
        .arg(s.root())
        .status()
        .unwrap();
    assert!(copy.success());
    for leftover in ["rendered", ".capstan"] {
        let _ = std::fs::remove_dir_all(s.path(leftover));
    }
    s
}

/// Runs with the example's test identity (TEST-ONLY-age-key.txt), which
/// opens its secrets files.
pub fn with_test_key(s: &Stack, args: &[&str]) -> Run {
    let out = s.command(args).env("CAPSTAN_AGE_KEY_FILE", s.path("TEST-ONLY-age-key.txt")).output().unwrap();
    s.finish(args, out)
}

/// One query on the real PostgreSQL on 127.0.0.1:5432 as `postgres`: its
/// rows, unaligned, trimmed; the test fails if psql does.
pub fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc", sql])
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The real PostgreSQL on 127.0.0.1:5432 as its superuser.
pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A run-unique suffix, so parallel runs on one broker or server never meet.
pub fn unique() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{:x}{nanos:x}", std::process::id())
}

/// `psql` (libpq, as an app links it) logged in with `url`: the rows, or
/// the error it printed.
pub fn psql_as(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql runs (PostgreSQL's client is on the machine)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// Drops a test's databases and roles (`(database, role)`), even after a
/// failed assertion.
pub struct PgCleanup(pub Vec<(String, String)>);

impl Drop for PgCleanup {
    fn drop(&mut self) {
        for (database, role) in &self.0 {
            let _ = psql_as(PG_ADMIN, &format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"));
            let _ = psql_as(PG_ADMIN, &format!("DROP ROLE IF EXISTS \"{role}\""));
        }
    }
}
