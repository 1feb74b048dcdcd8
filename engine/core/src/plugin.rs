//! What a plugin is and what it answers (the `types` and `handler`
//! interfaces of the WIT contract).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Effect, EffectResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// One problem found in a plugin's inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// A JSON Pointer into the inputs.
    pub path: String,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), severity: Severity::Error, message: message.into() }
    }

    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), severity: Severity::Warning, message: message.into() }
    }
}

/// Something a plugin needs beyond computing a plan; granted by the operator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    Sql(String),
    Amqp(String),
    Http(String),
    /// Since contract 0.2.
    #[serde(rename = "jetstream")]
    JetStream(String),
    ReadComponentDir,
}

impl Capability {
    /// A grant as operators write it in HCL: `sql:<connection>`,
    /// `amqp:<connection>`, `jetstream:<connection>`, `http:<service>` or
    /// `read-component-dir`.
    pub fn parse_grant(grant: &str) -> Option<Self> {
        if grant == "read-component-dir" {
            return Some(Self::ReadComponentDir);
        }
        let (kind, name) = grant.split_once(':')?;
        if name.is_empty() {
            return None;
        }
        let name = name.to_owned();
        match kind {
            "sql" => Some(Self::Sql(name)),
            "amqp" => Some(Self::Amqp(name)),
            "jetstream" => Some(Self::JetStream(name)),
            "http" => Some(Self::Http(name)),
            _ => None,
        }
    }
}

/// The grant as written in HCL (`sql:postgres`), the inverse of
/// [`Capability::parse_grant`].
impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sql(t) => write!(f, "sql:{t}"),
            Self::Amqp(t) => write!(f, "amqp:{t}"),
            Self::JetStream(t) => write!(f, "jetstream:{t}"),
            Self::Http(t) => write!(f, "http:{t}"),
            Self::ReadComponentDir => f.write_str("read-component-dir"),
        }
    }
}

/// What a plugin is and what it accepts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub name: String,
    pub version: semver::Version,
    pub component_type: String,
    pub backend: String,
    pub description: String,
    /// JSON Schema (draft 2020-12) of the inputs.
    pub input_schema: serde_json::Value,
    /// Default values as YAML text: what `values_custom` is merged over.
    pub defaults: String,
    pub capabilities: Vec<Capability>,
    /// The outputs contract of a component type Capstan does not ship, as
    /// the type's plugins publish it (contract 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs_contract: Option<OutputsContract>,
}

/// The outputs contract of a component type: a version and the JSON Schema
/// of the outputs as one object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputsContract {
    pub version: u32,
    pub schema: serde_json::Value,
    /// The type's conformance kit (the format of `wit/contracts/kits/`),
    /// which `capstan plugin test` runs instead of the generic checks.
    #[serde(default)]
    pub kit: Option<serde_json::Value>,
}

/// Where a component sits in the platform.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ComponentId {
    pub name: String,
    pub environment: String,
    pub namespace: String,
}

impl std::fmt::Display for ComponentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.environment, self.namespace, self.name)
    }
}

/// One output value, readable by dependents.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub name: String,
    pub value: serde_json::Value,
    pub sensitive: bool,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Output");
        d.field("name", &self.name);
        if self.sensitive {
            d.field("value", &crate::REDACTED);
        } else {
            d.field("value", &self.value);
        }
        d.finish()
    }
}

/// The outputs of one dependency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    pub name: String,
    pub component_type: String,
    /// Shared, not copied, between the dependents: a database server's
    /// outputs list every app's database, and each of those apps reads them.
    pub outputs: Arc<[Output]>,
}

impl Dependency {
    /// The value of one output, if the dependency has it.
    pub fn output(&self, name: &str) -> Option<&serde_json::Value> {
        self.outputs.iter().find(|o| o.name == name).map(|o| &o.value)
    }
}

/// A file the component's HCL declared, read by the engine.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    pub path: String,
    pub contents: Vec<u8>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "File({:?}, {} bytes)", self.path, self.contents.len())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    pub component: ComponentId,
    pub inputs: serde_json::Value,
    /// JSON Pointers into `inputs` that hold sensitive values.
    pub sensitive_paths: Vec<String>,
    pub dependencies: Vec<Dependency>,
    pub files: Vec<File>,
    pub effect_results: Vec<EffectResult>,
}

impl PlanRequest {
    pub fn dependency(&self, name: &str) -> Option<&Dependency> {
        self.dependencies.iter().find(|d| d.name == name)
    }
}

/// A plugin's answer: desired objects, effects and outputs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComponentPlan {
    pub objects: Vec<serde_json::Value>,
    pub effects: Vec<Effect>,
    pub outputs: Vec<Output>,
    /// What the operator should know though it is no error (contract 0.2):
    /// shown with the plan, mapped to the HCL of the input at each path.
    #[serde(default)]
    pub warnings: Vec<Diagnostic>,
}

/// A component's inputs checked by its plugin's `validate`, then, when no
/// error was found, planned: the engine asks both of one instance.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckedPlan {
    /// `validate` reported at least one error; `plan` was not asked.
    Invalid(Vec<Diagnostic>),
    /// `validate` found no error, and this is what `plan` answered, with
    /// the warnings and notes `validate` gave (shown with the plan).
    Planned { answer: Result<ComponentPlan, PlanError>, warnings: Vec<Diagnostic> },
}

/// Why a plan could not be made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanError {
    InvalidInputs(Vec<Diagnostic>),
    MissingDependency(String),
    Failed(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::InvalidInputs(diags) => {
                f.write_str("invalid inputs")?;
                for d in diags {
                    write!(f, "\n  {}: {}", if d.path.is_empty() { "/" } else { &d.path }, d.message)?;
                }
                Ok(())
            }
            PlanError::MissingDependency(what) => write!(f, "missing dependency: {what}"),
            PlanError::Failed(why) => f.write_str(why),
        }
    }
}

/// How a live object is doing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Ready,
    Progressing(String),
    Degraded(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}
