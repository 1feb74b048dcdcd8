//! One function per op kind: look, then create what is missing or update
//! only what differs. What an op declares is first turned into a spec (the
//! server's values for the fields Capstan manages), so that comparing and
//! changing are plain functions, tested without a server.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::{self, AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::{ConsumerInfoErrorKind, GetStreamErrorKind};
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use capstan_core::{
    JetStreamConsumer, JetStreamOp, JetStreamRetention, JetStreamStorage, JetStreamStream, OpOutcome,
};

use crate::JetStreamError;

/// What every op of one effect needs.
pub(crate) struct Ctx<'e> {
    pub effect: &'e str,
    /// `name (nats://host:port)`.
    pub connection: String,
    pub jetstream: &'e Context,
    /// The server's version as it announced itself, such as `2.10.22`.
    pub server_version: String,
}

/// `ensure-stream NAME` or `ensure-consumer STREAM/NAME`, for messages.
pub(crate) fn describe(op: &JetStreamOp) -> String {
    match op {
        JetStreamOp::EnsureStream(s) => format!("ensure-stream {}", s.name),
        JetStreamOp::EnsureConsumer(c) => format!("ensure-consumer {}/{}", c.stream, c.name),
    }
}

pub(crate) async fn run(ctx: &Ctx<'_>, op: &JetStreamOp) -> Result<OpOutcome, JetStreamError> {
    match op {
        JetStreamOp::EnsureStream(s) => ensure_stream(ctx, s).await,
        JetStreamOp::EnsureConsumer(c) => ensure_consumer(ctx, c).await,
    }
}

/// Stream and consumer names become subject tokens of the JetStream API, so
/// they may not hold what separates or matches tokens.
fn check_name(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if let Some(c) = value.chars().find(|c| c.is_whitespace() || c.is_control() || ".*>/\\".contains(*c)) {
        return Err(format!("{what} `{value}` holds {c:?}, which NATS names may not"));
    }
    Ok(())
}

fn check_subjects(what: &str, subjects: &[String]) -> Result<(), String> {
    for s in subjects {
        if s.is_empty() || s.contains(char::is_whitespace) || s.split('.').any(str::is_empty) {
            return Err(format!("{what} `{s}` is not a NATS subject (dot-separated tokens, no spaces)"));
        }
    }
    Ok(())
}

/// `1h`, `90s`, `none` for zero: how max-age and ack-wait show in changes.
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.is_zero() {
        "none".to_string()
    } else if d.subsec_nanos() != 0 {
        format!("{}s", d.as_secs_f64())
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A limit where -1 is none.
fn limit(n: i64) -> String {
    if n < 0 { "none".to_string() } else { n.to_string() }
}

fn set(list: &[String]) -> BTreeSet<&str> {
    list.iter().map(String::as_str).collect()
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

fn retention(r: RetentionPolicy) -> &'static str {
    match r {
        RetentionPolicy::Limits => "limits",
        RetentionPolicy::Interest => "interest",
        RetentionPolicy::WorkQueue => "work-queue",
    }
}

fn storage(s: StorageType) -> &'static str {
    match s {
        StorageType::File => "file",
        StorageType::Memory => "memory",
    }
}

/// The fields of a stream's configuration Capstan manages, as the server
/// holds them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StreamSpec {
    pub name: String,
    pub subjects: Vec<String>,
    pub retention: RetentionPolicy,
    pub storage: StorageType,
    pub num_replicas: usize,
    /// Zero for no limit.
    pub max_age: Duration,
    /// -1 for no limit.
    pub max_bytes: i64,
}

impl StreamSpec {
    pub(crate) fn new(s: &JetStreamStream) -> Result<Self, String> {
        check_name("the stream name", &s.name)?;
        check_subjects("the subject", &s.subjects)?;
        let max_bytes = match s.max_bytes {
            None => -1,
            Some(0) => return Err("max-bytes is 0: give at least 1, or none for no limit".to_string()),
            Some(n) => {
                i64::try_from(n).map_err(|_| format!("max-bytes {n} is more than a server can hold"))?
            }
        };
        Ok(Self {
            name: s.name.clone(),
            // A stream declared without subjects gets its own name as its
            // subject from the server; declare that, or it differs forever.
            subjects: if s.subjects.is_empty() { vec![s.name.clone()] } else { s.subjects.clone() },
            retention: match s.retention {
                JetStreamRetention::Limits => RetentionPolicy::Limits,
                JetStreamRetention::Interest => RetentionPolicy::Interest,
                JetStreamRetention::WorkQueue => RetentionPolicy::WorkQueue,
            },
            storage: match s.storage {
                JetStreamStorage::File => StorageType::File,
                JetStreamStorage::Memory => StorageType::Memory,
            },
            // The server makes 0 replicas into 1.
            num_replicas: usize::try_from(s.replicas.max(1)).unwrap_or(usize::MAX),
            max_age: Duration::from_secs(s.max_age_seconds),
            max_bytes,
        })
    }

    /// How `have` differs from this spec, in words; empty when it does not.
    pub(crate) fn differences(&self, have: &stream::Config) -> Vec<String> {
        let mut changes = Vec::new();
        if set(&have.subjects) != set(&self.subjects) {
            changes.push(format!("subjects {} → {}", list(&have.subjects), list(&self.subjects)));
        }
        if have.retention != self.retention {
            changes.push(format!("retention {} → {}", retention(have.retention), retention(self.retention)));
        }
        if have.storage != self.storage {
            changes.push(format!("storage {} → {}", storage(have.storage), storage(self.storage)));
        }
        if have.num_replicas != self.num_replicas {
            changes.push(format!("replicas {} → {}", have.num_replicas, self.num_replicas));
        }
        if have.max_age != self.max_age {
            changes.push(format!("max_age {} → {}", duration(have.max_age), duration(self.max_age)));
        }
        // The server keeps 0 as -1: both are no limit.
        if have.max_bytes.max(-1) != self.max_bytes && !(have.max_bytes == 0 && self.max_bytes == -1) {
            changes.push(format!("max_bytes {} → {}", limit(have.max_bytes), limit(self.max_bytes)));
        }
        changes
    }

    /// `config` with this spec's fields, every other field kept. Returns
    /// what else had to change with them, in words.
    pub(crate) fn apply_to(&self, config: &mut stream::Config) -> Vec<String> {
        config.name.clone_from(&self.name);
        config.subjects.clone_from(&self.subjects);
        config.retention = self.retention;
        config.storage = self.storage;
        config.num_replicas = self.num_replicas;
        config.max_age = self.max_age;
        config.max_bytes = self.max_bytes;
        // The server refuses a duplicate window longer than max_age (on
        // create it shortens the default one itself).
        let mut also = Vec::new();
        if !self.max_age.is_zero() && config.duplicate_window > self.max_age {
            also.push(format!(
                "duplicate_window {} → {} (it may not exceed max_age)",
                duration(config.duplicate_window),
                duration(self.max_age)
            ));
            config.duplicate_window = self.max_age;
        }
        also
    }
}

async fn ensure_stream(ctx: &Ctx<'_>, s: &JetStreamStream) -> Result<OpOutcome, JetStreamError> {
    const OP: &str = "ensure-stream";
    let spec = StreamSpec::new(s).map_err(|why| JetStreamError::InvalidOp {
        effect: ctx.effect.to_string(),
        op: format!("{OP} {}", s.name),
        why,
    })?;
    let fail = |why: String| JetStreamError::Stream {
        effect: ctx.effect.to_string(),
        stream: s.name.clone(),
        connection: ctx.connection.clone(),
        why,
    };
    let existing = match ctx.jetstream.get_stream(&spec.name).await {
        Ok(stream) => Some(stream.cached_info().config.clone()),
        Err(e) => match e.kind() {
            GetStreamErrorKind::JetStream(api) if api.error_code() == ErrorCode::STREAM_NOT_FOUND => None,
            _ => return Err(fail(format!("cannot read it: {}", reason(&e)))),
        },
    };
    let Some(mut config) = existing else {
        let mut config = stream::Config::default();
        spec.apply_to(&mut config);
        // The server picks the duplicate window on create.
        config.duplicate_window = Duration::ZERO;
        ctx.jetstream
            .create_stream(config)
            .await
            .map(|stream| spec.differences(&stream.cached_info().config))
            .map_err(|e| fail(format!("the server refused to create it: {}", reason(&e))))
            .and_then(|left| held(left, "created it").map_err(fail))?;
        return Ok(OpOutcome::created(OP, &s.name));
    };
    let mut changes = spec.differences(&config);
    if changes.is_empty() {
        return Ok(OpOutcome::unchanged(OP, &s.name));
    }
    changes.extend(spec.apply_to(&mut config));
    let info = ctx.jetstream.update_stream(&config).await.map_err(|e| {
        fail(format!("the server refused to update it ({}): {}", changes.join("; "), reason(&e)))
    })?;
    held(spec.differences(&info.config), "updated it").map_err(fail)?;
    Ok(OpOutcome::corrected(OP, &s.name, changes))
}

/// The fields of a durable pull consumer's configuration Capstan manages.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConsumerSpec {
    pub durable_name: String,
    pub filter_subjects: Vec<String>,
    pub ack_wait: Duration,
    /// -1 for no limit.
    pub max_deliver: i64,
}

impl ConsumerSpec {
    pub(crate) fn new(c: &JetStreamConsumer) -> Result<Self, String> {
        check_name("the stream name", &c.stream)?;
        check_name("the consumer name", &c.name)?;
        check_subjects("the filter subject", &c.filter_subjects)?;
        if c.ack_wait_seconds == 0 {
            return Err(
                "ack-wait-seconds is 0: a delivered message needs some time to be acknowledged".to_string()
            );
        }
        let max_deliver = match c.max_deliver {
            None => -1,
            Some(0) => return Err("max-deliver is 0: give at least 1, or none for no limit".to_string()),
            Some(n) => i64::from(n),
        };
        Ok(Self {
            durable_name: c.name.clone(),
            filter_subjects: c.filter_subjects.clone(),
            ack_wait: Duration::from_secs(c.ack_wait_seconds),
            max_deliver,
        })
    }

    /// The consumer's filter subjects, however the server holds them.
    fn filters_of(have: &consumer::Config) -> Vec<String> {
        if !have.filter_subjects.is_empty() {
            have.filter_subjects.clone()
        } else if !have.filter_subject.is_empty() {
            vec![have.filter_subject.clone()]
        } else {
            Vec::new()
        }
    }

    /// How `have` differs from this spec, in words; empty when it does not.
    pub(crate) fn differences(&self, have: &consumer::Config) -> Vec<String> {
        let mut changes = Vec::new();
        let filters = Self::filters_of(have);
        if set(&filters) != set(&self.filter_subjects) {
            changes.push(format!("filter_subjects {} → {}", list(&filters), list(&self.filter_subjects)));
        }
        if have.ack_wait != self.ack_wait {
            changes.push(format!("ack_wait {} → {}", duration(have.ack_wait), duration(self.ack_wait)));
        }
        // The server keeps 0 as -1: both are no limit.
        let max_deliver = if have.max_deliver == 0 { -1 } else { have.max_deliver };
        if max_deliver != self.max_deliver {
            changes.push(format!("max_deliver {} → {}", limit(max_deliver), limit(self.max_deliver)));
        }
        if have.ack_policy != AckPolicy::Explicit {
            changes.push(format!("ack_policy {:?} → explicit", have.ack_policy).to_lowercase());
        }
        if have.deliver_policy != DeliverPolicy::All {
            changes.push(format!("deliver_policy {:?} → all", have.deliver_policy).to_lowercase());
        }
        changes
    }

    /// `config` with this spec's fields, every other field kept. One filter
    /// goes in `filter_subject` (every server reads it); several in
    /// `filter_subjects` (NATS 2.10 and later).
    pub(crate) fn apply_to(&self, config: &mut consumer::Config) {
        config.durable_name = Some(self.durable_name.clone());
        match self.filter_subjects.as_slice() {
            [one] => {
                config.filter_subject.clone_from(one);
                config.filter_subjects.clear();
            }
            several => {
                config.filter_subject.clear();
                config.filter_subjects = several.to_vec();
            }
        }
        config.ack_policy = AckPolicy::Explicit;
        config.deliver_policy = DeliverPolicy::All;
        config.ack_wait = self.ack_wait;
        config.max_deliver = self.max_deliver;
    }
}

/// True when the server announced `major.minor` or later.
fn at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u32>().unwrap_or(0));
    let (have_major, have_minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (have_major, have_minor) >= (major, minor)
}

async fn ensure_consumer(ctx: &Ctx<'_>, c: &JetStreamConsumer) -> Result<OpOutcome, JetStreamError> {
    const OP: &str = "ensure-consumer";
    let subject = format!("{}/{}", c.stream, c.name);
    let spec = ConsumerSpec::new(c).map_err(|why| JetStreamError::InvalidOp {
        effect: ctx.effect.to_string(),
        op: format!("{OP} {subject}"),
        why,
    })?;
    let fail = |why: String| JetStreamError::Consumer {
        effect: ctx.effect.to_string(),
        stream: c.stream.clone(),
        consumer: c.name.clone(),
        connection: ctx.connection.clone(),
        why,
    };
    // A server before 2.10 ignores `filter_subjects`: the consumer would get
    // every message of the stream. Refuse rather than deliver too much.
    if spec.filter_subjects.len() > 1 && !at_least(&ctx.server_version, 2, 10) {
        return Err(fail(format!(
            "several filter subjects need NATS server 2.10 or later, and this server is {}",
            ctx.server_version
        )));
    }
    let stream = ctx
        .jetstream
        .get_stream_no_info(&c.stream)
        .await
        .map_err(|e| fail(format!("cannot read its stream: {}", reason(&e))))?;
    let existing = match stream.consumer_info(&c.name).await {
        Ok(info) => Some(info.config),
        Err(e) => match e.kind() {
            ConsumerInfoErrorKind::NotFound => None,
            ConsumerInfoErrorKind::StreamNotFound => {
                return Err(fail(format!(
                    "stream {} does not exist (ensure it first, in this effect or an earlier one)",
                    c.stream
                )));
            }
            _ => return Err(fail(format!("cannot read it: {}", reason(&e)))),
        },
    };
    let Some(mut config) = existing else {
        let mut config = consumer::Config::default();
        spec.apply_to(&mut config);
        stream
            .create_consumer(config)
            .await
            .map(|made| spec.differences(&made.cached_info().config))
            .map_err(|e| fail(format!("the server refused to create it: {}", reason(&e))))
            .and_then(|left| held(left, "created it").map_err(fail))?;
        return Ok(OpOutcome::created(OP, subject));
    };
    if let Some(deliver) = config.deliver_subject.as_deref().filter(|d| !d.is_empty()) {
        return Err(fail(format!(
            "it exists as a push consumer (delivering to {deliver}); a consumer cannot change from push \
             to pull in place: delete it or declare another name"
        )));
    }
    let changes = spec.differences(&config);
    if changes.is_empty() {
        return Ok(OpOutcome::unchanged(OP, subject));
    }
    spec.apply_to(&mut config);
    // Creating an existing durable with a new configuration updates it
    // (where the server allows the change; it says why not otherwise).
    let updated = stream.create_consumer(config).await.map_err(|e| {
        fail(format!("the server refused to update it ({}): {}", changes.join("; "), reason(&e)))
    })?;
    held(spec.differences(&updated.cached_info().config), "updated it").map_err(fail)?;
    Ok(OpOutcome::corrected(OP, subject, changes))
}

/// What the server answered a create or update with must be what was
/// declared: a server that ignores a field it does not know (an older one)
/// says yes and keeps something else.
fn held(left: Vec<String>, done: &str) -> Result<(), String> {
    if left.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the server {done} but does not hold what was declared ({}, as server → declared); \
         it may not support these settings",
        left.join("; ")
    ))
}

/// The client's error and what caused it, for the server's own words. A
/// request that nobody answered means JetStream is not enabled.
fn reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    if text.contains("no responders") || text.contains("JetStream unavailable") {
        text.push_str(" (is JetStream enabled on the server? nats-server needs -js)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_op() -> JetStreamStream {
        JetStreamStream {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            retention: JetStreamRetention::Limits,
            storage: JetStreamStorage::File,
            replicas: 1,
            max_age_seconds: 3600,
            max_bytes: None,
        }
    }

    fn consumer_op() -> JetStreamConsumer {
        JetStreamConsumer {
            stream: "ORDERS".into(),
            name: "billing".into(),
            filter_subjects: vec!["orders.created".into()],
            ack_wait_seconds: 30,
            max_deliver: Some(5),
        }
    }

    #[test]
    fn a_stream_as_the_server_holds_it_has_no_differences() {
        let spec = StreamSpec::new(&stream_op()).unwrap();
        let mut have = stream::Config {
            max_bytes: -1,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        assert!(spec.apply_to(&mut have).is_empty());
        assert!(spec.differences(&have).is_empty(), "{:?}", spec.differences(&have));

        let mut longer = stream_op();
        longer.max_age_seconds = 7200;
        longer.max_bytes = Some(1 << 20);
        longer.subjects.push("returns.>".into());
        let changed = StreamSpec::new(&longer).unwrap();
        assert_eq!(
            changed.differences(&have),
            ["subjects [orders.>] → [orders.>, returns.>]", "max_age 1h → 2h", "max_bytes none → 1048576"]
        );

        // A shorter max_age pulls the duplicate window down with it.
        let mut short = stream_op();
        short.max_age_seconds = 30;
        let also = StreamSpec::new(&short).unwrap().apply_to(&mut have);
        assert_eq!(also, ["duplicate_window 2m → 30s (it may not exceed max_age)"]);
        assert_eq!(have.duplicate_window, Duration::from_secs(30));
    }

    #[test]
    fn malformed_stream_ops_are_refused_before_anything_is_sent() {
        let mut op = stream_op();
        op.name = "orders.v1".into();
        assert!(StreamSpec::new(&op).unwrap_err().contains("'.'"));
        let mut op = stream_op();
        op.max_bytes = Some(0);
        assert!(StreamSpec::new(&op).unwrap_err().starts_with("max-bytes is 0"));
        let mut op = stream_op();
        op.subjects = vec!["orders..x".into()];
        assert!(StreamSpec::new(&op).unwrap_err().contains("not a NATS subject"));
        // No subjects: the server's default, the stream's own name.
        let mut op = stream_op();
        op.subjects.clear();
        op.replicas = 0;
        let spec = StreamSpec::new(&op).unwrap();
        assert_eq!((spec.subjects.as_slice(), spec.num_replicas), (["ORDERS".to_string()].as_slice(), 1));
    }

    #[test]
    fn consumers_compare_filters_as_sets_however_the_server_holds_them() {
        let spec = ConsumerSpec::new(&consumer_op()).unwrap();
        let mut have = consumer::Config::default();
        spec.apply_to(&mut have);
        assert_eq!((have.filter_subject.as_str(), have.filter_subjects.len()), ("orders.created", 0));
        assert!(spec.differences(&have).is_empty());

        let mut several = consumer_op();
        several.filter_subjects = vec!["orders.paid".into(), "orders.created".into()];
        several.max_deliver = None;
        several.ack_wait_seconds = 90;
        let wider = ConsumerSpec::new(&several).unwrap();
        assert_eq!(
            wider.differences(&have),
            [
                "filter_subjects [orders.created] → [orders.paid, orders.created]",
                "ack_wait 30s → 90s",
                "max_deliver 5 → none",
            ]
        );
        wider.apply_to(&mut have);
        assert!(have.filter_subject.is_empty() && have.filter_subjects.len() == 2);
        // The server's 0 is no limit.
        have.max_deliver = 0;
        have.filter_subjects.reverse();
        assert!(wider.differences(&have).is_empty());

        have.ack_policy = AckPolicy::None;
        assert_eq!(wider.differences(&have), ["ack_policy none → explicit"]);
        let mut zero = consumer_op();
        zero.ack_wait_seconds = 0;
        assert!(ConsumerSpec::new(&zero).unwrap_err().starts_with("ack-wait-seconds is 0"));
    }

    #[test]
    fn an_answer_that_does_not_hold_the_declaration_is_an_error() {
        assert!(held(Vec::new(), "updated it").is_ok());
        assert_eq!(
            held(vec!["filter_subjects [] → [a, b]".into()], "created it").unwrap_err(),
            "the server created it but does not hold what was declared (filter_subjects [] → [a, b], \
             as server → declared); it may not support these settings"
        );
    }

    #[test]
    fn server_versions_compare_by_major_and_minor() {
        assert!(at_least("2.10.0", 2, 10));
        assert!(at_least("2.11.3-beta", 2, 10));
        assert!(at_least("3.0.0", 2, 10));
        assert!(!at_least("2.9.25", 2, 10));
        assert!(!at_least("", 2, 10));
    }
}
