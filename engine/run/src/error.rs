//! What can go wrong in a run outside one component's own plan or apply
//! (those are [`capstan_plan::ComponentError`]s, reported per component).

use std::path::PathBuf;

use capstan_plan::{GraphError, SeamError};

/// A run could not start, go on or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration has problems; the text lists every one.
    #[error("{0}")]
    Config(capstan_config::Diagnostics),
    #[error("setting up secrets")]
    Secrets(#[source] capstan_secrets::SecretsError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("client.hcl: unknown state backend {name:?} (use local or postgres)")]
    UnknownStateBackend { name: String },
    #[error("{what}")]
    StateSettings { what: String },
    #[error("connecting to the PostgreSQL state backend")]
    StateConnect(#[source] capstan_state::StateError),
    #[error("reading state")]
    ReadState(#[source] capstan_state::StateError),
    #[error(
        "the state could not be stored in {location}, so it was saved to {} (mode 0600; secrets in it are \
         keyed hashes only). Once the backend takes writes again, store it back with \
         `capstan state push {} {}`",
        file.display(), file.display(), stack_root.display()
    )]
    StateNotStored {
        location: String,
        file: PathBuf,
        stack_root: PathBuf,
        #[source]
        source: capstan_state::StateError,
    },
    #[error(
        "the state could not be stored in {location}, nor saved to a file ({save}): what this run applied is \
         recorded only as far as the backend took it"
    )]
    StateLost {
        location: String,
        save: Box<capstan_state::StateError>,
        #[source]
        source: capstan_state::StateError,
    },
    #[error("reading the state key")]
    StateKey(#[source] capstan_state::StateError),
    #[error("releasing the state lock")]
    Unlock(#[source] capstan_state::StateError),
    /// Locking, or recording one component.
    #[error(transparent)]
    State(#[from] capstan_state::StateError),
    #[error(transparent)]
    Registry(#[from] capstan_registry::RegistryError),
    #[error(transparent)]
    Kube(#[from] capstan_kube::KubeError),
    /// The run's directory could not be made absolute.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{what} poisoned")]
    Poisoned { what: &'static str },
    #[error("the resolver records what it resolves")]
    Unrecorded { plugin: String },
    /// `what` names the plugin and where it came from.
    #[error("loading {what}")]
    LoadPlugin {
        what: String,
        #[source]
        source: capstan_host::HostError,
    },
    #[error("reading plugin directory {}", dir.display())]
    ReadPluginDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Loading the catalogue failed earlier in this run; `reason` is why.
    #[error("{reason}")]
    Catalogue { reason: String },
    #[error("reading plugins_local_dir {} (build the plugin there first)", dir.display())]
    ReadLocalDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} pins {plugin} to \"local\": the unsigned build in {} runs only when the operator allows unsigned \
         plugins (--allow-unsigned, or CAPSTAN_ALLOW_UNSIGNED=1); a repository cannot allow it by itself",
        env_file.display(),
        dir.display()
    )]
    LocalNotAllowed { env_file: PathBuf, plugin: String, dir: PathBuf },
    #[error(
        "capstan.lock is read-only for this run (--lockfile=readonly, or CI=true), and {plugin}'s entry \
         would change: {change}. Run `capstan init` (or `capstan plugin lock`) and commit capstan.lock"
    )]
    LockReadOnly { plugin: String, change: String },
    #[error(
        "{plugin} is pinned to \"local\" but no .wasm in {} is that plugin (found: {found}); build it there first",
        dir.display()
    )]
    LocalMissing { plugin: String, dir: PathBuf, found: String },
    #[error(
        "the local build of {plugin} ({}) is version {built}, outside the range {range} its component asks for",
        file.display()
    )]
    LocalVersion { plugin: String, file: PathBuf, built: semver::Version, range: semver::VersionReq },
    #[error("removing {key}")]
    Remove {
        key: String,
        #[source]
        source: SeamError,
    },
    #[error("reading {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "environment {environment}: secrets = \"sops\" ({at}) but it has no age recipients: list them in its \
         target \"render\" block (recipients = [\"age1…\"]) or give it a secrets file (capstan secrets set)"
    )]
    NoRecipients { environment: String, at: String },
    #[error(
        "environment {environment}: secrets = \"external-secrets\" ({at}) needs the store: \
         external_secrets = {{ store = \"…\", backend = \"vault\" }} in its target \"render\" block"
    )]
    NoStore { environment: String, at: String },
    #[error("environment {environment}: a render recipient")]
    Recipient {
        environment: String,
        #[source]
        source: capstan_secrets::SecretsError,
    },
    #[error(
        "environment {environment}: secrets = \"plain\" ({at}) would write Secrets in clear to {}, and {why}; \
         ignore that directory in .gitignore, render elsewhere, or use secrets = \"sops\"",
        out_dir.display()
    )]
    PlainSecretsInGit { environment: String, out_dir: PathBuf, at: String, why: String },
    #[error(
        "environment {environment} is bound to the cluster at {bound} ({at}), but context \"{context}\" is the \
         cluster at {server}: nothing was changed. Use the environment's own context, or correct its target \"kube\" block"
    )]
    WrongCluster { environment: String, bound: String, at: String, context: String, server: String },
    #[error(
        "the environments of this run name different {what} ({listed}) in their target \"kube\" blocks: \
         run each environment on its own"
    )]
    SeveralClusters { what: &'static str, listed: String },
    #[error("rendering the stream")]
    Stream(#[source] capstan_render::RenderError),
    #[error("writing the render marker")]
    RenderMarker(#[source] capstan_render::RenderError),
    #[error("reading saved plan {}", file.display())]
    ReadSavedPlan {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a plan saved by capstan plan --out", file.display())]
    NotASavedPlan {
        file: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: plan format {format} is not {expected}", file.display())]
    SavedPlanFormat { file: PathBuf, format: String, expected: &'static str },
    #[error(
        "{}: the state changed since this plan was saved (serial {then} then, {now} now); run capstan plan again",
        file.display()
    )]
    StaleState { file: PathBuf, then: u64, now: u64 },
    #[error("{}: the tree changed since this plan was saved; run capstan plan again", file.display())]
    StaleTree { file: PathBuf },
    #[error("writing {}", path.display())]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("{key} is not a component (it has no component.hcl)")]
    NotAComponent { key: String },
    /// A component's plugin could not be resolved; `reason` says why.
    #[error("{reason}")]
    PluginUnavailable { reason: String },
    /// A component's inputs do not resolve; the text lists every problem.
    #[error("{0}")]
    Inputs(capstan_config::Diagnostics),
}

/// An error and every cause under it, joined with ": " (how the seams'
/// string errors carry a whole chain).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}
