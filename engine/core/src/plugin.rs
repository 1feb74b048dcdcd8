//! What a plugin is and what it answers (the `types` and `handler`
//! interfaces of the WIT contract).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Effect, EffectResult};

/// How serious a diagnostic is. Only an error stops a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The inputs cannot be planned: the component is not planned.
    Error,
    /// Planned anyway; shown with the plan.
    Warning,
    /// A note, shown with the plan.
    Info,
}

/// One problem found in a plugin's inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// A JSON Pointer into the inputs.
    pub path: String,
    /// Whether it stops the plan.
    pub severity: Severity,
    /// What is wrong and, where it helps, what would be right.
    pub message: String,
}

impl Diagnostic {
    /// An error about the input at `path` (a JSON Pointer; empty for the
    /// inputs as a whole).
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), severity: Severity::Error, message: message.into() }
    }

    /// A warning about the input at `path` (a JSON Pointer; empty for the
    /// inputs as a whole).
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), severity: Severity::Warning, message: message.into() }
    }
}

/// Something a plugin needs beyond computing a plan; granted by the operator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Run SQL effects on the named database connection.
    Sql(String),
    /// Run AMQP effects on the named RabbitMQ connection.
    Amqp(String),
    /// Call the named cloud API, such as `aws:sqs`, through the engine,
    /// which signs the request with credentials the plugin never sees.
    Http(String),
    /// Since contract 0.2.
    #[serde(rename = "jetstream")]
    JetStream(String),
    /// Configure the Vault or OpenBao server of the named connection (since
    /// contract 0.2).
    Vault(String),
    /// Read the component's own directory, mounted read-only in the sandbox.
    ReadComponentDir,
}

impl Capability {
    /// A grant as operators write it in HCL: `sql:<connection>`,
    /// `amqp:<connection>`, `jetstream:<connection>`, `vault:<connection>`,
    /// `http:<service>` or `read-component-dir`.
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
            "vault" => Some(Self::Vault(name)),
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
            Self::Vault(t) => write!(f, "vault:{t}"),
            Self::Http(t) => write!(f, "http:{t}"),
            Self::ReadComponentDir => f.write_str("read-component-dir"),
        }
    }
}

/// What a plugin is and what it accepts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// As `publisher/name`, such as `capstan/postgres-cloudnative-pg`.
    pub name: String,
    /// The plugin's own version, not the contract's.
    pub version: semver::Version,
    /// The component type whose outputs contract it implements, such as
    /// `postgres`, `messaging`, `app`.
    pub component_type: String,
    /// The backend within that type, such as `rabbitmq`.
    pub backend: String,
    /// One paragraph for `capstan plugin inspect`.
    pub description: String,
    /// JSON Schema (draft 2020-12) of the inputs.
    pub input_schema: serde_json::Value,
    /// Default values as YAML text: what `values_custom` is merged over.
    pub defaults: String,
    /// The capabilities its effects may need. The operator grants them per
    /// component; `capstan plugin test` fails an effect on one not listed.
    pub capabilities: Vec<Capability>,
    /// The outputs contract of a component type Capstan does not ship, as
    /// the type's plugins publish it (contract 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs_contract: Option<OutputsContract>,
    /// A policy plugin's rules (its `component_type` is
    /// [`POLICY_TYPE`](crate::POLICY_TYPE)); empty for a component plugin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<crate::PolicyRule>,
}

impl Metadata {
    /// Whether it is a policy plugin (contract 0.2's `policy` interface).
    pub fn is_policy(&self) -> bool {
        self.component_type == crate::POLICY_TYPE
    }
}

/// The outputs contract of a component type: a version and the JSON Schema
/// of the outputs as one object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputsContract {
    /// Raised when a change could break the type's consumers.
    pub version: u32,
    /// JSON Schema (draft 2020-12) of the outputs as one object, a property
    /// per output. A Secret is referenced as `{name, key}`, never carried.
    pub schema: serde_json::Value,
    /// The type's conformance kit (the format of `wit/contracts/kits/`),
    /// which `capstan plugin test` runs instead of the generic checks.
    #[serde(default)]
    pub kit: Option<serde_json::Value>,
}

/// Where a component sits in the platform.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ComponentId {
    /// The component's directory name, such as `oob-consent`.
    pub name: String,
    /// The environment's directory under `envs/`, such as `staging`.
    pub environment: String,
    /// The Kubernetes namespace its objects go in.
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
    /// What dependents read it by ([`Dependency::output`]), as the
    /// component type's outputs contract names it.
    pub name: String,
    /// Any JSON value; redacted wherever it would be shown when `sensitive`.
    pub value: serde_json::Value,
    /// The value is secret: never shown, and a dependent may put it only
    /// where sensitive values may go (a Secret's data, a sensitive field).
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
    /// The name of the `dependency` block in the component's HCL.
    pub name: String,
    /// The dependency's component type, such as `postgres`: the outputs
    /// contract its outputs follow.
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
    /// The path as written in HCL.
    pub path: String,
    /// The file's bytes, read by the engine (confined to the stack root).
    pub contents: Vec<u8>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "File({:?}, {} bytes)", self.path, self.contents.len())
    }
}

/// What `plan` is asked: the component, its inputs, its dependencies'
/// outputs, its files and its effects' last results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    /// The component being planned.
    pub component: ComponentId,
    /// The merged inputs: the plugin's defaults, then `values_custom`, then
    /// `inputs`, then `values_sensitive_custom`, already validated against
    /// [`Metadata::input_schema`].
    pub inputs: serde_json::Value,
    /// JSON Pointers into `inputs` that hold sensitive values.
    pub sensitive_paths: Vec<String>,
    /// The outputs of each dependency, as recorded when it was planned.
    pub dependencies: Vec<Dependency>,
    /// The files the component's HCL declared.
    pub files: Vec<File>,
    /// Results of this component's effects from the last apply; empty the
    /// first time. After running effects the engine plans again with their
    /// results, so outputs may depend on them.
    pub effect_results: Vec<EffectResult>,
}

impl PlanRequest {
    /// The dependency whose `dependency` block has this name, if any.
    pub fn dependency(&self, name: &str) -> Option<&Dependency> {
        self.dependencies.iter().find(|d| d.name == name)
    }
}

/// A plugin's answer: desired objects, effects and outputs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComponentPlan {
    /// Desired Kubernetes objects, as JSON manifests. The engine sets the
    /// namespace when a namespaced object leaves it out, and treats every
    /// Secret's `data` and `stringData` as sensitive.
    pub objects: Vec<serde_json::Value>,
    /// Side effects for the engine to carry out on apply, each on a
    /// capability the operator granted.
    pub effects: Vec<Effect>,
    /// What dependents read, as the component type's outputs contract says.
    pub outputs: Vec<Output>,
    /// What the operator should know though it is no error (contract 0.2):
    /// shown with the plan, mapped to the HCL of the input at each path.
    #[serde(default)]
    pub warnings: Vec<Diagnostic>,
}

/// A component's inputs checked by its plugin's `validate`, then, when no
/// error was found, planned: the engine asks both of one instance.
/// Serialisable so the engine can keep an answer for the same request
/// asked again (its plan cache); it holds sensitive values in clear.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CheckedPlan {
    /// `validate` reported at least one error; `plan` was not asked.
    Invalid(Vec<Diagnostic>),
    /// `validate` found no error, and this is what `plan` answered, with
    /// the warnings and notes `validate` gave (shown with the plan).
    Planned {
        /// The plan, or the plugin's reason it cannot make one.
        answer: Result<ComponentPlan, PlanError>,
        /// The warnings and notes of `validate`.
        warnings: Vec<Diagnostic>,
    },
}

/// Why a plan could not be made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanError {
    /// The inputs are wrong; each diagnostic points at a value.
    InvalidInputs(Vec<Diagnostic>),
    /// A dependency the plugin needs is missing or lacks an output; says
    /// which.
    MissingDependency(String),
    /// Anything else, in words an operator can act on.
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
    /// Doing what it was planned for.
    Ready,
    /// Not ready yet, and why (what it waits for); apply waits for it until
    /// its timeout.
    Progressing(String),
    /// Failed in a way waiting will not fix, and why; apply fails at once.
    Degraded(String),
}

/// The level of a message a plugin logs, least severe first. The host's
/// default sink logs each at the `tracing` level of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    /// Step-by-step detail, for a plugin's author.
    Trace,
    /// Detail for debugging a plan.
    Debug,
    /// What the plugin did.
    Info,
    /// Something the operator should look at.
    Warn,
    /// Something failed.
    Error,
}
