//! A messaging-sqs component applied through the real `capstan` binary to
//! a real `moto_server` (started on a loopback port by the test, installed
//! by tests/setup.sh): the queues exist, the component's outputs carry the
//! queue URLs SQS returned, a second apply changes nothing, and the AWS
//! secret key appears nowhere.

use capstan_http::testing::Moto;
use serde_json::{Value, json};

use crate::support::{Run, Stack, walk};

const SECRET: &str = "moto-secret-never-shown-9f3a";

fn run(s: &Stack, args: &[&str]) -> Run {
    // Credentials and region from the operator's environment, as the AWS CLI
    // reads them; the endpoint from env.hcl's `connection "aws"` block.
    let out = s
        .command(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDCAPSTANE2E")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "sa-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_SQS")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command: format!("capstan {} (in {})", args.join(" "), s.root().display()),
    }
}

#[test]
fn sqs_queues_are_created_on_the_aws_api_and_outputs_carry_their_urls() {
    let moto = Moto::start();
    let s = Stack::new("locals {\n  org = \"opus\"\n}\n");
    s.write(
        "envs/prod/env.hcl",
        &format!("connection \"aws\" {{\n  type     = \"aws\"\n  endpoint = \"{}\"\n}}\n", moto.url),
    );
    s.write("envs/prod/events/namespace.hcl", "namespace = \"events\"\n");
    s.write(
        "envs/prod/events/queues/component.hcl",
        r#"component {
  type    = "messaging"
  plugin  = "capstan/messaging-sqs"
  version = "^0.1"
  grants  = ["http:aws:sqs"]
}
inputs = {
  region      = "sa-east-1"
  account_id  = "123456789012"
  name_prefix = "opus-"
  queues = {
    orders  = { dead_letter = true, retention_hours = 48 }
    refunds = {}
  }
}
"#,
    );
    let mut transcript = String::new();

    let plan = run(&s, &["plan", "envs/prod", "--no-color"]).ok();
    transcript.push_str(&plan.stdout);
    assert!(plan.stdout.contains("CreateQueue opus-orders"), "{plan:?}");

    let apply = run(&s, &["apply", "envs/prod", "--auto-approve", "--no-color"]).ok();
    transcript.push_str(&format!("{}{}", apply.stdout, apply.stderr));

    let urls = moto.ok("sqs", "AmazonSQS.ListQueues", &json!({}))["QueueUrls"].clone();
    let mut names: Vec<String> = urls
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["opus-orders", "opus-orders-dlq", "opus-refunds"], "{apply:?}");
    let orders_url = urls.as_array().unwrap().iter().find(|u| u.as_str().unwrap().ends_with("/opus-orders"));
    let orders_url = orders_url.unwrap().as_str().unwrap().to_owned();
    let attrs = moto.ok(
        "sqs",
        "AmazonSQS.GetQueueAttributes",
        &json!({ "QueueUrl": orders_url, "AttributeNames": ["All"] }),
    );
    assert_eq!(attrs["Attributes"]["MessageRetentionPeriod"], "172800");
    assert!(attrs["Attributes"]["RedrivePolicy"].as_str().unwrap().contains("opus-orders-dlq"));

    // The outputs hold the URL SQS returned (moto's endpoint), not the
    // canonical amazonaws.com one the plugin guesses before apply.
    let output = run(&s, &["output", "envs/prod/events/queues", "--json"]).ok();
    transcript.push_str(&output.stdout);
    let doc: Value = serde_json::from_str(&output.stdout).unwrap_or_else(|e| panic!("{e}: {output:?}"));
    let outputs = &doc["outputs"];
    let queues = find_key(outputs, "queues").unwrap_or_else(|| panic!("no queues output: {outputs}"));
    assert_eq!(queues["orders"], orders_url.as_str(), "{outputs}");
    assert!(queues["refunds"].as_str().unwrap().starts_with(&moto.url), "{outputs}");

    let again = run(&s, &["apply", "envs/prod", "--auto-approve", "--no-color"]).ok();
    transcript.push_str(&format!("{}{}", again.stdout, again.stderr));
    assert!(again.stdout.contains("No changes."), "{again:?}");

    assert!(!transcript.contains(SECRET), "the AWS secret key reached the output:\n{transcript}");
    for entry in walk(&s.path(".capstan")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains(SECRET), "{} holds the AWS secret key", entry.display());
    }
}

/// The first value under `key` anywhere in `v` (the JSON shape of
/// `capstan output` is the CLI's to choose).
fn find_key<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(key).or_else(|| m.values().find_map(|x| find_key(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}
