//! The run report as an OpenTelemetry trace, sent over OTLP/HTTP with the
//! JSON encoding when the operator sets `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). One trace per run: a root span for
//! the run, under it a span for loading and one per component, and under
//! each component a span per phase. The spans carry what the report says
//! (keys, plugin builds, outcomes, the failing phase, redacted error texts),
//! never an object or a value.
//!
//! JSON rather than protobuf: every OTLP/HTTP receiver must take both, and
//! JSON needs no schema compiled into the binary. The variables are read as
//! the OpenTelemetry specification defines them; gRPC is not spoken.

use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use capstan_run::report::{ComponentOutcome, ComponentReport, Report, RunOutcome};

/// How long the export may take: the run is over, and a collector that does
/// not answer must not hold the command's exit for long.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `SPAN_KIND_INTERNAL`: every span is work inside the one process.
const KIND_INTERNAL: u8 = 1;

/// `STATUS_CODE_ERROR`.
const STATUS_ERROR: u8 = 2;

/// Where the trace goes and with which headers.
pub struct Exporter {
    /// The full URL spans are POSTed to.
    pub url: String,
    headers: Vec<(String, String)>,
    service: String,
}

impl Exporter {
    /// The exporter the variables describe (`var` reads one; an empty value
    /// counts as unset, as the specification says), or none when no endpoint
    /// is set. The traces-only variables win over the general ones.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let url = match (var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), var("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            // The signal's own endpoint is used as it is; the general one is a base.
            (Some(url), _) => url,
            (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        let protocol =
            var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(p) = protocol.filter(|p| !p.starts_with("http/")) {
            bail!("OTEL_EXPORTER_OTLP_PROTOCOL is {p}: capstan sends traces over OTLP/HTTP only (http/json)");
        }
        let headers = var("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
            .or_else(|| var("OTEL_EXPORTER_OTLP_HEADERS"))
            .map(|h| parse_headers(&h))
            .transpose()?
            .unwrap_or_default();
        let service = var("OTEL_SERVICE_NAME").unwrap_or_else(|| "capstan".to_string());
        Ok(Some(Self { url, headers, service }))
    }

    /// Sends `report` as one trace.
    pub fn export(&self, report: &Report) -> anyhow::Result<()> {
        let body = serde_json::to_vec(&request(report, &self.service))?;
        let client = reqwest::blocking::Client::builder().timeout(TIMEOUT).build()?;
        let mut post = client.post(&self.url).header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in &self.headers {
            post = post.header(name, value);
        }
        post.body(body).send()?.error_for_status()?;
        Ok(())
    }
}

/// `key1=value1,key2=value2`, as `OTEL_EXPORTER_OTLP_HEADERS` lists them
/// (values percent-encoded, as in W3C baggage).
fn parse_headers(list: &str) -> anyhow::Result<Vec<(String, String)>> {
    list.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .enumerate()
        .map(|(i, pair)| {
            // Counted, not quoted: these headers carry API keys.
            let (name, value) = pair
                .split_once('=')
                .with_context(|| format!("OTEL_EXPORTER_OTLP_HEADERS: entry {} is not name=value", i + 1))?;
            Ok((name.trim().to_string(), percent_decode(value.trim())?))
        })
        .collect()
}

fn percent_decode(value: &str) -> anyhow::Result<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(
                byte.context("OTEL_EXPORTER_OTLP_HEADERS: a value has a % not followed by two hex digits")?,
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("OTEL_EXPORTER_OTLP_HEADERS: a value is not UTF-8 once decoded")
}

/// The `ExportTraceServiceRequest` of `report`, in OTLP's JSON mapping.
fn request(report: &Report, service: &str) -> Value {
    let trace = Trace { report };
    let root = trace.span_id(&["run"]);
    let mut spans = Vec::with_capacity(2 + report.components.len() * 4);

    let mut attributes = vec![
        attr("capstan.run.id", &report.id),
        attr("capstan.command", &report.command),
        attr("capstan.dir", &report.dir.display().to_string()),
        attr("capstan.outcome", report.outcome.word()),
    ];
    if let Some(root_dir) = &report.stack_root {
        attributes.push(attr("capstan.stack_root", &root_dir.display().to_string()));
    }
    let status = (report.outcome == RunOutcome::Failed).then(|| {
        report.error.clone().unwrap_or_else(|| "some components failed or were skipped".to_string())
    });
    spans.push(trace.span(
        &root,
        None,
        &format!("capstan {}", report.command),
        (Duration::ZERO, report.duration),
        attributes,
        status.as_deref(),
    ));
    if let Some(load) = report.load {
        spans.push(trace.span(
            &trace.span_id(&["load"]),
            Some(&root),
            "load",
            (Duration::ZERO, load),
            vec![],
            None,
        ));
    }
    for c in &report.components {
        component_spans(&trace, &root, c, &mut spans);
    }

    json!({
        "resourceSpans": [{
            "resource": { "attributes": [
                attr("service.name", service),
                attr("service.version", env!("CARGO_PKG_VERSION")),
            ]},
            "scopeSpans": [{
                "scope": { "name": "capstan", "version": env!("CARGO_PKG_VERSION") },
                "spans": spans,
            }],
        }],
    })
}

/// A component's span, covering its phases (a component that never ran is
/// a point at the end of the run), and a span per phase under it.
fn component_spans(trace: &Trace<'_>, root: &str, c: &ComponentReport, spans: &mut Vec<Value>) {
    let id = trace.span_id(&["component", &c.component]);
    let start = c.phases.first().map_or(trace.report.duration, |p| p.start);
    let end = c.phases.iter().map(|p| p.start + p.duration).max().unwrap_or(start);
    let mut attributes =
        vec![attr("capstan.component", &c.component), attr("capstan.outcome", c.outcome.word())];
    if let Some(plugin) = &c.plugin {
        attributes.push(attr("capstan.plugin.name", &plugin.name));
        for (key, value) in
            [("capstan.plugin.version", &plugin.version), ("capstan.plugin.digest", &plugin.digest)]
        {
            if let Some(value) = value {
                attributes.push(attr(key, value));
            }
        }
    }
    if let Some(phase) = c.failed_phase {
        attributes.push(attr("capstan.failed_phase", phase.name()));
    }
    let error = c.error.as_deref().filter(|_| c.outcome == ComponentOutcome::Failed);
    spans.push(trace.span(&id, Some(root), &c.component, (start, end), attributes, error));

    // The failing phase is the last one of its name.
    let failing = c.failed_phase.and_then(|f| c.phases.iter().rposition(|p| p.phase == f));
    for (i, p) in c.phases.iter().enumerate() {
        let phase_id = trace.span_id(&["phase", &c.component, &i.to_string()]);
        let error = if failing == Some(i) { error.or(Some("failed")) } else { None };
        let attributes = vec![attr("capstan.component", &c.component), attr("capstan.phase", p.phase.name())];
        spans.push(trace.span(
            &phase_id,
            Some(&id),
            p.phase.name(),
            (p.start, p.start + p.duration),
            attributes,
            error,
        ));
    }
}

/// One run's trace: the report gives its id and the instant its spans'
/// offsets count from.
struct Trace<'a> {
    report: &'a Report,
}

impl Trace<'_> {
    /// A span id no other span of the trace has: the first eight bytes of a
    /// SHA-256 over the trace id and the span's place in it. Derived, not
    /// drawn, so sending the same report twice gives the same spans.
    fn span_id(&self, place: &[&str]) -> String {
        let mut hash = Sha256::new();
        hash.update(self.report.trace_id.as_bytes());
        for part in place {
            hash.update([0]);
            hash.update(part.as_bytes());
        }
        hex::encode(&hash.finalize()[..8])
    }

    /// Nanoseconds since the Unix epoch of `offset` into the run, as the
    /// JSON mapping writes 64-bit integers: a string.
    fn at(&self, offset: Duration) -> String {
        let start = self.report.started.duration_since(UNIX_EPOCH).unwrap_or_default();
        (start + offset).as_nanos().to_string()
    }

    fn span(
        &self,
        id: &str,
        parent: Option<&str>,
        name: &str,
        (start, end): (Duration, Duration),
        attributes: Vec<Value>,
        error: Option<&str>,
    ) -> Value {
        let mut span = json!({
            "traceId": self.report.trace_id,
            "spanId": id,
            "name": name,
            "kind": KIND_INTERNAL,
            "startTimeUnixNano": self.at(start),
            "endTimeUnixNano": self.at(end),
            "attributes": attributes,
        });
        if let Some(parent) = parent {
            span["parentSpanId"] = parent.into();
        }
        if let Some(message) = error {
            span["status"] = json!({ "code": STATUS_ERROR, "message": message });
        }
        span
    }
}

fn attr(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_traces_endpoint_is_used_as_given_and_the_general_one_as_a_base() {
        let none = Exporter::from_vars(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_none(), "an empty endpoint is unset");
        let base = Exporter::from_vars(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]))
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|e| e.url);
        assert_eq!(base.as_deref(), Some("http://collector:4318/v1/traces"));
        let own = Exporter::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| e.url);
        assert_eq!(own.as_deref(), Some("http://traces:9999/custom"));
    }

    #[test]
    fn grpc_is_refused_and_headers_are_decoded() {
        let grpc = Exporter::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]));
        assert!(grpc.is_err());
        assert_eq!(
            parse_headers("api-key=a%3Db, x-team = ops ").unwrap_or_else(|e| panic!("{e}")),
            [("api-key".to_string(), "a=b".to_string()), ("x-team".to_string(), "ops".to_string())]
        );
        let bad = parse_headers("api-key").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(bad.contains("not name=value"), "{bad}");
    }
}
