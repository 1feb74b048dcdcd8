use std::path::{Path, PathBuf};

use capstan_core::Sensitive;
use capstan_secrets::{FaultPoint, RotateOptions, SecretsError, open, recipients_add, rotate_keys, set};

use crate::support::{Operator, operator};

const FILES: usize = 50;

/// 50 secrets files spread over a stack tree, two secrets each, plus a
/// teammate as a second recipient of every file.
fn tree(op: &Operator, teammate: &Operator) -> (PathBuf, Vec<PathBuf>) {
    let stack = op.dir.path().join("stack");
    let mut files = Vec::new();
    for i in 0..FILES {
        let dir = stack.join(format!("envs/env{}/ns{}/comp{i}", i % 3, i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secrets.enc.hcl");
        set(&op.identity, &file, "password", Sensitive::new(format!("pw-{i}"))).unwrap();
        set(&op.identity, &file, "token", Sensitive::new(format!("tok-{i}"))).unwrap();
        files.push(file);
    }
    // Not a secrets file, and a hidden dir: both left alone.
    std::fs::write(stack.join("envs/env0/component.hcl"), "x = 1\n").unwrap();
    std::fs::create_dir_all(stack.join(".git")).unwrap();
    std::fs::write(stack.join(".git/secrets.enc.hcl"), "not ours").unwrap();
    recipients_add(&op.identity, &stack, &teammate.recipient).unwrap();
    (stack, files)
}

fn snapshot(files: &[PathBuf]) -> Vec<Vec<u8>> {
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// Fails naming the files whose bytes differ from `before`.
fn assert_unchanged(what: &str, files: &[PathBuf], before: &[Vec<u8>]) {
    let changed: Vec<_> =
        files.iter().zip(before).filter(|(f, b)| std::fs::read(f).unwrap() != **b).map(|(f, _)| f).collect();
    assert!(changed.is_empty(), "{what}: {} file(s) changed: {changed:?}", changed.len());
}

fn assert_values(identity: &Path, files: &[PathBuf]) {
    for (i, f) in files.iter().enumerate() {
        let opened = open(identity, f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(opened.values()["password"].expose(), format!("pw-{i}"));
        assert_eq!(opened.values()["token"].expose(), format!("tok-{i}"));
    }
}

fn temp_leftovers(stack: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![stack.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p);
            } else if p.to_string_lossy().ends_with(".tmp") {
                found.push(p);
            }
        }
    }
    found
}

#[test]
fn rotation_reencrypts_every_file_and_keeps_values() {
    let op = operator();
    let teammate = operator();
    let (stack, files) = tree(&op, &teammate);
    let old_identity = std::fs::read(&op.identity).unwrap();

    let report = rotate_keys(&op.identity, &stack, RotateOptions::default()).unwrap();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(report.files, sorted);
    assert_ne!(report.new_recipient, op.recipient);

    // The identity file now holds the new key only; values are unchanged.
    assert_eq!(capstan_secrets::identity_recipients(&op.identity).unwrap(), [report.new_recipient.as_str()]);
    assert_values(&op.identity, &files);
    // The teammate keeps access; the old key does not.
    assert_values(&teammate.identity, &files);
    assert_eq!(std::fs::read(&report.backup).unwrap(), old_identity);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&report.backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for f in &files {
        let err = open(&report.backup, f).unwrap_err();
        assert!(matches!(err, SecretsError::WrongIdentity { .. }), "{err}");
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.contains(&report.new_recipient) && !text.contains(&op.recipient));
    }
    assert_eq!(std::fs::read_to_string(stack.join(".git/secrets.enc.hcl")).unwrap(), "not ours");
    assert!(temp_leftovers(&stack).is_empty());
}

fn assert_failed_rotation_changed_nothing(fault: FaultPoint) {
    let op = operator();
    let teammate = operator();
    let (stack, files) = tree(&op, &teammate);
    let before = snapshot(&files);
    let identity_before = std::fs::read(&op.identity).unwrap();

    let err = rotate_keys(&op.identity, &stack, RotateOptions { inject_fault: Some(fault) }).unwrap_err();
    assert!(matches!(err, SecretsError::RotationFailed { .. }), "{err}");
    // The error names the file where it failed (the 26th in path order).
    let mut sorted = files.clone();
    sorted.sort();
    assert!(err.to_string().contains(&sorted[25].display().to_string()), "{err}");

    assert_unchanged(&format!("{fault:?}"), &files, &before);
    assert!(std::fs::read(&op.identity).unwrap() == identity_before, "{fault:?}: identity changed");
    assert_values(&op.identity, &files);
    assert_values(&teammate.identity, &files);
    assert!(temp_leftovers(&stack).is_empty(), "{fault:?}: temps left: {:?}", temp_leftovers(&stack));
    // No stray backup remains beside the identity.
    let siblings = std::fs::read_dir(op.identity.parent().unwrap()).unwrap().count();
    assert_eq!(siblings, 1);

    // And a rotation after the failure works.
    let report = rotate_keys(&op.identity, &stack, RotateOptions::default()).unwrap();
    assert_eq!(report.files.len(), FILES);
    assert_values(&op.identity, &files);
}

#[test]
fn rotation_failing_while_staging_leaves_every_file_on_the_old_key() {
    assert_failed_rotation_changed_nothing(FaultPoint::Staging(25));
}

#[test]
fn rotation_failing_half_way_through_renames_rolls_back() {
    assert_failed_rotation_changed_nothing(FaultPoint::Committing(25));
}

/// A file that cannot be put back stays sealed to the new key: the identity
/// file keeps that key beside the old one, so no secret is lost.
#[test]
fn rotation_whose_rollback_fails_keeps_every_file_readable() {
    let op = operator();
    let teammate = operator();
    let (stack, files) = tree(&op, &teammate);
    let fault = FaultPoint::CommittingAndRestoring(25);

    let err = rotate_keys(&op.identity, &stack, RotateOptions { inject_fault: Some(fault) }).unwrap_err();
    assert!(matches!(err, SecretsError::RollbackFailed { .. }), "{err}");
    let mut sorted = files.clone();
    sorted.sort();
    assert!(err.to_string().contains(&sorted[0].display().to_string()), "{err}");

    assert_values(&op.identity, &files);
    assert_values(&teammate.identity, &files);
    // The old key is kept in a backup, as after a rotation that succeeded.
    let siblings = std::fs::read_dir(op.identity.parent().unwrap()).unwrap().count();
    assert_eq!(siblings, 2);

    // A rotation after the failure finishes the job.
    let report = rotate_keys(&op.identity, &stack, RotateOptions::default()).unwrap();
    assert_eq!(report.files.len(), FILES);
    assert_values(&op.identity, &files);
}

#[test]
fn rotation_refuses_a_tree_with_a_file_it_cannot_open() {
    let op = operator();
    let teammate = operator();
    let (stack, files) = tree(&op, &teammate);
    let foreign = stack.join("envs/env1/foreign/secrets.enc.hcl");
    std::fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    set(&teammate.identity, &foreign, "x", Sensitive::new("y")).unwrap();
    let before = snapshot(&files);
    let identity_before = std::fs::read(&op.identity).unwrap();

    let err = rotate_keys(&op.identity, &stack, RotateOptions::default()).unwrap_err();
    assert!(matches!(err, SecretsError::WrongIdentity { .. }), "{err}");
    assert!(err.to_string().contains("foreign/secrets.enc.hcl"), "{err}");
    assert_unchanged("refused rotation", &files, &before);
    assert!(std::fs::read(&op.identity).unwrap() == identity_before, "identity file changed");
}
