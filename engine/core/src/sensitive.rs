//! Values that must never be shown.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What is shown in place of a sensitive value, everywhere.
pub const REDACTED: &str = "(sensitive)";

/// A string that must never reach logs, plans, errors or state.
///
/// `Debug` and `Display` print [`REDACTED`]; the only way to the clear value
/// is [`Sensitive::expose`], so every place that needs it is easy to find.
/// It serialises in clear because it must cross the sandbox boundary and reach
/// executors; anything that writes state or output hashes or redacts first.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Sensitive {
    /// Wraps a clear value; from here on it formats as [`REDACTED`].
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear value. Call only where it is sent to the place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// A sensitive input is a string in a plugin's input schema, exactly as a
/// `String` would be (always inline, so `Option<Sensitive>` is a string or
/// null): the schema says nothing of where the value comes from, and a plugin
/// input type holds a `Sensitive` without a `#[schemars(with = "String")]`.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Sensitive {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <String as schemars::JsonSchema>::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        <String as schemars::JsonSchema>::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <String as schemars::JsonSchema>::json_schema(generator)
    }
}

/// Text that is either safe to show or sensitive.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Text {
    /// Safe to show in plans and logs.
    Plain(String),
    /// Shown as [`REDACTED`]; in clear only to the executor that needs it.
    Sensitive(Sensitive),
}

impl Text {
    /// The clear value, for executors.
    pub fn expose(&self) -> &str {
        match self {
            Text::Plain(s) => s,
            Text::Sensitive(s) => s.expose(),
        }
    }
}

/// Shows plain text as it is and sensitive text as [`REDACTED`].
impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Text::Plain(s) => f.write_str(s),
            Text::Sensitive(_) => f.write_str(REDACTED),
        }
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Text::Plain(s) => write!(f, "Plain({s:?})"),
            Text::Sensitive(_) => write!(f, "Sensitive({REDACTED})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_values_never_format_in_clear() {
        let s = Sensitive::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "(sensitive) (sensitive)");
        let t = Text::Sensitive(s);
        assert_eq!(format!("{t} {t:?}"), "(sensitive) Sensitive((sensitive))");
        assert_eq!(t.expose(), "hunter2");
    }

    #[cfg(feature = "schemars")]
    #[test]
    fn a_sensitive_input_has_the_schema_of_a_string() {
        assert_eq!(schemars::schema_for!(Sensitive), schemars::schema_for!(String));
        assert_eq!(schemars::schema_for!(Option<Sensitive>), schemars::schema_for!(Option<String>));
    }
}
