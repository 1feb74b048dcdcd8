//! The `modsecurity-snippet` of the controller ConfigMap.
//!
//! ingress-nginx loads this snippet *instead of* its stock
//! `modsecurity.conf`, then the OWASP Core Rule Set; so the snippet includes
//! the stock file first and overrides what must differ. Rule exclusions use
//! runtime `ctl:ruleRemoveById` actions rather than `SecRuleRemoveById`,
//! because the latter only removes rules defined before it and the CRS is
//! loaded after the snippet.

use std::fmt::Write as _;

use crate::inputs::{Inputs, Mode};

/// First id of the exclusion rules this plugin writes: outside the CRS
/// range (900000–999999) and ModSecurity's reserved low ids.
const EXCLUSION_ID_BASE: u32 = 1_010_000;

/// The whole `modsecurity-snippet` value for these inputs.
pub fn snippet(inputs: &Inputs) -> String {
    let engine = match inputs.mode {
        Mode::Block => "On",
        Mode::Detect => "DetectionOnly",
    };
    let pl = inputs.paranoia_level;
    let mut s = String::new();
    let _ = writeln!(s, "Include /etc/nginx/modsecurity/modsecurity.conf");
    let _ = writeln!(s, "SecRuleEngine {engine}");
    let _ = writeln!(s, "SecRequestBodyAccess On");
    // The stock file caps bodies at 12.5 MiB and rejects larger ones; hold
    // it to nginx's limit so the operator's one size is the only one.
    if let Some(bytes) = crate::inputs::body_size_bytes(&inputs.max_body_size) {
        let _ = writeln!(s, "SecRequestBodyLimit {bytes}");
    }
    // Audit records go to the controller's stdout as JSON, where the log
    // collector picks them up with every other container log.
    let _ = writeln!(s, "SecAuditEngine RelevantOnly");
    let _ = writeln!(s, "SecAuditLogParts ABIJDEFHZ");
    let _ = writeln!(s, "SecAuditLogType Serial");
    let _ = writeln!(s, "SecAuditLogFormat JSON");
    let _ = writeln!(s, "SecAuditLog /dev/stdout");
    // CRS v4 reads blocking_paranoia_level, v3 paranoia_level; set both so
    // the level holds whichever CRS the controller image ships.
    let _ = writeln!(
        s,
        "SecAction \"id:900000,phase:1,pass,nolog,t:none,setvar:tx.blocking_paranoia_level={pl},setvar:tx.paranoia_level={pl}\""
    );
    let _ = writeln!(
        s,
        "SecAction \"id:900110,phase:1,pass,nolog,t:none,setvar:tx.inbound_anomaly_score_threshold={},setvar:tx.outbound_anomaly_score_threshold={}\"",
        inputs.inbound_anomaly_threshold, inputs.outbound_anomaly_threshold
    );
    for (i, ex) in inputs.rule_exclusions.iter().enumerate() {
        let id = u32::try_from(i).map_or(u32::MAX, |i| EXCLUSION_ID_BASE.saturating_add(i));
        if let Some(reason) = &ex.reason {
            // A comment line inside the quoted nginx directive is fine for
            // ModSecurity; strip what would end the quote or the line.
            let clean: String = reason.chars().filter(|c| !c.is_control() && *c != '\'').collect();
            let _ = writeln!(s, "# {}: {clean}", ex.id);
        }
        match &ex.path {
            Some(path) => {
                let _ = writeln!(
                    s,
                    "SecRule REQUEST_URI \"@beginsWith {path}\" \"id:{id},phase:1,pass,nolog,ctl:ruleRemoveById={}\"",
                    ex.id
                );
            }
            None => {
                let _ = writeln!(s, "SecAction \"id:{id},phase:1,pass,nolog,ctl:ruleRemoveById={}\"", ex.id);
            }
        }
    }
    s
}
