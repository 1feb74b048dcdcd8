//! The HCL loader (`capstan-config`): a whole stack (the golden open-finance
//! fixture, copied once into a temporary directory) with one of its files
//! replaced by the input, then loaded from the staging environment as
//! `capstan plan envs/staging` loads it, and every diagnostic rendered with
//! its source snippet. The first byte picks the file, the rest is its text:
//! a repository's files give a stack or located errors, never a panic.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use capstan_config::LoadOptions;
use libfuzzer_sys::fuzz_target;

/// The files an input can replace, by its first byte (modulo their number).
const FILES: [&str; 7] = [
    "client.hcl",
    "_templates/app.hcl",
    "envs/staging/env.hcl",
    "envs/staging/core/namespace.hcl",
    "envs/staging/core/api/component.hcl",
    "envs/staging/core/postgres/component.hcl",
    "envs/staging/core/messaging/component.hcl",
];

struct Stack {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the stack directory");
    for entry in std::fs::read_dir(from).expect("read the fixture") {
        let entry = entry.expect("read the fixture");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy the fixture");
        }
    }
}

static STACK: LazyLock<Stack> = LazyLock::new(|| {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/config/tests/fixtures/golden/open-finance");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().join("open-finance");
    copy_tree(&fixture, &root);
    Stack { _dir: dir, root }
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let stack = &*STACK;
    let file = stack.root.join(FILES[usize::from(pick) % FILES.len()]);
    let original = std::fs::read(&file).expect("read the fixture file");
    std::fs::write(&file, text).expect("write the input");
    let result = capstan_config::load(&stack.root.join("envs/staging"), &LoadOptions::default());
    std::fs::write(&file, original).expect("restore the fixture file");
    if let Err(diagnostics) = result {
        let _ = diagnostics.to_string();
    }
});
