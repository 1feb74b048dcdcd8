//! The container security context rules: what the Kubernetes "restricted"
//! Pod Security Standard asks of each container (and of its pod, where a
//! field can be set for every container at once).

use capstan_sdk::Violation;
use serde_json::Value;

use super::Context;
use crate::pods::{Container, PodTemplate};

/// No container runs as root.
pub(crate) const RUN_AS_NON_ROOT: &str = "run-as-non-root";
/// `allowPrivilegeEscalation: false`, never privileged.
pub(crate) const NO_PRIVILEGE_ESCALATION: &str = "no-privilege-escalation";
/// `readOnlyRootFilesystem: true`.
pub(crate) const READ_ONLY_ROOT_FILESYSTEM: &str = "read-only-root-filesystem";
/// `capabilities.drop` includes `ALL`.
pub(crate) const DROP_CAPABILITIES: &str = "drop-capabilities";

/// Calls `each` with every container of every pod template.
fn each_container<'a>(
    cx: &'a Context<'_>,
    mut each: impl FnMut(&PodTemplate<'a>, &Container<'a>) -> Option<(String, String)>,
    rule: &str,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for pod in &cx.pods {
        for c in pod.containers() {
            if let Some((path, message)) = each(pod, &c) {
                out.push(Violation::error(rule, pod.object, path, message));
            }
        }
    }
    out
}

/// A container runs as non-root when it or its pod says `runAsNonRoot:
/// true` (the container's value wins), or when the uid it runs as (the
/// container's `runAsUser`, else the pod's) is not 0. An effective uid 0 is
/// reported where it is set; anything else at the container's
/// `runAsNonRoot`, the field that settles it.
pub(crate) fn run_as_non_root(cx: &Context<'_>) -> Vec<Violation> {
    each_container(
        cx,
        |pod, c| {
            let (user, user_path) = match c.security("runAsUser") {
                Some(uid) => (uid.as_i64(), c.security_path("runAsUser")),
                None => (
                    pod.security("runAsUser").and_then(Value::as_i64),
                    format!("{}/securityContext/runAsUser", pod.spec_path),
                ),
            };
            if user == Some(0) {
                return Some((
                    user_path,
                    format!("{}: runs as root (runAsUser: 0); set runAsUser to a non-zero uid", c.label),
                ));
            }
            let own = c.security("runAsNonRoot").and_then(Value::as_bool);
            let pods = pod.security("runAsNonRoot").and_then(Value::as_bool);
            if own.or(pods) == Some(true) || user.is_some_and(|uid| uid > 0) {
                return None;
            }
            let why = match (own, pods) {
                (Some(false), _) => "sets runAsNonRoot: false",
                (None, Some(false)) => "its pod sets runAsNonRoot: false",
                _ => "may run as root (neither runAsNonRoot nor runAsUser is set)",
            };
            Some((
                c.security_path("runAsNonRoot"),
                format!(
                    "{}: {why}; set securityContext.runAsNonRoot: true (or runAsUser to a non-zero uid)",
                    c.label
                ),
            ))
        },
        RUN_AS_NON_ROOT,
    )
}

/// `allowPrivilegeEscalation: false` (a setuid binary cannot gain more than
/// the process has), and not privileged (which is root on the node). A
/// container that breaks both is reported twice, once per field.
pub(crate) fn no_privilege_escalation(cx: &Context<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    for pod in &cx.pods {
        for c in pod.containers() {
            if c.security("privileged").and_then(Value::as_bool) == Some(true) {
                out.push(Violation::error(
                    NO_PRIVILEGE_ESCALATION,
                    pod.object,
                    c.security_path("privileged"),
                    format!(
                        "{}: is privileged (root on the node); remove securityContext.privileged and add only \
                         the capabilities it needs",
                        c.label
                    ),
                ));
            }
            let allowed = c.security("allowPrivilegeEscalation").and_then(Value::as_bool);
            if allowed != Some(false) {
                let why = if allowed == Some(true) {
                    "sets allowPrivilegeEscalation: true"
                } else {
                    "does not set allowPrivilegeEscalation (which defaults to true)"
                };
                out.push(Violation::error(
                    NO_PRIVILEGE_ESCALATION,
                    pod.object,
                    c.security_path("allowPrivilegeEscalation"),
                    format!("{}: {why}; set securityContext.allowPrivilegeEscalation: false", c.label),
                ));
            }
        }
    }
    out
}

/// `readOnlyRootFilesystem: true`: what the process writes goes to volumes.
pub(crate) fn read_only_root_filesystem(cx: &Context<'_>) -> Vec<Violation> {
    each_container(
        cx,
        |_, c| {
            (c.security("readOnlyRootFilesystem").and_then(Value::as_bool) != Some(true)).then(|| {
                (
                    c.security_path("readOnlyRootFilesystem"),
                    format!(
                        "{}: its root filesystem is writable; set securityContext.readOnlyRootFilesystem: true \
                         (with an emptyDir volume where it must write)",
                        c.label
                    ),
                )
            })
        },
        READ_ONLY_ROOT_FILESYSTEM,
    )
}

/// `capabilities.drop` includes `ALL`: a container adds back only what it needs.
pub(crate) fn drop_capabilities(cx: &Context<'_>) -> Vec<Violation> {
    each_container(
        cx,
        |_, c| {
            let drops_all = c
                .security("capabilities")
                .and_then(|caps| caps.get("drop"))
                .and_then(Value::as_array)
                .is_some_and(|drop| drop.iter().any(|cap| cap.as_str() == Some("ALL")));
            (!drops_all).then(|| {
                (
                    format!("{}/securityContext/capabilities/drop", c.path),
                    format!(
                        "{}: keeps the runtime's default capabilities; set securityContext.capabilities.drop: \
                         [ALL] (and add back only what it needs)",
                        c.label
                    ),
                )
            })
        },
        DROP_CAPABILITIES,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use capstan_sdk::testkit::{ViolationsExt, check};
    use serde_json::{Value, json};

    use super::*;
    use crate::Baseline;
    use crate::rules::test::{container, container_with, deployment};

    fn violations(objects: Vec<Value>) -> Vec<Violation> {
        check::<Baseline>(objects, json!({"rules": {"read-only-root-filesystem": true}})).unwrap()
    }

    fn with_security(security: Value) -> Value {
        container_with("api", json!({"securityContext": security}))
    }

    /// A Deployment of `containers` whose pod has `security`.
    fn with_pod_security(containers: Value, security: Value) -> Value {
        let mut d = deployment(containers);
        d["spec"]["template"]["spec"]["securityContext"] = security;
        d
    }

    const C0: &str = "/spec/template/spec/containers/0";

    #[test]
    fn a_restricted_container_passes_every_rule() {
        assert_eq!(violations(vec![deployment(json!([container("api")]))]), vec![]);
    }

    #[test]
    fn non_root_comes_from_the_container_or_its_pod_or_a_non_zero_uid() {
        let unset = with_security(json!({"runAsNonRoot": null}));
        let passing = vec![
            with_pod_security(json!([unset.clone()]), json!({"runAsNonRoot": true})),
            with_pod_security(json!([unset.clone()]), json!({"runAsUser": 1000})),
            deployment(json!([with_security(json!({"runAsNonRoot": null, "runAsUser": 65532}))])),
        ];
        assert_eq!(violations(passing).at(RUN_AS_NON_ROOT), vec![]);

        let failing = vec![
            deployment(json!([unset.clone()])),
            with_pod_security(
                json!([with_security(json!({"runAsNonRoot": false}))]),
                json!({"runAsNonRoot": true}),
            ),
            with_pod_security(json!([unset.clone()]), json!({"runAsNonRoot": false})),
        ];
        let v = violations(failing);
        let at = format!("{C0}/securityContext/runAsNonRoot");
        assert_eq!(v.at(RUN_AS_NON_ROOT), vec![(0, at.as_str()), (1, at.as_str()), (2, at.as_str())]);
        let messages: Vec<&str> = v.of_rule(RUN_AS_NON_ROOT).iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages[0],
            "container \"api\": may run as root (neither runAsNonRoot nor runAsUser is set); set \
             securityContext.runAsNonRoot: true (or runAsUser to a non-zero uid)"
        );
        assert!(messages[1].starts_with("container \"api\": sets runAsNonRoot: false;"), "{}", messages[1]);
        assert!(
            messages[2].starts_with("container \"api\": its pod sets runAsNonRoot: false;"),
            "{}",
            messages[2]
        );
    }

    #[test]
    fn uid_0_is_root_wherever_it_is_set_even_beside_run_as_non_root() {
        let v = violations(vec![
            deployment(json!([with_security(json!({"runAsUser": 0}))])),
            with_pod_security(json!([container("api")]), json!({"runAsUser": 0})),
            // The container's uid wins over the pod's root.
            with_pod_security(json!([with_security(json!({"runAsUser": 1000}))]), json!({"runAsUser": 0})),
        ]);
        assert_eq!(
            v.at(RUN_AS_NON_ROOT),
            vec![
                (0, "/spec/template/spec/containers/0/securityContext/runAsUser"),
                (1, "/spec/template/spec/securityContext/runAsUser")
            ]
        );
        assert_eq!(
            v.of_rule(RUN_AS_NON_ROOT)[0].message,
            "container \"api\": runs as root (runAsUser: 0); set runAsUser to a non-zero uid"
        );
    }

    #[test]
    fn privilege_escalation_must_be_off_and_privileged_is_refused() {
        let v = violations(vec![
            deployment(json!([with_security(json!({"allowPrivilegeEscalation": null}))])),
            deployment(json!([with_security(json!({"allowPrivilegeEscalation": true, "privileged": true}))])),
        ]);
        let ape = format!("{C0}/securityContext/allowPrivilegeEscalation");
        let privileged = format!("{C0}/securityContext/privileged");
        assert_eq!(
            v.at(NO_PRIVILEGE_ESCALATION),
            vec![(0, ape.as_str()), (1, privileged.as_str()), (1, ape.as_str())]
        );
        assert_eq!(
            v.of_rule(NO_PRIVILEGE_ESCALATION)[0].message,
            "container \"api\": does not set allowPrivilegeEscalation (which defaults to true); set \
             securityContext.allowPrivilegeEscalation: false"
        );
    }

    #[test]
    fn a_writable_root_filesystem_is_reported_only_when_the_rule_is_on() {
        let d = deployment(json!([with_security(json!({"readOnlyRootFilesystem": false}))]));
        let v = violations(vec![d.clone()]);
        let at = format!("{C0}/securityContext/readOnlyRootFilesystem");
        assert_eq!(v.at(READ_ONLY_ROOT_FILESYSTEM), vec![(0, at.as_str())]);
        let by_default = check::<Baseline>(vec![d], json!({})).unwrap();
        assert_eq!(by_default, vec![], "off by default");
    }

    #[test]
    fn all_capabilities_are_dropped_in_containers_and_init_containers() {
        let mut d = deployment(json!([with_security(json!({"capabilities": {"drop": ["NET_RAW"]}}))]));
        d["spec"]["template"]["spec"]["initContainers"] =
            json!([with_security(json!({"capabilities": null})), container("ok")]);
        let v = violations(vec![d]);
        assert_eq!(
            v.at(DROP_CAPABILITIES),
            vec![
                (0, "/spec/template/spec/containers/0/securityContext/capabilities/drop"),
                (0, "/spec/template/spec/initContainers/0/securityContext/capabilities/drop"),
            ]
        );
        assert!(v.of_rule(DROP_CAPABILITIES)[1].message.starts_with("init container \"api\": keeps"));
    }

    #[test]
    fn a_container_with_no_security_context_breaks_each_rule_once() {
        let v =
            violations(vec![deployment(json!([container_with("api", json!({"securityContext": null}))]))]);
        assert_eq!(
            v.rules_broken(),
            vec![RUN_AS_NON_ROOT, NO_PRIVILEGE_ESCALATION, READ_ONLY_ROOT_FILESYSTEM, DROP_CAPABILITIES]
        );
        assert_eq!(v.len(), 4);
    }
}
