//! The text layout of `secrets.enc.hcl`: parse and render, no cryptography.
//!
//! The layout is fixed (one secret per line, sorted) so that a diff of two
//! versions shows exactly which secret changed. Parse errors report only a
//! line and column, never the text around them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hcl::{Expression, ObjectKey, Structure};

use crate::error::{Result, SecretsError};

/// The file name Capstan looks for at any level of a stack tree.
pub const SECRETS_FILE_NAME: &str = "secrets.enc.hcl";
/// The format version this crate reads and writes.
pub const FORMAT_VERSION: u64 = 1;

/// A secrets file as stored: every field still encrypted or encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SealedFile {
    /// `age1...` recipients the data key is wrapped to, sorted.
    pub recipients: Vec<String>,
    /// base64 of an age file (binary format) whose plaintext is the 32-byte data key.
    pub data_key: String,
    /// name → `VALUE_PREFIX` + base64(nonce) + `:` + base64(ciphertext ‖ tag).
    pub secrets: BTreeMap<String, String>,
    /// `MAC_PREFIX` + hex HMAC-SHA256.
    pub mac: String,
}

pub(crate) const VALUE_PREFIX: &str = "chacha20poly1305:";
pub(crate) const MAC_PREFIX: &str = "hmac-sha256:";

impl SealedFile {
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; `let _` keeps that explicit.
        let _ = writeln!(
            out,
            "# Capstan secrets file, format {FORMAT_VERSION}. Names are clear, values are encrypted."
        );
        let _ = writeln!(
            out,
            "# Change it with `capstan secrets set` or `capstan secrets edit`: hand edits fail the MAC check."
        );
        let _ = writeln!(out, "version = {FORMAT_VERSION}\n");
        let _ = writeln!(out, "recipients = [");
        for r in &self.recipients {
            let _ = writeln!(out, "  \"{r}\",");
        }
        let _ = writeln!(out, "]\n");
        let _ = writeln!(out, "data_key = \"{}\"\n", self.data_key);
        let _ = writeln!(out, "secrets = {{");
        for (name, value) in &self.secrets {
            let _ = writeln!(out, "  {name} = \"{value}\"");
        }
        let _ = writeln!(out, "}}\n");
        let _ = writeln!(out, "mac = \"{}\"", self.mac);
        out
    }

    pub fn parse(file: &Path, bytes: &[u8]) -> Result<Self> {
        let corrupt = |reason: String| SecretsError::Corrupt { file: file.to_path_buf(), reason };
        let text = std::str::from_utf8(bytes)
            .map_err(|e| corrupt(format!("not UTF-8 text (byte {})", e.valid_up_to())))?;
        if let Some((line, column, c)) = outside_the_layout(text) {
            return Err(corrupt(format!(
                "line {line}, column {column}: `{c}` has no place in a secrets file"
            )));
        }
        let body = hcl::parse(text).map_err(|e| match e {
            hcl::Error::Parse(p) => corrupt(format!(
                "line {}, column {}: not valid HCL",
                p.location().line(),
                p.location().column()
            )),
            _ => corrupt("not valid HCL".to_owned()),
        })?;

        let mut attrs: BTreeMap<String, Expression> = BTreeMap::new();
        for structure in body.into_iter() {
            match structure {
                Structure::Attribute(a) => {
                    let key = a.key.to_string();
                    if attrs.insert(key.clone(), a.expr).is_some() {
                        return Err(corrupt(format!("`{key}` appears twice")));
                    }
                }
                Structure::Block(b) => {
                    return Err(corrupt(format!("unexpected block `{}`", b.identifier)));
                }
            }
        }

        // The version first: a newer file should say so, not "corrupt".
        match attrs.remove("version") {
            Some(Expression::Number(n)) => match n.as_u64() {
                Some(FORMAT_VERSION) => {}
                Some(found) => {
                    return Err(SecretsError::UnsupportedVersion {
                        file: file.to_path_buf(),
                        found,
                        supported: FORMAT_VERSION,
                    });
                }
                None => return Err(corrupt("`version` is not a whole number".to_owned())),
            },
            Some(_) => return Err(corrupt("`version` is not a number".to_owned())),
            None => return Err(corrupt("missing `version`".to_owned())),
        }

        let mut take_string = |name: &str| -> Result<String> {
            match attrs.remove(name) {
                Some(Expression::String(s)) => Ok(s),
                Some(_) => Err(corrupt(format!("`{name}` is not a plain string"))),
                None => Err(corrupt(format!("missing `{name}`"))),
            }
        };
        let data_key = take_string("data_key")?;
        let mac = take_string("mac")?;

        let recipients = match attrs.remove("recipients") {
            Some(Expression::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Expression::String(s) => Ok(s),
                    _ => Err(corrupt("`recipients` holds a non-string".to_owned())),
                })
                .collect::<Result<Vec<_>>>()?,
            Some(_) => return Err(corrupt("`recipients` is not a list".to_owned())),
            None => return Err(corrupt("missing `recipients`".to_owned())),
        };

        let secrets = match attrs.remove("secrets") {
            Some(Expression::Object(object)) => {
                let mut secrets = BTreeMap::new();
                for (key, value) in object {
                    let name = match key {
                        ObjectKey::Identifier(id) => id.to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s,
                        _ => {
                            return Err(corrupt("a key in `secrets` is not a name".to_owned()));
                        }
                    };
                    let Expression::String(value) = value else {
                        return Err(corrupt(format!("secret `{name}` is not a plain string")));
                    };
                    if secrets.insert(name.clone(), value).is_some() {
                        return Err(corrupt(format!("secret `{name}` appears twice")));
                    }
                }
                secrets
            }
            Some(_) => return Err(corrupt("`secrets` is not an object".to_owned())),
            None => return Err(corrupt("missing `secrets`".to_owned())),
        };

        if let Some(extra) = attrs.keys().next() {
            return Err(corrupt(format!("unexpected attribute `{extra}`")));
        }
        Ok(Self { recipients, data_key, secrets, mac })
    }
}

/// Secret names become `secrets.<name>` in HCL, so they must be identifiers.
pub(crate) fn check_name(file: &Path, name: &str) -> Result<()> {
    let invalid =
        |reason| SecretsError::InvalidKeyName { file: file.to_path_buf(), key: name.to_owned(), reason };
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(invalid("empty")),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err(invalid("must start with a letter or `_`"));
        }
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(invalid("only letters, digits, `_` and `-` are allowed"));
    }
    if name.len() > 128 {
        return Err(invalid("longer than 128 characters"));
    }
    Ok(())
}

/// The first character outside string literals and comments that the
/// layout [`SealedFile::render`] writes never holds: anything but names,
/// whole numbers, `=`, `,`, brackets and braces. Checked before the general HCL
/// parser sees the text, because a file that a repository hands over can be
/// crafted for that parser: operators and conditionals among unclosed
/// brackets (`a[b ? c[d …`) made it backtrack for half a minute on 1.7 KB
/// (found by the `secrets_file` fuzz target). Line and column are 1-based.
fn outside_the_layout(text: &str) -> Option<(usize, usize, char)> {
    let (mut line, mut column) = (1, 0);
    let (mut in_string, mut escaped, mut in_comment) = (false, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        column += 1;
        if c == '\n' {
            (line, column, in_comment) = (line + 1, 0, false);
            continue;
        }
        if in_comment {
            continue;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '#' => in_comment = true,
            '/' if chars.peek() == Some(&'/') => in_comment = true,
            '=' | ',' | '[' | ']' | '{' | '}' | '_' | '-' => {}
            c if c.is_alphanumeric() || c.is_whitespace() => {}
            c => return Some((line, column, c)),
        }
    }
    None
}
