//! The outputs contracts hold on the real servers: a stack is applied through
//! the binary, each app's environment is read from the Deployment the app
//! plugin rendered (Secret references resolved from the rendered Secrets, as
//! the kubelet resolves them), and each app then uses the server with what it
//! was given, as its own code or its Dapr sidecar would.
//!
//! RabbitMQ (external mode, provisioned by the engine's AMQP effects on the
//! broker at 127.0.0.1:5672, on a vhost of the test's own): each app
//! publishes and consumes on its own queues through the exchange the
//! contract names, and the broker refuses it another app's queues. Beside
//! the apps, the `capstan/dapr` component renders each app's Dapr
//! `pubsub.rabbitmq` Component; connecting as that Component tells a
//! sidecar to (the URI its `connectionString` reads from the rendered
//! Secret, its `consumerID`), each app builds the topology Dapr declares for
//! it (an exchange per topic, a queue `<consumerID>-<topic>` with its
//! dead-letter pair), and the broker refuses it another app's topics and
//! consumer prefix.
//!
//! PostgreSQL (the external backend, provisioned by the engine's SQL effects
//! on the server at 127.0.0.1:5432): each app connects with `psql` (libpq)
//! to the `DATABASE_URL` it was given, over TLS as the contract's `sslmode`
//! says, and reaches its own database as its own role; another app's
//! database refuses it. That server trusts every login on loopback, so the
//! password an app got is compared with its role's stored SCRAM verifier
//! (the SQL executor's own tests log in with passwords on a private server).
//!
//! NATS JetStream (the `capstan/messaging-nats` backend in external mode,
//! provisioned by the engine's JetStream effects on the server at
//! 127.0.0.1:4222): each app publishes on its own subject, which its stream
//! keeps, and pulls the message back through the durable consumer named in
//! its environment; no app has a consumer on another app's stream. That
//! server runs without authentication, so the credentials an app is given
//! are sent but not checked there.
//!
//! Each test creates its own vhost, users, roles, databases and streams, and
//! deletes them at the end.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::{AMQPUri, AMQPUserInfo};
use lapin::{BasicProperties, Channel, Confirmation, ExchangeKind};
use serde_json::Value;

use crate::support::rabbitmq::{BrokerCleanup, connection_block, create_admin};
use crate::support::{PG_ADMIN, PgCleanup, Stack, psql_as, unique, walk};

/// The apps `billing` and `shipping` in `envs/dev/shop`, each depending on
/// the component in `envs/dev/shop/<dependency>`.
fn write_apps(s: &Stack, dependency: &str) {
    for app in ["billing", "shipping"] {
        s.write(
            &format!("envs/dev/shop/{app}/component.hcl"),
            &format!(
                r#"component {{
  type    = "app"
  plugin  = "capstan/app"
  version = "^0.1"
}}
dependency "{dependency}" {{
  config_path = "../{dependency}"
}}
inputs = {{
  image = "registry.example/{app}:1.0.0"
  port  = 8080
}}
"#
            ),
        );
    }
}

/// Applies environment `dev` through the binary: `connection` in its env.hcl
/// (Secrets rendered in clear, for the test to read as the kubelet would),
/// the environment's `secrets` set, the server component `(dir, hcl)` in
/// namespace `shop` with `server_secrets` as its sensitive inputs, the apps
/// `billing` and `shipping` depending on it, and the components `more`
/// (`(dir, hcl)`) beside them. Gives every rendered object.
fn apply_shop(
    connection: &str,
    secrets: &[(&str, &str, String)],
    (server, server_hcl): (&str, &str),
    server_secrets: &str,
    more: &[(&str, &str)],
) -> Vec<Value> {
    let s = Stack::new("");
    s.write("envs/dev/env.hcl", &format!("{connection}target \"render\" {{\n  secrets = \"plain\"\n}}\n"));
    s.write("envs/dev/shop/namespace.hcl", "namespace = \"shop\"\n");
    s.write(&format!("envs/dev/shop/{server}/component.hcl"), server_hcl);
    write_apps(&s, server);
    for (dir, hcl) in more {
        s.write(&format!("envs/dev/shop/{dir}/component.hcl"), hcl);
    }
    s.run(&["secrets", "keygen"]).ok();
    for (file, key, value) in secrets {
        s.run_with_stdin(&["secrets", "set", file, key], value).ok();
    }
    let file = format!("envs/dev/shop/{server}/secrets.enc.hcl");
    s.run_with_stdin(&["secrets", "set", &file, "values_sensitive_custom"], server_secrets).ok();
    s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]).ok();
    rendered(&s.path("rendered/dev"))
}

/// Every rendered object of the environment, parsed.
fn rendered(dir: &Path) -> Vec<Value> {
    walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter_map(|p| serde_norway::from_str::<Value>(&std::fs::read_to_string(p).unwrap()).ok())
        .collect()
}

/// The rendered object `kind` `namespace/name`.
fn rendered_object<'a>(objects: &'a [Value], kind: &str, namespace: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| {
            o["kind"] == kind && o["metadata"]["name"] == name && o["metadata"]["namespace"] == namespace
        })
        .unwrap_or_else(|| panic!("no {kind} {namespace}/{name} was rendered"))
}

/// Key `key` of the Secret `namespace/name` rendered, as the kubelet (or
/// Dapr's Kubernetes secret store) reads it.
fn secret_value(objects: &[Value], namespace: &str, name: &str, key: &str) -> String {
    let secret = rendered_object(objects, "Secret", namespace, name);
    if let Some(v) = secret["stringData"][key].as_str() {
        return v.to_owned();
    }
    let encoded = secret["data"][key].as_str().unwrap_or_else(|| panic!("Secret {name} has no key {key}"));
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
}

/// The environment of app `app`'s container, as the kubelet builds it: plain
/// values as they are, `secretKeyRef`s read from the Secrets rendered in the
/// app's namespace, `$(VAR)` expanded from earlier variables.
fn app_env(objects: &[Value], namespace: &str, app: &str) -> BTreeMap<String, String> {
    let deployment = rendered_object(objects, "Deployment", namespace, app);
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for var in deployment["spec"]["template"]["spec"]["containers"][0]["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_owned();
        let value = match var["valueFrom"]["secretKeyRef"].as_object() {
            Some(r) => {
                secret_value(objects, namespace, r["name"].as_str().unwrap(), r["key"].as_str().unwrap())
            }
            None => {
                let mut v = var["value"].as_str().unwrap_or_default().to_owned();
                for (earlier, value) in &env {
                    v = v.replace(&format!("$({earlier})"), value.as_str());
                }
                v
            }
        };
        env.insert(name, value);
    }
    env
}

/// What a Dapr sidecar is told by app `app`'s rendered `pubsub.rabbitmq`
/// Component: the connection URI its `connectionString` reads from the
/// rendered Secret, and its `consumerID`.
fn dapr_pubsub(objects: &[Value], namespace: &str, app: &str) -> (String, String) {
    let component = rendered_object(objects, "Component", namespace, &format!("pubsub-{app}"));
    assert_eq!(component["spec"]["type"], "pubsub.rabbitmq");
    let metadata = component["spec"]["metadata"].as_array().unwrap();
    let field = |name: &str| {
        metadata.iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("no `{name}` in {metadata:?}"))
    };
    let uri_ref = &field("connectionString")["secretKeyRef"];
    let uri =
        secret_value(objects, namespace, uri_ref["name"].as_str().unwrap(), uri_ref["key"].as_str().unwrap());
    (uri, field("consumerID")["value"].as_str().unwrap().to_owned())
}

/// An AMQP session, opened with the credentials and endpoint an app or its
/// sidecar was given.
struct Amqp {
    rt: tokio::runtime::Runtime,
    conn: lapin::Connection,
}

impl Amqp {
    /// As the app: its endpoint, with its user name and password as they
    /// are (not spliced into the URI's text, where they would need encoding).
    fn connect(env: &BTreeMap<String, String>) -> Self {
        let endpoint = &env["MESSAGING_ENDPOINT"];
        assert!(endpoint.starts_with("amqp://"), "not an amqp endpoint: {endpoint}");
        let mut uri: AMQPUri = endpoint.parse().unwrap_or_else(|e| panic!("{endpoint}: {e}"));
        uri.authority.userinfo = AMQPUserInfo {
            username: env["MESSAGING_USERNAME"].clone(),
            password: env["MESSAGING_PASSWORD"].clone(),
        };
        Self::connect_to(uri, &env["MESSAGING_USERNAME"])
    }

    /// With a whole connection URI, parsed as the AMQP URI spec says (as
    /// Dapr's client parses its `connectionString`); `who` names it if the
    /// broker refuses the login (the URI holds a password: never in a message).
    fn connect_uri(uri: &str, who: &str) -> Self {
        let uri: AMQPUri = uri.parse().unwrap_or_else(|_| panic!("{who}'s URI does not parse"));
        Self::connect_to(uri, who)
    }

    fn connect_to(uri: AMQPUri, who: &str) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let conn = rt
            .block_on(lapin::Connection::connect_uri(uri, lapin::ConnectionProperties::default()))
            .unwrap_or_else(|e| panic!("{who} logs in: {e}"));
        Self { rt, conn }
    }

    /// Runs `f` on a fresh channel: a refusal closes the channel it happened on.
    fn on_channel<T>(&self, f: impl AsyncFnOnce(&Channel) -> Result<T, lapin::Error>) -> Result<T, String> {
        self.rt.block_on(async {
            let channel = self.conn.create_channel().await.map_err(|e| e.to_string())?;
            channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| e.to_string())?;
            f(&channel).await.map_err(|e| e.to_string())
        })
    }

    /// Publishes to `exchange` with `key` and reads the message back from `queue`.
    fn round_trip(&self, exchange: &str, key: &str, queue: &str) -> Result<(), String> {
        let body = format!("to {queue}");
        let got = self.on_channel(async |ch| {
            let confirm = ch
                .basic_publish(
                    exchange.into(),
                    key.into(),
                    BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                    body.as_bytes(),
                    BasicProperties::default(),
                )
                .await?
                .await?;
            assert!(
                matches!(confirm, Confirmation::Ack(None)),
                "{exchange}/{key} was not routed: {confirm:?}"
            );
            ch.basic_get(queue.into(), BasicGetOptions { no_ack: true }).await
        })?;
        match got {
            Some(m) if m.delivery.data == body.as_bytes() => Ok(()),
            Some(_) => Err(format!("another message came back from {queue}")),
            None => Err(format!("{queue} is empty")),
        }
    }

    /// What Dapr's `pubsub.rabbitmq` does for a subscription and a publish on
    /// `topic` with consumer id `consumer`: a fanout exchange named after the
    /// topic, the dead-letter exchange and queue, the queue
    /// `<consumer>-<topic>` bound to the topic's exchange; then a message
    /// published to the topic comes out of that queue.
    fn as_dapr(&self, consumer: &str, topic: &str) -> Result<(), String> {
        let queue = format!("{consumer}-{topic}");
        let (dlx, dlq) = (format!("dlx-{queue}"), format!("dlq-{queue}"));
        let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        let durable_queue = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
        self.on_channel(async |ch| {
            ch.exchange_declare(topic.into(), ExchangeKind::Fanout, durable, FieldTable::default()).await?;
            ch.exchange_declare(dlx.as_str().into(), ExchangeKind::Fanout, durable, FieldTable::default())
                .await?;
            ch.queue_declare(dlq.as_str().into(), durable_queue, FieldTable::default()).await?;
            ch.queue_bind(
                dlq.as_str().into(),
                dlx.as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
            let mut args = FieldTable::default();
            args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(dlx.as_str().into()));
            ch.queue_declare(queue.as_str().into(), durable_queue, args).await?;
            ch.queue_bind(
                queue.as_str().into(),
                topic.into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
            Ok(())
        })?;
        self.round_trip(topic, "", &queue)
    }
}

fn refused(what: &str, result: Result<(), String>) {
    match result {
        Err(e) => assert!(
            e.contains("ACCESS_REFUSED") || e.contains("403"),
            "{what}: refused for another reason: {e}"
        ),
        Ok(()) => panic!("{what}: the broker allowed it"),
    }
}

#[test]
fn rabbitmq_apps_reach_their_own_queues_and_are_refused_on_each_others() {
    let id = unique();
    let component = format!("mq{id}");
    let vhost = format!("capstan-dp-{id}");
    let admin = format!("capstan-dp-admin-{id}");
    let _cleanup = BrokerCleanup {
        vhost: vhost.clone(),
        users: vec![admin.clone(), format!("{component}-billing"), format!("{component}-shipping")],
    };
    let admin_password = format!("admin-{id}");
    create_admin(&admin, &admin_password);

    let server = format!(
        r#"component {{
  type    = "messaging"
  plugin  = "capstan/messaging-rabbitmq"
  version = "^0.1"
  grants  = ["amqp:rabbitmq"]
}}
inputs = {{
  mode   = "external"
  host   = "127.0.0.1"
  vhost  = "{vhost}"
  queues = {{ invoices = {{ dead_letter = true }}, shipments = {{}} }}
  users  = {{ billing = {{ queues = ["invoices"] }}, shipping = {{ queues = ["shipments"] }} }}
}}
"#
    );
    let dapr = format!(
        r#"component {{
  type    = "dapr"
  plugin  = "capstan/dapr"
  version = "^0.1"
}}
dependency "{component}" {{
  config_path = "../{component}"
}}
inputs = {{
  app_ids    = ["billing", "shipping"]
  statestore = {{ enabled = false }}
}}
"#
    );
    // Passwords with characters a URI gives a meaning to: the Secret's URI
    // must percent-encode them for the broker to see the password itself.
    let objects = apply_shop(
        &connection_block(&admin),
        &[("envs/dev/secrets.enc.hcl", "rabbitmq_admin_password", admin_password)],
        (&component, &server),
        &format!(
            "users:\n  billing: {{ password: 'billing-{id}@:/%2F' }}\n  shipping: {{ password: 'shipping-{id}' }}\n"
        ),
        &[("dapr", &dapr)],
    );
    let billing = app_env(&objects, "shop", "billing");
    let shipping = app_env(&objects, "shop", "shipping");
    assert_eq!(billing["MESSAGING_USERNAME"], format!("{component}-billing"), "each app is its own user");
    assert_eq!(shipping["MESSAGING_USERNAME"], format!("{component}-shipping"));
    assert_ne!(billing["MESSAGING_GROUP_PREFIX"], shipping["MESSAGING_GROUP_PREFIX"]);

    let as_billing = Amqp::connect(&billing);
    let as_shipping = Amqp::connect(&shipping);
    let exchange = &billing["MESSAGING_EXCHANGE"];

    // Through the contract's exchange, by logical name, to its own queue.
    as_billing.round_trip(exchange, "invoices", &billing["MESSAGING_QUEUE_INVOICES"]).unwrap();
    as_shipping.round_trip(exchange, "shipments", &shipping["MESSAGING_QUEUE_SHIPMENTS"]).unwrap();
    refused("billing reads shipping's queue", as_billing.round_trip(exchange, "shipments", "shipments"));

    // As Dapr, from each app's rendered Component: the whole URI from the
    // Secret (on the test's vhost, not `/`), its consumer id the app's prefix.
    let (billing_uri, billing_consumer) = dapr_pubsub(&objects, "shop", "billing");
    let (shipping_uri, shipping_consumer) = dapr_pubsub(&objects, "shop", "shipping");
    assert_eq!(billing_consumer, billing["MESSAGING_GROUP_PREFIX"]);
    assert_eq!(shipping_consumer, shipping["MESSAGING_GROUP_PREFIX"]);
    assert!(billing_uri.ends_with(&format!("@127.0.0.1:5672/{vhost}")), "the test's vhost");
    let dapr_billing = Amqp::connect_uri(&billing_uri, "billing's sidecar");
    let dapr_shipping = Amqp::connect_uri(&shipping_uri, "shipping's sidecar");
    dapr_billing.as_dapr(&billing_consumer, &billing["MESSAGING_QUEUE_INVOICES"]).unwrap();
    dapr_shipping.as_dapr(&shipping_consumer, &shipping["MESSAGING_QUEUE_SHIPMENTS"]).unwrap();
    refused("billing subscribes to shipping's topic", dapr_billing.as_dapr(&billing_consumer, "shipments"));
    refused(
        "billing declares a queue under shipping's prefix",
        dapr_billing.as_dapr(&shipping_consumer, "invoices"),
    );
}

#[test]
fn postgres_apps_reach_their_own_database_over_tls_and_no_other() {
    let id = unique();
    let db = |app: &str| format!("dp_{id}_{app}");
    let _cleanup =
        PgCleanup(["billing", "shipping"].iter().map(|a| (db(a), format!("{}_user", db(a)))).collect());

    let server = format!(
        r#"component {{
  type    = "postgres"
  plugin  = "capstan/postgres-external"
  version = "^0.1"
  grants  = ["sql:pg"]
}}
inputs = {{
  db_host    = "127.0.0.1"
  connection = "pg"
  sslmode    = "require"
  apps = {{
    billing  = {{ database = "{}" }}
    shipping = {{ database = "{}" }}
  }}
}}
"#,
        db("billing"),
        db("shipping")
    );
    let objects = apply_shop(
        &format!("connection \"pg\" {{\n  type = \"postgres\"\n  url  = \"{PG_ADMIN}\"\n}}\n"),
        &[],
        ("db", &server),
        &format!(
            "apps:\n  billing: {{ password: billing-{id} }}\n  shipping: {{ password: shipping-{id} }}\n"
        ),
        &[],
    );
    for (app, other) in [("billing", "shipping"), ("shipping", "billing")] {
        let env = app_env(&objects, "shop", app);
        let url = &env["DATABASE_URL"];
        assert_eq!(env["DATABASE_SSLMODE"], "require");
        let who = psql_as(url, "SELECT current_user || ' ' || current_database() || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .unwrap_or_else(|e| panic!("{app} connects with its DATABASE_URL: {e}"));
        assert_eq!(
            who,
            format!("{}_user {} true", db(app), db(app)),
            "{app}: its role, its database, over TLS"
        );

        // The password it was given is its role's (this server trusts the
        // login itself; the stored verifier is what a password server checks).
        let verifier = psql_as(
            PG_ADMIN,
            &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{}_user'", db(app)),
        )
        .unwrap();
        assert!(
            capstan_sql::verifier_matches(&env["DATABASE_PASSWORD"], &verifier),
            "{app}'s password is its role's"
        );

        let elsewhere = url.replace(&format!("/{}?", db(app)), &format!("/{}?", db(other)));
        let refused = psql_as(&elsewhere, "SELECT 1").expect_err("another app's database must refuse it");
        assert!(refused.contains("permission denied for database"), "{app} on {other}'s database: {refused}");
    }
}

/// Deletes a test's streams, even after a failed assertion.
struct StreamCleanup(Vec<String>);

impl Drop for StreamCleanup {
    fn drop(&mut self) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            if let Ok(client) = async_nats::connect("nats://127.0.0.1:4222").await {
                let js = async_nats::jetstream::new(client);
                for stream in &self.0 {
                    let _ = js.delete_stream(stream).await;
                }
            }
        });
    }
}

/// What app `env` does with NATS: connects as it was told, publishes `body`
/// on the subject of its queue `logical`, and pulls it back through its
/// durable consumer; gives what it received.
async fn nats_round_trip(
    env: &BTreeMap<String, String>,
    logical: &str,
    body: &str,
) -> Result<String, String> {
    use futures_util::StreamExt as _;
    let options = async_nats::ConnectOptions::with_user_and_password(
        env["MESSAGING_USERNAME"].clone(),
        env["MESSAGING_PASSWORD"].clone(),
    );
    let client = options.connect(env["MESSAGING_ENDPOINT"].as_str()).await.map_err(|e| e.to_string())?;
    let js = async_nats::jetstream::new(client);
    let stream = &env[&format!("MESSAGING_QUEUE_{}", logical.to_uppercase())];
    let ack = js.publish(stream.clone(), body.to_owned().into()).await.map_err(|e| e.to_string())?;
    ack.await.map_err(|e| format!("the stream did not keep it: {e}"))?;
    let durable: async_nats::jetstream::consumer::PullConsumer = js
        .get_stream(stream)
        .await
        .map_err(|e| e.to_string())?
        .get_consumer(&env["MESSAGING_GROUP_PREFIX"])
        .await
        .map_err(|e| format!("no durable consumer {}: {e}", env["MESSAGING_GROUP_PREFIX"]))?;
    let mut messages = durable
        .fetch()
        .max_messages(1)
        .expires(std::time::Duration::from_secs(5))
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    let message = messages.next().await.ok_or("nothing was delivered")?.map_err(|e| e.to_string())?;
    message.double_ack().await.map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&message.payload).into_owned())
}

#[test]
fn nats_apps_publish_and_pull_on_their_own_streams() {
    let id = unique();
    let prefix = format!("dp{id}-");
    let _cleanup = StreamCleanup(vec![format!("{prefix}invoices"), format!("{prefix}shipments")]);
    let server = format!(
        r#"component {{
  type    = "messaging"
  plugin  = "capstan/messaging-nats"
  version = "^0.1"
  grants  = ["jetstream:nats"]
}}
inputs = {{
  mode        = "external"
  url         = "nats://127.0.0.1:4222"
  name_prefix = "{prefix}"
  queues      = {{ invoices = {{ retention_hours = 24 }}, shipments = {{}} }}
  users       = {{ billing = {{ queues = ["invoices"] }}, shipping = {{ queues = ["shipments"] }} }}
}}
"#
    );
    let objects = apply_shop(
        "connection \"nats\" {\n  type = \"nats\"\n  url  = \"nats://127.0.0.1:4222\"\n}\n",
        &[],
        (&format!("nats{id}"), &server),
        &format!(
            "users:\n  billing: {{ password: billing-{id} }}\n  shipping: {{ password: shipping-{id} }}\n"
        ),
        &[],
    );
    let billing = app_env(&objects, "shop", "billing");
    let shipping = app_env(&objects, "shop", "shipping");
    assert_eq!(billing["MESSAGING_PROTOCOL"], "nats");
    assert_eq!(billing["MESSAGING_QUEUE_INVOICES"], format!("{prefix}invoices"));
    assert_eq!(billing["MESSAGING_PASSWORD"], format!("billing-{id}"), "each app is given its own login");
    assert_ne!(billing["MESSAGING_GROUP_PREFIX"], shipping["MESSAGING_GROUP_PREFIX"]);

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let body = format!("invoice {id}");
    assert_eq!(rt.block_on(nats_round_trip(&billing, "invoices", &body)).unwrap(), body);
    let body = format!("shipment {id}");
    assert_eq!(rt.block_on(nats_round_trip(&shipping, "shipments", &body)).unwrap(), body);

    // A durable consumer per app, on its own streams only.
    let mut crossed = shipping.clone();
    crossed.insert("MESSAGING_QUEUE_INVOICES".into(), billing["MESSAGING_QUEUE_INVOICES"].clone());
    let err = rt.block_on(nats_round_trip(&crossed, "invoices", "stray")).unwrap_err();
    assert!(err.starts_with(&format!("no durable consumer {}", shipping["MESSAGING_GROUP_PREFIX"])), "{err}");
}
