//! The stacks `capstan-bench gen` writes, which BENCHMARKS.md's figures and
//! `bench/compare.sh` time, plan: a benchmark of a stack that fails halfway
//! times the failure, not the plan.

use capstan_bench::{KEY_FILE, Shape, write_stack};
use serde_json::Value;

use crate::support::Stack;

#[test]
fn the_generated_mixed_stack_plans_every_component() {
    let stack = Stack::new("");
    // Two application namespaces of one environment, and its platform.
    let (generated, key) = write_stack(stack.root(), Shape::Mixed, 40).unwrap();
    let key = key.unwrap_or_else(|| stack.path(KEY_FILE));

    let run = stack.run_env(&["plan", ".", "--json"], &[("CAPSTAN_AGE_KEY_FILE", key.as_path())]);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert_eq!(plan["failed"], Value::Array(Vec::new()), "{run:?}");
    assert_eq!(plan["errors"], Value::Array(Vec::new()), "{run:?}");
    assert_eq!(plan["components"].as_array().unwrap().len(), generated.components, "{run:?}");
    assert_eq!(run.code, 0, "{run:?}");
}
