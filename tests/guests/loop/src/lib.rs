//! Hostile: `plan` never returns.
guest_common::guest!("loop", |_req| {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
});
