//! Which `capstan:plugin` contract a compiled component was built for, read
//! from its export names before anything is instantiated.

use capstan_core::{CONTRACT_PACKAGE, CONTRACT_VERSION, HOSTED_CONTRACTS};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::HostError;

/// Which of the hosted contracts a plugin speaks, and so which bindings call it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contract {
    /// [`CONTRACT_VERSION`], `wit/capstan-plugin.wit`.
    Current,
    /// 0.1, frozen in `wit/v0.1/`.
    V0_1,
}

impl Contract {
    pub(crate) fn version(self) -> semver::Version {
        match self {
            Self::Current => CONTRACT_VERSION,
            Self::V0_1 => semver::Version::new(0, 1, 0),
        }
    }
}

/// Checks that `component` exports `capstan:plugin/handler@V` with a `V` this
/// engine hosts: the same major version as one of [`HOSTED_CONTRACTS`], or for
/// 0.x the same minor (semver's rule for what may break).
pub(crate) fn check(engine: &Engine, component: &Component, plugin: &str) -> Result<Contract, HostError> {
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
        hosted: HOSTED_CONTRACTS.map(|v| v.to_string()).join(" and "),
    };
    let version = semver::Version::parse(&found).map_err(|_| incompatible())?;
    [Contract::Current, Contract::V0_1]
        .into_iter()
        .find(|c| compatible(&version, &c.version()))
        .ok_or_else(incompatible)
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
    fn every_hosted_contract_has_bindings() {
        let bound: Vec<_> = [Contract::Current, Contract::V0_1].map(Contract::version).into();
        assert_eq!(bound, HOSTED_CONTRACTS);
    }

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
