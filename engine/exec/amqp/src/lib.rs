//! The AMQP effects executor: carries out the `AmqpOp`s a plugin declared
//! (such as `capstan/messaging-rabbitmq` in its `external` mode) on a
//! RabbitMQ broker the operator configured.
//!
//! The plugin never sees the broker's admin credentials: it names a
//! connection (`Effect::target`) and says what must exist. The operator's
//! config maps that name to the broker's management API address and an admin
//! user; this crate makes the broker match:
//! - `ensure-vhost`: create the virtual host if missing;
//! - `ensure-user`: create the user, or rotate its password and fix its tags
//!   only when they differ;
//! - `ensure-permission`: set the user's configure/write/read patterns on a
//!   vhost, or correct them;
//! - `ensure-exchange`, `ensure-queue`: declare them; one that exists with a
//!   different type, durability or arguments is an error (RabbitMQ cannot
//!   change those in place, and deleting a queue loses its messages);
//! - `ensure-binding`: bind a queue to an exchange by a routing key.
//!
//! Vhosts, users and permissions cannot be managed over AMQP 0-9-1, so every
//! op goes through RabbitMQ's management HTTP API (the `rabbitmq_management`
//! plugin): one GET to look, then a PUT or POST only for what differs. Each op
//! reports `created`, `changed` or `unchanged` (a [`capstan_core::OpOutcome`]),
//! so a second apply of the same plan changes nothing and says so.
//!
//! A user's password never leaves this crate in clear, not even towards the
//! broker: it is sent as a salted SHA-256 hash computed here (the broker's own
//! `rabbit_password_hashing_sha256` scheme), and compared with the stored hash
//! without sending it. Errors name the effect, the op and the broker
//! (`name (http://host:port)`), never a password or the URL's credentials.
//!
//! This crate does not decide whether an effect needs to run (the planner
//! compares effect digests in state), does not delete or revoke anything,
//! does not speak AMQP itself, and manages only RabbitMQ.

#![warn(missing_docs)]

mod api;
mod connection;
mod error;
mod executor;
mod ops;
mod password;

pub use connection::AmqpConnection;
pub use error::AmqpError;
pub use executor::AmqpExecutor;
pub use password::{hash_password, password_matches};
