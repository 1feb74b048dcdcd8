//! Building a plugin's [`Metadata`].

use capstan_core::{Capability, Metadata, PolicyRule};

/// Builds [`Metadata`] step by step:
///
/// ```
/// use capstan_sdk::prelude::*;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Inputs { image: String }
///
/// let m = MetadataBuilder::new("acme/app", "1.2.0")
///     .component_type("app")
///     .backend("kubernetes")
///     .description("Runs a container image.")
///     .input_schema_for::<Inputs>()
///     .defaults_yaml("image: nginx\n")
///     .build();
/// assert_eq!(m.version.to_string(), "1.2.0");
/// assert_eq!(m.input_schema["required"][0], "image");
/// ```
///
/// A [policy](crate::Policy) starts from [`MetadataBuilder::policy`] and
/// lists its [rules](MetadataBuilder::rule); its params' schema and defaults
/// are [`input_schema_for`](MetadataBuilder::input_schema_for) and
/// [`defaults_yaml`](MetadataBuilder::defaults_yaml), as a plugin's inputs are.
#[derive(Clone, Debug)]
#[must_use]
pub struct MetadataBuilder {
    name: String,
    version: String,
    component_type: String,
    backend: String,
    description: String,
    input_schema: serde_json::Value,
    defaults: String,
    capabilities: Vec<Capability>,
    outputs_contract: Option<capstan_core::OutputsContract>,
    rules: Vec<PolicyRule>,
}

impl MetadataBuilder {
    /// `version` is the plugin's semver version; pass
    /// `env!("CARGO_PKG_VERSION")`, which cargo guarantees is valid.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            component_type: String::new(),
            backend: String::new(),
            description: String::new(),
            // Accepts any object until the author says more.
            input_schema: serde_json::json!({ "type": "object" }),
            defaults: String::new(),
            capabilities: Vec::new(),
            outputs_contract: None,
            rules: Vec::new(),
        }
    }

    /// A policy plugin: its component type is
    /// [`POLICY_TYPE`](capstan_core::POLICY_TYPE) and it has no backend.
    ///
    /// ```
    /// use capstan_sdk::prelude::*;
    ///
    /// let m = MetadataBuilder::policy("acme/no-latest", "0.1.0")
    ///     .description("Images are pinned.")
    ///     .rule("no-latest-tag", "Every image has a tag other than `latest`.")
    ///     .build();
    /// assert!(m.is_policy());
    /// assert_eq!(m.rules[0].id, "no-latest-tag");
    /// ```
    pub fn policy(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self::new(name, version).component_type(capstan_core::POLICY_TYPE)
    }

    /// A rule the policy checks: `id` stable and kebab-case (what its
    /// violations name), `description` one line for `capstan plugin inspect`.
    pub fn rule(mut self, id: impl Into<String>, description: impl Into<String>) -> Self {
        self.rules.push(PolicyRule { id: id.into(), description: description.into() });
        self
    }

    /// The component type whose outputs contract the plugin implements
    /// (`postgres`, `messaging`, `app`, …; see [`crate::contracts`]).
    pub fn component_type(mut self, component_type: impl Into<String>) -> Self {
        self.component_type = component_type.into();
        self
    }

    /// The backend within the type, such as `rabbitmq` or `kubernetes`.
    pub fn backend(mut self, backend: impl Into<String>) -> Self {
        self.backend = backend.into();
        self
    }

    /// One paragraph for `capstan plugin inspect`.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// A hand-written JSON Schema (draft 2020-12) of the merged inputs.
    pub fn input_schema(mut self, schema: serde_json::Value) -> Self {
        self.input_schema = schema;
        self
    }

    /// The JSON Schema derived from the plugin's input type, so the schema
    /// and the type that deserialises the inputs cannot drift apart. Doc
    /// comments become descriptions; `#[serde(...)]` attributes are honoured.
    pub fn input_schema_for<T: schemars::JsonSchema>(self) -> Self {
        let mut schema = schemars::schema_for!(T).to_value();
        words_as_enums(&mut schema);
        self.input_schema(schema)
    }

    /// The default values as YAML: what the operator's `values_custom` is
    /// merged over. Usually `include_str!("defaults.yaml")`, commented, since
    /// operators read it to learn the knobs. The test kit checks it against
    /// the schema (see [`crate::testkit::check_metadata`]).
    pub fn defaults_yaml(mut self, yaml: impl Into<String>) -> Self {
        self.defaults = yaml.into();
        self
    }

    /// A capability the plugin asks for; the operator must grant it.
    pub fn capability(mut self, capability: Capability) -> Self {
        self.capabilities.push(capability);
        self
    }

    /// The outputs contract of a component type Capstan does not ship,
    /// version `version`: the engine checks every plan's outputs against it,
    /// and the conformance kit does too. Leave it out for the shipped types,
    /// whose contract is the engine's (`docs/contracts/README.md`).
    pub fn outputs_contract(mut self, version: u32, schema: serde_json::Value) -> Self {
        self.outputs_contract = Some(capstan_core::OutputsContract { version, schema, kit: None });
        self
    }

    /// The conformance kit of the type whose [`Self::outputs_contract`] the
    /// plugin publishes, as the kits Capstan ships are written
    /// (`wit/contracts/kits/`): `capstan plugin test` runs its cases and bad
    /// inputs instead of the generic checks, over this plugin and over every
    /// other backend of the type that publishes the same kit.
    ///
    /// # Panics
    /// When no outputs contract was given first: a kit checks a contract.
    pub fn kit(mut self, kit: serde_json::Value) -> Self {
        match &mut self.outputs_contract {
            Some(contract) => contract.kit = Some(kit),
            None => panic!("plugin `{}`: kit() needs outputs_contract() first", self.name),
        }
        self
    }

    /// [`Self::outputs_contract`] derived from the type the plugin's outputs
    /// are written from, so contract and code cannot drift apart.
    pub fn outputs_contract_for<T: schemars::JsonSchema>(self, version: u32) -> Self {
        let schema = schemars::schema_for!(T);
        self.outputs_contract(version, schema.to_value())
    }

    /// # Panics
    /// If the version is not semver. With `env!("CARGO_PKG_VERSION")` it
    /// cannot happen (cargo rejects such a manifest); with a literal, the
    /// first unit test of the plugin shows it.
    pub fn build(self) -> Metadata {
        let version = match semver::Version::parse(&self.version) {
            Ok(v) => v,
            Err(e) => {
                panic!("plugin `{}` declares version `{}`, which is not semver: {e}", self.name, self.version)
            }
        };
        Metadata {
            name: self.name,
            version,
            component_type: self.component_type,
            backend: self.backend,
            description: self.description,
            input_schema: self.input_schema,
            defaults: self.defaults,
            capabilities: self.capabilities,
            outputs_contract: self.outputs_contract,
            rules: self.rules,
        }
    }
}

/// A choice among words (a Rust enum of unit variants) as `enum`, however
/// its variants are documented. schemars writes a documented variant as a
/// `oneOf` branch of its own, and a bad value is then refused as "not valid
/// under any of the schemas listed in the 'oneOf' keyword" instead of "not
/// one of …", which names the choices. The variants' docs move into the
/// description.
fn words_as_enums(schema: &mut serde_json::Value) {
    use serde_json::Value;
    match schema {
        Value::Object(map) => {
            let words: Option<Vec<(Value, Option<String>)>> =
                map.get("oneOf").and_then(Value::as_array).filter(|b| !b.is_empty()).and_then(|branches| {
                    branches
                        .iter()
                        .map(|b| {
                            let b = b.as_object()?;
                            let only_word =
                                b.keys().all(|k| matches!(k.as_str(), "const" | "type" | "description"));
                            let word = b.get("const").filter(|w| w.is_string())?;
                            only_word.then(|| {
                                (
                                    word.clone(),
                                    b.get("description").and_then(Value::as_str).map(str::to_owned),
                                )
                            })
                        })
                        .collect()
                });
            if let Some(words) = words {
                map.remove("oneOf");
                let notes: Vec<String> = words
                    .iter()
                    .filter_map(|(w, doc)| Some(format!("`{}`: {}", w.as_str()?, doc.as_deref()?)))
                    .collect();
                if !notes.is_empty() {
                    let description = map.get("description").and_then(Value::as_str).unwrap_or_default();
                    let joined = notes.join("\n");
                    let text =
                        if description.is_empty() { joined } else { format!("{description}\n{joined}") };
                    map.insert("description".to_owned(), Value::String(text));
                }
                map.insert("type".to_owned(), Value::String("string".to_owned()));
                map.insert("enum".to_owned(), Value::Array(words.into_iter().map(|(w, _)| w).collect()));
            }
            map.values_mut().for_each(words_as_enums);
        }
        Value::Array(items) => items.iter_mut().for_each(words_as_enums),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How the database is reached.
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[serde(rename_all = "kebab-case")]
    enum Mode {
        /// Without TLS.
        Disable,
        /// TLS, and the server's name checked.
        VerifyFull,
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[expect(dead_code, reason = "only its schema is read")]
    struct Inputs {
        mode: Mode,
    }

    #[test]
    fn a_choice_of_documented_words_is_an_enum_that_names_them() {
        let metadata = MetadataBuilder::new("acme/db", "1.0.0").input_schema_for::<Inputs>().build();
        let text = metadata.input_schema.to_string();
        assert!(!text.contains("oneOf"), "{text}");
        let mode = &metadata.input_schema["$defs"]["Mode"];
        assert_eq!(mode["enum"], serde_json::json!(["disable", "verify-full"]), "{text}");
        let description = mode["description"].as_str().unwrap_or_default();
        assert!(description.starts_with("How the database is reached."), "{description}");
        assert!(description.contains("`verify-full`: TLS, and the server's name checked."), "{description}");
    }
}
