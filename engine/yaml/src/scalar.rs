//! How one scalar is spelled: a number, or a string plain, single-quoted,
//! double-quoted or as a literal block — the first of these that every
//! reader, YAML 1.1 or 1.2, reads back as the same string.

use std::fmt::Write as _;

use serde_json::Number;

use crate::emit::pad;

/// A number as serde_json spells it, except that a float in exponent form
/// gets a `.` in its mantissa and a sign in its exponent: `1e-7` and `1e21`
/// are strings to a YAML 1.1 reader, `1.0e-7` and `1.0e+21` are floats to
/// every reader.
pub(crate) fn push_number(n: &Number, out: &mut String) {
    let start = out.len();
    let _ = write!(out, "{n}");
    if !n.is_f64() {
        return;
    }
    // Only the number itself is shifted by these inserts: it ends the buffer.
    if let Some(e) = out[start..].find(['e', 'E']).map(|i| start + i) {
        let mut exponent = e + 1;
        if !out[start..e].contains('.') {
            out.insert_str(e, ".0");
            exponent += 2;
        }
        if !out[exponent..].starts_with(['-', '+']) {
            out.insert(exponent, '+');
        }
    }
}

/// A string as a one-line scalar: plain when unambiguous in YAML 1.1 and
/// 1.2, double-quoted when it has a character only an escape can carry,
/// single-quoted otherwise.
pub(crate) fn push_string(s: &str, out: &mut String) {
    if needs_escape(s, false) {
        push_double_quoted(s, out);
    } else if is_plain_safe(s) {
        out.push_str(s);
    } else {
        out.reserve(s.len() + 2);
        out.push('\'');
        for (i, part) in s.split('\'').enumerate() {
            if i > 0 {
                out.push_str("''");
            }
            out.push_str(part);
        }
        out.push('\'');
    }
}

/// Whether `s` has a character that must be escaped in a double-quoted
/// scalar (`in_block`: except the line feeds and tabs a literal block
/// carries raw). Those are the control characters (C0, DEL and C1, NEL
/// among them), U+2028 and U+2029 (line breaks to YAML 1.1 readers, so raw
/// ones change the text), U+FEFF (a byte order mark, which readers drop) and
/// U+FFFE / U+FFFF (not allowed in a YAML file at all). One pass over the
/// UTF-8 bytes: every one of those starts with a byte below 0x20, 0x7f,
/// 0xc2, 0xe2 or 0xef.
fn needs_escape(s: &str, in_block: bool) -> bool {
    // Printable ASCII, nearly every string of a manifest, in a pass the
    // compiler vectorises; the byte-by-byte look below only for the rest.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return false;
    }
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &byte)| match byte {
        b'\n' | b'\t' => !in_block,
        0x00..=0x1f | 0x7f => true,
        // U+0080..=U+009F.
        0xc2 => matches!(b.get(i + 1), Some(0x80..=0x9f)),
        // U+2028, U+2029.
        0xe2 => b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9)),
        // U+FEFF; U+FFFE, U+FFFF.
        0xef => match b.get(i + 1) {
            Some(0xbb) => b.get(i + 2) == Some(&0xbf),
            Some(0xbf) => matches!(b.get(i + 2), Some(0xbe | 0xbf)),
            _ => false,
        },
        _ => false,
    })
}

/// The characters [`needs_escape`] finds, one at a time.
fn is_escaped(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

fn push_double_quoted(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Unescaped runs are copied whole, not char by char.
    let mut run = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            c if is_escaped(c) => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push_str(escape);
        }
        run = i + c.len_utf8();
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Multi-line text reads best as a literal block, when a block can carry
/// it: no character that needs an escape, and at least one line that is not
/// empty (a block of empty lines reads back as `""`).
pub(crate) fn is_block(s: &str) -> bool {
    s.contains('\n')
        && s.bytes().any(|b| b != b'\n')
        && !needs_escape(s, true)
        // A block's indentation is taken from its first non-empty line: text
        // whose first non-empty line starts with a space or tab is quoted.
        && !s.split('\n').find(|l| !l.is_empty()).is_some_and(|l| l.starts_with([' ', '\t']))
}

/// `|`, `|-` or `|+` and the lines at `indent`, for a string [`is_block`]
/// accepted.
pub(crate) fn push_block(s: &str, indent: usize, out: &mut String) {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    out.push_str(match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

/// Words that a YAML 1.1 or 1.2 reader takes for a boolean, a null or a
/// special float (compared without case, so some harmless ones are quoted
/// too).
const RESERVED: [&str; 12] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null", "~", "nan", "inf"];

/// Whether `s` reads back as itself written plain, in every reader. Only
/// called for strings without characters that need an escape.
fn is_plain_safe(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else { return false };
    if s.len() <= 5 && RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) {
        return false;
    }
    // `=` alone is YAML 1.1's "value" key, which PyYAML refuses to load;
    // `---` starts a new document when it is at the start of a line.
    if s == "=" || s.starts_with("---") {
        return false;
    }
    // Anything that starts like a number (or .inf/.nan, or a sign) is quoted:
    // YAML 1.1 reads 0777, 1_000, 1:20 and 1e3 as numbers.
    // A leading `-` is fine when a letter or another `-` follows (`--port`).
    let second = bytes.get(1).copied();
    let dash_word = first == b'-' && second.is_some_and(|c| c.is_ascii_alphabetic() || c == b'-');
    if first.is_ascii_digit() || matches!(first, b'.' | b'+') || (first == b'-' && !dash_word) {
        return false;
    }
    // Indicators that mean something at the start of a scalar.
    if b"?:,[]{}#&*!|>'\"%@` ".contains(&first) || s.ends_with(' ') || s == "-" {
        return false;
    }
    // Only characters that are never special inside a plain scalar (any
    // non-ASCII character left is a letter, a symbol or a space no reader
    // trims), with `:` and ` ` allowed unless they form `: ` / ` #` / a
    // trailing `:`, and `<` unless it forms the merge key `<<`.
    let mut previous = 0u8;
    for &b in bytes {
        let allowed = !b.is_ascii() || b.is_ascii_alphanumeric() || b"-_./:@ =+~^$()<>?".contains(&b);
        let pair = matches!((previous, b), (b':', b' ') | (b' ', b'#') | (b'<', b'<'));
        if !allowed || pair {
            return false;
        }
        previous = b;
    }
    !s.ends_with(':')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn string(s: &str) -> String {
        let mut out = String::new();
        push_string(s, &mut out);
        out
    }

    fn number(v: serde_json::Value) -> String {
        let mut out = String::new();
        push_number(v.as_number().expect("a number"), &mut out);
        out
    }

    #[test]
    fn yaml_1_1_lookalikes_are_quoted() {
        for s in [
            "yes", "On", "n", "0777", "1:20", "1_000", "-1", ".5", ".inf", "-.inf", "~", "", " x", "a: b",
            "x #y", "@x", "=", "<<", "---", "--- x", "0x1F", "1e-7", "null", "NULL",
        ] {
            assert_ne!(string(s), s, "{s:?} must be quoted");
        }
        for s in [
            "api",
            "registry.example/api:1.4.2",
            "a b",
            "http://x/y?q=1",
            "app.kubernetes.io/name",
            "a=b",
            "--port",
        ] {
            assert_eq!(string(s), s, "{s:?} stays plain");
        }
    }

    #[test]
    fn characters_readers_drop_or_break_lines_on_are_escaped() {
        assert_eq!(string("a\u{2028}b\u{2029}c"), "\"a\\u2028b\\u2029c\"");
        assert_eq!(string("\u{feff}bom"), "\"\\ufeffbom\"");
        assert_eq!(string("x\u{fffe}\u{ffff}"), "\"x\\ufffe\\uffff\"");
        assert_eq!(string("nel\u{85}"), "\"nel\\u0085\"");
        assert_eq!(string("q\"b\\\t"), "\"q\\\"b\\\\\\t\"");
        // Neighbours of those code points are ordinary characters.
        assert_eq!(
            string("\u{a0}\u{2027}\u{202a}\u{fefe}\u{fffd}é"),
            "\u{a0}\u{2027}\u{202a}\u{fefe}\u{fffd}é"
        );
        assert!(!is_block("a\u{2028}\nb"));
    }

    #[test]
    fn text_of_line_feeds_only_is_not_a_block() {
        assert_eq!(string("\n"), "\"\\n\"");
        assert!(!is_block("\n") && !is_block("\n\n"));
        assert!(is_block("\nx"));
    }

    #[test]
    fn floats_in_exponent_form_get_a_point_and_a_signed_exponent() {
        assert_eq!(number(json!(1e-7)), "1.0e-7");
        assert_eq!(number(json!(1.5e-7)), "1.5e-7");
        assert_eq!(number(json!(1e21)), "1.0e+21");
        assert_eq!(number(json!(-2.5e300)), "-2.5e+300");
        assert_eq!(number(json!(0.25)), "0.25");
        assert_eq!(number(json!(3.0)), "3.0");
        assert_eq!(number(json!(-7)), "-7");
        assert_eq!(number(json!(u64::MAX)), "18446744073709551615");
    }
}
