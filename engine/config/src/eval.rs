//! The HCL expression evaluator.
//!
//! It walks hcl-edit's syntax tree (not hcl-rs's), because that tree keeps the
//! byte span of every sub-expression: an unknown function or an undefined
//! variable is reported at the exact call or name, not just at its attribute.
//! Values are plain `serde_json::Value`s, since everything ends up as JSON
//! for a plugin anyway.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use hcl_edit::Span;
use hcl_edit::expr::{
    BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, TraversalOperator, UnaryOperator,
};
use hcl_edit::template::{Directive, Element, Strip, Template};
use serde_json::Value;

use crate::diag::{ConfigError, Diagnostic, SourceFile};
use crate::funcs;
use crate::shared::Shared;

pub(crate) type Map = serde_json::Map<String, Value>;

/// An evaluation error with the span it belongs to, in the file being evaluated.
#[derive(Debug)]
pub(crate) struct EvalError {
    /// Boxed: evaluation results travel through every recursive call.
    pub error: Box<ConfigError>,
    pub span: Range<usize>,
    pub notes: Vec<String>,
}

impl EvalError {
    pub fn new(error: ConfigError, span: Range<usize>) -> Self {
        Self { error: Box::new(error), span, notes: Vec::new() }
    }

    pub fn into_diagnostic(self, file: &SourceFile, shared: &Shared) -> Diagnostic {
        let mut d = Diagnostic::at(shared.scrub_error(*self.error), file, self.span);
        d.notes = self.notes.into_iter().map(|n| shared.scrub(&n)).collect();
        d
    }
}

pub(crate) type EResult<T> = Result<T, EvalError>;

/// Variables visible to an expression: the file's top-level ones, plus the
/// iterator variables of enclosing `for` expressions.
pub(crate) enum Scope<'a> {
    Root(&'a Map),
    /// The value is borrowed where the caller keeps it (a component's
    /// dependency outputs, bound once for all of its expressions).
    Bind {
        name: &'a str,
        value: Cow<'a, Value>,
        parent: &'a Scope<'a>,
    },
}

impl Scope<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Scope::Root(m) => m.get(name),
            Scope::Bind { name: n, value, parent } => {
                if *n == name {
                    Some(value.as_ref())
                } else {
                    parent.get(name)
                }
            }
        }
    }

    fn names(&self) -> Vec<String> {
        match self {
            Scope::Root(m) => m.keys().cloned().collect(),
            Scope::Bind { name, parent, .. } => {
                let mut v = parent.names();
                v.push((*name).to_owned());
                v
            }
        }
    }
}

/// What a dependency reference needs to explain a missing output.
#[derive(Clone, Debug)]
pub(crate) struct DepHint {
    pub target: String,
    pub mock_hint: String,
}

/// Everything an expression may reach besides its variables.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Shared,
    pub file: &'a Arc<SourceFile>,
    /// Directory of the file being evaluated, relative to the stack root.
    pub dir: &'a Path,
    /// Directory of the component this evaluation is for (for
    /// `path_relative_to_include()`); the file's own directory otherwise.
    pub component_dir: &'a Path,
    /// Key identifying the level chain (env, namespace) of the caller, so
    /// `read_config` caches per chain.
    pub levels_key: &'a str,
    /// The level values (`client`, `env`, `namespace`) for files `read_config` opens.
    pub levels: &'a Map,
    /// Set while evaluating `inputs`: explains a missing `dependency.x.outputs.y`.
    pub deps: Option<&'a BTreeMap<String, DepHint>>,
    /// At load time, a missing dependency output becomes a placeholder
    /// string: real outputs only exist once the dependency is planned.
    pub lenient_deps: bool,
}

pub(crate) fn span_of(e: &impl Span) -> Range<usize> {
    e.span().unwrap_or(0..0)
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

pub(crate) fn eval(ctx: &Ctx<'_>, scope: &Scope<'_>, expr: &Expression) -> EResult<Value> {
    match expr {
        Expression::Null(_) => Ok(Value::Null),
        Expression::Bool(b) => Ok(Value::Bool(*b.value())),
        Expression::Number(n) => Ok(number_value(n.value())),
        Expression::String(s) => Ok(Value::String(s.value().clone())),
        Expression::Array(a) => {
            a.iter().map(|e| eval(ctx, scope, e)).collect::<EResult<Vec<_>>>().map(Value::Array)
        }
        Expression::Object(o) => {
            let mut map = Map::new();
            for (k, v) in o.iter() {
                let key = match k {
                    ObjectKey::Ident(id) => id.value().to_string(),
                    ObjectKey::Expression(e) => match eval(ctx, scope, e)? {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        other => {
                            return Err(EvalError::new(
                                wrong_type("an object key", "a string", &other),
                                span_of(e),
                            ));
                        }
                    },
                };
                map.insert(key, eval(ctx, scope, v.expr())?);
            }
            Ok(Value::Object(map))
        }
        Expression::StringTemplate(t) => eval_template(ctx, scope, t).map(Value::String),
        Expression::HeredocTemplate(h) => heredoc(ctx, scope, h).map(Value::String),
        Expression::Parenthesis(p) => eval(ctx, scope, p.inner()),
        Expression::Variable(v) => lookup_var(scope, v.value().as_str(), span_of(v)).cloned(),
        Expression::Conditional(c) => {
            let cond = eval(ctx, scope, &c.cond_expr)?;
            match cond {
                Value::Bool(true) => eval(ctx, scope, &c.true_expr),
                Value::Bool(false) => eval(ctx, scope, &c.false_expr),
                other => {
                    Err(EvalError::new(wrong_type("a condition", "a bool", &other), span_of(&c.cond_expr)))
                }
            }
        }
        Expression::FuncCall(f) => eval_call(ctx, scope, f),
        Expression::Traversal(t) => eval_traversal(ctx, scope, &t.expr, &t.operators),
        Expression::UnaryOp(u) => {
            let v = eval(ctx, scope, &u.expr)?;
            match (u.operator.value(), &v) {
                (UnaryOperator::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                (UnaryOperator::Neg, Value::Number(n)) => {
                    Ok(num_result(-n.as_f64().unwrap_or(0.0), n.as_i64().and_then(|i| i.checked_neg())))
                }
                (op, _) => Err(EvalError::new(
                    ConfigError::Operands {
                        operator: op.as_str().to_owned(),
                        expected: if *op == UnaryOperator::Not { "a bool" } else { "a number" },
                        found: type_name(&v).to_owned(),
                    },
                    span_of(&u.expr),
                )),
            }
        }
        Expression::BinaryOp(b) => eval_binary(ctx, scope, b),
        Expression::ForExpr(f) => eval_for(ctx, scope, f),
    }
}

fn wrong_type(what: &str, expected: &str, found: &Value) -> ConfigError {
    ConfigError::WrongType { what: what.to_owned(), expected: expected.to_owned(), found: type_name(found) }
}

pub(crate) fn number_value(n: &hcl_edit::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::from(i)
    } else if let Some(u) = n.as_u64() {
        Value::from(u)
    } else {
        num_result(n.as_f64().unwrap_or(0.0), None)
    }
}

/// An arithmetic result: an integer when it is one, so `2 * 3` prints `6`, not `6.0`.
fn num_result(f: f64, exact: Option<i64>) -> Value {
    if let Some(i) = exact {
        return Value::from(i);
    }
    #[allow(clippy::cast_possible_truncation, reason = "checked to be a whole number in range first")]
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Value::from(f as i64);
    }
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn lookup_var<'s>(scope: &'s Scope<'_>, name: &str, span: Range<usize>) -> EResult<&'s Value> {
    scope.get(name).ok_or_else(|| {
        let hint = match name {
            "dependency" => {
                " (dependency outputs can only be used in `inputs` and `values_custom`)".to_owned()
            }
            "include" => " (declare an `include` block with `expose = true` to use it)".to_owned(),
            "secrets" => " (no secrets.enc.hcl file at this level or above)".to_owned(),
            _ => {
                let mut names = scope.names();
                names.sort();
                format!(" (variables here: {})", names.join(", "))
            }
        };
        EvalError::new(ConfigError::UndefinedVariable { name: name.to_owned(), hint }, span)
    })
}

fn eval_traversal(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    root: &Expression,
    ops: &[hcl_edit::Decorated<TraversalOperator>],
) -> EResult<Value> {
    let root_name = match root {
        Expression::Variable(v) => Some(v.value().as_str().to_owned()),
        _ => None,
    };
    // Walk borrowed values and clone only what the traversal ends on:
    // `local.env.x` must not copy every level's values.
    let mut cur: Cow<'_, Value> = match root {
        Expression::Variable(v) => Cow::Borrowed(lookup_var(scope, v.value().as_str(), span_of(v))?),
        _ => Cow::Owned(eval(ctx, scope, root)?),
    };
    let mut path = root_name.clone().unwrap_or_else(|| "value".to_owned());
    for (i, op) in ops.iter().enumerate() {
        match op.value() {
            TraversalOperator::GetAttr(id) => {
                let name = id.value().as_str();
                let Some(m) = cur.as_object() else {
                    return Err(EvalError::new(
                        ConfigError::NotAnObject {
                            attribute: name.to_owned(),
                            path: path.clone(),
                            found: type_name(&cur),
                        },
                        span_of(op),
                    ));
                };
                if !m.contains_key(name) {
                    if root_name.as_deref() == Some("dependency") && i == 2 {
                        return missing_output(ctx, ops, span_of(op), &path);
                    }
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.sort();
                    let hint = if keys.is_empty() {
                        " (it is empty)".to_owned()
                    } else {
                        let shown: Vec<&str> = keys.iter().take(12).map(|k| k.as_str()).collect();
                        format!(" (it has: {}{})", shown.join(", "), if keys.len() > 12 { ", …" } else { "" })
                    };
                    return Err(EvalError::new(
                        ConfigError::NoSuchAttribute { name: path, attribute: name.to_owned(), hint },
                        span_of(op),
                    ));
                }
                cur = match cur {
                    Cow::Borrowed(v) => Cow::Borrowed(&v[name]),
                    Cow::Owned(Value::Object(mut m)) => Cow::Owned(m.remove(name).unwrap_or(Value::Null)),
                    Cow::Owned(_) => Cow::Owned(Value::Null),
                };
                path.push('.');
                path.push_str(name);
            }
            TraversalOperator::Index(e) => {
                let idx = eval(ctx, scope, e)?;
                cur = Cow::Owned(index(cur.into_owned(), &idx, &path, span_of(e))?);
                path.push_str("[…]");
            }
            TraversalOperator::LegacyIndex(n) => {
                cur = Cow::Owned(index(cur.into_owned(), &Value::from(*n.value()), &path, span_of(op))?);
                path.push_str("[…]");
            }
            TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                let items = match cur.into_owned() {
                    Value::Array(a) => a,
                    Value::Null => Vec::new(),
                    other => vec![other],
                };
                let rest = &ops[i + 1..];
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let bound = Scope::Bind { name: "\u{0}splat", value: Cow::Owned(item), parent: scope };
                    let var = Expression::Variable(hcl_edit::Decorated::new(hcl_edit::Ident::new_unchecked(
                        "\u{0}splat",
                    )));
                    out.push(eval_traversal(ctx, &bound, &var, rest)?);
                }
                return Ok(Value::Array(out));
            }
        }
    }
    Ok(cur.into_owned())
}

fn missing_output(
    ctx: &Ctx<'_>,
    ops: &[hcl_edit::Decorated<TraversalOperator>],
    span: Range<usize>,
    path: &str,
) -> EResult<Value> {
    let name = |i: usize| match ops.get(i).map(|o| o.value()) {
        Some(TraversalOperator::GetAttr(id)) => id.value().as_str().to_owned(),
        _ => String::new(),
    };
    let (dependency, output) = (name(0), name(2));
    if ctx.lenient_deps {
        return Ok(Value::String(format!("({path}.{output})")));
    }
    let hint = ctx.deps.and_then(|d| d.get(&dependency)).cloned();
    Err(EvalError::new(
        ConfigError::MissingOutput {
            dependency,
            target: hint.as_ref().map(|h| h.target.clone()).unwrap_or_default(),
            output,
            mock_hint: hint.map(|h| h.mock_hint).unwrap_or_default(),
        },
        span,
    ))
}

fn index(cur: Value, idx: &Value, path: &str, span: Range<usize>) -> EResult<Value> {
    match (cur, idx) {
        (Value::Array(mut a), Value::Number(n)) => {
            let len = a.len();
            match n.as_u64().and_then(|i| usize::try_from(i).ok()) {
                Some(i) if i < len => Ok(a.swap_remove(i)),
                _ => Err(EvalError::new(
                    ConfigError::IndexOutOfRange { index: n.to_string(), path: path.to_owned(), len },
                    span,
                )),
            }
        }
        (Value::Object(mut m), Value::String(k)) => m.remove(k).ok_or_else(|| {
            EvalError::new(
                ConfigError::NoSuchAttribute {
                    name: path.to_owned(),
                    attribute: k.clone(),
                    hint: String::new(),
                },
                span,
            )
        }),
        (cur, idx) => Err(EvalError::new(
            ConfigError::BadIndex { found: type_name(&cur), path: path.to_owned(), index: type_name(idx) },
            span,
        )),
    }
}

fn eval_call(ctx: &Ctx<'_>, scope: &Scope<'_>, f: &FuncCall) -> EResult<Value> {
    let name = f.name.name.value().as_str();
    let name_span = span_of(&f.name.name);
    if !f.name.namespace.is_empty() || !funcs::exists(name) {
        let full = f
            .name
            .namespace
            .iter()
            .map(|n| n.value().as_str())
            .chain(std::iter::once(name))
            .collect::<Vec<_>>()
            .join("::");
        let mut e = EvalError::new(ConfigError::UnknownFunction { name: full }, name_span);
        e.notes.push(format!("functions available: {}", funcs::NAMES.join(", ")));
        return Err(e);
    }
    let mut args = Vec::new();
    let mut spans = Vec::new();
    for a in f.args.iter() {
        args.push(eval(ctx, scope, a)?);
        spans.push(span_of(a));
    }
    if f.args.expand_final() {
        match args.pop() {
            Some(Value::Array(rest)) => {
                let s = spans.last().cloned().unwrap_or(0..0);
                spans.extend(std::iter::repeat_n(s, rest.len().saturating_sub(1)));
                args.extend(rest);
            }
            Some(other) => {
                return Err(EvalError::new(
                    wrong_type("the argument before `...`", "a list", &other),
                    spans.last().cloned().unwrap_or(name_span),
                ));
            }
            None => {}
        }
    }
    let call_span = span_of(f);
    funcs::call(ctx, name, args, &spans, call_span)
}

fn eval_binary(ctx: &Ctx<'_>, scope: &Scope<'_>, b: &hcl_edit::expr::BinaryOp) -> EResult<Value> {
    use BinaryOperator as Op;
    let op = *b.operator.value();
    let lhs = eval(ctx, scope, &b.lhs_expr)?;
    // `&&` and `||` short-circuit, so `x != null && x.y` works.
    match (op, &lhs) {
        (Op::And, Value::Bool(false)) => return Ok(Value::Bool(false)),
        (Op::Or, Value::Bool(true)) => return Ok(Value::Bool(true)),
        _ => {}
    }
    let rhs = eval(ctx, scope, &b.rhs_expr)?;
    let span = span_of(b);
    match op {
        Op::Eq => Ok(Value::Bool(values_equal(&lhs, &rhs))),
        Op::NotEq => Ok(Value::Bool(!values_equal(&lhs, &rhs))),
        Op::And | Op::Or => match (&lhs, &rhs) {
            (Value::Bool(_), Value::Bool(r)) => Ok(Value::Bool(*r)),
            _ => Err(EvalError::new(
                ConfigError::Operands {
                    operator: op.as_str().to_owned(),
                    expected: "bools",
                    found: format!("{} and {}", type_name(&lhs), type_name(&rhs)),
                },
                span,
            )),
        },
        _ => {
            let (Some(l), Some(r)) = (as_number(&lhs), as_number(&rhs)) else {
                return Err(EvalError::new(
                    ConfigError::Operands {
                        operator: op.as_str().to_owned(),
                        expected: "numbers",
                        found: format!("{} and {}", type_name(&lhs), type_name(&rhs)),
                    },
                    span,
                ));
            };
            let (li, ri) = (lhs.as_i64(), rhs.as_i64());
            let v = match op {
                Op::Plus => num_result(l + r, li.zip(ri).and_then(|(a, b)| a.checked_add(b))),
                Op::Minus => num_result(l - r, li.zip(ri).and_then(|(a, b)| a.checked_sub(b))),
                Op::Mul => num_result(l * r, li.zip(ri).and_then(|(a, b)| a.checked_mul(b))),
                Op::Div | Op::Mod if r == 0.0 => {
                    return Err(EvalError::new(ConfigError::DivisionByZero, span_of(&b.rhs_expr)));
                }
                Op::Div => num_result(l / r, None),
                Op::Mod => num_result(l % r, li.zip(ri).and_then(|(a, b)| a.checked_rem(b))),
                Op::Less => Value::Bool(l < r),
                Op::LessEq => Value::Bool(l <= r),
                Op::Greater => Value::Bool(l > r),
                Op::GreaterEq => Value::Bool(l >= r),
                Op::Eq | Op::NotEq | Op::And | Op::Or => Value::Null,
            };
            Ok(v)
        }
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn eval_for(ctx: &Ctx<'_>, scope: &Scope<'_>, f: &ForExpr) -> EResult<Value> {
    let coll = eval(ctx, scope, &f.intro.collection_expr)?;
    let pairs: Vec<(Value, Value)> = match coll {
        Value::Array(a) => a.into_iter().enumerate().map(|(i, v)| (Value::from(i), v)).collect(),
        Value::Object(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
        other => {
            return Err(EvalError::new(
                wrong_type("what a `for` iterates over", "a list or an object", &other),
                span_of(&f.intro.collection_expr),
            ));
        }
    };
    let key_var = f.intro.key_var.as_ref().map(|k| k.value().as_str());
    let value_var = f.intro.value_var.value().as_str();
    let mut list = Vec::new();
    let mut obj = Map::new();
    for (k, v) in pairs {
        let (kname, vname) = match key_var {
            Some(kv) => (kv, value_var),
            None => ("\u{0}unused", value_var),
        };
        let s1 = Scope::Bind { name: kname, value: Cow::Owned(k), parent: scope };
        let s2 = Scope::Bind { name: vname, value: Cow::Owned(v), parent: &s1 };
        if let Some(cond) = &f.cond {
            match eval(ctx, &s2, &cond.expr)? {
                Value::Bool(true) => {}
                Value::Bool(false) => continue,
                other => {
                    return Err(EvalError::new(
                        wrong_type("a `for` condition", "a bool", &other),
                        span_of(&cond.expr),
                    ));
                }
            }
        }
        let value = eval(ctx, &s2, &f.value_expr)?;
        match &f.key_expr {
            None => list.push(value),
            Some(ke) => {
                let key = match eval(ctx, &s2, ke)? {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    other => {
                        return Err(EvalError::new(
                            wrong_type("a `for` key", "a string", &other),
                            span_of(ke),
                        ));
                    }
                };
                if f.grouping {
                    if let Value::Array(a) = obj.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                        a.push(value);
                    }
                } else if obj.contains_key(&key) {
                    return Err(EvalError::new(ConfigError::DuplicateForKey { key }, span_of(ke)));
                } else {
                    obj.insert(key, value);
                }
            }
        }
    }
    Ok(if f.key_expr.is_some() { Value::Object(obj) } else { Value::Array(list) })
}

/// A value inside `${…}`.
pub(crate) fn to_template_string(v: &Value, span: Range<usize>) -> EResult<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(EvalError::new(ConfigError::Interpolation { found: type_name(other) }, span)),
    }
}

pub(crate) fn eval_template(ctx: &Ctx<'_>, scope: &Scope<'_>, t: &Template) -> EResult<String> {
    template(ctx, scope, t, None)
}

fn heredoc(ctx: &Ctx<'_>, scope: &Scope<'_>, h: &hcl_edit::template::HeredocTemplate) -> EResult<String> {
    template(ctx, scope, &h.template, h.indent().map(|n| (n, false)))
}

/// `indent`: hcl-edit dedents a `<<-` heredoc's top-level text only; text
/// inside `%{ for }`/`%{ if }` bodies (`nested`) is dedented here by the same amount.
fn template(
    ctx: &Ctx<'_>,
    scope: &Scope<'_>,
    t: &Template,
    indent: Option<(usize, bool)>,
) -> EResult<String> {
    let mut out = String::new();
    // Strip markers (`~`) trim whitespace next to an interpolation or directive.
    let mut strip_next = false;
    let body = |scope: &Scope<'_>, t: &Template, trim_start: bool, trim_end: bool| -> EResult<String> {
        let s = template(ctx, scope, t, indent.map(|(n, _)| (n, true)))?;
        let s = if trim_start { s.trim_start() } else { s.as_str() };
        Ok(if trim_end { s.trim_end() } else { s }.to_owned())
    };
    let ends = |s: Strip| matches!(s, Strip::End | Strip::Both);
    let starts = |s: Strip| matches!(s, Strip::Start | Strip::Both);
    for el in t.iter() {
        match el {
            Element::Literal(s) => {
                let dedented;
                let mut text = s.value().as_str();
                if let Some((n, true)) = indent {
                    dedented = dedent_literal(text, n);
                    text = &dedented;
                }
                out.push_str(if strip_next { text.trim_start() } else { text });
                strip_next = false;
            }
            Element::Interpolation(i) => {
                apply_strip_before(&mut out, i.strip);
                let v = eval(ctx, scope, &i.expr)?;
                out.push_str(&to_template_string(&v, span_of(&i.expr))?);
                strip_next = ends(i.strip);
            }
            Element::Directive(d) => match d.as_ref() {
                Directive::If(ifd) => {
                    apply_strip_before(&mut out, ifd.if_expr.strip);
                    let cond = eval(ctx, scope, &ifd.if_expr.cond_expr)?;
                    let endif_start = starts(ifd.endif_expr.strip);
                    match cond {
                        Value::Bool(true) => {
                            let trim_end = match &ifd.else_expr {
                                Some(e) => starts(e.strip),
                                None => endif_start,
                            };
                            out.push_str(&body(
                                scope,
                                &ifd.if_expr.template,
                                ends(ifd.if_expr.strip),
                                trim_end,
                            )?);
                        }
                        Value::Bool(false) => {
                            if let Some(e) = &ifd.else_expr {
                                out.push_str(&body(scope, &e.template, ends(e.strip), endif_start)?);
                            }
                        }
                        other => {
                            return Err(EvalError::new(
                                wrong_type("an `if` condition", "a bool", &other),
                                span_of(&ifd.if_expr.cond_expr),
                            ));
                        }
                    }
                    strip_next = ends(ifd.endif_expr.strip);
                }
                Directive::For(ford) => {
                    let fe = &ford.for_expr;
                    apply_strip_before(&mut out, fe.strip);
                    let coll = eval(ctx, scope, &fe.collection_expr)?;
                    let pairs: Vec<(Value, Value)> = match coll {
                        Value::Array(a) => {
                            a.into_iter().enumerate().map(|(i, v)| (Value::from(i), v)).collect()
                        }
                        Value::Object(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
                        other => {
                            return Err(EvalError::new(
                                wrong_type("what a `for` iterates over", "a list or an object", &other),
                                span_of(&fe.collection_expr),
                            ));
                        }
                    };
                    for (k, v) in pairs {
                        let kname = fe.key_var.as_ref().map_or("\u{0}unused", |k| k.value().as_str());
                        let s1 = Scope::Bind { name: kname, value: Cow::Owned(k), parent: scope };
                        let s2 = Scope::Bind {
                            name: fe.value_var.value().as_str(),
                            value: Cow::Owned(v),
                            parent: &s1,
                        };
                        out.push_str(&body(
                            &s2,
                            &fe.template,
                            ends(fe.strip),
                            starts(ford.endfor_expr.strip),
                        )?);
                    }
                    strip_next = ends(ford.endfor_expr.strip);
                }
            },
        }
    }
    Ok(out)
}

/// Text inside a directive body loses the heredoc's indent after each line
/// break. Only literal text: interpolated values keep their own indentation.
fn dedent_literal(text: &str, indent: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            let spaces = line.len() - line.trim_start_matches(' ').len();
            out.push_str(&line[spaces.min(indent)..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

fn apply_strip_before(out: &mut String, strip: Strip) {
    if matches!(strip, Strip::Start | Strip::Both) {
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
    }
}

/// Does an expression mention the variable `name` anywhere?
pub(crate) fn references(expr: &Expression, name: &str) -> bool {
    use hcl_edit::visit::{Visit, visit_expr};
    struct Finder<'n> {
        name: &'n str,
        found: bool,
    }
    impl Visit for Finder<'_> {
        fn visit_expr(&mut self, e: &Expression) {
            if let Expression::Variable(v) = e
                && v.value().as_str() == self.name
            {
                self.found = true;
            }
            visit_expr(self, e);
        }
    }
    let mut f = Finder { name, found: false };
    f.visit_expr(expr);
    f.found
}

/// The outputs that expressions read as `dependency.<name>.outputs.<output>`,
/// by dependency name; `None` when one of them uses `dependency` any other
/// way (whole, indexed, in a function call), so every output must be bound.
pub(crate) fn dependency_output_refs<'e>(
    exprs: impl IntoIterator<Item = &'e Expression>,
) -> Option<BTreeMap<String, BTreeSet<String>>> {
    use hcl_edit::visit::{Visit, visit_expr, visit_traversal_operator};
    #[derive(Default)]
    struct Finder {
        refs: BTreeMap<String, BTreeSet<String>>,
        other_use: bool,
    }
    impl Visit for Finder {
        fn visit_expr(&mut self, e: &Expression) {
            let is_dependency =
                |e: &Expression| matches!(e, Expression::Variable(v) if v.value().as_str() == "dependency");
            if let Expression::Traversal(t) = e
                && is_dependency(&t.expr)
            {
                let attr = |i: usize| match t.operators.get(i).map(|o| o.value()) {
                    Some(TraversalOperator::GetAttr(id)) => Some(id.value().as_str()),
                    _ => None,
                };
                if let (Some(dep), Some("outputs"), Some(output)) = (attr(0), attr(1), attr(2)) {
                    self.refs.entry(dep.to_owned()).or_default().insert(output.to_owned());
                    for op in &t.operators[3..] {
                        visit_traversal_operator(self, op.value());
                    }
                } else {
                    self.other_use = true;
                }
                return;
            }
            if is_dependency(e) {
                self.other_use = true;
            }
            visit_expr(self, e);
        }
    }
    let mut f = Finder::default();
    for e in exprs {
        f.visit_expr(e);
    }
    (!f.other_use).then_some(f.refs)
}

/// The names `local.<x>` an expression mentions (for ordering locals).
pub(crate) fn local_refs(expr: &Expression) -> Vec<String> {
    use hcl_edit::visit::{Visit, visit_traversal};
    struct Finder(Vec<String>);
    impl Visit for Finder {
        fn visit_traversal(&mut self, t: &hcl_edit::expr::Traversal) {
            if let Expression::Variable(v) = &t.expr
                && v.value().as_str() == "local"
                && let Some(TraversalOperator::GetAttr(id)) = t.operators.first().map(|o| o.value())
            {
                self.0.push(id.value().as_str().to_owned());
            }
            visit_traversal(self, t);
        }
    }
    let mut f = Finder(Vec::new());
    f.visit_expr(expr);
    f.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn refs(exprs: &[&str]) -> Option<BTreeMap<String, BTreeSet<String>>> {
        let parsed: Vec<Expression> = exprs.iter().map(|e| e.parse().unwrap()).collect();
        dependency_output_refs(&parsed)
    }

    fn named(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, BTreeSet<String>>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (dep, output) in pairs {
            out.entry((*dep).to_owned()).or_default().insert((*output).to_owned());
        }
        Some(out)
    }

    #[test]
    fn named_outputs_are_found_in_attributes_templates_and_nested_expressions() {
        assert_eq!(
            refs(&[
                r#"{ a = dependency.db.outputs.host, b = "${dependency.mq.outputs.url}/x" }"#,
                r#"upper(dependency.db.outputs.databases[local.name].user)"#,
                r#"{ c = 1 }"#,
            ]),
            named(&[("db", "host"), ("mq", "url"), ("db", "databases")])
        );
    }

    #[test]
    fn any_other_use_of_dependency_binds_every_output() {
        for e in [
            "dependency.db.outputs",
            "keys(dependency.db.outputs)",
            "dependency",
            "dependency.db",
            r#"dependency["db"].outputs.host"#,
            "[for k, v in dependency.db.outputs : k]",
        ] {
            assert_eq!(refs(&["dependency.db.outputs.host", e]), None, "{e}");
        }
    }
}
