//! How a rendered `Secret` reaches its file, chosen per environment: as a
//! SOPS document encrypted to the environment's age recipients (values
//! sealed, keys and metadata in clear, so Flux's kustomize-controller and
//! `sops -d` open it), as an `ExternalSecret` with the values written to a
//! secret store (see [`crate::external`]), or in clear when the caller asked
//! for that by name. An environment with no delivery gets no Secret written
//! at all.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use capstan_core::Sensitive;

/// Where an environment's Secrets go.
pub enum Delivery {
    /// In clear, mode 0600: for a directory Git ignores.
    Plain,
    /// SOPS documents, mode 0644: safe to commit.
    Sops(SopsKeys),
    /// An `ExternalSecret` in each Secret's place; the values go to a store.
    External(ExternalStore),
}

/// A secret store the render target writes values to: Vault/OpenBao KV v2,
/// AWS Secrets Manager. Values are key → value maps under one remote key.
/// Errors are words (never values): the caller adds the Secret they concern.
pub trait SecretStore: Send + Sync {
    /// The values under `key`, if it exists.
    fn read(&self, key: &str) -> Result<Option<BTreeMap<String, Sensitive>>, String>;
    /// Makes `key` hold exactly `values` (a new version only when they differ).
    fn write(&self, key: &str, values: &BTreeMap<String, Sensitive>) -> Result<(), String>;
}

/// `external-secrets` delivery: where values go and what the
/// `ExternalSecret`s say.
pub struct ExternalStore {
    /// Where the Secrets' values are written and read back from.
    pub store: Arc<dyn SecretStore>,
    /// `ClusterSecretStore` or `SecretStore`.
    pub store_kind: String,
    /// Its name.
    pub store_name: String,
    /// Remote keys are `<prefix>/<environment>/<namespace>/<secret name>`.
    pub prefix: String,
    /// The `ExternalSecret`s' `refreshInterval`.
    pub refresh: String,
}

/// The keys of SOPS delivery.
pub struct SopsKeys {
    /// Every document is encrypted to all of them.
    pub recipients: Vec<age::x25519::Recipient>,
    /// Open the documents already on disk, so an unchanged Secret's file is
    /// kept byte for byte and a plan compares values, not ciphertexts.
    pub identities: Vec<age::x25519::Identity>,
}

/// Shows recipients only.
impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delivery::Plain => f.write_str("Plain"),
            Delivery::Sops(keys) => f
                .debug_struct("Sops")
                .field("recipients", &keys.recipients.iter().map(ToString::to_string).collect::<Vec<_>>())
                .field("identities", &keys.identities.len())
                .finish(),
            Delivery::External(store) => f
                .debug_struct("External")
                .field("store", &format_args!("{} {}", store.store_kind, store.store_name))
                .field("prefix", &store.prefix)
                .finish(),
        }
    }
}

/// The delivery of each environment; environments not named have none.
#[derive(Clone, Debug, Default)]
pub struct SecretsPolicy {
    by_env: BTreeMap<String, Arc<Delivery>>,
}

impl SecretsPolicy {
    /// No environment may render a Secret.
    pub fn none() -> Self {
        Self::default()
    }

    /// `environment`'s Secrets go by `delivery`.
    #[must_use]
    pub fn with(mut self, environment: impl Into<String>, delivery: Delivery) -> Self {
        self.set(environment, delivery);
        self
    }

    /// `environment`'s Secrets go by `delivery` from now on.
    pub fn set(&mut self, environment: impl Into<String>, delivery: Delivery) {
        self.by_env.insert(environment.into(), Arc::new(delivery));
    }

    pub(crate) fn get(&self, environment: &str) -> Option<&Arc<Delivery>> {
        self.by_env.get(environment)
    }

    /// The `.sops.yaml` rules of the environments delivered by SOPS: the
    /// Secret files under `<env>/`.
    pub(crate) fn creation_rules(&self) -> Vec<capstan_sops::CreationRule> {
        self.by_env
            .iter()
            .filter_map(|(env, delivery)| match delivery.as_ref() {
                Delivery::Sops(keys) => Some(capstan_sops::CreationRule {
                    path_regex: secret_files_of(env),
                    recipients: keys.recipients.iter().map(ToString::to_string).collect(),
                }),
                Delivery::Plain | Delivery::External(_) => None,
            })
            .collect()
    }

    /// The environments delivered by SOPS, by name.
    pub(crate) fn sops_environments(&self) -> impl Iterator<Item = &str> {
        self.by_env.iter().filter(|(_, d)| matches!(d.as_ref(), Delivery::Sops(_))).map(|(e, _)| e.as_str())
    }
}

/// The `.sops.yaml` path rule for an environment's Secret files.
pub(crate) fn secret_files_of(environment: &str) -> String {
    format!("^{}/.*/secret-[^/]*\\.yaml$", regex_escape(environment))
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}
