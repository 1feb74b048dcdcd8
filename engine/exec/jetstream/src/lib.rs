//! The JetStream effects executor: carries out the `JetStreamOp`s a plugin
//! declared on a NATS server the operator configured.
//!
//! The plugin never sees the server's address or credentials: it names a
//! connection (`Effect::target`, granted as `jetstream:<connection>`) and
//! says what must exist. The operator's config maps that name to the
//! server's URL and a login (`type = "nats"`); this crate makes the server
//! match:
//! - `ensure-stream`: create the stream, or update its subjects, retention,
//!   storage, replicas, max age and max bytes where they differ. What the
//!   server cannot change in place (retention, storage) it refuses, and the
//!   error says which stream and the server's reason; nothing is deleted to
//!   get round it (deleting a stream loses its messages).
//! - `ensure-consumer`: create a durable pull consumer on a stream (ack
//!   policy explicit, deliver policy all), or update its filter subjects,
//!   ack wait and max deliver where they differ. One filter subject is sent
//!   as `filter_subject`, several as `filter_subjects`, which needs NATS
//!   2.10: an older server would ignore them and deliver the whole stream,
//!   so several are refused there.
//!
//! Each op looks first and reports `created`, `changed` or `unchanged` (a
//! [`capstan_core::OpOutcome`]), so a second apply of the same plan changes
//! nothing and says so. An update starts from the configuration the server
//! holds and changes only the fields above; a field that this client (built
//! for servers up to 2.10) does not know is not sent back, so a stream made
//! elsewhere with a newer server's features may be refused an update.
//!
//! One client per executor, connected by the first effect that needs it;
//! connecting and each op are bounded by a timeout ([`DEFAULT_TIMEOUT`]).
//! Errors name the effect, the op and the server (`name (nats://host:port)`),
//! never a password, a token or the URL's credentials: the client itself is
//! handed the address without them.
//!
//! This crate does not decide whether an effect needs to run (the planner
//! compares effect digests in state), does not delete streams or consumers,
//! does not publish or consume messages, and manages only JetStream (no
//! accounts, users or key-value buckets).

#![warn(missing_docs)]

mod connection;
mod error;
mod executor;
mod ops;

pub use connection::JetStreamConnection;
pub use error::JetStreamError;
pub use executor::{DEFAULT_TIMEOUT, JetStreamExecutor};
