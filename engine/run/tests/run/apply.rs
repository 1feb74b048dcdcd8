//! Apply records each component in state as it goes, and a failed component
//! skips its dependents while other branches finish.

use capstan_config::Command;
use capstan_plan::Outcome;

use crate::support::{FAILING, FILES, Stack, rendered_files};

#[test]
fn apply_records_every_component_and_a_second_plan_has_nothing_to_change() {
    let stack = Stack::new(&[FILES]);
    let session = stack.session();
    let plan = session.plan(Command::Plan).unwrap();
    assert!(!plan.has_failures());
    assert!(session.has_changes(&plan));
    drop(session);

    let applied = stack.apply();
    assert!(applied.removed.is_empty());
    assert!(applied.outcomes.values().all(|o| matches!(o, Outcome::Done(_))));

    let state = stack.state();
    let keys: Vec<&String> = state.components.keys().collect();
    assert_eq!(keys, ["envs/dev/core/app", "envs/dev/core/base"]);
    let app = &state.components["envs/dev/core/app"];
    assert_eq!(app.plugin.name, "test/config");
    assert_eq!(app.objects.len(), 1);
    assert_eq!(app.objects[0].object.kind, "ConfigMap");
    assert_eq!(app.objects[0].object.name, "app");
    assert_eq!(app.outputs.len(), 1);
    // The digest recorded is the object's as state defines it (made once,
    // for the plan's digest, and reused for the record).
    let session = stack.session();
    let plan = session.plan(Command::Plan).unwrap();
    let planned = plan.planned().into_iter().find(|p| p.key == "envs/dev/core/app").unwrap();
    let manifest = planned.objects[0].manifest.as_ref().unwrap();
    assert_eq!(app.objects[0].digest, capstan_state::object_digest(session.state_key(), manifest));
    drop(session);
    let rendered = rendered_files(&stack.rendered());
    assert!(rendered.iter().any(|f| f.contains("app")), "{rendered:?}");
    assert!(rendered.iter().any(|f| f.contains("base")), "{rendered:?}");

    // What apply recorded is what a new plan compares with: nothing to do.
    let session = stack.session();
    let plan = session.plan(Command::Plan).unwrap();
    assert!(!session.has_changes(&plan), "{:?}", plan.planned());
    assert!(!session.has_unrecorded(&plan));
}

#[test]
fn a_failed_component_skips_its_dependents_and_other_branches_finish() {
    let stack = Stack::new(&[FILES, FAILING]);
    let applied = stack.apply();

    let failed = &applied.outcomes["envs/dev/core/migrate"];
    match failed {
        Outcome::Failed(e) => {
            let text = e.to_string();
            assert!(text.contains("the database refused the migration"), "{text}");
        }
        _ => panic!("migrate should have failed"),
    }
    assert!(
        matches!(&applied.outcomes["envs/dev/core/after-migrate"], Outcome::Skipped { .. }),
        "after-migrate depends on the failed component"
    );
    assert!(matches!(&applied.outcomes["envs/dev/core/base"], Outcome::Done(_)));
    assert!(matches!(&applied.outcomes["envs/dev/core/app"], Outcome::Done(_)));
    assert_eq!(stack.effects.calls.lock().unwrap().get("migrate"), Some(&1));

    // Only what applied is recorded; the failed branch is tried again next run.
    let state = stack.state();
    let keys: Vec<&String> = state.components.keys().collect();
    assert_eq!(keys, ["envs/dev/core/app", "envs/dev/core/base"]);
    let session = stack.session();
    let plan = session.plan(Command::Plan).unwrap();
    let again: Vec<&str> =
        plan.planned().iter().filter(|p| p.has_changes()).map(|p| p.key.as_str()).collect();
    assert_eq!(again, ["envs/dev/core/after-migrate", "envs/dev/core/migrate"]);
}
