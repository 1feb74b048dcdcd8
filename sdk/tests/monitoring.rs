//! `capstan_sdk::k8s::monitoring` checked by the real `promtool` (Debian's
//! `prometheus` package, installed by tests/setup.sh): the alert sets as a
//! rules file pass `promtool check rules`, every dashboard query parses
//! (each as a recording rule: promtool 2.42 has no `check query`), a broken
//! expression makes promtool fail, and `promtool test rules` shows each
//! alert firing on the series it is written for, and not on others. The
//! `PrometheusRule` and the dashboard `ConfigMap` are validated against the
//! vendored prometheus-operator CRD and Kubernetes 1.30 by the repository's
//! `tests/validate_manifests.py`.
//!
//! A missing promtool or validator fails the test, naming what to install;
//! nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly by design")]

use std::path::{Path, PathBuf};

use capstan_plugin_testsupport::{promtool, promtool_check_rules, validate};
use capstan_sdk::ComponentId;
use capstan_sdk::k8s::monitoring::{Alert, AlertSeverity, Dashboard, Panel, RuleGroup};
use capstan_sdk::k8s::{self, monitoring};
use serde_json::{Value, json};

const PKI_CA: &str = "Capstan staging root CA";

/// The groups the tests check: every alert the SDK ships, PKI included.
fn shipped_groups() -> Vec<RuleGroup> {
    vec![
        monitoring::vault_alerts("security", "openbao", Some(PKI_CA)),
        monitoring::spire_alerts("spire", "spire-server", "spire-agent"),
    ]
}

fn shipped_dashboards() -> Vec<Dashboard> {
    vec![
        monitoring::vault_dashboard("security", "openbao", Some(PKI_CA)),
        monitoring::vault_dashboard("security", "openbao", None),
        monitoring::spire_dashboard("spire", "spire-server", "spire-agent"),
    ]
}

/// A fresh directory for one test's files, under cargo's temp dir for
/// integration tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("monitoring").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn promtool_is_installed() {
    let out = promtool(Path::new("."), &["--version"]).unwrap_or_else(|r| panic!("{r}"));
    assert!(out.contains("promtool, version"), "{out}");
}

#[test]
fn the_shipped_alert_rules_pass_promtool_check_rules() {
    let dir = scratch("alerts");
    let groups = shipped_groups();
    let yaml = monitoring::rules_file_yaml(&groups);
    assert!(yaml.starts_with("groups:\n"), "{yaml}");
    std::fs::write(dir.join("rules.yaml"), &yaml).unwrap();
    let report = promtool(&dir, &["check", "rules", "rules.yaml"]).unwrap_or_else(|r| panic!("{r}"));
    let count: usize = groups.iter().map(|g| g.alerts.len()).sum();
    assert_eq!(count, 6, "VaultSealed, VaultNoActiveNode, VaultPkiCertificateExpiring, SPIRE's three");
    assert!(report.contains(&format!("SUCCESS: {count} rules found")), "{report}");
}

#[test]
fn every_dashboard_query_parses_as_promql() {
    let dashboards = shipped_dashboards();
    let exprs: Vec<&str> = dashboards.iter().flat_map(Dashboard::exprs).collect();
    assert!(exprs.len() >= 10, "{exprs:?}");
    let report =
        promtool_check_rules(&monitoring::recording_rules_file(&exprs)).unwrap_or_else(|r| panic!("{r}"));
    assert!(report.contains(&format!("SUCCESS: {} rules found", exprs.len())), "{report}");
}

/// Every metric an alert reads has a panel: the dashboard shows what the
/// alert is about.
#[test]
fn every_alert_metric_has_a_panel() {
    let panels: String =
        shipped_dashboards().iter().flat_map(Dashboard::exprs).collect::<Vec<_>>().join("\n");
    for metric in [
        "vault_core_unsealed",
        "vault_core_active",
        "x509_cert_not_after",
        "up{job=\"spire-server\"",
        "up{job=\"spire-agent\"",
        "spire_agent_rpc_workload_api_",
    ] {
        assert!(panels.contains(metric), "no panel reads {metric}:\n{panels}");
    }
}

#[test]
fn a_broken_expression_makes_promtool_fail() {
    let broken = RuleGroup::new("broken").alert(Alert::new(
        "Broken",
        "sum(rate(vault_core_unsealed[5m])",
        AlertSeverity::Warning,
    ));
    let report =
        promtool_check_rules(&monitoring::rules_file(&[broken])).expect_err("an unclosed parenthesis");
    assert!(report.contains("parse error") || report.contains("unclosed"), "{report}");

    let dashboard = Dashboard::new("broken", "Broken").panel(Panel::new("p", "rate(up[5m]"));
    let report = promtool_check_rules(&monitoring::recording_rules_file(&dashboard.exprs()))
        .expect_err("a broken dashboard query");
    assert!(report.contains("capstan:check:0") || report.contains("parse error"), "{report}");
}

/// `summary` and `description` of `alert` with `labels` put in for
/// `{{ $labels.x }}`, as Prometheus expands them.
fn annotations(alert: &Alert, labels: &[(&str, &str)]) -> Value {
    let expand = |text: &str| {
        labels.iter().fold(text.to_owned(), |t, (k, v)| t.replace(&format!("{{{{ $labels.{k} }}}}"), v))
    };
    json!({ "summary": expand(&alert.summary), "description": expand(&alert.description) })
}

fn shipped_alert(name: &str) -> Alert {
    shipped_groups().into_iter().flat_map(|g| g.alerts).find(|a| a.name == name).unwrap()
}

/// An expected alert: its labels (`severity` added) and expanded annotations.
fn expected(name: &str, labels: &[(&str, &str)]) -> Value {
    let alert = shipped_alert(name);
    let mut all: serde_json::Map<String, Value> =
        labels.iter().map(|(k, v)| ((*k).into(), json!(v))).collect();
    all.insert("severity".into(), json!(alert.severity.as_str()));
    json!({ "exp_labels": all, "exp_annotations": annotations(&alert, labels) })
}

/// `promtool test rules`: each alert fires on the series it is written for,
/// after its `for`, and not on healthy ones or other jobs.
#[test]
fn the_alerts_fire_on_the_series_they_are_written_for() {
    let dir = scratch("unit");
    std::fs::write(dir.join("rules.yaml"), monitoring::rules_file_yaml(&shipped_groups())).unwrap();
    let vault = |instance: &str, metric: &str, values: &str| {
        json!({ "series": format!(
            "{metric}{{job=\"openbao\",namespace=\"security\",instance=\"{instance}\"}}"), "values": values })
    };
    let spire = |job: &str, instance: &str, metric: &str, extra: &str, values: &str| {
        json!({ "series": format!(
            "{metric}{{job=\"{job}\",namespace=\"spire\",instance=\"{instance}\"{extra}}}"), "values": values })
    };
    let tests = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": "a sealed node, the others active and standby",
                "interval": "1m",
                "input_series": [
                    vault("bao-0", "vault_core_unsealed", "1 0 0 0 0"),
                    vault("bao-1", "vault_core_unsealed", "1 1 1 1 1"),
                    vault("bao-0", "vault_core_active", "0 0 0 0 0"),
                    vault("bao-1", "vault_core_active", "1 1 1 1 1"),
                    // Another job's sealed node is not this alert's.
                    json!({ "series": "vault_core_unsealed{job=\"other\",namespace=\"security\",instance=\"x\"}",
                            "values": "0 0 0 0 0" }),
                ],
                "alert_rule_test": [
                    { "eval_time": "1m", "alertname": "VaultSealed", "exp_alerts": [] },
                    { "eval_time": "3m", "alertname": "VaultSealed", "exp_alerts": [
                        expected("VaultSealed", &[("job", "openbao"), ("namespace", "security"), ("instance", "bao-0")]),
                    ] },
                    { "eval_time": "4m", "alertname": "VaultNoActiveNode", "exp_alerts": [] },
                ],
            },
            {
                "name": "every node standby, then none scraped",
                "interval": "1m",
                "input_series": [
                    vault("bao-0", "vault_core_active", "0 0 0 0 _ _ _ _ _ _ _ _"),
                    vault("bao-1", "vault_core_active", "0 0 0 0 _ _ _ _ _ _ _ _"),
                ],
                "alert_rule_test": [
                    { "eval_time": "3m", "alertname": "VaultNoActiveNode",
                      "exp_alerts": [expected("VaultNoActiveNode", &[])] },
                    // Stale after 5 minutes without a sample: absent() takes over.
                    { "eval_time": "14m", "alertname": "VaultNoActiveNode",
                      "exp_alerts": [expected("VaultNoActiveNode", &[("job", "openbao"), ("namespace", "security")])] },
                ],
            },
            {
                "name": "certificates of the PKI's CA and of another",
                "interval": "1m",
                "input_series": [
                    // Seconds since the epoch; the test's clock starts at 0.
                    { "series": format!("x509_cert_not_after{{issuer_CN=\"{PKI_CA}\",subject_CN=\"payments\",secret_namespace=\"payments\",secret_name=\"payments-tls\"}}"),
                      "values": "259200+0x120" },
                    { "series": format!("x509_cert_not_after{{issuer_CN=\"{PKI_CA}\",subject_CN=\"consent\",secret_namespace=\"consent\",secret_name=\"consent-tls\"}}"),
                      "values": "2592000+0x120" },
                    { "series": "x509_cert_not_after{issuer_CN=\"Other CA\",subject_CN=\"x\",secret_namespace=\"x\",secret_name=\"x\"}",
                      "values": "259200+0x120" },
                ],
                "alert_rule_test": [
                    { "eval_time": "30m", "alertname": "VaultPkiCertificateExpiring", "exp_alerts": [] },
                    { "eval_time": "61m", "alertname": "VaultPkiCertificateExpiring", "exp_alerts": [
                        expected("VaultPkiCertificateExpiring", &[("issuer_CN", PKI_CA), ("subject_CN", "payments"),
                            ("secret_namespace", "payments"), ("secret_name", "payments-tls")]),
                    ] },
                ],
            },
            {
                "name": "a SPIRE server down, an agent failing PermissionDenied, another only cancelled",
                "interval": "1m",
                "input_series": [
                    spire("spire-server", "server-0", "up", "", "1 0 0 0 0 0 0"),
                    spire("spire-agent", "agent-a", "up", "", "1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"),
                    spire("spire-agent", "agent-a", "spire_agent_rpc_workload_api_fetch_x509svid",
                          ",status=\"PermissionDenied\"", "0+2x20"),
                    spire("spire-agent", "agent-a", "spire_agent_rpc_workload_api_fetch_x509svid",
                          ",status=\"OK\"", "0+5x20"),
                    spire("spire-agent", "agent-b", "spire_agent_rpc_workload_api_fetch_jwtsvid",
                          ",status=\"Canceled\"", "0+3x20"),
                ],
                "alert_rule_test": [
                    { "eval_time": "6m", "alertname": "SpireServerDown", "exp_alerts": [
                        expected("SpireServerDown", &[("job", "spire-server"), ("namespace", "spire"), ("instance", "server-0")]),
                    ] },
                    { "eval_time": "6m", "alertname": "SpireAgentDown", "exp_alerts": [] },
                    { "eval_time": "8m", "alertname": "SpireAgentWorkloadApiErrors", "exp_alerts": [] },
                    { "eval_time": "16m", "alertname": "SpireAgentWorkloadApiErrors", "exp_alerts": [
                        expected("SpireAgentWorkloadApiErrors", &[("namespace", "spire"), ("instance", "agent-a"),
                            ("status", "PermissionDenied")]),
                    ] },
                ],
            },
        ],
    });
    std::fs::write(dir.join("tests.yaml"), serde_norway::to_string(&tests).unwrap()).unwrap();
    promtool(&dir, &["test", "rules", "tests.yaml"]).unwrap_or_else(|r| panic!("{r}"));

    // The check can fail: an alert expected where none fires is reported.
    let mut wrong = tests.clone();
    wrong["tests"][0]["alert_rule_test"][0]["exp_alerts"] = json!([expected("VaultSealed", &[])]);
    std::fs::write(dir.join("wrong.yaml"), serde_norway::to_string(&wrong).unwrap()).unwrap();
    let report = promtool(&dir, &["test", "rules", "wrong.yaml"]).expect_err("a wrong expectation");
    assert!(report.contains("VaultSealed"), "{report}");
}

#[test]
fn the_prometheus_rule_and_the_dashboard_config_maps_are_valid_objects() {
    let component =
        ComponentId { name: "vault".into(), environment: "staging".into(), namespace: "security".into() };
    let meta =
        k8s::Meta::new(&component, "vault-alerts", "monitoring").label("release", "kube-prometheus-stack");
    let groups = shipped_groups();
    let rule = monitoring::prometheus_rule(&meta, &groups);
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(rule["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(rule["spec"], monitoring::rules_file(&groups), "the spec is the rules file promtool checked");
    let sealed = &rule["spec"]["groups"][0]["rules"][0];
    assert_eq!(sealed["alert"], "VaultSealed");
    assert_eq!(sealed["expr"], "vault_core_unsealed{job=\"openbao\",namespace=\"security\"} == 0");
    assert_eq!(sealed["for"], "1m");
    assert_eq!(sealed["labels"], json!({ "severity": "critical" }));
    assert!(sealed["annotations"]["summary"].as_str().unwrap().contains("sealed"));

    let mut objects = vec![rule];
    for dashboard in shipped_dashboards() {
        let map = monitoring::dashboard_config_map(&meta.renamed(dashboard.uid.clone()), &dashboard);
        assert_eq!(map["metadata"]["labels"]["grafana_dashboard"], "1");
        let text = map["data"][format!("{}.json", dashboard.uid)].as_str().unwrap();
        let model: Value = serde_json::from_str(text).unwrap();
        let exprs: Vec<&str> = model["panels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["targets"][0]["expr"].as_str().unwrap())
            .collect();
        assert_eq!(exprs, dashboard.exprs(), "the ConfigMap holds the queries promtool parsed");
        assert_eq!(model["uid"], json!(dashboard.uid));
        assert!(dashboard.uid.len() <= 40, "Grafana's uid limit: {}", dashboard.uid);
        objects.push(map);
    }
    validate(&objects, &[]).unwrap_or_else(|r| panic!("{r}"));

    // The validator reads the CRD: a `for` that is no duration is refused.
    let mut broken = objects[0].clone();
    broken["spec"]["groups"][0]["rules"][0]["for"] = json!("one minute");
    let report = validate(&[broken], &[]).expect_err("a `for` that is no duration");
    assert!(report.contains("PrometheusRule"), "{report}");
}

#[test]
fn label_values_are_quoted_for_promql() {
    assert_eq!(monitoring::promql_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    assert_eq!(
        monitoring::selector(&[("job", "vault"), ("namespace", "security")]),
        "{job=\"vault\",namespace=\"security\"}"
    );
    let group = monitoring::vault_alerts("security", "va\"ult", None);
    assert_eq!(group.alerts.len(), 2, "no PKI alert without the CA's name");
    assert!(group.alerts[0].expr.contains("job=\"va\\\"ult\""), "{}", group.alerts[0].expr);
}
