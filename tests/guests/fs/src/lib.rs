//! Hostile: `plan` tries to read and write files it has no business with, and
//! reports what happened to each attempt as a JSON object in a `failed` error,
//! so the test can assert every denial.
use serde_json::json;

fn attempt_read(path: &str) -> String {
    match std::fs::read_to_string(path) {
        Ok(s) => format!("read {} bytes", s.len()),
        Err(e) => format!("denied: {e}"),
    }
}

guest_common::guest!("fs", |_req| {
    let report = json!({
        "passwd": attempt_read("/etc/passwd"),
        "root": match std::fs::read_dir("/") {
            Ok(d) => format!("listed {} entries", d.count()),
            Err(e) => format!("denied: {e}"),
        },
        "inside": attempt_read("/component/component.hcl"),
        "escape": attempt_read("/component/../outside.txt"),
        "escape-abs": attempt_read("/component/../../etc/passwd"),
        "symlink": attempt_read("/component/link-to-outside"),
        "write": match std::fs::write("/component/planted.txt", b"x") {
            Ok(()) => "wrote".to_owned(),
            Err(e) => format!("denied: {e}"),
        },
    });
    Err(guest_common::PlanError::Failed(report.to_string()))
});
