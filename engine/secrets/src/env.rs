//! A snapshot of environment variables, passed explicitly.
//!
//! Functions here never read the process environment themselves: the CLI
//! takes one snapshot ([`Env::from_process`]) and tests build their own
//! ([`Env::from_pairs`]), so tests never mutate shared process state.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use capstan_core::Sensitive;

/// Environment variables by name. `Default` is an empty environment.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The current process environment (non-UTF-8 variables are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment holding exactly these variables (tests, or a snapshot taken elsewhere).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// A copy with one variable set.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// The variable's value; empty values count as unset, as the AWS tools do.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// `$HOME` as a path, if set and not empty.
    pub fn home(&self) -> Option<PathBuf> {
        self.get("HOME").map(PathBuf::from)
    }

    /// The operator's Vault token: `VAULT_TOKEN`, else `~/.vault-token`,
    /// where `vault login` and `bao login` keep it.
    pub fn vault_token(&self) -> Option<Sensitive> {
        match self.get("VAULT_TOKEN") {
            Some(token) => Some(Sensitive::new(token)),
            None => {
                let file = self.home()?.join(".vault-token");
                std::fs::read_to_string(file).ok().map(|t| Sensitive::new(t.trim()))
            }
        }
    }
}

/// Lists variable names only: the environment holds credentials.
impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}
