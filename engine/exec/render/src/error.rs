//! The one error type of this crate: each variant names the component or file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("component {component}: object #{index} cannot be rendered: {why}")]
    InvalidObject { component: String, index: usize, why: String },

    #[error("component {component}: {what} {value:?} cannot be used as a directory name")]
    UnsafeName { component: String, what: &'static str, value: String },

    #[error("component {component}: two objects would be written to {file} (same kind and name)")]
    DuplicateObject { component: String, file: String },

    #[error("component {component} is listed twice")]
    DuplicateComponent { component: String },

    #[error(
        "{path} exists and was not written by capstan; refusing to overwrite it (move it away, or render to another directory)"
    )]
    WouldOverwrite { path: PathBuf },

    #[error("{path} cannot be read back as YAML: {why}")]
    Unreadable { path: PathBuf, why: String },

    #[error(
        "component {component}: Secret {file} cannot be written: environment {environment} has no secrets delivery. \
         Give it age recipients (a secrets.enc.hcl, or target \"render\" {{ recipients = [...] }}) for SOPS, \
         or set target \"render\" {{ secrets = \"plain\" }} for a directory Git ignores"
    )]
    NoSecretsDelivery { component: String, environment: String, file: String },

    #[error(
        "{path}: {source} (the operator's age identity, CAPSTAN_AGE_KEY_FILE, must open the Secrets already rendered)"
    )]
    Sops {
        path: PathBuf,
        #[source]
        source: capstan_sops::SopsError,
    },

    #[error("{path}: the secret store, at key {key}: {why}")]
    Store { path: PathBuf, key: String, why: String },

    #[error("render marker {path} is not valid: {source}")]
    Marker {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("render I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
