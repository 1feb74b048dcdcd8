//! Typed inputs: turn the request's JSON into the plugin's own struct, with
//! errors that point at the offending value.

use capstan_core::{Diagnostic, PlanError, PlanRequest};
use serde::de::DeserializeOwned;

/// Deserialises `inputs` into `T`. A mismatch becomes
/// [`PlanError::InvalidInputs`] with one diagnostic whose path is the JSON
/// Pointer of the bad value (for a missing field, the pointer of the field
/// that should be there), so the engine can show the HCL line it came from.
pub fn parse_inputs<T: DeserializeOwned>(inputs: &serde_json::Value) -> Result<T, PlanError> {
    serde_path_to_error::deserialize(inputs).map_err(|e| PlanError::InvalidInputs(vec![diagnostic_from(&e)]))
}

/// A plugin's `validate`: the diagnostics of deserialising `inputs` into
/// `T` when they are not a `T`, else what `check` finds in them.
pub fn validate_inputs<T: DeserializeOwned>(
    inputs: &serde_json::Value,
    check: impl FnOnce(&T) -> Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    match parse_inputs(inputs) {
        Ok(parsed) => check(&parsed),
        Err(PlanError::InvalidInputs(diagnostics)) => diagnostics,
        Err(other) => vec![Diagnostic::error("", other.to_string())],
    }
}

fn diagnostic_from(e: &serde_path_to_error::Error<serde_json::Error>) -> Diagnostic {
    let mut pointer = String::new();
    for segment in e.path().iter() {
        use serde_path_to_error::Segment;
        match segment {
            Segment::Seq { index } => push_token(&mut pointer, &index.to_string()),
            Segment::Map { key } => push_token(&mut pointer, key),
            Segment::Enum { variant } => push_token(&mut pointer, variant),
            Segment::Unknown => {}
        }
    }
    let message = e.inner().to_string();
    // serde reports a missing field at its parent; point at the field itself.
    if let Some(field) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
        push_token(&mut pointer, field);
    }
    Diagnostic::error(pointer, strip_position(&message))
}

/// serde_json appends "at line 1 column 42" to errors; the position in a
/// re-serialised document means nothing to an operator, the pointer does.
pub(crate) fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Appends one reference token to a JSON Pointer (RFC 6901 escaping).
pub fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
}

/// The JSON pointer made of `tokens`, each escaped by [`push_token`]:
/// `pointer(&["apps", "a/b"])` is `/apps/a~1b`.
pub fn pointer(tokens: &[&str]) -> String {
    let mut p = String::new();
    for token in tokens {
        push_token(&mut p, token);
    }
    p
}

/// Conveniences on [`PlanRequest`] for plugin code.
pub trait PlanRequestExt {
    /// The inputs as the plugin's own type; see [`parse_inputs`].
    fn inputs<T: DeserializeOwned>(&self) -> Result<T, PlanError>;

    /// Whether the value at `pointer` (such as `/env/API_TOKEN`) or anything
    /// containing it was marked sensitive by the operator. A plugin must not
    /// put such a value anywhere but a `Secret` or a sensitive effect field.
    fn is_sensitive(&self, pointer: &str) -> bool;
}

impl PlanRequestExt for PlanRequest {
    fn inputs<T: DeserializeOwned>(&self) -> Result<T, PlanError> {
        parse_inputs(&self.inputs)
    }

    fn is_sensitive(&self, pointer: &str) -> bool {
        self.sensitive_paths
            .iter()
            .any(|p| pointer == p || (pointer.starts_with(p.as_str()) && pointer[p.len()..].starts_with('/')))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only deserialised")]
    struct Inputs {
        image: String,
        replicas: std::num::NonZeroU32,
        #[serde(default)]
        env: std::collections::BTreeMap<String, String>,
        #[serde(default)]
        ports: Vec<u16>,
    }

    fn error_of(v: serde_json::Value) -> Diagnostic {
        match parse_inputs::<Inputs>(&v).unwrap_err() {
            PlanError::InvalidInputs(mut d) => d.remove(0),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_wrong_value_is_reported_at_its_pointer() {
        let d = error_of(json!({"image": "x", "replicas": 0}));
        assert_eq!(d.path, "/replicas");
        assert!(d.message.contains("nonzero"), "{}", d.message);
    }

    #[test]
    fn a_missing_field_is_reported_at_the_field() {
        let d = error_of(json!({"replicas": 1}));
        assert_eq!(d.path, "/image");
        assert_eq!(d.message, "missing field `image`");
    }

    #[test]
    fn nested_keys_and_indices_are_escaped_into_the_pointer() {
        let d = error_of(json!({"image": "x", "replicas": 1, "env": {"a/b~c": 3}}));
        assert_eq!(d.path, "/env/a~1b~0c");
        let d = error_of(json!({"image": "x", "replicas": 1, "ports": [80, -1]}));
        assert_eq!(d.path, "/ports/1");
    }

    #[test]
    fn sensitivity_covers_children_of_a_sensitive_path_only() {
        let mut req = crate::testkit::PlanCall::new(json!({})).request();
        req.sensitive_paths = vec!["/env/TOKEN".into(), "/secrets".into()];
        assert!(req.is_sensitive("/env/TOKEN"));
        assert!(req.is_sensitive("/secrets/a"));
        assert!(!req.is_sensitive("/env/TOKEN_ID"));
        assert!(!req.is_sensitive("/secretsx"));
        assert!(!req.is_sensitive("/env"));
    }
}
