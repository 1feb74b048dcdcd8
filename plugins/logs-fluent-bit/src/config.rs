//! fluent-bit's configuration files (classic format), as text for the ConfigMap.
//!
//! The pipeline is: tail the container log files (parsed by the built-in
//! `docker` and `cri` multiline parsers, so both runtimes work), add
//! Kubernetes metadata, flatten it into a fixed set of record keys (the
//! labels convention this plugin promises), then ship to exactly one output.
//! Credentials never appear here: the config names environment variables
//! (`${SPLUNK_HEC_TOKEN}`) that the DaemonSet fills from a Secret.
//!
//! Every key written here is one fluent-bit 4.0 documents for the section's
//! plugin; the comments name the page of <https://docs.fluentbit.io/manual/4.0>
//! each bounding key comes from, and the plugin's tests check every section's
//! keys against lists taken from those pages.

use std::fmt::Write as _;

use capstan_core::ComponentId;

use crate::inputs::{Inputs, OutputKind};
use crate::tls;

/// Where the ConfigMap is mounted in the container.
pub const CONFIG_DIR: &str = "/fluent-bit/etc/conf";
/// Host directory for tail offsets and filesystem buffers, so a restarted
/// pod resumes where it stopped instead of re-reading or losing lines.
pub const STATE_DIR: &str = "/var/fluent-bit/state";
/// fluent-bit's HTTP server (health and metrics).
pub const HTTP_PORT: u16 = 2020;

/// Environment variables the config refers to; the DaemonSet sets them from
/// the Secret this plugin renders.
pub const ENV_SPLUNK_TOKEN: &str = "SPLUNK_HEC_TOKEN";
/// The Loki or Elasticsearch basic-auth password.
pub const ENV_HTTP_PASSWORD: &str = "OUTPUT_HTTP_PASSWORD";
/// The forward input's shared key.
pub const ENV_FORWARD_SHARED_KEY: &str = "FORWARD_SHARED_KEY";

/// Where the forward input's certificate and key (`tls.crt`, `tls.key`,
/// from cert-manager's Secret) are mounted.
pub const FORWARD_TLS_DIR: &str = "/fluent-bit/tls";

/// The collector's container name: its log file name carries it, which is
/// how the tail input skips the collector's own log.
pub const CONTAINER_NAME: &str = "fluent-bit";

/// The record keys every log record carries after the filters run.
/// `log` holds the message; these are what queries filter on.
pub const RECORD_LABELS: [&str; 6] = ["environment", "namespace", "app", "container", "pod", "node"];

/// Of those, the ones that become Loki stream labels. `pod` and `node` stay
/// in the line: as labels they would explode Loki's stream count.
pub const LOKI_STREAM_LABELS: [&str; 4] = ["environment", "namespace", "app", "container"];

/// The collector's own log files. The kubelet names container logs
/// `<pod>_<namespace>_<container>-<container id>.log`, and the DaemonSet's
/// pods are `<component name>-<suffix>`. Tailing them would feed every
/// record the stdout output prints back into the pipeline, without end.
pub fn own_log_files(c: &ComponentId) -> String {
    format!("/var/log/containers/{}-*_{}_{CONTAINER_NAME}-*.log", c.name, c.namespace)
}

/// `fluent-bit.conf`.
pub fn main_config(inputs: &Inputs, component: &ComponentId) -> String {
    let mut c = String::new();
    section(&mut c, "SERVICE", &service(inputs));
    section(
        &mut c,
        "INPUT",
        &[
            ("Name", "tail".into()),
            ("Tag", "kube.*".into()),
            ("Path", "/var/log/containers/*.log".into()),
            // Tail, "Configuration parameters": the collector's own log is
            // not collected (see `own_log_files`).
            ("Exclude_Path", own_log_files(component)),
            // The runtime decides the file format: Docker writes JSON lines, containerd
            // and CRI-O write the CRI format. Both parsers also rejoin split long lines.
            ("multiline.parser", "docker, cri".into()),
            ("DB", format!("{STATE_DIR}/flb_kube.db")),
            ("Skip_Long_Lines", "On".into()),
            ("Refresh_Interval", "10".into()),
            // Buffering and storage, "Input section configuration": chunks go
            // to disk (offsets survive restarts, memory is bounded by
            // `storage.max_chunks_up`); `Mem_Buf_Limit` applies only to
            // memory buffering, so it is not set here.
            ("storage.type", "filesystem".into()),
        ],
    );
    if inputs.forward.enabled {
        let mut kv = vec![
            ("Name", "forward".to_owned()),
            ("Tag", "app.forward".into()),
            ("Listen", "0.0.0.0".into()),
            ("Port", inputs.forward.port.to_string()),
            // Buffering and storage, "Buffering and memory": a client that
            // outpaces the outputs is paused, not buffered without end.
            ("storage.type", "memory".into()),
            ("Mem_Buf_Limit", inputs.mem_buf_limit.clone()),
        ];
        // Forward input, "Configuration parameters" (secure forward): the
        // key comes from the Secret through the environment.
        if inputs.forward.shared_key.is_some() {
            kv.push(("Shared_Key", format!("${{{ENV_FORWARD_SHARED_KEY}}}")));
        }
        // Transport security, "Example: enable TLS on HTTP input": an
        // input with TLS needs its certificate and key; clients are not asked
        // for certificates (`tls.verify Off`), the shared key authenticates.
        if tls::enabled(inputs) {
            kv.push(("tls", "On".into()));
            kv.push(("tls.verify", "Off".into()));
            kv.push(("tls.crt_file", format!("{FORWARD_TLS_DIR}/tls.crt")));
            kv.push(("tls.key_file", format!("{FORWARD_TLS_DIR}/tls.key")));
        }
        section(&mut c, "INPUT", &kv);
    }
    if !inputs.multiline_languages.is_empty() {
        let mut parsers: Vec<&str> = Vec::new();
        for l in &inputs.multiline_languages {
            if !parsers.contains(&l.as_str()) {
                parsers.push(l.as_str());
            }
        }
        // Multiline filter: it must be the first filter (it re-emits joined
        // records at the head of the pipeline) and there must be one per tag,
        // with every parser listed in it. Buffered mode joins lines that
        // arrive in different chunks; its emitter is bounded like any input.
        section(
            &mut c,
            "FILTER",
            &[
                ("Name", "multiline".into()),
                ("Match", "kube.*".into()),
                ("multiline.key_content", "log".into()),
                ("multiline.parser", parsers.join(", ")),
                ("mode", "parser".into()),
                ("buffer", "On".into()),
                ("emitter_mem_buf_limit", inputs.mem_buf_limit.clone()),
            ],
        );
    }
    section(
        &mut c,
        "FILTER",
        &[
            ("Name", "kubernetes".into()),
            ("Match", "kube.*".into()),
            ("Kube_URL", "https://kubernetes.default.svc:443".into()),
            ("Kube_CA_File", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt".into()),
            ("Kube_Token_File", "/var/run/secrets/kubernetes.io/serviceaccount/token".into()),
            ("Kube_Tag_Prefix", "kube.var.log.containers.".into()),
            // A JSON log line becomes structured fields instead of an escaped string.
            ("Merge_Log", "On".into()),
            ("Keep_Log", "Off".into()),
            // Pods may pick a parser or opt out with the fluentbit.io/* annotations.
            ("K8S-Logging.Parser", "On".into()),
            ("K8S-Logging.Exclude", "On".into()),
            ("Labels", "On".into()),
            ("Annotations", "Off".into()),
        ],
    );
    // Flatten `kubernetes.*` into the fixed record keys of the labels convention.
    section(
        &mut c,
        "FILTER",
        &[
            ("Name", "nest".into()),
            ("Match", "kube.*".into()),
            ("Operation", "lift".into()),
            ("Nested_under", "kubernetes".into()),
            ("Add_prefix", "k8s_".into()),
        ],
    );
    section(
        &mut c,
        "FILTER",
        &[
            ("Name", "nest".into()),
            ("Match", "kube.*".into()),
            ("Operation", "lift".into()),
            ("Nested_under", "k8s_labels".into()),
            ("Add_prefix", "k8s_label_".into()),
        ],
    );
    section(
        &mut c,
        "FILTER",
        &[
            ("Name", "modify".into()),
            ("Match", "*".into()),
            ("Rename", "k8s_namespace_name namespace".into()),
            ("Rename", "k8s_pod_name pod".into()),
            ("Rename", "k8s_container_name container".into()),
            ("Rename", "k8s_host node".into()),
            ("Rename", "k8s_label_app.kubernetes.io/name app".into()),
            ("Add", format!("environment {}", component.environment)),
        ],
    );
    output_section(&mut c, inputs);
    c
}

/// The `[SERVICE]` section.
fn service(inputs: &Inputs) -> Vec<(&'static str, String)> {
    let mut kv = vec![
        ("Flush", "1".into()),
        ("Daemon", "Off".into()),
        ("Log_Level", inputs.log_level.as_str().into()),
        ("Parsers_File", format!("{CONFIG_DIR}/parsers.conf")),
        ("HTTP_Server", "On".into()),
        ("HTTP_Listen", "0.0.0.0".into()),
        ("HTTP_Port", HTTP_PORT.to_string()),
        ("Health_Check", "On".into()),
        ("storage.path", format!("{STATE_DIR}/flb-storage/")),
        ("storage.sync", "normal".into()),
        // Buffering and storage, "Service section configuration": chunks
        // (about 2 MB each) of filesystem inputs held in memory; the rest
        // wait on disk, so memory stays bounded while an output is down.
        ("storage.max_chunks_up", inputs.buffer.max_chunks_up.to_string()),
    ];
    // Hot reload, "Update the configuration": with TLS, the reloader sidecar
    // has fluent-bit reload when cert-manager renews the certificate (see
    // `tls`). Without TLS nothing needs a reload, and the reload endpoint,
    // unauthenticated on the port the Service exposes, stays off.
    if tls::enabled(inputs) {
        kv.push(("Hot_Reload", "On".into()));
    }
    kv
}

/// The keys every output carries so that a failing destination is bounded.
/// Scheduling and retries, "Configure retries": `Retry_Limit` N retries, then
/// the chunk is dropped. Buffering and storage, "Output section
/// configuration": `storage.total_limit_size` caps the output's queue of
/// filesystem chunks; when full, the oldest chunk is dropped.
fn bounded(inputs: &Inputs, mut kv: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    kv.push(("Retry_Limit", inputs.buffer.retry_limit.to_string()));
    kv.push(("storage.total_limit_size", inputs.buffer.total_limit_size.clone()));
    kv
}

fn output_section(c: &mut String, inputs: &Inputs) {
    match (inputs.output, &inputs.loki, &inputs.elasticsearch, &inputs.splunk) {
        (OutputKind::Loki, Some(l), _, _) => {
            let mut labels: Vec<String> = vec!["job=fluent-bit".into()];
            labels.extend(LOKI_STREAM_LABELS.iter().map(|k| format!("{k}=${k}")));
            labels.extend(l.labels.iter().map(|(k, v)| format!("{k}={v}")));
            let mut kv = vec![
                ("Name", "loki".to_owned()),
                ("Match", "*".into()),
                ("Host", l.host.clone()),
                ("Port", l.port.to_string()),
                ("Labels", labels.join(", ")),
                ("Line_Format", "json".into()),
                ("Auto_Kubernetes_Labels", "Off".into()),
                ("tls", on_off(l.tls).into()),
            ];
            if l.tls {
                kv.push(("tls.verify", "On".into()));
            }
            if let Some(t) = &l.tenant_id {
                kv.push(("Tenant_ID", t.clone()));
            }
            if let Some(a) = &l.auth {
                kv.push(("HTTP_User", a.user.clone()));
                kv.push(("HTTP_Passwd", format!("${{{ENV_HTTP_PASSWORD}}}")));
            }
            section(c, "OUTPUT", &bounded(inputs, kv));
        }
        (OutputKind::Elasticsearch, _, Some(e), _) => {
            let mut kv = vec![
                ("Name", "es".to_owned()),
                ("Match", "*".into()),
                ("Host", e.host.clone()),
                ("Port", e.port.to_string()),
                ("Index", e.index.clone()),
                // Elasticsearch 8 rejects mapping types; dots in keys (from
                // label names) would otherwise become object paths that clash.
                ("Suppress_Type_Name", "On".into()),
                ("Replace_Dots", "On".into()),
                ("Trace_Error", "On".into()),
                ("tls", on_off(e.tls).into()),
            ];
            if e.tls {
                kv.push(("tls.verify", "On".into()));
            }
            if let Some(a) = &e.auth {
                kv.push(("HTTP_User", a.user.clone()));
                kv.push(("HTTP_Passwd", format!("${{{ENV_HTTP_PASSWORD}}}")));
            }
            section(c, "OUTPUT", &bounded(inputs, kv));
        }
        (OutputKind::Splunk, _, _, Some(s)) => {
            let mut kv = vec![
                ("Name", "splunk".to_owned()),
                ("Match", "*".into()),
                ("Host", s.host.clone()),
                ("Port", s.port.to_string()),
                ("Splunk_Token", format!("${{{ENV_SPLUNK_TOKEN}}}")),
                ("Splunk_Send_Raw", "Off".into()),
                ("tls", on_off(s.tls).into()),
                ("tls.verify", on_off(s.tls_verify).into()),
            ];
            if let Some(i) = &s.index {
                kv.push(("Event_Index", i.clone()));
            }
            section(c, "OUTPUT", &bounded(inputs, kv));
        }
        // `check` guarantees the section of the chosen output is present, so
        // only `stdout` (or an unchecked input) reaches here; either way the
        // records stay visible in the collector's own log.
        _ => section(
            c,
            "OUTPUT",
            &bounded(
                inputs,
                vec![("Name", "stdout".into()), ("Match", "*".into()), ("Format", "json_lines".into())],
            ),
        ),
    }
}

/// `parsers.conf`: the single-line `docker` and `cri` parsers, for pods that
/// ask for them by annotation (`fluentbit.io/parser`), plus `json`.
pub fn parsers_config() -> String {
    let mut c = String::new();
    section(
        &mut c,
        "PARSER",
        &[
            ("Name", "docker".into()),
            ("Format", "json".into()),
            ("Time_Key", "time".into()),
            ("Time_Format", "%Y-%m-%dT%H:%M:%S.%L".into()),
            ("Time_Keep", "On".into()),
        ],
    );
    section(
        &mut c,
        "PARSER",
        &[
            ("Name", "cri".into()),
            ("Format", "regex".into()),
            ("Regex", r"^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[^ ]*) (?<log>.*)$".into()),
            ("Time_Key", "time".into()),
            ("Time_Format", "%Y-%m-%dT%H:%M:%S.%L%z".into()),
            ("Time_Keep", "On".into()),
        ],
    );
    section(
        &mut c,
        "PARSER",
        &[
            ("Name", "json".into()),
            ("Format", "json".into()),
            ("Time_Key", "time".into()),
            ("Time_Format", "%d/%b/%Y:%H:%M:%S %z".into()),
        ],
    );
    c
}

fn on_off(b: bool) -> &'static str {
    if b { "On" } else { "Off" }
}

fn section(c: &mut String, name: &str, kv: &[(&str, String)]) {
    if !c.is_empty() {
        c.push('\n');
    }
    let _ = writeln!(c, "[{name}]");
    let width = kv.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in kv {
        let _ = writeln!(c, "    {k:<width$} {v}");
    }
}

/// A stable 64-bit FNV-1a digest, shown as hex: put on the pod template so
/// a config change rolls the pods (fluent-bit does not reload its config).
pub fn digest(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
