//! Builds crates for `wasm32-wasip2` from a `build.rs`, so plugins and test
//! guests are compiled from source as part of an ordinary `cargo build`.
//!
//! [`build`] runs a nested `cargo build --target wasm32-wasip2` for the named
//! packages of one workspace and returns where each `.wasm` component landed.
//! The nested build uses its own target directory (by default
//! `<workspace>/target/wasm`), so it never waits on the lock of the outer build,
//! and it drops the environment the outer cargo sets for host code (rustflags,
//! target, wrappers, profile overrides), which would otherwise leak into the
//! wasm build. It prints `cargo:rerun-if-changed` for the sources of every
//! local crate the build used, so the outer crate rebuilds when a guest changes.
//!
//! It does not install the target (that is `rustup target add wasm32-wasip2`,
//! which it tells you to run) and it does not post-process the output:
//! rustc already links wasip2 binaries as components.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Rust target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Linear memory a plugin starts with, in bytes (a multiple of 64 KiB).
const INITIAL_MEMORY: u32 = 2 << 20;

/// The rustflags every plugin is linked with for [`TARGET`] (the 2 MiB
/// initial memory, see `build`), for a builder outside a build script
/// (`capstan plugin build`) to apply the same.
pub fn plugin_rustflags() -> String {
    format!("-C link-arg=--initial-memory={INITIAL_MEMORY}")
}

/// What to build.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The `Cargo.toml` of the workspace (or single crate) to build from.
    pub manifest: PathBuf,
    /// Packages to build, by name. Each must produce a `cdylib` or a binary
    /// whose target name is the package name (with `-` read as `_`).
    pub packages: Vec<String>,
    /// The cargo profile; the workspace must define it unless it is `dev` or
    /// `release`. Capstan's workspaces define `plugin`.
    pub profile: String,
    /// Where the nested build puts its output. `None` means
    /// `<manifest dir>/target/wasm`.
    pub target_dir: Option<PathBuf>,
    /// Extra paths whose changes must rebuild the outer crate (the WIT
    /// directory, say); the sources of local crates are watched already.
    pub watch: Vec<PathBuf>,
}

impl Spec {
    /// Builds `packages` of the workspace at `manifest` with the `plugin` profile.
    pub fn new(manifest: impl Into<PathBuf>, packages: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            manifest: manifest.into(),
            packages: packages.into_iter().map(Into::into).collect(),
            profile: "plugin".to_owned(),
            target_dir: None,
            watch: Vec::new(),
        }
    }

    /// Puts the nested build's output in `dir` instead of
    /// `<manifest dir>/target/wasm`.
    pub fn target_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.target_dir = Some(dir.into());
        self
    }

    /// Builds with the cargo profile `profile` instead of `plugin`.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = profile.into();
        self
    }

    /// Also rebuilds the outer crate when `path` changes; adds to
    /// [`Spec::watch`].
    pub fn watch(mut self, path: impl Into<PathBuf>) -> Self {
        self.watch.push(path.into());
        self
    }
}

/// Errors of [`build`].
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `rustc` has no standard library for [`TARGET`]: the target was never
    /// added with rustup.
    #[error(
        "the Rust target {TARGET} is not installed, so plugins cannot be built; run: rustup target add {TARGET}"
    )]
    TargetMissing,
    /// `rustc` or the nested `cargo` could not be started or waited on (not
    /// on `PATH`, say).
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line, program and arguments.
        command: String,
        /// Why the process could not be run.
        source: std::io::Error,
    },
    /// The nested `cargo build` exited unsuccessfully, usually on a
    /// compile error in a guest; cargo has printed the diagnostics to stderr.
    #[error("`{command}` failed with {status}; its errors are printed above")]
    Failed {
        /// The nested cargo command line.
        command: String,
        /// How it exited.
        status: std::process::ExitStatus,
    },
    /// The nested build succeeded but reported no `.wasm` for some packages:
    /// a package has no `cdylib` or binary named after it.
    #[error("`{command}` built no .wasm for package(s) {}", missing.join(", "))]
    NoArtifact {
        /// The nested cargo command line.
        command: String,
        /// The packages of [`Spec::packages`] without a `.wasm`.
        missing: Vec<String>,
    },
    /// [`Spec::packages`] is empty.
    #[error("no packages given to build from {}", manifest.display())]
    NothingToBuild {
        /// The [`Spec::manifest`] of the empty spec.
        manifest: PathBuf,
    },
}

/// Environment the outer cargo sets for the host build that must not reach
/// the nested wasm build: flags and wrappers meant for host code, and the
/// target/target dir it was asked for.
const HOST_ONLY_ENV: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_BUILD_DIR",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "CARGO_LLVM_COV",
    "CARGO_LLVM_COV_TARGET_DIR",
    "CARGO_INCREMENTAL",
    "CARGO_PRIMARY_PACKAGE",
    "CLIPPY_ARGS",
    "CLIPPY_CONF_DIR",
];

/// Prefixes of environment variables dropped for the same reason: per-target
/// and per-profile settings of the outer build.
const HOST_ONLY_ENV_PREFIXES: &[&str] = &["CARGO_PROFILE_", "CARGO_TARGET_", "CARGO_CFG_", "CARGO_FEATURE_"];

/// Builds the packages of `spec` and returns each package's `.wasm`.
pub fn build(spec: &Spec) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    if spec.packages.is_empty() {
        return Err(BuildError::NothingToBuild { manifest: spec.manifest.clone() });
    }
    check_target()?;

    let manifest_dir = spec.manifest.parent().unwrap_or(Path::new("."));
    let target_dir = spec.target_dir.clone().unwrap_or_else(|| manifest_dir.join("target").join("wasm"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    let mut cmd = Command::new(&cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&spec.manifest)
        .arg("--target")
        .arg(TARGET)
        .arg("--profile")
        .arg(&spec.profile)
        .arg("--message-format=json-render-diagnostics")
        .arg("--target-dir")
        .arg(&target_dir);
    for p in &spec.packages {
        cmd.arg("-p").arg(p);
    }
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if HOST_ONLY_ENV.contains(&key) || HOST_ONLY_ENV_PREFIXES.iter().any(|p| key.starts_with(p)) {
            cmd.env_remove(key);
        }
    }
    // Room for a plan call's heap from the start (Rust's default is the
    // static data and the stack, 1.06 MiB): a call that has to grow its
    // memory pays a page-table change per grow and another when its slot is
    // reset, on every instantiation.
    cmd.env("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", plugin_rustflags());
    // Diagnostics are rendered on stderr, which cargo shows when a build script fails.
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let command = describe(&cmd);

    let mut child = cmd.spawn().map_err(|source| BuildError::Spawn { command: command.clone(), source })?;
    let mut wasm = BTreeMap::new();
    let mut watched = BTreeSet::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            record_message(&line, &spec.packages, &mut wasm, &mut watched);
        }
    }
    let status = child.wait().map_err(|source| BuildError::Spawn { command: command.clone(), source })?;

    // Watch before reporting failure too: a fix to a guest must trigger a rebuild.
    watched.insert(spec.manifest.clone());
    watched.insert(manifest_dir.join("Cargo.lock"));
    watched.extend(spec.watch.iter().cloned());
    for path in &watched {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    if !status.success() {
        return Err(BuildError::Failed { command, status });
    }
    let missing: Vec<String> = spec.packages.iter().filter(|p| !wasm.contains_key(*p)).cloned().collect();
    if !missing.is_empty() {
        return Err(BuildError::NoArtifact { command, missing });
    }
    Ok(wasm)
}

/// Reads one line of cargo's JSON output: records a built `.wasm` of a wanted
/// package, and the sources of every local (path) crate the build compiled.
fn record_message(
    line: &str,
    packages: &[String],
    wasm: &mut BTreeMap<String, PathBuf>,
    watched: &mut BTreeSet<PathBuf>,
) {
    let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { return };
    if msg["reason"] != "compiler-artifact" {
        return;
    }
    let local = msg["package_id"].as_str().is_some_and(|id| id.starts_with("path+"));
    if local
        && let Some(manifest) = msg["manifest_path"].as_str().map(Path::new)
        && let Some(dir) = manifest.parent()
    {
        watched.insert(manifest.to_path_buf());
        for extra in ["src", "build.rs"] {
            if dir.join(extra).exists() {
                watched.insert(dir.join(extra));
            }
        }
    }
    let Some(target_name) = msg["target"]["name"].as_str() else { return };
    let target_name = target_name.replace('-', "_");
    let Some(package) = packages.iter().find(|p| p.replace('-', "_") == target_name) else { return };
    let Some(files) = msg["filenames"].as_array() else { return };
    if let Some(file) = files.iter().filter_map(|f| f.as_str()).find(|f| f.ends_with(".wasm")) {
        wasm.insert(package.clone(), PathBuf::from(file));
    }
}

/// Fails early, with the fix, when the wasm target's standard library is absent.
fn check_target() -> Result<(), BuildError> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .env_remove("RUSTFLAGS")
        .output()
        .map_err(|source| BuildError::Spawn {
            command: format!("{} --print target-libdir", rustc.to_string_lossy()),
            source,
        })?;
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let has_std = output.status.success()
        && std::fs::read_dir(&libdir).is_ok_and(|entries| {
            entries.filter_map(Result::ok).any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
        });
    if has_std { Ok(()) } else { Err(BuildError::TargetMissing) }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn records_wasm_of_wanted_packages_and_watches_local_sources() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        let manifest = dir.path().join("Cargo.toml");
        let line = serde_json::json!({
            "reason": "compiler-artifact",
            "package_id": format!("path+file://{}#guest-ok@0.1.0", dir.path().display()),
            "manifest_path": manifest,
            "target": {"name": "guest_ok", "kind": ["cdylib"]},
            "filenames": ["/t/guest_ok.rlib", "/t/guest_ok.wasm"],
        })
        .to_string();
        let mut wasm = BTreeMap::new();
        let mut watched = BTreeSet::new();
        record_message(&line, &["guest-ok".to_owned()], &mut wasm, &mut watched);
        assert_eq!(wasm["guest-ok"], PathBuf::from("/t/guest_ok.wasm"));
        assert!(watched.contains(&dir.path().join("src")));
        assert!(watched.contains(&manifest));

        let mut other = BTreeMap::new();
        record_message(&line, &["guest-loop".to_owned()], &mut other, &mut watched);
        assert!(other.is_empty());
    }

    #[test]
    fn registry_crates_are_not_watched() {
        let line = r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0","manifest_path":"/r/serde/Cargo.toml","target":{"name":"serde"},"filenames":["/t/libserde.rlib"]}"#;
        let mut wasm = BTreeMap::new();
        let mut watched = BTreeSet::new();
        record_message(line, &["serde".to_owned()], &mut wasm, &mut watched);
        assert!(watched.is_empty());
        assert!(wasm.is_empty());
    }
}
