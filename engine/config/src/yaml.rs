//! YAML heredocs (`values_custom`) and plugin defaults, as JSON values.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug)]
pub(crate) struct YamlError {
    pub message: String,
    /// 1-based line and column inside the YAML text, when the parser knows.
    pub line: Option<usize>,
    pub col: Option<usize>,
}

/// Parses YAML into JSON. An empty document is an empty object, so an empty
/// `values_custom` heredoc merges as nothing.
pub(crate) fn parse(text: &str) -> Result<Value, YamlError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_norway::from_str::<Value>(text).map_err(|e| {
        let loc = e.location();
        let mut message = e.to_string();
        // The parser appends " at line N column M"; the diagnostic already says where.
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        YamlError { message, line: loc.as_ref().map(|l| l.line()), col: loc.as_ref().map(|l| l.column()) }
    })
}

/// The 1-based line of each top-level key in a block-style YAML mapping, so
/// `config show` can say which heredoc line a value came from.
pub(crate) fn top_level_key_lines(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with([' ', '\t', '#', '-']) || line.is_empty() {
            continue;
        }
        if let Some((key, _)) = line.split_once(':') {
            let key = key.trim().trim_matches(['"', '\'']);
            out.entry(key.to_owned()).or_insert(i + 1);
        }
    }
    out
}
