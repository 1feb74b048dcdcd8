//! Which `capstan:plugin` contract a compiled component was built for, read
//! from its export names before anything is instantiated.

use capstan_core::{CONTRACT_PACKAGE, CONTRACT_VERSION};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::HostError;

/// Checks that `component` exports `capstan:plugin/handler@V` with a `V` this
/// engine hosts: the same major version, or for 0.x the same minor (semver's
/// rule for what may break).
pub(crate) fn check(engine: &Engine, component: &Component, plugin: &str) -> Result<(), HostError> {
    let prefix = format!("{CONTRACT_PACKAGE}/handler@");
    let ty = component.component_type();
    let found = ty.exports(engine).find_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_owned));
    let Some(found) = found else {
        return Err(HostError::NotAPlugin { plugin: plugin.to_owned(), package: CONTRACT_PACKAGE });
    };
    let incompatible = || HostError::IncompatibleContract {
        plugin: plugin.to_owned(),
        package: CONTRACT_PACKAGE,
        found: found.clone(),
        hosted: CONTRACT_VERSION,
    };
    let version = semver::Version::parse(&found).map_err(|_| incompatible())?;
    if compatible(&version, &CONTRACT_VERSION) { Ok(()) } else { Err(incompatible()) }
}

fn compatible(plugin: &semver::Version, hosted: &semver::Version) -> bool {
    if hosted.major == 0 {
        plugin.major == 0 && plugin.minor == hosted.minor
    } else {
        plugin.major == hosted.major
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_follows_semver() {
        let v = |s: &str| semver::Version::parse(s).expect("version");
        assert!(compatible(&v("0.1.3"), &v("0.1.0")));
        assert!(!compatible(&v("0.2.0"), &v("0.1.0")));
        assert!(!compatible(&v("9.0.0"), &v("0.1.0")));
        assert!(compatible(&v("1.4.0"), &v("1.0.0")));
        assert!(!compatible(&v("2.0.0"), &v("1.9.0")));
    }
}
