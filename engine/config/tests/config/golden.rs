//! A realistic tree, loaded and resolved, against expected JSON.

use capstan_config::{Command, StateBackend, load};
use serde_json::{Value, json};

use crate::support::{expect_file, fixtures, options, read_outputs, read_plugins, resolve_all};

#[test]
fn open_finance_tree_resolves_to_the_expected_model() {
    let dir = fixtures().join("golden");
    let stack = load(&dir.join("open-finance"), &options()).unwrap_or_else(|d| panic!("{d}"));
    let plugins = read_plugins(&dir.join("open-finance.plugins.json"));
    let outputs = read_outputs(&dir.join("open-finance.outputs.json"));
    let resolved = resolve_all(&stack, &plugins, &outputs, Command::Plan);

    let mut components = serde_json::Map::new();
    for (key, c) in &stack.components {
        let r = resolved[key].as_ref().unwrap_or_else(|d| panic!("{key}: {d}"));
        components.insert(
            key.clone(),
            json!({
                "id": c.id.to_string(),
                "type": c.component_type,
                "plugin": c.plugin,
                "version": c.version.to_string(),
                "grants": c.grants,
                "dependencies": c.dependencies.values().map(|d| json!({
                    "name": d.name,
                    "target": d.target,
                    "mocks_for_plan": d.mocks_allowed(Command::Plan),
                    "at": format!("{}:{}", d.location.file.display(), d.location.line),
                })).collect::<Vec<_>>(),
                "files": c.files.iter().map(|f| json!({"path": f.path, "bytes": f.contents.len()})).collect::<Vec<_>>(),
                "inputs": r.redacted(),
                "sensitive_paths": r.sensitive_paths,
                "origins": r.origins.iter().map(|(k, o)| (k.clone(), Value::String(o.to_string()))).collect::<serde_json::Map<_, _>>(),
            }),
        );
    }
    let state = match &stack.client.state {
        StateBackend::Postgres { url, .. } => json!({"backend": "postgres", "url": url.to_string()}),
        other => json!(format!("{other:?}")),
    };
    let conns = |m: &std::collections::BTreeMap<String, capstan_config::Connection>| {
        m.values()
            .map(|c| {
                (c.name.clone(), json!({"kind": c.kind, "url": c.url.as_ref().map(ToString::to_string), "settings": c.settings}))
            })
            .collect::<serde_json::Map<_, _>>()
    };
    let model = json!({
        "client": {
            "state": state,
            "plugin_sources": stack.client.plugin_sources,
            "connections": conns(&stack.client.connections),
            "trust": stack.client.trust,
            "values": stack.client.values,
        },
        "env_connections": stack.env_connections.iter().map(|(e, m)| (e.clone(), Value::Object(conns(m)))).collect::<serde_json::Map<_, _>>(),
        "order": stack.order(),
        "components": components,
    });
    let text = serde_json::to_string_pretty(&model).unwrap() + "\n";
    expect_file(&dir.join("open-finance.expected.json"), &text);
}
