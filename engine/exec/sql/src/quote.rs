//! Quoting for the statements that take no bind parameters (CREATE ROLE,
//! CREATE DATABASE, GRANT, …): names and literals are quoted here, never
//! pasted in.

/// `"name"`, with embedded `"` doubled: always an identifier, whatever it holds.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A string literal that means the same with `standard_conforming_strings`
/// on or off: `'…'` with `'` doubled, or `E'…'` with `\` doubled too when the
/// text has a backslash (what PostgreSQL's own `quote_literal` does).
pub fn quote_literal(text: &str) -> String {
    let body = text.replace('\'', "''");
    if text.contains('\\') { format!("E'{}'", body.replace('\\', "\\\\")) } else { format!("'{body}'") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_neutralises_quotes_and_backslashes() {
        assert_eq!(quote_ident("app"), "\"app\"");
        assert_eq!(quote_ident("a\"; DROP ROLE x; --"), "\"a\"\"; DROP ROLE x; --\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\'b"), "E'a\\\\''b'");
    }
}
