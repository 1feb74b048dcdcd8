//! `capstan plugin inspect` and `capstan plugin list`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use capstan_core::Metadata;

use crate::catalog::Catalog;

pub fn inspect(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let host = crate::host()?;
    let plugin = host.load_file(file).with_context(|| format!("loading {}", file.display()))?;
    let meta = plugin.metadata();
    if json {
        let mut doc = serde_json::to_value(meta)?;
        doc["digest"] = plugin.digest().into();
        doc["contract"] =
            format!("{}@{}", capstan_core::CONTRACT_PACKAGE, capstan_core::CONTRACT_VERSION).into();
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", describe(meta, plugin.digest()));
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(meta: &Metadata, digest: &str) -> String {
    let caps: Vec<String> = meta.capabilities.iter().map(capability).collect();
    let inputs = meta
        .input_schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|p| p.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    format!(
        "name:           {}\nversion:        {}\ncomponent type: {}\nbackend:        {}\ndigest:         sha256:{}\n\
         capabilities:   {}\ninputs:         {}\n\n{}\n",
        meta.name,
        meta.version,
        meta.component_type,
        meta.backend,
        digest,
        if caps.is_empty() { "none".into() } else { caps.join(", ") },
        if inputs.is_empty() { "(see the JSON schema: --json)".into() } else { inputs },
        meta.description,
    )
}

fn capability(c: &capstan_core::Capability) -> String {
    match c {
        capstan_core::Capability::Sql(t) => format!("sql:{t}"),
        capstan_core::Capability::Amqp(t) => format!("amqp:{t}"),
        capstan_core::Capability::Http(t) => format!("http:{t}"),
        capstan_core::Capability::ReadComponentDir => "read-component-dir".into(),
    }
}

pub fn list(dirs: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::new(crate::host()?, dirs.to_vec());
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
        println!("{}", serde_json::to_string_pretty(&rows)?);
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
