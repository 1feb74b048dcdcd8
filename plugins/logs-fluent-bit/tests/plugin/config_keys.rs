//! Every key of the rendered fluent-bit configuration is one fluent-bit
//! documents for that section's plugin.
//!
//! fluent-bit reads its classic configuration leniently in places and fails
//! at start-up in others, and neither happens in a plan: no fluent-bit build
//! installs from the package registries these machines reach, so the
//! rendered files cannot be run through `fluent-bit --dry-run` here. Instead
//! the config is parsed (`[SECTION]` headers, then `Key Value` lines) and
//! every key is looked up, case-insensitively as fluent-bit does, in the
//! list below for the section's plugin. Each list is copied from the
//! configuration tables of the fluent-bit 4.0 manual page it cites (the
//! image the plugin deploys is 4.0), keeping only the keys an operator could
//! plausibly want; a key missing here means: read the page, then add it.

use capstan_plugin_logs_fluent_bit::FluentBit;
use capstan_sdk::testkit::PlanExt;
use serde_json::json;

use super::{TOKEN, call};

/// The manual the lists come from.
const MANUAL: &str = "https://docs.fluentbit.io/manual/4.0";

/// Keys every plugin of a kind takes: "Configuration file" (classic mode)
/// lists `Name`, `Tag`, `Match`, `Match_Regex`, `Log_Level`.
const COMMON_INPUT: &[&str] = &[
    "name",
    "tag",
    "log_level",
    // administration/buffering-and-storage, "Input section configuration"
    // and "Buffering and memory".
    "storage.type",
    "storage.pause_on_chunks_overlimit",
    "mem_buf_limit",
];
const COMMON_FILTER: &[&str] = &["name", "match", "match_regex", "log_level"];
const COMMON_OUTPUT: &[&str] = &[
    "name",
    "match",
    "match_regex",
    "log_level",
    // administration/scheduling-and-retries, "Configure retries".
    "retry_limit",
    // administration/buffering-and-storage, "Output section configuration".
    "storage.total_limit_size",
];
/// administration/transport-security, for the plugins that speak TLS.
const TLS: &[&str] = &[
    "tls",
    "tls.verify",
    "tls.verify_hostname",
    "tls.debug",
    "tls.ca_file",
    "tls.ca_path",
    "tls.crt_file",
    "tls.key_file",
    "tls.key_passwd",
    "tls.vhost",
];

/// `[SERVICE]`: administration/configuring-fluent-bit/classic-mode/configuration-file
/// ("Service"), administration/monitoring ("Health check for Fluent Bit"),
/// administration/buffering-and-storage ("Service section configuration") and
/// administration/hot-reload.
const SERVICE: &[&str] = &[
    "flush",
    "grace",
    "daemon",
    "dns.mode",
    "log_file",
    "log_level",
    "parsers_file",
    "plugins_file",
    "streams_file",
    "http_server",
    "http_listen",
    "http_port",
    "coro_stack_size",
    "scheduler.cap",
    "scheduler.base",
    "health_check",
    "hc_errors_count",
    "hc_retry_failure_count",
    "hc_period",
    "storage.path",
    "storage.sync",
    "storage.checksum",
    "storage.max_chunks_up",
    "storage.backlog.mem_limit",
    "storage.backlog.flush_on_shutdown",
    "storage.metrics",
    "storage.delete_irrecoverable_chunks",
    // administration/hot-reload, "Update the configuration".
    "hot_reload",
];

/// The documented keys of one `Name` in one kind of section, with its page.
fn documented(kind: &str, name: &str) -> (&'static str, Vec<&'static str>) {
    let (page, own): (&str, &[&str]) = match (kind, name) {
        ("INPUT", "tail") => (
            "pipeline/inputs/tail",
            &[
                "buffer_chunk_size",
                "buffer_max_size",
                "path",
                "path_key",
                "exclude_path",
                "offset_key",
                "read_from_head",
                "refresh_interval",
                "rotate_wait",
                "ignore_older",
                "skip_long_lines",
                "skip_empty_lines",
                "db",
                "db.sync",
                "db.locking",
                "db.journal_mode",
                "db.compare_filename",
                "exit_on_eof",
                "parser",
                "key",
                "inotify_watcher",
                "tag_regex",
                "static_batch_size",
                "file_cache_advise",
                "threaded",
                "multiline.parser",
            ],
        ),
        ("INPUT", "forward") => (
            "pipeline/inputs/forward",
            &[
                "listen",
                "port",
                "unix_path",
                "unix_perm",
                "buffer_max_size",
                "buffer_chunk_size",
                "tag_prefix",
                "shared_key",
                "empty_shared_key",
                "self_hostname",
                "security.users",
                "threaded",
            ],
        ),
        ("FILTER", "multiline") => (
            "pipeline/filters/multiline-stacktrace",
            &[
                "multiline.parser",
                "multiline.key_content",
                "mode",
                "buffer",
                "flush_ms",
                "emitter_name",
                "emitter_storage.type",
                "emitter_mem_buf_limit",
            ],
        ),
        ("FILTER", "kubernetes") => (
            "pipeline/filters/kubernetes",
            &[
                "buffer_size",
                "kube_url",
                "kube_ca_file",
                "kube_ca_path",
                "kube_token_file",
                "kube_tag_prefix",
                "merge_log",
                "merge_log_key",
                "merge_log_trim",
                "merge_parser",
                "keep_log",
                "tls.debug",
                "tls.verify",
                "tls.verify_hostname",
                "use_journal",
                "cache_use_docker_id",
                "regex_parser",
                "k8s-logging.parser",
                "k8s-logging.exclude",
                "labels",
                "annotations",
                "kube_meta_preload_cache_dir",
                "dummy_meta",
                "dns_retries",
                "dns_wait_time",
                "use_kubelet",
                "use_tag_for_meta",
                "kubelet_port",
                "kubelet_host",
                "kube_meta_cache_ttl",
                "kube_token_ttl",
                "kube_token_command",
                "kube_meta_namespace_cache_ttl",
                "namespace_labels",
                "namespace_annotations",
                "namespace_metadata_only",
                "owner_references",
            ],
        ),
        ("FILTER", "nest") => (
            "pipeline/filters/nest",
            &["operation", "wildcard", "nest_under", "nested_under", "add_prefix", "remove_prefix"],
        ),
        ("FILTER", "modify") => (
            "pipeline/filters/modify",
            &[
                "set",
                "add",
                "remove",
                "remove_wildcard",
                "remove_regex",
                "rename",
                "hard_rename",
                "copy",
                "hard_copy",
                "move_to_start",
                "move_to_end",
                "condition",
            ],
        ),
        ("OUTPUT", "stdout") => {
            ("pipeline/outputs/standard-output", &["format", "json_date_key", "json_date_format", "workers"])
        }
        ("OUTPUT", "es") => (
            "pipeline/outputs/elasticsearch",
            &[
                "host",
                "port",
                "path",
                "compress",
                "buffer_size",
                "pipeline",
                "cloud_id",
                "cloud_auth",
                "http_user",
                "http_passwd",
                "index",
                "type",
                "logstash_format",
                "logstash_prefix",
                "logstash_prefix_key",
                "logstash_prefix_separator",
                "logstash_dateformat",
                "time_key",
                "time_key_format",
                "time_key_nanos",
                "include_tag_key",
                "tag_key",
                "generate_id",
                "id_key",
                "write_operation",
                "replace_dots",
                "trace_output",
                "trace_error",
                "current_time_index",
                "suppress_type_name",
                "workers",
            ],
        ),
        ("OUTPUT", "loki") => (
            "pipeline/outputs/loki",
            &[
                "host",
                "uri",
                "port",
                "http_user",
                "http_passwd",
                "bearer_token",
                "header",
                "tenant_id",
                "labels",
                "label_keys",
                "label_map_path",
                "structured_metadata",
                "structured_metadata_map_keys",
                "remove_keys",
                "drop_single_key",
                "line_format",
                "auto_kubernetes_labels",
                "tenant_id_key",
                "compress",
                "workers",
            ],
        ),
        ("OUTPUT", "splunk") => (
            "pipeline/outputs/splunk",
            &[
                "host",
                "port",
                "splunk_token",
                "http_user",
                "http_passwd",
                "http_buffer_size",
                "compress",
                "channel",
                "http_debug_bad_request",
                "workers",
                "splunk_send_raw",
                "event_key",
                "event_host",
                "event_source",
                "event_sourcetype",
                "event_sourcetype_key",
                "event_index",
                "event_index_key",
                "event_field",
            ],
        ),
        ("PARSER", _) => (
            "pipeline/parsers/configuring-parser",
            &[
                "name",
                "format",
                "regex",
                "time_key",
                "time_format",
                "time_offset",
                "time_keep",
                "time_system_timezone",
                "types",
                "decode_field",
                "decode_field_as",
                "skip_empty_values",
                "time_strict",
            ],
        ),
        (kind, name) => panic!("no documented keys listed for [{kind}] {name}: add its page's list"),
    };
    let common = match kind {
        "INPUT" => COMMON_INPUT,
        "FILTER" => COMMON_FILTER,
        "OUTPUT" => COMMON_OUTPUT,
        _ => &[],
    };
    // Of these plugins, the network ones take the TLS keys.
    let tls = matches!((kind, name), ("INPUT", "forward") | ("OUTPUT", "es" | "loki" | "splunk"));
    let mut keys: Vec<&str> = own.iter().chain(common).copied().collect();
    if tls {
        keys.extend(TLS);
    }
    (page, keys)
}

/// A classic-format file as (section, [(key, value)]), in order.
fn sections(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((name.to_owned(), Vec::new()));
            continue;
        }
        let (key, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let (section, kv) = out.last_mut().unwrap_or_else(|| panic!("`{line}` before any section"));
        assert!(!value.trim().is_empty(), "[{section}] {key} has no value");
        kv.push((key.to_owned(), value.trim().to_owned()));
    }
    out
}

/// Every key of every section of `text` is documented for its plugin.
fn assert_documented(variant: &str, text: &str) {
    let mut problems = Vec::new();
    for (kind, kv) in sections(text) {
        let (page, keys) = if kind == "SERVICE" {
            ("administration/configuring-fluent-bit/classic-mode/configuration-file", SERVICE.to_vec())
        } else {
            let name = kv
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("name"))
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{variant}: a [{kind}] section without Name"));
            documented(&kind, name)
        };
        let name = kv.iter().find(|(k, _)| k.eq_ignore_ascii_case("name")).map_or("", |(_, v)| v.as_str());
        for (key, _) in &kv {
            if !keys.contains(&key.to_ascii_lowercase().as_str()) {
                problems.push(format!("[{kind}] {name}: `{key}` is not documented on {MANUAL}/{page}"));
            }
        }
    }
    assert!(problems.is_empty(), "{variant}:\n{}\n\n{text}", problems.join("\n"));
}

/// Every output, the forward input with a key and TLS (TLS is its default),
/// and the multiline filter: every section and key fluent-bit could be given.
#[test]
fn every_key_of_the_rendered_config_is_documented_for_its_plugin() {
    let variants = [
        ("defaults", call(json!({}))),
        (
            "loki",
            call(json!({ "output": "loki", "loki": { "host": "loki", "tls": true, "tenant_id": "oof",
                "labels": { "cluster": "br-1" }, "auth": { "user": "u", "password": "p" } } }))
            .sensitive("/loki/auth/password"),
        ),
        (
            "elasticsearch",
            call(json!({ "output": "elasticsearch", "elasticsearch": { "host": "es", "index": "i",
                "auth": { "user": "u", "password": "p" } } }))
            .sensitive("/elasticsearch/auth/password"),
        ),
        (
            "splunk",
            call(json!({ "output": "splunk", "splunk": { "host": "hec", "token": TOKEN, "index": "x" } }))
                .sensitive("/splunk/token"),
        ),
        (
            "forward and multiline",
            call(json!({
                "forward": { "enabled": true, "port": 24224, "shared_key": "k" },
                "multiline_languages": ["java", "python", "go", "ruby"],
            }))
            .sensitive("/forward/shared_key"),
        ),
    ];
    let mut kinds = std::collections::BTreeSet::new();
    for (variant, call) in variants {
        let plan = call.run::<FluentBit>().unwrap();
        let data = &plan.expect_object("ConfigMap", "fluent-bit")["data"];
        for file in ["fluent-bit.conf", "parsers.conf"] {
            let text = data[file].as_str().unwrap();
            assert_documented(&format!("{variant}: {file}"), text);
            for (kind, kv) in sections(text) {
                let name = kv.iter().find(|(k, _)| k == "Name").map(|(_, v)| v.clone()).unwrap_or_default();
                kinds.insert(format!("{kind} {name}"));
            }
        }
    }
    // The variants reach every plugin the config can name.
    for expected in [
        "INPUT tail",
        "INPUT forward",
        "FILTER multiline",
        "FILTER kubernetes",
        "FILTER nest",
        "FILTER modify",
        "OUTPUT stdout",
        "OUTPUT es",
        "OUTPUT loki",
        "OUTPUT splunk",
    ] {
        assert!(kinds.contains(expected), "no variant renders {expected}: {kinds:?}");
    }
}

/// The check itself: an undocumented key is named, with its page.
#[test]
fn an_undocumented_key_is_reported_with_its_page() {
    let text = "[OUTPUT]\n    Name  stdout\n    Match *\n    Retry_Limt 5\n";
    let err = std::panic::catch_unwind(|| assert_documented("typo", text)).unwrap_err();
    let message = err.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("[OUTPUT] stdout: `Retry_Limt` is not documented on https://docs.fluentbit.io/manual/4.0/pipeline/outputs/standard-output"),
        "{message}"
    );
}
