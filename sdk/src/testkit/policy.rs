//! Calling a [`Policy`] from an ordinary `cargo test`: [`CheckCall::run`]
//! does what the engine does around `check`. It merges the params over the
//! policy's defaults, validates them against its params schema, replaces
//! every Secret's values (a policy never sees them), calls `check`, and
//! holds the violations to the contract. With the `host` feature,
//! `CheckCall::run_wasm` does the same through the built `.wasm`.

use capstan_core::{CheckRequest, Diagnostic, Metadata, POLICY_TYPE, PolicySubject, Violation};
use serde_json::Value;

use super::{defaults_of, merge, schema_errors};
use crate::Policy;

/// Why a [`CheckCall`] did not reach a list of violations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// The params, merged over the defaults, do not fit the params schema:
    /// the engine refuses such a `policy` block before calling the plugin.
    InvalidParams(Vec<Diagnostic>),
    /// `check` returned an error: the policy failed.
    Failed(String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::InvalidParams(diagnostics) => {
                f.write_str("invalid params:")?;
                for d in diagnostics {
                    write!(f, " {}: {};", d.path, d.message)?;
                }
                Ok(())
            }
            CheckError::Failed(message) => write!(f, "the policy failed: {message}"),
        }
    }
}

impl std::error::Error for CheckError {}

/// One check request under construction.
///
/// ```
/// # use capstan_sdk::prelude::*;
/// # use capstan_sdk::testkit::{CheckCall, ViolationsExt};
/// # use serde_json::json;
/// # struct NoPods;
/// # impl Policy for NoPods {
/// #     fn metadata() -> Metadata { MetadataBuilder::policy("t/no-pods", "0.1.0").rule("no-pods", "No bare Pods.").build() }
/// #     fn check(req: &CheckRequest) -> Result<Vec<Violation>, String> {
/// #         Ok(req.objects.iter().enumerate().filter(|(_, o)| o["kind"] == "Pod")
/// #             .map(|(i, _)| Violation::error("no-pods", i, "/kind", "a bare Pod; use a Deployment")).collect())
/// #     }
/// # }
/// let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
/// let violations = CheckCall::new(vec![pod]).run::<NoPods>().unwrap();
/// assert_eq!(violations.at("no-pods"), vec![(0, "/kind")]);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct CheckCall {
    pub(super) request: CheckRequest,
    with_defaults: bool,
}

impl CheckCall {
    /// A request to check these objects, as planned for component
    /// `test/default/app` of type `app` by `capstan/app`, with no params
    /// but the policy's defaults.
    pub fn new(objects: Vec<Value>) -> Self {
        Self {
            request: CheckRequest {
                subject: PolicySubject {
                    name: "app".into(),
                    environment: "test".into(),
                    namespace: "default".into(),
                    component_type: "app".into(),
                    plugin: "capstan/app".into(),
                },
                objects,
                params: Value::Object(Default::default()),
            },
            with_defaults: true,
        }
    }

    /// The component whose plan it is.
    pub fn subject(mut self, subject: PolicySubject) -> Self {
        self.request.subject = subject;
        self
    }

    /// The `policy` block's params (a JSON object), merged over the
    /// policy's defaults as the engine merges them (see [`merge`]).
    pub fn params(mut self, params: Value) -> Self {
        self.request.params = params;
        self
    }

    /// Skips the defaults and the schema: `check` sees the params as given,
    /// to test what the policy itself does with params the schema would stop.
    pub fn without_defaults(mut self) -> Self {
        self.with_defaults = false;
        self
    }

    /// The request as built so far (defaults not merged, Secrets not redacted).
    pub fn request(&self) -> CheckRequest {
        self.request.clone()
    }

    /// Runs the engine's steps and then `P::check`.
    ///
    /// # Panics
    /// When the policy breaks the contract in a way the engine would refuse
    /// (defaults that are not YAML, a schema that does not compile, a
    /// violation of a rule it does not list, of an object that is not in
    /// the request, or at a path that is not a JSON pointer): those are
    /// bugs in the policy, and a test should fail loudly on them.
    pub fn run<P: Policy>(&self) -> Result<Vec<Violation>, CheckError> {
        let outcome =
            self.pipeline::<std::convert::Infallible>(|| Ok(P::metadata()), |request| Ok(P::check(request)));
        match outcome {
            Ok(result) => result,
            Err(never) => match never {},
        }
    }

    /// The engine's steps around `check`, whoever runs the policy (natively
    /// here, or in wasm through `testkit::wasm`). `E` is the runner's own failure.
    pub(super) fn pipeline<E>(
        &self,
        metadata: impl FnOnce() -> Result<Metadata, E>,
        check: impl FnOnce(&CheckRequest) -> Result<Result<Vec<Violation>, String>, E>,
    ) -> Result<Result<Vec<Violation>, CheckError>, E> {
        let metadata = metadata()?;
        let mut request = self.request.clone();
        request.objects = capstan_core::without_secret_values(&request.objects);
        if self.with_defaults {
            let mut params = defaults_of(&metadata);
            merge(&mut params, request.params);
            request.params = params;
            let errors = schema_errors(&metadata, &request.params, false);
            if !errors.is_empty() {
                return Ok(Err(CheckError::InvalidParams(errors)));
            }
        }
        let violations = match check(&request)? {
            Ok(violations) => violations,
            Err(message) => return Ok(Err(CheckError::Failed(message))),
        };
        for v in &violations {
            check_violation(&metadata, &request, v);
        }
        Ok(Ok(violations))
    }
}

fn check_violation(metadata: &Metadata, request: &CheckRequest, v: &Violation) {
    let problem = if !metadata.rules.iter().any(|r| r.id == v.rule) {
        Some(format!("names rule `{}`, which the policy does not list", v.rule))
    } else if usize::try_from(v.object).map_or(true, |i| i >= request.objects.len()) {
        Some(format!("names object {} of {}", v.object, request.objects.len()))
    } else if !(v.path.is_empty() || v.path.starts_with('/')) {
        Some(format!("has path `{}`, which is not a JSON pointer", v.path))
    } else {
        None
    };
    if let Some(problem) = problem {
        panic!("policy `{}`: a violation {problem}: {v:?}", metadata.name);
    }
}

/// `CheckCall::new(objects).params(params).run::<P>()`, in one call.
pub fn check<P: Policy>(objects: Vec<Value>, params: Value) -> Result<Vec<Violation>, CheckError> {
    CheckCall::new(objects).params(params).run::<P>()
}

/// Checks what the engine checks of a policy's metadata: a valid name, the
/// policy component type and no backend or capabilities, at least one rule,
/// rule ids kebab-case and unique, a params schema that compiles, and
/// defaults that are a YAML mapping and fit it.
///
/// # Panics
/// With every problem found, so a policy's test names them all at once.
pub fn check_policy_metadata<P: Policy>() -> Metadata {
    let metadata = P::metadata();
    let mut problems = Vec::new();
    if metadata.name.is_empty() || !metadata.name.contains('/') {
        problems.push(format!("name `{}` should be `publisher/policy`", metadata.name));
    }
    if !metadata.is_policy() {
        problems.push(format!(
            "component type `{}` should be `{POLICY_TYPE}` (start from MetadataBuilder::policy)",
            metadata.component_type
        ));
    }
    if !metadata.backend.is_empty() {
        problems.push(format!("a policy has no backend, not `{}`", metadata.backend));
    }
    if !metadata.capabilities.is_empty() || metadata.outputs_contract.is_some() {
        problems.push("a policy asks for no capabilities and has no outputs contract".to_owned());
    }
    if metadata.rules.is_empty() {
        problems.push("a policy lists at least one rule".to_owned());
    }
    for (i, rule) in metadata.rules.iter().enumerate() {
        let kebab = !rule.id.is_empty()
            && !rule.id.starts_with('-')
            && !rule.id.ends_with('-')
            && !rule.id.contains("--")
            && rule.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !kebab {
            problems.push(format!("rule id `{}` should be kebab-case", rule.id));
        }
        if metadata.rules[..i].iter().any(|r| r.id == rule.id) {
            problems.push(format!("rule `{}` is listed twice", rule.id));
        }
        if rule.description.trim().is_empty() {
            problems.push(format!("rule `{}` has no description", rule.id));
        }
    }
    let defaults = defaults_of(&metadata);
    for d in schema_errors(&metadata, &defaults, false) {
        problems.push(format!("defaults at `{}`: {}", d.path, d.message));
    }
    if !problems.is_empty() {
        panic!("policy `{}` metadata:\n  {}", metadata.name, problems.join("\n  "));
    }
    metadata
}

/// Finding violations, for assertions.
pub trait ViolationsExt {
    /// The violations of rule `rule`, in order.
    fn of_rule(&self, rule: &str) -> Vec<&Violation>;
    /// `(object, path)` of each violation of rule `rule`, in order.
    fn at(&self, rule: &str) -> Vec<(u32, &str)>;
    /// The ids of the rules broken, in order, each once.
    fn rules_broken(&self) -> Vec<&str>;
}

impl ViolationsExt for [Violation] {
    fn of_rule(&self, rule: &str) -> Vec<&Violation> {
        self.iter().filter(|v| v.rule == rule).collect()
    }

    fn at(&self, rule: &str) -> Vec<(u32, &str)> {
        self.iter().filter(|v| v.rule == rule).map(|v| (v.object, v.path.as_str())).collect()
    }

    fn rules_broken(&self) -> Vec<&str> {
        let mut rules: Vec<&str> = Vec::new();
        for v in self {
            if !rules.contains(&v.rule.as_str()) {
                rules.push(&v.rule);
            }
        }
        rules
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::MetadataBuilder;
    use serde_json::json;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Params {
        forbidden: Vec<String>,
        #[serde(default)]
        secret_key: Option<String>,
    }

    /// Flags every object whose kind is forbidden, and (to show what it
    /// saw) a Secret's value at `secret_key`.
    struct Kinds;
    impl Policy for Kinds {
        fn metadata() -> Metadata {
            MetadataBuilder::policy("t/kinds", "0.1.0")
                .rule("forbidden-kind", "No object of a forbidden kind.")
                .rule("secret-seen", "Reports what it sees of a Secret.")
                .input_schema_for::<Params>()
                .defaults_yaml("forbidden: [Pod]\n")
                .build()
        }
        fn check(req: &CheckRequest) -> Result<Vec<Violation>, String> {
            let params: Params = crate::CheckRequestExt::params(req)?;
            let mut out = Vec::new();
            for (i, o) in req.objects.iter().enumerate() {
                let kind = o["kind"].as_str().unwrap_or_default();
                if params.forbidden.iter().any(|f| f == kind) {
                    out.push(Violation::error("forbidden-kind", i, "/kind", format!("a {kind}")));
                }
                if let Some(value) = params.secret_key.as_ref().and_then(|key| o["data"][key].as_str()) {
                    out.push(Violation::error("secret-seen", i, "/data", value));
                }
            }
            Ok(out)
        }
    }

    fn objects() -> Vec<Value> {
        vec![
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "aHVudGVyMg=="}}),
        ]
    }

    #[test]
    fn the_metadata_of_a_policy_is_checked_as_the_engine_checks_it() {
        let m = check_policy_metadata::<Kinds>();
        assert_eq!(m.rules.len(), 2);
    }

    #[test]
    fn params_are_merged_over_the_defaults_and_checked_against_the_schema() {
        let v = CheckCall::new(objects()).run::<Kinds>().unwrap();
        assert_eq!(v.at("forbidden-kind"), vec![(0, "/kind")]);
        let v = check::<Kinds>(objects(), json!({"forbidden": ["Secret"]})).unwrap();
        assert_eq!(v.at("forbidden-kind"), vec![(1, "/kind")]);
        let err = check::<Kinds>(objects(), json!({"forbiden": []})).unwrap_err();
        assert!(matches!(&err, CheckError::InvalidParams(d) if d[0].message.contains("forbiden")), "{err}");
    }

    #[test]
    fn a_policy_never_sees_a_secrets_values() {
        let v = check::<Kinds>(objects(), json!({"forbidden": [], "secret_key": "k"})).unwrap();
        assert_eq!(v.of_rule("secret-seen")[0].message, capstan_core::REDACTED);
    }

    #[test]
    fn params_the_type_refuses_are_the_policys_failure() {
        let err = CheckCall::new(objects()).params(json!({"forbidden": 3})).without_defaults().run::<Kinds>();
        assert!(
            matches!(&err, Err(CheckError::Failed(m)) if m.starts_with("params at /forbidden")),
            "{err:?}"
        );
    }

    struct Broken;
    impl Policy for Broken {
        fn metadata() -> Metadata {
            MetadataBuilder::policy("t/broken", "0.1.0").rule("a", "A rule.").build()
        }
        fn check(_: &CheckRequest) -> Result<Vec<Violation>, String> {
            Ok(vec![Violation::error("b", 0, "/kind", "not a listed rule")])
        }
    }

    #[test]
    #[should_panic(expected = "names rule `b`, which the policy does not list")]
    fn a_violation_of_an_unlisted_rule_is_a_bug_in_the_policy() {
        let _ = CheckCall::new(objects()).run::<Broken>();
    }
}
