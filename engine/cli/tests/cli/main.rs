//! End-to-end tests of the `capstan` binary, run as a user would run it: a
//! stack in a temporary directory, the real built-in plugins, the render
//! target, local state, and the real PostgreSQL on 127.0.0.1:5432 for effects.
//!
//! Modules:
//! - `lifecycle`: plan → apply → re-apply (no change) → change → remove; saved plans.
//! - `errors`: configuration errors point at file, line and column.
//! - `contracts`: a component whose type is not its plugin's is refused at once.
//! - `plugins`: `plugin inspect`, `plugin list`, and `plugin test` (the conformance kit)
//!   over every built-in plugin, a file, a bundle and another type's kit.
//! - `bundles`: packed, signed plugin bundles from an HTTP index and a directory;
//!   the lock file's pinning and rollback refusal; refused bundles.
//! - `policies`: the example passes the baseline policy in enforce mode; a tree
//!   breaking three rules is refused, each violation at its HCL line; audit warns.
//! - `python_policy`: a policy plugin written in Python (tests/python-policy/, SDK in
//!   sdk/python/), built with componentize-py, signed, enforced by a `policy` block:
//!   the plan fails naming policy, rule and component; its pytest suites.
//! - `scaffold`: `plugin new` (Rust component plugin and policy, Python policy) outside the
//!   workspace, its own tests, `plugin build`, the kit, signed and planned by a stack.
//! - `distribution`: bundles pushed to a real OCI registry and planned from it;
//!   `capstan init` then offline plans; env.hcl pins; `local` builds.
//! - `effects`: secrets from an encrypted file become roles on PostgreSQL;
//!   no secret value reaches any output, state or plan; parallel applies of three
//!   stacks ensuring the same role and database all succeed.
//! - `amqp_effects`: an external RabbitMQ's vhost, queues and app user from
//!   encrypted secrets, usable over AMQP; rotation; the same redaction sweep.
//! - `aws_effects`: an SQS component applied to moto through the cloud-API driver;
//!   outputs carry the returned queue URLs; re-apply is a no-op.
//! - `vault`: `capstan/vault-openbao` applied to an OpenBao dev server and the local
//!   PostgreSQL: each app's PKI role, policy, database credential and JWT login work for
//!   it and not for another app; re-apply is a no-op; a hand edit shows in the plan (not
//!   with --refresh=false) and is put back; a removed app's policy and roles are removed.
//! - `zero_trust`: the example's zero-trust environment applied to an OpenBao dev server,
//!   the local PostgreSQL and a stand-in for SPIRE's OIDC discovery provider
//!   (`oidc_stand_in`): each app logs in with a JWT-SVID for the SPIFFE ID its Deployment
//!   names, and gets its certificate and database credential, and not another app's.
//! - `bench_stack`: the stacks `capstan-bench gen` writes for the benchmarks plan.
//! - `example`: the open-finance example validates, renders valid Kubernetes, and its
//!   environments differ only in env.hcl and secrets.
//! - `network_policies`: the example's NetworkPolicies in both environments, read by
//!   a small NetworkPolicy evaluator: each app reaches DNS and what its dependencies
//!   name, a caller its callee and not back, only the ingress controller and
//!   Prometheus reach public apps, nothing on an undeclared port.
//! - `gitops`: the example's Secrets are SOPS documents npm's `sops-age` opens; a
//!   canary password reaches no file or output in clear; `plain` is refused in a
//!   Git work tree that does not ignore it; target block errors and overrides.
//! - `state`: a state write that fails saves errored.capstanstate; `state push` stores it back.
//! - `state_surgery`: `state mv` of a renamed component directory plans no deletes (render
//!   files and live objects follow it); `state rm` forgets and leaves objects; `state import`
//!   adopts live objects on the kube stand-in; each backs up the state and refuses with a reason.
//! - `revisions`: each apply that changes an environment records a revision; `history`;
//!   a rollback to the first of three, after which its tree plans no change; a rollback
//!   across a database created and a password rotated (real PostgreSQL) is refused.
//! - `crash`: a SIGKILL in the middle of an apply, then the next apply converges.
//! - `run_report`: `.capstan/runs/<id>.json` and `--report` (plugin builds, phase
//!   timings, the failing component and phase); the run as an OTLP trace to a
//!   receiver in the test, a span per component.
//! - `kube`: `--target kube` against a fake API server served over HTTP (no
//!   kube-apiserver runs here): apply, re-apply, conflict, prune, destroy order,
//!   per-component readiness timeouts, `--context`; in a pod without a
//!   kubeconfig, its ServiceAccount, and a kubeconfig still first.
//! - `habits`: usage errors exit 1 (2 is `--detailed-exitcode`'s); colour only on
//!   a terminal and never with `NO_COLOR`; help for every argument; completions;
//!   line diffs of multi-line values in plans.
//! - `json`: `--json` documents of validate, plan, apply, destroy and state, one
//!   `format_version`, read as a CI job reads them (outcomes, counts, file/line/column),
//!   no secret in any; `--json` that would need an answer is a usage error.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod amqp_effects;
mod aws_effects;
mod bench_stack;
mod bundles;
mod contracts;
mod crash;
mod dataplane;
mod distribution;
mod effects;
mod errors;
mod example;
mod gitops;
mod habits;
mod json;
mod kube;
mod lifecycle;
mod live;
mod network_policies;
mod oidc_stand_in;
mod plan_cache;
mod plugins;
mod policies;
mod python_policy;
mod revisions;
mod run_report;
mod scaffold;
mod state;
mod state_surgery;
mod support;
mod vault;
mod zero_trust;
