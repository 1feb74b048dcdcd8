//! `probes`: a container that runs until stopped tells the kubelet when it
//! is ready (so it gets traffic only then) or alive (so a hung process is
//! restarted). Jobs run to completion and init containers finish first, so
//! neither needs one.

use capstan_sdk::Violation;

use super::Context;
use crate::object::is_set;

/// The rule's id.
pub(crate) const ID: &str = "probes";

const PROBES: [&str; 3] = ["livenessProbe", "readinessProbe", "startupProbe"];

pub(crate) fn check(cx: &Context<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    for pod in cx.pods.iter().filter(|p| p.long_running) {
        for c in pod.containers().into_iter().filter(|c| !c.init) {
            if PROBES.iter().any(|probe| is_set(c.value.get(probe))) {
                continue;
            }
            out.push(Violation::error(
                ID,
                pod.object,
                format!("{}/readinessProbe", c.path),
                format!(
                    "{}: no liveness, readiness or startup probe; set a readinessProbe (and a livenessProbe if \
                     it can hang)",
                    c.label
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use capstan_sdk::testkit::{ViolationsExt, check};
    use serde_json::json;

    use super::ID;
    use crate::Baseline;
    use crate::rules::test::{container, container_with};

    #[test]
    fn long_running_containers_need_a_probe_jobs_and_init_containers_do_not() {
        let bare = container_with("api", json!({"readinessProbe": null}));
        let live = container_with(
            "worker",
            json!({"readinessProbe": null, "livenessProbe": {"exec": {"command": ["true"]}}}),
        );
        let pod = |kind: &str, api: &str| {
            json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x"},
                   "spec": {"template": {"spec": {"containers": [bare.clone()], "initContainers": [bare.clone()]}}}})
        };
        let objects = vec![
            pod("Deployment", "apps/v1"),
            pod("StatefulSet", "apps/v1"),
            pod("DaemonSet", "apps/v1"),
            pod("Job", "batch/v1"),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [container("ok"), live, bare.clone()]}}),
        ];
        let v = check::<Baseline>(objects, json!({})).unwrap();
        assert_eq!(
            v.at(ID),
            vec![
                (0, "/spec/template/spec/containers/0/readinessProbe"),
                (1, "/spec/template/spec/containers/0/readinessProbe"),
                (2, "/spec/template/spec/containers/0/readinessProbe"),
                (4, "/spec/containers/2/readinessProbe"),
            ]
        );
        assert_eq!(
            v.of_rule(ID)[0].message,
            "container \"api\": no liveness, readiness or startup probe; set a readinessProbe (and a livenessProbe \
             if it can hang)"
        );
    }
}
