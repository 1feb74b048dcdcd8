//! Default readiness rules for the Kubernetes kinds plugins commonly create.
//!
//! These are what [`Plugin::health`](crate::Plugin::health) does unless a
//! plugin overrides it (to read an operator's custom resource status, say).
//! They follow what `kubectl rollout status` checks: a rollout is ready only
//! when the controller has seen the latest spec and every replica is updated
//! and available.

use capstan_core::Health;
use serde_json::Value;

/// The readiness of one live object, by kind.
pub fn default_health(object: &Value) -> Health {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let status = object.get("status").unwrap_or(&Value::Null);
    match kind {
        "Deployment" => deployment(object, status),
        "StatefulSet" => stateful_set(object, status),
        "DaemonSet" => daemon_set(object, status),
        "Job" => job(status),
        "PersistentVolumeClaim" => match status.get("phase").and_then(Value::as_str) {
            Some("Bound") => Health::Ready,
            Some("Lost") => Health::Degraded("the claim lost its volume".into()),
            phase => Health::Progressing(format!("claim is {}", phase.unwrap_or("pending"))),
        },
        _ => ready_condition(status),
    }
}

fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn generation_seen(object: &Value, status: &Value) -> bool {
    let generation = object.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    int(status, "observedGeneration") >= generation
}

fn condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status
        .get("conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn condition_is(c: &Value, want: &str) -> bool {
    c.get("status").and_then(Value::as_str) == Some(want)
}

fn message(c: &Value) -> String {
    c.get("message").or_else(|| c.get("reason")).and_then(Value::as_str).unwrap_or("no message").to_owned()
}

fn deployment(object: &Value, status: &Value) -> Health {
    if let Some(c) = condition(status, "Progressing")
        && c.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
    {
        return Health::Degraded(message(c));
    }
    if !generation_seen(object, status) {
        return Health::Progressing("waiting for the controller to see the new spec".into());
    }
    let want = object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let (updated, available) = (int(status, "updatedReplicas"), int(status, "availableReplicas"));
    let total = int(status, "replicas");
    if updated < want {
        Health::Progressing(format!("{updated} of {want} replicas updated"))
    } else if total > updated {
        Health::Progressing(format!("{} old replicas pending termination", total - updated))
    } else if available < updated {
        Health::Progressing(format!("{available} of {updated} updated replicas available"))
    } else {
        Health::Ready
    }
}

fn stateful_set(object: &Value, status: &Value) -> Health {
    if !generation_seen(object, status) {
        return Health::Progressing("waiting for the controller to see the new spec".into());
    }
    let want = object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let ready = int(status, "readyReplicas");
    let (current, update) = (status.get("currentRevision"), status.get("updateRevision"));
    if ready < want {
        Health::Progressing(format!("{ready} of {want} replicas ready"))
    } else if update.is_some() && current != update {
        Health::Progressing("rolling out a new revision".into())
    } else {
        Health::Ready
    }
}

fn daemon_set(object: &Value, status: &Value) -> Health {
    if !generation_seen(object, status) {
        return Health::Progressing("waiting for the controller to see the new spec".into());
    }
    let want = int(status, "desiredNumberScheduled");
    let (updated, available) = (int(status, "updatedNumberScheduled"), int(status, "numberAvailable"));
    if updated < want || available < want {
        Health::Progressing(format!("{available} of {want} pods available and updated"))
    } else {
        Health::Ready
    }
}

fn job(status: &Value) -> Health {
    if let Some(c) = condition(status, "Failed").filter(|c| condition_is(c, "True")) {
        return Health::Degraded(message(c));
    }
    if condition(status, "Complete").is_some_and(|c| condition_is(c, "True")) {
        Health::Ready
    } else {
        Health::Progressing("job has not completed".into())
    }
}

/// Anything with a `Ready` condition (most operators' custom resources,
/// cert-manager certificates, pods) is as ready as that condition says;
/// objects without status (Services, ConfigMaps, …) are ready once they exist.
fn ready_condition(status: &Value) -> Health {
    match condition(status, "Ready") {
        Some(c) if condition_is(c, "True") => Health::Ready,
        Some(c) => Health::Progressing(message(c)),
        None => Health::Ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(status: Value) -> Value {
        json!({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": status})
    }

    #[test]
    fn a_deployment_is_ready_only_when_every_replica_is_updated_and_available() {
        let full =
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3});
        assert_eq!(default_health(&deploy(full)), Health::Ready);
        let stale =
            json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3});
        assert!(matches!(default_health(&deploy(stale)), Health::Progressing(_)));
        let rolling =
            json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3});
        assert!(
            matches!(default_health(&deploy(rolling)), Health::Progressing(m) if m.contains("old replicas"))
        );
        let unavailable =
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2});
        assert!(matches!(default_health(&deploy(unavailable)), Health::Progressing(_)));
    }

    #[test]
    fn a_deployment_past_its_progress_deadline_is_degraded() {
        let status = json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet api-1 has timed out progressing."}]});
        assert_eq!(
            default_health(&deploy(status)),
            Health::Degraded("ReplicaSet api-1 has timed out progressing.".into())
        );
    }

    #[test]
    fn jobs_statefulsets_and_conditions() {
        let failed = json!({"kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}});
        assert_eq!(default_health(&failed), Health::Degraded("BackoffLimitExceeded".into()));
        let done = json!({"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(default_health(&done), Health::Ready);
        let sts = json!({"kind": "StatefulSet", "spec": {"replicas": 2}, "status": {"readyReplicas": 1}});
        assert!(matches!(default_health(&sts), Health::Progressing(_)));
        let cert = json!({"kind": "Certificate", "status": {"conditions": [{"type": "Ready", "status": "False", "message": "Issuing"}]}});
        assert_eq!(default_health(&cert), Health::Progressing("Issuing".into()));
        assert_eq!(default_health(&json!({"kind": "Service"})), Health::Ready);
    }
}
