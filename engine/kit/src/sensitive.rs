//! Where a secret may be in a plan, and where it was found when it is
//! somewhere else. A sensitive input may be written into a Kubernetes
//! `Secret`'s `data` or `stringData`, into an effect's sensitive fields
//! (a role's or a user's password, sensitive SQL text or HTTP body) and into
//! outputs marked sensitive; anywhere else (another object, a Secret's
//! metadata, an effect's summary, a plain output, a diagnostic) it is a leak.

use base64::Engine as _;
use serde_json::Value;

use capstan_core::{ComponentPlan, Diagnostic, Effect, REDACTED, Sensitive};

/// A secret the kit handed to the plugin: where it came from, and the forms
/// it is looked for in (as it is, and base64-encoded as Secret data holds it).
pub(crate) struct Secret {
    pub pointer: String,
    forms: Vec<String>,
}

impl Secret {
    pub fn new(pointer: &str, value: &str) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        Self { pointer: pointer.to_owned(), forms: vec![value.to_owned(), b64] }
    }

    fn found_in(&self, text: &str) -> bool {
        self.forms.iter().any(|f| text.contains(f.as_str()))
    }
}

/// Every place in `plan` and `diagnostics` a secret should not be: one line each.
pub(crate) fn leaks(secrets: &[Secret], plan: &ComponentPlan, diagnostics: &[Diagnostic]) -> Vec<String> {
    let mut out = Vec::new();
    for object in &plan.objects {
        let name = object_name(object);
        let mut searched = object.clone();
        if is_secret(object)
            && let Value::Object(fields) = &mut searched
        {
            fields.remove("data");
            fields.remove("stringData");
        }
        for (path, text) in strings(&searched) {
            for s in secrets.iter().filter(|s| s.found_in(&text)) {
                out.push(format!("the value of {} appears in {name} at {path}", s.pointer));
            }
        }
    }
    for effect in &plan.effects {
        let shown = serde_json::to_value(redacted(effect)).unwrap_or(Value::Null);
        for (path, text) in strings(&shown) {
            for s in secrets.iter().filter(|s| s.found_in(&text)) {
                out.push(format!(
                    "the value of {} appears in effect `{}` at {path}, a field not marked sensitive",
                    s.pointer, effect.id
                ));
            }
        }
    }
    for output in plan.outputs.iter().filter(|o| !o.sensitive) {
        for (path, text) in strings(&output.value) {
            for s in secrets.iter().filter(|s| s.found_in(&text)) {
                out.push(format!(
                    "the value of {} appears in output `{}` at /{}{path}, which is not marked sensitive",
                    s.pointer, output.name, output.name
                ));
            }
        }
    }
    out.extend(diagnostic_leaks(secrets, diagnostics));
    out
}

/// Every diagnostic that repeats a secret: one line each, naming its path.
pub(crate) fn diagnostic_leaks(secrets: &[Secret], diagnostics: &[Diagnostic]) -> Vec<String> {
    let mut out = Vec::new();
    for d in diagnostics {
        for s in secrets.iter().filter(|s| s.found_in(&d.message) || s.found_in(&d.path)) {
            out.push(format!(
                "the value of {} appears in a diagnostic at {}",
                s.pointer,
                scrub(secrets, &d.path)
            ));
        }
    }
    out
}

/// `text` (a plugin's message the report repeats) with every secret's
/// forms replaced by the redaction marker: the report itself never leaks.
pub(crate) fn scrub(secrets: &[Secret], text: &str) -> String {
    let mut text = text.to_owned();
    for s in secrets {
        for form in &s.forms {
            text = text.replace(form.as_str(), REDACTED);
        }
    }
    text
}

/// Whether a plugin's message repeats any secret: the names of those it does.
pub(crate) fn named_in<'a>(secrets: &'a [Secret], text: &str) -> Vec<&'a str> {
    secrets.iter().filter(|s| s.found_in(text)).map(|s| s.pointer.as_str()).collect()
}

fn is_secret(object: &Value) -> bool {
    object["apiVersion"] == "v1" && object["kind"] == "Secret"
}

/// `Kind namespace/name` of a manifest, for reports.
pub(crate) fn object_name(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("object");
    let name = object["metadata"]["name"].as_str().unwrap_or("(unnamed)");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// Every string in `value`, keys included, with its JSON pointer.
fn strings(value: &Value) -> Vec<(String, String)> {
    fn walk(value: &Value, path: &mut String, out: &mut Vec<(String, String)>) {
        match value {
            Value::String(s) => out.push((path.clone(), s.clone())),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    walk(v, path, out);
                    path.truncate(len);
                }
            }
            Value::Object(fields) => {
                for (k, v) in fields {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    out.push((path.clone(), k.clone()));
                    walk(v, path, out);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut String::new(), &mut out);
    out
}

/// `effect` with every field the contract marks sensitive blanked: what is
/// left may be shown, so no secret may be in it.
fn redacted(effect: &Effect) -> Effect {
    effect.map_sensitive(|_| Sensitive::new(REDACTED))
}
