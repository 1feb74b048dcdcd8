//! The rules, one table: id, description, the switch in the params, and
//! the function that finds its violations. Each module holds one rule or a
//! few that read the same fields.

mod images;
mod pdb;
mod probes;
mod resources;
mod security;

use capstan_sdk::Violation;
use serde_json::Value;

use crate::params::{Params, Rules};
use crate::pods::{self, PodTemplate};

/// What every rule reads: the objects, their pod templates, the params.
pub(crate) struct Context<'a> {
    /// The planned objects, in request order.
    pub objects: &'a [Value],
    /// The pod template of every workload among them.
    pub pods: Vec<PodTemplate<'a>>,
    /// The params, merged over the defaults.
    pub params: &'a Params,
}

/// One rule.
pub(crate) struct Rule {
    /// Its id: the key in `params.rules` and what violations name.
    pub id: &'static str,
    /// One line for `capstan plugin inspect`.
    pub description: &'static str,
    /// Whether the params turn it on.
    on: fn(&Rules) -> bool,
    /// Its violations.
    check: fn(&Context<'_>) -> Vec<Violation>,
}

/// Every rule, in the order violations are reported.
pub(crate) const ALL: &[Rule] = &[
    Rule {
        id: resources::ID,
        description: "Every container, and every pod an operator's custom resource templates, declares cpu and \
                      memory requests and limits.",
        on: |r| r.resources,
        check: resources::check,
    },
    Rule {
        id: security::RUN_AS_NON_ROOT,
        description: "No container runs as root: runAsNonRoot true or a non-zero runAsUser, in the container or \
                      its pod.",
        on: |r| r.run_as_non_root,
        check: security::run_as_non_root,
    },
    Rule {
        id: security::NO_PRIVILEGE_ESCALATION,
        description: "Every container sets allowPrivilegeEscalation: false and none is privileged.",
        on: |r| r.no_privilege_escalation,
        check: security::no_privilege_escalation,
    },
    Rule {
        id: security::READ_ONLY_ROOT_FILESYSTEM,
        description: "Every container sets readOnlyRootFilesystem: true (off by default).",
        on: |r| r.read_only_root_filesystem,
        check: security::read_only_root_filesystem,
    },
    Rule {
        id: security::DROP_CAPABILITIES,
        description: "Every container drops ALL capabilities.",
        on: |r| r.drop_capabilities,
        check: security::drop_capabilities,
    },
    Rule {
        id: images::NO_LATEST_TAG,
        description: "Every image, of containers and of operators' custom resources, has a tag other than \
                      `latest` or is pinned by digest.",
        on: |r| r.no_latest_tag,
        check: images::no_latest_tag,
    },
    Rule {
        id: images::ALLOWED_REGISTRIES,
        description: "Every image comes from one of `allowed_registries` or is pinned by digest (when the list \
                      is not empty).",
        on: |r| r.allowed_registries,
        check: images::allowed_registries,
    },
    Rule {
        id: probes::ID,
        description: "Every container of a Deployment, StatefulSet, DaemonSet or bare Pod declares a liveness, \
                      readiness or startup probe.",
        on: |r| r.probes,
        check: probes::check,
    },
    Rule {
        id: pdb::ID,
        description: "Every HorizontalPodAutoscaler's target has a PodDisruptionBudget among the component's \
                      objects selecting its pods.",
        on: |r| r.pdb_for_hpa,
        check: pdb::check,
    },
];

/// The violations of every rule the params turn on.
pub(crate) fn check(objects: &[Value], params: &Params) -> Vec<Violation> {
    let cx = Context { objects, pods: pods::templates(objects), params };
    ALL.iter().filter(|rule| (rule.on)(&params.rules)).flat_map(|rule| (rule.check)(&cx)).collect()
}

#[cfg(test)]
pub(crate) mod test {
    //! Objects for the rules' tests.

    use serde_json::{Value, json};

    /// A Deployment `api` of these containers, which pass every rule
    /// unless a test breaks them.
    pub(crate) fn deployment(containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "default"},
            "spec": {"template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": containers}}}
        })
    }

    /// A container `name` that passes every rule.
    pub(crate) fn container(name: &str) -> Value {
        json!({
            "name": name, "image": "ghcr.io/acme/api:1.4.2",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}},
            "securityContext": {
                "runAsNonRoot": true, "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}
            },
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}
        })
    }

    /// `container(name)` with `patch` merged over it (null removes a field).
    pub(crate) fn container_with(name: &str, patch: Value) -> Value {
        let mut c = container(name);
        merge(&mut c, patch);
        c
    }

    fn merge(base: &mut Value, patch: Value) {
        match (base, patch) {
            (Value::Object(b), Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        b.remove(&k);
                    } else {
                        merge(b.entry(k).or_insert(Value::Null), v);
                    }
                }
            }
            (slot, v) => *slot = v,
        }
    }
}
