//! Conversions between the generated host bindings and `capstan_core` types.
//!
//! Into the guest, conversion cannot fail. Out of the guest, it checks what
//! the WIT types cannot say (JSON that must parse, manifests that must be
//! Kubernetes objects, a semver version) and reports the first violation as a
//! reason naming the offending field.

use capstan_core as core;
use serde_json::Value;

use crate::bindings::policy::policy as p;
use crate::bindings::{effects as e, handler as h, types as t};
use crate::guest::Described;

/// Why guest output breaks the contract.
pub(crate) type Reason = String;

// ---- into the guest -------------------------------------------------------

pub(crate) fn plan_request(r: &core::PlanRequest) -> h::PlanRequest {
    h::PlanRequest {
        component: component_id(&r.component),
        inputs: core::json_text(&r.inputs),
        sensitive_paths: r.sensitive_paths.clone(),
        dependencies: r
            .dependencies
            .iter()
            .map(|d| h::Dependency {
                name: d.name.clone(),
                component_type: d.component_type.clone(),
                outputs: d.outputs.iter().map(output_in).collect(),
            })
            .collect(),
        files: r
            .files
            .iter()
            .map(|f| h::File { path: f.path.clone(), contents: f.contents.clone() })
            .collect(),
        effect_results: r
            .effect_results
            .iter()
            .map(|x| e::EffectResult { id: x.id.clone(), body: core::json_text(&x.body) })
            .collect(),
    }
}

pub(crate) fn component_id(c: &core::ComponentId) -> h::ComponentId {
    h::ComponentId {
        name: c.name.clone(),
        environment: c.environment.clone(),
        namespace: c.namespace.clone(),
    }
}

pub(crate) fn check_request(r: &core::CheckRequest) -> p::CheckRequest {
    let s = &r.subject;
    p::CheckRequest {
        subject: p::Subject {
            name: s.name.clone(),
            environment: s.environment.clone(),
            namespace: s.namespace.clone(),
            component_type: s.component_type.clone(),
            plugin: s.plugin.clone(),
        },
        objects: r.objects.iter().map(core::json_text).collect(),
        params: core::json_text(&r.params),
    }
}

fn output_in(o: &core::Output) -> h::Output {
    h::Output { name: o.name.clone(), value: core::json_text(&o.value), sensitive: o.sensitive }
}

// ---- out of the guest -----------------------------------------------------

pub(crate) fn metadata(described: Described) -> Result<core::Metadata, Reason> {
    match described {
        Described::Component(m) => component_metadata(m),
        Described::Policy(m) => policy_metadata(m),
    }
}

/// A name, a semver version and a JSON Schema: what every plugin's
/// metadata must have, whatever its world.
fn name_version_schema(
    name: &str,
    version: &str,
    schema: &str,
    field: &str,
) -> Result<(semver::Version, Value), Reason> {
    if name.trim().is_empty() {
        return Err("metadata.name is empty".to_owned());
    }
    let version = semver::Version::parse(version)
        .map_err(|err| format!("metadata.version {version:?} is not a semver version: {err}"))?;
    let schema: Value =
        serde_json::from_str(schema).map_err(|err| format!("metadata.{field} is not valid JSON: {err}"))?;
    if !(schema.is_object() || schema.is_boolean()) {
        return Err(format!("metadata.{field} is not a JSON Schema (an object or a boolean)"));
    }
    Ok((version, schema))
}

fn policy_metadata(m: p::PolicyMetadata) -> Result<core::Metadata, Reason> {
    let (version, input_schema) =
        name_version_schema(&m.name, &m.version, &m.params_schema, "params-schema")?;
    let mut rules: Vec<core::PolicyRule> = Vec::with_capacity(m.rules.len());
    for rule in m.rules {
        if rule.id.is_empty() || rules.iter().any(|r| r.id == rule.id) {
            return Err(format!("metadata.rules: rule id {:?} is empty or listed twice", rule.id));
        }
        rules.push(core::PolicyRule { id: rule.id, description: rule.description });
    }
    if rules.is_empty() {
        return Err("metadata.rules is empty: a policy lists the rules it checks".to_owned());
    }
    Ok(core::Metadata {
        name: m.name,
        version,
        component_type: core::POLICY_TYPE.to_owned(),
        backend: String::new(),
        description: m.description,
        input_schema,
        defaults: m.defaults,
        capabilities: Vec::new(),
        outputs_contract: None,
        rules,
    })
}

fn component_metadata(m: h::Metadata) -> Result<core::Metadata, Reason> {
    let (version, input_schema) = name_version_schema(&m.name, &m.version, &m.input_schema, "input-schema")?;
    if m.component_type == core::POLICY_TYPE {
        return Err(format!(
            "metadata.component-type is `{}`, which names policy plugins; a policy exports the `policy` interface",
            core::POLICY_TYPE
        ));
    }
    let outputs_contract = m
        .outputs_contract
        .map(|c| {
            let schema: Value = serde_json::from_str(&c.schema)
                .map_err(|err| format!("metadata.outputs-contract.schema is not valid JSON: {err}"))?;
            if !schema.is_object() {
                return Err("metadata.outputs-contract.schema is not a JSON Schema object".to_owned());
            }
            let kit = c
                .kit
                .map(|k| serde_json::from_str::<Value>(&k))
                .transpose()
                .map_err(|err| format!("metadata.outputs-contract.kit is not valid JSON: {err}"))?;
            if kit.as_ref().is_some_and(|k| !k.is_object()) {
                return Err("metadata.outputs-contract.kit is not a JSON object".to_owned());
            }
            Ok(core::OutputsContract { version: c.version, schema, kit })
        })
        .transpose()?;
    Ok(core::Metadata {
        name: m.name,
        version,
        component_type: m.component_type,
        backend: m.backend,
        description: m.description,
        input_schema,
        defaults: m.defaults,
        capabilities: m.capabilities.into_iter().map(capability).collect(),
        outputs_contract,
        rules: Vec::new(),
    })
}

fn capability(c: t::Capability) -> core::Capability {
    match c {
        t::Capability::Sql(s) => core::Capability::Sql(s),
        t::Capability::Amqp(s) => core::Capability::Amqp(s),
        t::Capability::Http(s) => core::Capability::Http(s),
        t::Capability::Jetstream(s) => core::Capability::JetStream(s),
        t::Capability::Vault(s) => core::Capability::Vault(s),
        t::Capability::ReadComponentDir => core::Capability::ReadComponentDir,
    }
}

pub(crate) fn diagnostics(ds: Vec<t::Diagnostic>) -> Vec<core::Diagnostic> {
    ds.into_iter().map(diagnostic).collect()
}

fn diagnostic(d: t::Diagnostic) -> core::Diagnostic {
    core::Diagnostic { path: d.path, severity: severity(d.severity), message: d.message }
}

fn severity(s: t::Severity) -> core::Severity {
    match s {
        t::Severity::Error => core::Severity::Error,
        t::Severity::Warning => core::Severity::Warning,
        t::Severity::Info => core::Severity::Info,
    }
}

/// A policy's answer; each violation must point at an object it was given
/// and its path must be a JSON pointer.
pub(crate) fn check_result(
    r: Result<Vec<p::Violation>, String>,
    objects: usize,
) -> Result<Result<Vec<core::Violation>, String>, Reason> {
    let Ok(violations) = r else { return Ok(r.map(|_| Vec::new())) };
    violations
        .into_iter()
        .map(|v| {
            if usize::try_from(v.object).map_or(true, |i| i >= objects) {
                return Err(format!(
                    "violation of rule {:?} names object #{}, but the request held {objects}",
                    v.rule, v.object
                ));
            }
            if !(v.path.is_empty() || v.path.starts_with('/')) {
                return Err(format!(
                    "violation of rule {:?} has path {:?}, not a JSON pointer",
                    v.rule, v.path
                ));
            }
            Ok(core::Violation {
                rule: v.rule,
                object: v.object,
                path: v.path,
                message: v.message,
                severity: severity(v.severity),
            })
        })
        .collect::<Result<_, _>>()
        .map(Ok)
}

pub(crate) fn plan_result(
    r: Result<h::ComponentPlan, h::PlanError>,
) -> Result<Result<core::ComponentPlan, core::PlanError>, Reason> {
    match r {
        Ok(plan) => component_plan(plan).map(Ok),
        Err(err) => Ok(Err(match err {
            h::PlanError::InvalidInputs(ds) => core::PlanError::InvalidInputs(diagnostics(ds)),
            h::PlanError::MissingDependency(s) => core::PlanError::MissingDependency(s),
            h::PlanError::Failed(s) => core::PlanError::Failed(s),
        })),
    }
}

fn component_plan(p: h::ComponentPlan) -> Result<core::ComponentPlan, Reason> {
    let objects = p.objects.iter().enumerate().map(|(i, o)| manifest(i, o)).collect::<Result<_, _>>()?;
    let outputs = p
        .outputs
        .into_iter()
        .map(|o| {
            let value = serde_json::from_str(&o.value)
                .map_err(|err| format!("output {:?} is not valid JSON: {err}", o.name))?;
            Ok(core::Output { name: o.name, value, sensitive: o.sensitive })
        })
        .collect::<Result<_, Reason>>()?;
    let effects = p.effects.into_iter().map(effect).collect::<Result<_, _>>()?;
    Ok(core::ComponentPlan { objects, effects, outputs, warnings: diagnostics(p.warnings) })
}

/// One desired Kubernetes object: a JSON object with `apiVersion`, `kind`
/// and `metadata.name` (the least the engine needs to apply and track it).
fn manifest(index: usize, text: &str) -> Result<Value, Reason> {
    let value: Value =
        serde_json::from_str(text).map_err(|err| format!("object #{index} is not valid JSON: {err}"))?;
    let Some(object) = value.as_object() else {
        return Err(format!("object #{index} is not a JSON object"));
    };
    let field = |name: &str| object.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let kind = field("kind");
    let what = match kind {
        Some(kind) => format!("object #{index} ({kind})"),
        None => format!("object #{index}"),
    };
    if field("apiVersion").is_none() {
        return Err(format!("{what} has no apiVersion"));
    }
    if kind.is_none() {
        return Err(format!("{what} has no kind"));
    }
    if value.pointer("/metadata/name").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(format!("{what} has no metadata.name"));
    }
    Ok(value)
}

fn sensitive(s: t::Sensitive) -> core::Sensitive {
    core::Sensitive::new(s.value)
}

fn text(x: t::Text) -> core::Text {
    match x {
        t::Text::Plain(s) => core::Text::Plain(s),
        t::Text::Sensitive(s) => core::Text::Sensitive(sensitive(s)),
    }
}

fn effect(x: e::Effect) -> Result<core::Effect, Reason> {
    let kind = match x.kind {
        e::EffectKind::Sql(ops) => core::EffectKind::Sql(ops.into_iter().map(sql_op).collect()),
        e::EffectKind::Amqp(ops) => {
            core::EffectKind::Amqp(ops.into_iter().map(|op| amqp_op(&x.id, op)).collect::<Result<_, _>>()?)
        }
        e::EffectKind::Http(c) => core::EffectKind::Http(core::HttpCall {
            method: c.method,
            path: c.path,
            headers: c.headers,
            body: c.body.map(text),
        }),
        e::EffectKind::Jetstream(ops) => {
            core::EffectKind::JetStream(ops.into_iter().map(jetstream_op).collect())
        }
        e::EffectKind::Vault(ops) => core::EffectKind::Vault(ops.into_iter().map(vault_op).collect()),
    };
    Ok(core::Effect { id: x.id, target: x.target, summary: x.summary, kind })
}

fn sql_op(op: e::SqlOp) -> core::SqlOp {
    match op {
        e::SqlOp::EnsureRole(r) => core::SqlOp::EnsureRole(core::SqlRole {
            name: r.name,
            password: r.password.map(sensitive),
            login: r.login,
        }),
        e::SqlOp::EnsureDatabase(d) => {
            core::SqlOp::EnsureDatabase(core::SqlDatabase { name: d.name, owner: d.owner })
        }
        e::SqlOp::Grant(g) => core::SqlOp::Grant(core::SqlGrant {
            privileges: g.privileges,
            database: g.database,
            role: g.role,
        }),
        e::SqlOp::EnsureExtension(x) => {
            core::SqlOp::EnsureExtension(core::SqlExtension { name: x.name, database: x.database })
        }
        e::SqlOp::Statement(s) => {
            core::SqlOp::Statement(core::SqlStatement { database: s.database, sql: text(s.sql) })
        }
    }
}

fn amqp_op(effect_id: &str, op: e::AmqpOp) -> Result<core::AmqpOp, Reason> {
    Ok(match op {
        e::AmqpOp::EnsureVhost(v) => core::AmqpOp::EnsureVhost(v),
        e::AmqpOp::EnsureUser(u) => core::AmqpOp::EnsureUser(core::AmqpUser {
            name: u.name,
            password: sensitive(u.password),
            tags: u.tags,
        }),
        e::AmqpOp::EnsurePermission(p) => core::AmqpOp::EnsurePermission(core::AmqpPermission {
            vhost: p.vhost,
            user: p.user,
            configure: p.configure,
            write: p.write,
            read: p.read,
        }),
        e::AmqpOp::EnsureExchange(x) => core::AmqpOp::EnsureExchange(core::AmqpExchange {
            vhost: x.vhost,
            name: x.name,
            kind: x.kind,
            durable: x.durable,
        }),
        e::AmqpOp::EnsureQueue(q) => {
            let arguments: Value = serde_json::from_str(&q.arguments).map_err(|err| {
                format!("effect {effect_id:?}: arguments of queue {:?} are not valid JSON: {err}", q.name)
            })?;
            if !arguments.is_object() {
                return Err(format!(
                    "effect {effect_id:?}: arguments of queue {:?} are not a JSON object",
                    q.name
                ));
            }
            core::AmqpOp::EnsureQueue(core::AmqpQueue {
                vhost: q.vhost,
                name: q.name,
                durable: q.durable,
                arguments,
            })
        }
        e::AmqpOp::EnsureBinding(b) => core::AmqpOp::EnsureBinding(core::AmqpBinding {
            vhost: b.vhost,
            exchange: b.exchange,
            queue: b.queue,
            routing_key: b.routing_key,
        }),
    })
}

fn jetstream_op(op: e::JetstreamOp) -> core::JetStreamOp {
    match op {
        e::JetstreamOp::EnsureStream(s) => core::JetStreamOp::EnsureStream(core::JetStreamStream {
            name: s.name,
            subjects: s.subjects,
            retention: match s.retention {
                e::JetstreamRetention::Limits => core::JetStreamRetention::Limits,
                e::JetstreamRetention::Interest => core::JetStreamRetention::Interest,
                e::JetstreamRetention::WorkQueue => core::JetStreamRetention::WorkQueue,
            },
            storage: match s.storage {
                e::JetstreamStorage::File => core::JetStreamStorage::File,
                e::JetstreamStorage::Memory => core::JetStreamStorage::Memory,
            },
            replicas: s.replicas,
            max_age_seconds: s.max_age_seconds,
            max_bytes: s.max_bytes,
        }),
        e::JetstreamOp::EnsureConsumer(c) => core::JetStreamOp::EnsureConsumer(core::JetStreamConsumer {
            stream: c.stream,
            name: c.name,
            filter_subjects: c.filter_subjects,
            ack_wait_seconds: c.ack_wait_seconds,
            max_deliver: c.max_deliver,
        }),
    }
}

fn vault_op(op: e::VaultOp) -> core::VaultOp {
    match op {
        e::VaultOp::EnsureMount(m) => core::VaultOp::EnsureMount(core::VaultMount {
            path: m.path,
            engine: m.engine,
            description: m.description,
            max_lease_ttl: m.max_lease_ttl,
        }),
        e::VaultOp::EnsureAuth(a) => core::VaultOp::EnsureAuth(core::VaultAuth {
            path: a.path,
            method: a.method,
            description: a.description,
        }),
        e::VaultOp::EnsurePolicy(p) => {
            core::VaultOp::EnsurePolicy(core::VaultPolicy { name: p.name, policy: p.policy })
        }
        e::VaultOp::EnsureConfig(c) => {
            core::VaultOp::EnsureConfig(core::VaultConfig { path: c.path, data: text(c.data) })
        }
        e::VaultOp::EnsurePkiRoot(r) => core::VaultOp::EnsurePkiRoot(core::VaultPkiRoot {
            mount: r.mount,
            common_name: r.common_name,
            ttl: r.ttl,
        }),
        e::VaultOp::EnsurePkiIntermediate(i) => {
            core::VaultOp::EnsurePkiIntermediate(core::VaultPkiIntermediate {
                mount: i.mount,
                issuer_mount: i.issuer_mount,
                common_name: i.common_name,
                ttl: i.ttl,
            })
        }
        e::VaultOp::Prune(p) => {
            core::VaultOp::Prune(core::VaultPrune { path: p.path, prefix: p.prefix, keep: p.keep })
        }
    }
}

pub(crate) fn health(h: h::HealthStatus) -> core::Health {
    match h {
        h::HealthStatus::Ready => core::Health::Ready,
        h::HealthStatus::Progressing(s) => core::Health::Progressing(s),
        h::HealthStatus::Degraded(s) => core::Health::Degraded(s),
    }
}

pub(crate) fn log_level(l: crate::bindings::log::Level) -> core::LogLevel {
    use crate::bindings::log::Level;
    match l {
        Level::Trace => core::LogLevel::Trace,
        Level::Debug => core::LogLevel::Debug,
        Level::Info => core::LogLevel::Info,
        Level::Warn => core::LogLevel::Warn,
        Level::Error => core::LogLevel::Error,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn manifests_must_be_kubernetes_objects() {
        assert!(manifest(0, r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}"#).is_ok());
        assert_eq!(manifest(2, "[1]").unwrap_err(), "object #2 is not a JSON object");
        assert_eq!(
            manifest(0, r#"{"apiVersion":"v1","kind":"Secret","metadata":{}}"#).unwrap_err(),
            "object #0 (Secret) has no metadata.name"
        );
        assert_eq!(manifest(1, r#"{"kind":"Pod"}"#).unwrap_err(), "object #1 (Pod) has no apiVersion");
        assert!(manifest(0, "{").unwrap_err().starts_with("object #0 is not valid JSON"));
    }
}
