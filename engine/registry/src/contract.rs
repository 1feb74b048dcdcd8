//! Whether this engine can host a plugin built against a given version of
//! the `capstan:plugin` contract.

use capstan_core::{CONTRACT_PACKAGE, CONTRACT_VERSION, HOSTED_CONTRACTS};

use crate::error::{RegistryError, Result};

/// The Capstan release this crate belongs to (the workspace shares one version).
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A plugin built against contract `built` runs here when one of the hosted
/// contracts is semver-compatible and not older (`^built` matches it): the
/// plugin may use anything its contract version has.
pub fn check_contract(plugin: &str, version: &semver::Version, built: &semver::Version) -> Result<()> {
    let wanted = semver::VersionReq::parse(&format!("^{built}")).map_err(|e| RegistryError::BadManifest {
        bundle: plugin.to_string(),
        reason: format!("contract version {built}: {e}"),
    })?;
    if HOSTED_CONTRACTS.iter().any(|hosted| wanted.matches(hosted)) {
        return Ok(());
    }
    let advice = if *built > CONTRACT_VERSION {
        format!(
            "it needs a Capstan release newer than {ENGINE_VERSION}, one that hosts {CONTRACT_PACKAGE} ^{built}"
        )
    } else {
        format!(
            "it needs an older Capstan release, one that hosts {CONTRACT_PACKAGE} ^{built}, or a rebuild \
             with capstan-sdk {ENGINE_VERSION}"
        )
    };
    Err(RegistryError::ContractUnsupported {
        plugin: plugin.to_string(),
        version: version.to_string(),
        contract: built.to_string(),
        advice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_of_every_hosted_contract_run_and_no_others() {
        let v = |s: &str| semver::Version::parse(s).expect("version");
        let check = |built: &str| check_contract("acme/x", &v("1.0.0"), &v(built));
        assert!(check("0.1.0").is_ok(), "0.1 plugins keep running");
        assert!(check("0.2.0").is_ok());
        let newer = check("0.3.0").expect_err("a newer contract is refused").to_string();
        assert!(newer.contains("hosts capstan:plugin 0.2.0 and 0.1.0"), "{newer}");
        assert!(newer.contains("needs a Capstan release newer than"), "{newer}");
        assert!(check("0.2.5").is_err(), "a plugin may use what 0.2.5 added");
    }
}
