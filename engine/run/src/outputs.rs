//! Where each environment's rendered files go and how its Secrets are
//! delivered, from its `target "render"` block (over client.hcl's), with
//! `--out-dir` overriding for one run.
//!
//! Secrets go by SOPS to the environment's age recipients — those its block
//! names, else those of the secrets files under its directory — which is
//! also the default when it has recipients and names no mode. `plain` is
//! used only when named, and refused when the output directory sits in a Git
//! work tree that does not ignore it. An environment with neither renders
//! no Secret (the render target says which component wanted one).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::Arc;

use capstan_config::{Environment, SecretsDelivery, Stack, StoreBackend};
use capstan_core::Sensitive;
use capstan_render::{Delivery, ExternalStore, SecretStore, SopsKeys};

use crate::RunError;
use crate::events::{Events, Notice};
use crate::setup::Surroundings;

/// The default output directory, at the stack root.
const DEFAULT_OUT_DIR: &str = "rendered";

/// Where environments render when neither a flag nor a block says.
pub(crate) fn default_out_dir(stack: &Stack) -> PathBuf {
    stack.root.join(DEFAULT_OUT_DIR)
}

/// One environment's render output.
pub(crate) struct EnvOutput {
    pub out_dir: PathBuf,
    pub delivery: Option<Delivery>,
}

/// What a run asks of the render output beyond the environments' blocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputFlags<'a> {
    /// `--out-dir`: every environment's directory, for this run.
    pub out_dir: Option<&'a Path>,
    /// `--secrets`: every environment's delivery, for this run.
    pub secrets: Option<SecretsDelivery>,
    /// The output is a stream applied straight to a cluster, never a
    /// directory Git could pick up, so `plain` needs no Git check.
    pub stream: bool,
}

/// The output of every environment in `stack`, by name.
pub(crate) fn environment_outputs(
    stack: &Stack,
    flags: OutputFlags<'_>,
    surroundings: &Surroundings,
    events: &dyn Events,
) -> Result<BTreeMap<String, EnvOutput>, RunError> {
    let out_dir_flag = flags.out_dir;
    let mut identities: Option<Vec<age::x25519::Identity>> = None;
    let mut out = BTreeMap::new();
    for (name, env) in &stack.environments {
        let settings = &env.target.render;
        let configured = settings.out_dir.as_ref().map(|s| stack.root.join(&s.value));
        let out_dir = match (out_dir_flag, configured) {
            (Some(flag), Some(configured)) => {
                if std::path::absolute(flag).ok().as_deref() != Some(configured.as_path()) {
                    events.notice(&Notice::TargetOverridden {
                        environment: name.clone(),
                        what: "out_dir",
                        configured: configured.display().to_string(),
                        given: flag.display().to_string(),
                    });
                }
                flag.to_path_buf()
            }
            (Some(flag), None) => flag.to_path_buf(),
            (None, Some(configured)) => configured,
            (None, None) => default_out_dir(stack),
        };
        let recipients = recipients(stack, name, env)?;
        let configured = settings.secrets.as_ref().map(|s| s.value);
        if let (Some(flag), Some(configured)) = (flags.secrets, configured)
            && flag != configured
        {
            events.notice(&Notice::TargetOverridden {
                environment: name.clone(),
                what: "secrets",
                configured: configured.word().to_owned(),
                given: flag.word().to_owned(),
            });
        }
        let delivery = match (flags.secrets.or(configured), recipients.is_empty()) {
            (Some(SecretsDelivery::Plain), _) => {
                if !flags.stream {
                    refuse_plain_in_git(name, env, &out_dir)?;
                }
                Some(Delivery::Plain)
            }
            (Some(SecretsDelivery::ExternalSecrets), _) => Some(external_store(name, env, surroundings)?),
            (Some(SecretsDelivery::Sops), true) => {
                return Err(RunError::NoRecipients { environment: name.clone(), at: declared_at(env) });
            }
            (Some(SecretsDelivery::Sops) | None, false) => {
                let identities = match &identities {
                    Some(loaded) => loaded.clone(),
                    None => identities.insert(operator_identities(surroundings)?).clone(),
                };
                Some(Delivery::Sops(SopsKeys { recipients, identities }))
            }
            (None, true) => None,
        };
        out.insert(name.clone(), EnvOutput { out_dir, delivery });
    }
    Ok(out)
}

/// `external-secrets` delivery to the store the environment's block names.
fn external_store(name: &str, env: &Environment, surroundings: &Surroundings) -> Result<Delivery, RunError> {
    let Some(settings) = &env.target.render.external_secrets else {
        return Err(RunError::NoStore { environment: name.to_owned(), at: declared_at(env) });
    };
    let settings = &settings.value;
    let env_vars = surroundings.env();
    let store = match &settings.backend {
        StoreBackend::Vault { mount } => capstan_secrets::Store::Vault(
            capstan_secrets::VaultStore::connect(&env_vars, mount).map_err(RunError::Secrets)?,
        ),
        StoreBackend::AwsSecretsManager => capstan_secrets::Store::AwsSecretsManager(
            capstan_secrets::AwsSecretsManagerStore::connect(&env_vars).map_err(RunError::Secrets)?,
        ),
    };
    let store: Arc<dyn SecretStore> = Arc::new(Store(store));
    Ok(Delivery::External(ExternalStore {
        store,
        store_kind: settings.store_kind.clone(),
        store_name: settings.store.clone(),
        prefix: settings.prefix.clone(),
        refresh: settings.refresh.clone(),
    }))
}

/// Vault/OpenBao or AWS Secrets Manager as the render target's store.
struct Store(capstan_secrets::Store);

impl SecretStore for Store {
    fn read(&self, key: &str) -> Result<Option<BTreeMap<String, Sensitive>>, String> {
        self.0.read(key).map_err(|e| crate::chain(&e))
    }

    fn write(&self, key: &str, values: &BTreeMap<String, Sensitive>) -> Result<(), String> {
        self.0.write(key, values).map_err(|e| crate::chain(&e))
    }
}

/// The environment's age recipients: its block's, else every secrets
/// file's under its directory.
fn recipients(stack: &Stack, name: &str, env: &Environment) -> Result<Vec<age::x25519::Recipient>, RunError> {
    let texts: Vec<String> = match &env.target.render.recipients {
        Some(listed) => listed.value.clone(),
        None => {
            let files =
                capstan_secrets::find_secret_files(&stack.root.join(&env.dir)).map_err(RunError::Secrets)?;
            let mut all = Vec::new();
            for file in files {
                let bytes = std::fs::read(&file)
                    .map_err(|source| RunError::ReadFile { path: file.clone(), source })?;
                all.extend(capstan_secrets::recipients_of(&file, &bytes).map_err(RunError::Secrets)?);
            }
            all.sort();
            all.dedup();
            all
        }
    };
    texts
        .iter()
        .map(|text| {
            capstan_secrets::parse_recipient(text)
                .map_err(|source| RunError::Recipient { environment: name.to_owned(), source })
        })
        .collect()
}

/// The operator's age identities, which open Secrets already rendered; none
/// when the operator has no key file (a first render needs none).
fn operator_identities(surroundings: &Surroundings) -> Result<Vec<age::x25519::Identity>, RunError> {
    let env = surroundings.env();
    let Ok(path) = capstan_secrets::identity_path(&env) else { return Ok(Vec::new()) };
    match capstan_secrets::Identities::load(&path) {
        Ok(identities) => Ok(identities.keys().to_vec()),
        Err(capstan_secrets::SecretsError::IdentityMissing { .. }) => Ok(Vec::new()),
        Err(e) => Err(RunError::Secrets(e)),
    }
}

fn declared_at(env: &Environment) -> String {
    let at = env.target.render.secrets.as_ref().map(|s| &s.at);
    at.map_or_else(
        || env.dir.join("env.hcl").display().to_string(),
        |at| format!("{}:{}:{}", at.file.display(), at.line, at.col),
    )
}

/// Refuses clear Secrets in a directory a `git add` would pick up.
fn refuse_plain_in_git(name: &str, env: &Environment, out_dir: &Path) -> Result<(), RunError> {
    let out_dir = std::path::absolute(out_dir)?;
    // The nearest directory that exists: git needs one to start from.
    let Some(start) = out_dir.ancestors().find(|d| d.is_dir()) else { return Ok(()) };
    if !start.ancestors().any(|d| d.join(".git").exists()) {
        return Ok(());
    }
    // A file where this environment's Secrets go: `rendered/` and
    // `rendered/staging/` patterns both cover it.
    let probe = out_dir.join(name).join("secret-probe.yaml");
    let refuse = |why: String| RunError::PlainSecretsInGit {
        environment: name.to_owned(),
        out_dir: out_dir.clone(),
        at: declared_at(env),
        why,
    };
    let status = Command::new("git")
        .arg("-C")
        .arg(start)
        .args(["check-ignore", "-q", "--"])
        .arg(&probe)
        .status()
        .map_err(|e| {
            refuse(format!(
                "it is inside a Git work tree and git could not be run to tell whether it is ignored ({e})"
            ))
        })?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(refuse("it is inside a Git work tree that does not ignore it".to_owned())),
        _ => Err(refuse("it is inside a Git work tree and `git check-ignore` failed".to_owned())),
    }
}
