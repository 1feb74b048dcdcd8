//! Loads and resolves a generated 1,000-component stack and prints the time.
//!
//! `cargo bench -p capstan-config --bench load` (release). The tree is the
//! mixed stack `capstan-bench gen` writes (see `bench/src/stack.rs`): every
//! built-in component type, apps that include a shared template, depend on
//! five components and have locals, inputs, a dependency output in HCL and a
//! values_custom heredoc, and passwords from an encrypted secrets file.
//! Evaluation must stay linear: levels are evaluated once each.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use capstan_bench::{Shape, write_stack};
use capstan_config::{Command, DependencyOutputs, LoadOptions, load};
use capstan_core::Output;
use capstan_secrets::{Env, RemoteSources, Secrets};
use serde_json::Value;

const COMPONENTS: usize = 1000;

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
    let (generated, key) = write_stack(dir.path(), Shape::Mixed, COMPONENTS).unwrap();
    let generated = generated.components;
    let secrets = Secrets::new(key.unwrap(), RemoteSources::new(Env::from_pairs::<String, String>([])));
    let options = LoadOptions { secrets: Some(Arc::new(secrets)), ..LoadOptions::default() };
    // Stand-ins for the plugins' schemas and defaults: this measures the
    // config layer alone (the plugins' own are exercised by `capstan plan`).
    let schema: Value = serde_json::json!({"type": "object"});
    let defaults = "replicas: 1\nservice:\n  port: 8080\n";
    // Every dependency answers with the one output the stack reads.
    let outputs = DependencyOutputs::new(vec![Output {
        name: "host".into(),
        value: serde_json::json!("db.internal"),
        sensitive: false,
    }]);

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
            let deps: BTreeMap<String, DependencyOutputs> =
                c.dependencies.keys().map(|name| (name.clone(), outputs.clone())).collect();
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
