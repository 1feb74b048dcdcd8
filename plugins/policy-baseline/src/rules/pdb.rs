//! `pdb-for-hpa`: an autoscaled workload is one meant to keep serving, and
//! without a PodDisruptionBudget a node drain may evict all of its replicas
//! at once. The budget must be among the component's own objects and select
//! the pods of the autoscaler's target.

use capstan_sdk::Violation;
use serde_json::{Map, Value};

use super::Context;
use crate::object;
use crate::pods;

/// The rule's id.
pub(crate) const ID: &str = "pdb-for-hpa";

pub(crate) fn check(cx: &Context<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, hpa) in cx.objects.iter().enumerate() {
        if object::kind(hpa) != "HorizontalPodAutoscaler" || object::group(hpa) != "autoscaling" {
            continue;
        }
        let target = hpa.pointer("/spec/scaleTargetRef");
        let field = |f: &str| target.and_then(|t| t.get(f)).and_then(Value::as_str).unwrap_or_default();
        let (kind, name) = (field("kind"), field("name"));
        // `apiVersion` may be left out of the reference: then any group.
        let api_version = field("apiVersion");
        let subject = format!("HorizontalPodAutoscaler \"{}\" scales {kind} \"{name}\"", object::name(hpa));
        let found = cx.objects.iter().find(|o| {
            object::kind(o) == kind
                && object::name(o) == name
                && (api_version.is_empty() || object::group(o) == object::group_of(api_version))
                && namespace(o) == namespace(hpa)
        });
        let Some(labels) = found.and_then(pods::pod_labels) else {
            let why = if found.is_some() {
                "whose pod template has no labels"
            } else {
                "which is not among the component's objects"
            };
            out.push(Violation::error(
                ID,
                i,
                "/spec/scaleTargetRef",
                format!(
                    "{subject}, {why}, so no PodDisruptionBudget can be seen to protect its pods; scale a \
                     workload of this component whose pods a PodDisruptionBudget selects"
                ),
            ));
            continue;
        };
        let covered = cx.objects.iter().any(|pdb| {
            object::is(pdb, "policy", "PodDisruptionBudget")
                && namespace(pdb) == namespace(hpa)
                && pdb.pointer("/spec/selector").is_some_and(|s| selects(s, labels))
        });
        if !covered {
            out.push(Violation::error(
                ID,
                i,
                "/spec/scaleTargetRef",
                format!(
                    "{subject}, and no PodDisruptionBudget selects its pods; add one (minAvailable or \
                     maxUnavailable) whose spec.selector.matchLabels the pod template's labels include, so a \
                     node drain cannot evict every replica at once"
                ),
            ));
        }
    }
    out
}

fn namespace(object: &Value) -> Option<&str> {
    object.pointer("/metadata/namespace").and_then(Value::as_str)
}

/// Whether a label selector selects pods with `labels`: every `matchLabels`
/// entry is among them and every `matchExpressions` requirement holds. A
/// null selector selects nothing; an empty one everything (policy/v1).
fn selects(selector: &Value, labels: &Map<String, Value>) -> bool {
    let Some(selector) = selector.as_object() else { return false };
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let labels_hold = match_labels.into_iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    let expressions_hold = expressions.into_iter().flatten().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let value = labels.get(key).and_then(Value::as_str);
        match e.get("operator").and_then(Value::as_str) {
            Some("In") => value.is_some_and(|v| values.contains(&v)),
            Some("NotIn") => value.is_none_or(|v| !values.contains(&v)),
            Some("Exists") => value.is_some(),
            Some("DoesNotExist") => value.is_none(),
            // Not a valid selector: it selects nothing the policy can vouch for.
            _ => false,
        }
    });
    labels_hold && expressions_hold
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use capstan_sdk::testkit::{ViolationsExt, check};
    use serde_json::{Value, json};

    use super::ID;
    use crate::Baseline;
    use crate::rules::test::{container, deployment};

    fn hpa(target_kind: &str, target: &str) -> Value {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": "api", "namespace": "default"},
               "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": target_kind, "name": target},
                        "minReplicas": 2, "maxReplicas": 4}})
    }

    fn pdb(selector: Value) -> Value {
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": "api", "namespace": "default"},
               "spec": {"minAvailable": 1, "selector": selector}})
    }

    fn violations(objects: Vec<Value>) -> Vec<(u32, String)> {
        let v = check::<Baseline>(objects, json!({})).unwrap();
        v.at(ID).into_iter().map(|(o, p)| (o, p.to_owned())).collect()
    }

    #[test]
    fn an_autoscaled_deployment_with_a_budget_selecting_its_pods_passes() {
        let d = deployment(json!([container("api")]));
        assert_eq!(
            violations(vec![
                d.clone(),
                hpa("Deployment", "api"),
                pdb(json!({"matchLabels": {"app": "api"}}))
            ]),
            vec![]
        );
        let expr = json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api", "web"]}]});
        let mut no_api_version = hpa("Deployment", "api");
        no_api_version["spec"]["scaleTargetRef"].as_object_mut().unwrap().remove("apiVersion");
        assert_eq!(violations(vec![d, no_api_version, pdb(expr)]), vec![]);
    }

    #[test]
    fn an_autoscaled_deployment_without_a_matching_budget_is_reported_at_its_target_ref() {
        let d = deployment(json!([container("api")]));
        let at = vec![(1, "/spec/scaleTargetRef".to_owned())];
        assert_eq!(violations(vec![d.clone(), hpa("Deployment", "api")]), at);
        let other = pdb(json!({"matchLabels": {"app": "api", "tier": "web"}}));
        assert_eq!(violations(vec![d.clone(), hpa("Deployment", "api"), other]), at);
        let mut elsewhere = pdb(json!({"matchLabels": {"app": "api"}}));
        elsewhere["metadata"]["namespace"] = json!("other");
        assert_eq!(violations(vec![d, hpa("Deployment", "api"), elsewhere]), at);
        let v = check::<Baseline>(
            vec![deployment(json!([container("api")])), hpa("Deployment", "api")],
            json!({}),
        )
        .unwrap();
        assert_eq!(
            v.of_rule(ID)[0].message,
            "HorizontalPodAutoscaler \"api\" scales Deployment \"api\", and no PodDisruptionBudget selects its pods; \
             add one (minAvailable or maxUnavailable) whose spec.selector.matchLabels the pod template's labels \
             include, so a node drain cannot evict every replica at once"
        );
    }

    #[test]
    fn a_target_that_is_not_among_the_objects_is_reported() {
        let d = deployment(json!([container("api")]));
        let v = check::<Baseline>(
            vec![d, hpa("StatefulSet", "api"), pdb(json!({"matchLabels": {"app": "api"}}))],
            json!({}),
        )
        .unwrap();
        assert_eq!(v.at(ID), vec![(1, "/spec/scaleTargetRef")]);
        assert!(v.of_rule(ID)[0].message.contains("which is not among the component's objects"), "{v:?}");
    }

    #[test]
    fn the_rule_turned_off_reports_nothing() {
        let v = check::<Baseline>(vec![hpa("Deployment", "api")], json!({"rules": {"pdb-for-hpa": false}}))
            .unwrap();
        assert_eq!(v, vec![]);
    }
}
