//! A SOPS document as Capstan reads one back (rendered Secrets it compares
//! before rewriting, `capstan secrets` imports): parsed and opened with the
//! example platform's TEST-ONLY identity, which the seeds are encrypted to,
//! so mutations reach the MAC and the values; and a `.sops.yaml` read for its
//! creation rules. Any bytes give a document or an error, never a panic.
#![no_main]

use std::str::FromStr;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static IDENTITY: LazyLock<age::x25519::Identity> = LazyLock::new(|| {
    let text = include_str!("../../examples/open-finance/TEST-ONLY-age-key.txt");
    let line = text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).expect("an age identity line");
    age::x25519::Identity::from_str(line).expect("the example platform's TEST-ONLY age key")
});

fuzz_target!(|data: &[u8]| {
    let _ = capstan_sops::decrypt(data, std::slice::from_ref(&*IDENTITY));
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(rules) = capstan_sops::creation_rules(text) {
            let _ = capstan_sops::sops_config(&rules);
        }
    }
});
