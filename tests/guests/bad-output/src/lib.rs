//! Hostile: `plan` returns output that breaks the contract, chosen by the
//! `case` input.
use serde_json::json;

guest_common::guest!("bad-output", |req| {
    let case = guest_common::inputs(&req)["case"].as_str().unwrap_or_default().to_owned();
    let object = match case.as_str() {
        "not-json" => "{apiVersion: v1".to_owned(),
        "not-object" => "[1, 2]".to_owned(),
        "no-kind" => json!({"apiVersion": "v1", "metadata": {"name": "x"}}).to_string(),
        "no-name" => json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}).to_string(),
        _ => json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fine"}}).to_string(),
    };
    let output_value = if case == "bad-output-value" { "not json".to_owned() } else { "1".to_owned() };
    Ok(guest_common::ComponentPlan {
        objects: vec![object],
        effects: vec![],
        outputs: vec![guest_common::Output { name: "x".to_owned(), value: output_value, sensitive: false }],
        warnings: vec![],
    })
});
