//! Conversions between capstan-core's plain types and the generated WIT
//! types, so plugin code only ever sees capstan-core.
//!
//! JSON crosses the boundary as text. Text the engine sent that is not JSON
//! is a broken contract, reported as a value (never a panic) so the engine
//! can name the plugin and component.

use capstan_core as core;

use crate::bindings::capstan::plugin::{effects as weff, types as wty};
use crate::bindings::exports::capstan::plugin::handler as wh;
use crate::bindings::policy::exports::capstan::plugin::policy as wp;

// ---- from the engine ---------------------------------------------------

fn parse_json(what: &str, text: &str) -> Result<serde_json::Value, core::PlanError> {
    serde_json::from_str(text)
        .map_err(|e| core::PlanError::Failed(format!("the engine sent {what} that is not valid JSON: {e}")))
}

pub(crate) fn plan_request_from_wit(req: wh::PlanRequest) -> Result<core::PlanRequest, core::PlanError> {
    let inputs = parse_json("inputs", &req.inputs)?;
    let mut dependencies = Vec::with_capacity(req.dependencies.len());
    for dep in req.dependencies {
        let mut outputs = Vec::with_capacity(dep.outputs.len());
        for out in dep.outputs {
            let what = format!("output `{}` of dependency `{}`", out.name, dep.name);
            outputs.push(core::Output {
                value: parse_json(&what, &out.value)?,
                name: out.name,
                sensitive: out.sensitive,
            });
        }
        dependencies.push(core::Dependency {
            name: dep.name,
            component_type: dep.component_type,
            outputs: outputs.into(),
        });
    }
    let mut effect_results = Vec::with_capacity(req.effect_results.len());
    for r in req.effect_results {
        let what = format!("the result of effect `{}`", r.id);
        effect_results.push(core::EffectResult { body: parse_json(&what, &r.body)?, id: r.id });
    }
    Ok(core::PlanRequest {
        component: core::ComponentId {
            name: req.component.name,
            environment: req.component.environment,
            namespace: req.component.namespace,
        },
        inputs,
        sensitive_paths: req.sensitive_paths,
        dependencies,
        files: req.files.into_iter().map(|f| core::File { path: f.path, contents: f.contents }).collect(),
        effect_results,
    })
}

// ---- to the engine -----------------------------------------------------

fn severity(s: core::Severity) -> wty::Severity {
    match s {
        core::Severity::Error => wty::Severity::Error,
        core::Severity::Warning => wty::Severity::Warning,
        core::Severity::Info => wty::Severity::Info,
    }
}

pub(crate) fn diagnostic(d: core::Diagnostic) -> wty::Diagnostic {
    wty::Diagnostic { path: d.path, severity: severity(d.severity), message: d.message }
}

fn capability(c: core::Capability) -> wty::Capability {
    match c {
        core::Capability::Sql(s) => wty::Capability::Sql(s),
        core::Capability::Amqp(s) => wty::Capability::Amqp(s),
        core::Capability::Http(s) => wty::Capability::Http(s),
        core::Capability::JetStream(s) => wty::Capability::Jetstream(s),
        core::Capability::Vault(s) => wty::Capability::Vault(s),
        core::Capability::ReadComponentDir => wty::Capability::ReadComponentDir,
    }
}

pub(crate) fn metadata(m: core::Metadata) -> wh::Metadata {
    wh::Metadata {
        name: m.name,
        version: m.version.to_string(),
        component_type: m.component_type,
        backend: m.backend,
        description: m.description,
        input_schema: core::json_text(&m.input_schema),
        defaults: m.defaults,
        capabilities: m.capabilities.into_iter().map(capability).collect(),
        outputs_contract: m.outputs_contract.map(|c| wh::OutputsContract {
            version: c.version,
            schema: core::json_text(&c.schema),
            kit: c.kit.as_ref().map(core::json_text),
        }),
    }
}

fn sensitive(s: core::Sensitive) -> wty::Sensitive {
    wty::Sensitive { value: s.expose().to_owned() }
}

fn text(t: core::Text) -> wty::Text {
    match t {
        core::Text::Plain(s) => wty::Text::Plain(s),
        core::Text::Sensitive(s) => wty::Text::Sensitive(sensitive(s)),
    }
}

fn sql_op(op: core::SqlOp) -> weff::SqlOp {
    match op {
        core::SqlOp::EnsureRole(r) => weff::SqlOp::EnsureRole(weff::SqlRole {
            name: r.name,
            password: r.password.map(sensitive),
            login: r.login,
        }),
        core::SqlOp::EnsureDatabase(d) => {
            weff::SqlOp::EnsureDatabase(weff::SqlDatabase { name: d.name, owner: d.owner })
        }
        core::SqlOp::Grant(g) => weff::SqlOp::Grant(weff::SqlGrant {
            privileges: g.privileges,
            database: g.database,
            role: g.role,
        }),
        core::SqlOp::EnsureExtension(e) => {
            weff::SqlOp::EnsureExtension(weff::SqlExtension { name: e.name, database: e.database })
        }
        core::SqlOp::Statement(s) => {
            weff::SqlOp::Statement(weff::SqlStatement { database: s.database, sql: text(s.sql) })
        }
    }
}

fn amqp_op(op: core::AmqpOp) -> weff::AmqpOp {
    match op {
        core::AmqpOp::EnsureVhost(v) => weff::AmqpOp::EnsureVhost(v),
        core::AmqpOp::EnsureUser(u) => weff::AmqpOp::EnsureUser(weff::AmqpUser {
            name: u.name,
            password: sensitive(u.password),
            tags: u.tags,
        }),
        core::AmqpOp::EnsurePermission(p) => weff::AmqpOp::EnsurePermission(weff::AmqpPermission {
            vhost: p.vhost,
            user: p.user,
            configure: p.configure,
            write: p.write,
            read: p.read,
        }),
        core::AmqpOp::EnsureExchange(e) => weff::AmqpOp::EnsureExchange(weff::AmqpExchange {
            vhost: e.vhost,
            name: e.name,
            kind: e.kind,
            durable: e.durable,
        }),
        core::AmqpOp::EnsureQueue(q) => weff::AmqpOp::EnsureQueue(weff::AmqpQueue {
            vhost: q.vhost,
            name: q.name,
            durable: q.durable,
            arguments: core::json_text(&q.arguments),
        }),
        core::AmqpOp::EnsureBinding(b) => weff::AmqpOp::EnsureBinding(weff::AmqpBinding {
            vhost: b.vhost,
            exchange: b.exchange,
            queue: b.queue,
            routing_key: b.routing_key,
        }),
    }
}

fn jetstream_op(op: core::JetStreamOp) -> weff::JetstreamOp {
    match op {
        core::JetStreamOp::EnsureStream(s) => weff::JetstreamOp::EnsureStream(weff::JetstreamStream {
            name: s.name,
            subjects: s.subjects,
            retention: match s.retention {
                core::JetStreamRetention::Limits => weff::JetstreamRetention::Limits,
                core::JetStreamRetention::Interest => weff::JetstreamRetention::Interest,
                core::JetStreamRetention::WorkQueue => weff::JetstreamRetention::WorkQueue,
            },
            storage: match s.storage {
                core::JetStreamStorage::File => weff::JetstreamStorage::File,
                core::JetStreamStorage::Memory => weff::JetstreamStorage::Memory,
            },
            replicas: s.replicas,
            max_age_seconds: s.max_age_seconds,
            max_bytes: s.max_bytes,
        }),
        core::JetStreamOp::EnsureConsumer(c) => weff::JetstreamOp::EnsureConsumer(weff::JetstreamConsumer {
            stream: c.stream,
            name: c.name,
            filter_subjects: c.filter_subjects,
            ack_wait_seconds: c.ack_wait_seconds,
            max_deliver: c.max_deliver,
        }),
    }
}

fn vault_op(op: core::VaultOp) -> weff::VaultOp {
    match op {
        core::VaultOp::EnsureMount(m) => weff::VaultOp::EnsureMount(weff::VaultMount {
            path: m.path,
            engine: m.engine,
            description: m.description,
            max_lease_ttl: m.max_lease_ttl,
        }),
        core::VaultOp::EnsureAuth(a) => weff::VaultOp::EnsureAuth(weff::VaultAuth {
            path: a.path,
            method: a.method,
            description: a.description,
        }),
        core::VaultOp::EnsurePolicy(p) => {
            weff::VaultOp::EnsurePolicy(weff::VaultPolicy { name: p.name, policy: p.policy })
        }
        core::VaultOp::EnsureConfig(c) => {
            weff::VaultOp::EnsureConfig(weff::VaultConfig { path: c.path, data: text(c.data) })
        }
        core::VaultOp::EnsurePkiRoot(r) => weff::VaultOp::EnsurePkiRoot(weff::VaultPkiRoot {
            mount: r.mount,
            common_name: r.common_name,
            ttl: r.ttl,
        }),
        core::VaultOp::EnsurePkiIntermediate(i) => {
            weff::VaultOp::EnsurePkiIntermediate(weff::VaultPkiIntermediate {
                mount: i.mount,
                issuer_mount: i.issuer_mount,
                common_name: i.common_name,
                ttl: i.ttl,
            })
        }
        core::VaultOp::Prune(p) => {
            weff::VaultOp::Prune(weff::VaultPrune { path: p.path, prefix: p.prefix, keep: p.keep })
        }
    }
}

fn effect(e: core::Effect) -> weff::Effect {
    let kind = match e.kind {
        core::EffectKind::Sql(ops) => weff::EffectKind::Sql(ops.into_iter().map(sql_op).collect()),
        core::EffectKind::Amqp(ops) => weff::EffectKind::Amqp(ops.into_iter().map(amqp_op).collect()),
        core::EffectKind::Http(h) => weff::EffectKind::Http(weff::HttpCall {
            method: h.method,
            path: h.path,
            headers: h.headers,
            body: h.body.map(text),
        }),
        core::EffectKind::JetStream(ops) => {
            weff::EffectKind::Jetstream(ops.into_iter().map(jetstream_op).collect())
        }
        core::EffectKind::Vault(ops) => weff::EffectKind::Vault(ops.into_iter().map(vault_op).collect()),
    };
    weff::Effect { id: e.id, target: e.target, summary: e.summary, kind }
}

fn output(o: core::Output) -> wh::Output {
    wh::Output { name: o.name, value: core::json_text(&o.value), sensitive: o.sensitive }
}

pub(crate) fn component_plan(p: core::ComponentPlan) -> wh::ComponentPlan {
    wh::ComponentPlan {
        objects: p.objects.iter().map(core::json_text).collect(),
        effects: p.effects.into_iter().map(effect).collect(),
        outputs: p.outputs.into_iter().map(output).collect(),
        warnings: p.warnings.into_iter().map(diagnostic).collect(),
    }
}

pub(crate) fn plan_error(e: core::PlanError) -> wh::PlanError {
    match e {
        core::PlanError::InvalidInputs(diags) => {
            wh::PlanError::InvalidInputs(diags.into_iter().map(diagnostic).collect())
        }
        core::PlanError::MissingDependency(s) => wh::PlanError::MissingDependency(s),
        core::PlanError::Failed(s) => wh::PlanError::Failed(s),
    }
}

pub(crate) fn health(h: core::Health) -> wh::HealthStatus {
    match h {
        core::Health::Ready => wh::HealthStatus::Ready,
        core::Health::Progressing(s) => wh::HealthStatus::Progressing(s),
        core::Health::Degraded(s) => wh::HealthStatus::Degraded(s),
    }
}

// ---- policies (contract 0.2) ---------------------------------------------

/// A check request from the engine. Text that is not JSON is a broken
/// contract: it becomes the `Err` of `check`, naming what was broken.
pub(crate) fn check_request_from_wit(req: wp::CheckRequest) -> Result<core::CheckRequest, String> {
    let json = |what: &str, text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| format!("the engine sent {what} that is not valid JSON: {e}"))
    };
    let mut objects = Vec::with_capacity(req.objects.len());
    for (i, object) in req.objects.iter().enumerate() {
        objects.push(json(&format!("object {i}"), object)?);
    }
    Ok(core::CheckRequest {
        subject: core::PolicySubject {
            name: req.subject.name,
            environment: req.subject.environment,
            namespace: req.subject.namespace,
            component_type: req.subject.component_type,
            plugin: req.subject.plugin,
        },
        objects,
        params: json("params", &req.params)?,
    })
}

/// A policy's metadata as `describe` answers it: the params' schema and
/// defaults are the metadata's `input_schema` and `defaults`. The component
/// type, backend, capabilities and outputs contract have no place in it (a
/// policy has none of them; `describe` of the `policy` interface is what
/// tells the engine it is a policy).
pub(crate) fn policy_metadata(m: core::Metadata) -> wp::PolicyMetadata {
    wp::PolicyMetadata {
        name: m.name,
        version: m.version.to_string(),
        description: m.description,
        params_schema: core::json_text(&m.input_schema),
        defaults: m.defaults,
        rules: m.rules.into_iter().map(|r| wp::Rule { id: r.id, description: r.description }).collect(),
    }
}

pub(crate) fn violation(v: core::Violation) -> wp::Violation {
    wp::Violation {
        rule: v.rule,
        object: v.object,
        path: v.path,
        message: v.message,
        severity: severity(v.severity),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn sensitive_values_cross_in_the_sensitive_variant() {
        let op = core::SqlOp::EnsureRole(core::SqlRole {
            name: "app".into(),
            password: Some(core::Sensitive::new("s3cret")),
            login: true,
        });
        match sql_op(op) {
            weff::SqlOp::EnsureRole(r) => assert_eq!(r.password.unwrap().value, "s3cret"),
            _ => panic!("wrong variant"),
        }
    }

    #[test]
    fn a_request_with_non_json_inputs_is_a_failed_plan_not_a_panic() {
        let req = wh::PlanRequest {
            component: wh::ComponentId {
                name: "api".into(),
                environment: "staging".into(),
                namespace: "core".into(),
            },
            inputs: "{not json".into(),
            sensitive_paths: vec![],
            dependencies: vec![],
            files: vec![],
            effect_results: vec![],
        };
        let err = plan_request_from_wit(req).unwrap_err();
        assert!(matches!(&err, core::PlanError::Failed(m) if m.contains("inputs")), "{err:?}");
    }

    #[test]
    fn dependency_outputs_are_parsed_into_json_values() {
        let req = wh::PlanRequest {
            component: wh::ComponentId {
                name: "api".into(),
                environment: "staging".into(),
                namespace: "core".into(),
            },
            inputs: r#"{"image":"x"}"#.into(),
            sensitive_paths: vec!["/env/TOKEN".into()],
            dependencies: vec![wh::Dependency {
                name: "db".into(),
                component_type: "postgres".into(),
                outputs: vec![wh::Output { name: "port".into(), value: "5432".into(), sensitive: false }],
            }],
            files: vec![],
            effect_results: vec![],
        };
        let req = plan_request_from_wit(req).unwrap();
        assert_eq!(req.dependency("db").unwrap().output("port"), Some(&serde_json::json!(5432)));
        assert_eq!(req.sensitive_paths, vec!["/env/TOKEN".to_string()]);
    }

    fn check_request(objects: Vec<String>, params: &str) -> wp::CheckRequest {
        wp::CheckRequest {
            subject: wp::Subject {
                name: "api".into(),
                environment: "staging".into(),
                namespace: "core".into(),
                component_type: "app".into(),
                plugin: "capstan/app".into(),
            },
            objects,
            params: params.into(),
        }
    }

    #[test]
    fn a_check_request_with_non_json_is_an_error_naming_the_part_not_a_panic() {
        let err = check_request_from_wit(check_request(vec!["{}".into(), "{oops".into()], "{}")).unwrap_err();
        assert!(err.starts_with("the engine sent object 1 that is not valid JSON"), "{err}");
        let err = check_request_from_wit(check_request(vec![], "")).unwrap_err();
        assert!(err.starts_with("the engine sent params that is not valid JSON"), "{err}");
    }

    #[test]
    fn a_check_request_crosses_into_core_types() {
        let req = check_request(vec![r#"{"kind":"Pod"}"#.into()], r#"{"rules":{"probes":false}}"#);
        let req = check_request_from_wit(req).unwrap();
        assert_eq!(req.subject.plugin, "capstan/app");
        assert_eq!(req.subject.component_type, "app");
        assert_eq!(req.objects, vec![serde_json::json!({"kind": "Pod"})]);
        assert_eq!(req.params["rules"]["probes"], false);
    }

    #[test]
    fn policy_metadata_carries_params_schema_defaults_and_rules() {
        let m = crate::MetadataBuilder::policy("acme/p", "1.0.0")
            .description("d")
            .rule("r", "one rule")
            .defaults_yaml("x: 1\n")
            .build();
        let w = policy_metadata(m);
        assert_eq!((w.name.as_str(), w.version.as_str(), w.description.as_str()), ("acme/p", "1.0.0", "d"));
        assert_eq!(w.params_schema, r#"{"type":"object"}"#);
        assert_eq!(w.defaults, "x: 1\n");
        assert_eq!((w.rules[0].id.as_str(), w.rules[0].description.as_str()), ("r", "one rule"));
        let v = violation(core::Violation::error("r", 2, "/spec", "bad"));
        assert_eq!((v.rule.as_str(), v.object, v.path.as_str()), ("r", 2, "/spec"));
        assert!(matches!(v.severity, wty::Severity::Error));
    }
}
