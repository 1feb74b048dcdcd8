//! The engine guards a run's secrets itself: a plugin that leaks its
//! sensitive input through any channel fails its component, naming the
//! plugin, the place and the input, and the value reaches no error, log,
//! event, plan, state or rendered file. The real engine runs here
//! (capstan-run over capstan-host and the render target, local state), on a
//! stack of `leaky` guests, one component per channel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use capstan_core::leaks::{Leak, LogStream, Place};
use capstan_core::{ComponentId, LogLevel};
use capstan_host::{CallContext, CallFailure, HostConfig, LogSink, PluginHost};
use capstan_plan::Outcome;
use capstan_run::{Engine, Events, LockfileMode, Notice, Phase, RunOptions, Surroundings, TargetChoice};

/// URL-special characters, so its percent-encoded form differs from it.
const SECRET: &str = "Tr0ub4dor p@ss/w&rd";

/// Each channel the guest can leak through (its `leak` input) and where the
/// engine must say it found the value.
const CHANNELS: &[(&str, &str)] = &[
    ("validate-diagnostic", "a diagnostic about /password"),
    ("plan-diagnostic", "a diagnostic about /password"),
    ("plan-warning", "a diagnostic about /password"),
    ("error", "its error message"),
    // Rust prints the panic to stderr before the call ends.
    ("panic", "a line of its stderr"),
    ("log", "a log line"),
    ("stdout", "a line of its stdout"),
    ("stderr", "a line of its stderr"),
    ("summary", "effect `role` field /summary"),
    ("plain-sql", "effect `role` field /kind/sql/0/statement/sql/plain"),
    ("output", "output `dsn`"),
    ("configmap", "ConfigMap leak field /data/value"),
    ("secret-metadata", "Secret annotated field /metadata/annotations/hint"),
    ("base64", "ConfigMap leak field /data/value"),
    ("url", "ConfigMap leak field /data/value"),
];

/// Every form of the secret a leak could take.
fn forms() -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let url: String =
        percent_encoding::utf8_percent_encode(SECRET, percent_encoding::NON_ALPHANUMERIC).collect();
    vec![SECRET.to_owned(), b64.encode(SECRET), b64.encode(format!("app:{SECRET}")), url]
}

fn holds_secret(text: &str) -> bool {
    forms().iter().any(|f| text.contains(f.as_str()))
}

/// Log lines and events, as the CLI would print them.
#[derive(Default)]
struct Said(Mutex<Vec<String>>);

impl LogSink for Said {
    fn log(&self, plugin: &str, component: Option<&ComponentId>, level: LogLevel, message: &str) {
        let component = component.map(ToString::to_string).unwrap_or_default();
        self.0.lock().unwrap().push(format!("[{level:?}] {plugin} {component}: {message}"));
    }
}

impl Events for Said {
    fn phase(&self, component: &str, phase: Phase, detail: Option<&str>) {
        self.0.lock().unwrap().push(format!("{component} {} {detail:?}", phase.word()));
    }
    fn notice(&self, notice: &Notice) {
        self.0.lock().unwrap().push(format!("{notice:?}"));
    }
}

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// Every file below `dir`, by path, as text.
fn files(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(
                    path.clone(),
                    String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
                );
            }
        }
    }
    out
}

fn component_hcl(leak: &str) -> String {
    format!(
        "component {{\n  type   = \"test\"\n  plugin = \"test/leaky\"\n  grants = [\"sql:db\"]\n}}\n\n\
         inputs = {{\n  password = secret_ref(\"env:LEAKY_PASSWORD\")\n  leak     = \"{leak}\"\n}}\n"
    )
}

#[test]
fn a_secret_leaked_through_any_channel_fails_its_component_and_is_shown_nowhere() {
    let stack = tempfile::tempdir().unwrap();
    let root = stack.path();
    write(
        &root.join("client.hcl"),
        "locals {\n  org = \"test\"\n}\n\ntarget \"render\" {\n  out_dir = \"rendered\"\n  secrets = \"plain\"\n}\n",
    );
    write(&root.join("envs/dev/env.hcl"), "locals {\n  environment = \"dev\"\n}\n");
    write(&root.join("envs/dev/core/namespace.hcl"), "namespace = \"core\"\n");
    for (leak, _) in CHANNELS.iter().chain(&[("none", "")]) {
        write(&root.join(format!("envs/dev/core/{leak}/component.hcl")), &component_hcl(leak));
    }
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(capstan_tests::guest("leaky"), plugins.path().join("leaky.wasm")).unwrap();

    let said = Arc::new(Said::default());
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("host-cache");
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache),
        log_sink: said.clone(),
        ..HostConfig::default()
    })
    .unwrap();
    // No secrets file is opened, so the age key file need not exist.
    let vars = [
        ("LEAKY_PASSWORD".to_owned(), SECRET.to_owned()),
        ("CAPSTAN_AGE_KEY_FILE".to_owned(), root.join("no-key.txt").display().to_string()),
    ];
    let surroundings = Surroundings { vars: vars.into(), ..Surroundings::default() };
    let engine = Engine::new(Arc::new(host), &[], surroundings, said.clone());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = RunOptions {
        dir: root.join("envs/dev"),
        target: TargetChoice::Render { out_dir: None },
        parallelism: 2,
        plugin_dirs: vec![plugins.path().to_path_buf()],
        allow_unsigned: true,
        lockfile: LockfileMode::Write,
        work_dir: root.to_path_buf(),
    };
    let mut session = engine
        .open(&options, runtime.handle().clone())
        .unwrap_or_else(|e| panic!("{}", capstan_run::chain(&e)));
    let plan =
        session.plan(capstan_config::Command::Plan).unwrap_or_else(|e| panic!("{}", capstan_run::chain(&e)));

    let mut shown = Vec::new();
    for (key, outcome) in &plan.outcomes {
        let leak = key.rsplit('/').next().unwrap();
        match (CHANNELS.iter().find(|(c, _)| *c == leak), outcome) {
            (Some((_, place)), Outcome::Failed(err)) => {
                let message = err.to_string();
                assert_eq!(
                    message,
                    format!(
                        "plugin test/leaky 0.1.0 leaked a sensitive value at {place} (component {key}, \
                         the value of /password); it was redacted and the component's plan dropped"
                    ),
                    "channel {leak}"
                );
                shown.push(message);
                shown.push(format!("{err:?}"));
            }
            (Some(_), _) => panic!("the component leaking through {leak} was not failed for it"),
            (None, Outcome::Done(planned)) => {
                assert_eq!(leak, "none");
                shown.push(serde_json::to_string(planned.as_ref()).unwrap());
                shown.push(format!("{planned:?}"));
            }
            (None, _) => panic!("the component that leaks nothing did not plan"),
        }
    }
    assert_eq!(plan.outcomes.len(), CHANNELS.len() + 1, "{:?}", plan.outcomes.keys().collect::<Vec<_>>());

    // Apply what planned: the clean component's Secret and sensitive output
    // are where secrets may be; nothing else holds one.
    let guard = session.lock("apply", std::time::Duration::ZERO).unwrap();
    let applied = session.apply(&plan, &guard).unwrap_or_else(|e| panic!("{}", capstan_run::chain(&e)));
    session.unlock(guard).unwrap();
    for (key, outcome) in &applied.outcomes {
        match outcome {
            Outcome::Done(_) => assert!(key.ends_with("/none"), "{key} applied"),
            Outcome::Failed(err) => shown.push(format!("{err} {err:?}")),
            Outcome::Skipped { because } => shown.push(because.clone()),
        }
    }

    shown.extend(said.0.lock().unwrap().iter().cloned());
    for text in &shown {
        assert!(!holds_secret(text), "the secret was shown: {text}");
    }
    let logged = said.0.lock().unwrap().join("\n");
    for leak in ["log", "stdout", "stderr"] {
        assert!(logged.contains("(sensitive)"), "the {leak} line was not logged redacted:\n{logged}");
    }

    let state = files(&root.join(".capstan"));
    assert!(!state.is_empty(), "state was written");
    for (path, text) in &state {
        assert!(!holds_secret(text), "{} holds the secret:\n{text}", path.display());
    }
    let rendered = files(&root.join("rendered"));
    let holding: Vec<&PathBuf> =
        rendered.iter().filter(|(_, text)| holds_secret(text)).map(|(p, _)| p).collect();
    assert_eq!(holding.len(), 1, "only the clean component's Secret holds it: {holding:?}");
    assert!(rendered[holding[0]].contains("kind: Secret"), "{}", rendered[holding[0]]);
    assert!(rendered.keys().any(|p| p.to_string_lossy().contains("none")), "{rendered:?}");
}

/// `health` is handed a live object, not a request: a Secret's values are
/// the call's secrets (a plugin logging them from the kube target's
/// readiness wait is caught like any other leak).
#[test]
fn a_plugin_logging_a_live_secrets_data_fails_its_health_call() {
    let said = Arc::new(Said::default());
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("host-cache");
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache),
        log_sink: said.clone(),
        ..HostConfig::default()
    })
    .unwrap();
    let plugin = host.load_file(capstan_tests::guest("leaky")).unwrap();
    let component = ComponentId { name: "db".into(), environment: "dev".into(), namespace: "core".into() };
    let cx = CallContext::for_component(component);
    let object = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "credentials"},
        "data": {"password": base64::engine::general_purpose::STANDARD.encode(SECRET)},
    });
    let err = plugin.health(&cx, &object).unwrap_err();
    assert_eq!(
        err.cause,
        CallFailure::Leaked(Box::new(Leak {
            secret: "/data/password".into(),
            place: Place::Log(LogStream::Log)
        }))
    );
    assert_eq!(
        err.to_string(),
        "plugin test/leaky 0.1.0 failed for component dev/core/db: \
         leaked a sensitive value at a log line (the value of /data/password)"
    );
    let logged = said.0.lock().unwrap().join("\n");
    // The base64 form's last character or two (a few bits of the last
    // byte, and the padding) may stay beside the mark.
    assert!(logged.contains("checking {\"password\":\"(sensitive)"), "{logged}");
    assert!(!holds_secret(&logged), "{logged}");

    // A ConfigMap holds nothing secret: the same guest answers.
    let config_map = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    assert_eq!(plugin.health(&cx, &config_map).unwrap(), capstan_core::Health::Ready);
}
