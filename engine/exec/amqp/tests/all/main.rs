//! Integration tests of the AMQP effects executor against the real RabbitMQ
//! on this machine (AMQP on 127.0.0.1:5672, the management API on :15672,
//! guest/guest as the admin; tests/setup.sh enables the management plugin).
//! Every test uses its own vhost and user names and deletes them at the end.
//!
//! - `topology`: the effects `capstan/messaging-rabbitmq` declares in external
//!   mode, built natively through the plugin crate, applied here; the app user
//!   then publishes and consumes over AMQP; a second apply changes nothing;
//!   a rotated password logs in, the old one no longer does.
//! - `drift`: what the driver corrects (permissions, tags) and what it refuses
//!   to paper over (a queue or exchange that exists with other settings).
//! - `errors`: a wrong admin password and an unreachable broker give typed
//!   errors that name the effect, the op and the broker, and no password.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod drift;
mod errors;
mod support;
mod topology;
