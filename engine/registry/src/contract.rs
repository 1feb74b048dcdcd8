//! Whether this engine can host a plugin built against a given version of
//! the `capstan:plugin` contract.

use capstan_core::{CONTRACT_PACKAGE, CONTRACT_VERSION};

use crate::error::{RegistryError, Result};

/// The Capstan release this crate belongs to (the workspace shares one version).
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A plugin built against contract `built` runs here when the hosted
/// contract is semver-compatible and not older (`^built` matches it): the
/// plugin may use anything its contract version has.
pub fn check_contract(plugin: &str, version: &semver::Version, built: &semver::Version) -> Result<()> {
    let wanted = semver::VersionReq::parse(&format!("^{built}")).map_err(|e| RegistryError::BadManifest {
        bundle: plugin.to_string(),
        reason: format!("contract version {built}: {e}"),
    })?;
    if wanted.matches(&CONTRACT_VERSION) {
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
