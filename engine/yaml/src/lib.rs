//! Capstan's one YAML writer: a JSON value as YAML text that YAML 1.1 readers
//! (PyYAML, go-yaml v2, what much of the Kubernetes tooling still reads) and
//! YAML 1.2 readers (libyaml-based serde_norway, go-yaml v3) read back as the
//! same value: every string, key and number.
//!
//! It is used by the render target (every object file it writes, on the hot
//! path of each render) and by HCL's `yamlencode()`, which is why it is a crate
//! of its own: `capstan-render` and `capstan-config` do not depend on each
//! other, and `capstan-core` is the plugin contract (it builds for the guests'
//! wasm target too), which a writer of files has no place in. It depends on
//! `serde_json` alone.
//!
//! The output style is the one `kubectl` writes: block mappings, sequences at
//! their key's indentation, multi-line text as literal blocks. A string is
//! written plain only when no reader of either version can take it for
//! something else (`yes`, `on`, `0777`, `1:20`, `=`, `<<`, `~` are quoted);
//! otherwise single-quoted, or double-quoted with escapes when it holds a
//! character a YAML file cannot carry raw or a reader treats as a line break.
//!
//! It deliberately does not parse YAML, write anchors, tags, flow collections
//! or several documents, or do any I/O: callers write the text where they
//! want it, and can append it to a buffer they already hold ([`write`]).

mod emit;
mod scalar;

use serde_json::Value;

/// How the keys of each mapping are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrder {
    /// A Kubernetes manifest's order, the same whatever order the input had:
    /// at the top `apiVersion`, `kind`, `metadata` first, in `metadata`
    /// `name`, `namespace`, `labels`, `annotations` first; every other key
    /// sorted (bytewise), at every level.
    Manifest,
    /// The order the value holds its keys in (serde_json is built with
    /// `preserve_order`: insertion order).
    AsGiven,
}

/// The YAML text of `value`, ending with a newline.
pub fn to_string(value: &Value, order: KeyOrder) -> String {
    let mut out = String::with_capacity(1024);
    write(value, order, &mut out);
    out
}

/// Appends the YAML text of `value` (ending with a newline) to `out`, so a
/// caller that writes a header first needs no second copy of the document.
pub fn write(value: &Value, order: KeyOrder, out: &mut String) {
    emit::document(value, order, out);
}
