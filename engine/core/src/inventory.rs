//! The marks Capstan puts on every Kubernetes object it applies, so the
//! inventory of a component is read from the objects themselves: the
//! planner sets them, the kube target deletes nothing that lacks them.

/// The label every object Capstan applies carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "capstan");

/// The annotation naming the component (its key) an object belongs to.
pub const COMPONENT_ANNOTATION: &str = "capstan.dev/component";
