//! Where a run's sensitive values may appear in what a plugin produces, and
//! where one was found when it is somewhere else.
//!
//! A sensitive value may be written into a Kubernetes `Secret`'s `data` or
//! `stringData`, into an effect's sensitive fields (a role's or a user's
//! password, sensitive SQL text or HTTP body) and into outputs marked
//! sensitive. Anywhere else — another object, a Secret's metadata, an
//! effect's summary or plain fields, a plain output, a diagnostic, an error
//! message, a log line, an effect's result kept in state — it is a leak.
//!
//! This is the one copy of that rule: the planner checks every answer with
//! it, the host redacts plugin output with it, and the conformance kit
//! reports with it. It decides nothing about what happens on a hit.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use serde_json::Value;

use crate::{ComponentPlan, Diagnostic, Effect, PlanRequest, REDACTED, Sensitive};

/// A base64 fragment shorter than this is not looked for when the value
/// sits at an offset inside a longer encoded text (see [`Secret::new`]):
/// a few base64 characters occur by chance in any certificate or digest.
/// The value's own encoding, from its first byte, is always looked for.
const MIN_SHIFTED_BASE64: usize = 8;

/// One sensitive value: where it came from and the forms it is looked for in.
#[derive(Clone)]
pub struct Secret {
    /// A JSON Pointer into the component's inputs (or a dependency's output),
    /// never the value: safe to show.
    pub pointer: String,
    forms: Vec<String>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({:?}, {REDACTED})", self.pointer)
    }
}

impl Secret {
    /// The forms of `value` a plugin could write it in: as it is,
    /// base64-encoded (as Secret data and HTTP basic auth hold it) and
    /// percent-encoded (as URLs and query strings hold it).
    ///
    /// Base64 is looked for at all three alignments: a value encoded on its
    /// own starts at byte 0 of the encoded text, but `user:password` or a
    /// docker config encodes it at another offset, which changes every
    /// character. For each offset only the characters that depend on the
    /// value alone are kept (no padding, no neighbour bits).
    fn new(pointer: &str, value: &str) -> Self {
        let mut forms = vec![value.to_owned()];
        for shift in 0..3 {
            let core = base64_core(value.as_bytes(), shift);
            if !core.is_empty() && (shift == 0 || core.len() >= MIN_SHIFTED_BASE64) {
                forms.push(core);
            }
        }
        for encoded in [percent_encoded(value, false), percent_encoded(value, true)] {
            forms.push(encoded);
        }
        forms.sort();
        forms.dedup();
        Self { pointer: pointer.to_owned(), forms }
    }
}

/// The sensitive values one component's plugin was handed.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    secrets: Vec<Secret>,
    /// Every form of every secret in one automaton, built at the first
    /// search: each string of a plugin's answer is read once for all of them,
    /// not once per form (a plan of 1,000 components searches millions).
    matcher: OnceLock<Matcher>,
}

/// The forms of all secrets, searched at once.
#[derive(Clone, Debug)]
struct Matcher {
    automaton: Option<AhoCorasick>,
    /// The secret each pattern of the automaton is a form of.
    owner: Vec<usize>,
}

impl Secrets {
    /// Adds `value`, found at `pointer`. An empty value is skipped: it
    /// would be found in every text and says nothing.
    pub fn add(&mut self, pointer: &str, value: &str) {
        if !value.is_empty() {
            self.secrets.push(Secret::new(pointer, value));
            self.matcher = OnceLock::new();
        }
    }

    /// Adds every value of `other`.
    pub fn extend(&mut self, other: &Secrets) {
        self.secrets.extend(other.secrets.iter().cloned());
        self.matcher = OnceLock::new();
    }

    /// Every string at or below the request's sensitive paths, and in its
    /// dependencies' outputs marked sensitive. Numbers and booleans at a
    /// sensitive path are not looked for: `3` or `true` would be found in
    /// any plan, and a secret worth the name is text.
    pub fn of_request(request: &PlanRequest) -> Self {
        let mut secrets = Self::default();
        for pointer in &request.sensitive_paths {
            if let Some(value) = request.inputs.pointer(pointer) {
                secrets.add_strings(pointer, value);
            }
        }
        for dependency in &request.dependencies {
            for output in dependency.outputs.iter().filter(|o| o.sensitive) {
                let pointer = format!("dependency.{}.{}", dependency.name, output.name);
                secrets.add_strings(&pointer, &output.value);
            }
        }
        secrets
    }

    /// The values of a Kubernetes Secret (`data` decoded, `stringData`), for
    /// a call handed a live object rather than a request (`health`). Any
    /// other object holds nothing the plugin may not repeat.
    pub fn of_object(object: &Value) -> Self {
        let mut secrets = Self::default();
        if !is_secret(object) {
            return secrets;
        }
        if let Some(Value::Object(data)) = object.get("data") {
            for (key, value) in data {
                if let Some(decoded) = value.as_str().and_then(base64_decode)
                    && let Ok(text) = String::from_utf8(decoded)
                {
                    secrets.add(&format!("/data/{key}"), &text);
                }
            }
        }
        if let Some(Value::Object(data)) = object.get("stringData") {
            for (key, value) in data {
                if let Some(text) = value.as_str() {
                    secrets.add(&format!("/stringData/{key}"), text);
                }
            }
        }
        secrets
    }

    fn add_strings(&mut self, pointer: &str, value: &Value) {
        // Keys name things (which app's password); only values are secret.
        each_string(value, &[], &mut |path, text, key| {
            if !key {
                self.add(&format!("{pointer}{path}"), text);
            }
        });
    }

    /// Whether no value is looked for: then nothing can leak.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// How many values are looked for.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// The pointers of the secrets `text` holds.
    pub fn named_in<'a>(&'a self, text: &str) -> Vec<&'a str> {
        self.found(&[text]).into_iter().map(|s| s.pointer.as_str()).collect()
    }

    /// `text` with every form of every secret replaced by [`REDACTED`].
    /// Longer forms first, so a value holding another is replaced whole.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.found(&[text]).is_empty() {
            return Cow::Borrowed(text);
        }
        let mut forms: Vec<&str> =
            self.secrets.iter().flat_map(|s| s.forms.iter().map(String::as_str)).collect();
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        let mut text = text.to_owned();
        for form in forms {
            if text.contains(form) {
                text = text.replace(form, REDACTED);
            }
        }
        Cow::Owned(text)
    }

    /// Every place in a plan's answer a secret should not be, and every
    /// diagnostic that repeats one. Secrets' `data` and `stringData`,
    /// effects' sensitive fields and sensitive outputs are not searched.
    pub fn in_plan(&self, plan: &ComponentPlan, diagnostics: &[Diagnostic]) -> Vec<Leak> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for object in &plan.objects {
            let skip: &[&str] = if is_secret(object) { &["data", "stringData"] } else { &[] };
            self.hits(object, skip, &mut out, |path| Place::Object {
                object: self.scrub(&object_name(object)).into_owned(),
                path,
            });
        }
        for effect in &plan.effects {
            out.extend(self.in_effect(effect));
        }
        for output in plan.outputs.iter().filter(|o| !o.sensitive) {
            let name = self.scrub(&output.name).into_owned();
            if let Some(leak) =
                self.in_text(&output.name, Place::Output { name: name.clone(), path: String::new() })
            {
                out.push(leak);
            }
            self.hits(&output.value, &[], &mut out, |path| Place::Output { name: name.clone(), path });
        }
        out.extend(self.in_diagnostics(&plan.warnings));
        out.extend(self.in_diagnostics(diagnostics));
        out
    }

    /// An effect's fields other than the sensitive ones (its id, target and
    /// summary included).
    pub fn in_effect(&self, effect: &Effect) -> Vec<Leak> {
        if self.is_empty() {
            return Vec::new();
        }
        let shown = effect.map_sensitive(|_| Sensitive::new(REDACTED));
        // Serialising plain data into memory cannot fail; `Null` only keeps
        // this free of panics.
        let shown = serde_json::to_value(&shown).unwrap_or(Value::Null);
        let id = self.scrub(&effect.id).into_owned();
        let mut out = Vec::new();
        self.hits(&shown, &[], &mut out, |path| Place::Effect { id: id.clone(), path });
        out
    }

    /// Every diagnostic whose message or path repeats a secret.
    pub fn in_diagnostics(&self, diagnostics: &[Diagnostic]) -> Vec<Leak> {
        let mut out = Vec::new();
        for d in diagnostics {
            for s in self.found(&[&d.message, &d.path]) {
                out.push(self.leak(s, Place::Diagnostic { path: self.scrub(&d.path).into_owned() }));
            }
        }
        out
    }

    /// Every string of an effect's result (kept in state in clear) that
    /// holds a secret.
    pub fn in_result(&self, id: &str, body: &Value) -> Vec<Leak> {
        let mut out = Vec::new();
        let id = self.scrub(id).into_owned();
        self.hits(body, &[], &mut out, |path| Place::EffectResult { id: id.clone(), path });
        out
    }

    /// A leak at `place(path)` for each secret found in a string of
    /// `value` (its top-level fields named in `skip` left out).
    fn hits(&self, value: &Value, skip: &[&str], out: &mut Vec<Leak>, place: impl Fn(String) -> Place) {
        if self.is_empty() {
            return;
        }
        each_string(value, skip, &mut |path, text, _| {
            for s in self.found(&[text]) {
                out.push(self.leak(s, place(self.scrub(path).into_owned())));
            }
        });
    }

    /// The first secret a piece of free text (an error message, a log line)
    /// holds, as a leak at `place`.
    pub fn in_text(&self, text: &str, place: Place) -> Option<Leak> {
        self.found(&[text]).first().map(|s| self.leak(s, place))
    }

    /// The secrets any of `texts` holds, in the order they were added, each once.
    fn found(&self, texts: &[&str]) -> Vec<&Secret> {
        if self.secrets.is_empty() {
            return Vec::new();
        }
        let matcher = self.matcher.get_or_init(|| self.build_matcher());
        let mut hit = vec![false; self.secrets.len()];
        for text in texts {
            match &matcher.automaton {
                Some(automaton) => {
                    for m in automaton.find_overlapping_iter(*text) {
                        hit[matcher.owner[m.pattern().as_usize()]] = true;
                    }
                }
                // Too many forms for one automaton: search form by form.
                None => {
                    for (i, s) in self.secrets.iter().enumerate() {
                        hit[i] |= s.forms.iter().any(|f| text.contains(f.as_str()));
                    }
                }
            }
        }
        self.secrets.iter().zip(hit).filter_map(|(s, hit)| hit.then_some(s)).collect()
    }

    fn build_matcher(&self) -> Matcher {
        let (owner, forms): (Vec<usize>, Vec<&str>) = self
            .secrets
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.forms.iter().map(move |f| (i, f.as_str())))
            .unzip();
        Matcher { automaton: AhoCorasick::new(&forms).ok(), owner }
    }

    fn leak(&self, secret: &Secret, place: Place) -> Leak {
        Leak { secret: secret.pointer.clone(), place }
    }
}

/// A sensitive value found where it may not be. Holds the secret's pointer
/// and the place, both redacted: it may be shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leak {
    /// Which sensitive value: a JSON Pointer into the inputs, or
    /// `dependency.<name>.<output>`.
    pub secret: String,
    /// Where it was found.
    pub place: Place,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leaked a sensitive value at {} (the value of {})", self.place, self.secret)
    }
}

/// Crosses the plugin runtime's seam as an error, so the planner can tell a
/// leak from any other failure of a call.
impl std::error::Error for Leak {}

/// Where a leak was found. Every string in it has been redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A field of a desired object outside a Secret's `data`/`stringData`.
    Object {
        /// The object as `Kind namespace/name`.
        object: String,
        /// JSON Pointer to the string that holds it.
        path: String,
    },
    /// A field of an effect not marked sensitive.
    Effect {
        /// The effect's [`Effect::id`].
        id: String,
        /// JSON Pointer into the effect as it serialises, such as `/summary`.
        path: String,
    },
    /// An output not marked sensitive (`path` is empty for its name).
    Output {
        /// The output's name.
        name: String,
        /// JSON Pointer into its value; empty for the name itself or a
        /// value that is one string.
        path: String,
    },
    /// A diagnostic of `validate` (or of a refused plan) about `path`.
    Diagnostic {
        /// The diagnostic's JSON Pointer into the inputs.
        path: String,
    },
    /// The plugin's error message when it refused to plan.
    ErrorMessage,
    /// A line the plugin logged or printed.
    Log(LogStream),
    /// The message of a panic that ended the call.
    Panic,
    /// A policy plugin's message about a violation of `rule`.
    Violation {
        /// The rule's id.
        rule: String,
    },
    /// An effect's result, which state keeps in clear.
    EffectResult {
        /// The [`Effect::id`] it is the result of.
        id: String,
        /// JSON Pointer into the result's body.
        path: String,
    },
}

/// Which of a plugin's outputs a line came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    /// The `log` import.
    Log,
    /// Its standard output (`println!`).
    Stdout,
    /// Its standard error (`eprintln!`).
    Stderr,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Object { object, path } => write!(f, "{object} field {}", root(path)),
            Place::Effect { id, path } => write!(f, "effect `{id}` field {}", root(path)),
            Place::Output { name, path } if path.is_empty() => write!(f, "output `{name}`"),
            Place::Output { name, path } => write!(f, "output `{name}` field {path}"),
            Place::Diagnostic { path } => write!(f, "a diagnostic about {}", root(path)),
            Place::ErrorMessage => f.write_str("its error message"),
            Place::Log(LogStream::Log) => f.write_str("a log line"),
            Place::Log(LogStream::Stdout) => f.write_str("a line of its stdout"),
            Place::Log(LogStream::Stderr) => f.write_str("a line of its stderr"),
            Place::Panic => f.write_str("its panic message"),
            Place::Violation { rule } => write!(f, "its message about rule `{rule}`"),
            Place::EffectResult { id, path } => write!(f, "the result of effect `{id}` field {}", root(path)),
        }
    }
}

fn root(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// Whether a manifest is a core/v1 Secret, the one kind whose `data` and
/// `stringData` may hold sensitive values.
pub fn is_secret(object: &Value) -> bool {
    object["apiVersion"] == "v1" && object["kind"] == "Secret"
}

/// `Kind namespace/name` of a manifest, for reports.
pub fn object_name(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("object");
    let name = object["metadata"]["name"].as_str().unwrap_or("(unnamed)");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// Calls `f` with the JSON pointer and the text of every string in
/// `value`, and of every object key (a plugin can leak through a key as
/// well as a value; `key` is true, and the pointer is its value's). The
/// top-level fields named in `skip` are left out.
fn each_string(value: &Value, skip: &[&str], f: &mut dyn FnMut(&str, &str, bool)) {
    fn walk(value: &Value, path: &mut String, skip: &[&str], f: &mut dyn FnMut(&str, &str, bool)) {
        match value {
            Value::String(s) => f(path, s, false),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&i.to_string());
                    walk(v, path, &[], f);
                    path.truncate(len);
                }
            }
            Value::Object(fields) => {
                for (k, v) in fields.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    f(path, k, true);
                    walk(v, path, &[], f);
                    path.truncate(len);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    walk(value, &mut String::new(), skip, f);
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The base64 characters (standard alphabet) that encode `value` alone when
/// it follows `shift` other bytes: whatever precedes or follows it, an
/// encoding of a text holding `value` at that offset holds these.
fn base64_core(value: &[u8], shift: usize) -> String {
    let mut bytes = vec![0u8; shift];
    bytes.extend_from_slice(value);
    let encoded = base64_unpadded(&bytes);
    // Characters wholly inside the value's bits: from the first that starts
    // at or after bit 8·shift to the last that ends by bit 8·(shift + len).
    let start = (8 * shift).div_ceil(6);
    let end = 8 * (shift + value.len()) / 6;
    if end <= start { String::new() } else { encoded[start..end].to_owned() }
}

/// Standard base64 without the `=` padding.
fn base64_unpadded(bytes: &[u8]) -> String {
    let mut encoded = String::with_capacity(bytes.len() * 4 / 3 + 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            encoded.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    encoded
}

/// Decodes standard base64 (padding optional); `None` when it is not.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = BASE64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `value` percent-encoded as RFC 3986 encodes a URL component (every byte
/// but the unreserved ones, upper-case hex), or with `form`, as an HTML form
/// encodes it (a space as `+`).
fn percent_encoded(value: &str, form: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            b' ' if form => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ComponentId, Output, SqlOp, SqlRole};

    fn base64(text: &str) -> String {
        let encoded = base64_unpadded(text.as_bytes());
        format!("{encoded}{}", "=".repeat((4 - encoded.len() % 4) % 4))
    }

    fn secrets(value: &str) -> Secrets {
        let mut s = Secrets::default();
        s.add("/password", value);
        s
    }

    #[test]
    fn base64_cores_are_found_at_every_offset() {
        let s = secrets("hunter2-is-long");
        for prefix in ["", "u:", "us:", "user:", "{\"auths\":{\"r\":{\"auth\":\"x:"] {
            for suffix in ["", "x", "xy", "\"}}}"] {
                let text = format!("{prefix}hunter2-is-long{suffix}");
                let encoded = base64(&text);
                assert_eq!(s.named_in(&encoded), ["/password"], "{text:?} as {encoded}");
            }
        }
        assert!(s.named_in(&base64("user:hunter3-is-long")).is_empty());
        assert_eq!(base64("hunter2"), "aHVudGVyMg==");
    }

    #[test]
    fn decoding_reverses_encoding() {
        for text in ["", "a", "ab", "abc", "hunter2", "p@ss w/ord"] {
            let encoded = base64(text);
            assert_eq!(base64_decode(&encoded).as_deref(), Some(text.as_bytes()), "{encoded}");
        }
        assert_eq!(base64_decode("aGk="), Some(b"hi".to_vec()));
        assert_eq!(base64_decode("not base64!"), None);
    }

    #[test]
    fn url_encoded_forms_are_found_and_scrubbed() {
        let s = secrets("p@ss w/rd");
        assert_eq!(s.named_in("postgres://app:p%40ss%20w%2Frd@db:5432/app"), ["/password"]);
        assert_eq!(s.named_in("?password=p%40ss+w%2Frd"), ["/password"]);
        assert_eq!(s.scrub("u=p%40ss%20w%2Frd;r=p@ss w/rd"), "u=(sensitive);r=(sensitive)");
        assert_eq!(s.scrub("nothing here"), Cow::Borrowed("nothing here"));
    }

    #[test]
    fn secret_data_sensitive_fields_and_outputs_are_allowed_places() {
        let s = secrets("hunter2-is-long");
        let plan = ComponentPlan {
            objects: vec![serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "db", "namespace": "apps"},
                "data": {"password": "aHVudGVyMi1pcy1sb25n"},
                "stringData": {"url": "postgres://app:hunter2-is-long@db/app"},
            })],
            effects: vec![Effect {
                id: "role".into(),
                target: "db".into(),
                summary: "ensure role app".into(),
                kind: crate::EffectKind::Sql(vec![SqlOp::EnsureRole(SqlRole {
                    name: "app".into(),
                    password: Some(Sensitive::new("hunter2-is-long")),
                    login: true,
                })]),
            }],
            outputs: vec![Output {
                name: "password".into(),
                value: "hunter2-is-long".into(),
                sensitive: true,
            }],
            warnings: vec![Diagnostic::warning("/password", "rotated 90 days ago")],
        };
        assert_eq!(s.in_plan(&plan, &[]), []);
    }

    #[test]
    fn every_other_place_is_a_leak_and_named_redacted() {
        let s = secrets("hunter2-is-long");
        let plan = ComponentPlan {
            objects: vec![
                serde_json::json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "db", "namespace": "apps",
                                 "annotations": {"hint": "aHVudGVyMi1pcy1sb25n"}},
                }),
                serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "hunter2-is-long"},
                    "data": {"url": "postgres://app:hunter2-is-long@db/app"},
                }),
            ],
            effects: vec![Effect {
                id: "role".into(),
                target: "db".into(),
                summary: "ensure role app with hunter2-is-long".into(),
                kind: crate::EffectKind::Sql(vec![]),
            }],
            outputs: vec![Output { name: "url".into(), value: "hunter2-is-long".into(), sensitive: false }],
            warnings: vec![Diagnostic::warning("/password/hint", "weak: hunter2-is-long")],
        };
        let diagnostics = [Diagnostic::error("/password", "hunter2-is-long is too short")];
        let places: Vec<String> =
            s.in_plan(&plan, &diagnostics).iter().map(|l| l.place.to_string()).collect();
        assert_eq!(
            places,
            [
                "Secret apps/db field /metadata/annotations/hint",
                "ConfigMap (sensitive) field /metadata/name",
                "ConfigMap (sensitive) field /data/url",
                "effect `role` field /summary",
                "output `url`",
                "a diagnostic about /password/hint",
                "a diagnostic about /password",
            ]
        );
        let leak = s.in_text("oops hunter2-is-long", Place::Log(LogStream::Log)).unwrap();
        assert_eq!(leak.to_string(), "leaked a sensitive value at a log line (the value of /password)");
    }

    #[test]
    fn a_request_hands_its_sensitive_strings_and_its_dependencies_sensitive_outputs() {
        let request = PlanRequest {
            component: ComponentId { name: "a".into(), environment: "e".into(), namespace: "n".into() },
            inputs: serde_json::json!({"db": {"password": "pw-one", "port": 5432}, "name": "pw-two", "n": 3}),
            sensitive_paths: vec!["/db".into(), "/n".into()],
            dependencies: vec![crate::Dependency {
                name: "server".into(),
                component_type: "postgres".into(),
                outputs: vec![
                    Output { name: "admin".into(), value: "pw-three".into(), sensitive: true },
                    Output { name: "host".into(), value: "db".into(), sensitive: false },
                ]
                .into(),
            }],
            files: vec![],
            effect_results: vec![],
        };
        let s = Secrets::of_request(&request);
        assert_eq!(
            s.named_in("pw-one pw-two pw-three db 3 5432"),
            ["/db/password", "dependency.server.admin"]
        );
    }

    #[test]
    fn a_live_secrets_values_are_its_secrets() {
        let s = Secrets::of_object(&serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"},
            "data": {"a": "aHVudGVyMg=="}, "stringData": {"b": "swordfish"},
        }));
        assert_eq!(s.named_in("hunter2 and swordfish"), ["/data/a", "/stringData/b"]);
        assert!(Secrets::of_object(&serde_json::json!({"kind": "ConfigMap", "data": {"a": "x"}})).is_empty());
    }
}
