//! The functions configuration may call: the ones a Terragrunt user reaches
//! for, plus `secret_ref`. Functions that touch files read only inside the
//! stack root, through [`crate::root::StackRoot`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::diag::ConfigError;
use crate::eval::{Ctx, EResult, EvalError, Map, type_name};
use crate::root::display;

/// Every function, sorted, for "unknown function" notes.
pub(crate) const NAMES: &[&str] = &[
    "coalesce",
    "concat",
    "contains",
    "file",
    "find_in_parent_folders",
    "format",
    "get_env",
    "get_parent_dir",
    "join",
    "jsondecode",
    "jsonencode",
    "keys",
    "length",
    "lookup",
    "lower",
    "merge",
    "path_relative_to_include",
    "read_config",
    "replace",
    "secret_ref",
    "split",
    "tonumber",
    "tostring",
    "trimspace",
    "upper",
    "values",
    "yamldecode",
    "yamlencode",
];

pub(crate) fn exists(name: &str) -> bool {
    NAMES.binary_search(&name).is_ok()
}

struct Args<'a> {
    name: &'a str,
    args: Vec<Value>,
    spans: &'a [Range<usize>],
    call: Range<usize>,
}

impl Args<'_> {
    fn err(&self, i: usize, message: impl Into<String>) -> EvalError {
        let span = self.spans.get(i).cloned().unwrap_or_else(|| self.call.clone());
        EvalError::new(
            ConfigError::WrongArgument { function: self.name.to_owned(), message: message.into() },
            span,
        )
    }

    fn count(&self, min: usize, max: usize) -> EResult<()> {
        let n = self.args.len();
        if n < min || n > max {
            let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
            return Err(EvalError::new(
                ConfigError::WrongArgument {
                    function: self.name.to_owned(),
                    message: format!("takes {want} argument{}, got {n}", if max == 1 { "" } else { "s" }),
                },
                self.call.clone(),
            ));
        }
        Ok(())
    }

    fn string(&self, i: usize) -> EResult<String> {
        match self.args.get(i) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => {
                Err(self.err(i, format!("argument {} must be a string, not {}", i + 1, type_name(other))))
            }
            None => Err(self.err(i, format!("argument {} is missing", i + 1))),
        }
    }

    fn object(&self, i: usize) -> EResult<Map> {
        match self.args.get(i) {
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(other) => {
                Err(self.err(i, format!("argument {} must be an object, not {}", i + 1, type_name(other))))
            }
            None => Err(self.err(i, format!("argument {} is missing", i + 1))),
        }
    }

    fn list(&self, i: usize) -> EResult<Vec<Value>> {
        match self.args.get(i) {
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(other) => {
                Err(self.err(i, format!("argument {} must be a list, not {}", i + 1, type_name(other))))
            }
            None => Err(self.err(i, format!("argument {} is missing", i + 1))),
        }
    }
}

/// Functions that look inside a string: given a secret, they must work on its
/// clear value, not on its placeholder token.
const LOOK_INSIDE: &[&str] =
    &["jsondecode", "length", "lower", "replace", "split", "tonumber", "trimspace", "upper", "yamldecode"];

pub(crate) fn call(
    ctx: &Ctx<'_>,
    name: &str,
    args: Vec<Value>,
    spans: &[Range<usize>],
    call: Range<usize>,
) -> EResult<Value> {
    if LOOK_INSIDE.contains(&name) && args.iter().any(holds_token) {
        // Reveal, compute, and seal every string of the result again as a
        // new secret. Errors must not describe the clear value.
        let clear = args.into_iter().map(|v| reveal_deep(ctx, v)).collect();
        return match call_plain(ctx, name, clear, spans, call.clone()) {
            Ok(v) => Ok(seal_deep(ctx, v)),
            Err(mut e) => {
                e.error = Box::new(ConfigError::WrongArgument {
                    function: name.to_owned(),
                    message: "failed on a sensitive argument (details hidden)".to_owned(),
                });
                e.notes.clear();
                Err(e)
            }
        };
    }
    call_plain(ctx, name, args, spans, call)
}

fn holds_token(v: &Value) -> bool {
    match v {
        Value::String(s) => crate::shared::has_token(s),
        Value::Array(a) => a.iter().any(holds_token),
        Value::Object(m) => m.values().any(holds_token),
        _ => false,
    }
}

fn reveal_deep(ctx: &Ctx<'_>, v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(ctx.shared.reveal(&s).0),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| reveal_deep(ctx, v)).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, reveal_deep(ctx, v))).collect()),
        other => other,
    }
}

/// Strings become secret tokens again. Numbers and bools derived from a
/// secret (`length`, `tonumber`) cannot carry a token and are not sensitive.
fn seal_deep(ctx: &Ctx<'_>, v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(ctx.shared.secret_token(capstan_core::Sensitive::new(s))),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| seal_deep(ctx, v)).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, seal_deep(ctx, v))).collect()),
        other => other,
    }
}

fn call_plain(
    ctx: &Ctx<'_>,
    name: &str,
    args: Vec<Value>,
    spans: &[Range<usize>],
    call: Range<usize>,
) -> EResult<Value> {
    let a = Args { name, args, spans, call };
    match name {
        "lower" => {
            a.count(1, 1)?;
            Ok(Value::String(a.string(0)?.to_lowercase()))
        }
        "upper" => {
            a.count(1, 1)?;
            Ok(Value::String(a.string(0)?.to_uppercase()))
        }
        "trimspace" => {
            a.count(1, 1)?;
            Ok(Value::String(a.string(0)?.trim().to_owned()))
        }
        "replace" => {
            a.count(3, 3)?;
            let (s, from, to) = (a.string(0)?, a.string(1)?, a.string(2)?);
            if from.is_empty() {
                return Err(a.err(1, "the substring to replace must not be empty"));
            }
            Ok(Value::String(s.replace(&from, &to)))
        }
        "format" => {
            if a.args.is_empty() {
                return Err(a.err(0, "needs a format string"));
            }
            format(&a)
        }
        "join" => {
            a.count(2, 2)?;
            let sep = a.string(0)?;
            let parts = a
                .list(1)?
                .iter()
                .map(|v| crate::eval::to_template_string(v, a.spans.get(1).cloned().unwrap_or(0..0)))
                .collect::<EResult<Vec<_>>>()?;
            Ok(Value::String(parts.join(&sep)))
        }
        "split" => {
            a.count(2, 2)?;
            let (sep, s) = (a.string(0)?, a.string(1)?);
            Ok(Value::Array(s.split(sep.as_str()).map(|p| Value::String(p.to_owned())).collect()))
        }
        "length" => {
            a.count(1, 1)?;
            let n = match &a.args[0] {
                Value::String(s) => s.chars().count(),
                Value::Array(v) => v.len(),
                Value::Object(m) => m.len(),
                other => return Err(a.err(0, format!("cannot take the length of {}", type_name(other)))),
            };
            Ok(Value::from(n))
        }
        "keys" => {
            a.count(1, 1)?;
            Ok(Value::Array(a.object(0)?.keys().map(|k| Value::String(k.clone())).collect()))
        }
        "values" => {
            a.count(1, 1)?;
            Ok(Value::Array(a.object(0)?.values().cloned().collect()))
        }
        "contains" => {
            a.count(2, 2)?;
            Ok(Value::Bool(a.list(0)?.contains(&a.args[1])))
        }
        "concat" => {
            let mut out = Vec::new();
            for i in 0..a.args.len() {
                out.extend(a.list(i)?);
            }
            Ok(Value::Array(out))
        }
        "coalesce" => {
            Ok(a.args.iter().find(|v| !v.is_null() && v.as_str() != Some("")).cloned().unwrap_or(Value::Null))
        }
        "tostring" => {
            a.count(1, 1)?;
            match &a.args[0] {
                Value::Null => Ok(Value::Null),
                v => crate::eval::to_template_string(v, a.spans[0].clone()).map(Value::String),
            }
        }
        "tonumber" => {
            a.count(1, 1)?;
            match &a.args[0] {
                Value::Number(_) | Value::Null => Ok(a.args[0].clone()),
                Value::String(s) => serde_json::from_str::<serde_json::Number>(s.trim())
                    .map(Value::Number)
                    .map_err(|_| a.err(0, format!("`{s}` is not a number"))),
                other => Err(a.err(0, format!("cannot convert {} to a number", type_name(other)))),
            }
        }
        "merge" => {
            // Terraform's merge: shallow, later arguments win.
            let mut out = Map::new();
            for i in 0..a.args.len() {
                if a.args[i].is_null() {
                    continue;
                }
                out.extend(a.object(i)?);
            }
            Ok(Value::Object(out))
        }
        "lookup" => {
            a.count(2, 3)?;
            let m = a.object(0)?;
            let key = a.string(1)?;
            match m.get(&key) {
                Some(v) => Ok(v.clone()),
                None => a
                    .args
                    .get(2)
                    .cloned()
                    .ok_or_else(|| a.err(1, format!("no key `{key}` in the object and no default given"))),
            }
        }
        "jsonencode" => {
            a.count(1, 1)?;
            serde_json::to_string(&a.args[0]).map(Value::String).map_err(|e| a.err(0, e.to_string()))
        }
        "jsondecode" => {
            a.count(1, 1)?;
            serde_json::from_str(&a.string(0)?).map_err(|e| a.err(0, format!("invalid JSON: {e}")))
        }
        "yamlencode" => {
            a.count(1, 1)?;
            // Capstan's one YAML writer, as the render target uses: what it
            // writes reads back as the same value in YAML 1.1 and 1.2 readers.
            Ok(Value::String(capstan_yaml::to_string(&a.args[0], capstan_yaml::KeyOrder::AsGiven)))
        }
        "yamldecode" => {
            a.count(1, 1)?;
            crate::yaml::parse(&a.string(0)?).map_err(|e| a.err(0, format!("invalid YAML: {}", e.message)))
        }
        "get_env" => {
            a.count(1, 2)?;
            let var = a.string(0)?;
            match ctx.shared.options.env.get(&var) {
                Some(v) => Ok(Value::String(v.clone())),
                None => match a.args.get(1) {
                    Some(d) => Ok(d.clone()),
                    None => Err(
                        a.err(0, format!("environment variable `{var}` is not set and no default was given"))
                    ),
                },
            }
        }
        "secret_ref" => {
            a.count(1, 1)?;
            let reference = a.string(0)?;
            let Some(provider) = &ctx.shared.options.secrets else {
                return Err(a.err(0, "no secret provider is configured to resolve it"));
            };
            match ctx.shared.secret_ref(provider.as_ref(), &reference) {
                Ok(token) => Ok(Value::String(token)),
                Err(e) => Err(a.err(0, format!("cannot resolve `{reference}`: {e}"))),
            }
        }
        "find_in_parent_folders" => {
            a.count(0, 1)?;
            let want = if a.args.is_empty() { "client.hcl".to_owned() } else { a.string(0)? };
            // Like Terragrunt: start in the parent of the current directory.
            let mut dir = ctx.dir.parent().map(Path::to_path_buf);
            while let Some(d) = dir {
                let candidate = d.join(&want);
                if ctx.shared.root.is_file(&candidate) {
                    return Ok(Value::String(relative_from(ctx.dir, &candidate)));
                }
                dir = d.parent().map(Path::to_path_buf);
            }
            Err(a.err(0, format!("no `{want}` in any directory above {}", display(ctx.dir))))
        }
        "path_relative_to_include" => {
            a.count(0, 0)?;
            Ok(Value::String(relative_from(ctx.dir, ctx.component_dir)))
        }
        "get_parent_dir" => {
            a.count(0, 0)?;
            Ok(Value::String(display(ctx.dir.parent().unwrap_or(Path::new("")))))
        }
        "file" => {
            a.count(1, 1)?;
            let rel = confine(ctx, &a, 0)?;
            let bytes = ctx
                .shared
                .root
                .read(&rel)
                .map_err(|e| a.err(0, format!("cannot read {}: {e}", display(&rel))))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| a.err(0, format!("{} is not UTF-8 text", display(&rel))))
        }
        "read_config" => {
            a.count(1, 1)?;
            let rel = confine(ctx, &a, 0)?;
            crate::levels::read_config(ctx, &rel).map_err(|message| a.err(0, message))
        }
        _ => Err(EvalError::new(ConfigError::UnknownFunction { name: name.to_owned() }, a.call)),
    }
}

/// A path argument, relative to the file's directory, confined to the stack root.
fn confine(ctx: &Ctx<'_>, a: &Args<'_>, i: usize) -> EResult<PathBuf> {
    let p = a.string(i)?;
    ctx.shared.root.confine(ctx.dir, &p).ok_or_else(|| {
        EvalError::new(
            ConfigError::OutsideRoot { path: p },
            a.spans.get(i).cloned().unwrap_or(a.call.clone()),
        )
    })
}

/// `to` relative to `from` (both root-relative directories or files), with `..` as needed.
pub(crate) fn relative_from(from: &Path, to: &Path) -> String {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_owned(), f.len() - common).collect();
    parts.extend(t[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    if parts.is_empty() { ".".to_owned() } else { parts.join("/") }
}

/// `format("%s-%03d", …)`: the verbs Terraform users write most, with
/// optional `-`/`0` flags, a width and a precision.
fn format(a: &Args<'_>) -> EResult<Value> {
    let fmt = a.string(0)?;
    let mut out = String::new();
    let mut next = 1;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut zero) = (false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse::<usize>().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            return Err(a.err(0, "format string ends inside a `%` verb"));
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(v) = a.args.get(next) else {
            return Err(a.err(0, format!("`%{verb}` has no argument to format")));
        };
        let s = match (verb, v) {
            ('s' | 'v', Value::String(s)) => s.clone(),
            ('s' | 'v', Value::Number(n)) => n.to_string(),
            ('s' | 'v', Value::Bool(b)) => b.to_string(),
            ('v', other) => other.to_string(),
            ('d', Value::Number(n)) if n.as_i64().is_some() => n.to_string(),
            ('f', Value::Number(n)) => format!("{:.*}", precision.unwrap_or(6), n.as_f64().unwrap_or(0.0)),
            ('q', Value::String(s)) => Value::String(s.clone()).to_string(),
            ('t', Value::Bool(b)) => b.to_string(),
            (verb, other) => {
                return Err(a.err(next, format!("`%{verb}` cannot format {}", type_name(other))));
            }
        };
        let width = width.parse::<usize>().unwrap_or(0);
        let pad = width.saturating_sub(s.chars().count());
        if left {
            out.push_str(&s);
            out.push_str(&" ".repeat(pad));
        } else if zero && verb != 's' {
            let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
            out.push_str(sign);
            out.push_str(&"0".repeat(pad));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&s);
        }
        next += 1;
    }
    if next < a.args.len() {
        return Err(
            a.err(next, format!("{} more argument(s) than the format string uses", a.args.len() - next))
        );
    }
    Ok(Value::String(out))
}
