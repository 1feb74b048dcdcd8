//! The run report: what a plan, apply or destroy did to each component, how
//! long each phase took and how it ended, as one document a front end
//! writes beside the state (and may send on as a trace).
//!
//! [`RunRecorder`] sits between the session and the front end's [`Events`]:
//! it stamps each phase and step it is told of with the run's clock and
//! passes the event on unchanged, so the display and the report see the same
//! run. The front end then hands it the outcomes ([`RunRecorder::planned`],
//! [`RunRecorder::applied`], [`RunRecorder::destroyed`]) and takes the
//! [`Report`]. Nothing here holds a value a plugin saw: only keys, plugin
//! builds, timings and the error and warning texts the front end shows,
//! which the engine has already redacted. Object contents never enter it.

use std::collections::BTreeMap;
use std::hash::{BuildHasher as _, Hasher as _, RandomState};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde::{Serialize, Serializer};

use capstan_plan::{ApplyStep, ComponentError, ComponentPlanned, InputProblem, Outcome, PolicyFinding};

use crate::events::{Events, Notice, Phase};
use crate::rollback::StepChange;
use crate::session::{Applied, Plan, Session};

/// The version of the report's shape; as for the `--json` documents, a field
/// is never renamed or removed under the same version.
pub const FORMAT_VERSION: &str = "1";

/// A timed phase of one component's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The plugin's `validate` and `plan` (its first use loads the plugin),
    /// the contract and policy checks, the diff against the target.
    Plan,
    /// The effects that run (SQL, broker and AWS calls).
    Effects,
    /// The plugin asked again with the effects' results.
    Replan,
    /// Objects written to the target, and pruned.
    Apply,
    /// Waiting until the plugin calls each object ready.
    Readiness,
    /// What was applied turned into its state record and stored.
    Record,
    /// A destroy removing what the component applied.
    Remove,
}

impl From<ApplyStep> for Step {
    fn from(step: ApplyStep) -> Self {
        match step {
            ApplyStep::Effects => Step::Effects,
            ApplyStep::Replan => Step::Replan,
            ApplyStep::Objects => Step::Apply,
            ApplyStep::Readiness => Step::Readiness,
            ApplyStep::Record => Step::Record,
        }
    }
}

impl Step {
    /// The name the report and the trace give it.
    pub fn name(self) -> &'static str {
        match self {
            Step::Plan => "plan",
            Step::Effects => "effects",
            Step::Replan => "replan",
            Step::Apply => "apply",
            Step::Readiness => "readiness",
            Step::Record => "record",
            Step::Remove => "remove",
        }
    }
}

/// One phase of a component: when it started, counted from the start of the
/// run, and how long it took (milliseconds in the document, to the microsecond).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseTime {
    /// Which phase.
    pub phase: Step,
    /// From the start of the run.
    #[serde(rename = "start_ms", serialize_with = "millis")]
    pub start: Duration,
    /// How long it took.
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
}

/// How a component ended in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentOutcome {
    /// Planned, with changes to make (a plan, or an apply that did not go ahead).
    Planned,
    /// Nothing to change.
    Unchanged,
    /// Applied (or recorded) and stored in state.
    Applied,
    /// Its objects removed: destroyed, or gone from the tree.
    Removed,
    /// Its plan, apply or removal failed (`failed_phase` says where).
    Failed,
    /// Not run: a dependency failed, or the run stopped first.
    Skipped,
}

impl ComponentOutcome {
    /// The word the report gives it.
    pub fn word(self) -> &'static str {
        match self {
            ComponentOutcome::Planned => "planned",
            ComponentOutcome::Unchanged => "unchanged",
            ComponentOutcome::Applied => "applied",
            ComponentOutcome::Removed => "removed",
            ComponentOutcome::Failed => "failed",
            ComponentOutcome::Skipped => "skipped",
        }
    }
}

/// The plugin build that ran a component; `version` and `digest` are
/// unknown when it failed before its plugin was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginBuild {
    /// E.g. `capstan/app`.
    pub name: String,
    /// The exact version that ran.
    pub version: Option<String>,
    /// The digest of its wasm.
    pub digest: Option<String>,
}

impl From<&capstan_state::PluginRef> for PluginBuild {
    fn from(p: &capstan_state::PluginRef) -> Self {
        Self { name: p.name.clone(), version: Some(p.version.clone()), digest: Some(p.digest.clone()) }
    }
}

/// One component of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentReport {
    /// The component's key, e.g. `envs/staging/api`.
    pub component: String,
    /// The plugin that ran it (or would have).
    pub plugin: Option<PluginBuild>,
    /// The plugin was not called: its answer to the same request came
    /// from the plan cache (`.capstan/plan-cache/`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub answer_cached: bool,
    /// How it ended.
    pub outcome: ComponentOutcome,
    /// The phase it failed in, when it failed.
    pub failed_phase: Option<Step>,
    /// Why it failed or was skipped, as the front end shows it.
    pub error: Option<String>,
    /// Its phases, in the order they ran.
    pub phases: Vec<PhaseTime>,
    /// The plugin's warnings (of `validate` and of its plan).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<InputProblem>,
    /// What the policies found that did not block it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policy_findings: Vec<PolicyFinding>,
}

/// How the whole run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// No component failed or was skipped, and the run did not stop.
    Succeeded,
    /// A component failed or was skipped, or the run stopped with an error.
    Failed,
}

impl RunOutcome {
    /// The word the report gives it.
    pub fn word(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
        }
    }
}

/// The report of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`FORMAT_VERSION`].
    pub format_version: &'static str,
    /// Sortable by time and unique: `20261207T142301.618812Z-<16 hex
    /// digits>` (UTC); the report's file name under `.capstan/runs/`.
    pub id: String,
    /// `plan`, `apply` or `destroy`.
    pub command: String,
    /// The directory the run was given, as given.
    pub dir: PathBuf,
    /// The stack root, when one was found.
    pub stack_root: Option<PathBuf>,
    /// The trace this run is exported as (32 hex digits), so the report and
    /// the trace can be found from each other.
    pub trace_id: String,
    /// When the run started, RFC 3339 to the microsecond.
    pub started_at: String,
    /// The same instant, for the trace's timestamps.
    #[serde(skip)]
    pub started: SystemTime,
    /// From start to report.
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
    /// Loading the stack, its plugins' sources and its state, and
    /// connecting the target; `None` when loading failed.
    #[serde(rename = "load_ms", serialize_with = "maybe_millis")]
    pub load: Option<Duration>,
    /// How the run ended.
    pub outcome: RunOutcome,
    /// What stopped the run, as the front end shows it.
    pub error: Option<String>,
    /// Every component the run planned in its target, applied, removed, or
    /// that failed or was skipped, in key order.
    pub components: Vec<ComponentReport>,
}

impl Report {
    /// Where the report goes beside the state: `<stack root>/.capstan/runs/<id>.json`.
    pub fn file_in(&self, stack_root: &Path) -> PathBuf {
        stack_root.join(".capstan").join("runs").join(format!("{}.json", self.id))
    }

    /// Writes the report to `file` as pretty JSON, creating its directory.
    pub fn write(&self, file: &Path) -> std::io::Result<()> {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        std::fs::write(file, text)
    }
}

/// Records a run for its [`Report`] while passing every event on to the
/// front end's [`Events`].
pub struct RunRecorder {
    events: Arc<dyn Events>,
    id: String,
    trace_id: String,
    started: SystemTime,
    clock: Instant,
    recorded: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    load: Option<Duration>,
    stack_root: Option<PathBuf>,
    timelines: BTreeMap<String, Timeline>,
    components: BTreeMap<String, Ending>,
}

/// What a component's phase events said: the phases closed, the one under way.
#[derive(Default)]
struct Timeline {
    phases: Vec<PhaseTime>,
    open: Option<(Step, Duration)>,
    failed_in: Option<Step>,
    /// The engine said `Ready`: applied and recorded, or removed.
    ready: bool,
}

impl Timeline {
    fn open(&mut self, step: Step, now: Duration) {
        self.close(now);
        self.open = Some((step, now));
    }

    fn close(&mut self, now: Duration) {
        if let Some((phase, start)) = self.open.take() {
            self.phases.push(PhaseTime { phase, start, duration: now.saturating_sub(start) });
        }
    }
}

/// How a component ended, as the outcomes say.
struct Ending {
    plugin: Option<PluginBuild>,
    answer_cached: bool,
    outcome: ComponentOutcome,
    error: Option<String>,
    warnings: Vec<InputProblem>,
    policy_findings: Vec<PolicyFinding>,
}

impl Ending {
    fn of(outcome: ComponentOutcome, plugin: Option<PluginBuild>, error: Option<String>) -> Self {
        Self {
            plugin,
            answer_cached: false,
            outcome,
            error,
            warnings: Vec::new(),
            policy_findings: Vec::new(),
        }
    }

    fn planned(outcome: ComponentOutcome, p: &ComponentPlanned) -> Self {
        Self {
            plugin: Some((&p.plugin).into()),
            answer_cached: p.answer_cached,
            outcome,
            error: None,
            warnings: p.warnings.clone(),
            policy_findings: p.policy_findings.clone(),
        }
    }
}

impl RunRecorder {
    /// Starts the run's clock; `events` is told everything this is told.
    pub fn new(events: Arc<dyn Events>) -> Self {
        let started = SystemTime::now();
        // Fixed width, to the microsecond: ids sort as the runs started.
        let stamp = humantime::format_rfc3339_micros(started).to_string().replace(['-', ':'], "");
        let id = format!("{stamp}-{:016x}", random_u64());
        let trace_id = format!("{:016x}{:016x}", random_u64(), random_u64());
        Self { events, id, trace_id, started, clock: Instant::now(), recorded: Mutex::default() }
    }

    fn recorded(&self) -> MutexGuard<'_, Recorded> {
        // Each change is one insert or one push: a panic elsewhere leaves nothing half-done.
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session is open: loading ends now.
    pub fn loaded(&self, session: &Session) {
        let mut recorded = self.recorded();
        recorded.load = Some(self.clock.elapsed());
        recorded.stack_root = Some(session.stack().root.clone());
    }

    /// The outcomes of a plan: the components in the run's target, and any
    /// that failed or were skipped (a dependency outside the target too).
    pub fn planned(&self, session: &Session, plan: &Plan) {
        let mut recorded = self.recorded();
        for (key, outcome) in &plan.outcomes {
            let ending = match outcome {
                Outcome::Done(p) if !p.in_target => continue,
                Outcome::Done(p) => Ending::planned(
                    if p.has_changes() { ComponentOutcome::Planned } else { ComponentOutcome::Unchanged },
                    p,
                ),
                Outcome::Failed(e) => failed(session, key, e),
                Outcome::Skipped { because } => skipped(session, key, because),
            };
            recorded.components.insert(key.clone(), ending);
        }
    }

    /// The outcomes of an apply of `shown`: what it removed from the tree,
    /// then each component.
    pub fn applied(&self, session: &Session, shown: &Plan, applied: &Applied) {
        let now = self.clock.elapsed();
        let mut recorded = self.recorded();
        for key in &applied.removed {
            let plugin = session.state().components.get(key).map(|c| (&c.plugin).into());
            recorded.components.insert(key.clone(), Ending::of(ComponentOutcome::Removed, plugin, None));
        }
        for (key, outcome) in &applied.outcomes {
            let ending = match outcome {
                Outcome::Done(p) if !p.in_target => continue,
                Outcome::Done(p) => {
                    let changed =
                        shown.outcomes.get(key).and_then(|o| o.done()).is_none_or(|q| q.has_changes());
                    Ending::planned(
                        if changed { ComponentOutcome::Applied } else { ComponentOutcome::Unchanged },
                        p,
                    )
                }
                // Planned before it failed: the build and warnings of the plan shown.
                Outcome::Failed(e) => match shown.outcomes.get(key).and_then(|o| o.done()) {
                    Some(p) => {
                        Ending { error: Some(e.to_string()), ..Ending::planned(ComponentOutcome::Failed, p) }
                    }
                    None => failed(session, key, e),
                },
                Outcome::Skipped { because } => skipped(session, key, because),
            };
            recorded.components.insert(key.clone(), ending);
        }
        settle(&mut recorded.timelines, now);
    }

    /// The outcome of a destroy of `order`: the components the engine said
    /// it removed, then the one it stopped at with `error`, then the rest,
    /// not reached.
    pub fn destroyed(&self, session: &Session, order: &[String], error: Option<&str>) {
        let now = self.clock.elapsed();
        let mut recorded = self.recorded();
        let mut stopped = false;
        for key in order {
            let plugin = session.state().components.get(key).map(|c| (&c.plugin).into());
            let ending = if recorded.timelines.get(key).is_some_and(|t| t.ready) {
                Ending::of(ComponentOutcome::Removed, plugin, None)
            } else if let Some(error) = error.filter(|_| !stopped) {
                stopped = true;
                Ending::of(ComponentOutcome::Failed, plugin, Some(error.to_string()))
            } else {
                let why = "not removed: the destroy stopped at an earlier failure";
                Ending::of(ComponentOutcome::Skipped, plugin, Some(why.to_string()))
            };
            recorded.components.insert(key.clone(), ending);
        }
        settle(&mut recorded.timelines, now);
    }

    /// The outcome of a rollback whose steps were `steps` (component and
    /// what the rollback did to it): those the engine said it finished, then
    /// the one it stopped at with `error`, then the rest, not reached.
    pub fn rolled_back(&self, session: &Session, steps: &[(String, StepChange)], error: Option<&str>) {
        let now = self.clock.elapsed();
        let mut recorded = self.recorded();
        let mut stopped = false;
        for (key, change) in steps {
            let plugin = session.state().components.get(key).map(|c| (&c.plugin).into());
            let done = match change {
                StepChange::Unchanged => ComponentOutcome::Unchanged,
                StepChange::Remove => ComponentOutcome::Removed,
                StepChange::Restore => ComponentOutcome::Applied,
            };
            let ending =
                if *change == StepChange::Unchanged || recorded.timelines.get(key).is_some_and(|t| t.ready) {
                    Ending::of(done, plugin, None)
                } else if let Some(error) = error.filter(|_| !stopped) {
                    stopped = true;
                    Ending::of(ComponentOutcome::Failed, plugin, Some(error.to_string()))
                } else {
                    let why = "not rolled back: the rollback stopped before it";
                    Ending::of(ComponentOutcome::Skipped, plugin, Some(why.to_string()))
                };
            recorded.components.insert(key.clone(), ending);
        }
        settle(&mut recorded.timelines, now);
    }

    /// The report of the run of `command` on `dir`, ended with `error` if it
    /// stopped with one. A failed component's phase is the one under way
    /// when it failed; one that failed with no phase under way failed while
    /// it was planned again for the apply.
    pub fn finish(&self, command: &str, dir: &Path, error: Option<String>) -> Report {
        let duration = self.clock.elapsed();
        let mut recorded = self.recorded();
        let recorded = &mut *recorded;
        let mut components = Vec::with_capacity(recorded.components.len());
        for (key, ending) in std::mem::take(&mut recorded.components) {
            let timeline = recorded.timelines.remove(&key).unwrap_or_default();
            let failed_phase = (ending.outcome == ComponentOutcome::Failed)
                .then(|| timeline.failed_in.or(timeline.open.map(|(s, _)| s)).unwrap_or(Step::Plan));
            let mut phases = timeline.phases;
            if let Some((phase, start)) = timeline.open {
                phases.push(PhaseTime { phase, start, duration: duration.saturating_sub(start) });
            }
            components.push(ComponentReport {
                component: key,
                plugin: ending.plugin,
                answer_cached: ending.answer_cached,
                outcome: ending.outcome,
                failed_phase,
                error: ending.error,
                phases,
                warnings: ending.warnings,
                policy_findings: ending.policy_findings,
            });
        }
        let failed = error.is_some()
            || components
                .iter()
                .any(|c| matches!(c.outcome, ComponentOutcome::Failed | ComponentOutcome::Skipped));
        Report {
            format_version: FORMAT_VERSION,
            id: self.id.clone(),
            command: command.to_string(),
            dir: dir.to_path_buf(),
            // A run that could not load still has a root when client.hcl was found.
            stack_root: recorded.stack_root.clone().or_else(|| capstan_config::find_stack_root(dir)),
            trace_id: self.trace_id.clone(),
            started_at: humantime::format_rfc3339_micros(self.started).to_string(),
            started: self.started,
            duration,
            load: recorded.load,
            outcome: if failed { RunOutcome::Failed } else { RunOutcome::Succeeded },
            error,
            components,
        }
    }
}

impl Events for RunRecorder {
    fn phase(&self, component: &str, phase: Phase, detail: Option<&str>) {
        let now = self.clock.elapsed();
        {
            let mut recorded = self.recorded();
            let timeline = recorded.timelines.entry(component.to_string()).or_default();
            match phase {
                Phase::Planning => timeline.open(Step::Plan, now),
                // A destroy's removal (`Phase::Applying` says `removing` then).
                Phase::Applying if detail == Some("removing") => timeline.open(Step::Remove, now),
                // A rollback writes a revision's objects back in one step.
                Phase::Applying if detail == Some("rolling back") => timeline.open(Step::Apply, now),
                // An apply: its steps follow as `step` events.
                Phase::Applying | Phase::Planned | Phase::Unchanged => timeline.close(now),
                Phase::Ready => {
                    timeline.close(now);
                    timeline.ready = true;
                }
                Phase::Failed => {
                    timeline.failed_in = Some(timeline.open.map_or(Step::Plan, |(s, _)| s));
                    timeline.close(now);
                }
            }
        }
        self.events.phase(component, phase, detail);
    }

    fn step(&self, component: &str, step: ApplyStep) {
        let now = self.clock.elapsed();
        self.recorded().timelines.entry(component.to_string()).or_default().open(step.into(), now);
        self.events.step(component, step);
    }

    fn notice(&self, notice: &Notice) {
        self.events.notice(notice);
    }
}

/// Closes the phases still under way when the run's work returned: a
/// component whose state was not recorded ends its record phase there.
fn settle(timelines: &mut BTreeMap<String, Timeline>, now: Duration) {
    for timeline in timelines.values_mut() {
        if let Some((step, _)) = timeline.open {
            timeline.failed_in.get_or_insert(step);
            timeline.close(now);
        }
    }
}

/// The plugin that ran `key` or would have: what component.hcl names (its
/// version unknown until resolved), else what state recorded.
fn named_plugin(session: &Session, key: &str) -> Option<PluginBuild> {
    match session.stack().component(key) {
        Some(c) => Some(PluginBuild { name: c.plugin.clone(), version: None, digest: None }),
        None => session.state().components.get(key).map(|c| (&c.plugin).into()),
    }
}

fn failed(session: &Session, key: &str, e: &ComponentError) -> Ending {
    Ending::of(ComponentOutcome::Failed, named_plugin(session, key), Some(e.to_string()))
}

fn skipped(session: &Session, key: &str, because: &str) -> Ending {
    Ending::of(ComponentOutcome::Skipped, named_plugin(session, key), Some(because.to_string()))
}

/// Random bits for the run's id and trace id. std's hasher keys are drawn
/// from the operating system's random source; hashing the time with them
/// gives ids no other run shares, with no fallible call for what is a label.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher
        .write_u128(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish()
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    // To the microsecond: finer is noise, and the number stays short.
    s.serialize_f64(d.as_micros() as f64 / 1000.0)
}

fn maybe_millis<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => millis(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Silent;

    fn steps(t: &Timeline) -> Vec<Step> {
        t.phases.iter().map(|p| p.phase).collect()
    }

    /// A failure the engine announces is in the step under way; one it does
    /// not (the state backend refusing the record) is in the step still
    /// open when the apply returns.
    #[test]
    fn a_failure_is_placed_in_the_step_under_way() {
        let recorder = RunRecorder::new(Arc::new(Silent));
        for key in ["a", "b"] {
            recorder.phase(key, Phase::Planning, None);
            recorder.phase(key, Phase::Planned, None);
            recorder.phase(key, Phase::Applying, None);
        }
        recorder.step("a", ApplyStep::Effects);
        recorder.phase("a", Phase::Failed, None);
        recorder.step("b", ApplyStep::Objects);
        recorder.step("b", ApplyStep::Readiness);
        recorder.step("b", ApplyStep::Record);

        let mut recorded = recorder.recorded();
        settle(&mut recorded.timelines, recorder.clock.elapsed());
        let (a, b) = (&recorded.timelines["a"], &recorded.timelines["b"]);
        assert_eq!((steps(a), a.failed_in), (vec![Step::Plan, Step::Effects], Some(Step::Effects)));
        assert_eq!(
            (steps(b), b.failed_in),
            (vec![Step::Plan, Step::Apply, Step::Readiness, Step::Record], Some(Step::Record))
        );
        assert!(b.phases.windows(2).all(|w| w[0].start + w[0].duration <= w[1].start));
    }

    #[test]
    fn ids_sort_as_runs_start_and_differ() {
        let first = RunRecorder::new(Arc::new(Silent));
        // Ids count microseconds: runs a moment apart.
        std::thread::sleep(Duration::from_millis(1));
        let second = RunRecorder::new(Arc::new(Silent));
        assert!(first.id < second.id, "{} then {}", first.id, second.id);
        assert_ne!(first.trace_id, second.trace_id);
        assert_eq!(first.trace_id.len(), 32);
    }
}
