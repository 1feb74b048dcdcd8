//! The render target: every planned Kubernetes object written as deterministic
//! YAML, laid out so Argo CD or Flux can consume the directory as it is.
//!
//! Layout (one object per file):
//!
//! ```text
//! <out>/<env>/<namespace>/<component>/<kind>-<name>.yaml
//! <out>/<env>/<namespace>/<component>/kustomization.yaml   lists the object files
//! <out>/<env>/<namespace>/kustomization.yaml               lists the component dirs
//! <out>/<env>/kustomization.yaml                           lists the namespace dirs
//! <out>/.capstan-render.json                               the files Capstan wrote
//! <out>/.sops.yaml                                         how sops encrypts each environment's Secrets
//! ```
//!
//! `<namespace>` is the Capstan namespace of the component (its directory in the
//! stack), not necessarily `metadata.namespace` of each object. File names are
//! lowercase; characters other than `a-z 0-9 . _ -` become `_`.
//!
//! Output is byte-for-byte deterministic: keys are ordered `apiVersion`, `kind`,
//! `metadata` (`name`, `namespace`, `labels`, `annotations`, then the rest
//! sorted), then the remaining keys sorted, at every level; lists keep their
//! order. A file whose bytes would not change is not rewritten, so re-rendering
//! an unchanged plan touches nothing. Objects that left the plan are removed,
//! with directories left empty by that. Only capstan's own files are ever
//! removed or overwritten — those listed in the marker, or starting with the
//! header line capstan writes (so a marker lost in a crash blocks nothing) —
//! so an operator's own files in the output directory are kept, and a file
//! capstan did not write is never overwritten.
//!
//! A `Secret` is written as its environment's [`SecretsPolicy`] says: a SOPS
//! document encrypted to the environment's age recipients (mode 0644, meant
//! for Git; a file that already holds the same values for the same
//! recipients is kept byte for byte, so an unchanged Secret never churns), in
//! clear with mode 0600 when the caller asked for that by name, or not at all
//! (an error naming the component) when the environment has no delivery. Each file is replaced atomically (temp file + rename); only the
//! marker is fsynced: the output is re-created from the plan, state is the
//! durable record.
//!
//! [`render`] writes a whole plan at once; [`RenderTarget`] applies one
//! component at a time (as the planner does, in parallel), leaving the others'
//! files alone; [`stream`] writes the objects as one multi-document YAML
//! stream instead of files (`capstan render --stdout`).
//!
//! This crate does not talk to a cluster, validate objects against schemas, or
//! decide what belongs in the plan: it writes what it is given.

mod error;
mod external;
mod layout;
mod record;
mod secrets;
mod stream;
mod target;
mod tree;
mod yaml;

pub use error::RenderError;
pub use layout::{MARKER_FILE, SOPS_CONFIG, file_name_for, object_file_name};
pub use secrets::{Delivery, ExternalStore, SecretStore, SecretsPolicy, SopsKeys};
pub use stream::stream;
pub use target::{ComponentFiles, RenderTarget};
pub use tree::{RenderReport, RenderedComponent, render, render_keeping};
pub use yaml::to_yaml;
