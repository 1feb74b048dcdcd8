//! `secrets.enc.hcl`, the file a repository commits: its clear header
//! (`recipients_of`, read without a key) and the whole file opened with an
//! identity that fits the seeds (the example platform's TEST-ONLY key), so
//! mutations reach the data key, the MAC and every value. Any bytes open or
//! fail with an error naming the file, and a file that opens seals again to
//! one that opens to the same values.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use capstan_secrets::{Identities, SecretFile, recipients_of};
use libfuzzer_sys::fuzz_target;

static IDENTITIES: LazyLock<Identities> = LazyLock::new(|| {
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/open-finance/TEST-ONLY-age-key.txt");
    Identities::load(&key).expect("the example platform's TEST-ONLY age key")
});

fuzz_target!(|data: &[u8]| {
    let file = PathBuf::from("secrets.enc.hcl");
    let header = recipients_of(&file, data);
    if let Ok(opened) = SecretFile::open(&file, data, &IDENTITIES) {
        assert_eq!(header.as_deref().ok(), Some(opened.recipients()), "header and file disagree");
        let sealed = opened.seal(&file).expect("an opened file seals again");
        let again = SecretFile::open(&file, &sealed, &IDENTITIES).expect("a file Capstan sealed opens");
        let expose = |f: &SecretFile| {
            f.values().iter().map(|(k, v)| (k.clone(), v.expose().to_owned())).collect::<Vec<_>>()
        };
        assert_eq!(expose(&again), expose(&opened));
    }
});
