//! The plugin host against hostile guests. Every test that makes a guest
//! misbehave then checks that the same `PluginHost` still plans the
//! well-behaved guest correctly: one bad plugin must not take the engine down.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capstan_core::{Capability, ComponentId, Diagnostic, Health, LogLevel, PlanError, PlanRequest, Severity};
use capstan_host::{
    CallContext, CallError, CallFailure, HostConfig, HostError, LogSink, Plugin, PluginHost,
    TRUNCATION_MARKER,
};
use serde_json::{Value, json};

/// One log entry: plugin, component, level, message.
type Entry = (String, Option<String>, LogLevel, String);

/// Everything guests printed or logged, for assertions and failure messages.
#[derive(Default)]
struct Recorder(Mutex<Vec<Entry>>);

impl LogSink for Recorder {
    fn log(&self, plugin: &str, component: Option<&ComponentId>, level: LogLevel, message: &str) {
        let component = component.map(ToString::to_string);
        self.0.lock().unwrap().push((plugin.to_owned(), component, level, message.to_owned()));
    }
}

impl Recorder {
    fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|(_, _, _, m)| m.clone()).collect()
    }

    /// The captured output, shortened, for failure messages.
    fn dump(&self) -> String {
        let entries = self.0.lock().unwrap();
        let mut out = format!("{} log entries", entries.len());
        for (plugin, component, level, message) in entries.iter().take(20) {
            let message: String = message.chars().take(200).collect();
            out.push_str(&format!("\n  [{level:?}] {plugin} {component:?}: {message}"));
        }
        out
    }
}

struct Harness {
    host: PluginHost,
    logs: Arc<Recorder>,
}

/// Compiled guests are cached across the tests of one run, as in production.
fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("host-cache")
}

fn harness(configure: impl FnOnce(&mut HostConfig)) -> Harness {
    let logs = Arc::new(Recorder::default());
    let mut config =
        HostConfig { cache_dir: Some(shared_cache()), log_sink: logs.clone(), ..HostConfig::default() };
    configure(&mut config);
    Harness { host: PluginHost::new(config).unwrap(), logs }
}

impl Harness {
    fn load(&self, guest: &str) -> Plugin {
        let wasm = capstan_tests::guest(guest);
        self.host
            .load_file(wasm)
            .unwrap_or_else(|err| panic!("loading {}: {err}\n{}", wasm.display(), self.logs.dump()))
    }

    /// Plans `guest` for the component `staging/core/api`, expecting the call to fail.
    fn plan_fails(&self, guest: &str, inputs: Value) -> CallError {
        let plugin = self.load(guest);
        match plugin.plan(&cx(), &request(inputs)) {
            Err(err) => err,
            Ok(answer) => {
                panic!("planning with guest {guest} should fail, got {answer:?}\n{}", self.logs.dump())
            }
        }
    }

    /// The check after every hostile call: the same host plans the
    /// well-behaved guest correctly.
    fn still_plans(&self) {
        let plugin = self.load("ok");
        let plan = plugin
            .plan(&cx(), &request(json!({"greeting": "hello"})))
            .unwrap_or_else(|err| {
                panic!("the well-behaved guest failed after a hostile one: {err}\n{}", self.logs.dump())
            })
            .unwrap_or_else(|err| panic!("the well-behaved guest refused to plan: {err}"));
        assert_eq!(
            plan.objects,
            vec![json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "api-config", "namespace": "core"},
                "data": {"greeting": "hello", "files": "0"},
            })]
        );
        assert_eq!(plan.outputs.len(), 1);
        assert_eq!(
            (plan.outputs[0].name.as_str(), &plan.outputs[0].value),
            ("config-map", &json!("api-config"))
        );
    }
}

fn component() -> ComponentId {
    ComponentId { name: "api".into(), environment: "staging".into(), namespace: "core".into() }
}

fn cx() -> CallContext {
    CallContext::for_component(component())
}

fn request(inputs: Value) -> PlanRequest {
    PlanRequest {
        component: component(),
        inputs,
        sensitive_paths: vec![],
        dependencies: vec![],
        files: vec![],
        effect_results: vec![],
    }
}

#[test]
fn well_behaved_guest_answers_every_export() {
    let h = harness(|_| {});
    let plugin = h.load("ok");
    let m = plugin.metadata();
    assert_eq!((m.name.as_str(), m.version.to_string().as_str()), ("test/ok", "0.1.0"));
    assert_eq!(m.input_schema["properties"]["greeting"]["type"], "string");
    assert_eq!(m.defaults, "greeting: hello\n");
    assert_eq!(m.capabilities, vec![Capability::Sql("main".into()), Capability::ReadComponentDir]);
    let published = m.outputs_contract.as_ref().expect("the guest publishes its type's contract");
    assert_eq!(published.version, 2);
    assert_eq!(published.schema, json!({"type": "object", "required": ["config-map"]}));
    let kit = published.kit.as_ref().expect("the guest publishes its type's kit");
    assert_eq!(kit["cases"][0]["name"], "a greeting");
    assert_eq!(plugin.digest().len(), 64);
    assert_eq!(plugin.label(), "test/ok 0.1.0");

    assert_eq!(plugin.validate(&cx(), &json!({"greeting": "hi"})).unwrap(), vec![]);
    let diags = plugin.validate(&cx(), &json!({"greeting": ""})).unwrap();
    assert_eq!(diags.len(), 1);
    assert_eq!((diags[0].path.as_str(), diags[0].severity), ("/greeting", Severity::Error));

    h.still_plans();
    // A plan's warnings (contract 0.2) come back beside its objects.
    let shouted = plugin.plan(&cx(), &request(json!({"greeting": "HI"}))).unwrap().unwrap();
    assert_eq!(shouted.objects.len(), 1);
    assert_eq!(shouted.warnings, [Diagnostic::warning("/greeting", "shouted")]);
    assert!(plugin.plan(&cx(), &request(json!({"greeting": "hi"}))).unwrap().unwrap().warnings.is_empty());
    // A plugin's own refusal is a value, not a failure of the call.
    match plugin.plan(&cx(), &request(json!({}))).unwrap() {
        Err(PlanError::InvalidInputs(d)) => assert_eq!(d[0].message, "greeting is required"),
        other => panic!("expected invalid inputs, got {other:?}"),
    }

    assert_eq!(plugin.health(&cx(), &json!({"status": {"phase": "Ready"}})).unwrap(), Health::Ready);
    assert_eq!(
        plugin.health(&cx(), &json!({"status": {"phase": "Pending"}})).unwrap(),
        Health::Progressing("phase is Pending".into())
    );
    assert_eq!(plugin.health(&cx(), &json!({})).unwrap(), Health::Degraded("no status".into()));

    // The `log` import reaches the sink tagged with plugin and component.
    let logs = h.logs.0.lock().unwrap();
    assert!(
        logs.iter().any(|(p, c, l, m)| p == "test/ok 0.1.0"
            && c.as_deref() == Some("staging/core/api")
            && *l == LogLevel::Info
            && m == "planning api"),
        "no tagged log entry in {logs:?}"
    );
}

#[test]
fn infinite_loop_is_stopped_by_the_time_limit() {
    let h = harness(|c| c.call_timeout = Duration::from_secs(1));
    let plugin = h.load("loop");
    let started = Instant::now();
    let err = plugin.plan(&cx(), &request(json!({}))).expect_err("a loop cannot finish");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "stopped only after {elapsed:?}");
    assert!(elapsed >= Duration::from_secs(1), "stopped before its limit, after {elapsed:?}");
    assert_eq!(err.cause, CallFailure::Timeout { limit: Duration::from_secs(1) });
    assert_eq!(
        err.to_string(),
        "plugin test/loop 0.1.0 failed for component staging/core/api: exceeded its time limit of 1s"
    );
    h.still_plans();
}

#[test]
fn sleeping_cannot_hold_the_host_past_the_time_limit() {
    let h = harness(|c| c.call_timeout = Duration::from_secs(1));
    let plugin = h.load("sleep");
    let started = Instant::now();
    let answer = plugin.plan(&cx(), &request(json!({})));
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "an hour's sleep held the host for {elapsed:?}");
    // Timers fire at once inside the sandbox: a pure plugin has nothing to wait for.
    assert!(matches!(answer, Ok(Ok(_))), "{answer:?}");
    h.still_plans();
}

#[test]
fn allocating_a_gibibyte_hits_the_memory_limit() {
    let h = harness(|_| {});
    let err = h.plan_fails("oom", json!({}));
    assert_eq!(err.cause, CallFailure::OutOfMemory { limit: 64 * 1024 * 1024 }, "{err}\n{}", h.logs.dump());
    assert!(err.to_string().ends_with("exceeded its memory limit of 64 MiB"), "{err}");
    h.still_plans();
}

#[test]
fn unbounded_recursion_is_a_stack_overflow() {
    let h = harness(|_| {});
    let err = h.plan_fails("recurse", json!({}));
    assert_eq!(err.cause, CallFailure::StackOverflow, "{err}\n{}", h.logs.dump());
    assert_eq!(err.plugin.as_ref(), "test/recurse 0.1.0");
    h.still_plans();
}

#[test]
fn panic_is_reported_with_its_message() {
    let h = harness(|_| {});
    let err = h.plan_fails("panic", json!({}));
    let CallFailure::Panic { message } = &err.cause else {
        panic!("expected a panic, got {err}\n{}", h.logs.dump());
    };
    assert!(message.starts_with("the frobnicator of api is out of frobs (at "), "{message}");
    assert!(err.to_string().contains("for component staging/core/api: panicked: the frobnicator"), "{err}");
    // What the guest wrote to stderr before panicking reaches the log.
    assert!(h.logs.messages().contains(&"about to fail for api".to_owned()), "{}", h.logs.dump());
    h.still_plans();
}

/// Reads the JSON report the `fs` guest returns as its plan error.
fn fs_report(h: &Harness, cx: &CallContext) -> Value {
    let plugin = h.load("fs");
    match plugin.plan(cx, &request(json!({}))) {
        Ok(Err(PlanError::Failed(report))) => serde_json::from_str(&report).unwrap(),
        other => panic!("the fs guest reports by failing, got {other:?}\n{}", h.logs.dump()),
    }
}

fn assert_denied(report: &Value, attempt: &str) {
    let got = report[attempt].as_str().unwrap_or_default();
    assert!(got.starts_with("denied: "), "{attempt} was not denied: {got:?} (report: {report})");
}

#[test]
fn files_outside_the_sandbox_are_denied() {
    let h = harness(|_| {});
    // No grant: no filesystem at all.
    let report = fs_report(&h, &cx());
    for attempt in ["passwd", "root", "inside", "escape", "write"] {
        assert_denied(&report, attempt);
    }
    h.still_plans();

    // Granted: the component's own directory, read-only, and nothing beside it.
    let stack = tempfile::tempdir().unwrap();
    let dir = stack.path().join("api");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("component.hcl"), "component \"api\" {}\n").unwrap();
    std::fs::write(stack.path().join("outside.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(stack.path().join("outside.txt"), dir.join("link-to-outside")).unwrap();
    let granted = CallContext {
        component: Some(component()),
        component_dir: Some(dir.clone()),
        ..CallContext::default()
    };
    let report = fs_report(&h, &granted);
    assert_eq!(report["inside"], "read 19 bytes", "report: {report}");
    for attempt in ["passwd", "root", "escape", "escape-abs", "symlink", "write"] {
        assert_denied(&report, attempt);
    }
    assert!(!dir.join("planted.txt").exists());
    h.still_plans();
}

#[test]
fn flooding_output_is_truncated_with_a_marker() {
    let cap = 64 * 1024;
    for via in ["stdout", "log"] {
        // 100 MB through the host takes a while in a debug build; this test is about output, not time.
        let h = harness(|c| {
            c.log_cap = cap;
            c.call_timeout = Duration::from_secs(60);
        });
        let plugin = h.load("flood");
        let answer = plugin.plan(&cx(), &request(json!({"via": via})));
        assert!(matches!(answer, Ok(Ok(_))), "flooding via {via} must not fail the call: {answer:?}");
        let messages = h.logs.messages();
        assert_eq!(
            messages.last().map(String::as_str),
            Some(TRUNCATION_MARKER),
            "via {via}: {}",
            h.logs.dump()
        );
        let kept: usize = messages.iter().map(String::len).sum();
        assert!(kept <= cap + TRUNCATION_MARKER.len(), "via {via}: kept {kept} bytes, cap {cap}");
        assert!(kept >= cap / 2, "via {via}: kept only {kept} bytes");
        h.still_plans();
    }
}

#[test]
fn output_that_breaks_the_contract_is_a_contract_error() {
    let h = harness(|_| {});
    let cases = [
        ("not-json", "object #0 is not valid JSON"),
        ("not-object", "object #0 is not a JSON object"),
        ("no-kind", "object #0 has no kind"),
        ("no-name", "object #0 (ConfigMap) has no metadata.name"),
        ("bad-output-value", "output \"x\" is not valid JSON"),
    ];
    for (case, reason) in cases {
        let err = h.plan_fails("bad-output", json!({"case": case}));
        let CallFailure::BadOutput { reason: got } = &err.cause else {
            panic!("case {case}: expected a contract error, got {err}");
        };
        assert!(got.starts_with(reason), "case {case}: {got:?} does not start with {reason:?}");
        assert!(err.to_string().contains("returned output that breaks the contract"), "{err}");
    }
    h.still_plans();
}

#[test]
fn metadata_that_breaks_the_contract_refuses_the_load() {
    let h = harness(|_| {});
    let wasm = capstan_tests::guest("bad-metadata");
    let err = h.host.load_file(wasm).expect_err("bad metadata must not load");
    let HostError::Describe { plugin, cause: CallFailure::BadOutput { reason } } = &err else {
        panic!("expected a describe error, got {err}");
    };
    assert_eq!(plugin, &wasm.display().to_string());
    assert!(reason.starts_with("metadata.version \"version one\" is not a semver version"), "{reason}");
    h.still_plans();
}

#[test]
fn a_plugin_for_another_contract_version_is_refused_before_it_runs() {
    let h = harness(|_| {});
    let wasm = capstan_tests::guest("contract-v9");
    let err = h.host.load_file(wasm).expect_err("a 9.0.0 plugin must not load");
    assert!(matches!(err, HostError::IncompatibleContract { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&wasm.display().to_string()), "{msg}");
    assert!(msg.contains("built for contract capstan:plugin@9.0.0"), "{msg}");
    assert!(msg.contains("this engine hosts capstan:plugin 0.2.0 and 0.1.0"), "{msg}");
    h.still_plans();
}

#[test]
fn a_plugin_built_against_contract_0_1_still_runs() {
    let h = harness(|_| {});
    let old = h.load("contract-v01");
    assert_eq!(old.contract(), capstan_core::HOSTED_CONTRACTS[1]);
    assert_eq!(h.load("ok").contract(), capstan_core::CONTRACT_VERSION);
    let meta = old.metadata();
    assert_eq!((meta.name.as_str(), meta.version.to_string().as_str()), ("test/contract-v01", "0.1.7"));
    assert_eq!(meta.capabilities, vec![Capability::Sql("main".into()), Capability::Amqp("broker".into())]);

    let diagnostics = old.validate(&cx(), &json!({"role": "ledger"})).unwrap();
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(
        (diagnostics[0].path.as_str(), diagnostics[0].severity, diagnostics[0].message.as_str()),
        ("/role", Severity::Warning, "roles are old-fashioned")
    );

    let mut req = request(json!({"role": "ledger", "password": "s3cret-0.1"}));
    req.sensitive_paths = vec!["/password".into()];
    req.dependencies = vec![capstan_core::Dependency {
        name: "db".into(),
        component_type: "postgres".into(),
        outputs: Arc::from(vec![capstan_core::Output {
            name: "host".into(),
            value: json!("pg"),
            sensitive: false,
        }]),
    }];
    let plan = old.plan(&cx(), &req).unwrap().unwrap();
    assert_eq!(
        plan.objects,
        vec![json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "api"}, "data": {"dependencies": "1"},
        })]
    );
    let [effect] = plan.effects.as_slice() else { panic!("one effect: {:?}", plan.effects) };
    assert_eq!((effect.id.as_str(), effect.target.as_str()), ("role", "main"));
    let capstan_core::EffectKind::Sql(ops) = &effect.kind else { panic!("a SQL effect: {effect:?}") };
    let [capstan_core::SqlOp::EnsureRole(role)] = ops.as_slice() else { panic!("one role: {ops:?}") };
    assert_eq!(role.name, "ledger");
    assert_eq!(role.password.as_ref().map(|p| p.expose()), Some("s3cret-0.1"));
    assert_eq!(plan.outputs.len(), 1);
    assert_eq!((plan.outputs[0].name.as_str(), &plan.outputs[0].value), ("role", &json!("ledger")));
    let logged = h.logs.0.lock().unwrap().clone();
    assert!(
        logged.iter().any(|(plugin, _, level, message)| plugin == "test/contract-v01 0.1.7"
            && *level == LogLevel::Warn
            && message == "planning api the 0.1 way"),
        "{}",
        h.logs.dump()
    );

    let health = old.health(&cx(), &json!({"kind": "ConfigMap"})).unwrap();
    assert_eq!(health, Health::Progressing("20 bytes looked at".into()));
    h.still_plans();
}

#[test]
fn bytes_that_are_not_a_component_are_refused_with_the_plugin_named() {
    let h = harness(|_| {});
    let err = h.host.load_bytes("plugins/garbage.wasm", b"\0asm not really").expect_err("garbage");
    assert!(matches!(err, HostError::Compile { .. }), "{err}");
    assert!(
        err.to_string().starts_with("plugin plugins/garbage.wasm is not a valid WebAssembly component"),
        "{err}"
    );
    h.still_plans();
}

fn cached_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(cached_files(&path));
        } else if path.extension().is_some_and(|e| e == "cwasm") {
            found.push(path);
        }
    }
    found
}

#[test]
fn compiled_plugins_are_cached_and_a_corrupt_cache_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = capstan_tests::guest("ok");
    let new_host = || {
        PluginHost::new(HostConfig { cache_dir: Some(cache.path().to_owned()), ..HostConfig::default() })
            .unwrap()
    };

    let cold = new_host().load_file(wasm).unwrap();
    assert!(!cold.load_info().from_cache);
    let files = cached_files(cache.path());
    assert_eq!(files.len(), 1, "one compiled plugin in {files:?}");
    assert!(files[0].to_string_lossy().contains(cold.digest()), "{files:?} keyed by {}", cold.digest());

    // A second process (a new host) loads the compiled code instead of compiling.
    let warm = new_host().load_file(wasm).unwrap();
    assert!(warm.load_info().from_cache);
    assert!(
        warm.load_info().elapsed * 5 < cold.load_info().elapsed,
        "warm load {:?} is not much faster than cold {:?}",
        warm.load_info().elapsed,
        cold.load_info().elapsed
    );

    // Flip one byte deep in the compiled code: the host must notice and compile again.
    drop(warm);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&files[0], &bytes).unwrap();
    let host = new_host();
    let recompiled = host.load_file(wasm).unwrap();
    assert!(!recompiled.load_info().from_cache);
    let plan = recompiled.plan(&cx(), &request(json!({"greeting": "again"}))).unwrap().unwrap();
    assert_eq!(plan.objects[0]["data"]["greeting"], "again");
    // ...and the rewritten entry is good again.
    assert!(new_host().load_file(wasm).unwrap().load_info().from_cache);

    // A truncated file too.
    std::fs::write(&files[0], &bytes[..10]).unwrap();
    assert!(!new_host().load_file(wasm).unwrap().load_info().from_cache);
}

/// The mode bits (permissions) of a file or directory.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_rewritten_cache_entry_is_recompiled_never_loaded() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("compiled");
    let new_host =
        || PluginHost::new(HostConfig { cache_dir: Some(dir.clone()), ..HostConfig::default() }).unwrap();
    let (ok, pure) = (capstan_tests::guest("ok"), capstan_tests::guest("pure"));

    // The cache directory is the user's alone, and so is the key of its MACs.
    let cold = new_host().load_file(ok).unwrap();
    assert!(!cold.load_info().from_cache);
    let other = new_host().load_file(pure).unwrap();
    assert_eq!((mode(&dir), mode(&dir.join("key"))), (0o700, 0o600));
    let entries = cached_files(&dir);
    assert_eq!(entries.len(), 2, "{entries:?}");
    let ok_entry = entries.iter().find(|p| p.to_string_lossy().contains(cold.digest())).unwrap();
    let pure_entry = entries.iter().find(|p| p.to_string_lossy().contains(other.digest())).unwrap();
    assert_eq!(mode(ok_entry.parent().unwrap()), 0o700);

    // Someone who can write the cache puts other compiled code, valid for
    // this very engine and carrying a MAC under the right key, in place of
    // ok's entry: the MAC covers the wasm digest, so it does not verify for
    // ok, and ok is compiled again. It is ok that loads, not the planted code.
    drop((cold, other));
    std::fs::copy(pure_entry, ok_entry).unwrap();
    let loaded = new_host().load_file(ok).unwrap();
    assert!(!loaded.load_info().from_cache, "the planted code was loaded");
    assert_eq!(loaded.metadata().name, "test/ok");
    let plan = loaded.plan(&cx(), &request(json!({"greeting": "mine"}))).unwrap().unwrap();
    assert_eq!(plan.objects[0]["data"]["greeting"], "mine");
    // The entry was replaced by ok's own code, which loads from the cache again.
    drop(loaded);
    let warm = new_host().load_file(ok).unwrap();
    assert!(warm.load_info().from_cache);
    assert_eq!(warm.metadata().name, "test/ok");
    drop(warm);

    // The same length, every byte but one the same (so a length or checksum
    // of the old kind could be made to match): recompiled.
    let mut bytes = std::fs::read(ok_entry).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(ok_entry, &bytes).unwrap();
    assert!(!new_host().load_file(ok).unwrap().load_info().from_cache);
    assert!(new_host().load_file(ok).unwrap().load_info().from_cache);
}

#[test]
fn a_cache_key_others_can_read_is_replaced_and_its_entries_recompiled() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("compiled");
    let new_host =
        || PluginHost::new(HostConfig { cache_dir: Some(dir.clone()), ..HostConfig::default() }).unwrap();
    let ok = capstan_tests::guest("ok");
    drop(new_host().load_file(ok).unwrap());
    let key = dir.join("key");
    let old_key = std::fs::read(&key).unwrap();
    assert_eq!(old_key.len(), 32);

    // The key became readable by others: it may be known, so it is replaced
    // (0600 again) and nothing it vouched for is loaded.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loaded = new_host().load_file(ok).unwrap();
    assert!(!loaded.load_info().from_cache, "an entry under an exposed key was loaded");
    assert_eq!(mode(&key), 0o600);
    assert_ne!(std::fs::read(&key).unwrap(), old_key, "the exposed key is still in use");
    assert!(new_host().load_file(ok).unwrap().load_info().from_cache);

    // A cache directory others may enter is narrowed to the user alone.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(new_host().load_file(ok).unwrap().load_info().from_cache);
    assert_eq!(mode(&dir), 0o700);
}

#[test]
fn one_plugin_serves_many_threads_at_once() {
    let h = harness(|c| c.max_concurrent_calls = 2);
    let plugin = h.load("ok");
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let plugin = plugin.clone();
                s.spawn(move || {
                    let greeting = format!("hello {i}");
                    let plan = plugin.plan(&cx(), &request(json!({"greeting": greeting}))).unwrap().unwrap();
                    assert_eq!(plan.objects[0]["data"]["greeting"], greeting);
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    });
}

/// Plans the `pure` guest for the component `staging/core/<name>` in a host
/// (an engine and stores) of its own, and returns what it read.
fn pure_plan(name: &str) -> (String, Value) {
    let h = harness(|_| {});
    let plugin = h.load("pure");
    let mut req = request(json!({}));
    req.component.name = name.into();
    let cx = CallContext::for_component(req.component.clone());
    let plan = plugin
        .plan(&cx, &req)
        .unwrap_or_else(|err| panic!("{err}\n{}", h.logs.dump()))
        .unwrap_or_else(|err| panic!("the pure guest refused to plan: {err}"));
    let text = serde_json::to_string(&plan.objects).unwrap();
    (text, plan.objects[0]["data"].clone())
}

#[test]
fn randomness_and_clocks_depend_only_on_the_plugin_and_the_component() {
    let (first, read) = pure_plan("api");
    let (second, _) = pure_plan("api");
    assert_eq!(first, second, "two plans of the same component differ");

    // The sources still look random, and the clocks stand still.
    for source in ["secure", "insecure"] {
        let hex = read[source].as_str().unwrap();
        assert_eq!(hex.len(), 64, "{source}: {hex}");
        assert_ne!(hex, "0".repeat(64), "{source} is all zeros");
    }
    assert_ne!(read["secure"], read["insecure"], "the secure and insecure streams are the same");
    assert_eq!(
        (read["wall-clock"].as_str(), read["monotonic-clock"].as_str()),
        (Some("0.000000000"), Some("0"))
    );

    // Another component draws another stream.
    let (_, other) = pure_plan("web");
    for source in ["secure", "secure-u64", "insecure", "insecure-u64", "insecure-seed", "std-hash-seed"] {
        assert_ne!(read[source], other[source], "{source} is the same for two components");
    }
}

/// The output limit of the default host configuration.
const OUTPUT_LIMIT: usize = 8 * 1024 * 1024;

/// Peak resident memory of this test process, from `/proc/self/status`.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[test]
fn every_export_returning_more_than_the_output_limit_fails_with_the_limit_named() {
    let h = harness(|_| {});
    let too_large = |export: &'static str| CallFailure::OutputTooLarge { export, limit: OUTPUT_LIMIT };

    // describe: the plugin does not load.
    let wasm = capstan_tests::guest("big-describe");
    let err = h.host.load_file(wasm).expect_err("a 12 MiB schema must not load");
    let HostError::Describe { cause, .. } = &err else { panic!("expected a describe error, got {err}") };
    assert_eq!(cause, &too_large("describe"), "{err}");
    assert!(
        err.to_string().ends_with("returned more than its output limit of 8 MiB from `describe`"),
        "{err}"
    );

    let plugin = h.load("big-output");
    let err = plugin.validate(&cx(), &json!({"huge": "validate"})).expect_err("validate over the limit");
    assert_eq!(err.cause, too_large("validate"), "{err}");
    let err = plugin.plan(&cx(), &request(json!({"huge": "plan"}))).expect_err("plan over the limit");
    assert_eq!(err.cause, too_large("plan"), "{err}");
    assert_eq!(
        err.to_string(),
        "plugin test/big-output 0.1.0 failed for component staging/core/api: \
         returned more than its output limit of 8 MiB from `plan`"
    );
    // Validate passes, then plan is too large: the export named is plan's.
    let err = plugin.validate_and_plan(&cx(), &request(json!({"huge": "plan"}))).expect_err("over the limit");
    assert_eq!(err.cause, too_large("plan"), "{err}");
    let err = plugin.health(&cx(), &json!({"huge": true})).expect_err("health over the limit");
    assert_eq!(err.cause, too_large("health"), "{err}");

    // The same plugin, within the limit, answers; the host plans others.
    let small = plugin.plan(&cx(), &request(json!({}))).unwrap().unwrap();
    assert_eq!(small.objects[0]["metadata"]["name"], "small");
    h.still_plans();
    // Nothing near the guests' 12 MiB answers was copied into the host, let
    // alone parsed: the whole test process stays far under 512 MiB.
    let peak = peak_rss_bytes();
    assert!(peak < 512 * 1024 * 1024, "peak resident memory {} MiB", peak / 1024 / 1024);
}

#[test]
fn a_plugin_can_be_given_its_own_limits() {
    let h = harness(|_| {});
    let plugin = h.load("big-output");
    let roomy = capstan_host::Limits { output: 32 * 1024 * 1024, ..plugin.limits() };
    let plan =
        plugin.with_limits(roomy).unwrap().plan(&cx(), &request(json!({"huge": "plan"}))).unwrap().unwrap();
    assert_eq!(plan.objects[0]["data"]["x"].as_str().map(str::len), Some(12 * 1024 * 1024));

    let tight = capstan_host::Limits { output: 64, ..plugin.limits() };
    let err = plugin
        .with_limits(tight)
        .unwrap()
        .plan(&cx(), &request(json!({})))
        .expect_err("64 bytes is too little");
    assert_eq!(err.cause, CallFailure::OutputTooLarge { export: "plan", limit: 64 });

    let greedy = capstan_host::Limits { memory: 1024 * 1024 * 1024, ..plugin.limits() };
    let err = plugin.with_limits(greedy).expect_err("memory above the instance slots");
    assert!(matches!(err, HostError::MemoryAbovePool { .. }), "{err}");
}
