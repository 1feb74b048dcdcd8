//! Hostile: `plan` recurses without bound. The recursion uses the result
//! non-linearly so the optimiser cannot turn it into a loop.
fn deeper(n: u64, limit: u64) -> u64 {
    if n == limit {
        return n;
    }
    let x = deeper(n + 1, limit);
    x.wrapping_mul(x).wrapping_add(n)
}

guest_common::guest!("recurse", |req| {
    let limit = std::hint::black_box(u64::MAX - req.inputs.len() as u64);
    Err(guest_common::PlanError::Failed(format!("depth {}", deeper(0, limit))))
});
