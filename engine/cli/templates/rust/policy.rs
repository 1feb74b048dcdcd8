//! Capstan policy `{{name}}`: every object Capstan plans carries a label
//! (by default `app.kubernetes.io/name`), so the cluster's tooling can tell
//! what it belongs to.

use capstan_sdk::prelude::*;

/// What a `policy` block's `params` may set; merged over the defaults.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The label every object must carry.
    pub label: String,
}

/// The policy.
pub struct {{Struct}};

impl Policy for {{Struct}} {
    fn metadata() -> Metadata {
        MetadataBuilder::policy("{{name}}", env!("CARGO_PKG_VERSION"))
            .description("Every object carries the configured label.")
            .rule(
                "required-label",
                "Every object has the label `label` (default app.kubernetes.io/name).",
            )
            .input_schema_for::<Params>()
            .defaults_yaml("label: app.kubernetes.io/name\n")
            .build()
    }

    fn check(req: &CheckRequest) -> Result<Vec<Violation>, String> {
        let params: Params = req.params()?; // an Err is the policy failing, not a violation
        Ok(req
            .objects
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o["metadata"]["labels"][params.label.as_str()]
                    .as_str()
                    .is_none_or(str::is_empty)
            })
            .map(|(i, o)| {
                let what = format!(
                    "{} {}",
                    o["kind"].as_str().unwrap_or("object"),
                    o["metadata"]["name"]
                );
                Violation::error(
                    "required-label",
                    i,
                    "/metadata/labels",
                    format!("{what} has no label `{}`; add it", params.label),
                )
            })
            .collect())
    }
}

capstan_sdk::export_policy!({{Struct}});

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use capstan_sdk::testkit::{CheckCall, ViolationsExt, check_policy_metadata};
    use serde_json::json;

    use super::*;

    fn config_map(labels: serde_json::Value) -> serde_json::Value {
        json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "settings", "labels": labels } })
    }

    #[test]
    fn metadata_is_valid() {
        check_policy_metadata::<{{Struct}}>();
    }

    #[test]
    fn an_object_without_the_label_is_a_violation_at_its_labels() {
        let objects = vec![
            config_map(json!({ "app.kubernetes.io/name": "api" })),
            config_map(json!({})),
        ];
        let violations = CheckCall::new(objects).run::<{{Struct}}>().unwrap();
        assert_eq!(violations.at("required-label"), [(1, "/metadata/labels")]);
    }

    #[test]
    fn the_label_is_a_param() {
        let objects = vec![config_map(json!({ "app.kubernetes.io/name": "api" }))];
        let violations = CheckCall::new(objects)
            .params(json!({ "label": "team" }))
            .run::<{{Struct}}>()
            .unwrap();
        assert_eq!(violations.rules_broken(), ["required-label"]);
    }
}
