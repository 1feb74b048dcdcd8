//! From "plugin P, versions R" to one checked bundle, under the lock file.
//!
//! Rules, in the order they apply:
//! - A plugin in capstan.lock is used at exactly the locked version and
//!   digest: from the cache when it is there (no network), else from the
//!   first source offering that version with that digest. A source offering
//!   the same version with another digest is refused.
//! - A locked version outside the component's range is refused: `capstan
//!   plugin lock` moves forward, and only `capstan plugin upgrade` may move
//!   to an older version than locked (rollback protection).
//! - Otherwise the highest version matching the range, across all sources,
//!   is taken and recorded.
//! - A version an env.hcl pins ([`Resolver::resolve_pinned`]) is exact: it
//!   is recorded with its digest under the lock's `pins` and used exactly
//!   so from then on, whatever the mode; pins never move by themselves.
//!
//! Every bundle, cached or fetched, is opened (integrity), must hold the
//! plugin asked for, must be built against a contract this engine hosts, and
//! must pass the trust policy.

use crate::bundle::Bundle;
use crate::cache::BundleCache;
use crate::contract::check_contract;
use crate::error::{RegistryError, Result};
use crate::lock::{LockEntry, LockFile};
use crate::source::{Offer, Source};
use crate::trust::{Signer, TrustPolicy};

/// How the lock file is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// plan, apply, init: use what is locked; lock what is not yet.
    Use,
    /// `capstan plugin lock`: re-resolve to the highest match, never older than locked.
    Refresh,
    /// `capstan plugin upgrade`: re-resolve, older versions allowed.
    Upgrade,
}

/// A bundle accepted for one plugin.
#[derive(Debug)]
pub struct Resolved {
    /// The plugin asked for, `publisher/name`.
    pub plugin: String,
    /// The checked bundle holding it (it may hold other plugins too).
    pub bundle: Bundle,
    /// Who vouched for the bundle, as recorded in capstan.lock.
    pub signer: Signer,
    /// Where it came from: `cache` or a source's name.
    pub from: String,
}

impl Resolved {
    /// The component bytes of the plugin.
    pub fn wasm(&self) -> &[u8] {
        self.bundle.wasm(&self.plugin).unwrap_or_default()
    }
}

/// Picks, fetches and checks bundles from the sources, under the trust
/// policy and the lock file, keeping accepted bundles in the cache.
pub struct Resolver {
    sources: Vec<Box<dyn Source>>,
    trust: TrustPolicy,
    cache: BundleCache,
    allow_unsigned: bool,
}

impl Resolver {
    /// A resolver over `sources`, in order of preference for a version
    /// several of them offer. `allow_unsigned` lets unsigned bundles
    /// through (`--allow-unsigned`, plugin development only).
    pub fn new(
        sources: Vec<Box<dyn Source>>,
        trust: TrustPolicy,
        cache: BundleCache,
        allow_unsigned: bool,
    ) -> Self {
        Self { sources, trust, cache, allow_unsigned }
    }

    /// Whether any `plugin_source` is configured.
    pub fn has_sources(&self) -> bool {
        !self.sources.is_empty()
    }

    /// The bundle for `plugin` in range `wanted`. Under [`LockMode::Use`] a
    /// locked plugin is used exactly as locked; otherwise the highest match
    /// across all sources is taken (under [`LockMode::Refresh`] never one
    /// older than locked) and recorded in `lock.plugins`. The caller saves
    /// the lock.
    pub fn resolve(
        &self,
        plugin: &str,
        wanted: &semver::VersionReq,
        lock: &mut LockFile,
        mode: LockMode,
    ) -> Result<Resolved> {
        let locked = lock.plugins.get(plugin).cloned();
        if let (Some(entry), LockMode::Use) = (&locked, mode) {
            if !wanted.matches(&entry.version) {
                return Err(RegistryError::LockOutOfRange {
                    plugin: plugin.to_string(),
                    locked: entry.version.to_string(),
                    wanted: wanted.to_string(),
                });
            }
            return self.locked(plugin, entry);
        }
        let resolved = self.best(plugin, wanted)?;
        let version = &resolved.bundle.manifest.version;
        if let (Some(entry), LockMode::Refresh) = (&locked, mode) {
            if *version < entry.version {
                return Err(RegistryError::Rollback {
                    plugin: plugin.to_string(),
                    locked: entry.version.to_string(),
                    wanted: version.to_string(),
                });
            }
            if *version == entry.version && resolved.bundle.digest() != entry.digest {
                return Err(RegistryError::LockedDigestMismatch {
                    plugin: plugin.to_string(),
                    version: version.to_string(),
                    source_name: resolved.from.clone(),
                    locked: entry.digest.clone(),
                    found: resolved.bundle.digest(),
                });
            }
        }
        lock.plugins.insert(
            plugin.to_string(),
            LockEntry {
                version: version.clone(),
                digest: resolved.bundle.digest(),
                signer: resolved.signer.to_string(),
                bundle: resolved.bundle.manifest.name.clone(),
            },
        );
        Ok(resolved)
    }

    /// Exactly `version`, pinned by an environment: as locked when it is,
    /// else from the sources, then locked.
    pub fn resolve_pinned(
        &self,
        plugin: &str,
        version: &semver::Version,
        lock: &mut LockFile,
    ) -> Result<Resolved> {
        if let Some(entry) = lock.entry_for(plugin, version).cloned() {
            // Recorded as a pin even when the range entry already has this
            // version, so the lock says the same whichever was resolved first.
            lock.pin(plugin, entry.clone());
            return self.locked(plugin, &entry);
        }
        let exact = semver::VersionReq {
            comparators: vec![semver::Comparator {
                op: semver::Op::Exact,
                major: version.major,
                minor: Some(version.minor),
                patch: Some(version.patch),
                pre: version.pre.clone(),
            }],
        };
        let resolved = self.best(plugin, &exact)?;
        lock.pin(
            plugin,
            LockEntry {
                version: resolved.bundle.manifest.version.clone(),
                digest: resolved.bundle.digest(),
                signer: resolved.signer.to_string(),
                bundle: resolved.bundle.manifest.name.clone(),
            },
        );
        Ok(resolved)
    }

    /// Exactly the locked version and digest.
    fn locked(&self, plugin: &str, entry: &LockEntry) -> Result<Resolved> {
        if let Some(bytes) = self.cache.get(&entry.digest)? {
            let label = format!("{plugin} {} (cached)", entry.version);
            let bundle = Bundle::open(&label, &bytes)?;
            // A cache file is named by digest; one that no longer matches its
            // name was damaged or replaced, and is fetched again.
            if bundle.digest() == entry.digest {
                return self.accept(plugin, bundle, "cache".into());
            }
            tracing::warn!(
                "cached bundle for {plugin} {} does not match its digest; fetching it again",
                entry.version
            );
        }
        let mut changed = None;
        for source in &self.sources {
            let offers = match source.offers(plugin) {
                Ok(o) => o,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            for offer in offers.iter().filter(|o| o.version == entry.version) {
                let bundle = self.fetch(source.as_ref(), offer)?;
                if bundle.digest() != entry.digest {
                    changed.get_or_insert((source.name().to_string(), bundle.digest()));
                    continue;
                }
                let resolved = self.accept(plugin, bundle, source.name().to_string())?;
                self.store(&resolved)?;
                return Ok(resolved);
            }
        }
        Err(match changed {
            Some((source_name, found)) => RegistryError::LockedDigestMismatch {
                plugin: plugin.to_string(),
                version: entry.version.to_string(),
                source_name,
                locked: entry.digest.clone(),
                found,
            },
            None => RegistryError::LockedUnavailable {
                plugin: plugin.to_string(),
                version: entry.version.to_string(),
            },
        })
    }

    /// The highest version matching `wanted` across every source.
    fn best(&self, plugin: &str, wanted: &semver::VersionReq) -> Result<Resolved> {
        let mut offers: Vec<(usize, Offer)> = Vec::new();
        let mut failure = None;
        for (i, source) in self.sources.iter().enumerate() {
            match source.offers(plugin) {
                Ok(o) => offers.extend(o.into_iter().map(|o| (i, o))),
                Err(e) => {
                    tracing::warn!("{e}");
                    failure.get_or_insert(e);
                }
            }
        }
        if offers.is_empty() {
            return Err(failure.unwrap_or_else(|| RegistryError::NotFound {
                plugin: plugin.to_string(),
                looked_in: self.sources.iter().map(|s| s.name().to_string()).collect::<Vec<_>>().join(", "),
            }));
        }
        // Highest version first; for one version, the source listed first.
        offers.sort_by(|(ia, a), (ib, b)| b.version.cmp(&a.version).then(ia.cmp(ib)));
        let Some((i, offer)) = offers.iter().find(|(_, o)| wanted.matches(&o.version)) else {
            let mut found: Vec<String> = offers.iter().map(|(_, o)| o.version.to_string()).collect();
            found.dedup();
            return Err(RegistryError::NoMatchingVersion {
                plugin: plugin.to_string(),
                wanted: wanted.to_string(),
                found: found.join(", "),
            });
        };
        let source = self.sources[*i].as_ref();
        let bundle = self.fetch(source, offer)?;
        let resolved = self.accept(plugin, bundle, source.name().to_string())?;
        self.store(&resolved)?;
        Ok(resolved)
    }

    fn fetch(&self, source: &dyn Source, offer: &Offer) -> Result<Bundle> {
        let bytes = source.fetch(offer)?;
        let bundle = Bundle::open(&offer.locator, &bytes)?;
        if let Some(claimed) = &offer.digest
            && *claimed != bundle.digest()
        {
            return Err(RegistryError::Source {
                source_name: source.name().to_string(),
                reason: format!(
                    "{} has digest {}, the source lists {claimed} for {} {}",
                    offer.locator,
                    bundle.digest(),
                    offer.plugin,
                    offer.version
                ),
            });
        }
        if bundle.manifest.version != offer.version {
            return Err(RegistryError::Source {
                source_name: source.name().to_string(),
                reason: format!(
                    "{} holds version {}, the source lists {}",
                    offer.locator, bundle.manifest.version, offer.version
                ),
            });
        }
        Ok(bundle)
    }

    /// Name, contract and trust: what every bundle must pass before use.
    fn accept(&self, plugin: &str, bundle: Bundle, from: String) -> Result<Resolved> {
        if bundle.manifest.component(plugin).is_none() {
            return Err(RegistryError::NameMismatch {
                bundle: bundle.label.clone(),
                requested: plugin.to_string(),
                found: bundle.manifest.components.iter().map(|c| c.plugin.clone()).collect(),
            });
        }
        check_contract(plugin, &bundle.manifest.version, &bundle.manifest.contract)?;
        let signer = self.trust.check(&bundle, plugin, self.allow_unsigned)?;
        Ok(Resolved { plugin: plugin.to_string(), bundle, signer, from })
    }

    fn store(&self, resolved: &Resolved) -> Result<()> {
        self.cache.put(&resolved.bundle.digest(), &resolved.bundle.to_bytes()?)?;
        Ok(())
    }
}
