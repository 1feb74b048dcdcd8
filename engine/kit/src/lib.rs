//! The conformance kit (`capstan plugin test`): a plugin asked, as the
//! engine would ask it, about the representative inputs of its component
//! type, and its answers checked against what every backend of that type
//! promises: the type it says it plans, the type's outputs contract, pointed
//! refusals of bad inputs, the same answer to the same request, secrets only
//! where secrets may be, effects only on the capabilities it declares, and
//! objects a Kubernetes 1.30 API server (or the CRDs of custom resources)
//! would accept.
//!
//! A policy plugin has no type to conform to: [`run_policy`] checks what
//! every policy promises instead.
//!
//! The kit talks to a plugin through capstan-plan's `PluginHandle`, so a
//! wasm plugin loaded by capstan-host and a native test plugin are checked
//! alike; objects are validated through the [`ManifestValidator`] seam. It
//! reuses capstan-plan's contract check rather than carrying its own. It
//! does not print (the CLI does), does not load wasm, and never touches a
//! cluster, a database or state: nothing the plugin declares is carried out.

pub mod data;
pub mod manifests;
mod policy;
mod sensitive;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use capstan_core::leaks::Secrets;
use capstan_core::{
    Capability, CheckedPlan, ComponentId, ComponentPlan, Dependency, Diagnostic, Metadata, Output,
    PlanRequest, Severity,
};
use capstan_plan::PluginHandle;

pub use data::{Kit, kit_for, kit_types};
pub use manifests::{ManifestValidator, ScriptValidator, Verdict};
pub use policy::{POLICY_CHECKS, run_policy};

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The plugin meets what the check demands.
    Pass,
    /// The plugin does not; the reasons say where.
    Fail,
    /// It could not run (the reason says why); counts as a failure.
    NotRun,
}

/// One check of the kit: its name, how it came out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// One of [`CHECKS`], or `kit` when a published kit cannot be read.
    pub name: &'static str,
    /// How it came out.
    pub status: Status,
    /// For a pass, what was checked; otherwise one line per failure.
    pub reasons: Vec<String>,
}

/// The kit's verdict on one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Plugin name, e.g. `capstan/app`.
    pub plugin: String,
    /// The plugin's version, e.g. `1.2.0`.
    pub version: String,
    /// The type whose kit ran (the plugin's own, unless the caller named one).
    pub kit_type: String,
    /// The kit's version, or `None` for the generic checks of a type
    /// Capstan ships no kit for and the plugin publishes none for.
    pub kit_version: Option<u32>,
    /// Whose kit ran.
    pub kit_source: KitSource,
    /// Every check, in the order of [`CHECKS`] (after a failed `kit`, if any).
    pub checks: Vec<Check>,
}

/// Whose kit a report is the verdict of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KitSource {
    /// Capstan ships the type and its kit (`wit/contracts/kits/`).
    Shipped,
    /// The plugin publishes its new type's kit beside its outputs contract.
    Published,
    /// Nobody has a kit for the type: the generic checks ran.
    Generic,
}

impl Report {
    /// Every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status == Status::Pass)
    }

    /// The check called `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// The check names, in the order they run.
///
/// A plugin whose published kit cannot be read gets a failing `kit` check
/// first, and the generic checks.
pub const CHECKS: &[&str] =
    &["type", "plans", "contract", "bad-inputs", "determinism", "sensitive", "effects", "manifests"];

/// The component every kit request is about.
fn component() -> ComponentId {
    ComponentId { name: "kit-subject".into(), environment: "kit".into(), namespace: "kit".into() }
}

/// One kit case as it was asked and answered.
struct Asked {
    case: String,
    request: PlanRequest,
    secrets: Secrets,
    /// What `validate` then `plan` gave, or why there is nothing (secrets
    /// scrubbed from the plugin's words).
    answer: Result<(ComponentPlan, Vec<Diagnostic>), String>,
    /// Secrets the plugin repeated in a refusal.
    leaks: Vec<String>,
}

/// Runs the kit of `kit_type` (the plugin's own `component_type` when
/// `None`) over `plugin`, with `manifests` checking rendered objects.
pub fn run(plugin: &dyn PluginHandle, kit_type: Option<&str>, manifests: &dyn ManifestValidator) -> Report {
    let meta = plugin.metadata();
    let kit_type = kit_type.unwrap_or(&meta.component_type).to_owned();
    let mut checks = Vec::new();
    let (kit, kit_source) = match (kit_for(&kit_type), published_kit(meta, &kit_type)) {
        (Some(shipped), _) => (shipped, KitSource::Shipped),
        (None, Some(Ok(published))) => (published, KitSource::Published),
        (None, Some(Err(why))) => {
            checks.push(fail("kit", vec![why]));
            (data::generic(&kit_type), KitSource::Generic)
        }
        (None, None) => (data::generic(&kit_type), KitSource::Generic),
    };
    let kit_version = (kit_source != KitSource::Generic).then_some(kit.version);

    checks.push(if meta.component_type == kit_type {
        pass("type", format!("the plugin plans `{kit_type}` components"))
    } else {
        fail(
            "type",
            vec![format!(
                "the plugin plans `{}` components, but this is the kit of `{kit_type}`",
                meta.component_type
            )],
        )
    });

    let asked: Vec<Asked> = kit.cases.iter().map(|case| ask(plugin, case)).collect();

    let failures: Vec<String> = asked
        .iter()
        .filter_map(|a| a.answer.as_ref().err().map(|e| format!("case `{}`: {e}", a.case)))
        .collect();
    checks.push(if failures.is_empty() {
        pass("plans", format!("{} case(s) validated and planned", asked.len()))
    } else {
        fail("plans", failures)
    });
    let planned: Vec<(&Asked, &ComponentPlan, &[Diagnostic])> =
        asked.iter().filter_map(|a| a.answer.as_ref().ok().map(|(p, d)| (a, p, d.as_slice()))).collect();

    checks.push(contract(&kit_type, meta, &planned));
    let (refusals, refusal_leaks) = bad_inputs(plugin, &kit);
    checks.push(refusals);
    checks.push(determinism(plugin, &planned));
    let mut leaks: Vec<String> = asked.iter().flat_map(|a| a.leaks.iter().cloned()).collect();
    leaks.extend(refusal_leaks);
    checks.push(secrets(&planned, leaks));
    checks.push(effects(&meta.capabilities, &planned));
    checks.push(objects(&kit, &planned, manifests));

    Report {
        plugin: meta.name.clone(),
        version: meta.version.to_string(),
        kit_type,
        kit_version,
        kit_source,
        checks,
    }
}

/// The kit a plugin publishes with its own type's outputs contract, when it
/// is the kit of `kit_type`; an error names what is wrong with it.
fn published_kit(meta: &Metadata, kit_type: &str) -> Option<Result<Kit, String>> {
    let published = meta.outputs_contract.as_ref()?.kit.as_ref()?;
    if meta.component_type != kit_type {
        return None;
    }
    Some(
        serde_json::from_value::<Kit>(published.clone())
            .map_err(|e| {
                format!(
                    "the kit the plugin publishes is not a kit (wit/contracts/kits/ shows the format): {e}"
                )
            })
            .and_then(|kit| {
                if kit.component_type == kit_type {
                    Ok(kit)
                } else {
                    Err(format!(
                        "the kit the plugin publishes is the kit of `{}`, not of its own type `{kit_type}`",
                        kit.component_type
                    ))
                }
            }),
    )
}

fn pass(name: &'static str, what: String) -> Check {
    Check { name, status: Status::Pass, reasons: vec![what] }
}

fn fail(name: &'static str, reasons: Vec<String>) -> Check {
    Check { name, status: Status::Fail, reasons }
}

fn not_run(name: &'static str, why: String) -> Check {
    Check { name, status: Status::NotRun, reasons: vec![why] }
}

/// The request of one case for this plugin's backend, and the secrets in it.
fn request(
    plugin: &dyn PluginHandle,
    shared: &Value,
    backends: &std::collections::BTreeMap<String, Value>,
    sensitive: &[String],
    dependencies: &std::collections::BTreeMap<String, data::KitDependency>,
) -> Result<(PlanRequest, Secrets), String> {
    let meta = plugin.metadata();
    let own = data::case_inputs(shared, backends, &meta.backend);
    let inputs = capstan_config::merge_over_defaults(&meta.defaults, own)
        .map_err(|e| format!("the plugin's defaults are not YAML the engine reads: {e}"))?;
    // A backend without one of the kit's secret inputs is not handed it.
    let sensitive_paths = sensitive
        .iter()
        .filter(|p| matches!(inputs.pointer(p), Some(Value::String(s)) if !s.is_empty()))
        .cloned()
        .collect();
    let dependencies = dependencies
        .iter()
        .map(|(name, d)| {
            let outputs: Vec<Output> = d
                .outputs
                .iter()
                .map(|(k, v)| Output {
                    name: k.clone(),
                    value: v.clone(),
                    sensitive: d.sensitive.contains(k),
                })
                .collect();
            Dependency {
                name: name.clone(),
                component_type: d.component_type.clone(),
                outputs: Arc::from(outputs),
            }
        })
        .collect();
    let request = PlanRequest {
        component: component(),
        inputs,
        sensitive_paths,
        dependencies,
        files: Vec::new(),
        effect_results: Vec::new(),
    };
    // The engine's own reading of a request's secrets, so the kit checks
    // exactly what a run would.
    let secrets = Secrets::of_request(&request);
    Ok((request, secrets))
}

fn ask(plugin: &dyn PluginHandle, case: &data::Case) -> Asked {
    let built = request(plugin, &case.inputs, &case.backends, &case.sensitive, &case.dependencies);
    let (request, secrets) = match built {
        Ok(r) => r,
        Err(e) => {
            let request = PlanRequest {
                component: component(),
                inputs: Value::Null,
                sensitive_paths: Vec::new(),
                dependencies: Vec::new(),
                files: Vec::new(),
                effect_results: Vec::new(),
            };
            return Asked {
                case: case.name.clone(),
                request,
                secrets: Secrets::default(),
                answer: Err(e),
                leaks: Vec::new(),
            };
        }
    };
    let answer = (|| {
        let diagnostics = plugin
            .validate(&request.component, &request.inputs)
            .map_err(|e| format!("`validate` failed: {e}"))?;
        let errors: Vec<String> = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect();
        if !errors.is_empty() {
            return Err(format!("`validate` refused the kit's inputs: {}", errors.join("; ")));
        }
        match plugin.plan(None, &request).map_err(|e| format!("`plan` failed: {e}"))? {
            Ok(plan) => Ok((plan, diagnostics)),
            Err(e) => Err(format!("`plan` refused: {}", e.to_string().replace('\n', " "))),
        }
    })();
    let (answer, leaks) = match answer {
        Ok(planned) => (Ok(planned), Vec::new()),
        Err(why) => {
            let leaks = secrets
                .named_in(&why)
                .into_iter()
                .map(|p| format!("case `{}`: the value of {p} appears in the plugin's refusal", case.name))
                .collect();
            (Err(secrets.scrub(&why).into_owned()), leaks)
        }
    };
    Asked { case: case.name.clone(), request, secrets, answer, leaks }
}

/// Check 2: every case's outputs satisfy the type's contract: the one
/// Capstan ships, or the one the plugin publishes for a type of its own.
fn contract(kit_type: &str, meta: &Metadata, planned: &[(&Asked, &ComponentPlan, &[Diagnostic])]) -> Check {
    let shipped = capstan_plan::contracts::contract_for(kit_type);
    let declared = meta.outputs_contract.as_ref();
    let version = match (shipped, declared) {
        (Some(_), Some(_)) => {
            return fail(
                "contract",
                vec![format!(
                    "the plugin publishes its own outputs contract for `{kit_type}`, whose contract Capstan \
                     ships; the engine refuses it"
                )],
            );
        }
        (Some(c), None) => c.version,
        (None, Some(d)) => d.version,
        (None, None) => {
            return pass(
                "contract",
                format!(
                    "Capstan ships no outputs contract for `{kit_type}` and the plugin publishes none: \
                     nothing to check"
                ),
            );
        }
    };
    let check = |outputs: &[Output]| match declared {
        Some(d) => capstan_plan::contracts::check_declared(d, outputs),
        None => capstan_plan::contracts::check_outputs(kit_type, outputs),
    };
    if planned.is_empty() {
        return not_run("contract", "no case planned, so no outputs to check (see `plans`)".into());
    }
    let mut reasons = Vec::new();
    for (asked, plan, _) in planned {
        if let Err(violations) = check(&plan.outputs) {
            reasons.extend(violations.iter().map(|v| format!("case `{}`: {v}", asked.case)));
        }
    }
    let whose = if shipped.is_some() { "" } else { ", as the plugin publishes it" };
    if reasons.is_empty() {
        pass(
            "contract",
            format!("outputs of {} case(s) satisfy `{kit_type}` v{version}{whose}", planned.len()),
        )
    } else {
        fail("contract", reasons)
    }
}

/// Check 3: `validate` refuses each bad input with an error at its path.
/// Also gives the secrets its diagnostics repeat, for check 5.
fn bad_inputs(plugin: &dyn PluginHandle, kit: &Kit) -> (Check, Vec<String>) {
    let mut leaks = Vec::new();
    if kit.bad_inputs.is_empty() {
        return (pass("bad-inputs", "the kit has no bad inputs for this type".into()), leaks);
    }
    let no_deps = std::collections::BTreeMap::new();
    let mut reasons = Vec::new();
    let backend = &plugin.metadata().backend;
    let mine: Vec<&data::BadInput> = kit
        .bad_inputs
        .iter()
        .filter(|b| b.only_backends.is_empty() || b.only_backends.contains(backend))
        .collect();
    if mine.is_empty() {
        return (pass("bad-inputs", format!("the kit has no bad inputs for the `{backend}` backend")), leaks);
    }
    for bad in &mine {
        let (request, secrets) = match request(plugin, &bad.inputs, &bad.backends, &bad.sensitive, &no_deps) {
            Ok(r) => r,
            Err(e) => {
                reasons.push(format!("bad input `{}`: {e}", bad.name));
                continue;
            }
        };
        let diagnostics = match plugin.validate(&request.component, &request.inputs) {
            Ok(d) => d,
            Err(e) => {
                reasons.push(format!("bad input `{}`: `validate` failed: {e}", bad.name));
                continue;
            }
        };
        leaks.extend(
            sensitive::diagnostic_leaks(&secrets, &diagnostics)
                .into_iter()
                .map(|l| format!("bad input `{}`: {l}", bad.name)),
        );
        let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
        if errors.is_empty() {
            reasons.push(format!(
                "bad input `{}`: `validate` accepted it (expected an error at {})",
                bad.name, bad.path
            ));
            continue;
        }
        let pointed = errors.iter().any(|d| {
            !d.message.trim().is_empty()
                && (d.path == bad.path || d.path.starts_with(&format!("{}/", bad.path)))
        });
        if !pointed {
            let got: Vec<String> = errors
                .iter()
                .map(|d| secrets.scrub(&format!("{:?}: {:?}", d.path, d.message)).into_owned())
                .collect();
            reasons.push(format!(
                "bad input `{}`: no error with a message at {} (got {})",
                bad.name,
                bad.path,
                got.join(", ")
            ));
        }
    }
    let check = if reasons.is_empty() {
        pass("bad-inputs", format!("{} bad input(s) refused at their paths", mine.len()))
    } else {
        fail("bad-inputs", reasons)
    };
    (check, leaks)
}

/// Check 4: the same request, asked again, gets the same bytes.
fn determinism(plugin: &dyn PluginHandle, planned: &[(&Asked, &ComponentPlan, &[Diagnostic])]) -> Check {
    if planned.is_empty() {
        return not_run("determinism", "no case planned (see `plans`)".into());
    }
    let mut reasons = Vec::new();
    for (asked, first, _) in planned {
        let again = match plugin.validate_and_plan(None, &asked.request) {
            Ok(CheckedPlan::Planned { answer: Ok(plan), .. }) => plan,
            Ok(CheckedPlan::Planned { answer: Err(e), .. }) => {
                reasons.push(format!("case `{}`: asked again, `plan` refused: {e}", asked.case));
                continue;
            }
            Ok(CheckedPlan::Invalid(_)) => {
                reasons
                    .push(format!("case `{}`: asked again, `validate` refused the same inputs", asked.case));
                continue;
            }
            Err(e) => {
                reasons.push(format!("case `{}`: asked again, the plugin failed: {e}", asked.case));
                continue;
            }
        };
        let (a, b) =
            (serde_json::to_vec(first).unwrap_or_default(), serde_json::to_vec(&again).unwrap_or_default());
        if a != b {
            reasons.push(format!("case `{}`: {}", asked.case, first_difference(first, &again)));
        }
    }
    if reasons.is_empty() {
        pass("determinism", format!("{} case(s) planned twice, byte-identical", planned.len()))
    } else {
        fail("determinism", reasons)
    }
}

/// Where two answers to one request part, named without values (they may be secrets).
fn first_difference(a: &ComponentPlan, b: &ComponentPlan) -> String {
    if a.objects.len() != b.objects.len() {
        return format!("{} objects the first time, {} the second", a.objects.len(), b.objects.len());
    }
    if let Some((x, _)) = a.objects.iter().zip(&b.objects).find(|(x, y)| x != y) {
        return format!(
            "{} differs between two plans of the same request",
            capstan_core::leaks::object_name(x)
        );
    }
    if a.effects != b.effects {
        return "the effects differ between two plans of the same request".into();
    }
    let names = |p: &ComponentPlan| p.outputs.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
    if names(a) != names(b) {
        return "the outputs' names differ between two plans of the same request".into();
    }
    match a.outputs.iter().zip(&b.outputs).find(|(x, y)| x != y) {
        Some((o, _)) => format!("output `{}` differs between two plans of the same request", o.name),
        None => "the answers differ in their order or encoding".into(),
    }
}

/// Check 5: secrets only in Secrets' data and sensitive fields and outputs;
/// `reasons` holds those already found in refusals.
fn secrets(planned: &[(&Asked, &ComponentPlan, &[Diagnostic])], mut reasons: Vec<String>) -> Check {
    let handed: usize = planned.iter().map(|(a, _, _)| a.secrets.len()).sum();
    if planned.is_empty() && reasons.is_empty() {
        return not_run("sensitive", "no case planned (see `plans`)".into());
    }
    for (asked, plan, diagnostics) in planned {
        reasons.extend(
            sensitive::leaks(&asked.secrets, plan, diagnostics)
                .into_iter()
                .map(|l| format!("case `{}`: {l}", asked.case)),
        );
    }
    if reasons.is_empty() {
        pass("sensitive", format!("{handed} sensitive input(s) stayed in Secrets and sensitive fields"))
    } else {
        fail("sensitive", reasons)
    }
}

/// Check 6: each effect runs on a capability the plugin declares.
fn effects(declared: &[Capability], planned: &[(&Asked, &ComponentPlan, &[Diagnostic])]) -> Check {
    if planned.is_empty() {
        return not_run("effects", "no case planned (see `plans`)".into());
    }
    let declared: BTreeSet<&Capability> = declared.iter().collect();
    let mut reasons = Vec::new();
    let mut count = 0;
    for (asked, plan, _) in planned {
        for effect in &plan.effects {
            count += 1;
            let needed = effect.capability();
            if !declared.contains(&needed) {
                reasons.push(format!(
                    "case `{}`: effect `{}` runs on {}, which the plugin does not declare",
                    asked.case, effect.id, needed
                ));
            }
        }
    }
    if reasons.is_empty() {
        pass("effects", format!("{count} effect(s), each on a declared capability"))
    } else {
        fail("effects", reasons)
    }
}

/// Check 7: every rendered object passes the manifest validator.
fn objects(
    kit: &Kit,
    planned: &[(&Asked, &ComponentPlan, &[Diagnostic])],
    validator: &dyn ManifestValidator,
) -> Check {
    if planned.is_empty() {
        return not_run("manifests", "no case planned (see `plans`)".into());
    }
    let labelled: Vec<(String, Value)> = planned
        .iter()
        .enumerate()
        .flat_map(|(i, (_, plan, _))| {
            plan.objects.iter().map(move |o| {
                let kind = o["kind"].as_str().unwrap_or("object").to_lowercase();
                let name = o["metadata"]["name"].as_str().unwrap_or("unnamed");
                (format!("case{i}-{kind}-{name}"), o.clone())
            })
        })
        .collect();
    if labelled.is_empty() {
        return pass("manifests", "no objects rendered".into());
    }
    let missing: Vec<&str> = kit.missing_crds.iter().map(|m| m.kind.as_str()).collect();
    match validator.validate(&labelled, &missing) {
        Verdict::Valid => {
            let mut reasons = vec![format!("{} object(s) valid (Kubernetes 1.30, CRDs)", labelled.len())];
            // Name what was let through without a schema, and why.
            let rendered = |kind: &str| {
                labelled.iter().any(|(_, o)| {
                    format!("{}/{}", o["apiVersion"].as_str().unwrap_or(""), o["kind"].as_str().unwrap_or(""))
                        == kind
                })
            };
            for m in kit.missing_crds.iter().filter(|m| rendered(&m.kind)) {
                reasons.push(format!("{} not checked against a schema: {}", m.kind, m.reason));
            }
            Check { name: "manifests", status: Status::Pass, reasons }
        }
        Verdict::Invalid(report) => fail("manifests", report.lines().map(str::to_owned).collect()),
        Verdict::Unavailable(why) => not_run("manifests", format!("could not check the objects: {why}")),
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kit = match (self.kit_source, self.kit_version) {
            (KitSource::Shipped, Some(v)) => format!("the `{}` kit v{v}", self.kit_type),
            (KitSource::Published, Some(v)) => {
                format!("the `{}` kit v{v}, as the plugin publishes it", self.kit_type)
            }
            _ => format!("the generic checks (no `{}` kit is shipped or published)", self.kit_type),
        };
        writeln!(f, "{} {}: {kit}", self.plugin, self.version)?;
        for c in &self.checks {
            let status = match c.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::NotRun => "NOT RUN",
            };
            match c.reasons.as_slice() {
                [one] => writeln!(f, "  {status:<7} {}: {one}", c.name)?,
                many => {
                    writeln!(f, "  {status:<7} {}:", c.name)?;
                    for r in many {
                        writeln!(f, "            {r}")?;
                    }
                }
            }
        }
        let failed = self.checks.iter().filter(|c| c.status != Status::Pass).count();
        if failed == 0 {
            write!(f, "passed: {} checks", self.checks.len())
        } else {
            write!(f, "failed: {failed} of {} checks", self.checks.len())
        }
    }
}
