//! State shared by every evaluation in one load: the stack root, the
//! operator's options, caches, and the table of secret placeholders.
//!
//! Secrets never enter evaluation in clear. Each one is replaced by a unique
//! token (private-use code points around a number, unchanged by
//! `upper`/`lower`/`trimspace`); tokens are swapped back only in the final
//! JSON, where every string holding one is recorded as sensitive. Messages
//! pass through [`Shared::scrub`], so a token in an error prints as
//! "(sensitive)" and the clear value is never there to leak.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use capstan_core::{REDACTED, Sensitive};
use hcl_edit::structure::Body;
use serde_json::Value;

use crate::LoadOptions;
use crate::diag::{ConfigError, Diagnostic, Diagnostics, Location, SourceFile};
use crate::root::StackRoot;

const TOKEN_START: char = '\u{E000}';
const TOKEN_END: char = '\u{E001}';

/// One parsed file: its source (for diagnostics) and its body, if it parsed.
pub(crate) struct Parsed {
    pub file: Arc<SourceFile>,
    pub body: Option<Body>,
}

pub(crate) struct Shared {
    pub root: StackRoot,
    pub options: LoadOptions,
    secrets: Mutex<Vec<Sensitive>>,
    parsed: Mutex<HashMap<PathBuf, Arc<Parsed>>>,
    pub read_config_cache: Mutex<HashMap<(PathBuf, String), Option<Value>>>,
    /// Problems found in files parsed through the cache, reported once each.
    pub diags: Mutex<Diagnostics>,
    /// Compiled input schemas: every component of a plugin shares one, so a
    /// 1,000-component plan compiles each schema once. Keyed by where the
    /// plugin's schema lives, and checked equal on a hit (cheaper than
    /// serialising the schema to find it).
    schemas: Mutex<HashMap<usize, (Value, Arc<jsonschema::Validator>)>>,
    /// Plugin defaults (YAML) parsed, by their text: parsed once per plugin.
    defaults: Mutex<HashMap<String, Result<Arc<Value>, String>>>,
    /// `secret_ref` results by reference, so a remote secret is fetched once
    /// per run even though inputs are evaluated at load and again at plan.
    pub secret_refs: Mutex<HashMap<String, String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the data usable: the
    // caches only ever grow by whole entries.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(root: StackRoot, options: LoadOptions) -> Self {
        Self {
            root,
            options,
            secrets: Mutex::new(Vec::new()),
            parsed: Mutex::new(HashMap::new()),
            read_config_cache: Mutex::new(HashMap::new()),
            diags: Mutex::new(Diagnostics::default()),
            schemas: Mutex::new(HashMap::new()),
            defaults: Mutex::new(HashMap::new()),
            secret_refs: Mutex::new(HashMap::new()),
        }
    }

    pub fn validator(&self, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let key = std::ptr::from_ref(schema) as usize;
        if let Some((known, v)) = lock(&self.schemas).get(&key)
            && known == schema
        {
            return Ok(v.clone());
        }
        let v = Arc::new(jsonschema::validator_for(schema).map_err(|e| e.to_string())?);
        lock(&self.schemas).insert(key, (schema.clone(), v.clone()));
        Ok(v)
    }

    /// A plugin's defaults as JSON, or the YAML parser's message.
    pub fn plugin_defaults(&self, yaml_text: &str) -> Result<Arc<Value>, String> {
        if let Some(known) = lock(&self.defaults).get(yaml_text) {
            return known.clone();
        }
        let parsed = crate::yaml::parse(yaml_text).map(Arc::new).map_err(|e| e.message);
        lock(&self.defaults).insert(yaml_text.to_owned(), parsed.clone());
        parsed
    }

    /// The token for `secret_ref(reference)`, asking the provider only once.
    pub fn secret_ref(
        &self,
        provider: &dyn capstan_core::SecretProvider,
        reference: &str,
    ) -> Result<String, capstan_core::SecretSourceError> {
        if let Some(t) = lock(&self.secret_refs).get(reference) {
            return Ok(t.clone());
        }
        let token = self.secret_token(provider.resolve_ref(reference)?);
        lock(&self.secret_refs).insert(reference.to_owned(), token.clone());
        Ok(token)
    }

    pub fn report(&self, d: Diagnostic) {
        lock(&self.diags).push(d);
    }

    pub fn take_diags(&self) -> Diagnostics {
        std::mem::take(&mut *lock(&self.diags))
    }

    /// Reads and parses `rel` once; later calls share the result. `None` if
    /// it cannot be read (the problem is reported, at `from` when given).
    pub fn parse(&self, rel: &Path, from: Option<Location>) -> Option<Arc<Parsed>> {
        if let Some(p) = lock(&self.parsed).get(rel) {
            return Some(p.clone());
        }
        let text = match self.root.read_to_string(rel) {
            Ok(t) => t,
            Err(e) => {
                let loc = from.or_else(|| Some(Location::file_only(rel)));
                self.report(Diagnostic::new(
                    ConfigError::Read { path: rel.to_path_buf(), reason: e.to_string() },
                    loc,
                ));
                return None;
            }
        };
        let file = SourceFile::new(rel.to_path_buf(), text);
        // Unbalanced text never reaches the parser, which backtracks on it.
        if let Err(e) = crate::brackets::check(&file.text) {
            self.report(Diagnostic::at(
                ConfigError::Syntax { message: e.message },
                &file,
                e.offset..e.offset + 1,
            ));
            let parsed = Arc::new(Parsed { file, body: None });
            lock(&self.parsed).insert(rel.to_path_buf(), parsed.clone());
            return Some(parsed);
        }
        let body = match hcl_edit::parser::parse_body(&file.text) {
            Ok(b) => Some(b),
            Err(e) => {
                let loc = e.location();
                let offset = file.line_start(loc.line())
                    + byte_offset_of_col(file.line_text(loc.line()), loc.column());
                self.report(Diagnostic::at(
                    ConfigError::Syntax { message: e.message().to_owned() },
                    &file,
                    offset..offset + 1,
                ));
                None
            }
        };
        let parsed = Arc::new(Parsed { file, body });
        lock(&self.parsed).insert(rel.to_path_buf(), parsed.clone());
        Some(parsed)
    }

    /// A placeholder token standing for a secret during evaluation.
    pub fn secret_token(&self, value: Sensitive) -> String {
        let mut table = lock(&self.secrets);
        table.push(value);
        format!("{TOKEN_START}{}{TOKEN_END}", table.len() - 1)
    }

    /// `s` with every token replaced by "(sensitive)".
    pub fn scrub(&self, s: &str) -> String {
        replace_tokens(s, |_| REDACTED.to_owned()).0
    }

    pub fn scrub_error(&self, e: ConfigError) -> ConfigError {
        let msg = e.to_string();
        if msg.contains(TOKEN_START) { ConfigError::Redacted { message: self.scrub(&msg) } } else { e }
    }

    /// `s` with tokens replaced by the clear values; `true` if it held any.
    pub fn reveal(&self, s: &str) -> (String, bool) {
        let table = lock(&self.secrets);
        replace_tokens(s, |i| table.get(i).map_or_else(|| REDACTED.to_owned(), |v| v.expose().to_owned()))
    }
}

pub(crate) fn has_token(s: &str) -> bool {
    s.contains(TOKEN_START)
}

fn replace_tokens(s: &str, mut f: impl FnMut(usize) -> String) -> (String, bool) {
    if !s.contains(TOKEN_START) {
        return (s.to_owned(), false);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(TOKEN_START) {
        out.push_str(&rest[..start]);
        let after = &rest[start + TOKEN_START.len_utf8()..];
        match after.find(TOKEN_END) {
            Some(end) => {
                let idx = after[..end].parse::<usize>().unwrap_or(usize::MAX);
                out.push_str(&f(idx));
                rest = &after[end + TOKEN_END.len_utf8()..];
            }
            None => {
                // A broken token (cut by a string function): never show what follows.
                out.push_str(REDACTED);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    (out, true)
}

fn byte_offset_of_col(line: &str, col: usize) -> usize {
    line.char_indices().nth(col.saturating_sub(1)).map_or(line.len(), |(i, _)| i)
}
