//! The `capstan/app` plugin's plan, natively, and YAML rendering of what it
//! plans: the engine-side cost per component that is neither wasm nor I/O.
//!
//! `cargo bench -p capstan-bench --bench render` (release). The inputs are
//! those of the app-only benchmark stack (`capstan-bench gen --app-only`):
//! six objects per app (Deployment, Service, HPA, PDB, Ingress,
//! ServiceMonitor). Native plan time is the floor under the wasm figure of
//! `engine/host/benches/host.rs`: the difference is the sandbox.
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::time::{Duration, Instant};

use capstan_plugin_app::App;
use capstan_sdk::Plugin as _;
use capstan_sdk::testkit::{PlanCall, defaults_of, merge};
use serde_json::json;

const COMPONENTS: usize = 1000;
const ROUNDS: usize = 5;

fn main() {
    let mut inputs = defaults_of(&App::metadata());
    merge(
        &mut inputs,
        json!({
            "image": "registry.example/bench/app1:1.0.1",
            "port": 8080,
            "health_path": "/health",
            "env": { "LOG_LEVEL": "info", "APP_NAME": "app1" },
            "autoscaling": { "min": 2, "max": 3, "cpu": 75 },
            "pdb": { "min_available": 1 },
            "ingress": { "host": "app1.bench.example", "path": "/", "class": "nginx" },
            "service_monitor": { "path": "/metrics", "interval": "30s" },
        }),
    );
    let request = PlanCall::new(inputs).component("bench", "apps", "app1").request();

    // Native plan, as many calls as a 1,000-component stack makes.
    let mut plan_times = Vec::with_capacity(COMPONENTS * ROUNDS);
    let mut objects = Vec::new();
    for _ in 0..COMPONENTS * ROUNDS {
        let t = Instant::now();
        let plan = App::plan(&request).unwrap();
        plan_times.push(t.elapsed());
        objects = plan.objects;
    }

    // YAML of every object of 1,000 components, best of ROUNDS.
    let mut best = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        bytes = 0;
        for _ in 0..COMPONENTS {
            for object in &objects {
                bytes += std::hint::black_box(capstan_render::to_yaml(object).unwrap()).len();
            }
        }
        best = best.min(t.elapsed());
    }

    plan_times.sort_unstable();
    let pct = |p: usize| plan_times[(plan_times.len() * p / 100).min(plan_times.len() - 1)];
    println!("# capstan-bench render: the app plugin's plan (native) and YAML rendering");
    println!("command: cargo bench -p capstan-bench --bench render");
    println!(
        "native plan, {} calls ({} objects each): p50 {:.1} µs  p99 {:.1} µs",
        plan_times.len(),
        objects.len(),
        pct(50).as_secs_f64() * 1e6,
        pct(99).as_secs_f64() * 1e6
    );
    #[allow(clippy::cast_precision_loss, reason = "figures for display")]
    let per_object = best.as_secs_f64() * 1e6 / (COMPONENTS * objects.len()) as f64;
    println!(
        "to_yaml of {} objects ({} KiB): {:.1} ms (best of {ROUNDS}), {per_object:.1} µs per object",
        COMPONENTS * objects.len(),
        bytes / 1024,
        best.as_secs_f64() * 1e3
    );
}
