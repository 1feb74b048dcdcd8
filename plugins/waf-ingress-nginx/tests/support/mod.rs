//! This plugin's own check: its ModSecurity rules parsed by libmodsecurity.
//! (The manifest checks every plugin shares are `capstan-plugin-testsupport`.)

use std::process::Command;

/// Parses ModSecurity rules with libmodsecurity's own checker
/// (`modsec-rules-check`, Debian `libmodsecurity3`). Returns whether they
/// loaded and the checker's report.
pub fn modsecurity_rules_check(label: &str, rules: &str) -> (bool, String) {
    let checker = std::fs::read_dir("/usr/lib")
        .expect("read /usr/lib")
        .filter_map(Result::ok)
        .map(|d| d.path().join("libexec/modsec-rules-check"))
        .find(|p| p.exists())
        .expect(
            "modsec-rules-check not found: apt-get install libmodsecurity3 modsecurity-crs (tests/setup.sh)",
        );
    let file = std::env::temp_dir().join(format!("capstan-modsec-{}-{label}.conf", std::process::id()));
    std::fs::write(&file, rules).expect("write the rules");
    let out = Command::new(&checker).arg(&file).output().expect("run modsec-rules-check");
    let _ = std::fs::remove_file(&file);
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && report.contains("Test ok"), report)
}
