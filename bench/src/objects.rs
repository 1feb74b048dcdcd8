//! Kubernetes objects read back from YAML, to check that `bench/chart`
//! renders the same objects as the `capstan/app` plugin: the comparison is
//! meaningless unless both sides produce the same manifests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use serde_json::Value;

use crate::BenchError;

/// Objects by `apiVersion/kind namespace/name`.
pub type Objects = BTreeMap<String, Value>;

fn key(object: &Value) -> String {
    let field = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    format!(
        "{}/{} {}/{}",
        field("/apiVersion"),
        field("/kind"),
        field("/metadata/namespace"),
        field("/metadata/name")
    )
}

/// Every document of a multi-document YAML text (empty documents skipped).
fn documents(path: &Path, text: &str) -> Result<Vec<Value>, BenchError> {
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(doc)
            .map_err(|e| BenchError::Yaml { path: path.to_owned(), message: e.to_string() })?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String, BenchError> {
    std::fs::read_to_string(path).map_err(|source| BenchError::Read { path: path.to_owned(), source })
}

fn insert(objects: &mut Objects, path: &Path, text: &str) -> Result<(), BenchError> {
    for object in documents(path, text)? {
        objects.insert(key(&object), object);
    }
    Ok(())
}

/// The objects of one multi-document YAML file (`helm template` output).
///
/// # Errors
/// When the file cannot be read or is not YAML.
pub fn from_file(path: &Path) -> Result<Objects, BenchError> {
    let mut objects = Objects::new();
    insert(&mut objects, path, &read(path)?)?;
    Ok(objects)
}

/// The objects of a render target's output directory: every `*.yaml` below
/// it but the kustomizations capstan writes beside them.
///
/// # Errors
/// When a file cannot be read or is not YAML.
pub fn from_render_dir(dir: &Path) -> Result<Objects, BenchError> {
    let mut objects = Objects::new();
    let mut dirs: Vec<PathBuf> = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|source| BenchError::Read { path: dir.clone(), source })?;
        for entry in entries {
            let path = entry.map_err(|source| BenchError::Read { path: dir.clone(), source })?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                dirs.push(path);
            } else if name.ends_with(".yaml") && name != "kustomization.yaml" {
                insert(&mut objects, &path, &read(&path)?)?;
            }
        }
    }
    Ok(objects)
}

/// What differs between two sets of objects, one line each (empty: the same).
pub fn differences(left: &Objects, right: &Objects) -> Vec<String> {
    let mut out = Vec::new();
    for (k, l) in left {
        match right.get(k) {
            None => out.push(format!("only in the first: {k}")),
            Some(r) if r != l => out.push(format!("differs: {k}\n  first:  {l}\n  second: {r}")),
            Some(_) => {}
        }
    }
    out.extend(right.keys().filter(|k| !left.contains_key(*k)).map(|k| format!("only in the second: {k}")));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_same_objects_in_another_key_order_and_quoting_are_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let helm = dir.path().join("helm.yaml");
        std::fs::write(&helm, "---\n# Source: x\nkind: Service\napiVersion: v1\nmetadata: {name: a, namespace: n}\nspec: {port: 80}\n---\n").unwrap();
        let rendered = dir.path().join("out/env/n/a");
        std::fs::create_dir_all(&rendered).unwrap();
        std::fs::write(rendered.join("service-a.yaml"), "# Rendered by capstan\napiVersion: 'v1'\nkind: Service\nmetadata:\n  name: a\n  namespace: n\nspec:\n  port: 80\n").unwrap();
        std::fs::write(rendered.join("kustomization.yaml"), "resources: [service-a.yaml]\n").unwrap();
        let (l, r) = (from_render_dir(&dir.path().join("out")).unwrap(), from_file(&helm).unwrap());
        assert_eq!(l.len(), 1);
        assert_eq!(differences(&l, &r), Vec::<String>::new());
    }

    #[test]
    fn a_changed_field_and_a_missing_object_are_reported() {
        let parse = |t: &str| {
            let mut o = Objects::new();
            insert(&mut o, Path::new("t.yaml"), t).unwrap();
            o
        };
        let a = parse(
            "kind: Service\nmetadata: {name: a}\nspec: {port: 80}\n---\nkind: Ingress\nmetadata: {name: a}\n",
        );
        let b = parse("kind: Service\nmetadata: {name: a}\nspec: {port: 81}\n");
        let diffs = differences(&a, &b);
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        assert!(diffs[0].starts_with("only in the first: /Ingress /a"), "{diffs:?}");
        assert!(diffs[1].starts_with("differs: /Service /a"), "{diffs:?}");
    }
}
