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
    /// A `policy` block's plugin could not be loaded or its params are
    /// wrong: nothing is planned unchecked.
    #[error(transparent)]
    Policy(#[from] capstan_plan::PolicyError),
    /// The operator's age identity, a secrets file or an external secret
    /// store (Vault/OpenBao, AWS Secrets Manager) could not be opened.
    #[error("setting up secrets")]
    Secrets(#[source] capstan_secrets::SecretsError),
    /// The components' dependencies have a cycle or name a component that
    /// is not in the stack.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// client.hcl's `state` block names a backend other than `local` or `postgres`.
    #[error("client.hcl: unknown state backend {name:?} (use local or postgres)")]
    UnknownStateBackend {
        /// The backend as client.hcl names it.
        name: String,
    },
    /// A setting of client.hcl's `state` block is invalid (a timeout that is
    /// not a duration, say).
    #[error("{what}")]
    StateSettings {
        /// The whole message: the block, the setting and what it must be.
        what: String,
    },
    /// The PostgreSQL state backend could not be reached or set up.
    #[error("connecting to the PostgreSQL state backend")]
    StateConnect(#[source] capstan_state::StateError),
    /// The state backend could not be read, when a session opens or after
    /// it takes the lock.
    #[error("reading state")]
    ReadState(#[source] capstan_state::StateError),
    /// The backend would not store the state an apply or destroy recorded;
    /// it was saved to an errored-state file for `capstan state push`.
    #[error(
        "the state could not be stored in {location}, so it was saved to {} (mode 0600; secrets in it are \
         keyed hashes only). Once the backend takes writes again, store it back with \
         `capstan state push {} {}`",
        file.display(), file.display(), stack_root.display()
    )]
    StateNotStored {
        /// Where the state is: a file path, or `postgres host/db table stack`.
        location: String,
        /// The errored-state file, in the run's working directory.
        file: PathBuf,
        /// The stack root, for the `state push` command in the message.
        stack_root: PathBuf,
        /// Why the backend refused the state.
        #[source]
        source: capstan_state::StateError,
    },
    /// The backend refused the state and the errored-state file could not
    /// be written either: only what the backend took before is recorded.
    #[error(
        "the state could not be stored in {location}, nor saved to a file ({save}): what this run applied is \
         recorded only as far as the backend took it"
    )]
    StateLost {
        /// Where the state is: a file path, or `postgres host/db table stack`.
        location: String,
        /// Why the errored-state file could not be written.
        save: Box<capstan_state::StateError>,
        /// Why the backend refused the state.
        #[source]
        source: capstan_state::StateError,
    },
    /// The backend could not give the key that state digests are made with.
    #[error("reading the state key")]
    StateKey(#[source] capstan_state::StateError),
    /// The state lock could not be released.
    #[error("releasing the state lock")]
    Unlock(#[source] capstan_state::StateError),
    /// State surgery named a component state does not record.
    #[error("state records nothing for {key} (`capstan state list` shows what it records)")]
    NotRecorded {
        /// The component's key.
        key: String,
    },
    /// State surgery would record a component that is recorded already.
    #[error("state already records {key}: {hint}")]
    AlreadyRecorded {
        /// The component's key.
        key: String,
        /// What to do instead.
        hint: &'static str,
    },
    /// State surgery needs a component of the tree and the key names none.
    #[error("{key} is not a component of the tree: {hint}")]
    NotInTree {
        /// The key, or the directory relative to the stack root.
        key: String,
        /// What to do instead.
        hint: &'static str,
    },
    /// `state mv` of a component whose directory is still in the tree: the
    /// tree would plan it anew, creating the objects the move hands over.
    #[error(
        "{key} is still in the tree (its component.hcl is there): without a record it would be planned as a \
         new component creating the same objects; move or remove its directory first"
    )]
    StillInTree {
        /// The component's key.
        key: String,
    },
    /// `state import` of a component that could not be planned.
    #[error("{key} could not be planned, so there is nothing to import: {why}")]
    ImportNotPlanned {
        /// The component's key.
        key: String,
        /// Why it was not planned.
        why: String,
    },
    /// `state import` could not read an object from the target.
    #[error("importing {key}: reading {object} from the target")]
    ImportRead {
        /// The component's key.
        key: String,
        /// The object, as `Kind namespace/name`.
        object: String,
        /// The target's error.
        #[source]
        source: SeamError,
    },
    /// `state import` of a component some of whose planned objects the
    /// target does not hold: only what exists is adopted, apply creates.
    #[error(
        "cannot import {key}: the target does not hold {} of the objects its plugin plans:{}\n\
         import adopts objects that exist; `capstan apply` creates the others",
        objects.len(), objects.iter().map(|o| format!("\n  - {o}")).collect::<String>()
    )]
    NotLive {
        /// The component's key.
        key: String,
        /// Each missing object, as `Kind namespace/name`.
        objects: Vec<String>,
    },
    /// `state import` of objects another component owns, by state or by
    /// the inventory annotation the target holds.
    #[error(
        "cannot import {key}: objects it plans belong to other components:{}",
        objects.iter().map(|(o, owner)| format!("\n  - {o} (component {owner})")).collect::<String>()
    )]
    OwnedElsewhere {
        /// The component's key.
        key: String,
        /// Each object, as `Kind namespace/name`, with the component it belongs to.
        objects: Vec<(String, String)>,
    },
    /// The backup state surgery takes before changing anything could not be written.
    #[error("saving a backup of the state before changing it")]
    Backup(#[source] capstan_state::StateError),
    /// State surgery failed after its backup was saved.
    #[error(
        "state surgery stopped; the state from before it is in {} (`capstan state push {} --force` restores it)",
        backup.display(), backup.display()
    )]
    SurgeryFailed {
        /// The backup of the whole state as it was.
        backup: PathBuf,
        /// What failed.
        #[source]
        source: Box<RunError>,
    },
    /// The target could not hand a moved component's objects to its new key.
    #[error("moving what the target holds for {from} to {to}")]
    Relocate {
        /// The key the component had.
        from: String,
        /// The key it moves to.
        to: String,
        /// The target's error.
        #[source]
        source: SeamError,
    },
    /// Locking, or recording one component.
    #[error(transparent)]
    State(#[from] capstan_state::StateError),
    /// A plugin source, the trust policy or capstan.lock failed: a bundle
    /// not found, fetched, verified or trusted, or the lock file not read or saved.
    #[error(transparent)]
    Registry(#[from] capstan_registry::RegistryError),
    /// The kubeconfig context could not be chosen or the cluster not reached.
    #[error(transparent)]
    Kube(#[from] capstan_kube::KubeError),
    /// The run's directory could not be made absolute.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A panic on another planning thread left shared run data unusable.
    #[error("{what} poisoned")]
    Poisoned {
        /// Which data: `lock file state`, `plugin cache` or `local builds`.
        what: &'static str,
    },
    /// capstan.lock has no entry for a plugin the resolver just resolved: a
    /// bug in capstan-registry, not the operator's to fix.
    #[error("the resolver records what it resolves")]
    Unrecorded {
        /// Plugin name, e.g. `capstan/app`.
        plugin: String,
    },
    /// `what` names the plugin and where it came from.
    #[error("loading {what}")]
    LoadPlugin {
        /// E.g. `plugin capstan/app 1.2.0 from <bundle>`, or `built-in plugin <package>`.
        what: String,
        /// Why the host would not load it.
        #[source]
        source: capstan_host::HostError,
    },
    /// A plugin directory (`--plugin-dir`, or a `dir` plugin source) exists
    /// but could not be listed.
    #[error("reading plugin directory {}", dir.display())]
    ReadPluginDir {
        /// The directory, absolute or as given.
        dir: PathBuf,
        /// Why listing it failed.
        #[source]
        source: std::io::Error,
    },
    /// Loading the catalogue failed earlier in this run; `reason` is why.
    #[error("{reason}")]
    Catalogue {
        /// The earlier failure with every cause, joined with ": ".
        reason: String,
    },
    /// The build directory a `local` pin names is missing or unreadable.
    #[error("reading plugins_local_dir {} (build the plugin there first)", dir.display())]
    ReadLocalDir {
        /// The directory, relative to the stack root.
        dir: PathBuf,
        /// Why listing it failed.
        #[source]
        source: std::io::Error,
    },
    /// A targeted component's plugin is pinned to `local` and the operator did
    /// not allow unsigned plugins.
    #[error(
        "{} pins {plugin} to \"local\": the unsigned build in {} runs only when the operator allows unsigned \
         plugins (--allow-unsigned, or CAPSTAN_ALLOW_UNSIGNED=1); a repository cannot allow it by itself",
        env_file.display(),
        dir.display()
    )]
    LocalNotAllowed {
        /// The env.hcl that pins it, from the stack root.
        env_file: PathBuf,
        /// Plugin name, e.g. `acme/core`.
        plugin: String,
        /// The build directory, relative to the stack root.
        dir: PathBuf,
    },
    /// Resolving a plugin would add or change its capstan.lock entry in a run
    /// with [`crate::LockfileMode::ReadOnly`].
    #[error(
        "capstan.lock is read-only for this run (--lockfile=readonly, or CI=true), and {plugin}'s entry \
         would change: {change}. Run `capstan init` (or `capstan plugin lock`) and commit capstan.lock"
    )]
    LockReadOnly {
        /// Plugin name, e.g. `capstan/app`.
        plugin: String,
        /// What would change, e.g. `1.3.0 sha256:… would replace 1.2.0`.
        change: String,
    },
    /// No `.wasm` file in a `local` pin's build directory is the plugin asked for.
    #[error(
        "{plugin} is pinned to \"local\" but no .wasm in {} is that plugin (found: {found}); build it there first",
        dir.display()
    )]
    LocalMissing {
        /// Plugin name, e.g. `acme/core`.
        plugin: String,
        /// The build directory, relative to the stack root.
        dir: PathBuf,
        /// The plugins that are there, comma-separated, or `none`.
        found: String,
    },
    /// The local build's version is outside the range the component asks for.
    #[error(
        "the local build of {plugin} ({}) is version {built}, outside the range {range} its component asks for",
        file.display()
    )]
    LocalVersion {
        /// Plugin name, e.g. `acme/core`.
        plugin: String,
        /// The build's `.wasm` file, relative to the stack root.
        file: PathBuf,
        /// The version the build declares.
        built: semver::Version,
        /// The range in the component's component.hcl.
        range: semver::VersionReq,
    },
    /// The target could not remove the objects of a component that left the
    /// tree or is being destroyed.
    #[error("removing {key}")]
    Remove {
        /// Component key, e.g. `envs/staging/api`.
        key: String,
        /// What the target said.
        #[source]
        source: SeamError,
    },
    /// The target could not read or write a component's objects during a rollback.
    #[error("rolling back {key}")]
    RollbackTarget {
        /// Component key, e.g. `envs/staging/api`.
        key: String,
        /// What the target said.
        #[source]
        source: SeamError,
    },
    /// A secrets file under an environment's directory could not be read
    /// (for its age recipients).
    #[error("reading {}", path.display())]
    ReadFile {
        /// The secrets file.
        path: PathBuf,
        /// Why reading it failed.
        #[source]
        source: std::io::Error,
    },
    /// An environment renders with `secrets = "sops"` but has no age recipients.
    #[error(
        "environment {environment}: secrets = \"sops\" ({at}) but it has no age recipients: list them in its \
         target \"render\" block (recipients = [\"age1…\"]) or give it a secrets file (capstan secrets set)"
    )]
    NoRecipients {
        /// Environment name, e.g. `staging`.
        environment: String,
        /// Where `secrets` is set, as `file:line:col`, or the env.hcl.
        at: String,
    },
    /// An environment renders with `secrets = "external-secrets"` but its
    /// `target "render"` block has no `external_secrets` store.
    #[error(
        "environment {environment}: secrets = \"external-secrets\" ({at}) needs the store: \
         external_secrets = {{ store = \"…\", backend = \"vault\" }} in its target \"render\" block"
    )]
    NoStore {
        /// Environment name, e.g. `staging`.
        environment: String,
        /// Where `secrets` is set, as `file:line:col`, or the env.hcl.
        at: String,
    },
    /// An age recipient of an environment (listed in its block, or read from
    /// a secrets file) does not parse.
    #[error("environment {environment}: a render recipient")]
    Recipient {
        /// Environment name, e.g. `staging`.
        environment: String,
        /// Why the recipient does not parse.
        #[source]
        source: capstan_secrets::SecretsError,
    },
    /// `secrets = "plain"` would write clear Secrets into a Git work tree
    /// that does not ignore the output directory (or git could not tell).
    #[error(
        "environment {environment}: secrets = \"plain\" ({at}) would write Secrets in clear to {}, and {why}; \
         ignore that directory in .gitignore, render elsewhere, or use secrets = \"sops\"",
        out_dir.display()
    )]
    PlainSecretsInGit {
        /// Environment name, e.g. `staging`.
        environment: String,
        /// The absolute output directory.
        out_dir: PathBuf,
        /// Where `secrets` is set, as `file:line:col`, or the env.hcl.
        at: String,
        /// Why it counts as committed, e.g. `it is inside a Git work tree that does not ignore it`.
        why: String,
    },
    /// The kubeconfig context resolves to an API server other than the one an
    /// environment's `target "kube"` block names; checked before any request.
    #[error(
        "environment {environment} is bound to the cluster at {bound} ({at}), but context \"{context}\" is the \
         cluster at {server}: nothing was changed. Use the environment's own context, or correct its target \"kube\" block"
    )]
    WrongCluster {
        /// Environment name, e.g. `staging`.
        environment: String,
        /// The API server URL the environment's block names.
        bound: String,
        /// Where the block sets `server`, as `file:line:col`.
        at: String,
        /// The kubeconfig context the run uses.
        context: String,
        /// The API server URL that context resolves to.
        server: String,
    },
    /// The run spans environments whose `target "kube"` blocks name different
    /// contexts.
    #[error(
        "the environments of this run name different {what} ({listed}) in their target \"kube\" blocks: \
         run each environment on its own"
    )]
    SeveralClusters {
        /// What differs: `contexts`.
        what: &'static str,
        /// The distinct values, comma-separated.
        listed: String,
    },
    /// `render --stdout` could not make the YAML stream: an object that cannot
    /// be rendered, or a Secret that cannot be delivered as configured.
    #[error("rendering the stream")]
    Stream(#[source] capstan_render::RenderError),
    /// The render target could not write its kustomizations or its marker
    /// (`.capstan-render.json`, the files Capstan wrote) at the end of an
    /// apply or destroy.
    #[error("writing the rendered tree's kustomizations and marker")]
    RenderFlush(#[source] capstan_render::RenderError),
    /// The plan file given to `capstan apply` could not be read.
    #[error("reading saved plan {}", file.display())]
    ReadSavedPlan {
        /// The plan file as given.
        file: PathBuf,
        /// Why reading it failed.
        #[source]
        source: std::io::Error,
    },
    /// The plan file given to `capstan apply` is not the JSON `plan --out` writes.
    #[error("{} is not a plan saved by capstan plan --out", file.display())]
    NotASavedPlan {
        /// The plan file as given.
        file: PathBuf,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The plan file was saved in a format this version does not read.
    #[error("{}: plan format {format} is not {expected}", file.display())]
    SavedPlanFormat {
        /// The plan file as given.
        file: PathBuf,
        /// The format the file names.
        format: String,
        /// The format this version reads: `capstan-plan/v1`.
        expected: &'static str,
    },
    /// The state's lineage or serial changed since the plan was saved.
    #[error(
        "{}: the state changed since this plan was saved (serial {then} then, {now} now); run capstan plan again",
        file.display()
    )]
    StaleState {
        /// The plan file as given.
        file: PathBuf,
        /// The state serial the plan was made against.
        then: u64,
        /// The state serial now.
        now: u64,
    },
    /// The plan made now would make different changes from the saved one (the
    /// tree, a plugin or the target changed).
    #[error("{}: the tree changed since this plan was saved; run capstan plan again", file.display())]
    StaleTree {
        /// The plan file as given.
        file: PathBuf,
    },
    /// `plan --out` could not write its file (or the temporary file beside it).
    #[error("writing {}", path.display())]
    WriteFile {
        /// The file being written or renamed into place.
        path: PathBuf,
        /// Why writing failed.
        #[source]
        source: std::io::Error,
    },
    /// A plan could not be serialised for `plan --out`.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The key [`crate::resolved_inputs`] was given is not a component of the stack.
    #[error("{key} is not a component (it has no component.hcl)")]
    NotAComponent {
        /// The key as given, relative to the stack root.
        key: String,
    },
    /// A component's plugin could not be resolved; `reason` says why.
    #[error("{reason}")]
    PluginUnavailable {
        /// The resolver's message, every cause included.
        reason: String,
    },
    /// A component's inputs do not resolve; the text lists every problem.
    #[error("{0}")]
    Inputs(capstan_config::Diagnostics),
    /// `history show` or `rollback --to` named a revision that is not kept.
    #[error(
        "environment {environment} has no revision {number} (capstan history lists the kept ones; client.hcl's state block sets how many with `revisions`)"
    )]
    NoSuchRevision {
        /// The environment.
        environment: String,
        /// The revision number asked for.
        number: u64,
    },
    /// A revision was asked for from a directory that spans several
    /// environments, or none, without naming one.
    #[error("{why}: name the revision as <environment>/<number>, e.g. staging/3")]
    WhichEnvironment {
        /// Why the environment is not clear.
        why: String,
    },
    /// A rollback that cannot restore the past; every reason is listed.
    #[error("cannot roll back {environment} to revision {number}:\n{}", reasons.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))]
    RollbackRefused {
        /// The environment.
        environment: String,
        /// The revision asked for.
        number: u64,
        /// Each thing that cannot be restored, and why.
        reasons: Vec<String>,
    },
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
