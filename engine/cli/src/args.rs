//! The command line, as clap sees it. Handlers live in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The environment variables the command reads, shown under `--help`.
// Kept beside the flags so that a new variable is documented where the
// next reader looks; a test checks that every `CAPSTAN_*` name the engine's
// sources read is listed here.
const ENVIRONMENT: &str = "\
Environment:
  CAPSTAN_LOG                log filter for stderr (default: warn; e.g. debug, capstan_kube=info)
  CAPSTAN_CACHE_DIR          where compiled plugins are cached (default: ~/.cache/capstan/compiled)
  CAPSTAN_AGE_KEY_FILE       the age identity that opens secrets (default: ~/.config/capstan/age/keys.txt)
  CAPSTAN_ALLOW_UNSIGNED     1: run unsigned plugins and `local` pins, as --allow-unsigned does
  CAPSTAN_REGISTRY_USERNAME  the login `plugin push` uses at an OCI registry
  CAPSTAN_REGISTRY_PASSWORD  the password of that login
  CAPSTAN_MANIFEST_VALIDATOR the validator script `plugin test` checks objects with (--validator overrides)
  CAPSTAN_CRDS_DIR           the CRDs that validator checks custom resources against (default: crds/ beside it)
  KUBECONFIG                 the kubeconfig files of --target kube (--kubeconfig overrides)
  KUBERNETES_SERVICE_HOST    set in a pod, with KUBERNETES_SERVICE_PORT: with no kubeconfig,
                             the kube target uses the pod's ServiceAccount (in-cluster config)
  CI                         true (or 1): plan, apply and destroy leave capstan.lock as it is,
                             as --lockfile=readonly does (--lockfile=write overrides)
  NO_COLOR                   set to anything non-empty: no colour in any output
  OTEL_EXPORTER_OTLP_ENDPOINT  plan, apply and destroy send their run report there as one
                             OpenTelemetry trace (OTLP/HTTP, JSON; also OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                             OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME)";

#[derive(Debug, Parser)]
#[command(
    name = "capstan",
    version,
    about = "Plan and apply a platform described in HCL, one sandboxed plugin per component",
    after_help = ENVIRONMENT
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

/// `--secrets` of `render`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SecretsArg {
    /// Secrets in clear.
    Plain,
    /// SOPS documents to the environment's age recipients.
    Sops,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every file of the tree below DIR and report every problem found.
    Validate {
        /// Any directory of the stack: the tree at and below it is checked.
        dir: PathBuf,
        /// Print the problems as one JSON document on stdout (see docs/json-output.md);
        /// the exit code is the same.
        #[arg(long)]
        json: bool,
    },
    /// Show how a component's configuration resolves.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the `policy` blocks of client.hcl and env.hcl on the tree's plans.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print the component dependency graph.
    Graph {
        /// A directory of the stack: the components at or below it, with their dependencies.
        dir: PathBuf,
        /// Graphviz `dot`, or a Mermaid flowchart.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Print every object below DIR as one YAML stream, for Argo CD's config
    /// management plugin: planned against nothing (no state read or written,
    /// no effects, no cluster), Secrets as the environments' `target "render"`
    /// blocks say (or --secrets).
    Render {
        /// The directory whose components are rendered (Argo CD: the application's path, `.`).
        dir: PathBuf,
        /// Write the stream to standard output (the only output `render` has;
        /// to write a directory and record state, use `apply --target render`).
        #[arg(long, required = true)]
        stdout: bool,
        /// How every environment's Secrets are written for this run: `plain` (the
        /// stream goes straight to the cluster) or `sops`.
        #[arg(long, value_enum)]
        secrets: Option<SecretsArg>,
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
        /// Accept unsigned plugins (bundles and loose .wasm files): plugin development only.
        #[arg(long, env = "CAPSTAN_ALLOW_UNSIGNED", value_parser = clap::builder::BoolishValueParser::new())]
        allow_unsigned: bool,
    },
    /// Print the recorded outputs of a component.
    Output {
        /// The component's directory (the one holding its component.hcl).
        component_dir: PathBuf,
        /// The outputs as JSON (`outputs`: name → value, sensitive ones redacted).
        #[arg(long)]
        json: bool,
    },
    /// Print the shell completion script (`capstan completion bash > /etc/bash_completion.d/capstan`).
    Completion {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Inspect or repair recorded state.
    #[command(subcommand)]
    State(StateCommand),
    /// The revisions each environment kept: one per apply that changed it.
    History(HistoryArgs),
    /// Return an environment to one of its revisions, after showing the
    /// plan of it and asking, as apply does.
    Rollback(RollbackArgs),
    /// Work with plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Encrypted secret files and keys.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

impl Command {
    /// `--json` on a command that would ask first, with no answer given:
    /// the subcommand's name and what to add. Stdout is the document, so
    /// nothing can be asked; as terraform's `-json` needs `-auto-approve`,
    /// this is a usage error. (A saved plan is applied without asking.)
    pub fn json_without_answer(&self) -> Option<(&'static str, &'static str)> {
        match self {
            Command::Apply(a) if a.json && !a.auto_approve && a.plan_file.is_none() => Some((
                "apply",
                "--json cannot ask before applying: add --auto-approve, or give a plan saved by \
                 `capstan plan --out`",
            )),
            Command::Destroy(d) if d.json && !d.auto_approve => {
                Some(("destroy", "--json cannot ask before destroying: add --auto-approve"))
            }
            Command::Rollback(r) if r.json && !r.auto_approve => {
                Some(("rollback", "--json cannot ask before rolling back: add --auto-approve"))
            }
            _ => None,
        }
    }
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
    /// (KUBECONFIG, else ~/.kube/config; --context, else its current context;
    /// in a pod without one, the pod's ServiceAccount).
    Kube,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A directory of the stack: every component at or below it runs.
    pub dir: PathBuf,
    /// How many components may run at once.
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
    #[command(flatten)]
    pub target: TargetArgs,
    /// How long the kube target waits for one component's objects to be
    /// ready, for components whose component.hcl sets no `ready_timeout`.
    // 5m: long enough for an image pull and a rolling update of a few
    // replicas; a component that needs longer sets its own ready_timeout.
    #[arg(long, default_value = "5m", value_parser = capstan_config::parse_duration)]
    pub ready_timeout: std::time::Duration,
    /// How long to wait for the state lock held by another run.
    #[arg(long, default_value = "0s", value_parser = capstan_config::parse_duration)]
    pub lock_timeout: std::time::Duration,
    #[command(flatten)]
    pub plugins: PluginArgs,
    /// List every component in the plan and the closing table, unchanged ones
    /// included (otherwise they are counted, not listed).
    #[arg(long)]
    pub verbose: bool,
}

/// How plan and apply plan: whether they read the servers of effects that
/// already ran, and reuse plugins' answers. Not on destroy and rollback,
/// which compare no effect with its server (and always reuse answers).
#[derive(Debug, Args)]
pub struct PlanningArgs {
    /// --refresh=false: do not read the servers of effects that already ran
    /// (Vault) for changes made outside Capstan; compare them with state only.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// --plan-cache=false: ask every plugin again instead of reusing the
    /// answers kept under .capstan/plan-cache/ for the same requests, and
    /// read every rendered file back instead of trusting the record of
    /// what was written (.capstan/rendered/).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub plan_cache: bool,
}

/// Where else plan, apply, destroy and rollback write their run report (see crate::runs).
#[derive(Debug, Args)]
pub struct ReportArg {
    /// Also write the run report (per component: plugin, phase timings,
    /// outcome, diagnostics) to FILE; it always goes to .capstan/runs/ at the
    /// stack root.
    #[arg(long = "report", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LockfileArg {
    /// Record a plugin not yet locked, and say so.
    Write,
    /// Refuse any change to capstan.lock, naming the plugin whose entry would change.
    Readonly,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub planning: PlanningArgs,
    #[command(flatten)]
    pub report: ReportArg,
    /// Print the plan as one JSON document on stdout (see docs/json-output.md).
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
    #[command(flatten)]
    pub planning: PlanningArgs,
    #[command(flatten)]
    pub report: ReportArg,
    /// A plan saved by `capstan plan --out`; refused if the tree or state changed since.
    pub plan_file: Option<PathBuf>,
    /// Apply without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Print the outcome as one JSON document on stdout (see docs/json-output.md); needs
    /// --auto-approve or a saved plan, since nothing can be asked.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub report: ReportArg,
    /// Destroy without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Print the outcome as one JSON document on stdout (see docs/json-output.md); needs
    /// --auto-approve, since nothing can be asked.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
    /// Any directory of the stack: the revisions of the environments at or
    /// below it (or of the one it is in) are listed.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The list as one JSON document on stdout (see docs/json-output.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// One revision: who applied what, when, and each component's objects.
    Show {
        /// `<environment>/<number>`, or the number alone inside one environment.
        revision: String,
        /// Any directory of the stack.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The revision as one JSON document on stdout (see docs/json-output.md).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The revision to return to: `<environment>/<number>`, or the number
    /// alone when the directory is inside one environment.
    #[arg(long)]
    pub to: String,
    #[command(flatten)]
    pub report: ReportArg,
    /// Roll back without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Print the rollback as one JSON document on stdout (see
    /// docs/json-output.md); needs --auto-approve, since nothing can be asked.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The fully resolved inputs of one component, with where each value came from.
    Show {
        /// The component's directory (the one holding its component.hcl).
        component_dir: PathBuf,
        /// The resolved inputs and their origins as one JSON document (see docs/json-output.md).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Plan every component at or below DIR against nothing (no state, no
    /// cluster, no effect) and check it with the policies that match it:
    /// every violation with the HCL that caused it. Exit 1 when an enforcing
    /// policy refuses a component.
    Test {
        /// Any directory of the stack: the components at and below it are checked.
        dir: PathBuf,
        /// The findings as one JSON document on stdout (see docs/json-output.md);
        /// the exit code is the same.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// The components recorded in state.
    List {
        /// Any directory of the stack: its state backend is read.
        dir: PathBuf,
        /// The list as one JSON document on stdout (see docs/json-output.md).
        #[arg(long)]
        json: bool,
    },
    /// What is recorded for one component.
    Show {
        /// The component's directory (the one holding its component.hcl).
        component_dir: PathBuf,
        /// The record inside one versioned JSON document (see docs/json-output.md).
        #[arg(long)]
        json: bool,
    },
    /// Release a lock a run still holds. PostgreSQL state: ends that run's
    /// database session (a run that died lets go by itself once the server
    /// notices). Local state: the lock is the OS's and goes with its process,
    /// so this refuses a live holder (stop the process instead) and only
    /// clears the record a killed run left.
    Unlock {
        /// Any directory of the stack whose state is locked.
        dir: PathBuf,
        /// The lock's ID, as the error of the refused run printed it.
        lock_id: String,
    },
    /// Store a state file (the errored.capstanstate an apply saved when its
    /// backend would not take the state) in the stack's backend, under the
    /// lock, after showing what it replaces. Refuses a file of another
    /// lineage (another stack) or older than the stored state unless --force.
    Push {
        /// The state file.
        #[arg(value_parser = existing_file)]
        file: PathBuf,
        /// Any directory of the stack whose state it is.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Store it even from another lineage or older than what is stored.
        #[arg(long)]
        force: bool,
        /// How long to wait for the state lock held by another run.
        #[arg(long, default_value = "0s", value_parser = capstan_config::parse_duration)]
        lock_timeout: std::time::Duration,
    },
    /// Give a component's record to the component its directory moved to,
    /// so that its objects keep their place instead of being deleted and
    /// created again: the render target's files move to the new directory;
    /// with --target kube the live objects are marked with the new key.
    /// Shows what changes and asks; saves a backup of the state first.
    Mv {
        /// Where the component was: its old directory (gone by now) or its key
        /// as `capstan state list` shows it (envs/<env>/<namespace>/<name>).
        from: PathBuf,
        /// The component's directory now (move the directory first).
        to: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        surgery: SurgeryArgs,
    },
    /// Forget a component without deleting anything it applied: its objects
    /// stay where they are and no later run removes them. Shows them and
    /// asks; saves a backup of the state first.
    Rm {
        /// The component's directory (it may be gone) or its key as
        /// `capstan state list` shows it.
        component: PathBuf,
        #[command(flatten)]
        surgery: SurgeryArgs,
    },
    /// Record a component whose objects already exist in the target (made by
    /// hand, by another tool, or forgotten by `state rm`), as Helm's
    /// --take-ownership adopts them: plans it, shows the plan and what is
    /// adopted, asks, saves a backup of the state, and records it without
    /// applying anything. Every object its plugin plans must exist; its
    /// effects are not recorded as run, so the next apply runs them.
    Import(ImportArgs),
}

/// `capstan state import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The component's directory (the one holding its component.hcl).
    pub component_dir: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub plugins: PluginArgs,
    #[command(flatten)]
    pub surgery: SurgeryArgs,
}

/// Which plugins a run may load beyond the stack's own sources, and whether
/// it may change capstan.lock.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// Extra plugin directories, searched before the built-in plugins.
    #[arg(long = "plugin-dir")]
    pub dirs: Vec<PathBuf>,
    /// Run unsigned plugins (bundles, loose .wasm files and the builds an
    /// env.hcl pins to "local"): plugin development only.
    #[arg(long, env = "CAPSTAN_ALLOW_UNSIGNED", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_unsigned: bool,
    /// Whether this run may record new plugins in capstan.lock (default:
    /// write, or readonly when CI=true).
    #[arg(long, value_enum, value_name = "MODE")]
    pub lockfile: Option<LockfileArg>,
}

/// Where a run's objects are: the target and how to reach it.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Where the plan is carried out.
    #[arg(long = "target", value_name = "TARGET", value_enum, default_value_t = TargetKind::Render)]
    pub kind: TargetKind,
    /// Where the render target writes (default: each environment's `target
    /// "render"` out_dir, else `rendered/` at the stack root).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// The kubeconfig context of the kube target (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// The kubeconfig file of the kube target, instead of the files KUBECONFIG
    /// lists (or ~/.kube/config).
    #[arg(long, value_name = "FILE", value_parser = existing_file)]
    pub kubeconfig: Option<PathBuf>,
}

/// How state surgery asks and waits.
#[derive(Debug, Args)]
pub struct SurgeryArgs {
    /// Change the state without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// How long to wait for the state lock held by another run.
    #[arg(long, default_value = "0s", value_parser = capstan_config::parse_duration)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Print a plugin's metadata.
    Inspect {
        /// A plugin component (.wasm), a bundle (every component in it), or a plugin's name
        /// (`capstan/app`) as `plugin list` shows it.
        plugin: String,
        /// Extra plugin directories a name is looked up in, before the built-in plugins.
        #[arg(long = "plugin-dir")]
        plugin_dirs: Vec<PathBuf>,
        /// The metadata as JSON: `plugins`, one per component of a bundle.
        #[arg(long)]
        json: bool,
    },
    /// List the plugins this engine can find.
    List {
        /// Extra plugin directories, searched before the built-in plugins.
        #[arg(long = "plugin-dir")]
        plugin_dirs: Vec<PathBuf>,
        /// The list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the conformance kit of a plugin's component type over it; exits 1 when a check fails.
    Test {
        /// A plugin component (.wasm), a bundle (every component in it), or a plugin's name
        /// (`capstan/app`) as `plugin list` shows it.
        plugin: String,
        /// Run the kit of this component type instead of the plugin's own.
        #[arg(long = "type", value_name = "TYPE")]
        kit_type: Option<String>,
        /// Extra plugin directories a name is looked up in, before the built-in plugins.
        #[arg(long = "plugin-dir")]
        plugin_dirs: Vec<PathBuf>,
        /// The manifest validator script (default: $CAPSTAN_MANIFEST_VALIDATOR, else this
        /// repository's tests/validate_manifests.py).
        #[arg(long, value_name = "FILE")]
        validator: Option<PathBuf>,
        /// The report as JSON: `reports`, one per component of a bundle.
        #[arg(long)]
        json: bool,
    },
    /// Pack plugin components into one bundle (metadata from each plugin's describe()).
    Pack {
        /// The plugin components (.wasm) to pack.
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
        /// Run the conformance kit over each component first and record its result in the
        /// manifest (which `plugin sign` then covers and `plugin verify` shows).
        #[arg(long)]
        test: bool,
    },
    /// Create an ed25519 signing key: PREFIX.key (mode 0600) and PREFIX.pub.
    Keygen {
        /// The path prefix of the two key files.
        #[arg(short = 'o', long = "output")]
        prefix: PathBuf,
    },
    /// Sign a bundle's manifest (which covers every component) in place.
    Sign {
        /// The bundle to sign.
        bundle: PathBuf,
        /// The private key (PREFIX.key of `plugin keygen`).
        #[arg(long)]
        key: PathBuf,
    },
    /// Check a bundle's integrity and signature, against a key or a client.hcl's trust policy.
    Verify {
        /// The bundle to check.
        bundle: PathBuf,
        /// The public key (PREFIX.pub of `plugin keygen`) the signature must be from.
        #[arg(long, conflicts_with = "trust")]
        key: Option<PathBuf>,
        /// A client.hcl whose `trust` blocks decide.
        #[arg(long)]
        trust: Option<PathBuf>,
    },
    /// Write index.json for a directory of bundles (to serve it as an http plugin source).
    Index {
        /// The directory of bundles; index.json is written into it.
        dir: PathBuf,
    },
    /// Publish a bundle to an OCI registry, under the repository of each plugin it holds.
    ///
    /// REFERENCE is the registry and prefix (`127.0.0.1:5000/acme-mirror`), or one plugin's full
    /// reference (`registry.example/acme/messaging-sqs:1.2.0`). No scheme means HTTPS, except to
    /// loopback hosts, which are plain HTTP. A login comes from CAPSTAN_REGISTRY_USERNAME and
    /// CAPSTAN_REGISTRY_PASSWORD.
    Push {
        /// The bundle to publish.
        bundle: PathBuf,
        /// Where to: `host[/prefix]`, or `host[/prefix]/publisher/name:version`.
        reference: String,
    },
    /// Start a plugin in a new directory: a Rust crate (a component plugin or a policy) or a
    /// Python policy, with its tests and a README of the steps to a signed bundle.
    ///
    /// The SDK is not published, so the plugin depends on a Capstan checkout's sdk/ by path:
    /// the one this capstan was built from unless --sdk says another.
    New {
        /// The plugin's name, `publisher/name` (`acme/cache-redis`).
        name: String,
        /// The component type it is a backend for (a type of your own, such as `cache`), or
        /// `policy`.
        #[arg(long = "type", value_name = "TYPE")]
        kind: String,
        /// The language: rust, or python (policies only).
        #[arg(long, value_enum)]
        lang: crate::commands::scaffold::Lang,
        /// Where to create it (default: ./<name after the `/`>); it must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A Capstan checkout's sdk/ directory to depend on (default: the checkout this capstan
        /// was built from).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Build the plugin in DIR into a .wasm component, as Capstan builds its own; prints its path.
    ///
    /// A Rust crate: cargo build --target wasm32-wasip2 --profile plugin, with the built-in
    /// plugins' linker settings. A Python policy (capstan-plugin.toml): python3 -m
    /// capstan_sdk.build with the SDK on PYTHONPATH.
    Build {
        /// The plugin's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Resolve every plugin of the stack again, moving capstan.lock forward (never back).
    Lock {
        /// Any directory of the stack: every environment's plugins are resolved.
        dir: PathBuf,
        /// Accept unsigned plugins (bundles and loose .wasm files): plugin development only.
        #[arg(long, env = "CAPSTAN_ALLOW_UNSIGNED", value_parser = clap::builder::BoolishValueParser::new())]
        allow_unsigned: bool,
    },
    /// Like lock, but also allows moving a plugin to an older version than locked.
    Upgrade {
        /// Any directory of the stack: every environment's plugins are resolved.
        dir: PathBuf,
        /// Accept unsigned plugins (bundles and loose .wasm files): plugin development only.
        #[arg(long, env = "CAPSTAN_ALLOW_UNSIGNED", value_parser = clap::builder::BoolishValueParser::new())]
        allow_unsigned: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create an age identity and print its public recipient.
    Keygen,
    /// Set one secret; the value is read from standard input.
    Set {
        /// The encrypted secret file (created when missing).
        file: PathBuf,
        /// The secret's name in the file.
        key: String,
    },
    /// List a file's secrets; values only with --reveal.
    Show {
        /// The encrypted secret file.
        file: PathBuf,
        /// Print the decrypted values too.
        #[arg(long)]
        reveal: bool,
    },
    /// Edit a file's secrets in $EDITOR.
    Edit {
        /// The encrypted secret file.
        file: PathBuf,
    },
    /// Add or remove a recipient on every secret file below a directory.
    #[command(subcommand)]
    Recipients(RecipientsCommand),
    /// New key pair; every secret file below DIR re-encrypted, all or nothing.
    RotateKeys {
        /// The stack directory whose secret files are re-encrypted.
        stack_dir: PathBuf,
    },
    /// Print the identities as JSON, for backup.
    ExportKeys,
    /// Read identities exported by export-keys from standard input.
    ImportKeys,
}

#[derive(Debug, Subcommand)]
pub enum RecipientsCommand {
    /// Let one more key open every secret file below STACK_DIR.
    Add {
        /// The stack directory whose secret files are re-encrypted.
        stack_dir: PathBuf,
        /// The age recipient (`age1…`) to add.
        recipient: String,
    },
    /// Stop a key from opening the secret files below STACK_DIR (re-encrypted without it).
    Remove {
        /// The stack directory whose secret files are re-encrypted.
        stack_dir: PathBuf,
        /// The age recipient (`age1…`) to remove.
        recipient: String,
    },
}

/// `--kubeconfig` names a file that exists: a typo is a usage error, not a
/// kubeconfig search that silently finds nothing.
fn existing_file(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    if path.is_file() { Ok(path) } else { Err("no such file".into()) }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    /// Every subcommand has a summary and every argument, flag and
    /// positional its help text, so `--help` never shows a bare name.
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(format!("{name} (the command)"));
                }
                walk(sub, &name, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "capstan", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }
}
