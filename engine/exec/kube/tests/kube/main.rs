//! The kube target against an in-memory API server.
//!
//! No kube-apiserver can run on the build machines: the cluster is
//! kube-fake-client (server-side apply with field ownership and
//! conflicts), with the stand-in of `capstan_kube::testing` for discovery,
//! the CRD controller and namespace checks.
//!
//! Module index:
//! - support: the test cluster, the app plugin's real objects, the upstream CRD
//! - apply: stage order, CRD before its custom resource, re-apply changes nothing, the plan's diff
//! - conflict: a field another manager owns is an error naming it, never forced
//! - prune: objects that left the plan are deleted, nothing else is
//! - reassign: a component moved in the tree (`state mv`) takes its live objects, no other's
//! - destroy: everything the component owned goes, in reverse order
//! - namespaces: created when no plugin plans them, never deleted then; an adopted one is kept
//! - readiness: waits on the plugin's health answers, time out with its reason, per-call timeouts
//! - kubeconfig: KUBECONFIG, the current context and --context, as kubectl; connecting over HTTP
//! - in_cluster: no kubeconfig in a pod: its ServiceAccount; applying over TLS with its token

#![allow(clippy::unwrap_used, reason = "tests")]

mod apply;
mod conflict;
mod destroy;
mod in_cluster;
mod kubeconfig;
mod namespaces;
mod prune;
mod readiness;
mod reassign;
mod support;
