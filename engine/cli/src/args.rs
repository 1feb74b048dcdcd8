//! The command line, as clap sees it. Handlers live in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "capstan",
    version,
    about = "Plan and apply a platform described in HCL, one sandboxed plugin per component"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Plain output: no colours, no live display. Colour is also off when the
    /// output is not a terminal or NO_COLOR is set; the live display when
    /// stderr is not a terminal.
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every file of the tree below DIR and report every problem found.
    Validate { dir: PathBuf },
    /// Show how a component's configuration resolves.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the component dependency graph.
    Graph {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Show what apply would change, without changing anything.
    Plan(PlanArgs),
    /// Show the plan, ask, and apply it.
    Apply(ApplyArgs),
    /// Remove everything Capstan applied below DIR, in reverse dependency order.
    Destroy(DestroyArgs),
    /// Fetch, verify and lock every plugin the stack's environments need (pins included),
    /// so that plan and apply then run offline.
    Init {
        /// Any directory of the stack: the whole stack is initialised.
        dir: PathBuf,
        #[arg(long, env = "CAPSTAN_ALLOW_UNSIGNED")]
        allow_unsigned: bool,
    },
    /// Print the recorded outputs of a component.
    Output {
        component_dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Inspect or repair recorded state.
    #[command(subcommand)]
    State(StateCommand),
    /// Work with plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Encrypted secret files and keys.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// Write YAML for GitOps (Argo CD, Flux) under --out-dir. No cluster needed.
    Render,
    /// Server-side apply to the cluster of the kubeconfig kubectl would use
    /// (KUBECONFIG, else ~/.kube/config; --context, else its current context).
    Kube,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A directory of the stack: every component at or below it runs.
    pub dir: PathBuf,
    /// How many components may run at once.
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
    #[arg(long, value_enum, default_value_t = TargetKind::Render)]
    pub target: TargetKind,
    /// Where the render target writes (default: `rendered/` at the stack root).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// The kubeconfig context of the kube target (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// How long the kube target waits for one component's objects to be
    /// ready, for components whose component.hcl sets no `ready_timeout`.
    // 5m: long enough for an image pull and a rolling update of a few
    // replicas; a component that needs longer sets its own ready_timeout.
    #[arg(long, default_value = "5m", value_parser = capstan_config::parse_duration)]
    pub ready_timeout: std::time::Duration,
    /// How long to wait for the state lock held by another run.
    #[arg(long, default_value = "0s", value_parser = capstan_config::parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// Extra plugin directories, searched before the built-in plugins.
    #[arg(long = "plugin-dir")]
    pub plugin_dirs: Vec<PathBuf>,
    /// Run unsigned plugins (bundles and loose .wasm files): plugin development only.
    #[arg(long, env = "CAPSTAN_ALLOW_UNSIGNED")]
    pub allow_unsigned: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Print the plan as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Save the plan, to apply exactly it later.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 0 when there is nothing to change, 2 when there is, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// A plan saved by `capstan plan --out`; refused if the tree or state changed since.
    pub plan_file: Option<PathBuf>,
    /// Apply without asking.
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The fully resolved inputs of one component, with where each value came from.
    Show {
        component_dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// The components recorded in state.
    List { dir: PathBuf },
    /// What is recorded for one component.
    Show { component_dir: PathBuf },
    /// Release a lock left by a run that died.
    Unlock { dir: PathBuf, lock_id: String },
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Print a plugin's metadata.
    Inspect {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List the plugins this engine can find.
    List {
        #[arg(long = "plugin-dir")]
        plugin_dirs: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Pack plugin components into one bundle (metadata from each plugin's describe()).
    Pack {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The bundle file to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Publish under this publisher (default: the plugin's own, before the `/`).
        #[arg(long)]
        publisher: Option<String>,
        /// The bundle's name, `publisher/name` (needed for several components).
        #[arg(long)]
        name: Option<String>,
    },
    /// Create an ed25519 signing key: PREFIX.key (mode 0600) and PREFIX.pub.
    Keygen {
        #[arg(short = 'o', long = "output")]
        prefix: PathBuf,
    },
    /// Sign a bundle's manifest (which covers every component) in place.
    Sign {
        bundle: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
    /// Check a bundle's integrity and signature, against a key or a client.hcl's trust policy.
    Verify {
        bundle: PathBuf,
        #[arg(long, conflicts_with = "trust")]
        key: Option<PathBuf>,
        /// A client.hcl whose `trust` blocks decide.
        #[arg(long)]
        trust: Option<PathBuf>,
    },
    /// Write index.json for a directory of bundles (to serve it as an http plugin source).
    Index { dir: PathBuf },
    /// Publish a bundle to an OCI registry, under the repository of each plugin it holds.
    ///
    /// REFERENCE is the registry and prefix (`127.0.0.1:5000/acme-mirror`), or one plugin's full
    /// reference (`registry.example/acme/messaging-sqs:1.2.0`). No scheme means HTTPS, except to
    /// loopback hosts, which are plain HTTP. A login comes from CAPSTAN_REGISTRY_USERNAME and
    /// CAPSTAN_REGISTRY_PASSWORD.
    Push { bundle: PathBuf, reference: String },
    /// Resolve every plugin of the stack again, moving capstan.lock forward (never back).
    Lock {
        dir: PathBuf,
        #[arg(long, env = "CAPSTAN_ALLOW_UNSIGNED")]
        allow_unsigned: bool,
    },
    /// Like lock, but also allows moving a plugin to an older version than locked.
    Upgrade {
        dir: PathBuf,
        #[arg(long, env = "CAPSTAN_ALLOW_UNSIGNED")]
        allow_unsigned: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create an age identity and print its public recipient.
    Keygen,
    /// Set one secret; the value is read from standard input.
    Set { file: PathBuf, key: String },
    /// List a file's secrets; values only with --reveal.
    Show {
        file: PathBuf,
        #[arg(long)]
        reveal: bool,
    },
    /// Edit a file's secrets in $EDITOR.
    Edit { file: PathBuf },
    /// Add or remove a recipient on every secret file below a directory.
    #[command(subcommand)]
    Recipients(RecipientsCommand),
    /// New key pair; every secret file below DIR re-encrypted, all or nothing.
    RotateKeys { stack_dir: PathBuf },
    /// Print the identities as JSON, for backup.
    ExportKeys,
    /// Read identities exported by export-keys from standard input.
    ImportKeys,
}

#[derive(Debug, Subcommand)]
pub enum RecipientsCommand {
    Add { stack_dir: PathBuf, recipient: String },
    Remove { stack_dir: PathBuf, recipient: String },
}
