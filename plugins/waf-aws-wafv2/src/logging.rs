//! The WebACL's logging configuration, as effects that converge both ways.
//!
//! `PutLoggingConfiguration` names the WebACL by ARN, which exists only
//! after `CreateWebACL` ran; a plan can only declare it once that result is
//! in state. So a first apply creates the WebACL and the next apply puts the
//! logging configuration (the plan warns). After that the effect's body is
//! fixed by the inputs, so it runs again only when they change (a Put
//! replaces the whole configuration).
//!
//! Turning logging off must remove what was put, not just stop declaring
//! it: when the last apply recorded a `logging` result and logging is now
//! off, the plan declares `DeleteLoggingConfiguration`. The next plan has
//! neither result to act on and declares nothing, so state settles.

use capstan_core::{Effect, EffectKind, HttpCall, Text};
use capstan_sdk::PlanRequest;
use serde_json::{Value, json};

use crate::inputs::Logging;

/// The id of the `PutLoggingConfiguration` effect.
pub const EFFECT_LOGGING: &str = "logging";
/// The id of the `DeleteLoggingConfiguration` effect.
pub const EFFECT_LOGGING_OFF: &str = "logging-off";

/// What the plan declares for logging, given the WebACL's ARN (if known).
pub enum Declared {
    /// One effect to declare.
    Effect(Effect),
    /// Logging is asked for but the WebACL's ARN is not known yet.
    WaitingForArn,
    /// Nothing to do.
    Nothing,
}

/// The logging effect to declare, if any (see the module comment).
pub fn declare(request: &PlanRequest, logging: &Logging, web_acl_arn: Option<&str>) -> Declared {
    let Some(arn) = web_acl_arn else {
        return if logging.destination_arn.is_empty() { Declared::Nothing } else { Declared::WaitingForArn };
    };
    if !logging.destination_arn.is_empty() {
        let redacted: Vec<Value> =
            logging.redacted_headers.iter().map(|h| json!({ "SingleHeader": { "Name": h } })).collect();
        let body = json!({ "LoggingConfiguration": {
            "ResourceArn": arn,
            "LogDestinationConfigs": [logging.destination_arn],
            "RedactedFields": redacted,
        }});
        return Declared::Effect(call(
            EFFECT_LOGGING,
            "PutLoggingConfiguration",
            format!("PutLoggingConfiguration to {}", logging.destination_arn),
            &body,
        ));
    }
    // Off now: delete only what this component put at the last apply.
    if request.effect_results.iter().any(|r| r.id == EFFECT_LOGGING) {
        let body = json!({ "ResourceArn": arn });
        return Declared::Effect(call(
            EFFECT_LOGGING_OFF,
            "DeleteLoggingConfiguration",
            "DeleteLoggingConfiguration (logging turned off)".to_owned(),
            &body,
        ));
    }
    Declared::Nothing
}

fn call(id: &str, action: &str, summary: String, body: &Value) -> Effect {
    Effect {
        id: id.into(),
        target: crate::TARGET.into(),
        summary,
        kind: EffectKind::Http(HttpCall {
            method: "POST".into(),
            path: "/".into(),
            headers: vec![
                ("X-Amz-Target".into(), format!("AWSWAF_20190729.{action}")),
                ("Content-Type".into(), "application/x-amz-json-1.1".into()),
            ],
            body: Some(Text::Plain(body.to_string())),
        }),
    }
}
