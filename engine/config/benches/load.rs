//! Loads and resolves a generated 1,000-component stack and prints the time.
//!
//! `cargo bench -p capstan-config --bench load` (release). The tree: 4
//! environments × 5 namespaces × 50 components; each namespace has one
//! postgres component, every other component includes a shared template,
//! depends on that postgres, and has locals, inputs and a values_custom
//! heredoc. Evaluation must stay linear: levels are evaluated once each.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly")]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use capstan_config::{Command, DependencyOutputs, LoadOptions, load};
use serde_json::Value;

const ENVS: usize = 4;
const NAMESPACES: usize = 5;
const PER_NAMESPACE: usize = 50;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn generate(root: &Path) -> usize {
    write(
        root,
        "client.hcl",
        "locals {\n  org = \"opus\"\n}\nregistry = \"registry.example/oof\"\nstate {\n  backend = \"local\"\n}\n",
    );
    write(
        root,
        "_templates/app.hcl",
        r#"component {
  type    = "app"
  plugin  = "capstan/app-kubernetes"
  version = "^0.1"
}

dependency "db" {
  config_path = "../postgres"
  mock_outputs = { host = "mock", port = 5432 }
  mock_outputs_allowed_commands = ["plan", "validate"]
}

inputs = {
  image  = "${local.client.registry}/app:${local.env.app_version}"
  labels = { org = local.client.org, env = local.env.environment }
}
"#,
    );
    let mut count = 0;
    for e in 0..ENVS {
        let env = format!("env{e}");
        write(
            root,
            &format!("envs/{env}/env.hcl"),
            &format!(
                "locals {{\n  environment = \"{env}\"\n}}\napp_version = \"1.{e}.0\"\nmessaging_backend = \"rabbitmq\"\nreplicas = {}\n",
                e + 1
            ),
        );
        for n in 0..NAMESPACES {
            let ns = format!("envs/{env}/ns{n}");
            write(
                root,
                &format!("{ns}/namespace.hcl"),
                &format!("namespace = \"ns{n}-${{local.env.environment}}\"\n"),
            );
            write(
                root,
                &format!("{ns}/postgres/component.hcl"),
                "component {\n  type = \"postgres\"\n  plugin = \"capstan/postgres-cloudnative-pg\"\n}\ninputs = {\n  databases = [\"app\"]\n}\n",
            );
            count += 1;
            for c in 1..PER_NAMESPACE {
                write(
                    root,
                    &format!("{ns}/svc{c}/component.hcl"),
                    &format!(
                        r#"include "app" {{
  path           = "../../../../_templates/app.hcl"
  expose         = true
  merge_strategy = "deep"
}}

locals {{
  name  = "svc{c}"
  ports = [8080, 8081, 9090]
}}

inputs = {{
  name         = local.name
  replicas     = local.env.replicas
  database_url = "postgres://${{local.name}}@${{dependency.db.outputs.host}}:${{dependency.db.outputs.port}}/app"
  ports        = {{ for p in local.ports : "p${{p}}" => p }}
  host         = lower("${{local.name}}.${{local.namespace.namespace}}.example")
}}

values_custom = <<-YAML
  resources:
    limits:
      memory: 512Mi
  annotations:
    team: ${{local.namespace.namespace}}
YAML
"#
                    ),
                );
                count += 1;
            }
        }
    }
    count
}

/// CPU time (user + system) this thread has used, in nanoseconds (Linux,
/// 10 ms resolution), so the figure means something on a busy machine where
/// wall time includes waiting for a core.
fn cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks * 10_000_000)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(dir.path());
    let options = LoadOptions::default();
    let schema: Value = serde_json::json!({"type": "object", "required": ["replicas"]});
    let defaults = "replicas: 1\nservice:\n  port: 8080\n";
    let no_outputs: BTreeMap<String, DependencyOutputs> =
        [("db".to_owned(), DependencyOutputs::default())].into_iter().collect();

    let mut best_load = Duration::MAX;
    let mut best_resolve = Duration::MAX;
    let (mut cpu_load, mut cpu_resolve) = (u64::MAX, u64::MAX);
    for _ in 0..5 {
        let c0 = cpu_ns();
        let t = Instant::now();
        let stack = load(dir.path(), &options).unwrap_or_else(|d| panic!("{d}"));
        let loaded = t.elapsed();
        let c1 = cpu_ns();
        assert_eq!(stack.components.len(), generated);
        let t = Instant::now();
        for key in stack.order() {
            let c = stack.component(key).unwrap();
            let deps = if c.dependencies.is_empty() { BTreeMap::new() } else { no_outputs.clone() };
            c.resolve_inputs(&deps, Command::Plan, defaults, &schema).unwrap_or_else(|d| panic!("{d}"));
        }
        let resolved = t.elapsed();
        if let (Some(c0), Some(c1), Some(c2)) = (c0, c1, cpu_ns()) {
            cpu_load = cpu_load.min(c1 - c0);
            cpu_resolve = cpu_resolve.min(c2 - c1);
        }
        best_load = best_load.min(loaded);
        best_resolve = best_resolve.min(resolved);
    }
    println!("capstan-config: {generated} components");
    println!("  load (parse + evaluate, phase 1):            {:>8.1} ms", best_load.as_secs_f64() * 1e3);
    println!("  resolve inputs (phase 2, merge + schema):    {:>8.1} ms", best_resolve.as_secs_f64() * 1e3);
    println!(
        "  total:                                       {:>8.1} ms (best of 5)",
        (best_load + best_resolve).as_secs_f64() * 1e3
    );
    if cpu_load != u64::MAX {
        #[allow(clippy::cast_precision_loss, reason = "milliseconds for display")]
        let ms = |ns: u64| ns as f64 / 1e6;
        println!(
            "  CPU time (user + system, best of 5, ±10 ms): load {:.0} ms + resolve {:.0} ms = {:.0} ms",
            ms(cpu_load),
            ms(cpu_resolve),
            ms(cpu_load + cpu_resolve)
        );
    }
}
