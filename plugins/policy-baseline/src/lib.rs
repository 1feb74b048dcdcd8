//! `capstan/policy-baseline`: the security and operability baseline every
//! component's plan is checked against before anything is applied.
//!
//! It reads every pod template (Pod, Deployment, StatefulSet, DaemonSet,
//! ReplicaSet, Job, CronJob) and the pods the operators Capstan targets run
//! from their custom resources (CloudNativePG `Cluster` and `Pooler`,
//! Strimzi `Kafka` and `KafkaNodePool`, `RabbitmqCluster`), and reports,
//! each rule switchable in the params:
//!
//! | rule | asks |
//! |---|---|
//! | `resources` | cpu and memory requests and limits on every container and operator-run pod |
//! | `run-as-non-root` | no container runs as uid 0 |
//! | `no-privilege-escalation` | `allowPrivilegeEscalation: false`, never `privileged` |
//! | `read-only-root-filesystem` | `readOnlyRootFilesystem: true` (off by default) |
//! | `drop-capabilities` | `capabilities.drop` includes `ALL` |
//! | `no-latest-tag` | every image has a version tag or a digest |
//! | `allowed-registries` | every image comes from `allowed_registries` (when set) or has a digest |
//! | `probes` | long-running containers declare a probe |
//! | `pdb-for-hpa` | an autoscaled workload has a PodDisruptionBudget |
//!
//! It judges only what a plan holds: it does not look at the cluster (a
//! namespace's LimitRange or a mutating webhook that would fill a gap is
//! invisible to it) and it changes nothing.

mod object;
mod params;
mod pods;
mod rules;

use capstan_sdk::prelude::*;

pub use params::{DEFAULTS_YAML, Params, Rules};

/// The policy.
pub struct Baseline;

impl Policy for Baseline {
    fn metadata() -> Metadata {
        let builder = MetadataBuilder::policy("capstan/policy-baseline", env!("CARGO_PKG_VERSION"))
            .description(
                "The baseline for every pod Capstan plans: resource requests and limits, non-root, no \
                 privilege escalation, dropped capabilities, optionally a read-only root filesystem, \
                 pinned images from allowed registries, probes, and a disruption budget for what autoscales. \
                 Each rule can be turned off in params.",
            )
            .input_schema_for::<Params>()
            .defaults_yaml(DEFAULTS_YAML);
        rules::ALL.iter().fold(builder, |b, rule| b.rule(rule.id, rule.description)).build()
    }

    fn check(request: &CheckRequest) -> Result<Vec<Violation>, String> {
        let params: Params = request.params()?;
        Ok(rules::check(&request.objects, &params))
    }
}

capstan_sdk::export_policy!(Baseline);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use capstan_sdk::testkit::{CheckCall, CheckError, check_policy_metadata, defaults_of};
    use serde_json::json;

    use super::*;

    #[test]
    fn the_metadata_is_what_the_engine_accepts_and_lists_every_rule() {
        let m = check_policy_metadata::<Baseline>();
        let ids: Vec<&str> = m.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "resources",
                "run-as-non-root",
                "no-privilege-escalation",
                "read-only-root-filesystem",
                "drop-capabilities",
                "no-latest-tag",
                "allowed-registries",
                "probes",
                "pdb-for-hpa",
            ]
        );
        assert_eq!(m.backend, "");
        assert!(m.capabilities.is_empty());
    }

    #[test]
    fn the_defaults_yaml_is_the_params_default() {
        let defaults: Params = serde_json::from_value(defaults_of(&Baseline::metadata())).unwrap();
        assert_eq!(defaults, Params::default());
        // Written out in full: an operator reads every switch there.
        let yaml = defaults_of(&Baseline::metadata());
        assert_eq!(yaml["rules"].as_object().unwrap().len(), rules::ALL.len());
        assert_eq!(yaml["rules"]["read-only-root-filesystem"], false);
    }

    #[test]
    fn every_rule_is_a_key_of_the_params_schema() {
        let m = Baseline::metadata();
        let text = m.input_schema.to_string();
        for rule in &m.rules {
            assert!(text.contains(&format!("\"{}\"", rule.id)), "{} is not in the schema: {text}", rule.id);
        }
    }

    #[test]
    fn unknown_params_and_rules_are_refused_by_the_schema() {
        let err = CheckCall::new(vec![])
            .params(json!({"rules": {"no-root": false}}))
            .run::<Baseline>()
            .unwrap_err();
        assert!(matches!(&err, CheckError::InvalidParams(d) if d[0].message.contains("no-root")), "{err}");
        let err = CheckCall::new(vec![]).params(json!({"registries": []})).run::<Baseline>().unwrap_err();
        assert!(matches!(&err, CheckError::InvalidParams(_)), "{err}");
    }

    #[test]
    fn objects_without_pods_pass() {
        let objects = vec![
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}, "spec": {"ports": []}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "eA=="}}),
        ];
        assert_eq!(CheckCall::new(objects).run::<Baseline>().unwrap(), vec![]);
    }
}
