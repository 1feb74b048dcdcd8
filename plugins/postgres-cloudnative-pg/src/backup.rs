//! Backups and restores through Barman Cloud and an object store: the
//! Cluster's `backup` section (continuous WAL archiving and the retention
//! window), the `ScheduledBackup` that takes base backups, and the
//! `bootstrap.recovery` + `externalClusters` that create a Cluster from them.
//!
//! This is CloudNativePG's in-tree Barman Cloud integration
//! (`barmanObjectStore`, `method: barmanObjectStore`). Upstream deprecated it
//! in 1.26 in favour of the Barman Cloud plugin, but 1.30 still runs it and
//! keeps it the default method; the plugin needs its own operator and
//! `ObjectStore` CRD, which Capstan neither installs nor validates against.

use capstan_sdk::prelude::*;
use serde_json::{Value, json};

use crate::inputs::{Backup, Recovery};
use crate::{API_VERSION, is_retention};

/// The `externalClusters` entry a recovery reads from. Its `serverName`
/// names the source Cluster's folder, so this name is free to be fixed.
pub(crate) const RECOVERY_SOURCE: &str = "recovery-source";

/// Where an object store is and how to log in to it.
struct Store<'a> {
    destination_path: &'a str,
    endpoint_url: Option<&'a str>,
    s3_credentials_secret: Option<&'a str>,
}

impl<'a> Store<'a> {
    fn of_backup(b: &'a Backup) -> Self {
        Store {
            destination_path: &b.destination_path,
            endpoint_url: b.endpoint_url.as_deref(),
            s3_credentials_secret: b.s3_credentials_secret.as_deref(),
        }
    }

    /// The recovery's store: its own destination with its own endpoint and
    /// credentials, or, when it names none, the backup's store whole.
    fn of_recovery(r: &'a Recovery, backup: Option<&'a Backup>) -> Option<Self> {
        match (&r.destination_path, backup) {
            (Some(path), _) => Some(Store {
                destination_path: path,
                endpoint_url: r.endpoint_url.as_deref(),
                s3_credentials_secret: r.s3_credentials_secret.as_deref(),
            }),
            (None, Some(b)) => Some(Store {
                endpoint_url: r.endpoint_url.as_deref().or(b.endpoint_url.as_deref()),
                s3_credentials_secret: r
                    .s3_credentials_secret
                    .as_deref()
                    .or(b.s3_credentials_secret.as_deref()),
                ..Store::of_backup(b)
            }),
            (None, None) => None,
        }
    }

    /// A `barmanObjectStore` section.
    fn to_value(&self) -> Value {
        let mut store = json!({ "destinationPath": self.destination_path });
        if let Some(url) = self.endpoint_url {
            store["endpointURL"] = json!(url);
        }
        store["s3Credentials"] = match self.s3_credentials_secret {
            Some(secret) => json!({
                "accessKeyId": { "name": secret, "key": "ACCESS_KEY_ID" },
                "secretAccessKey": { "name": secret, "key": "ACCESS_SECRET_KEY" },
            }),
            None => json!({ "inheritFromIAMRole": true }),
        };
        store
    }
}

/// The Cluster's `spec.backup`: WAL archived continuously, base backups
/// written by the ScheduledBackup, both compressed, and the retention window.
pub(crate) fn cluster_backup(b: &Backup) -> Value {
    let mut store = Store::of_backup(b).to_value();
    store["wal"] = json!({ "compression": "gzip" });
    store["data"] = json!({ "compression": "gzip" });
    json!({ "barmanObjectStore": store, "retentionPolicy": b.retention })
}

/// The `ScheduledBackup` that takes the Cluster's base backups.
pub(crate) fn scheduled_backup(req: &PlanRequest, b: &Backup) -> Value {
    let cluster = &req.component.name;
    let meta = k8s::Meta::new(&req.component, cluster.clone(), "database");
    k8s::custom_resource(
        API_VERSION,
        "ScheduledBackup",
        &meta,
        json!({
            "cluster": { "name": cluster },
            "schedule": b.schedule,
            "immediate": b.immediate,
            "method": "barmanObjectStore",
            // The `Backup` objects it creates go when it goes (their data
            // stays in the store, pruned by the retention window only).
            "backupOwnerReference": "self",
        }),
    )
}

/// The Cluster's `spec.bootstrap` and `spec.externalClusters` for a
/// recovery, or `None` when there is no store to read from (validate has
/// already reported that).
pub(crate) fn recovery(r: &Recovery, backup: Option<&Backup>) -> Option<(Value, Value)> {
    let mut store = Store::of_recovery(r, backup)?.to_value();
    store["serverName"] = json!(r.source_cluster);
    // Fetching WAL segments in parallel is what makes a long replay bearable.
    store["wal"] = json!({ "maxParallel": 8 });
    let mut recovery = json!({ "source": RECOVERY_SOURCE });
    if let Some(time) = &r.target_time {
        recovery["recoveryTarget"] = json!({ "targetTime": time });
    }
    let bootstrap = json!({ "recovery": recovery });
    let external = json!([{ "name": RECOVERY_SOURCE, "barmanObjectStore": store }]);
    Some((bootstrap, external))
}

/// What validate reports about `backup` and `recovery`.
pub(crate) fn validate(backup: Option<&Backup>, recovery: Option<&Recovery>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(b) = backup {
        if !is_object_store_url(&b.destination_path) {
            out.push(not_an_object_store("/backup/destination_path"));
        }
        if !is_retention(&b.retention) {
            out.push(Diagnostic::error(
                "/backup/retention",
                format!("`{}` is not a retention such as 30d, 4w or 6m", b.retention),
            ));
        }
        if let Err(why) = check_schedule(&b.schedule) {
            out.push(Diagnostic::error("/backup/schedule", why));
        }
    }
    let Some(r) = recovery else { return out };
    if !k8s::is_dns_label(&r.source_cluster) {
        out.push(Diagnostic::error(
            "/recovery/source_cluster",
            format!("`{}` is not a Cluster name (a DNS label)", r.source_cluster),
        ));
    }
    match (&r.destination_path, backup) {
        (Some(path), _) if !is_object_store_url(path) => {
            out.push(not_an_object_store("/recovery/destination_path"));
        }
        (None, None) => out.push(Diagnostic::error(
            "/recovery/destination_path",
            "set the object store holding the backups to restore (no `backup` section to take it from)",
        )),
        _ => {}
    }
    if let Some(time) = &r.target_time
        && !is_rfc3339_with_zone(time)
    {
        out.push(Diagnostic::error(
            "/recovery/target_time",
            format!(
                "`{time}` is not an RFC 3339 timestamp with a zone, such as 2025-03-01T08:30:00Z \
                 (without one PostgreSQL would read it as UTC, silently)"
            ),
        ));
    }
    out
}

/// A recovery that restores this very Cluster's archive into itself. The
/// new Cluster archives its WAL into `<backup path>/<its name>`; the
/// operator refuses to archive into a folder that already holds WAL, and
/// restoring from that folder means it does. Checked at plan time, where
/// the Cluster's name (the component's) is known.
pub(crate) fn archive_collision(
    backup: Option<&Backup>,
    recovery: Option<&Recovery>,
    cluster: &str,
) -> Option<Diagnostic> {
    let (b, r) = (backup?, recovery?);
    let archive = b.destination_path.trim_end_matches('/');
    let reads_from = r.destination_path.as_deref().unwrap_or(&b.destination_path).trim_end_matches('/');
    (reads_from == archive && r.source_cluster == cluster).then(|| {
        Diagnostic::error(
            "/recovery/source_cluster",
            format!(
                "this Cluster would archive its WAL into `{archive}/{cluster}`, the folder it restores from, \
                 and the operator refuses a non-empty archive: give `backup` a new destination_path"
            ),
        )
    })
}

fn is_object_store_url(path: &str) -> bool {
    ["s3://", "gs://", "https://"].iter().any(|p| path.starts_with(p))
}

fn not_an_object_store(at: &str) -> Diagnostic {
    Diagnostic::error(at, "the destination must be an object store URL (s3://, gs:// or https:// for Azure)")
}

/// CloudNativePG parses schedules with robfig/cron and a seconds field:
/// six fields, or a descriptor (`@daily`, `@every 6h`). A five-field
/// crontab line is the usual mistake, and it would fail only in the
/// operator, so it is caught here.
fn check_schedule(schedule: &str) -> Result<(), String> {
    if schedule.starts_with('@') {
        return Ok(());
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "`{schedule}` has {} fields; CloudNativePG schedules have six, seconds first \
             (`0 0 0 * * *` is daily at midnight), or are a descriptor such as `@daily`",
            fields.len()
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "*/,-?".contains(c);
    match fields.iter().find(|f| !f.chars().all(allowed)) {
        Some(field) => Err(format!("`{field}` in `{schedule}` is not a cron field")),
        None => Ok(()),
    }
}

/// `YYYY-MM-DD(T| )HH:MM:SS[.fraction](Z|±HH:MM|±HH)`, the forms of RFC 3339
/// (and PostgreSQL's timestamp input) that say their zone.
fn is_rfc3339_with_zone(s: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let b = s.as_bytes();
    if b.len() < 20 || !(b[10] == b'T' || b[10] == b' ') {
        return false;
    }
    let (date, rest) = s.split_at(10);
    let date_ok = matches!(date.split('-').collect::<Vec<_>>()[..], [y, m, d]
        if y.len() == 4 && m.len() == 2 && d.len() == 2 && digits(y) && digits(m) && digits(d));
    let rest = &rest[1..];
    let (time, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return false,
    };
    let time = time.split_once('.').map_or(time, |(hms, fraction)| if digits(fraction) { hms } else { "" });
    let time_ok = matches!(time.split(':').collect::<Vec<_>>()[..], [h, m, s]
        if [h, m, s].iter().all(|p| p.len() == 2 && digits(p)));
    let zone_ok = zone.eq_ignore_ascii_case("z") || {
        let parts: Vec<&str> = zone[1..].split(':').collect();
        (1..=2).contains(&parts.len()) && parts.iter().all(|p| p.len() == 2 && digits(p))
    };
    date_ok && time_ok && zone_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_must_say_their_zone() {
        for ok in ["2025-03-01T08:30:00Z", "2025-03-01 08:30:00+02", "2025-03-01T08:30:00.123-05:30"] {
            assert!(is_rfc3339_with_zone(ok), "{ok}");
        }
        for bad in
            ["2025-03-01T08:30:00", "2025-03-01", "yesterday", "2025-03-01T08:30Z", "2025-03-01T08:30:00+2"]
        {
            assert!(!is_rfc3339_with_zone(bad), "{bad}");
        }
    }

    #[test]
    fn schedules_have_a_seconds_field() {
        assert!(check_schedule("0 0 0 * * *").is_ok());
        assert!(check_schedule("0 30 */6 * * 1-5").is_ok());
        assert!(check_schedule("@daily").is_ok());
        assert!(check_schedule("0 0 * * *").unwrap_err().contains("has 5 fields"));
        assert!(check_schedule("0 0 0 * * ;").is_err());
    }
}
