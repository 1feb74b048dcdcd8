//! One object → deterministic YAML text, by Capstan's one YAML writer
//! (`capstan-yaml`) in Kubernetes manifest key order.

use serde_json::Value;

use crate::RenderError;

/// The YAML text of one object, as written to its file (without the header
/// comment). Pure; the planner's diff uses it too. Every JSON value can be
/// written, so it never returns an error; the `Result` keeps callers as they were.
pub fn to_yaml(object: &Value) -> Result<String, RenderError> {
    Ok(capstan_yaml::to_string(object, capstan_yaml::KeyOrder::Manifest))
}

/// Appends the YAML text of `object` to `out`, which holds the file's header:
/// the file's bytes in one buffer, with no second copy of the document.
pub(crate) fn append_yaml(object: &Value, out: &mut String) {
    capstan_yaml::write(object, capstan_yaml::KeyOrder::Manifest, out);
}
