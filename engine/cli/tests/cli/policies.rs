//! Policies through the real binary: the example passes the built-in
//! baseline policy in `enforce` mode in every environment (the root
//! containers waived by their named exceptions), and a tree that breaks three
//! rules is refused at plan time, each violation naming the HCL file and
//! line that caused it; in `audit` mode the same tree plans, with warnings.

use serde_json::Value;

use crate::support::{Stack, example, with_test_key};

fn policy_test_json(s: &Stack, dir: &str) -> (i32, Value) {
    let run = with_test_key(s, &["policy", "test", dir, "--json"]);
    let doc = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:?}"));
    (run.code, doc)
}

#[test]
fn the_example_passes_the_baseline_policy_in_enforce_mode() {
    let s = example();
    assert!(s.read("client.hcl").contains("mode    = \"enforce\""), "the example enforces its policy");
    // The components checked, and the containers that must run as root,
    // each waived by the exception that says why: the log collector reads
    // the node's logs, and (zero-trust only) the SPIRE agent owns its
    // socket's directory on the node.
    let waived_logs = ("DaemonSet", "log-collector-reads-node-logs", "only root may read");
    let waived_spire = ("DaemonSet", "spire-agent-attests-workloads", "hostPID");
    let expected = [
        ("staging", 9, vec![waived_logs]),
        ("production", 9, vec![waived_logs]),
        ("zero-trust", 12, vec![waived_logs, waived_spire]),
    ];
    for (env, count, waived) in expected {
        let (code, doc) = policy_test_json(&s, &format!("envs/{env}"));
        assert_eq!(code, 0, "{env}: {doc:#}");
        assert_eq!(doc["passed"], true, "{env}: {doc:#}");
        let components = doc["components"].as_array().expect("components");
        assert_eq!(components.len(), count, "{env}: every component is checked: {doc:#}");
        let findings: Vec<&Value> =
            components.iter().flat_map(|c| c["findings"].as_array().unwrap()).collect();
        assert_eq!(findings.len(), waived.len(), "{env}: {findings:#?}");
        for (finding, (kind, exception, reason)) in findings.iter().zip(waived) {
            assert_eq!(finding["rule"], "run-as-non-root", "{env}");
            assert_eq!(finding["object"]["kind"], kind, "{env}");
            assert_eq!(finding["waived_by"]["name"], exception, "{env}");
            assert!(finding["waived_by"]["reason"].as_str().unwrap().contains(reason), "{env}: {finding:#}");
        }
    }
}

/// The 1-based line of `file` (relative to the stack root) holding `needle`.
fn line_of(s: &Stack, file: &str, needle: &str) -> usize {
    let text = s.read(file);
    let index = text.lines().position(|l| l.contains(needle));
    index.unwrap_or_else(|| panic!("{file} has no line with {needle:?}:\n{text}")) + 1
}

/// A copy of the example whose staging breaks three rules of the baseline
/// policy, each through an input a person would write: an image by
/// `:latest`, a container without a CPU limit, the log collector run as
/// root with no exception to cover it.
fn broken_example(mode: &str) -> Stack {
    let s = example();
    let consent = "envs/staging/open-finance/oob-consent/component.hcl";
    let text = s.read(consent).replace(":${local.env.app_version}\"", ":latest\"");
    s.write(consent, &text);
    // Not oob-payments: it depends on oob-consent, and is skipped when that is refused.
    let sync = "envs/staging/open-finance/oob-directory-sync/component.hcl";
    let text = s.read(sync).replace(
        "inputs = {\n",
        "inputs = {\n  # No CPU limit: throttling hurts our p99.\n  resources = { limits = { cpu = null } }\n",
    );
    s.write(sync, &text);
    let logs = "envs/staging/platform/logs/component.hcl";
    let text =
        s.read(logs).replace("    log_level = \"info\"\n", "    log_level = \"info\"\n    run_as_user = 0\n");
    s.write(logs, &text);
    let client = s.read("client.hcl");
    let start = client.find("  exceptions = [").expect("the example's exceptions");
    let end = client[start..].find("\n  ]\n").expect("their end") + start + "\n  ]\n".len();
    let client = format!("{}{}", &client[..start], &client[end..])
        .replace("mode    = \"enforce\"", &format!("mode    = \"{mode}\""));
    s.write("client.hcl", &client);
    s
}

#[test]
fn a_tree_breaking_three_rules_fails_plan_naming_the_hcl_line_of_each_cause() {
    let s = broken_example("enforce");
    let run = with_test_key(&s, &["plan", "envs/staging", "--no-color"]);
    assert_eq!(run.code, 1, "{run:?}");
    let out = format!("{}{}", run.stdout, run.stderr);
    // Each cause is where `config show` says the input was set: the same
    // provenance, file and line.
    let expected = [
        ("envs/staging/open-finance/oob-consent", "no-latest-tag", "/image"),
        ("envs/staging/open-finance/oob-directory-sync", "resources", "/resources/limits"),
        ("envs/staging/platform/logs", "run-as-non-root", "/run_as_user"),
    ];
    let violations: Vec<&str> = out.lines().filter(|l| l.contains("[baseline/")).collect();
    assert_eq!(violations.len(), 3, "exactly three violations: {run:?}");
    for (component, rule, pointer) in expected {
        let found = violations.iter().find(|l| l.contains(&format!("[baseline/{rule}]")));
        let found = found.unwrap_or_else(|| panic!("no {rule} violation: {run:?}"));
        let show = with_test_key(&s, &["config", "show", component, "--json"]).ok();
        let origins: Value = serde_json::from_str(&show.stdout).unwrap();
        let top = pointer.split('/').nth(1).unwrap();
        let set_at = origins["origins"][top].as_str().unwrap_or_else(|| panic!("{show:?}"));
        assert!(set_at.starts_with(&format!("{component}/component.hcl:")), "{set_at}");
        assert!(
            found.contains(&format!("(input {pointer}, set at {set_at})")),
            "{component}: {found}\n{run:?}"
        );
    }
    // The lines themselves: the image and the resources where they are
    // written; the uid within the `inputs = merge(…)` that sets it, which is
    // as deep as provenance goes into a function call.
    let consent = "envs/staging/open-finance/oob-consent/component.hcl";
    assert!(out.contains(&format!("{consent}:{} (inputs)", line_of(&s, consent, ":latest"))), "{run:?}");
    let sync = "envs/staging/open-finance/oob-directory-sync/component.hcl";
    assert!(out.contains(&format!("{sync}:{} (inputs)", line_of(&s, sync, "resources = {"))), "{run:?}");
    let logs = "envs/staging/platform/logs/component.hcl";
    assert!(out.contains(&format!("{logs}:{} (inputs)", line_of(&s, logs, "inputs = merge("))), "{run:?}");
    for refused in ["oob-consent", "oob-directory-sync", "platform/logs"] {
        assert!(
            out.lines().any(|l| l.contains(refused) && l.contains("refused")),
            "{refused} is reported refused: {run:?}"
        );
    }
    // Refused before any change: an apply writes nothing of them.
    let apply = with_test_key(&s, &["apply", "envs/staging", "--auto-approve", "--no-color"]);
    assert_eq!(apply.code, 1, "{apply:?}");
    assert!(!s.path("rendered/staging/open-finance/oob-consent").exists(), "{apply:?}");
    assert!(!s.path("rendered/staging/platform/logs").exists(), "{apply:?}");
}

#[test]
fn in_audit_mode_the_same_tree_plans_with_the_violations_as_warnings() {
    let s = broken_example("audit");
    let run = with_test_key(&s, &["plan", "envs/staging", "--no-color"]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = format!("{}{}", run.stdout, run.stderr);
    for rule in ["no-latest-tag", "resources", "run-as-non-root"] {
        assert!(
            out.lines().any(|l| l.starts_with("warning:") && l.contains(&format!("[baseline/{rule}]"))),
            "{rule} is a warning: {run:?}"
        );
    }
    let (code, doc) = policy_test_json(&s, "envs/staging");
    assert_eq!((code, &doc["passed"]), (0, &Value::Bool(true)), "{doc:#}");
}

/// A policy whose plugin cannot be had stops every plan, naming it; a
/// destroy plans nothing and needs no policy, so it still runs.
#[test]
fn a_policy_that_cannot_load_stops_plans_but_not_a_destroy() {
    let s = crate::support::web_stack(&["api"]);
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    let client = s.read("client.hcl");
    s.write(
        "client.hcl",
        &format!(
            "{client}\npolicy \"gone\" {{\n  plugin  = \"capstan/policy-missing\"\n  version = \"^0.1\"\n}}\n"
        ),
    );
    let plan = s.run(&["plan", "envs/dev", "--json"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    let doc: Value = serde_json::from_str(&plan.stdout).unwrap();
    assert!(doc["errors"][0]["message"].as_str().unwrap().contains("capstan/policy-missing"), "{plan:?}");

    let destroy = s.run(&["destroy", "envs/dev", "--auto-approve"]).ok();
    assert!(!s.path("rendered/dev/web/api").exists(), "{destroy:?}");
}
