//! Where bundles come from. A source answers two questions: which versions
//! of a plugin do you offer, and give me this one. It vouches for nothing:
//! every fetched bundle is opened, checked and trusted (or not) by the
//! resolver, whatever the source.

mod dir;
mod http;
mod index;
mod oci;

pub use dir::DirSource;
pub use http::HttpSource;
pub use index::{INDEX_FILE, Index, IndexEntry};
pub use oci::OciSource;

use crate::error::Result;

/// One bundle a source offers for a plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The plugin asked for, `publisher/name`.
    pub plugin: String,
    /// The version offered.
    pub version: semver::Version,
    /// The bundle's name (it may hold more plugins than this one).
    pub bundle: String,
    /// What the source needs to fetch it: a path or a URL.
    pub locator: String,
    /// The digest the source claims, when it publishes one; checked on fetch.
    pub digest: Option<String>,
}

/// A place bundles come from: a `plugin_source` of client.hcl.
pub trait Source: Send + Sync {
    /// The `plugin_source` label, for messages.
    fn name(&self) -> &str;
    /// Every version of `plugin` on offer (empty when none).
    fn offers(&self, plugin: &str) -> Result<Vec<Offer>>;
    /// The bundle bytes of one offer, at most [`crate::MAX_BUNDLE_BYTES`].
    fn fetch(&self, offer: &Offer) -> Result<Vec<u8>>;
}
