//! The shared server, unique names, effects and their outcomes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use capstan_core::{
    Effect, EffectKind, EffectResult, Text, VaultAuth, VaultConfig, VaultMount, VaultOp, VaultPolicy,
};
use capstan_vault::VaultExecutor;
use capstan_vault::testing::Bao;

/// The connection name the effects target.
pub const CONNECTION: &str = "vault";

/// The server of the tests running now, and an executor on it.
pub struct Env {
    pub bao: Arc<Bao>,
    pub exec: VaultExecutor,
}

pub fn env() -> Env {
    let bao = Bao::shared();
    let exec = VaultExecutor::new(bao.connection(CONNECTION));
    Env { bao, exec }
}

impl Env {
    /// How summaries and errors name the server: `vault (http://127.0.0.1:port)`.
    pub fn target(&self) -> String {
        format!("{CONNECTION} ({})", self.bao.url)
    }
}

/// `prefix-N`, unique within the test binary (whose tests share a server).
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn effect(id: &str, ops: Vec<VaultOp>) -> Effect {
    Effect {
        id: id.to_string(),
        target: CONNECTION.to_string(),
        summary: format!("{} Vault ops", ops.len()),
        kind: EffectKind::Vault(ops),
    }
}

pub fn mount(path: &str, engine: &str, description: &str, max_lease_ttl: Option<&str>) -> VaultOp {
    VaultOp::EnsureMount(VaultMount {
        path: path.into(),
        engine: engine.into(),
        description: description.into(),
        max_lease_ttl: max_lease_ttl.map(Into::into),
    })
}

pub fn auth(path: &str, method: &str, description: &str) -> VaultOp {
    VaultOp::EnsureAuth(VaultAuth {
        path: path.into(),
        method: method.into(),
        description: description.into(),
    })
}

pub fn policy(name: &str, rules: &str) -> VaultOp {
    VaultOp::EnsurePolicy(VaultPolicy { name: name.into(), policy: rules.into() })
}

pub fn config(path: &str, data: serde_json::Value) -> VaultOp {
    VaultOp::EnsureConfig(VaultConfig { path: path.into(), data: Text::Plain(data.to_string()) })
}

/// `(op, subject, outcome)` of each op an effect ran.
pub fn outcomes(result: &EffectResult) -> Vec<(String, String, String)> {
    result.body["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let field = |k: &str| o[k].as_str().unwrap().to_string();
            (field("op"), field("subject"), field("outcome"))
        })
        .collect()
}

/// The outcome words of each op, in order.
pub fn words(result: &EffectResult) -> Vec<String> {
    outcomes(result).into_iter().map(|(_, _, o)| o).collect()
}

/// The changes of op `i`.
pub fn changes(result: &EffectResult, i: usize) -> Vec<String> {
    result.body["ops"][i]["changes"]
        .as_array()
        .map(|c| c.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

pub fn row(op: &str, subject: &str, outcome: &str) -> (String, String, String) {
    (op.to_string(), subject.to_string(), outcome.to_string())
}

/// Applies `e` again and asserts every op is unchanged and `check` finds
/// nothing.
pub fn assert_settled(env: &Env, e: &Effect) {
    let again = env.exec.apply(e).unwrap();
    assert!(words(&again).iter().all(|w| w == "unchanged"), "{}", again.body);
    assert_eq!(again.body["changed"], false);
    assert_eq!(env.exec.check(e).unwrap(), Vec::<String>::new());
}
