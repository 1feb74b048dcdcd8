//! Reads every source of chance and time WASI offers (secure and insecure
//! random bytes and numbers, the insecure seed, the wall and monotonic
//! clocks) and returns what it read as a ConfigMap, so a test can check that
//! planning the same component twice gives the same plan.
use serde_json::json;
use wasip2::clocks::{monotonic_clock, wall_clock};
use wasip2::random::{insecure, insecure_seed, random};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

guest_common::guest!("pure", |req| {
    let (seed_a, seed_b) = insecure_seed::insecure_seed();
    let wall = wall_clock::now();
    let read = json!({
        "secure": hex(&random::get_random_bytes(32)),
        "secure-u64": random::get_random_u64().to_string(),
        "insecure": hex(&insecure::get_insecure_random_bytes(32)),
        "insecure-u64": insecure::get_insecure_random_u64().to_string(),
        "insecure-seed": format!("{seed_a:016x}{seed_b:016x}"),
        "wall-clock": format!("{}.{:09}", wall.seconds, wall.nanoseconds),
        "monotonic-clock": monotonic_clock::now().to_string(),
        // std's hash maps seed themselves from WASI too.
        "std-hash-seed": format!("{:?}", std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 1u8)),
    });
    let object = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": format!("{}-entropy", req.component.name), "namespace": req.component.namespace},
        "data": read,
    });
    Ok(guest_common::ComponentPlan { objects: vec![object.to_string()], effects: vec![], outputs: vec![], warnings: vec![] })
});
