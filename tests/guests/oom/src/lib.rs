//! Hostile: `plan` allocates 1 GiB and touches it.
guest_common::guest!("oom", |_req| {
    let big = vec![1u8; std::hint::black_box(1 << 30)];
    Err(guest_common::PlanError::Failed(format!("allocated {} bytes", std::hint::black_box(&big).len())))
});
