//! Writes a generated stack of N components, for the benchmarks.
//!
//! Two shapes:
//!
//! - [`Shape::Mixed`]: every built-in component type, wired the way the
//!   open-finance example is. Environments are filled one after the other;
//!   each holds a `platform` namespace (logs, WAF, cert-manager) and up to
//!   [`NAMESPACES`] application namespaces of [`PER_NAMESPACE`] components:
//!   postgres (CloudNativePG), messaging (RabbitMQ), Dapr, and apps that
//!   include a shared template, depend on all five of those, read a
//!   dependency output in HCL, have locals and a `values_custom` heredoc,
//!   and (every fifth) depend on the previous app. Components are written
//!   in dependency order, so cutting at any N leaves a valid stack.
//! - [`Shape::AppOnly`]: N `capstan/app` components in one namespace with no
//!   dependencies, and the same inputs as helm values ([`helm_values`]), so
//!   `bench/compare.sh` can render the same objects with `helm template`.
//!
//! The generator writes text only; the passwords the postgres and messaging
//! components need come from an encrypted secrets file the caller writes
//! (see the binary's `gen` command), read here as `secrets.bench_password`.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// Application namespaces per environment in [`Shape::Mixed`].
pub const NAMESPACES: usize = 5;
/// Components per application namespace in [`Shape::Mixed`]: postgres,
/// messaging, dapr and 47 apps.
pub const PER_NAMESPACE: usize = 50;
/// The secret every generated password reads (from the root `secrets.enc.hcl`).
pub const PASSWORD_SECRET: &str = "bench_password";
/// The environment of [`Shape::AppOnly`] stacks.
pub const APP_ONLY_ENV: &str = "bench";
/// The namespace of [`Shape::AppOnly`] stacks, in [`APP_ONLY_ENV`].
pub const APP_ONLY_NAMESPACE: &str = "apps";

/// Which stack to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Every built-in component type across environments and namespaces,
    /// wired as the open-finance example is (the default of `gen`).
    Mixed,
    /// `capstan/app` components only, with no dependencies, for the
    /// comparison with `helm template` (`gen --app-only`).
    AppOnly,
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// Components written.
    pub components: usize,
    /// Whether any component reads [`PASSWORD_SECRET`] (so the caller must
    /// write the root secrets file).
    pub needs_secrets: bool,
}

fn write(root: &Path, rel: &str, text: &str) -> io::Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

/// Writes a stack of exactly `components` components under `root`.
///
/// # Errors
/// When a file cannot be written.
pub fn generate(root: &Path, shape: Shape, components: usize) -> io::Result<Generated> {
    match shape {
        Shape::Mixed => mixed(root, components),
        Shape::AppOnly => app_only(root, components),
    }
}

const CLIENT: &str = r#"locals {
  org = "bench"
}

registry       = "registry.example/bench"
platform_email = "platform@bench.example"
"#;

// ---- mixed ---------------------------------------------------------------

const APP_TEMPLATE: &str = r#"component {
  type    = "app"
  plugin  = "capstan/app"
  version = "^0.1"
}

dependency "postgres" {
  config_path = "../postgres"
}

dependency "messaging" {
  config_path = "../messaging"
}

dependency "dapr" {
  config_path = "../dapr"
}

dependency "waf" {
  config_path = "../../platform/waf"
}

dependency "cert-manager" {
  config_path = "../../platform/cert-manager"
}

inputs = {
  port        = 8080
  health_path = "/health"
  autoscaling = local.env.app_scaling
  pdb         = { min_available = 1 }
  env = {
    ENVIRONMENT = local.env.environment
    ORG         = local.client.org
  }
  service_monitor = { path = "/metrics", interval = "30s" }
}
"#;

const PLATFORM_NAMESPACE: &str = r#"locals {
  ingress_class = "nginx"
}

namespace = "platform"
"#;

const LOGS: &str = r#"component {
  type    = "logs"
  plugin  = "capstan/logs-fluent-bit"
  version = "^0.1"
}

inputs = {
  log_level = "info"
  output    = "loki"
  loki = {
    host   = "loki-gateway.logging.svc.cluster.local"
    port   = 3100
    labels = { environment = local.env.environment }
  }
}
"#;

const CERT_MANAGER: &str = r#"component {
  type    = "cert-manager"
  plugin  = "capstan/cert-manager"
  version = "^0.1"
}

inputs = {
  default_issuer = "acme"
  acme = {
    enabled       = true
    email         = local.client.platform_email
    ingress_class = local.namespace.ingress_class
  }
}
"#;

const WAF: &str = r#"component {
  type    = "waf"
  plugin  = "capstan/waf-ingress-nginx"
  version = "^0.1"
}

dependency "cert-manager" {
  config_path = "../cert-manager"
}

inputs = {
  ingress_class        = local.namespace.ingress_class
  controller_namespace = "ingress-nginx"
  mode                 = "block"
  paranoia_level       = 1
}
"#;

const MESSAGING: &str = r#"component {
  type    = "messaging"
  plugin  = "capstan/messaging-rabbitmq"
  version = "^0.1"
}

inputs = {
  mode        = "in-cluster"
  replicas    = 1
  storage     = { size = "8Gi" }
  name_prefix = "${local.namespace.namespace}-"
  queues = {
    events  = { retention_hours = 168, dead_letter = true }
    reports = { retention_hours = 24 }
  }
  # One broker user per app, as Dapr's pub/sub asks for each app.
  users = { for app in local.namespace.apps : app => { password = secrets.bench_password } }
}
"#;

const DAPR: &str = r#"component {
  type    = "dapr"
  plugin  = "capstan/dapr"
  version = "^0.1"
}

dependency "messaging" {
  config_path = "../messaging"
}

dependency "postgres" {
  config_path = "../postgres"
}

inputs = {
  app_ids    = local.namespace.apps
  statestore = { sslmode = "disable" }
}
"#;

/// How the render target writes Secrets: in clear (the generated stack is
/// never in a Git work tree), so an apply times the target, not SOPS.
const PLAIN_SECRETS: &str = "target \"render\" {\n  secrets = \"plain\"\n}\n";

/// One environment: `platform` plus up to [`NAMESPACES`] app namespaces.
const PER_ENV: usize = 3 + NAMESPACES * PER_NAMESPACE;

fn mixed(root: &Path, total: usize) -> io::Result<Generated> {
    write(root, "client.hcl", CLIENT)?;
    write(root, "_templates/app.hcl", APP_TEMPLATE)?;
    let mut left = total;
    let mut e = 0;
    while left > 0 {
        let env = format!("env{e}");
        write(
            root,
            &format!("envs/{env}/env.hcl"),
            &format!(
                "locals {{\n  environment = \"{env}\"\n}}\n\ndomain      = \"{env}.bench.example\"\napp_version = \"1.{e}.0\"\napp_scaling = {{ min = 2, max = {}, cpu = 75 }}\n\n{PLAIN_SECRETS}",
                e + 3
            ),
        )?;
        let in_env = left.min(PER_ENV);
        environment(root, &env, in_env)?;
        left -= in_env;
        e += 1;
    }
    Ok(Generated { components: total, needs_secrets: total > 3 })
}

/// Writes the first `count` components of one environment, in dependency order.
fn environment(root: &Path, env: &str, count: usize) -> io::Result<()> {
    let platform = format!("envs/{env}/platform");
    write(root, &format!("{platform}/namespace.hcl"), PLATFORM_NAMESPACE)?;
    let platform_parts = [("logs", LOGS), ("cert-manager", CERT_MANAGER), ("waf", WAF)];
    for (dir, text) in platform_parts.iter().take(count) {
        write(root, &format!("{platform}/{dir}/component.hcl"), text)?;
    }
    let mut left = count.saturating_sub(platform_parts.len());
    let mut n = 0;
    while left > 0 {
        let in_ns = left.min(PER_NAMESPACE);
        namespace(root, &format!("envs/{env}/ns{n}"), &format!("ns{n}"), in_ns)?;
        left -= in_ns;
        n += 1;
    }
    Ok(())
}

/// Writes the first `count` components of one application namespace.
fn namespace(root: &Path, dir: &str, name: &str, count: usize) -> io::Result<()> {
    let apps: Vec<String> = (1..count.saturating_sub(2)).map(|c| format!("svc{c}")).collect();
    let list = apps.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
    write(
        root,
        &format!("{dir}/namespace.hcl"),
        &format!("locals {{\n  apps = [{list}]\n}}\n\nnamespace = \"{name}\"\n"),
    )?;
    let default_app = apps.first().map_or("dapr", String::as_str);
    let postgres = format!(
        r#"component {{
  type    = "postgres"
  plugin  = "capstan/postgres-cloudnative-pg"
  version = "^0.1"
}}

inputs = {{
  instances = 1
  storage   = {{ size = "20Gi" }}
  apps = merge(
    {{ for app in local.namespace.apps : app => {{ password = secrets.{PASSWORD_SECRET} }} }},
    {{ dapr = {{ password = secrets.{PASSWORD_SECRET} }} }},
  )
  default_app = "{default_app}"
}}
"#
    );
    let parts: [(&str, &str); 3] = [("postgres", &postgres), ("messaging", MESSAGING), ("dapr", DAPR)];
    for (part, text) in parts.iter().take(count) {
        write(root, &format!("{dir}/{part}/component.hcl"), text)?;
    }
    for (i, app) in apps.iter().enumerate() {
        write(root, &format!("{dir}/{app}/component.hcl"), &mixed_app(app, i))?;
    }
    Ok(())
}

fn mixed_app(name: &str, index: usize) -> String {
    let mut text = String::from(
        r#"include "app" {
  path           = find_in_parent_folders("_templates/app.hcl")
  merge_strategy = "deep"
}
"#,
    );
    // Every fifth app calls the one before it: a deeper graph than a star.
    if index % 5 == 4 {
        let _ = write!(text, "\ndependency \"svc{index}\" {{\n  config_path = \"../svc{index}\"\n}}\n");
    }
    let _ = write!(
        text,
        r#"
locals {{
  name = "{name}"
}}

inputs = {{
  image = "${{local.client.registry}}/${{local.name}}:${{local.env.app_version}}"
  env = {{
    CACHE_HOST = "cache.${{dependency.postgres.outputs.host}}"
  }}
  ingress = {{
    host = lower("${{local.name}}.${{local.namespace.namespace}}.${{local.env.domain}}")
    path = "/"
  }}
}}

values_custom = <<-YAML
  resources:
    limits:
      memory: 512Mi
  env:
    TEAM: ${{local.namespace.namespace}}
YAML
"#
    );
    text
}

// ---- app only --------------------------------------------------------------

/// The inputs of app-only component `index` (1-based), as the helm chart's
/// values name them. One place, so the HCL and the helm values agree.
struct AppValues {
    name: String,
    image: String,
    host: String,
    replicas_min: u32,
    replicas_max: u32,
}

fn app_values(index: usize) -> AppValues {
    let name = format!("app{index}");
    AppValues {
        image: format!("registry.example/bench/{name}:1.0.{}", index % 10),
        host: format!("{name}.bench.example"),
        replicas_min: 2,
        replicas_max: 2 + u32::try_from(index % 4).unwrap_or(0),
        name,
    }
}

fn app_only(root: &Path, total: usize) -> io::Result<Generated> {
    write(root, "client.hcl", CLIENT)?;
    write(
        root,
        &format!("envs/{APP_ONLY_ENV}/env.hcl"),
        &format!("locals {{\n  environment = \"{APP_ONLY_ENV}\"\n}}\n"),
    )?;
    let ns = format!("envs/{APP_ONLY_ENV}/{APP_ONLY_NAMESPACE}");
    write(root, &format!("{ns}/namespace.hcl"), &format!("namespace = \"{APP_ONLY_NAMESPACE}\"\n"))?;
    for i in 1..=total {
        let v = app_values(i);
        write(
            root,
            &format!("{ns}/{}/component.hcl", v.name),
            &format!(
                r#"component {{
  type    = "app"
  plugin  = "capstan/app"
  version = "^0.1"
}}

inputs = {{
  image       = "{image}"
  port        = 8080
  health_path = "/health"
  env = {{
    LOG_LEVEL = "info"
    APP_NAME  = "{name}"
  }}
  autoscaling     = {{ min = {min}, max = {max}, cpu = 75 }}
  pdb             = {{ min_available = 1 }}
  ingress         = {{ host = "{host}", path = "/", class = "nginx" }}
  service_monitor = {{ path = "/metrics", interval = "30s" }}
}}
"#,
                image = v.image,
                name = v.name,
                min = v.replicas_min,
                max = v.replicas_max,
                host = v.host,
            ),
        )?;
    }
    Ok(Generated { components: total, needs_secrets: false })
}

/// The helm values of app-only components `range` (1-based, inclusive), for
/// `bench/chart`: `apps:` with one entry per component, carrying the same
/// inputs as the component files [`generate`] writes.
pub fn helm_values(range: std::ops::RangeInclusive<usize>) -> String {
    let mut out = format!("environment: {APP_ONLY_ENV}\napps:\n");
    for i in range {
        let v = app_values(i);
        let _ = write!(
            out,
            "  - name: {name}\n    image: {image}\n    env:\n      APP_NAME: {name}\n      LOG_LEVEL: info\n    autoscaling: {{ min: {min}, max: {max}, cpu: 75 }}\n    host: {host}\n",
            name = v.name,
            image = v.image,
            min = v.replicas_min,
            max = v.replicas_max,
            host = v.host,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn component_files(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.file_name().is_some_and(|n| n == "component.hcl") {
                    out.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn mixed_stacks_have_exactly_the_requested_components_of_every_type() {
        for n in [1, 4, 7, 100, 1000] {
            let dir = tempfile::tempdir().unwrap();
            let g = generate(dir.path(), Shape::Mixed, n).unwrap();
            let files = component_files(dir.path());
            assert_eq!(files.len(), n, "N = {n}");
            assert_eq!(g.components, n);
            if n == 1000 {
                for plugin in [
                    "capstan/logs-fluent-bit",
                    "capstan/cert-manager",
                    "capstan/waf-ingress-nginx",
                    "capstan/postgres-cloudnative-pg",
                    "capstan/messaging-rabbitmq",
                    "capstan/dapr",
                ] {
                    assert!(files.iter().any(|f| f.contains(plugin)), "{plugin}");
                }
                let apps = files.iter().filter(|f| f.contains("_templates/app.hcl")).count();
                assert_eq!(apps, 1000 - 4 * 3 - 20 * 3, "4 platform namespaces, 20 app namespaces");
            }
        }
    }

    #[test]
    fn a_namespace_lists_exactly_the_apps_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        // platform (3) + postgres, messaging, dapr + 2 apps.
        generate(dir.path(), Shape::Mixed, 8).unwrap();
        let ns = std::fs::read_to_string(dir.path().join("envs/env0/ns0/namespace.hcl")).unwrap();
        assert!(ns.contains(r#"apps = ["svc1", "svc2"]"#), "{ns}");
        assert!(dir.path().join("envs/env0/ns0/svc2/component.hcl").is_file());
        assert!(!dir.path().join("envs/env0/ns0/svc3").exists());
    }

    #[test]
    fn app_only_stacks_and_helm_values_describe_the_same_apps() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), Shape::AppOnly, 3).unwrap();
        assert!(!g.needs_secrets);
        let app = std::fs::read_to_string(dir.path().join("envs/bench/apps/app3/component.hcl")).unwrap();
        let values = helm_values(1..=3);
        for needle in ["registry.example/bench/app3:1.0.3", "app3.bench.example", "max = 5"] {
            assert!(app.contains(needle), "{needle} in {app}");
        }
        for needle in ["registry.example/bench/app3:1.0.3", "app3.bench.example", "max: 5"] {
            assert!(values.contains(needle), "{needle} in {values}");
        }
        assert_eq!(values.matches("- name: app").count(), 3);
    }
}
