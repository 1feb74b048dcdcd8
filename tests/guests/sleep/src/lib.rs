//! Hostile: `plan` sleeps for an hour, which would block the host inside a
//! WASI call where the time limit cannot reach.
guest_common::guest!("sleep", |_req| {
    std::thread::sleep(std::time::Duration::from_secs(3600));
    Ok(guest_common::ComponentPlan { objects: vec![], effects: vec![], outputs: vec![], warnings: vec![] })
});
