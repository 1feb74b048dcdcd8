//! `capstan plugin new` and `capstan plugin build`: start a plugin outside
//! this repository and build it the way the repository builds its own.
//!
//! `new` writes a Rust crate (a component plugin or a policy) or a Python
//! policy from the templates in `engine/cli/templates/`, embedded in the
//! binary. Nothing of the SDK is published, so the plugin depends on the
//! SDK of a checkout by path: by default the one this `capstan` was built
//! from, or `--sdk`. `build` runs cargo (or the Python SDK's build module)
//! and prints the path of the `.wasm`; it does not pack or sign.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context as _, bail};

/// The language of a new plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Cargo crate on the Rust SDK: a component plugin or a policy.
    Rust,
    /// A module on the Python SDK (sdk/python): policies only.
    Python,
}

/// The `sdk/` of the checkout this binary was built from.
const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sdk");

/// The file a Python plugin's directory holds for `plugin build`.
const PYTHON_MANIFEST: &str = "capstan-plugin.toml";

/// What the scaffold writes, embedded.
mod templates {
    pub const RUST_CARGO: &str = include_str!("../../templates/rust/Cargo.toml.in");
    pub const RUST_GITIGNORE: &str = include_str!("../../templates/rust/gitignore");
    pub const RUST_README: &str = include_str!("../../templates/rust/README.md");
    pub const RUST_COMPONENT: &str = include_str!("../../templates/rust/component.rs");
    pub const RUST_DEFAULTS: &str = include_str!("../../templates/rust/defaults.yaml");
    pub const RUST_POLICY: &str = include_str!("../../templates/rust/policy.rs");
    pub const PY_POLICY: &str = include_str!("../../templates/python/policy.py");
    pub const PY_TEST: &str = include_str!("../../templates/python/test_policy.py");
    pub const PY_MANIFEST: &str = include_str!("../../templates/python/capstan-plugin.toml");
    pub const PY_README: &str = include_str!("../../templates/python/README.md");
}

/// `capstan plugin new NAME --type TYPE --lang LANG [--dir D] [--sdk PATH]`.
pub fn new(
    name: &str,
    kind: &str,
    lang: Lang,
    dir: Option<&Path>,
    sdk: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (publisher, short) = split_name(name)?;
    let policy = kind == "policy";
    if !policy && !is_kebab(kind) {
        bail!(
            "--type {kind:?}: a component type is lowercase letters, digits and `-` (`cache`), or `policy`"
        );
    }
    if !policy && lang == Lang::Python {
        bail!("Python plugins are policies only: use --type policy, or --lang rust for a component type");
    }
    // A backend of a type Capstan ships a contract for must write that
    // contract's outputs (`capstan_sdk::contracts`), which a generic scaffold
    // cannot; the built-in plugins are the examples.
    if capstan_plan::contracts::contract_for(kind).is_some() {
        bail!(
            "--type {kind}: a backend of a type Capstan ships writes that type's outputs contract \
             (capstan_sdk::contracts, docs/contracts/{kind}.md), which this scaffold does not; start from \
             a built-in plugin of the type under plugins/, or scaffold a type of your own (`cache`)"
        );
    }
    let sdk = sdk_dir(sdk)?;
    let dir = dir.map_or_else(|| PathBuf::from(short), Path::to_path_buf);
    if dir.exists()
        && std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?.next().is_some()
    {
        bail!("{} exists and is not empty; choose another --dir", dir.display());
    }

    let struct_name = camel(short);
    let kind_text =
        if policy { "policy".to_owned() } else { format!("backend for components of type `{kind}`") };
    let fill = |template: &str, sdk_shown: &Path| {
        template
            .replace("{{name}}", name)
            .replace("{{publisher}}", publisher)
            .replace("{{short}}", short)
            .replace("{{crate}}", short)
            .replace("{{Struct}}", &struct_name)
            .replace("{{type}}", kind)
            .replace("{{kind}}", &kind_text)
            .replace("{{sdk}}", &sdk_shown.display().to_string())
    };
    let mut files: Vec<(&str, String)> = Vec::new();
    match lang {
        Lang::Rust => {
            let cargo = templates::RUST_CARGO.replace("{{sdk}}", &toml_escape(&sdk.display().to_string()));
            files.push(("Cargo.toml", fill(&cargo, &sdk)));
            files.push((".gitignore", templates::RUST_GITIGNORE.to_owned()));
            let (test_step, pack_test, usage) = if policy {
                (String::new(), "", policy_usage(name))
            } else {
                (
                    "capstan plugin test \"$wasm\"                  # the conformance kit\n".to_owned(),
                    " --test",
                    component_usage(name, kind),
                )
            };
            let readme = fill(templates::RUST_README, &sdk)
                .replace("{{test_step}}", &test_step)
                .replace("{{pack_test}}", pack_test)
                .replace("{{use}}", &usage);
            files.push(("README.md", readme));
            if policy {
                files.push(("src/lib.rs", fill(templates::RUST_POLICY, &sdk)));
            } else {
                files.push(("src/lib.rs", fill(templates::RUST_COMPONENT, &sdk)));
                files.push(("src/defaults.yaml", fill(templates::RUST_DEFAULTS, &sdk)));
            }
        }
        Lang::Python => {
            let python = sdk.join("python");
            let manifest = format!(
                "{}sdk = \"{}\"\n",
                fill(templates::PY_MANIFEST, &python),
                toml_escape(&python.display().to_string())
            );
            files.push((PYTHON_MANIFEST, manifest));
            files.push(("policy.py", fill(templates::PY_POLICY, &python)));
            files.push(("test_policy.py", fill(templates::PY_TEST, &python)));
            files.push(("README.md", fill(templates::PY_README, &python)));
            files.push((".gitignore", "*.wasm\ndist/\n__pycache__/\n".to_owned()));
        }
    }

    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    // The versions the SDK is tested with (and no network for what is
    // already downloaded): cargo keeps what it needs of the checkout's lock.
    let lock = sdk.join("../Cargo.lock");
    if lang == Lang::Rust && lock.is_file() {
        std::fs::copy(&lock, dir.join("Cargo.lock"))
            .with_context(|| format!("copying {}", lock.display()))?;
    }

    let what = match (lang, policy) {
        (Lang::Rust, true) => "a Rust policy",
        (Lang::Rust, false) => "a Rust component plugin",
        (Lang::Python, _) => "a Python policy",
    };
    let mut out = format!("Created {name}, {what}, in {}:\n", dir.display());
    for (rel, _) in &files {
        let _ = writeln!(out, "  {rel}");
    }
    let _ = writeln!(out, "Next: cd {} and read README.md; `capstan plugin build` builds it.", dir.display());
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// `capstan plugin build [DIR]`: the `.wasm` of the plugin in `dir`, whose
/// path is the one line printed on stdout.
pub fn build(dir: &Path) -> anyhow::Result<ExitCode> {
    let wasm = if dir.join("Cargo.toml").is_file() {
        build_rust(dir)?
    } else if dir.join(PYTHON_MANIFEST).is_file() {
        build_python(dir)?
    } else {
        bail!(
            "{}: no Cargo.toml (a Rust plugin) or {PYTHON_MANIFEST} (a Python policy); `capstan plugin new` starts one",
            dir.display()
        );
    };
    println!("{}", wasm.display());
    Ok(ExitCode::SUCCESS)
}

/// `cargo build --target wasm32-wasip2 --profile plugin`, with the linker
/// settings the built-in plugins get.
fn build_rust(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = dir.join("Cargo.toml").canonicalize().context("finding Cargo.toml")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args([
            "--target",
            "wasm32-wasip2",
            "--profile",
            "plugin",
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // Flags for every target would override the per-target ones below (cargo
    // takes the first of RUSTFLAGS and the target's flags), so the initial
    // memory would be silently missing: the same rule as engine/wasm-build.
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS"] {
        cmd.env_remove(var);
    }
    let mut flags = std::env::var("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS").unwrap_or_default();
    if !flags.is_empty() {
        flags.push(' ');
    }
    // The flags engine/wasm-build links the built-in plugins with (its
    // `build` is for build scripts, which print to cargo, so cargo is run here).
    flags.push_str(&capstan_wasm_build::plugin_rustflags());
    cmd.env("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", flags);

    let mut child = cmd.spawn().context("running cargo")?;
    let mut wasm = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if msg["reason"] == "compiler-artifact"
                && msg["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path())
                && let Some(files) = msg["filenames"].as_array()
                && let Some(file) = files.iter().filter_map(|f| f.as_str()).find(|f| f.ends_with(".wasm"))
            {
                wasm = Some(PathBuf::from(file));
            }
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!(
            "cargo build --target wasm32-wasip2 --profile plugin failed ({status}); its errors are above \
             (a missing target: rustup target add wasm32-wasip2)"
        );
    }
    wasm.with_context(|| format!("cargo built no .wasm for {}: is the crate a cdylib?", manifest.display()))
}

/// `python3 -m capstan_sdk.build ENTRY -p DIR -o DIR/OUTPUT`, ENTRY and
/// OUTPUT from capstan-plugin.toml, the SDK on PYTHONPATH.
fn build_python(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(PYTHON_MANIFEST);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let entry = toml_value(&text, "entry")
        .with_context(|| format!("{}: no `entry = \"module:Class\"`", path.display()))?;
    let output = toml_value(&text, "output").unwrap_or_else(|| "policy.wasm".to_owned());
    let sdk = match toml_value(&text, "sdk") {
        Some(sdk) => PathBuf::from(sdk),
        None => sdk_dir(None)?.join("python"),
    };
    if !sdk.join("capstan_sdk").is_dir() {
        bail!(
            "{}: the Python SDK is not at {} (set `sdk` to a checkout's sdk/python)",
            path.display(),
            sdk.display()
        );
    }
    let mut python_path = std::ffi::OsString::from(&sdk);
    if let Some(more) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
        python_path.push(":");
        python_path.push(more);
    }
    let out = dir.join(&output);
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "capstan_sdk.build", &entry, "-p"])
        .arg(dir)
        .arg("-o")
        .arg(&out)
        .env("PYTHONPATH", python_path)
        // stdout is for the `.wasm` path only.
        .stdout(std::io::stderr());
    let status =
        cmd.status().context("running python3 (a Python policy builds with python3 and componentize-py)")?;
    if !status.success() {
        bail!(
            "python3 -m capstan_sdk.build {entry} failed ({status}); its errors are above \
             (componentize-py missing: pip install componentize-py==0.25.1)"
        );
    }
    out.canonicalize().with_context(|| format!("finding {}", out.display()))
}

/// `publisher` and `name` of `publisher/name`, each kebab-case.
fn split_name(name: &str) -> anyhow::Result<(&str, &str)> {
    match name.split_once('/') {
        Some((publisher, short))
            if is_kebab(publisher)
                && is_kebab(short)
                && short.starts_with(|c: char| c.is_ascii_lowercase()) =>
        {
            Ok((publisher, short))
        }
        _ => bail!(
            "{name:?}: a plugin's name is `publisher/name` (`acme/cache-redis`), each lowercase letters, \
             digits and `-`, the name starting with a letter"
        ),
    }
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `cache-redis` → `CacheRedis`.
fn camel(short: &str) -> String {
    short
        .split('-')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The SDK to depend on: `--sdk`, else the checkout this binary was built from.
fn sdk_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = given.unwrap_or(Path::new(BUILT_FROM_SDK));
    match dir.canonicalize() {
        Ok(dir) if dir.join("Cargo.toml").is_file() && dir.join("python/capstan_sdk").is_dir() => Ok(dir),
        _ => bail!(
            "{}: not the sdk/ of a Capstan checkout (the SDK is not published; pass --sdk <checkout>/sdk)",
            dir.display()
        ),
    }
}

/// A string as the inside of a TOML basic string.
fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The string value of a top-level `key = "value"` line: the little of
/// TOML that capstan-plugin.toml uses.
fn toml_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        let v = v.trim().strip_prefix('"')?.strip_suffix('"')?;
        (k.trim() == key).then(|| v.replace("\\\"", "\"").replace("\\\\", "\\"))
    })
}

/// The README's last paragraph for a component plugin.
fn component_usage(name: &str, kind: &str) -> String {
    format!(
        " A component then names it:\n\n```hcl\ncomponent {{\n  type    = \"{kind}\"\n  plugin  = \"{name}\"\n  \
         version = \"^0.1\"\n}}\ninputs = {{\n  image = \"registry.example/server:1.0.0\"\n}}\n```\n"
    )
}

/// The README's last paragraph for a policy.
fn policy_usage(name: &str) -> String {
    format!(
        " A `policy` block enforces it:\n\n```hcl\npolicy \"labels\" {{\n  plugin  = \"{name}\"\n  \
         version = \"^0.1\"\n  mode    = \"enforce\"\n}}\n```\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_publisher_slash_kebab_case() {
        assert_eq!(split_name("acme/cache-redis").ok(), Some(("acme", "cache-redis")));
        for bad in ["cache", "acme/", "/x", "Acme/x", "acme/x/y", "acme/1x", "acme/-x", "acme/x_y"] {
            assert!(split_name(bad).is_err(), "{bad}");
        }
        assert_eq!(camel("cache-redis"), "CacheRedis");
    }

    #[test]
    fn reads_the_few_toml_values_it_writes() {
        let text = "# c\nentry = \"policy:P\"\nsdk = \"C:\\\\x \\\"y\\\"\"\n";
        assert_eq!(toml_value(text, "entry").as_deref(), Some("policy:P"));
        assert_eq!(toml_value(text, "sdk").as_deref(), Some("C:\\x \"y\""));
        assert_eq!(toml_value(text, "output"), None);
    }
}
