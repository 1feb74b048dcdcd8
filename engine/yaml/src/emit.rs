//! The block structure: mappings, sequences and where each scalar goes.
//! How one scalar is spelled is `scalar`'s job.

use serde_json::{Map, Value};

use crate::KeyOrder;
use crate::scalar::{is_block, push_block, push_number, push_string};

const TOP: [&str; 3] = ["apiVersion", "kind", "metadata"];
const METADATA: [&str; 4] = ["name", "namespace", "labels", "annotations"];

/// YAML readers give up on an implicit (`key: value`) key longer than 1,024
/// characters; a longer one is written as an explicit `? key` / `: value`
/// pair. Measured in bytes of the written key, which are at least as many as
/// its characters.
const MAX_IMPLICIT_KEY: usize = 1024;

struct Emitter<'o> {
    order: KeyOrder,
    out: &'o mut String,
}

pub(crate) fn document(value: &Value, order: KeyOrder, out: &mut String) {
    let mut e = Emitter { order, out };
    match value {
        Value::Object(map) if !map.is_empty() => {
            let first: &[&str] = if order == KeyOrder::Manifest { &TOP } else { &[] };
            e.map(map, first, 0, false);
        }
        Value::Array(items) if !items.is_empty() => e.seq(items, 0),
        // A block at the top is indented like any other, so a line of text
        // never sits at column 0 where `---` or `...` would end the document.
        Value::String(s) if is_block(s) => push_block(s, 2, e.out),
        other => {
            e.inline(other);
            e.out.push('\n');
        }
    }
}

impl Emitter<'_> {
    /// The entries of `map` in the order asked for: `first` keys in that
    /// order, then the rest sorted; or as given. Borrowed: emitting copies
    /// nothing.
    fn ordered<'a>(&self, map: &'a Map<String, Value>, first: &[&str]) -> Vec<(&'a str, &'a Value)> {
        if self.order == KeyOrder::AsGiven {
            return map.iter().map(|(k, v)| (k.as_str(), v)).collect();
        }
        let mut entries: Vec<(&str, &Value)> =
            first.iter().filter_map(|k| map.get_key_value(*k)).map(|(k, v)| (k.as_str(), v)).collect();
        let leading = entries.len();
        entries
            .extend(map.iter().filter(|(k, _)| !first.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v)));
        entries[leading..].sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }

    fn pad(&mut self, indent: usize) {
        pad(self.out, indent);
    }

    /// A block mapping at `indent`, `first` keys first (in manifest order the
    /// top level and its `metadata` have a documented order). With
    /// `inline_first`, the first key follows a `- ` the caller already wrote.
    fn map(&mut self, map: &Map<String, Value>, first: &[&str], indent: usize, inline_first: bool) {
        for (i, (key, value)) in self.ordered(map, first).into_iter().enumerate() {
            if !(inline_first && i == 0) {
                self.pad(indent);
            }
            let start = self.out.len();
            push_string(key, self.out);
            if self.out.len() - start > MAX_IMPLICIT_KEY {
                // Only the key itself is shifted: it is the end of the buffer.
                self.out.insert_str(start, "? ");
                self.out.push('\n');
                self.pad(indent);
            }
            self.out.push(':');
            let nested: &[&str] = if key == "metadata" && first == TOP { &METADATA } else { &[] };
            self.after_key(value, nested, indent);
        }
    }

    fn after_key(&mut self, value: &Value, first: &[&str], indent: usize) {
        match value {
            Value::Object(m) if !m.is_empty() => {
                self.out.push('\n');
                self.map(m, first, indent + 2, false);
            }
            // Sequences sit at the key's indentation, as kubectl writes them.
            Value::Array(a) if !a.is_empty() => {
                self.out.push('\n');
                self.seq(a, indent);
            }
            other => self.after_indicator(other, indent),
        }
    }

    fn seq(&mut self, items: &[Value], indent: usize) {
        for item in items {
            self.pad(indent);
            self.out.push('-');
            match item {
                Value::Object(m) if !m.is_empty() => {
                    self.out.push(' ');
                    self.map(m, &[], indent + 2, true);
                }
                Value::Array(a) if !a.is_empty() => {
                    self.out.push('\n');
                    self.seq(a, indent + 2);
                }
                other => self.after_indicator(other, indent),
            }
        }
    }

    /// A scalar or an empty collection after a `:` or `-` at `indent`.
    fn after_indicator(&mut self, value: &Value, indent: usize) {
        self.out.push(' ');
        match value {
            Value::String(s) if is_block(s) => push_block(s, indent + 2, self.out),
            other => {
                self.inline(other);
                self.out.push('\n');
            }
        }
    }

    /// Scalars and empty collections on one line.
    fn inline(&mut self, value: &Value) {
        match value {
            Value::Null => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => push_number(n, self.out),
            Value::String(s) => push_string(s, self.out),
            Value::Object(m) => {
                debug_assert!(m.is_empty(), "non-empty mappings are written as blocks");
                self.out.push_str("{}");
            }
            Value::Array(a) => {
                debug_assert!(a.is_empty(), "non-empty sequences are written as blocks");
                self.out.push_str("[]");
            }
        }
    }
}

pub(crate) fn pad(out: &mut String, indent: usize) {
    const SPACES: &str = "                                ";
    let mut left = indent;
    while left > 0 {
        let n = left.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        left -= n;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{KeyOrder, to_string};

    #[test]
    fn manifest_keys_are_ordered_the_same_whatever_the_input_order() {
        let a = json!({"spec": {"b": 1, "a": [ {"y": 1, "x": 2} ]}, "metadata": {"labels": {"z": "1", "a": "2"}, "name": "n"},
                       "kind": "ConfigMap", "apiVersion": "v1", "data": {"k": "v"}});
        let b = json!({"apiVersion": "v1", "data": {"k": "v"}, "kind": "ConfigMap",
                       "metadata": {"name": "n", "labels": {"a": "2", "z": "1"}}, "spec": {"a": [ {"x": 2, "y": 1} ], "b": 1}});
        let text = to_string(&a, KeyOrder::Manifest);
        assert_eq!(text, to_string(&b, KeyOrder::Manifest));
        assert_eq!(
            text,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 'n'\n  labels:\n    a: '2'\n    z: '1'\ndata:\n  k: v\nspec:\n  a:\n  - x: 2\n    'y': 1\n  b: 1\n"
        );
    }

    #[test]
    fn as_given_keeps_the_input_order_at_every_level() {
        let v = json!({"zeta": 1, "metadata": {"z": true, "name": "x"}, "alpha": [{"b": null, "a": []}]});
        assert_eq!(
            to_string(&v, KeyOrder::AsGiven),
            "zeta: 1\nmetadata:\n  z: true\n  name: x\nalpha:\n- b: null\n  a: []\n"
        );
    }

    #[test]
    fn top_level_scalars_and_empty_collections_are_one_line_documents() {
        assert_eq!(to_string(&json!("x"), KeyOrder::AsGiven), "x\n");
        assert_eq!(to_string(&json!(""), KeyOrder::AsGiven), "''\n");
        assert_eq!(to_string(&json!(null), KeyOrder::AsGiven), "null\n");
        assert_eq!(to_string(&json!({}), KeyOrder::AsGiven), "{}\n");
        assert_eq!(to_string(&json!([]), KeyOrder::AsGiven), "[]\n");
        assert_eq!(to_string(&json!("a\nb\n"), KeyOrder::AsGiven), "|\n  a\n  b\n");
    }

    #[test]
    fn a_key_too_long_for_an_implicit_key_is_written_explicitly() {
        let long = "k".repeat(1025);
        let text = to_string(&json!({ long.clone(): {"a": 1}, "b": 2 }), KeyOrder::AsGiven);
        assert_eq!(text, format!("? {long}\n:\n  a: 1\nb: 2\n"));
        let fits = "k".repeat(1024);
        let text = to_string(&json!([{ fits.clone(): 1 }]), KeyOrder::AsGiven);
        assert_eq!(text, format!("- {fits}: 1\n"));
    }
}
