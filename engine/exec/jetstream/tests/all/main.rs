//! Integration tests of the JetStream effects executor against the real NATS
//! server on this machine (127.0.0.1:4222, JetStream enabled, no auth;
//! tests/setup.sh starts it). Every test uses streams and subjects of its own,
//! suffixed at random, and deletes its streams (with their consumers) at the
//! end, pass or fail.
//!
//! - `streams`: a stream and its consumer are created, then a second apply
//!   changes nothing; a changed max age is updated in place and the server
//!   reports it; a change the server cannot make is refused with its reason.
//! - `consumers`: a message published on the stream's subject is pulled
//!   through the durable consumer and acknowledged; a changed ack wait and
//!   max deliver are updated; several filter subjects on a server before
//!   2.10 are refused; a consumer of a missing stream is a clear error.
//! - `errors`: effects for another connection or of another kind are
//!   refused before connecting; an unreachable server and one that never
//!   answers give typed errors naming the connection, without credentials.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod consumers;
mod errors;
mod streams;
mod support;
