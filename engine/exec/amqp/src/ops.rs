//! One function per op kind: look with a GET, then change only what differs.

use std::collections::BTreeSet;

use capstan_core::{AmqpBinding, AmqpExchange, AmqpOp, AmqpPermission, AmqpQueue, AmqpUser, OpOutcome};
use serde_json::{Map, Value, json};

use crate::AmqpError;
use crate::api::{Api, Ctx};
use crate::password::{self, hash_password, password_matches};

pub(crate) async fn run(api: &Api, effect: &str, op: &AmqpOp) -> Result<OpOutcome, AmqpError> {
    match op {
        AmqpOp::EnsureVhost(v) => ensure_vhost(api, effect, v).await,
        AmqpOp::EnsureUser(u) => ensure_user(api, effect, u).await,
        AmqpOp::EnsurePermission(p) => ensure_permission(api, effect, p).await,
        AmqpOp::EnsureExchange(x) => ensure_exchange(api, effect, x).await,
        AmqpOp::EnsureQueue(q) => ensure_queue(api, effect, q).await,
        AmqpOp::EnsureBinding(b) => ensure_binding(api, effect, b).await,
    }
}

fn ctx<'e>(api: &Api, effect: &'e str, op: &str, subject: &str) -> Ctx<'e> {
    Ctx { effect, op: format!("{op} {subject}"), target: api.connection().target() }
}

fn name(ctx: &Ctx<'_>, what: &str, value: &str) -> Result<(), AmqpError> {
    if value.is_empty() || value.contains('\0') {
        return Err(ctx.invalid(format!("{what} must be a non-empty name without NUL")));
    }
    Ok(())
}

/// Exchanges and queues Capstan declares may not use the broker's reserved
/// `amq.` prefix (the broker refuses them, with a less helpful message).
fn declarable(ctx: &Ctx<'_>, what: &str, value: &str) -> Result<(), AmqpError> {
    name(ctx, what, value)?;
    if value.starts_with("amq.") {
        return Err(ctx.invalid(format!("{what} `{value}` is in the broker's reserved amq. namespace")));
    }
    Ok(())
}

async fn ensure_vhost(api: &Api, effect: &str, vhost: &str) -> Result<OpOutcome, AmqpError> {
    let ctx = ctx(api, effect, "ensure-vhost", vhost);
    name(&ctx, "the vhost", vhost)?;
    if api.get(&ctx, &["vhosts", vhost]).await?.is_some() {
        return Ok(OpOutcome::unchanged("ensure-vhost", vhost));
    }
    api.put(&ctx, &["vhosts", vhost], &json!({})).await?;
    Ok(OpOutcome::created("ensure-vhost", vhost))
}

fn tags_of(user: &Value) -> BTreeSet<String> {
    // RabbitMQ 3.9+ answers a list; older versions a comma-separated string.
    match &user["tags"] {
        Value::Array(tags) => tags.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Value::String(tags) => {
            tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
        }
        _ => BTreeSet::new(),
    }
}

fn join(tags: &BTreeSet<String>) -> String {
    tags.iter().cloned().collect::<Vec<_>>().join(",")
}

async fn ensure_user(api: &Api, effect: &str, user: &AmqpUser) -> Result<OpOutcome, AmqpError> {
    let ctx = ctx(api, effect, "ensure-user", &user.name);
    name(&ctx, "the user name", &user.name)?;
    if user.password.expose().is_empty() {
        return Err(ctx.invalid("the password is empty"));
    }
    let wanted_tags: BTreeSet<String> = user.tags.iter().cloned().collect();
    let new_hash = || {
        json!({
            "password_hash": hash_password(user.password.expose()),
            "hashing_algorithm": password::SHA256,
            "tags": join(&wanted_tags),
        })
    };
    let Some(existing) = api.get(&ctx, &["users", &user.name]).await? else {
        // The hash, not the password, goes to the broker.
        api.put(&ctx, &["users", &user.name], &new_hash()).await?;
        return Ok(OpOutcome::created("ensure-user", &user.name));
    };
    let stored = existing["password_hash"].as_str().unwrap_or_default();
    let algorithm = existing["hashing_algorithm"].as_str().unwrap_or(password::SHA256);
    let matches = password_matches(user.password.expose(), stored, algorithm);
    let tags = tags_of(&existing);
    let mut changes = Vec::new();
    let body = if matches == Some(true) {
        // Keep the stored hash as it is; only the tags may change.
        json!({ "password_hash": stored, "hashing_algorithm": algorithm, "tags": join(&wanted_tags) })
    } else {
        changes.push(match matches {
            Some(_) => "password rotated".to_string(),
            None => format!("password set (the broker's {algorithm} hash cannot be compared)"),
        });
        new_hash()
    };
    if tags != wanted_tags {
        changes.push(format!("tags [{}] → [{}]", join(&tags), join(&wanted_tags)));
    }
    if !changes.is_empty() {
        api.put(&ctx, &["users", &user.name], &body).await?;
    }
    Ok(OpOutcome::corrected("ensure-user", &user.name, changes))
}

async fn ensure_permission(api: &Api, effect: &str, p: &AmqpPermission) -> Result<OpOutcome, AmqpError> {
    let subject = format!("{}@{}", p.user, p.vhost);
    let ctx = ctx(api, effect, "ensure-permission", &subject);
    name(&ctx, "the vhost", &p.vhost)?;
    name(&ctx, "the user name", &p.user)?;
    let wanted = [("configure", &p.configure), ("write", &p.write), ("read", &p.read)];
    let body = json!({ "configure": p.configure, "write": p.write, "read": p.read });
    let segments = ["permissions", p.vhost.as_str(), p.user.as_str()];
    let Some(existing) = api.get(&ctx, &segments).await? else {
        api.put(&ctx, &segments, &body).await?;
        return Ok(OpOutcome::created("ensure-permission", subject));
    };
    let changes: Vec<String> = wanted
        .iter()
        .filter_map(|(field, want)| {
            let have = existing[*field].as_str().unwrap_or_default();
            (have != want.as_str()).then(|| format!("{field} {have} → {want}"))
        })
        .collect();
    if !changes.is_empty() {
        api.put(&ctx, &segments, &body).await?;
    }
    Ok(OpOutcome::corrected("ensure-permission", subject, changes))
}

async fn ensure_exchange(api: &Api, effect: &str, x: &AmqpExchange) -> Result<OpOutcome, AmqpError> {
    let subject = format!("{}/{}", x.vhost, x.name);
    let ctx = ctx(api, effect, "ensure-exchange", &subject);
    name(&ctx, "the vhost", &x.vhost)?;
    declarable(&ctx, "the exchange", &x.name)?;
    name(&ctx, "the exchange type", &x.kind)?;
    let segments = ["exchanges", x.vhost.as_str(), x.name.as_str()];
    let Some(existing) = api.get(&ctx, &segments).await? else {
        let body = json!({ "type": x.kind, "durable": x.durable, "auto_delete": false, "internal": false, "arguments": {} });
        api.put(&ctx, &segments, &body).await?;
        return Ok(OpOutcome::created("ensure-exchange", subject));
    };
    let mut differences = Vec::new();
    let kind = existing["type"].as_str().unwrap_or_default();
    if kind != x.kind {
        differences.push(format!("type {kind} on the broker, {} declared", x.kind));
    }
    if existing["durable"].as_bool() != Some(x.durable) {
        differences.push(format!("durable {} on the broker, {} declared", existing["durable"], x.durable));
    }
    if !differences.is_empty() {
        return Err(ctx.conflict(format!(
            "the exchange exists with other settings ({}); RabbitMQ cannot change them in place: \
             delete the exchange or declare what the broker has",
            differences.join("; ")
        )));
    }
    Ok(OpOutcome::unchanged("ensure-exchange", subject))
}

async fn ensure_queue(api: &Api, effect: &str, q: &AmqpQueue) -> Result<OpOutcome, AmqpError> {
    let subject = format!("{}/{}", q.vhost, q.name);
    let ctx = ctx(api, effect, "ensure-queue", &subject);
    name(&ctx, "the vhost", &q.vhost)?;
    declarable(&ctx, "the queue", &q.name)?;
    let declared = match &q.arguments {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        other => return Err(ctx.invalid(format!("the queue arguments must be a JSON object, not {other}"))),
    };
    let segments = ["queues", q.vhost.as_str(), q.name.as_str()];
    let Some(existing) = api.get(&ctx, &segments).await? else {
        let body = json!({ "durable": q.durable, "auto_delete": false, "arguments": declared });
        api.put(&ctx, &segments, &body).await?;
        return Ok(OpOutcome::created("ensure-queue", subject));
    };
    let mut differences = queue_differences(&declared, &existing);
    if existing["durable"].as_bool() != Some(q.durable) {
        differences
            .insert(0, format!("durable: {} on the broker, {} declared", existing["durable"], q.durable));
    }
    if existing["auto_delete"].as_bool() == Some(true) {
        differences.push("auto_delete: true on the broker".to_string());
    }
    if !differences.is_empty() {
        return Err(ctx.conflict(format!(
            "the queue exists with other arguments ({}); RabbitMQ cannot change them in place: \
             drain and delete the queue, or declare what the broker has",
            differences.join("; ")
        )));
    }
    Ok(OpOutcome::unchanged("ensure-queue", subject))
}

/// How the declared arguments differ from an existing queue's. The queue
/// type is compared with the queue's actual type: a classic queue declared
/// without `x-queue-type` has none in its arguments.
fn queue_differences(declared: &Map<String, Value>, existing: &Value) -> Vec<String> {
    let empty = Map::new();
    let mut have = existing["arguments"].as_object().unwrap_or(&empty).clone();
    if let Some(kind) = existing["type"].as_str() {
        have.insert("x-queue-type".to_string(), json!(kind));
    }
    let mut want = declared.clone();
    if !want.contains_key("x-queue-type") {
        // Declaring without a type gets the broker's default; not a difference.
        have.remove("x-queue-type");
    } else if want["x-queue-type"] == "classic" && !have.contains_key("x-queue-type") {
        want.remove("x-queue-type");
    }
    let keys: BTreeSet<&String> = have.keys().chain(want.keys()).collect();
    keys.into_iter()
        .filter_map(|k| match (have.get(k), want.get(k)) {
            (Some(h), Some(w)) if same(h, w) => None,
            (Some(h), Some(w)) => Some(format!("{k}: {h} on the broker, {w} declared")),
            (Some(h), None) => Some(format!("{k}: {h} on the broker, not declared")),
            (None, Some(w)) => Some(format!("{k}: not on the broker, {w} declared")),
            (None, None) => None,
        })
        .collect()
}

/// JSON equality, with numbers compared by value (`5` and `5.0` are one TTL).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

async fn ensure_binding(api: &Api, effect: &str, b: &AmqpBinding) -> Result<OpOutcome, AmqpError> {
    let subject = format!("{}/{} → {} ({})", b.vhost, b.exchange, b.queue, b.routing_key);
    let ctx = ctx(api, effect, "ensure-binding", &subject);
    name(&ctx, "the vhost", &b.vhost)?;
    declarable(&ctx, "the exchange", &b.exchange)?;
    name(&ctx, "the queue", &b.queue)?;
    let segments = ["bindings", b.vhost.as_str(), "e", b.exchange.as_str(), "q", b.queue.as_str()];
    let existing = api.get(&ctx, &segments).await?.unwrap_or(Value::Null);
    let bound = existing.as_array().is_some_and(|list| {
        list.iter().any(|binding| {
            binding["routing_key"] == b.routing_key.as_str()
                && binding["arguments"].as_object().is_none_or(Map::is_empty)
        })
    });
    if bound {
        return Ok(OpOutcome::unchanged("ensure-binding", subject));
    }
    api.post(&ctx, &segments, &json!({ "routing_key": b.routing_key, "arguments": {} })).await?;
    Ok(OpOutcome::created("ensure-binding", subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn queue_arguments_compare_by_value_and_by_actual_type() {
        let existing =
            json!({ "type": "quorum", "arguments": { "x-queue-type": "quorum", "x-delivery-limit": 5 } });
        assert!(
            queue_differences(&args(json!({ "x-queue-type": "quorum", "x-delivery-limit": 5.0 })), &existing)
                .is_empty()
        );
        assert_eq!(
            queue_differences(&args(json!({ "x-queue-type": "quorum", "x-delivery-limit": 6 })), &existing),
            ["x-delivery-limit: 5 on the broker, 6 declared"]
        );
        assert_eq!(
            queue_differences(&args(json!({ "x-queue-type": "classic", "x-delivery-limit": 5 })), &existing),
            ["x-queue-type: \"quorum\" on the broker, \"classic\" declared"]
        );
        // A classic queue declared long ago without a type.
        let old = json!({ "type": "classic", "arguments": { "x-message-ttl": 1000 } });
        assert!(
            queue_differences(&args(json!({ "x-queue-type": "classic", "x-message-ttl": 1000 })), &old)
                .is_empty()
        );
        assert_eq!(
            queue_differences(&args(json!({ "x-queue-type": "classic" })), &old),
            ["x-message-ttl: 1000 on the broker, not declared"]
        );
    }
}
