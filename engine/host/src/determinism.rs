//! What a plugin sees of time and chance: nothing that differs between runs.
//!
//! Plans must be pure: a saved plan is applied later on the promise that
//! planning the same component with the same plugin gives the same plan. So
//! `wasi:random` (secure and insecure, and the insecure seed) is a ChaCha20
//! stream seeded from the plugin's digest and the component the call is for,
//! and both clocks stand still at zero. Same plugin, same component: the same
//! bytes, every run, on every machine; another component gets another stream,
//! so two components do not draw the same "random" names.
//!
//! This is not a source of secrets: anyone who knows the plugin and the
//! component can compute the stream. Secrets come from the operator's secret
//! store, never from a plugin's randomness.

use std::time::Duration;

use capstan_core::ComponentId;
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use sha2::{Digest, Sha256};
use wasmtime_wasi::WasiCtxBuilder;

/// Bumped if the derivation below changes, which changes every stream (and
/// so every plan that used randomness).
const DOMAIN: &[u8] = b"capstan plugin randomness v1";

/// Which of WASI's three random sources a seed is for; each gets its own
/// stream so that reading one does not shift another.
#[derive(Clone, Copy)]
enum Source {
    Secure,
    Insecure,
    InsecureSeed,
}

impl Source {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Secure => b"secure",
            Self::Insecure => b"insecure",
            Self::InsecureSeed => b"insecure-seed",
        }
    }
}

/// 32 bytes derived from the plugin, the component and the source. Each part
/// is length-prefixed so that no two different triples hash the same input.
fn seed(plugin_digest: &str, component: Option<&ComponentId>, source: Source) -> [u8; 32] {
    let component = component.map(ToString::to_string).unwrap_or_default();
    let mut hasher = Sha256::new();
    for part in [DOMAIN, plugin_digest.as_bytes(), component.as_bytes(), source.label()] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Gives `wasi` deterministic randomness and frozen clocks for a call of the
/// plugin with `plugin_digest` for `component` (`None` for `describe`).
pub(crate) fn make_deterministic(
    wasi: &mut WasiCtxBuilder,
    plugin_digest: &str,
    component: Option<&ComponentId>,
) {
    let rng = |source| ChaCha20Rng::from_seed(seed(plugin_digest, component, source));
    let insecure_seed = seed(plugin_digest, component, Source::InsecureSeed);
    let mut seed_bytes = [0u8; 16];
    seed_bytes.copy_from_slice(&insecure_seed[..16]);
    wasi.secure_random(rng(Source::Secure))
        .insecure_random(rng(Source::Insecure))
        .insecure_random_seed(u128::from_le_bytes(seed_bytes))
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock);
}

/// A wall and monotonic clock stuck at zero: a plan that read the time would
/// differ from run to run. (Zero rather than a per-component instant: no
/// plugin has a use for a made-up date, and zero is plainly not "now".)
struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(name: &str) -> ComponentId {
        ComponentId { name: name.into(), environment: "staging".into(), namespace: "core".into() }
    }

    #[test]
    fn seeds_differ_by_plugin_component_and_source() {
        let api = component("api");
        let base = seed("aa", Some(&api), Source::Secure);
        assert_eq!(base, seed("aa", Some(&api), Source::Secure), "same inputs, same seed");
        assert_ne!(base, seed("ab", Some(&api), Source::Secure), "another plugin");
        assert_ne!(base, seed("aa", Some(&component("web")), Source::Secure), "another component");
        assert_ne!(base, seed("aa", None, Source::Secure), "describe (no component)");
        assert_ne!(base, seed("aa", Some(&api), Source::Insecure), "another source");
    }
}
