//! Bundles as OCI artifacts, through the OCI distribution API.
//!
//! How a bundle maps onto a registry:
//! - One repository per **plugin**: `<prefix>/<publisher>/<name>`, so a
//!   source finds plugin `acme/messaging-sqs` under `<url>/acme/messaging-sqs`
//!   without a registry-wide catalogue (which most registries do not serve).
//!   A bundle holding several plugins is pushed under each of their
//!   repositories: the same blobs, the same manifest, one tag in each.
//! - Tags are versions: `1.2.0`; semver build metadata, whose `+` a tag
//!   cannot hold, is written with `_` (`1.2.0_build.5`), as Helm does.
//! - The image manifest (`application/vnd.oci.image.manifest.v1+json`) has
//!   the bundle's `manifest.json` as its config blob (media type
//!   [`CONFIG_MEDIA_TYPE`]) and the bundle file, byte for byte, as its one
//!   layer ([`LAYER_MEDIA_TYPE`]). The signature is inside that file
//!   (`signature.json`), so what the resolver verifies is exactly what the
//!   publisher signed; the registry's digests only guard the transfer.
//! - Plain HTTP is chosen the way docker chooses it for insecure registries:
//!   a reference without a scheme uses HTTPS, except to a loopback host
//!   (`127.0.0.1`, `::1`, `localhost`), which uses HTTP; `http://` may be
//!   written only for a loopback host, `https://` for any.

mod artifact;
mod client;
mod push;
mod reference;

pub use artifact::{CONFIG_MEDIA_TYPE, Descriptor, ImageManifest, LAYER_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
pub(crate) use client::{OciClient, OciError};
pub use push::{Pushed, push};
pub use reference::{OciReference, tag_of, version_of_tag};

/// A registry login: basic auth, or the credentials traded for a bearer
/// token when the registry asks for one. The password never appears in
/// `Debug` output or in any message.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The registry user name.
    pub username: String,
    /// The password or access token, redacted in `Debug`.
    pub password: capstan_core::Sensitive,
}
