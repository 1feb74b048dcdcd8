//! A plan saved with `plan --out` applies only while it still says exactly
//! what an apply would do on the state it was made against.

use capstan_config::Command;
use capstan_run::RunError;

use crate::support::{FILES, Stack, write};

#[test]
fn an_unchanged_saved_plan_is_accepted() {
    let stack = Stack::new(&[FILES]);
    let file = stack.root().join("saved.plan");
    let session = stack.session();
    let plan = session.plan(Command::Plan).unwrap();
    session.save_plan(&plan, "shown text".into(), &file).unwrap();
    drop(session);

    let session = stack.session();
    let again = session.plan(Command::Plan).unwrap();
    session.check_saved_plan(&file, &again).unwrap();
}

#[test]
fn a_saved_plan_is_refused_once_state_moved_on() {
    let stack = Stack::new(&[FILES]);
    stack.apply();
    let file = stack.root().join("saved.plan");
    let session = stack.session();
    let plan = session.plan(Command::Plan).unwrap();
    session.save_plan(&plan, String::new(), &file).unwrap();
    drop(session);

    // Someone else applies a change meanwhile.
    write(
        &stack.root().join("envs/dev/core/base/component.hcl"),
        "component {\n  type   = \"config\"\n  plugin = \"test/config\"\n}\n\ninputs = {\n  value = \"two\"\n}\n",
    );
    stack.apply();

    let session = stack.session();
    let now = session.plan(Command::Plan).unwrap();
    let err = session.check_saved_plan(&file, &now).unwrap_err();
    assert!(matches!(err, RunError::StaleState { .. }), "{err}");
    assert!(err.to_string().contains("the state changed since this plan was saved"), "{err}");
}

#[test]
fn a_saved_plan_is_refused_once_the_tree_changed() {
    let stack = Stack::new(&[FILES]);
    let file = stack.root().join("saved.plan");
    let session = stack.session();
    let plan = session.plan(Command::Plan).unwrap();
    session.save_plan(&plan, String::new(), &file).unwrap();
    drop(session);

    write(
        &stack.root().join("envs/dev/core/base/component.hcl"),
        "component {\n  type   = \"config\"\n  plugin = \"test/config\"\n}\n\ninputs = {\n  value = \"two\"\n}\n",
    );
    let session = stack.session();
    let now = session.plan(Command::Plan).unwrap();
    let err = session.check_saved_plan(&file, &now).unwrap_err();
    assert!(matches!(err, RunError::StaleTree { .. }), "{err}");
}
