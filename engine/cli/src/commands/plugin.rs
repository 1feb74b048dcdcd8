//! `capstan plugin inspect`, `list` and `test`, and the bundle commands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use capstan_run::plugins::{Catalog, Lookup};

use crate::progress::Progress;

/// The engine for commands that show no progress.
fn engine() -> anyhow::Result<capstan_run::Engine> {
    crate::engine(std::sync::Arc::new(Progress::quiet()))
}

pub fn inspect(what: &str, dirs: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let plugins = load(what, dirs)?;
    if json {
        let docs = plugins
            .iter()
            .map(|plugin| {
                let mut doc = serde_json::to_value(plugin.metadata())?;
                doc["digest"] = plugin.digest().into();
                doc["contract"] = contract(plugin).into();
                Ok(doc)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        crate::json::print("plugin inspect", serde_json::json!({ "plugins": docs }))?;
    } else {
        let texts: Vec<String> = plugins.iter().map(describe).collect();
        print!("{}", texts.join("\n"));
    }
    Ok(ExitCode::SUCCESS)
}

/// The plugins `what` names: a component (.wasm), every component of a
/// bundle, or a plugin's name as `plugin list` shows it (the built-ins and
/// `dirs`).
fn load(what: &str, dirs: &[PathBuf]) -> anyhow::Result<Vec<capstan_host::Plugin>> {
    let path = Path::new(what);
    let host = crate::host()?;
    if !path.is_file() {
        let catalog = engine()?.plugin_list(dirs.to_vec());
        let entries = catalog.entries()?;
        return match entries.iter().find(|e| e.plugin.metadata().name == what) {
            Some(e) => Ok(vec![e.plugin.clone()]),
            None => {
                let mut known: Vec<&str> =
                    entries.iter().map(|e| e.plugin.metadata().name.as_str()).collect();
                known.sort();
                known.dedup();
                anyhow::bail!(
                    "{what}: not a file, and no plugin of that name (known: {}). Other plugins come from \
                     signed bundles: a `plugin_source` block in client.hcl says where, a `trust` block whose \
                     key signed them; `capstan init` then fetches them, or pass the bundle file itself",
                    known.join(", ")
                )
            }
        };
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    // A bundle is a gzip archive; anything else is taken for a component.
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(vec![host.load_bytes(what, &bytes).with_context(|| format!("loading {what}"))?]);
    }
    let bundle = capstan_registry::Bundle::open(what, &bytes)?;
    bundle
        .manifest
        .components
        .iter()
        .map(|c| {
            let wasm =
                bundle.wasm(&c.plugin).with_context(|| format!("{what}: no component for {}", c.plugin))?;
            let label = format!("{what}: {}", c.plugin);
            host.load_bytes(&label, wasm).with_context(|| format!("loading {label}"))
        })
        .collect()
}

/// The contract the plugin was built against, such as `capstan:plugin@0.1.0`.
fn contract(plugin: &capstan_host::Plugin) -> String {
    format!("{}@{}", capstan_core::CONTRACT_PACKAGE, plugin.contract())
}

fn describe(plugin: &capstan_host::Plugin) -> String {
    let meta = plugin.metadata();
    if meta.is_policy() {
        return describe_policy(plugin);
    }
    let caps: Vec<String> = meta.capabilities.iter().map(ToString::to_string).collect();
    let inputs = top_level_keys(meta);
    format!(
        "name:           {}\nversion:        {}\ncomponent type: {}\nbackend:        {}\ndigest:         sha256:{}\n\
         contract:       {}\ncapabilities:   {}\ninputs:         {}\n\n{}\n",
        meta.name,
        meta.version,
        meta.component_type,
        meta.backend,
        plugin.digest(),
        contract(plugin),
        if caps.is_empty() { "none".into() } else { caps.join(", ") },
        if inputs.is_empty() { "(see the JSON schema: --json)".into() } else { inputs },
        meta.description,
    )
}

/// The top-level properties of a plugin's input (or params) schema, listed.
fn top_level_keys(meta: &capstan_core::Metadata) -> String {
    let properties = meta.input_schema.get("properties").and_then(|p| p.as_object());
    properties.map(|p| p.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

/// A policy plugin: its rules instead of a component type, params instead of inputs.
fn describe_policy(plugin: &capstan_host::Plugin) -> String {
    let meta = plugin.metadata();
    let params = top_level_keys(meta);
    let width = meta.rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let rules: String =
        meta.rules.iter().map(|r| format!("  {:<width$}  {}\n", r.id, r.description)).collect();
    format!(
        "name:           {}\nversion:        {}\nkind:           policy\ndigest:         sha256:{}\n\
         contract:       {}\nparams:         {}\nrules:\n{rules}\n{}\n",
        meta.name,
        meta.version,
        plugin.digest(),
        contract(plugin),
        if params.is_empty() { "(see the JSON schema: --json)".into() } else { params },
        meta.description,
    )
}

/// The manifest validator when none is named: `$CAPSTAN_MANIFEST_VALIDATOR`,
/// else the script of the repository this binary was built from.
fn default_validator() -> PathBuf {
    std::env::var_os("CAPSTAN_MANIFEST_VALIDATOR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/validate_manifests.py"))
    })
}

/// `plugin test`: the kit over a .wasm file, every component of a bundle,
/// or a plugin found by name; one report each.
fn test(
    what: &str,
    kit_type: Option<&str>,
    dirs: &[PathBuf],
    validator: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let validator = capstan_kit::ScriptValidator {
        script: validator.map(Path::to_path_buf).unwrap_or_else(default_validator),
        crds: None,
    };
    let plugins: Vec<capstan_run::plugins::HostPlugin> =
        load(what, dirs)?.into_iter().map(capstan_run::plugins::HostPlugin).collect();
    // A policy has no type to conform to: it gets the checks every policy promises.
    let reports: Vec<capstan_kit::Report> = plugins
        .iter()
        .map(|p| {
            if p.0.is_policy() {
                capstan_kit::run_policy(p)
            } else {
                capstan_kit::run(p, kit_type, &validator)
            }
        })
        .collect();
    if json {
        crate::json::print("plugin test", serde_json::json!({ "reports": reports }))?;
    } else {
        for r in &reports {
            println!("{r}");
        }
    }
    Ok(if reports.iter().all(capstan_kit::Report::passed) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub fn list(dirs: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let catalog = engine()?.plugin_list(dirs.to_vec());
    let entries = catalog.entries()?;
    if json {
        let rows: Vec<_> = entries
            .iter()
            .map(|e| {
                let m = e.plugin.metadata();
                serde_json::json!({"name": m.name, "version": m.version.to_string(), "component_type": m.component_type,
                    "backend": m.backend, "source": e.origin.to_string(), "digest": e.plugin.digest()})
            })
            .collect();
        crate::json::print("plugin list", serde_json::json!({ "plugins": rows }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let w = entries.iter().map(|e| e.plugin.metadata().name.len()).max().unwrap_or(4).max(4);
    println!("{:<w$}  {:<8}  {:<13}  {:<16}  source", "name", "version", "type", "backend");
    for e in entries {
        let m = e.plugin.metadata();
        println!(
            "{:<w$}  {:<8}  {:<13}  {:<16}  {}",
            m.name,
            m.version.to_string(),
            m.component_type,
            m.backend,
            e.origin
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Every `capstan plugin` command.
pub fn distribution(cmd: &crate::args::PluginCommand) -> anyhow::Result<ExitCode> {
    use crate::args::PluginCommand as C;
    match cmd {
        C::Inspect { plugin, plugin_dirs, json } => inspect(plugin, plugin_dirs, *json),
        C::List { plugin_dirs, json } => list(plugin_dirs, *json),
        C::Test { plugin, kit_type, plugin_dirs, validator, json } => {
            test(plugin, kit_type.as_deref(), plugin_dirs, validator.as_deref(), *json)
        }
        C::Pack { files, output, publisher, name, test } => {
            pack(files, output, publisher.as_deref(), name.as_deref(), *test)
        }
        C::Keygen { prefix } => keygen(prefix),
        C::Sign { bundle, key } => sign(bundle, key),
        C::Verify { bundle, key, trust } => verify(bundle, key.as_deref(), trust.as_deref()),
        C::Index { dir } => {
            let index = capstan_registry::Index::of_dir(dir)?;
            index.write_to(dir)?;
            println!(
                "Wrote {} ({} bundles).",
                dir.join(capstan_registry::INDEX_FILE).display(),
                index.bundles.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        C::Push { bundle, reference } => push(bundle, reference),
        C::New { name, kind, lang, dir, sdk } => {
            crate::commands::scaffold::new(name, kind, *lang, dir.as_deref(), sdk.as_deref())
        }
        C::Build { dir } => crate::commands::scaffold::build(dir),
        C::Lock { dir, allow_unsigned } => relock(dir, capstan_registry::LockMode::Refresh, *allow_unsigned),
        C::Upgrade { dir, allow_unsigned } => {
            relock(dir, capstan_registry::LockMode::Upgrade, *allow_unsigned)
        }
    }
}

fn pack(
    files: &[PathBuf],
    output: &Path,
    publisher: Option<&str>,
    name: Option<&str>,
    test: bool,
) -> anyhow::Result<ExitCode> {
    let validator = capstan_kit::ScriptValidator { script: default_validator(), crds: None };
    let host = crate::host()?;
    let mut components = Vec::new();
    let mut contracts = Vec::new();
    let mut bundle_publisher = publisher.map(str::to_string);
    for file in files {
        let plugin = host.load_file(file).with_context(|| format!("loading {}", file.display()))?;
        contracts.push(plugin.contract());
        let meta = plugin.metadata();
        let (own_publisher, short) = meta.name.split_once('/').unwrap_or(("", meta.name.as_str()));
        let publisher = bundle_publisher.get_or_insert_with(|| own_publisher.to_string()).clone();
        let conformance = test.then(|| {
            let handle = capstan_run::plugins::HostPlugin(plugin.clone());
            let report = if plugin.is_policy() {
                capstan_kit::run_policy(&handle)
            } else {
                capstan_kit::run(&handle, None, &validator)
            };
            println!("{report}\n");
            conformance(&report)
        });
        components.push(capstan_registry::PackComponent {
            plugin: format!("{publisher}/{short}"),
            version: meta.version.clone(),
            component_type: meta.component_type.clone(),
            backend: meta.backend.clone(),
            wasm: std::fs::read(file).with_context(|| format!("reading {}", file.display()))?,
            conformance,
        });
    }
    let publisher = bundle_publisher.unwrap_or_default();
    // The host just loaded every component, so each speaks a contract this
    // engine hosts; the bundle needs an engine that hosts the newest of them.
    let contract = contracts.into_iter().max().unwrap_or(capstan_core::CONTRACT_VERSION);
    let bundle = capstan_registry::Bundle::pack(&publisher, name, contract, components)?;
    capstan_registry::write_atomic(output, &bundle.to_bytes()?)?;
    let m = &bundle.manifest;
    println!(
        "Packed {} {} ({}) into {}: unsigned; sign it with `capstan plugin sign`.",
        m.name,
        m.version,
        bundle.digest(),
        output.display()
    );
    for c in &m.components {
        println!("  {}  {} / {}  sha256:{}", c.plugin, c.component_type, c.backend, c.sha256);
        if let Some(result) = &c.conformance {
            println!("    conformance: {result}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The kit's report as a bundle manifest records it.
fn conformance(report: &capstan_kit::Report) -> capstan_registry::Conformance {
    capstan_registry::Conformance {
        kit: report.kit_type.clone(),
        kit_version: report.kit_version,
        engine: env!("CARGO_PKG_VERSION").to_string(),
        passed: report.passed(),
        failed: report
            .checks
            .iter()
            .filter(|c| c.status != capstan_kit::Status::Pass)
            .map(|c| c.name.to_string())
            .collect(),
    }
}

/// `plugin push`: the login, when the registry wants one, comes from
/// `CAPSTAN_REGISTRY_USERNAME` and `CAPSTAN_REGISTRY_PASSWORD`.
fn push(path: &Path, reference: &str) -> anyhow::Result<ExitCode> {
    let archive = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let login = match (std::env::var("CAPSTAN_REGISTRY_USERNAME"), std::env::var("CAPSTAN_REGISTRY_PASSWORD"))
    {
        (Ok(username), Ok(password)) => Some(capstan_registry::oci::Credentials {
            username,
            password: capstan_core::Sensitive::new(password),
        }),
        (Err(_), Err(_)) => None,
        _ => anyhow::bail!("set both CAPSTAN_REGISTRY_USERNAME and CAPSTAN_REGISTRY_PASSWORD, or neither"),
    };
    let label = path.display().to_string();
    let bundle = open_bundle(path)?;
    if bundle.signature.is_none() {
        eprintln!(
            "warning: {label} is not signed: resolvers refuse it unless run with --allow-unsigned \
             (sign it with `capstan plugin sign`)"
        );
    }
    let pushed = capstan_registry::oci::push(&label, &archive, reference, login)?;
    let m = &bundle.manifest;
    println!("Pushed {} {} ({}):", m.name, m.version, bundle.digest());
    for p in pushed {
        println!("  {}  manifest {}", p.reference, p.manifest_digest);
    }
    Ok(ExitCode::SUCCESS)
}

fn keygen(prefix: &Path) -> anyhow::Result<ExitCode> {
    if let Some(dir) = prefix.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let key = capstan_registry::SecretKey::generate().map_err(anyhow::Error::msg)?;
    let (secret, public) = key.write_pair(prefix)?;
    println!(
        "Signing key: {} (keep it secret)\nPublic key:  {}\n{}",
        secret.display(),
        public.display(),
        key.public()
    );
    Ok(ExitCode::SUCCESS)
}

fn sign(path: &Path, key: &Path) -> anyhow::Result<ExitCode> {
    let mut bundle = open_bundle(path)?;
    let key = capstan_registry::SecretKey::read(key)?;
    capstan_registry::sign(&mut bundle, &key);
    capstan_registry::write_atomic(path, &bundle.to_bytes()?)?;
    println!("Signed {} {} with {}.", bundle.manifest.name, bundle.manifest.version, key.public().id());
    Ok(ExitCode::SUCCESS)
}

fn open_bundle(path: &Path) -> anyhow::Result<capstan_registry::Bundle> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(capstan_registry::Bundle::open(&path.display().to_string(), &bytes)?)
}

fn verify(path: &Path, key: Option<&Path>, trust: Option<&Path>) -> anyhow::Result<ExitCode> {
    let bundle = open_bundle(path)?;
    let m = &bundle.manifest;
    capstan_registry::check_contract(&m.name, &m.version, &m.contract)?;
    let signer = capstan_registry::verified_signer(&bundle)?;
    let verdict = match (key, trust) {
        (Some(key), _) => {
            let expected = capstan_registry::PublicKey::read(key)?;
            match &signer {
                Some(k) if *k == expected => format!("signed by {}", k.id()),
                Some(k) => anyhow::bail!(
                    "{}: signed by {}, not by {} ({})",
                    path.display(),
                    k.id(),
                    expected.id(),
                    key.display()
                ),
                None => anyhow::bail!("{}: not signed", path.display()),
            }
        }
        (None, Some(client)) => {
            let dir = client.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
            let policy = capstan_registry::TrustPolicy::from_config(&stack.client.trust, &stack.root)?;
            let mut signers = Vec::new();
            for c in &m.components {
                signers.push(policy.check(&bundle, &c.plugin, false)?.to_string());
            }
            signers.dedup();
            format!("signed by {}, trusted by {}", signers.join(", "), client.display())
        }
        (None, None) => match &signer {
            Some(k) => {
                format!("signed by {} (not checked against a trust policy: pass --key or --trust)", k.id())
            }
            None => anyhow::bail!("{}: not signed", path.display()),
        },
    };
    println!("OK: {} {} ({}), components intact, {verdict}.", m.name, m.version, bundle.digest());
    for c in &m.components {
        match &c.conformance {
            Some(result) => println!("  {}  conformance: {result}", c.plugin),
            None => println!("  {}  conformance: not recorded (pack with --test)", c.plugin),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `plugin lock` and `plugin upgrade`: every plugin the stack uses, resolved again.
fn relock(dir: &Path, mode: capstan_registry::LockMode, allow_unsigned: bool) -> anyhow::Result<ExitCode> {
    let engine = engine()?;
    let stack = engine.load_stack(dir)?;
    let catalog = engine.catalog(&stack, Vec::new(), allow_unsigned)?;
    for (name, version) in capstan_run::plugins::plugins_wanted(&stack) {
        if let Some((plugin, dir)) = Catalog::local_request(name) {
            println!("{plugin}  local build in {} (not locked)", dir.display());
            continue;
        }
        match catalog.resolve_bundle(name, version, mode)? {
            Lookup::Bundled(b) => {
                println!("{name}  {}  {}  signer: {}", b.entry.version, b.entry.digest, b.entry.signer);
            }
            Lookup::BuiltIn(_) => println!("{name}  built-in (not locked)"),
        }
    }
    println!("{} is up to date.", stack.root.join(capstan_registry::LOCK_FILE).display());
    Ok(ExitCode::SUCCESS)
}
