//! `capstan completion <shell>`: the shell's completion script for every
//! command and flag, generated from the same clap definition that parses
//! the command line, so it cannot fall behind it. It completes names only;
//! it does not ask the engine for component directories or plugin names.

use std::io::Write as _;
use std::process::ExitCode;

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::args::Cli;

/// Writes the completion script for `shell` to stdout.
pub fn print(shell: Shell) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "capstan", &mut script);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&script)?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
