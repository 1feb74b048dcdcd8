//! What the operator sees while components run: a live display on a
//! terminal, one line per event otherwise (CI logs, pipes, `--no-color`).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use capstan_run::{Events, Notice, Phase};

pub struct Progress {
    started: Instant,
    mode: Mode,
}

enum Mode {
    Quiet,
    Lines(Mutex<std::io::Stderr>),
    Live { bars: MultiProgress, active: Mutex<BTreeMap<String, (ProgressBar, Instant)>> },
}

impl Progress {
    /// Live when stderr is a terminal and `--no-color` is not given; plain
    /// lines otherwise. The live display draws no colour (only cursor
    /// movement), so `NO_COLOR` leaves it on.
    pub fn new(plain: bool) -> Self {
        let live = !plain && std::io::stderr().is_terminal();
        let mode = if live {
            Mode::Live {
                bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                active: Mutex::new(BTreeMap::new()),
            }
        } else {
            Mode::Lines(Mutex::new(std::io::stderr()))
        };
        Self { started: Instant::now(), mode }
    }

    /// No progress at all (machine-readable output on stdout is enough).
    pub fn quiet() -> Self {
        Self { started: Instant::now(), mode: Mode::Quiet }
    }

    fn update(&self, component: &str, phase: Phase, detail: Option<&str>) {
        let detail = detail.map(|d| format!(": {d}")).unwrap_or_default();
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines(err) => {
                // One write per line: stderr is unbuffered, and a formatted
                // `writeln!` would issue one system call per piece.
                let line =
                    format!("[{:>7}] {component}: {}{detail}\n", secs(self.started.elapsed()), phase.word());
                if let Ok(mut err) = err.lock() {
                    let _ = err.write_all(line.as_bytes());
                }
            }
            Mode::Live { bars, active } => {
                let Ok(mut active) = active.lock() else { return };
                if phase.finished() {
                    let since = active.remove(component).map(|(bar, since)| {
                        bar.finish_and_clear();
                        bars.remove(&bar);
                        since
                    });
                    let took = since.map(|s| format!(" ({})", secs(s.elapsed()))).unwrap_or_default();
                    let _ = bars.println(format!("{component}: {}{took}{detail}", phase.word()));
                } else {
                    let (bar, _) = active.entry(component.to_string()).or_insert_with(|| {
                        let bar = bars.add(ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template("{spinner} {prefix} {msg} [{elapsed}]")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bar.set_prefix(component.to_string());
                        (bar, Instant::now())
                    });
                    bar.set_message(format!("{}{detail}", phase.word()));
                }
            }
        }
    }
}

impl Events for Progress {
    fn phase(&self, component: &str, phase: Phase, detail: Option<&str>) {
        self.update(component, phase, detail);
    }

    /// Notices go to stderr whatever the display (`--json` included).
    fn notice(&self, notice: &Notice) {
        match notice {
            Notice::UnsignedAllowed => eprintln!(
                "WARNING: --allow-unsigned: unsigned plugins will run. Nothing vouches for their code; \
                 use this only while developing a plugin."
            ),
            Notice::LocalBuild { plugin, version, file } => eprintln!(
                "note: {plugin} {version} runs from the local build {} (an env.hcl pins it to \"local\"): \
                 not signed, not locked",
                file.display()
            ),
            Notice::Locked { plugin, version, signer, lock } => eprintln!(
                "note: {plugin} {version} (signed by {signer}) recorded in {}: later runs use exactly this \
                 bundle; review and commit it",
                lock.display()
            ),
            Notice::ObjectKept { component, object, why } => {
                eprintln!("warning: {component}: kept {object}: {why}")
            }
            Notice::TargetOverridden { environment, what, configured, given } => eprintln!(
                "WARNING: environment {environment}: {what} is {given} for this run, not {configured} \
                 as its target block says"
            ),
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}
