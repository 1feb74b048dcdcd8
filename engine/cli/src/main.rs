//! The `capstan` command: the only `main`, and the only place that knows
//! clap, anyhow and the process environment. Everything it does is a thin
//! layer over capstan-run (a run) and the engine crates (the plugin and
//! bundle commands): it parses arguments, asks for confirmation and prints.

mod args;
mod commands;
mod progress;
mod report;

/// The built-in plugins, built and embedded by build.rs.
mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;

use args::{Cli, Command, ConfigCommand, PluginCommand, StateCommand};
use capstan_host::{HostConfig, PluginHost};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.no_color);
    // One TLS crypto provider for the whole binary (reqwest, PostgreSQL).
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let plain = cli.no_color;
    match &cli.command {
        Command::Validate { dir } => commands::tree::validate(dir),
        Command::Config(ConfigCommand::Show { component_dir, json }) => {
            commands::tree::config_show(component_dir, *json)
        }
        Command::Graph { dir, format } => commands::tree::graph(dir, *format),
        Command::Plan(args) => commands::run::plan(args, plain, &rt),
        Command::Apply(args) => commands::run::apply(args, plain, &rt),
        Command::Destroy(args) => commands::run::destroy(args, plain, &rt),
        Command::Init { dir, allow_unsigned } => commands::init::run(dir, *allow_unsigned),
        Command::Output { component_dir, json } => commands::state::output(component_dir, *json, &rt),
        Command::State(StateCommand::List { dir }) => commands::state::list(dir, &rt),
        Command::State(StateCommand::Show { component_dir }) => commands::state::show(component_dir, &rt),
        Command::State(StateCommand::Unlock { dir, lock_id }) => commands::state::unlock(dir, lock_id, &rt),
        Command::Plugin(PluginCommand::Inspect { file, json }) => commands::plugin::inspect(file, *json),
        Command::Plugin(PluginCommand::List { plugin_dirs, json }) => {
            commands::plugin::list(plugin_dirs, *json)
        }
        Command::Plugin(cmd) => commands::plugin::distribution(cmd),
        Command::Secrets(cmd) => commands::secrets::run(cmd),
    }
}

/// Logs go to stderr; `CAPSTAN_LOG` sets the filter (default: warnings).
fn init_logging(plain: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAPSTAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(!plain).init();
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

/// What the engine may read of the process: its environment variables and
/// where kubectl would look for kubeconfig files. Taken once per command.
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
    Ok(capstan_run::Engine::new(host()?, builtin::BUILTIN, surroundings(), progress))
}
