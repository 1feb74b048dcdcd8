//! The plugin's inputs: what `capstan plugin inspect` shows as its schema.
//! Defaults that matter for safety are written out in `defaults.yaml` (so
//! the user sees them) or, for fields inside optional sections, given here
//! with `serde(default)` (so the schema carries them).

use std::collections::BTreeMap;

use capstan_sdk::contracts::postgres::apps::AppDatabase;
use capstan_sdk::k8s::Resources;
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// PostgreSQL instances: one primary, the others replicas. At least 1.
    pub instances: u32,
    /// The operand image (`imageName`); default: the operator's.
    #[serde(default)]
    pub image: Option<String>,
    /// Each instance's persistent volume.
    pub storage: Storage,
    /// Requests and limits of each instance. Default: 1 CPU and 1Gi of
    /// memory, requests equal to limits, the "Guaranteed" QoS CloudNativePG
    /// recommends (the postmaster then keeps its low OOM score). Override
    /// any of the four quantities; a request above its limit is refused. A
    /// null `limits.cpu` drops the CPU limit (and with it the "Guaranteed"
    /// QoS: the pods become "Burstable").
    pub resources: Resources,
    /// `postgresql.conf` parameters.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Continuous backup (WAL archive and scheduled base backups) to object
    /// storage; default: off.
    #[serde(default)]
    pub backup: Option<Backup>,
    /// Create the Cluster from a backup (and WAL archive) of another
    /// Cluster, optionally up to a point in time; default: off, the Cluster
    /// starts empty. Read only when the Cluster is created.
    #[serde(default)]
    pub recovery: Option<Recovery>,
    /// Prometheus scraping of the instances (and of the pooler); default: off.
    #[serde(default)]
    pub monitoring: Monitoring,
    /// A PgBouncer connection pooler in front of the primary; default: off.
    #[serde(default)]
    pub pooler: Pooler,
    /// One database and user per application. An app's user may log in to
    /// its own database only, and over TLS: the Cluster's `pg_hba` allows it
    /// there and rejects it from every other database (the `postgres`
    /// maintenance database included), so one app cannot read another's data.
    pub apps: BTreeMap<String, AppDatabase>,
    /// Accepted so the secrets file of another postgres backend works here
    /// unchanged; this backend does not use it (validate warns).
    #[serde(default)]
    pub superuser_password: Option<Sensitive>,
    /// The app whose database is the contract's default; default: the first by name.
    #[serde(default)]
    pub default_app: Option<String>,
}

/// The persistent volume of each PostgreSQL instance.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Volume size per instance, such as `10Gi`.
    pub size: String,
    /// StorageClass; default: the cluster's default class.
    #[serde(default)]
    pub class: Option<String>,
}

/// Where backups go: an object store reached with Barman Cloud.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// `s3://bucket/path` (or `gs://`, `https://` for Azure Blob). The
    /// Cluster writes under `<destination_path>/<cluster name>/`.
    pub destination_path: String,
    /// Endpoint of an S3-compatible store (MinIO, Ceph…).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Secret holding `ACCESS_KEY_ID` and `ACCESS_SECRET_KEY`; omit to use
    /// the pods' IAM role.
    #[serde(default)]
    pub s3_credentials_secret: Option<String>,
    /// The recovery window kept, such as `30d`, `4w` or `6m`. After each
    /// base backup the operator deletes from the store the base backups
    /// (and their WAL) no longer needed to restore any moment inside the
    /// window. Default: `30d`; without a window the store only ever grows.
    #[serde(default = "default_retention")]
    pub retention: String,
    /// When base backups are taken, as a six-field cron expression whose
    /// first field is seconds (`0 0 0 * * *` is daily at midnight, in the
    /// operator's time zone), or a descriptor such as `@daily`. Default:
    /// daily at midnight. Recovery replays WAL from the last base backup, so
    /// the interval bounds how long a restore takes.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// Take the first base backup as soon as the schedule is created, not
    /// at its first tick: WAL alone restores nothing. Default: true.
    #[serde(default = "yes")]
    pub immediate: bool,
}

/// Bootstrap from a backup: CloudNativePG's `bootstrap.recovery`, reading
/// base backups and WAL from an object store written by another Cluster.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recovery {
    /// Name of the Cluster whose backups are restored: the folder under the
    /// destination path that holds them (Barman's server name).
    pub source_cluster: String,
    /// The object store holding them; default: `backup.destination_path`.
    #[serde(default)]
    pub destination_path: Option<String>,
    /// Endpoint of an S3-compatible store; default: `backup.endpoint_url`
    /// when the destination is the backup's.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Secret with `ACCESS_KEY_ID` and `ACCESS_SECRET_KEY`; default:
    /// `backup.s3_credentials_secret` when the destination is the backup's,
    /// else the pods' IAM role.
    #[serde(default)]
    pub s3_credentials_secret: Option<String>,
    /// Point-in-time recovery: replay WAL up to this moment, an RFC 3339
    /// timestamp with its zone such as `2025-03-01T08:30:00Z`. The operator
    /// starts from the last base backup before it. Default: replay all the
    /// archived WAL.
    #[serde(default)]
    pub target_time: Option<String>,
}

/// Prometheus scraping through the Prometheus operator.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// Render a `PodMonitor` for the instances (and one for the pooler when
    /// it is on). Needs the Prometheus operator's CRDs. Default: false.
    #[serde(default)]
    pub pod_monitor: bool,
    /// Labels added to the PodMonitors, for a Prometheus whose
    /// `podMonitorSelector` picks them (such as `release: kube-prometheus-stack`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A PgBouncer `Pooler` (type `rw`) in front of the primary.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pooler {
    /// Run the pooler, and point the outputs (the apps' host) at it.
    /// Default: false.
    #[serde(default)]
    pub enabled: bool,
    /// PgBouncer pods. Default: 2, so a drained node does not cut the apps off.
    #[serde(default = "default_pooler_instances")]
    pub instances: u32,
    /// `session` (default: a server connection per client session, so
    /// prepared statements, `SET`, advisory locks and `LISTEN` work as
    /// without a pooler) or `transaction` (a server connection per
    /// transaction: far fewer connections, but session state is lost
    /// between transactions; only for apps written for it).
    #[serde(default)]
    pub pool_mode: PoolMode,
    /// Client connections each PgBouncer pod accepts. Default: 1000.
    #[serde(default = "default_max_client_conn")]
    pub max_client_conn: u32,
    /// Server connections per user and database pair, per pod. Default: 10.
    /// Keep `instances × default_pool_size × apps` under `max_connections`.
    #[serde(default = "default_pool_size")]
    pub default_pool_size: u32,
    /// Requests and limits of each PgBouncer container.
    /// Default: requests 100m CPU and 128Mi, limits 500m CPU and 256Mi.
    #[serde(default = "default_pooler_resources")]
    pub resources: Resources,
}

impl Default for Pooler {
    fn default() -> Self {
        Self {
            enabled: false,
            instances: default_pooler_instances(),
            pool_mode: PoolMode::default(),
            max_client_conn: default_max_client_conn(),
            default_pool_size: default_pool_size(),
            resources: default_pooler_resources(),
        }
    }
}

/// PgBouncer's `pool_mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    /// A server connection is held for the client's whole session.
    #[default]
    Session,
    /// A server connection is held for one transaction.
    Transaction,
}

impl PoolMode {
    /// The value PgBouncer and the `Pooler` CRD spell.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        }
    }
}

fn default_retention() -> String {
    "30d".to_owned()
}

fn default_schedule() -> String {
    "0 0 0 * * *".to_owned()
}

fn yes() -> bool {
    true
}

fn default_pooler_instances() -> u32 {
    2
}

fn default_max_client_conn() -> u32 {
    1000
}

fn default_pool_size() -> u32 {
    10
}

fn default_pooler_resources() -> Resources {
    // PgBouncer is single-threaded and small: half a core is its ceiling.
    Resources {
        requests: k8s::Quantities { cpu: "100m".into(), memory: "128Mi".into() },
        limits: k8s::Limits { cpu: Some("500m".into()), memory: "256Mi".into() },
    }
}
