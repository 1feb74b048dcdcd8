//! Where each object goes: directory and file names.

use serde_json::Value;

use crate::RenderError;
pub(crate) use capstan_core::leaks::is_secret;

/// The marker listing the files Capstan wrote in an output directory
/// (relative paths). Only these are ever removed or overwritten.
pub const MARKER_FILE: &str = ".capstan-render.json";

/// The `.sops.yaml` at the output root: how `sops` encrypts the rendered
/// Secrets of each environment delivered by SOPS.
pub const SOPS_CONFIG: &str = ".sops.yaml";

/// `<kind>-<name>.yaml`, lowercase, for an object; `None` when it has no kind
/// or no `metadata.name`.
pub fn object_file_name(object: &Value) -> Option<String> {
    let kind = object.get("kind").and_then(Value::as_str).filter(|s| !s.is_empty())?;
    let name = object.pointer("/metadata/name").and_then(Value::as_str).filter(|s| !s.is_empty())?;
    Some(file_name_for(kind, name))
}

/// `<kind>-<name>.yaml` for a kind and a name.
pub fn file_name_for(kind: &str, name: &str) -> String {
    format!("{}-{}.yaml", sanitize(kind), sanitize(name))
}

/// Lowercase; anything but `a-z 0-9 . _ -` becomes `_`, so a name can never
/// leave its directory.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect()
}

/// Checks that an environment, namespace or component name is one plain path
/// segment (config validation should already ensure it; this is the last guard
/// before the file system).
pub(crate) fn segment<'a>(
    component: &str,
    what: &'static str,
    value: &'a str,
) -> Result<&'a str, RenderError> {
    let ok = !value.is_empty()
        && !value.starts_with('.')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(value)
    } else {
        Err(RenderError::UnsafeName { component: component.to_string(), what, value: value.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn file_names_are_lowercase_and_cannot_escape() {
        let o = json!({"kind": "ClusterRole", "metadata": {"name": "system:Aggregate/../x"}});
        assert_eq!(object_file_name(&o).as_deref(), Some("clusterrole-system_aggregate_.._x.yaml"));
        assert_eq!(object_file_name(&json!({"kind": "X", "metadata": {}})), None);
        assert!(segment("c", "environment", "..").is_err());
        assert!(segment("c", "environment", "a/b").is_err());
        assert!(segment("c", "environment", "staging").is_ok());
    }
}
