//! `resources`: cpu and memory requests and limits on every container, and
//! on the pods operators run from their custom resources (CloudNativePG,
//! Strimzi, the RabbitMQ cluster operator). Without a request the scheduler
//! packs pods blindly; without a memory limit one pod can take its node down.

use capstan_sdk::Violation;
use serde_json::Value;

use super::Context;
use crate::object::{self, dotted, is_set, list};
use crate::pods;

/// The rule's id.
pub(crate) const ID: &str = "resources";

/// A field every container must declare: group, key, name in messages.
type Field = (&'static str, &'static str, &'static str);

/// The four fields, in the order they are reported.
const FIELDS: [Field; 4] = [
    ("requests", "cpu", "cpu request"),
    ("requests", "memory", "memory request"),
    ("limits", "cpu", "cpu limit"),
    ("limits", "memory", "memory limit"),
];

/// The fields required under `params`: all four, or all but the CPU limit
/// where the platform lets containers use idle CPU (`require_cpu_limit: false`).
fn required(cx: &Context<'_>) -> Vec<Field> {
    FIELDS
        .into_iter()
        .filter(|(group, key, _)| cx.params.require_cpu_limit || (*group, *key) != ("limits", "cpu"))
        .collect()
}

pub(crate) fn check(cx: &Context<'_>) -> Vec<Violation> {
    let fields = required(cx);
    let fields = fields.as_slice();
    let mut out = Vec::new();
    for pod in &cx.pods {
        for c in pod.containers() {
            let path = format!("{}/resources", c.path);
            out.extend(missing(fields, pod.object, c.value.get("resources"), &path, "resources", &c.label));
        }
    }
    let node_pools = cx.objects.iter().any(|o| object::is(o, STRIMZI, "KafkaNodePool"));
    for (i, o) in cx.objects.iter().enumerate() {
        match (object::group(o), object::kind(o)) {
            (CNPG, "Cluster") => {
                out.extend(field(fields, i, o, "/spec/resources", "the PostgreSQL instances"))
            }
            (CNPG, "Pooler") => out.extend(pooler(fields, i, o)),
            (STRIMZI, "Kafka") => {
                // With node pools (KafkaNodePool objects, which the
                // `strimzi.io/node-pools` annotation turns on), the brokers'
                // resources are the pools', and spec.kafka.resources is ignored.
                let pools_enabled =
                    o.pointer("/metadata/annotations/strimzi.io~1node-pools").and_then(Value::as_str)
                        == Some("enabled");
                if !(node_pools || pools_enabled) {
                    out.extend(field(fields, i, o, "/spec/kafka/resources", "the Kafka brokers"));
                }
                for (part, what) in [
                    ("/spec/zookeeper", "ZooKeeper"),
                    ("/spec/entityOperator/topicOperator", "the topic operator"),
                    ("/spec/entityOperator/userOperator", "the user operator"),
                ] {
                    if is_set(o.pointer(part)) {
                        out.extend(field(fields, i, o, &format!("{part}/resources"), what));
                    }
                }
            }
            (STRIMZI, "KafkaNodePool") => {
                out.extend(field(fields, i, o, "/spec/resources", "the node pool's Kafka nodes"))
            }
            (RABBITMQ, "RabbitmqCluster") => {
                out.extend(field(fields, i, o, "/spec/resources", "the RabbitMQ nodes"))
            }
            _ => {}
        }
    }
    out
}

const CNPG: &str = "postgresql.cnpg.io";
const STRIMZI: &str = "kafka.strimzi.io";
const RABBITMQ: &str = "rabbitmq.com";

/// The violation of the `resources` field at `path` of custom resource `o`.
fn field(fields: &[Field], object: usize, o: &Value, path: &str, what: &str) -> Option<Violation> {
    let subject = format!("{} \"{}\" ({what})", object::kind(o), object::name(o));
    missing(fields, object, o.pointer(path), path, &dotted(path), &subject)
}

/// A CloudNativePG Pooler runs PgBouncer from `spec.template`; the operator
/// sets no resources of its own, so the template must.
fn pooler(fields: &[Field], object: usize, o: &Value) -> Vec<Violation> {
    let name = object::name(o);
    let Some(spec) = o.pointer("/spec/template/spec").filter(|s| s.is_object()) else {
        return vec![Violation::error(
            ID,
            object,
            "/spec/template",
            format!(
                "Pooler \"{name}\": no resources for its pgbouncer container; set spec.template.spec.containers \
                 to a container named \"pgbouncer\" with resources.requests and resources.limits for cpu and \
                 memory"
            ),
        )];
    };
    let containers = pods::containers_at(spec, "/spec/template/spec");
    let mut out: Vec<Violation> = containers
        .iter()
        .filter_map(|c| {
            let path = format!("{}/resources", c.path);
            missing(
                fields,
                object,
                c.value.get("resources"),
                &path,
                "resources",
                &format!("Pooler \"{name}\": {}", c.label),
            )
        })
        .collect();
    let pgbouncer = containers
        .iter()
        .any(|c| !c.init && c.value.get("name").and_then(Value::as_str) == Some("pgbouncer"));
    if !pgbouncer {
        out.push(Violation::error(
            ID,
            object,
            "/spec/template/spec/containers",
            format!(
                "Pooler \"{name}\": no resources for its pgbouncer container; add a container named \
                 \"pgbouncer\" with resources.requests and resources.limits for cpu and memory"
            ),
        ));
    }
    out
}

/// The violation of `resources` (at `path`, spelt `field` in messages) when
/// it lacks any of the four; its path is where the first missing one
/// belongs: `…/resources` when there are none, else `…/requests` or
/// `…/limits`.
fn missing(
    fields: &[Field],
    object: usize,
    resources: Option<&Value>,
    path: &str,
    field: &str,
    subject: &str,
) -> Option<Violation> {
    let Some(resources) = resources.filter(|r| r.as_object().is_some_and(|m| !m.is_empty())) else {
        return Some(Violation::error(
            ID,
            object,
            path,
            format!("{subject}: no resources; set {field}.requests and {field}.limits for cpu and memory"),
        ));
    };
    let absent: Vec<&Field> = fields
        .iter()
        .filter(|(group, key, _)| !is_set(resources.get(group).and_then(|g| g.get(key))))
        .collect();
    let (first_group, _, _) = absent.first()?;
    let names: Vec<String> = absent.iter().map(|(_, _, name)| (*name).to_owned()).collect();
    let fields: Vec<String> = absent.iter().map(|(group, key, _)| format!("{field}.{group}.{key}")).collect();
    Some(Violation::error(
        ID,
        object,
        format!("{path}/{first_group}"),
        format!("{subject}: no {}; set {}", list(&names, "or"), list(&fields, "and")),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use capstan_sdk::testkit::{ViolationsExt, check};
    use serde_json::{Value, json};

    use super::ID;
    use crate::Baseline;
    use crate::rules::test::{container, container_with, deployment};

    fn violations(objects: Vec<Value>) -> Vec<capstan_sdk::Violation> {
        check::<Baseline>(objects, json!({})).unwrap()
    }

    #[test]
    fn a_container_with_requests_and_limits_passes() {
        assert_eq!(violations(vec![deployment(json!([container("api")]))]), vec![]);
    }

    #[test]
    fn a_missing_memory_limit_is_named_where_it_belongs() {
        let c = container_with("api", json!({"resources": {"limits": {"memory": null}}}));
        let v = violations(vec![deployment(json!([container("sidecar"), c]))]);
        assert_eq!(v.at(ID), vec![(0, "/spec/template/spec/containers/1/resources/limits")]);
        assert_eq!(v[0].message, "container \"api\": no memory limit; set resources.limits.memory");
    }

    #[test]
    fn a_container_without_resources_is_named_at_resources_and_init_containers_count() {
        let mut d = deployment(json!([container_with("api", json!({"resources": null}))]));
        d["spec"]["template"]["spec"]["initContainers"] =
            json!([container_with("migrate", json!({"resources": {"requests": null}}))]);
        let v = violations(vec![d]);
        assert_eq!(
            v.at(ID),
            vec![
                (0, "/spec/template/spec/containers/0/resources"),
                (0, "/spec/template/spec/initContainers/0/resources/requests"),
            ]
        );
        assert_eq!(
            v.of_rule(ID)[0].message,
            "container \"api\": no resources; set resources.requests and resources.limits for cpu and memory"
        );
        assert_eq!(
            v.of_rule(ID)[1].message,
            "init container \"migrate\": no cpu request or memory request; set resources.requests.cpu and \
             resources.requests.memory"
        );
    }

    #[test]
    fn operators_custom_resources_declare_resources_of_their_pods() {
        let full =
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}});
        let cluster = |resources: Value| {
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "db"},
                   "spec": {"instances": 3, "resources": resources}})
        };
        let rabbit = json!({"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster",
                            "metadata": {"name": "mq"}, "spec": {"replicas": 3}});
        let v = violations(vec![cluster(full.clone()), cluster(json!({"requests": {"cpu": "1"}})), rabbit]);
        assert_eq!(v.at(ID), vec![(1, "/spec/resources/requests"), (2, "/spec/resources")]);
        assert_eq!(
            v[0].message,
            "Cluster \"db\" (the PostgreSQL instances): no memory request, cpu limit or memory limit; set \
             spec.resources.requests.memory, spec.resources.limits.cpu and spec.resources.limits.memory"
        );
        assert!(
            v[1].message.starts_with("RabbitmqCluster \"mq\" (the RabbitMQ nodes): no resources"),
            "{}",
            v[1].message
        );
    }

    #[test]
    fn a_pooler_templates_its_pgbouncer_container_with_resources() {
        let pooler = |spec: Value| json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Pooler", "metadata": {"name": "db-rw"}, "spec": spec});
        let good = pooler(json!({"template": {"spec": {"containers": [
            {"name": "pgbouncer", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                                "limits": {"cpu": "500m", "memory": "128Mi"}}}]}}}));
        let bare = pooler(json!({"instances": 2}));
        let partial = pooler(json!({"template": {"spec": {"containers": [{"name": "pgbouncer"}]}}}));
        let other = pooler(json!({"template": {"spec": {"containers": []}}}));
        let v = violations(vec![good, bare, partial, other]);
        assert_eq!(
            v.at(ID),
            vec![
                (1, "/spec/template"),
                (2, "/spec/template/spec/containers/0/resources"),
                (3, "/spec/template/spec/containers")
            ]
        );
        assert!(v[0].message.contains("pgbouncer"), "{}", v[0].message);
        assert!(
            v[1].message.starts_with("Pooler \"db-rw\": container \"pgbouncer\": no resources"),
            "{}",
            v[1].message
        );
    }

    #[test]
    fn a_kafka_without_node_pools_declares_broker_resources_and_each_part_present() {
        let kafka = json!({"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "Kafka", "metadata": {"name": "events"},
            "spec": {"kafka": {"replicas": 3}, "zookeeper": {"replicas": 3, "resources": {"limits": {"memory": "1Gi"}}},
                     "entityOperator": {"topicOperator": {}, "userOperator": null}}});
        let v = violations(vec![kafka]);
        assert_eq!(
            v.at(ID),
            vec![
                (0, "/spec/kafka/resources"),
                (0, "/spec/zookeeper/resources/requests"),
                (0, "/spec/entityOperator/topicOperator/resources"),
            ]
        );
        assert!(
            v[2].message.starts_with(
                "Kafka \"events\" (the topic operator): no resources; set \
            spec.entityOperator.topicOperator.resources.requests"
            ),
            "{}",
            v[2].message
        );
    }

    #[test]
    fn with_node_pools_the_pools_declare_the_brokers_resources() {
        let kafka = json!({"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "Kafka", "metadata": {"name": "events",
            "annotations": {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"}},
            "spec": {"kafka": {}}});
        let pool = |resources: Value| {
            json!({"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaNodePool", "metadata": {"name": "dual"},
                   "spec": {"replicas": 3, "roles": ["controller", "broker"], "resources": resources}})
        };
        let full =
            json!({"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}});
        assert_eq!(violations(vec![kafka.clone(), pool(full)]), vec![]);
        let v = violations(vec![kafka, pool(json!({"requests": {"cpu": "1", "memory": "2Gi"}}))]);
        assert_eq!(v.at(ID), vec![(1, "/spec/resources/limits")]);
    }

    #[test]
    fn a_missing_cpu_limit_passes_only_where_the_platform_allows_it() {
        let no_cpu_limit =
            deployment(json!([container_with("api", json!({"resources": {"limits": {"cpu": null}}}))]));
        let v = violations(vec![no_cpu_limit.clone()]);
        assert_eq!(v.at(ID), vec![(0, "/spec/template/spec/containers/0/resources/limits")]);
        assert!(v[0].message.contains("no cpu limit"), "{}", v[0].message);
        let allowed = check::<Baseline>(vec![no_cpu_limit], json!({"require_cpu_limit": false})).unwrap();
        assert_eq!(allowed, vec![]);
        // Requests and the memory limit stay required.
        let no_memory_limit =
            deployment(json!([container_with("api", json!({"resources": {"limits": {"memory": null}}}))]));
        let v = check::<Baseline>(vec![no_memory_limit], json!({"require_cpu_limit": false})).unwrap();
        assert_eq!(v.at(ID), vec![(0, "/spec/template/spec/containers/0/resources/limits")]);
    }
}
