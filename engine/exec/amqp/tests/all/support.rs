//! The local broker, unique names, plans from the real plugin, and cleanup.

use capstan_amqp::{AmqpConnection, AmqpExecutor};
use capstan_core::{AmqpOp, ComponentPlan, Effect, EffectKind, EffectResult, Sensitive};
use capstan_plugin_messaging_rabbitmq::MessagingRabbitmq;
use capstan_sdk::testkit::{PlanCall, merge};
use serde_json::{Value, json};

pub const MANAGEMENT: &str = "http://127.0.0.1:15672";
/// The connection name the plugin's effects target by default.
pub const CONNECTION: &str = "rabbitmq";

pub fn suffix() -> String {
    let mut b = [0u8; 5];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn connection(user: &str, password: &str) -> AmqpConnection {
    AmqpConnection::new(
        CONNECTION,
        &Sensitive::new(MANAGEMENT),
        Some(Sensitive::new(user)),
        Some(Sensitive::new(password)),
    )
    .unwrap()
}

/// The driver with the broker's admin.
pub fn admin() -> AmqpExecutor {
    AmqpExecutor::new(connection("guest", "guest")).unwrap()
}

/// The plan of a `capstan/messaging-rabbitmq` component in external mode on
/// the local broker, with `patch` merged over the inputs (the users'
/// passwords are marked sensitive, as the engine marks secrets).
pub fn plan(component: &str, patch: Value) -> ComponentPlan {
    let mut inputs = json!({ "mode": "external", "host": "127.0.0.1", "connection": CONNECTION });
    merge(&mut inputs, patch);
    let mut call = PlanCall::new(inputs.clone()).component("test", "messaging", component);
    for user in inputs["users"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()
    {
        call = call.sensitive(&format!("/users/{user}/password"));
    }
    call.run::<MessagingRabbitmq>().unwrap()
}

pub fn effect<'p>(plan: &'p ComponentPlan, id: &str) -> &'p Effect {
    plan.effects.iter().find(|e| e.id == id).unwrap_or_else(|| panic!("no effect {id}"))
}

pub fn ops(effect: &Effect) -> &[AmqpOp] {
    match &effect.kind {
        EffectKind::Amqp(ops) => ops,
        other => panic!("effect {} is not AMQP: {other:?}", effect.id),
    }
}

/// `(op, outcome)` of each op an effect ran.
pub fn outcomes(result: &EffectResult) -> Vec<(String, String)> {
    result.body["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["op"].as_str().unwrap().to_string(), o["outcome"].as_str().unwrap().to_string()))
        .collect()
}

/// Applies every effect of a plan, in order.
pub async fn apply_all(exec: &AmqpExecutor, plan: &ComponentPlan) -> Vec<EffectResult> {
    let mut out = Vec::new();
    for e in &plan.effects {
        out.push(exec.apply(e).await.unwrap_or_else(|err| panic!("effect {}: {err}", e.id)));
    }
    out
}

/// A management API call as the admin, for set-up and inspection: `(status, body)`.
pub async fn management(method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{MANAGEMENT}/api/{path}"))
        .basic_auth("guest", Some("guest"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// An AMQP connection to `vhost` as `user`.
pub async fn amqp(user: &str, password: &str, vhost: &str) -> Result<lapin::Connection, lapin::Error> {
    let uri = format!("amqp://{user}:{password}@127.0.0.1:5672/{}", vhost.replace('/', "%2F"));
    lapin::Connection::connect(&uri, lapin::ConnectionProperties::default()).await
}

/// One test's names, suffixed so that runs never collide: the component
/// `<prefix><suffix>`, its vhost `capstan-test-<suffix>` and its `api` user
/// `<component>-api`, removed when the test ends, pass or fail.
pub struct Scratch {
    pub suffix: String,
    pub component: String,
    pub vhost: String,
    pub user: String,
    _cleanup: Cleanup,
}

pub fn scratch(prefix: &str) -> Scratch {
    let suffix = suffix();
    let component = format!("{prefix}{suffix}");
    let vhost = format!("capstan-test-{suffix}");
    let user = format!("{component}-api");
    let _cleanup = Cleanup { vhosts: vec![vhost.clone()], users: vec![user.clone()] };
    Scratch { suffix, component, vhost, user, _cleanup }
}

/// Deletes the vhosts and users a test created; runs even after a failed
/// assertion, through Drop.
pub struct Cleanup {
    pub vhosts: Vec<String>,
    pub users: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let paths: Vec<String> = self
            .vhosts
            .iter()
            .map(|v| format!("vhosts/{}", v.replace('/', "%2F")))
            .chain(self.users.iter().map(|u| format!("users/{u}")))
            .collect();
        // Drop runs inside the test's runtime: clean up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                for path in paths {
                    let (status, body) = management(reqwest::Method::DELETE, &path, None).await;
                    if status != 204 && status != 404 {
                        eprintln!("cleanup DELETE {path}: HTTP {status} {body}");
                    }
                }
            });
        })
        .join();
    }
}
