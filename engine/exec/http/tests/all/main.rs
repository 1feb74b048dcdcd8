//! Integration tests of capstan-http, one binary, against a real
//! `moto_server` (PyPI `moto[server]`, installed by tests/setup.sh) started
//! per test on a loopback port (`capstan_http::testing::Moto`). The effects
//! are the ones the built-in plugins declare, planned natively through the
//! SDK test kit, exactly as the engine would receive them.
//!
//! - `support` — the plugins' plans, an executor pointed at moto, apply-all
//! - `sqs`     — messaging-sqs: queues, attributes, DLQ + redrive policy, tags;
//!   re-apply changes nothing; results give the plugin its queue URLs
//! - `wafv2`   — waf-aws-wafv2: the WebACL and its rules; re-apply adopts it,
//!   and a WebACL that differs from the create call is updated to it
//! - `errors`  — AWS errors name effect, service and code; refusals; no
//!   credential (or web-identity token) in any error text
//! - `signing` — moto checking SigV4 signatures against its IAM users, and
//!   web-identity credentials from its STS signing as their role
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod errors;
mod signing;
mod sqs;
mod support;
mod wafv2;
