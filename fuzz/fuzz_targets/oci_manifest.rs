//! What an OCI registry serves: an image manifest for a tag (and the check
//! that it carries a Capstan bundle), a registry reference and a tag read
//! back as a version. A registry is not trusted: any bytes give an answer or
//! a reason, never a panic.
#![no_main]

use capstan_registry::oci::{ImageManifest, OciReference, tag_of, version_of_tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = ImageManifest::parse(data) {
        if let Ok(layer) = manifest.bundle_layer() {
            assert!(layer.digest.starts_with("sha256:") && layer.digest.len() == 71, "{layer:?}");
        }
        // What Capstan writes, it reads back as the same manifest.
        assert_eq!(ImageManifest::parse(&manifest.to_bytes()).as_ref(), Ok(&manifest));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(reference) = OciReference::parse(text) {
            let _ = reference.join("acme/app");
        }
        if let Some(version) = version_of_tag(text) {
            assert_eq!(version_of_tag(&tag_of(&version)), Some(version));
        }
    }
});
