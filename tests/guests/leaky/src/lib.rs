//! Hostile: leaks its sensitive input `password` through the channel its
//! input `leak` names, and otherwise keeps it where it may be (a Secret's
//! `stringData`, a sensitive output, and for the effect channels a
//! sensitive statement beside the leaking field).
//!
//! Channels: `validate-diagnostic`, `plan-diagnostic`, `plan-warning` (a
//! warning of a plan that otherwise succeeds), `error`, `panic`,
//! `log`, `stdout`, `stderr`, `summary` (an effect's summary),
//! `plain-sql` (an effect field not marked sensitive), `output` (an output
//! not marked sensitive), `configmap`, `secret-metadata` (a Secret's
//! annotation), `base64` (`user:<password>` base64-encoded in a ConfigMap),
//! `url` (percent-encoded in a connection URL), `health` (logs the data of
//! a live Secret it is asked about). Anything else (`none`) leaks nothing.
use guest_common::*;
use serde_json::{Value, json};

struct Leaky;

fn password(inputs: &Value) -> String {
    inputs["password"].as_str().unwrap_or_default().to_owned()
}

fn channel(inputs: &Value) -> String {
    inputs["leak"].as_str().unwrap_or("none").to_owned()
}

/// Standard base64 with padding: the guest has no dependency for it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Percent-encoding of every byte but RFC 3986's unreserved ones.
fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn config_map(name: &str, value: &str) -> String {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"value": value}})
        .to_string()
}

impl Guest for Leaky {
    fn describe() -> Metadata {
        let mut m = metadata("leaky");
        m.capabilities = vec![Capability::Sql("db".to_owned())];
        m
    }

    fn validate(inputs: String) -> Vec<Diagnostic> {
        let inputs: Value = serde_json::from_str(&inputs).unwrap_or_default();
        if channel(&inputs) != "validate-diagnostic" {
            return Vec::new();
        }
        vec![Diagnostic {
            path: "/password".to_owned(),
            severity: Severity::Error,
            message: format!("`{}` is not strong enough", password(&inputs)),
        }]
    }

    fn plan(req: PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs = inputs(&req);
        let secret = password(&inputs);
        let mut objects = vec![
            config_map("settings", "nothing secret"),
            json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "credentials"},
                "stringData": {"password": secret},
            })
            .to_string(),
        ];
        let mut summary = "ensure role app".to_owned();
        let mut statement =
            Text::Sensitive(Sensitive { value: format!("ALTER ROLE app PASSWORD '{secret}'") });
        let mut outputs =
            vec![Output { name: "password".into(), value: json!(secret).to_string(), sensitive: true }];
        let mut warnings = vec![];
        match channel(&inputs).as_str() {
            "plan-diagnostic" => {
                return Err(PlanError::InvalidInputs(vec![Diagnostic {
                    path: "/password".to_owned(),
                    severity: Severity::Error,
                    message: format!("rejected {secret}"),
                }]));
            }
            "plan-warning" => warnings.push(Diagnostic {
                path: "/password".to_owned(),
                severity: Severity::Warning,
                message: format!("weak: {secret}"),
            }),
            "error" => return Err(PlanError::Failed(format!("could not log in as app/{secret}"))),
            "panic" => panic!("lost the password {secret}"),
            "log" => log(Level::Info, &format!("planning with password {secret}")),
            "stdout" => println!("password is\n{secret}"),
            "stderr" => eprintln!("password: {secret}"),
            "summary" => summary = format!("ensure role app with password {secret}"),
            "plain-sql" => statement = Text::Plain(format!("ALTER ROLE app PASSWORD '{secret}'")),
            "output" => outputs.push(Output {
                name: "dsn".into(),
                value: json!(format!("app:{secret}@db")).to_string(),
                sensitive: false,
            }),
            "configmap" => objects.push(config_map("leak", &format!("password={secret}"))),
            "secret-metadata" => objects.push(
                json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "annotated", "annotations": {"hint": secret}},
                    "stringData": {"password": "x"},
                })
                .to_string(),
            ),
            "base64" => objects.push(config_map("leak", &base64(format!("app:{secret}").as_bytes()))),
            "url" => {
                objects.push(config_map("leak", &format!("postgres://app:{}@db/app", url_encoded(&secret))))
            }
            _ => {}
        }
        // Only the effect channels declare the effect: a clean plan applies
        // with no database to run it on.
        let leaks_an_effect = matches!(channel(&inputs).as_str(), "summary" | "plain-sql");
        let effects = if leaks_an_effect {
            vec![Effect {
                id: "role".to_owned(),
                target: "db".to_owned(),
                summary,
                kind: EffectKind::Sql(vec![SqlOp::Statement(SqlStatement {
                    database: None,
                    sql: statement,
                })]),
            }]
        } else {
            Vec::new()
        };
        Ok(ComponentPlan { objects, effects, outputs, warnings })
    }

    fn health(object: String) -> HealthStatus {
        let object: Value = serde_json::from_str(&object).unwrap_or_default();
        if object["kind"] == "Secret" {
            log(Level::Info, &format!("checking {}", object["data"]));
        }
        HealthStatus::Ready
    }
}

guest_common::export!(Leaky with_types_in guest_common);
