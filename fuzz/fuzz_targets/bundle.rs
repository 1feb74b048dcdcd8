//! A plugin bundle as a source serves it (a gzip tar of `manifest.json`, the
//! components and `signature.json`): any bytes are a checked bundle or an
//! error naming it, within the size limits, and a bundle that opens writes
//! back to bytes that open as the same bundle.
#![no_main]

use capstan_registry::Bundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = Bundle::open("fuzz.bundle", data) {
        let bytes = bundle.to_bytes().expect("an opened bundle writes back");
        let again = Bundle::open("fuzz.bundle", &bytes).expect("a bundle Capstan wrote opens");
        assert_eq!(again.digest(), bundle.digest());
        assert_eq!(again.manifest_bytes(), bundle.manifest_bytes());
    }
});
