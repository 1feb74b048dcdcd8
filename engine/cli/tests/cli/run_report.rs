//! The run report: every plan, apply and destroy leaves `.capstan/runs/<id>.json`
//! (and `--report FILE`) naming each component's plugin build, phase timings,
//! outcome and, for a failure, the phase it failed in; with an OTLP endpoint
//! set, the same run reaches a collector as one trace.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Run, Stack, app_component, walk, web_stack};

/// The reports under `.capstan/runs/`, oldest first (their ids sort by time).
fn reports(s: &Stack) -> Vec<Value> {
    let mut files = walk(&s.path(".capstan/runs"));
    files.sort();
    files.iter().map(|f| read_json(f)).collect()
}

fn read_json(file: &Path) -> Value {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", file.display()))
}

fn component<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == key)
        .unwrap_or_else(|| panic!("{key} is in the report: {report:#}"))
}

fn phases(c: &Value) -> Vec<&str> {
    c["phases"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect()
}

const KEYS: [&str; 2] = ["envs/dev/web/api", "envs/dev/web/worker"];

/// A plan's report lists every component with its plugin's exact build and
/// its timed plan phase; `--report` writes the same document; an apply adds
/// a second report whose components went through apply, readiness and record,
/// and a destroy a third.
#[test]
fn plan_and_apply_reports_name_each_plugin_build_and_time_each_phase() {
    let s = web_stack(&["api", "worker"]);
    s.run(&["plan", "envs/dev", "--report", "out/plan.json"]).ok();
    let [plan] = reports(&s).try_into().unwrap_or_else(|r| panic!("one report: {r:?}"));
    assert_eq!(read_json(&s.path("out/plan.json")), plan, "--report writes the same document");
    assert_eq!((&plan["format_version"], &plan["command"]), (&"1".into(), &"plan".into()), "{plan:#}");
    let id = plan["id"].as_str().unwrap();
    let (stamp, random) = id.split_once('-').unwrap();
    assert!(stamp.len() == 23 && stamp.ends_with('Z') && random.len() == 16, "{id}");
    assert!(s.path(&format!(".capstan/runs/{id}.json")).is_file(), "named by its id");
    assert_eq!(plan["outcome"], "succeeded", "{plan:#}");
    assert!(plan["load_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{plan:#}");
    let recorded: BTreeSet<&str> =
        plan["components"].as_array().unwrap().iter().map(|c| c["component"].as_str().unwrap()).collect();
    assert_eq!(recorded, BTreeSet::from(KEYS), "{plan:#}");
    for key in KEYS {
        let c = component(&plan, key);
        assert_eq!(c["outcome"], "planned", "{c:#}");
        assert_eq!(c["plugin"]["name"], "capstan/app", "{c:#}");
        assert!(c["plugin"]["version"].as_str().is_some_and(|v| v.starts_with("0.1.")), "{c:#}");
        assert!(c["plugin"]["digest"].as_str().is_some_and(|d| d.len() >= 64), "{c:#}");
        assert_eq!(phases(c), ["plan"], "{c:#}");
        assert!(c["phases"][0]["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{c:#}");
        assert!(c["failed_phase"].is_null(), "{c:#}");
    }

    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    let [_, apply] = reports(&s).try_into().unwrap_or_else(|r| panic!("two reports: {r:?}"));
    assert_eq!(apply["command"], "apply", "the later id sorts after: {apply:#}");
    assert_ne!(apply["trace_id"], plan["trace_id"]);
    for key in KEYS {
        let c = component(&apply, key);
        assert_eq!(c["outcome"], "applied", "{c:#}");
        // No effects: nothing to run, nothing to ask the plugin again.
        assert_eq!(phases(c), ["plan", "apply", "readiness", "record"], "{c:#}");
        let starts: Vec<f64> =
            c["phases"].as_array().unwrap().iter().map(|p| p["start_ms"].as_f64().unwrap()).collect();
        assert!(starts.is_sorted(), "phases in the order they ran: {c:#}");
    }

    s.run(&["destroy", "envs/dev", "--auto-approve"]).ok();
    let [_, _, destroy] = reports(&s).try_into().unwrap_or_else(|r| panic!("three reports: {r:?}"));
    assert_eq!(destroy["command"], "destroy", "{destroy:#}");
    for key in KEYS {
        let c = component(&destroy, key);
        assert_eq!((&c["outcome"], phases(c)), (&"removed".into(), vec!["remove"]), "{c:#}");
    }
}

/// A component whose objects cannot be written fails in the apply phase:
/// the report names it, its plugin and that phase, and the run as failed;
/// the component beside it, in another namespace, applies.
#[test]
fn a_failed_apply_names_the_failing_component_and_phase() {
    let s = web_stack(&["api"]);
    s.write("envs/dev/jobs/namespace.hcl", "namespace = \"jobs\"\n");
    s.write("envs/dev/jobs/worker/component.hcl", &app_component("registry.example/worker:1.0.0", "1"));
    // The render target will not overwrite a file it did not write; the plan
    // reads it as no object of capstan's, so the worker is planned and fails
    // only when applied.
    s.write("rendered/dev/jobs/worker/deployment-worker.yaml", "# written by hand\n");
    let run = s.run(&["apply", "envs/dev", "--auto-approve", "--report", "report.json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let report = read_json(&s.path("report.json"));
    assert_eq!(report["outcome"], "failed", "{report:#}");
    let worker = component(&report, "envs/dev/jobs/worker");
    assert_eq!(
        (&worker["outcome"], &worker["failed_phase"]),
        (&"failed".into(), &"apply".into()),
        "{worker:#}"
    );
    assert_eq!(worker["plugin"]["name"], "capstan/app", "{worker:#}");
    assert!(
        worker["plugin"]["digest"].as_str().is_some_and(|d| !d.is_empty()),
        "planned, so known: {worker:#}"
    );
    let error = worker["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("deployment-worker.yaml") && error.contains("not written by capstan"),
        "{worker:#}"
    );
    assert_eq!(phases(worker), ["plan", "apply"], "it stopped in the apply phase: {worker:#}");
    let api = component(&report, "envs/dev/web/api");
    assert_eq!((&api["outcome"], &api["failed_phase"]), (&"applied".into(), &Value::Null), "{api:#}");
    assert_eq!(reports(&s), [report], "the same report beside the state");
}

/// What the receiver below was sent: the request line's path, the
/// content type, and the body.
struct Received {
    path: String,
    content_type: String,
    body: Value,
}

/// An OTLP/HTTP receiver on a free loopback port: each POST is answered 200
/// and handed over on the channel.
fn otlp_receiver() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
            let (mut length, mut content_type) = (0, String::new());
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap(),
                    "content-type" => content_type = value.trim().to_string(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
                )
                .unwrap();
            let body = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
            if tx.send(Received { path, content_type, body }).is_err() {
                return;
            }
        }
    });
    (endpoint, rx)
}

fn run_with_endpoint(s: &Stack, args: &[&str], endpoint: &str) -> Run {
    let out = s
        .command(args)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .output()
        .unwrap();
    s.finish(args, out)
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"].as_array()?.iter().find(|a| a["key"] == key)?["value"]["stringValue"].as_str()
}

/// With OTEL_EXPORTER_OTLP_ENDPOINT set, an apply is POSTed to
/// `<endpoint>/v1/traces` as OTLP JSON: one trace, the report's, whose root
/// span has one child span per component (plugin and outcome as attributes)
/// and, under each, one span per phase.
#[test]
fn an_apply_reaches_an_otlp_receiver_as_one_trace_with_a_span_per_component() {
    let s = web_stack(&["api", "worker", "billing"]);
    let (endpoint, received) = otlp_receiver();
    let run = run_with_endpoint(&s, &["apply", "envs/dev", "--auto-approve"], &endpoint).ok();
    let got = received.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert_eq!((got.path.as_str(), got.content_type.as_str()), ("/v1/traces", "application/json"));
    let [report] = reports(&s).try_into().unwrap_or_else(|r| panic!("one report: {r:?}"));

    let spans: Vec<&Value> = got.body["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        .flat_map(|s| s["spans"].as_array().unwrap())
        .collect();
    let trace_ids: BTreeSet<&str> = spans.iter().map(|s| s["traceId"].as_str().unwrap()).collect();
    assert_eq!(trace_ids, BTreeSet::from([report["trace_id"].as_str().unwrap()]), "one trace, the report's");
    assert_eq!(report["trace_id"].as_str().unwrap().len(), 32);
    let span_ids: BTreeSet<&str> = spans.iter().map(|s| s["spanId"].as_str().unwrap()).collect();
    assert_eq!(span_ids.len(), spans.len(), "span ids are unique");
    assert!(span_ids.iter().all(|id| id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit())));
    for span in &spans {
        let (start, end) = (&span["startTimeUnixNano"], &span["endTimeUnixNano"]);
        let (start, end): (u128, u128) =
            (start.as_str().unwrap().parse().unwrap(), end.as_str().unwrap().parse().unwrap());
        assert!(start > 0 && start <= end, "{span:#}");
    }

    let [root] = spans.iter().filter(|s| s.get("parentSpanId").is_none()).collect::<Vec<_>>()[..] else {
        panic!("one root span: {spans:#?}")
    };
    assert_eq!(root["name"], "capstan apply");
    let children_of = |parent: &Value| -> Vec<&Value> {
        spans.iter().copied().filter(|s| s.get("parentSpanId") == Some(&parent["spanId"])).collect()
    };
    let components: Vec<&Value> = children_of(root).into_iter().filter(|s| s["name"] != "load").collect();
    assert_eq!(components.len(), report["components"].as_array().unwrap().len(), "{components:#?}");
    let names: BTreeSet<&str> = components.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["envs/dev/web/api", "envs/dev/web/billing", "envs/dev/web/worker"]));
    for span in components {
        let c = component(&report, span["name"].as_str().unwrap());
        assert_eq!(attribute(span, "capstan.plugin.digest"), c["plugin"]["digest"].as_str(), "{span:#}");
        assert_eq!(attribute(span, "capstan.outcome"), Some("applied"), "{span:#}");
        let phase_spans: Vec<&str> = children_of(span).iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(phase_spans, phases(c), "{span:#}");
    }
}

/// A collector that cannot be reached costs a warning, not the run.
#[test]
fn an_unreachable_collector_is_a_warning() {
    let s = web_stack(&["api"]);
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let run = run_with_endpoint(&s, &["plan", "envs/dev"], &format!("http://{closed}")).ok();
    assert!(run.stderr.contains("warning: could not send the run's trace to"), "{run:?}");
    assert_eq!(reports(&s).len(), 1, "the report is written all the same");
}
