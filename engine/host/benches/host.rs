//! Plugin host figures: cold load (compile), warm load (from the compiled
//! cache), and instantiate + plan latency over 10,000 calls; for a policy
//! plugin, instantiate + check of one component's objects instead.
//!
//! Run: CAPSTAN_BENCH_WASM=path/to/plugin.wasm cargo bench -p capstan-host --bench host
//! Optional: CAPSTAN_BENCH_INPUTS='{"json": "object"}' merged over the plugin's defaults
//! (a policy's params); CAPSTAN_BENCH_OBJECTS=file.json, the objects a policy checks
//! (a JSON array; default: one Deployment with one container);
//! CAPSTAN_BENCH_CALLS, CAPSTAN_BENCH_COLD_RUNS and CAPSTAN_BENCH_WARM_RUNS
//! to run fewer iterations (under valgrind, say, to count instructions).

#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use capstan_core::{CheckRequest, ComponentId, PlanRequest, PolicySubject};
use capstan_host::{CallContext, HostConfig, PluginHost};

const CALLS: usize = 10_000;
const COLD_RUNS: usize = 5;
const WARM_RUNS: usize = 200;

/// `default`, or the number in the environment variable `name`.
fn runs(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let Some(wasm) = std::env::var_os("CAPSTAN_BENCH_WASM").map(PathBuf::from) else {
        eprintln!(
            "CAPSTAN_BENCH_WASM is not set: point it at a plugin's .wasm, e.g.\n  \
             CAPSTAN_BENCH_WASM=target/wasm/wasm32-wasip2/plugin/guest_ok.wasm cargo bench -p capstan-host --bench host"
        );
        std::process::exit(2);
    };
    // cargo runs benches in the package's directory; the documented paths
    // are relative to the workspace root.
    let wasm = if wasm.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(wasm)
    } else {
        wasm
    };
    println!("# capstan-host benchmark");
    let inputs = std::env::var("CAPSTAN_BENCH_INPUTS")
        .map(|i| format!("CAPSTAN_BENCH_INPUTS='{i}' "))
        .unwrap_or_default();
    println!(
        "command: {inputs}CAPSTAN_BENCH_WASM={} cargo bench -p capstan-host --bench host",
        wasm.display()
    );
    let size = std::fs::metadata(&wasm).unwrap().len();
    println!("plugin:  {} ({} KiB)", wasm.display(), size / 1024);

    let (calls_n, cold_n, warm_n) = (
        runs("CAPSTAN_BENCH_CALLS", CALLS),
        runs("CAPSTAN_BENCH_COLD_RUNS", COLD_RUNS).max(1),
        runs("CAPSTAN_BENCH_WARM_RUNS", WARM_RUNS).max(1),
    );
    let cache = tempfile::tempdir().unwrap();
    let config = || HostConfig { cache_dir: Some(cache.path().to_owned()), ..HostConfig::default() };

    // Cold: an empty cache each time, so every load compiles.
    let mut cold = Vec::new();
    let mut cold_total = Vec::new();
    for _ in 0..cold_n {
        let _ = std::fs::remove_dir_all(cache.path());
        let host = PluginHost::new(config()).unwrap();
        let started = Instant::now();
        let plugin = host.load_file(&wasm).unwrap();
        cold_total.push(started.elapsed());
        assert!(!plugin.load_info().from_cache);
        cold.push(plugin.load_info().elapsed);
    }

    // Warm: a new host (as in a new process) finding the compiled plugin cached.
    let mut warm = Vec::new();
    let mut warm_total = Vec::new();
    for _ in 0..warm_n {
        let host = PluginHost::new(config()).unwrap();
        let started = Instant::now();
        let plugin = host.load_file(&wasm).unwrap();
        warm_total.push(started.elapsed());
        assert!(plugin.load_info().from_cache);
        warm.push(plugin.load_info().elapsed);
    }

    let host = PluginHost::new(config()).unwrap();
    let plugin = host.load_file(&wasm).unwrap();
    let meta = plugin.metadata();
    println!("plugin:  {} {} ({}/{})", meta.name, meta.version, meta.component_type, meta.backend);
    let request = request(&meta.defaults);
    let cx = CallContext::for_component(request.component.clone());
    let check = check_request(&request);
    // One call of the plugin's work: a plan, or a policy's check; the
    // number of objects it planned or was handed.
    let call_once = || -> usize {
        if plugin.is_policy() {
            return match plugin.check(&cx, &check) {
                Ok(Ok(_violations)) => check.objects.len(),
                Ok(Err(refused)) => panic!("the policy refused the benchmark params: {refused}"),
                Err(err) => panic!("{err}"),
            };
        }
        match plugin.plan(&cx, &request) {
            Ok(Ok(plan)) => plan.objects.len(),
            Ok(Err(refused)) => {
                panic!("the plugin refused the benchmark inputs (set CAPSTAN_BENCH_INPUTS): {refused}")
            }
            Err(err) => panic!("{err}"),
        }
    };
    let objects = call_once();
    for _ in 0..200 {
        call_once();
    }
    let mut calls = Vec::with_capacity(calls_n.max(1));
    let faults_before = minor_faults();
    let started = Instant::now();
    for _ in 0..calls_n.max(1) {
        let t = Instant::now();
        std::hint::black_box(call_once());
        calls.push(t.elapsed());
    }
    let wall = started.elapsed();
    let faults = minor_faults().zip(faults_before).map(|(after, before)| after - before);

    println!();
    println!("cold load, compile + pre-instantiate ({cold_n} runs):  p50 {}", fmt(pct(&mut cold, 50.0)));
    println!("cold load, incl. describe call:                  p50 {}", fmt(pct(&mut cold_total, 50.0)));
    println!(
        "warm load from cache + pre-instantiate ({warm_n} runs): p50 {}  p99 {}",
        fmt(pct(&mut warm, 50.0)),
        fmt(pct(&mut warm, 99.0))
    );
    println!("warm load, incl. describe call:                  p50 {}", fmt(pct(&mut warm_total, 50.0)));
    println!(
        "instantiate + {} ({} calls, {objects} objects each): p50 {}  p90 {}  p99 {}  mean {}",
        if plugin.is_policy() { "check" } else { "plan" },
        calls.len(),
        fmt(pct(&mut calls, 50.0)),
        fmt(pct(&mut calls, 90.0)),
        fmt(pct(&mut calls, 99.0)),
        fmt(wall / u32::try_from(calls.len()).unwrap())
    );
    if let Some(faults) = faults {
        // A fresh instance touches its linear memory anew: every page it
        // uses is a page fault, a cost that grows with the guest's footprint.
        #[allow(clippy::cast_precision_loss, reason = "an average for display")]
        let per_call = faults as f64 / calls.len() as f64;
        println!("minor page faults per call: {per_call:.1}");
    }
}

/// Minor page faults of this process so far (Linux), from `/proc/self/stat`.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Field 10 (minflt), counted after the parenthesised command name.
    stat.rsplit_once(')')?.1.split_whitespace().nth(7)?.parse().ok()
}

/// A request for `staging/core/bench` whose inputs are the plugin's defaults
/// with `CAPSTAN_BENCH_INPUTS` merged over them (top-level keys).
fn request(defaults: &str) -> PlanRequest {
    let mut inputs: serde_json::Value =
        serde_norway::from_str(defaults).unwrap_or_else(|_| serde_json::json!({}));
    if inputs.is_null() {
        inputs = serde_json::json!({});
    }
    if let Ok(extra) = std::env::var("CAPSTAN_BENCH_INPUTS") {
        let extra: serde_json::Value = serde_json::from_str(&extra).expect("CAPSTAN_BENCH_INPUTS is JSON");
        if let (Some(base), Some(extra)) = (inputs.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
    }
    PlanRequest {
        component: ComponentId {
            name: "bench".into(),
            environment: "staging".into(),
            namespace: "core".into(),
        },
        inputs,
        sensitive_paths: vec![],
        dependencies: vec![],
        files: vec![],
        effect_results: vec![],
    }
}

/// What a policy is asked in the benchmark: the objects of
/// `CAPSTAN_BENCH_OBJECTS`, or one Deployment; params as `request` built
/// the inputs.
fn check_request(request: &PlanRequest) -> CheckRequest {
    let objects = match std::env::var_os("CAPSTAN_BENCH_OBJECTS") {
        Some(file) => serde_json::from_slice(&std::fs::read(file).unwrap())
            .expect("CAPSTAN_BENCH_OBJECTS holds a JSON array"),
        None => vec![serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bench", "namespace": "core", "labels": {"app.kubernetes.io/name": "bench"}},
            "spec": {"replicas": 2, "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "bench"}},
                "spec": {"containers": [{
                    "name": "app", "image": "registry.example/api:1.2.3",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                    "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                    "readinessProbe": {"tcpSocket": {"port": 8080}}
                }]}
            }}
        })],
    };
    CheckRequest {
        subject: PolicySubject {
            name: request.component.name.clone(),
            environment: request.component.environment.clone(),
            namespace: request.component.namespace.clone(),
            component_type: "app".into(),
            plugin: "capstan/app".into(),
        },
        objects,
        params: request.inputs.clone(),
    }
}

fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

fn fmt(d: Duration) -> String {
    if d >= Duration::from_millis(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    }
}
