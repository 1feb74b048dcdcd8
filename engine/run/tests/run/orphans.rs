//! A component removed from the tree is removed from the target and from
//! state by the next apply, and destroy removes the rest.

use std::time::Duration;

use capstan_config::Command;

use crate::support::{FILES, Stack, rendered_files};

#[test]
fn a_component_that_left_the_tree_is_removed_and_forgotten() {
    let stack = Stack::new(&[FILES]);
    stack.apply();
    assert!(rendered_files(&stack.rendered()).iter().any(|f| f.contains("app")));

    std::fs::remove_dir_all(stack.root().join("envs/dev/core/app")).unwrap();
    let session = stack.session();
    let orphans: Vec<&String> = session.orphans().into_iter().map(|(k, _)| k).collect();
    assert_eq!(orphans, ["envs/dev/core/app"]);
    let plan = session.plan(Command::Plan).unwrap();
    assert!(session.has_changes(&plan), "removing a component is a change");
    drop(session);

    let applied = stack.apply();
    assert_eq!(applied.removed, ["envs/dev/core/app"]);
    let state = stack.state();
    let keys: Vec<&String> = state.components.keys().collect();
    assert_eq!(keys, ["envs/dev/core/base"]);
    let rendered = rendered_files(&stack.rendered());
    assert!(!rendered.iter().any(|f| f.contains("app")), "{rendered:?}");
    assert!(rendered.iter().any(|f| f.contains("base")), "{rendered:?}");
}

#[test]
fn destroy_removes_dependents_before_what_they_depend_on() {
    let stack = Stack::new(&[FILES]);
    stack.apply();
    let mut session = stack.session();
    let guard = session.lock("destroy", Duration::ZERO).unwrap();
    let order = session.destroy_order();
    assert_eq!(order, ["envs/dev/core/app", "envs/dev/core/base"]);
    let result = session.destroy(&order, &guard);
    session.unlock(guard).unwrap();
    result.unwrap();
    assert!(stack.state().components.is_empty());
    let rendered = rendered_files(&stack.rendered());
    assert!(!rendered.iter().any(|f| f.contains("app") || f.contains("base")), "{rendered:?}");
}

#[test]
fn taking_the_lock_reads_what_another_run_recorded_meanwhile() {
    let stack = Stack::new(&[FILES]);
    // Opened while nothing is recorded; another run applies before this one locks.
    let mut session = stack.session();
    assert!(session.destroy_order().is_empty());
    stack.apply();
    let guard = session.lock("destroy", Duration::ZERO).unwrap();
    let order = session.destroy_order();
    let result = session.destroy(&order, &guard);
    session.unlock(guard).unwrap();
    result.unwrap();
    assert_eq!(order, ["envs/dev/core/app", "envs/dev/core/base"], "destroy saw the other run's records");
    assert!(stack.state().components.is_empty());
}
