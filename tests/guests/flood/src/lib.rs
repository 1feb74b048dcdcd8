//! Hostile: `plan` writes 100 MB of output (to stdout, or through the `log`
//! import when the inputs say `{"via": "log"}`), then returns a plan.
use std::io::Write;

guest_common::guest!("flood", |req| {
    let via_log = guest_common::inputs(&req)["via"] == "log";
    let chunk = "flood ".repeat(64 * 1024 / 6);
    let mut written = 0usize;
    let mut stdout = std::io::stdout();
    while written < 100_000_000 {
        if via_log {
            guest_common::log(guest_common::Level::Info, &chunk);
        } else {
            // A host that drops output past its cap must not make writes fail.
            stdout.write_all(chunk.as_bytes()).expect("stdout write");
        }
        written += chunk.len();
    }
    let _ = stdout.flush();
    Ok(guest_common::ComponentPlan { objects: vec![], effects: vec![], outputs: vec![], warnings: vec![] })
});
