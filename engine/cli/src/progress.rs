//! What the operator sees while components run: a live display on a
//! terminal, one line per event otherwise (CI logs, pipes, `--no-color`).
//!
//! The live display is one line for the step under way (planning,
//! applying, removing: how many of how many components are done, how many
//! failed, for how long) and under it the few components in flight. Only
//! failures, notices and the line each step ends with stay in the
//! scrollback, so a run of 5,000 components leaves a screenful, not 5,000
//! lines. It draws nothing while no step is under way: the command prints
//! the plan and the closing table between steps.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{HumanCount, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use capstan_config::Stack;
use capstan_run::{Events, Notice, Phase};

/// The components in flight the live display lists under the step's line;
/// any more are only counted on it.
// Eight: twice the default --parallelism, and still a glance. A larger
// --parallelism gets a count, not a screen that scrolls.
const SHOWN_IN_FLIGHT: usize = 8;

/// How often the spinner and the elapsed times move.
const TICK: Duration = Duration::from_millis(120);

pub struct Progress {
    started: Instant,
    mode: Mode,
}

enum Mode {
    Quiet,
    Lines(Mutex<std::io::Stderr>),
    Live(Live),
}

/// A step of a run, as the live display counts it.
pub enum Step<'a> {
    /// Planning the components of the stack the command targets. Their
    /// dependencies outside it are planned too, quietly (the engine says
    /// when one starts, and nothing when it ends), so the display follows
    /// only the target.
    Planning(&'a Stack),
    /// Applying this many components (those planned with changes; one
    /// that is only recorded counts when it starts).
    Applying(usize),
    /// Removing this many components.
    Removing(usize),
}

impl Progress {
    /// Live when stderr is a terminal and `--no-color` is not given; plain
    /// lines otherwise. The live display draws no colour (only cursor
    /// movement), so `NO_COLOR` leaves it on.
    pub fn new(plain: bool) -> Self {
        let live = !plain && std::io::stderr().is_terminal();
        let mode = if live {
            Mode::Live(Live {
                bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                step: Mutex::new(None),
            })
        } else {
            Mode::Lines(Mutex::new(std::io::stderr()))
        };
        Self { started: Instant::now(), mode }
    }

    /// No progress at all (machine-readable output on stdout is enough).
    pub fn quiet() -> Self {
        Self { started: Instant::now(), mode: Mode::Quiet }
    }

    /// Runs `work`, the live display counting `step` meanwhile; once it
    /// returns the display is cleared, leaving the step's last line, so
    /// that what the command prints next is not drawn over. Plain lines
    /// are the same with or without it.
    pub fn during<T>(&self, step: Step<'_>, work: impl FnOnce() -> T) -> T {
        let Mode::Live(live) = &self.mode else { return work() };
        let (what, total, outside) = match step {
            Step::Planning(stack) => {
                let outside: BTreeSet<String> =
                    stack.components.iter().filter(|(_, c)| !c.in_target).map(|(k, _)| k.clone()).collect();
                ("planning", stack.components.len() - outside.len(), outside)
            }
            Step::Applying(n) => ("applying", n, BTreeSet::new()),
            Step::Removing(n) => ("removing", n, BTreeSet::new()),
        };
        live.begin(what, total, outside);
        // Ended on the way out, a panic's included: the next thing written
        // must not land inside the live area.
        let _end = EndStep(live);
        work()
    }

    fn update(&self, component: &str, phase: Phase, detail: Option<&str>) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines(err) => {
                let detail = detail.map(|d| format!(": {d}")).unwrap_or_default();
                // One write per line: stderr is unbuffered, and a formatted
                // `writeln!` would issue one system call per piece.
                let line =
                    format!("[{:>7}] {component}: {}{detail}\n", secs(self.started.elapsed()), phase.word());
                if let Ok(mut err) = err.lock() {
                    let _ = err.write_all(line.as_bytes());
                }
            }
            Mode::Live(live) => live.update(component, phase, detail),
        }
    }

    /// A line for the operator, above the live display when there is one.
    fn say(&self, line: &str) {
        match &self.mode {
            Mode::Live(live) => live.bars.suspend(|| eprintln!("{line}")),
            Mode::Quiet | Mode::Lines(_) => eprintln!("{line}"),
        }
    }
}

impl Events for Progress {
    fn phase(&self, component: &str, phase: Phase, detail: Option<&str>) {
        self.update(component, phase, detail);
    }

    /// Notices go to stderr whatever the display (`--json` included).
    fn notice(&self, notice: &Notice) {
        let line = match notice {
            Notice::UnsignedAllowed => {
                "WARNING: --allow-unsigned: unsigned plugins will run. Nothing vouches \
                                        for their code; use this only while developing a plugin."
                    .to_string()
            }
            Notice::LocalBuild { plugin, version, file } => format!(
                "note: {plugin} {version} runs from the local build {} (an env.hcl pins it to \"local\"): \
                 not signed, not locked",
                file.display()
            ),
            Notice::Locked { plugin, version, signer, lock } => format!(
                "note: {plugin} {version} (signed by {signer}) recorded in {}: later runs use exactly this \
                 bundle; review and commit it",
                lock.display()
            ),
            Notice::ObjectKept { component, object, why } => {
                format!("warning: {component}: kept {object}: {why}")
            }
            Notice::TargetOverridden { environment, what, configured, given } => format!(
                "WARNING: environment {environment}: {what} is {given} for this run, not {configured} \
                 as its target block says"
            ),
        };
        self.say(&line);
    }
}

/// The live display: the step under way, if any, drawn on stderr.
struct Live {
    bars: MultiProgress,
    step: Mutex<Option<StepShown>>,
}

/// One step's count and its lines on the terminal.
struct StepShown {
    what: &'static str,
    started: Instant,
    /// How many components the step is expected to finish; grows when more
    /// start than were expected.
    total: usize,
    finished: usize,
    failed: usize,
    /// Components whose planning the display does not follow (outside the target).
    outside: BTreeSet<String>,
    /// The overall line.
    line: ProgressBar,
    /// The components started and not finished: when each started, and
    /// its line while it is one of the [`SHOWN_IN_FLIGHT`] listed.
    in_flight: BTreeMap<String, InFlight>,
}

struct InFlight {
    since: Instant,
    doing: String,
    line: Option<ProgressBar>,
}

/// Ends the live display's step when dropped.
struct EndStep<'a>(&'a Live);

impl Drop for EndStep<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, Option<StepShown>> {
        self.step.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn begin(&self, what: &'static str, total: usize, outside: BTreeSet<String>) {
        self.end();
        *self.lock() = Some(self.step(what, total, outside));
    }

    fn step(&self, what: &'static str, total: usize, outside: BTreeSet<String>) -> StepShown {
        let line = self.bars.add(ProgressBar::new(total as u64));
        line.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:30}] {human_pos}/{human_len}{msg} ({elapsed})",
            )
            .map(|s| s.progress_chars("#>-"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        line.set_prefix(what);
        line.enable_steady_tick(TICK);
        StepShown {
            what,
            started: Instant::now(),
            total,
            finished: 0,
            failed: 0,
            outside,
            line,
            in_flight: BTreeMap::new(),
        }
    }

    fn update(&self, component: &str, phase: Phase, detail: Option<&str>) {
        let mut step = self.lock();
        // Events outside any step (none today) get a step of their own,
        // counted as they come and ended with the display.
        let step = step.get_or_insert_with(|| self.step("working", 0, BTreeSet::new()));
        if phase.finished() {
            let since = step.in_flight.remove(component).map(|f| {
                if let Some(line) = f.line {
                    self.drop_line(&line);
                }
                f.since
            });
            // A dependency outside the target counts only when it fails
            // (its dependents in the target will not run).
            if !step.outside.contains(component) {
                step.finished += 1;
            }
            if phase == Phase::Failed {
                step.failed += 1;
                // Above the live area, where it stays.
                let took = since.map(|s| format!(" after {}", secs(s.elapsed()))).unwrap_or_default();
                let detail = detail.map(|d| format!(": {d}")).unwrap_or_default();
                let _ = self.bars.println(format!("{component}: failed{took}{detail}"));
            }
            self.list_waiting(step);
        } else {
            if phase == Phase::Planning && step.outside.contains(component) {
                return;
            }
            let doing = detail.unwrap_or(phase.word()).to_string();
            let listed = step.in_flight.values().filter(|f| f.line.is_some()).count();
            let flight = step.in_flight.entry(component.to_string()).or_insert_with(|| InFlight {
                since: Instant::now(),
                doing: String::new(),
                line: None,
            });
            flight.doing = doing;
            match &flight.line {
                Some(line) => line.set_message(flight.doing.clone()),
                None if listed < SHOWN_IN_FLIGHT => {
                    flight.line = Some(self.component_line(component, flight))
                }
                None => {}
            }
        }
        step.total = step.total.max(step.finished + step.in_flight.len());
        self.draw_count(step);
    }

    /// Lists the longest-waiting components in flight that have no line,
    /// while there is room.
    fn list_waiting(&self, step: &mut StepShown) {
        let mut listed = step.in_flight.values().filter(|f| f.line.is_some()).count();
        while listed < SHOWN_IN_FLIGHT {
            let Some((key, flight)) =
                step.in_flight.iter_mut().filter(|(_, f)| f.line.is_none()).min_by_key(|(_, f)| f.since)
            else {
                break;
            };
            flight.line = Some(self.component_line(key, flight));
            listed += 1;
        }
    }

    fn component_line(&self, component: &str, flight: &InFlight) -> ProgressBar {
        let line = self.bars.add(ProgressBar::new_spinner().with_elapsed(flight.since.elapsed()));
        line.set_style(
            ProgressStyle::with_template("  {prefix} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        line.set_prefix(component.to_string());
        line.set_message(flight.doing.clone());
        line.enable_steady_tick(TICK);
        line
    }

    fn drop_line(&self, line: &ProgressBar) {
        line.finish_and_clear();
        self.bars.remove(line);
    }

    fn draw_count(&self, step: &StepShown) {
        let unlisted = step.in_flight.values().filter(|f| f.line.is_none()).count();
        let mut msg = String::new();
        if unlisted > 0 {
            msg.push_str(&format!(" · {unlisted} more in flight"));
        }
        if step.failed > 0 {
            msg.push_str(&format!(" · {} failed", step.failed));
        }
        step.line.set_length(step.total as u64);
        step.line.set_position(step.finished as u64);
        step.line.set_message(msg);
    }

    /// Clears the live area and leaves the step's last line in its place.
    fn end(&self) {
        let Some(step) = self.lock().take() else { return };
        for line in step.in_flight.values().filter_map(|f| f.line.as_ref()) {
            self.drop_line(line);
        }
        self.drop_line(&step.line);
        let _ = self.bars.clear();
        if step.total == 0 {
            return;
        }
        let failed = if step.failed > 0 { format!(", {} failed", step.failed) } else { String::new() };
        let line = format!(
            "{}: {}/{} done{failed} ({})",
            step.what,
            HumanCount(step.finished as u64),
            HumanCount(step.total as u64),
            secs(step.started.elapsed())
        );
        self.bars.suspend(|| eprintln!("{line}"));
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.end();
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}
