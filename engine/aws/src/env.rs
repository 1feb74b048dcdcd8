//! Where AWS settings are read from: an environment snapshot the caller
//! hands over, never the process environment directly (the CLI takes one
//! snapshot; tests build their own and never mutate shared process state).

use std::collections::BTreeMap;

/// A read-only view of environment variables.
pub trait EnvVars {
    /// The variable's value; an empty value counts as unset, as the AWS
    /// tools do.
    fn var(&self, name: &str) -> Option<&str>;
}

impl EnvVars for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}
