//! The Kubernetes target: a component's objects applied to a cluster by
//! server-side apply, under the field manager `capstan`.
//!
//! - **Order**: namespaces first, then CRDs (waiting until the API server
//!   reports each Established), then everything else in plan order.
//!   Deletion runs the other way: custom resources, then CRDs, namespaces last.
//! - **Conflicts**: Capstan never forces. A field another manager owns is
//!   an error naming the object, the field and the manager.
//! - **Inventory**: objects carry the `app.kubernetes.io/managed-by`
//!   label and the `capstan.dev/component` annotation (set by the planner,
//!   [`capstan_core::inventory`]); prune and destroy delete only objects
//!   that still carry both, for the component asking.
//! - **Namespaces**: every namespace the objects live in exists before
//!   they are applied — created when no plugin plans it, never deleted
//!   then; a planned Namespace someone else made is marked adopted and
//!   never deleted either ([`ADOPTED_ANNOTATION`]).
//! - **Readiness**: the plugin's `health` answer for each live object,
//!   polled until ready or the component's timeout (the caller's choice).
//! - **Plan**: [`KubeTarget::current`] gives the fields Capstan's manager
//!   owns, so the plan's diff is against the cluster, not against defaults
//!   or status other controllers write.
//! - **Kubeconfig**: chosen as kubectl does ([`kubeconfig`]); inside a pod
//!   without one, the pod's ServiceAccount ([`in_cluster`]).
//!
//! Which API serves a kind is asked of the cluster's discovery API. The
//! cluster is a `kube::Client` handed to [`KubeTarget::new`], so tests run
//! the same code against an in-memory API server.
//!
//! With the `fake-cluster` feature, `testing` serves an in-memory API
//! server to tests, in-process and over HTTP; the shipped binary never
//! enables it.
//!
//! This crate does not plan, diff or record state (capstan-plan and
//! capstan-state do) and does not know wasm (health comes in as a function).

mod error;
mod fields;
pub mod in_cluster;
pub mod kubeconfig;
mod namespaces;
mod object;
mod resources;
mod target;
#[cfg(feature = "fake-cluster")]
pub mod testing;

pub use error::KubeError;
pub use fields::owned_by;
pub use in_cluster::InClusterSource;
pub use kubeconfig::KubeconfigSource;
pub use namespaces::ADOPTED_ANNOTATION;
pub use object::ObjectRef;
pub use target::{HealthCheck, KubeTarget, Pruned, Reassigned, Settings};
