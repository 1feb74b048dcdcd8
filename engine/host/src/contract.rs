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
    /// A policy plugin: the current contract's `policy-plugin` world (the
    /// `policy` interface is new in 0.2, so there is no older one).
    Policy,
}

impl Contract {
    pub(crate) fn version(self) -> semver::Version {
        match self {
            Self::Current | Self::Policy => CONTRACT_VERSION,
            Self::V0_1 => semver::Version::new(0, 1, 0),
        }
    }
}

/// Checks that `component` exports `capstan:plugin/handler@V` (a component
/// plugin) or `capstan:plugin/policy@V` (a policy plugin) with a `V` this
/// engine hosts: the same major version as one of [`HOSTED_CONTRACTS`], or for
/// 0.x the same minor (semver's rule for what may break).
pub(crate) fn check(engine: &Engine, component: &Component, plugin: &str) -> Result<Contract, HostError> {
    let ty = component.component_type();
    let exported = |interface: &str| {
        let prefix = format!("{CONTRACT_PACKAGE}/{interface}@");
        ty.exports(engine).find_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_owned))
    };
    let (found, kinds) = match (exported("handler"), exported("policy")) {
        (Some(found), _) => (found, [Contract::Current, Contract::V0_1].as_slice()),
        (None, Some(found)) => (found, [Contract::Policy].as_slice()),
        (None, None) => {
            return Err(HostError::NotAPlugin { plugin: plugin.to_owned(), package: CONTRACT_PACKAGE });
        }
    };
    let incompatible = || HostError::IncompatibleContract {
        plugin: plugin.to_owned(),
        package: CONTRACT_PACKAGE,
        found: found.clone(),
        hosted: HOSTED_CONTRACTS.map(|v| v.to_string()).join(" and "),
    };
    let version = semver::Version::parse(&found).map_err(|_| incompatible())?;
    kinds.iter().copied().find(|c| compatible(&version, &c.version())).ok_or_else(incompatible)
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
