//! Where a run's report goes when plan, apply or destroy ends: beside the
//! state in `.capstan/runs/<id>.json` at the stack root (always, when a root
//! was found), to the file `--report` names, and, when the operator sets an
//! OTLP endpoint, to a trace collector ([`crate::otlp`]).
//!
//! Only the file the operator asked for can fail the command: the run is
//! over, and a full disk under `.capstan/` or a collector that is down is a
//! warning, not a reason to report a good apply as failed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use capstan_run::report::RunRecorder;

use crate::otlp::Exporter;

/// Writes and sends the report of `command` on `dir`, whose run ended with
/// `result`, also to `asked` (`--report`), and returns `result`, or the
/// error of writing `asked` when the run itself succeeded.
pub fn save(
    recorder: &RunRecorder,
    command: &str,
    dir: &Path,
    asked: Option<&Path>,
    result: anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    let report = recorder.finish(command, dir, result.as_ref().err().map(|e| format!("{e:#}")));
    if let Some(root) = &report.stack_root {
        let file = report.file_in(root);
        if let Err(e) = report.write(&file) {
            eprintln!("warning: could not write the run report {}: {e}", file.display());
        }
    }
    match Exporter::from_vars(|name| std::env::var(name).ok()) {
        Ok(None) => {}
        Ok(Some(exporter)) => {
            if let Err(e) = exporter.export(&report) {
                eprintln!("warning: could not send the run's trace to {}: {e:#}", exporter.url);
            }
        }
        Err(e) => eprintln!("warning: the run's trace was not sent: {e:#}"),
    }
    let asked = match asked {
        Some(file) => {
            report.write(file).with_context(|| format!("writing the run report to {}", file.display()))
        }
        None => Ok(()),
    };
    match (result, asked) {
        (Ok(_), Err(e)) => Err(e),
        (Err(e), Err(also)) => {
            eprintln!("warning: {also:#}");
            Err(e)
        }
        (result, Ok(())) => result,
    }
}
