//! The `capstan` command: the only `main`, and the only place that knows
//! clap, anyhow and the process environment. Everything it does is a thin
//! layer over capstan-run (a run) and the engine crates (the plugin and
//! bundle commands): it parses arguments, asks for confirmation and prints.

mod args;
mod commands;
mod completion;
mod json;
mod otlp;
mod progress;
mod report;
mod runs;

/// The built-in plugins, built and embedded by build.rs.
mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory as _, FromArgMatches as _};

use args::{Cli, Command, ConfigCommand, HistoryArgs, HistoryCommand, PolicyCommand, StateCommand};
use capstan_host::{HostConfig, PluginHost};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match parse_args(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let stderr_colour = colour(cli.no_color, std::io::stderr().is_terminal());
    let _ = STDERR_COLOUR.set(stderr_colour);
    init_logging(stderr_colour);
    // One TLS crypto provider for the whole binary (reqwest, PostgreSQL).
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let plain = cli.no_color;
    match &cli.command {
        Command::Validate { dir, json } => commands::tree::validate(dir, *json),
        Command::Render { dir, stdout: _, secrets } => commands::tree::render_stream(dir, *secrets),
        Command::Completion { shell } => completion::print(*shell),
        Command::Config(ConfigCommand::Show { component_dir, json }) => {
            commands::tree::config_show(component_dir, *json)
        }
        Command::Graph { dir, format } => commands::tree::graph(dir, *format),
        Command::Policy(PolicyCommand::Test { dir, json }) => commands::policy::test(dir, *json),
        Command::Plan(args) => commands::run::plan(args, plain, &rt),
        Command::Apply(args) => commands::run::apply(args, plain, &rt),
        Command::Destroy(args) => commands::run::destroy(args, plain, &rt),
        Command::Init { dir, allow_unsigned } => commands::init::run(dir, *allow_unsigned),
        Command::Output { component_dir, json } => commands::state::output(component_dir, *json, &rt),
        Command::State(StateCommand::List { dir, json }) => commands::state::list(dir, *json, &rt),
        Command::State(StateCommand::Show { component_dir, json }) => {
            commands::state::show(component_dir, *json, &rt)
        }
        Command::State(StateCommand::Unlock { dir, lock_id }) => commands::state::unlock(dir, lock_id, &rt),
        Command::State(StateCommand::Push { file, dir, force, lock_timeout }) => {
            commands::state::push(file, dir, *force, *lock_timeout, &rt)
        }
        Command::State(StateCommand::Mv { from, to, target, surgery }) => {
            commands::surgery::mv(from, to, target, surgery, plain, &rt)
        }
        Command::State(StateCommand::Rm { component, surgery }) => {
            commands::surgery::rm(component, surgery, plain, &rt)
        }
        Command::State(StateCommand::Import(args)) => commands::surgery::import(args, plain, &rt),
        Command::History(HistoryArgs { command: None, dir, json }) => {
            commands::history::list(dir, *json, &rt)
        }
        Command::History(HistoryArgs {
            command: Some(HistoryCommand::Show { revision, dir, json }), ..
        }) => commands::history::show(revision, dir, *json, &rt),
        Command::Rollback(args) => commands::history::rollback(args, plain, &rt),
        Command::Plugin(cmd) => commands::plugin::distribution(cmd),
        Command::Secrets(cmd) => commands::secrets::run(cmd),
    }
}

/// Reads the command line. `--help` and `--version` print and exit 0; a
/// usage error (unknown flag, missing argument, unknown subcommand) exits 1
/// like any other error, because clap's own code for it, 2, is what
/// `plan --detailed-exitcode` means by "changes present": a CI job with a
/// typo must fail, not report changes.
fn parse_args(args: Vec<std::ffi::OsString>) -> Result<Cli, ExitCode> {
    let mut command = Cli::command();
    // `--no-color` must also reach clap's own help and error output, which
    // is written before the flag is parsed. Arguments after `--` are values.
    if args.iter().take_while(|a| *a != "--").any(|a| a == "--no-color") {
        command = command.color(clap::ColorChoice::Never);
    }
    let parsed = command
        .try_get_matches_from_mut(args)
        .and_then(|matches| Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command)))
        .and_then(|cli| match cli.command.json_without_answer() {
            None => Ok(cli),
            Some((name, message)) => {
                // The subcommand's own usage line goes with the error (an error path: the clone is cheap enough).
                let mut shown = command.find_subcommand(name).cloned().unwrap_or_else(|| command.clone());
                Err(shown.error(clap::error::ErrorKind::MissingRequiredArgument, message))
            }
        });
    parsed.map_err(|e| {
        let _ = e.print();
        ExitCode::from(if e.use_stderr() { 1 } else { 0 })
    })
}

/// Whether output to a stream may carry ANSI colour: only when it is a
/// terminal (a pipe or a CI log gets none), never with `--no-color`, and
/// never when `NO_COLOR` is set to anything non-empty (no-color.org's rule;
/// an empty value counts as unset). clap applies the same rule to its help
/// and errors by itself.
fn colour(no_color_flag: bool, stream_is_terminal: bool) -> bool {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    stream_is_terminal && !no_color_flag && !no_color_env
}

/// Whether what goes to stderr may be coloured, decided once by [`colour`].
static STDERR_COLOUR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// The configuration's diagnostics as the operator reads them on stderr:
/// each drawn with its source, in colour where stderr may have it.
pub fn diagnostics_text(found: &capstan_config::Diagnostics) -> String {
    found.render(STDERR_COLOUR.get().copied().unwrap_or(false))
}

/// A command's error on stderr: configuration diagnostics as they are drawn
/// (they say `error:` themselves), anything else as `error:` and its causes.
pub fn report_error(e: &anyhow::Error) {
    match e.downcast_ref::<capstan_run::RunError>() {
        Some(capstan_run::RunError::Config(found)) => eprint!("{}", diagnostics_text(found)),
        _ => eprintln!("error: {e:#}"),
    }
}

/// Logs go to stderr; `CAPSTAN_LOG` sets the filter (default: warnings).
fn init_logging(ansi: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAPSTAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}

/// The plugin host, with compiled plugins cached under the user's cache dir
/// (`CAPSTAN_CACHE_DIR` overrides it), so a second run compiles nothing.
pub fn host() -> anyhow::Result<Arc<PluginHost>> {
    let cache = std::env::var_os("CAPSTAN_CACHE_DIR").map(PathBuf::from).or_else(|| {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|c| c.join("capstan").join("compiled"))
    });
    let config = HostConfig { cache_dir: cache, ..HostConfig::default() };
    Ok(Arc::new(PluginHost::new(config)?))
}

/// What the engine may read of the process: its environment variables,
/// where kubectl would look for kubeconfig files, and inside a pod what its
/// in-cluster configuration comes from. Taken once per command.
pub fn surroundings() -> capstan_run::Surroundings {
    capstan_run::Surroundings {
        vars: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
        kubeconfig: capstan_kube::KubeconfigSource::from_process(),
    }
}

/// The engine, telling `progress` what happens.
pub fn engine(progress: Arc<progress::Progress>) -> anyhow::Result<capstan_run::Engine> {
    engine_in(surroundings(), progress)
}

/// The engine over given surroundings (a run's `--kubeconfig` changes them),
/// telling `events` what happens (the display, or a destroy's record of
/// what it removed around the display).
pub fn engine_in(
    surroundings: capstan_run::Surroundings,
    events: Arc<dyn capstan_run::Events>,
) -> anyhow::Result<capstan_run::Engine> {
    Ok(capstan_run::Engine::new(host()?, builtin::BUILTIN, surroundings, events))
}
