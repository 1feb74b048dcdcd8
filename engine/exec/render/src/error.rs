//! The one error type of this crate: each variant names the component or file.

use std::path::PathBuf;

/// What went wrong rendering objects to files or to a stream.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An object has no `kind` or `metadata.name` (so no file name), or a
    /// Secret cannot be turned into an `ExternalSecret`.
    #[error("component {component}: object #{index} cannot be rendered: {why}")]
    InvalidObject {
        /// The component, as `environment/namespace/name`.
        component: String,
        /// The object's position in the component's list, from 0.
        index: usize,
        /// What is wrong with it.
        why: String,
    },

    /// An environment, namespace or component name is not one plain path
    /// segment (empty, starts with `.`, or has characters outside
    /// `A-Z a-z 0-9 . _ -`); config validation should have caught it.
    #[error("component {component}: {what} {value:?} cannot be used as a directory name")]
    UnsafeName {
        /// The component, as `environment/namespace/name`.
        component: String,
        /// Which part: "environment", "namespace" or "component name".
        what: &'static str,
        /// The rejected value.
        value: String,
    },

    /// Two objects of one component map to the same file: same kind and
    /// name, or names that differ only in case or in characters replaced by `_`.
    #[error("component {component}: two objects would be written to {file} (same kind and name)")]
    DuplicateObject {
        /// The component, as `environment/namespace/name`.
        component: String,
        /// The file name, e.g. `deployment-api.yaml`.
        file: String,
    },

    /// The same component appears twice among those given to render or keep.
    #[error("component {component} is listed twice")]
    DuplicateComponent {
        /// The component, as `environment/namespace/name`.
        component: String,
    },

    /// A file Capstan would write already exists, is not in the marker
    /// and does not start with Capstan's header line.
    #[error(
        "{path} exists and was not written by capstan; refusing to overwrite it (move it away, or render to another directory)"
    )]
    WouldOverwrite {
        /// The file, under the output directory.
        path: PathBuf,
    },

    /// A component's files were to be moved into a directory where another
    /// component's files are (`capstan state mv` onto a rendered component).
    #[error("{dir} already holds rendered files; refusing to move another component's files over them")]
    Occupied {
        /// The component directory, under the output directory.
        dir: PathBuf,
    },

    /// A file Capstan wrote (it carries the header) no longer parses as
    /// YAML, e.g. after a hand edit.
    #[error("{path} cannot be read back as YAML: {why}")]
    Unreadable {
        /// The file, under the output directory.
        path: PathBuf,
        /// The parser's message.
        why: String,
    },

    /// A component plans a Secret but its environment has no
    /// [`Delivery`](crate::Delivery) in the [`SecretsPolicy`](crate::SecretsPolicy).
    #[error(
        "component {component}: Secret {file} cannot be written: environment {environment} has no secrets delivery. \
         Give it age recipients (a secrets.enc.hcl, or target \"render\" {{ recipients = [...] }}) for SOPS, \
         or set target \"render\" {{ secrets = \"plain\" }} for a directory Git ignores"
    )]
    NoSecretsDelivery {
        /// The component, as `environment/namespace/name`.
        component: String,
        /// The environment without a delivery.
        environment: String,
        /// The Secret's file, relative to the output directory.
        file: String,
    },

    /// Encrypting a Secret failed, or a rendered SOPS Secret could not be
    /// opened with the operator's age identities.
    #[error(
        "{path}: {source} (the operator's age identity, CAPSTAN_AGE_KEY_FILE, must open the Secrets already rendered)"
    )]
    Sops {
        /// The Secret's file (relative to the output directory when streaming).
        path: PathBuf,
        /// What SOPS reported.
        #[source]
        source: capstan_sops::SopsError,
    },

    /// The external secret store refused a read or write.
    #[error("{path}: the secret store, at key {key}: {why}")]
    Store {
        /// The `ExternalSecret`'s file, under the output directory.
        path: PathBuf,
        /// The remote key, `<prefix>/<environment>/<namespace>/<secret name>`.
        key: String,
        /// The store's message (never a value).
        why: String,
    },

    /// The marker file (`.capstan-render.json`) is not valid JSON of the
    /// expected shape, or could not be serialised.
    #[error("render marker {path} is not valid: {source}")]
    Marker {
        /// The marker file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// Reading, writing, renaming or removing a file or directory failed.
    #[error("render I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
