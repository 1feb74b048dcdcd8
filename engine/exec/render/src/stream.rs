//! The whole rendered environment as one multi-document YAML stream, for a
//! tool that applies it straight away (Argo CD's config management plugin):
//! components in the order given, each object's document after a
//! `# Source:` line naming the file it would have in a rendered tree, and
//! each Secret as its environment's [`SecretsPolicy`] says.

use std::time::SystemTime;

use serde_json::Value;

use crate::layout::{is_secret, object_file_name, segment};
use crate::secrets::{Delivery, SecretsPolicy};
use crate::yaml::append_yaml;
use crate::{RenderError, RenderedComponent};

/// The stream of `components`' objects.
pub fn stream(components: &[RenderedComponent], secrets: &SecretsPolicy) -> Result<String, RenderError> {
    let mut out = String::with_capacity(components.len() * 4096);
    for component in components {
        let label = component.id.to_string();
        let env = segment(&label, "environment", &component.id.environment)?;
        let ns = segment(&label, "namespace", &component.id.namespace)?;
        let name = segment(&label, "component name", &component.id.name)?;
        for (index, object) in component.objects.iter().enumerate() {
            let file = object_file_name(object).ok_or_else(|| RenderError::InvalidObject {
                component: label.clone(),
                index,
                why: "it has no kind or no metadata.name".to_string(),
            })?;
            let source = format!("{env}/{ns}/{name}/{file}");
            out.push_str("---\n# Source: ");
            out.push_str(&source);
            out.push('\n');
            if !is_secret(object) {
                append_yaml(object, &mut out);
                continue;
            }
            match secrets.get(env).map(AsRef::as_ref) {
                Some(Delivery::Plain) => append_yaml(object, &mut out),
                Some(Delivery::Sops(keys)) => out.push_str(&sealed(object, keys, &source)?),
                // The stream is applied, not stored: the operator fetches
                // the values, which the apply that wrote them put in the store.
                Some(Delivery::External(store)) => {
                    let external = crate::external::externalise(object, store, env, ns)
                        .map_err(|why| RenderError::InvalidObject { component: label.clone(), index, why })?;
                    append_yaml(&external.object, &mut out);
                }
                None => {
                    return Err(RenderError::NoSecretsDelivery {
                        component: label,
                        environment: env.to_owned(),
                        file: source,
                    });
                }
            }
        }
    }
    Ok(out)
}

fn sealed(object: &Value, keys: &crate::SopsKeys, source: &str) -> Result<String, RenderError> {
    capstan_sops::encrypt(object, &keys.recipients, SystemTime::now())
        .map_err(|e| RenderError::Sops { path: source.into(), source: e })
}
