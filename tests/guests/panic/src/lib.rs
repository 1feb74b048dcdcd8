//! Hostile: `plan` panics.
guest_common::guest!("panic", |req| {
    eprintln!("about to fail for {}", req.component.name);
    panic!("the frobnicator of {} is out of frobs", req.component.name);
});
