//! The clear-text form of a secrets file: what `show --reveal` prints and what
//! `edit` puts in front of the editor. One `name = "value"` attribute per
//! secret, HCL-quoted so any value round-trips (newlines, quotes, `${`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use capstan_core::Sensitive;
use hcl::{Expression, Structure};

use crate::error::{Result, SecretsError};
use crate::format::check_name;

/// Renders values as HCL attributes, sorted by name.
pub(crate) fn render(values: &BTreeMap<String, Sensitive>) -> String {
    let mut out = String::new();
    for (name, value) in values {
        let _ = writeln!(out, "{name} = \"{}\"", escape(value.expose()));
    }
    out
}

/// HCL quoted-string escaping, including the template introducers `${` and `%{`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Parses edited text back into values. Errors give a line and column (or a
/// name), never the text, since the text is secret.
pub(crate) fn parse(file: &Path, text: &str) -> Result<BTreeMap<String, Sensitive>> {
    let invalid = |reason: String| SecretsError::EditInvalid { file: file.to_path_buf(), reason };
    let body = hcl::parse(text).map_err(|e| match e {
        hcl::Error::Parse(p) => {
            invalid(format!("line {}, column {}: not valid HCL", p.location().line(), p.location().column()))
        }
        _ => invalid("not valid HCL".to_owned()),
    })?;
    let mut values = BTreeMap::new();
    for structure in body.into_iter() {
        let attr = match structure {
            Structure::Attribute(a) => a,
            Structure::Block(b) => {
                return Err(invalid(format!("`{}` is a block; write `name = \"value\"`", b.identifier)));
            }
        };
        let name = attr.key.to_string();
        check_name(file, &name)?;
        let value = match attr.expr {
            Expression::String(s) => s,
            Expression::TemplateExpr(t) => literal_template(&t).ok_or_else(|| {
                invalid(format!("`{name}`: interpolation is not allowed in secrets (escape `${{` as `$${{`)"))
            })?,
            _ => {
                return Err(invalid(format!("`{name}` must be a quoted string or a heredoc")));
            }
        };
        if values.insert(name.clone(), Sensitive::new(value)).is_some() {
            return Err(invalid(format!("`{name}` appears twice")));
        }
    }
    Ok(values)
}

/// A heredoc or quoted template with no interpolation, as plain text.
fn literal_template(t: &hcl::TemplateExpr) -> Option<String> {
    let template = hcl::template::Template::from_expr(t).ok()?;
    let mut out = String::new();
    for element in template.elements() {
        match element {
            hcl::template::Element::Literal(s) => out.push_str(s),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn tricky_values_round_trip() {
        let tricky = [
            "plain",
            "",
            "with \"quotes\" and \\backslashes\\",
            "multi\nline\r\nvalue\twith tab",
            "${not_a_var} and %{ if x } and $$ and %%",
            "unicode: ção 🚀 \u{1} \u{7f}",
            "-----BEGIN CERT-----\nabc\n-----END CERT-----\n",
        ];
        let values: BTreeMap<String, Sensitive> =
            tricky.iter().enumerate().map(|(i, v)| (format!("k{i}"), Sensitive::new(*v))).collect();
        let text = render(&values);
        let back = parse(Path::new("x"), &text).unwrap();
        assert_eq!(back, values);
    }

    #[test]
    fn heredocs_are_accepted() {
        let text = "cert = <<EOT\nline1\nline2\nEOT\n";
        let back = parse(Path::new("x"), text).unwrap();
        assert_eq!(back["cert"].expose(), "line1\nline2\n");
    }

    #[test]
    fn errors_do_not_quote_the_text() {
        let err = parse(Path::new("f"), "pw = \"hunter2\" garbage\n").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = parse(Path::new("f"), "pw = \"${hunter2}\"\n").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
