//! An external RabbitMQ through the real binary: a `capstan/messaging-rabbitmq`
//! component in external mode, its user's password and the broker admin's
//! password in encrypted secrets files, applied on the broker on this
//! machine (AMQP :5672, management API :15672). The app user then logs in
//! over AMQP and uses its queue; a re-apply changes nothing; a rotated
//! password replaces the old one; no secret reaches any output.
//!
//! The test creates its own admin user (through the management API as
//! `guest`, with curl) so that the connection's password is a real secret,
//! and deletes everything it created at the end.

use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Confirmation};

use crate::support::rabbitmq::{BrokerCleanup, connection_block, create_admin, management};
use crate::support::{Stack, walk};

/// Logs in as `user` and checks it can publish to `exchange` by the queue's
/// logical name and get the message back from `queue`.
fn publish_and_get(
    user: &str,
    password: &str,
    vhost: &str,
    exchange: &str,
    queue: &str,
) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let uri = format!("amqp://{user}:{password}@127.0.0.1:5672/{vhost}");
        let conn = lapin::Connection::connect(&uri, lapin::ConnectionProperties::default())
            .await
            .map_err(|e| format!("login as {user}: {e}"))?;
        let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
        channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| e.to_string())?;
        let confirm = channel
            .basic_publish(
                exchange.into(),
                "orders".into(),
                BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                b"hello",
                BasicProperties::default(),
            )
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        if !matches!(confirm, Confirmation::Ack(None)) {
            return Err(format!("not routed: {confirm:?}"));
        }
        let got = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the queue is empty")?;
        conn.close(200, "done".into()).await.ok();
        if got.delivery.data == b"hello" { Ok(()) } else { Err("another message came back".into()) }
    })
}

#[test]
fn amqp_effects_build_a_usable_topology_from_encrypted_secrets_and_never_show_them() {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let id = format!("{:x}{nanos:x}", std::process::id());
    let component = format!("ev{id}");
    let vhost = format!("capstan-e2e-{id}");
    let (admin, app_user) = (format!("capstan-e2e-admin-{id}"), format!("{component}-api"));
    let _cleanup = BrokerCleanup { vhost: vhost.clone(), users: vec![admin.clone(), app_user.clone()] };
    let admin_password = format!("admin-{id}-never-shown");
    let password = format!("app-{id}-never-shown");

    create_admin(&admin, &admin_password);

    let s = Stack::new("");
    s.write("envs/dev/env.hcl", &connection_block(&admin));
    s.write("envs/dev/messaging/namespace.hcl", "namespace = \"messaging\"\n");
    s.write(
        &format!("envs/dev/messaging/{component}/component.hcl"),
        &format!(
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
  queues = {{ orders = {{ dead_letter = true }} }}
  users  = {{ api = {{ queues = ["orders"] }} }}
}}
"#
        ),
    );
    let secrets = format!("envs/dev/messaging/{component}/secrets.enc.hcl");
    let mut transcript = String::new();
    let mut record = |r: &crate::support::Run| transcript.push_str(&format!("{}{}", r.stdout, r.stderr));

    record(&s.run(&["secrets", "keygen"]).ok());
    record(
        &s.run_with_stdin(
            &["secrets", "set", "envs/dev/secrets.enc.hcl", "rabbitmq_admin_password"],
            &admin_password,
        )
        .ok(),
    );
    let set_password = |pw: &str| {
        s.run_with_stdin(
            &["secrets", "set", secrets.as_str(), "values_sensitive_custom"],
            &format!("users:\n  api:\n    password: {pw}\n"),
        )
        .ok()
    };
    record(&set_password(&password));

    let plan = s.run(&["plan", "envs/dev", "--no-color"]).ok();
    record(&plan);
    assert!(plan.stdout.contains("effects to run"), "{plan:?}");
    record(&s.run(&["plan", "envs/dev", "--json"]).ok());
    let shown = s.run(&["config", "show", format!("envs/dev/messaging/{component}").as_str()]).ok();
    record(&shown);
    assert!(shown.stdout.contains("(sensitive)"), "{shown:?}");

    let apply = s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]).ok();
    record(&apply);
    let (status, queue) = management("GET", &format!("queues/{vhost}/orders"), None);
    assert_eq!(status, 200, "{queue}");
    assert!(queue.contains(r#""x-dead-letter-routing-key":"orders-dlq""#), "{queue}");
    publish_and_get(&app_user, &password, &vhost, &component, "orders").unwrap();

    // Nothing changed: nothing runs again.
    let again = s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]).ok();
    record(&again);
    assert!(again.stdout.contains("No changes."), "{again:?}");

    // A new password is rotated on the broker, and the old one stops working.
    let rotated = format!("{password}-rotated");
    record(&set_password(&rotated));
    let rotate = s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]).ok();
    record(&rotate);
    publish_and_get(&app_user, &rotated, &vhost, &component, "orders").unwrap();
    assert!(publish_and_get(&app_user, &password, &vhost, &component, "orders").is_err());

    // A wrong admin password fails the component with the broker's refusal, not the password.
    let wrong = format!("wrong-{id}-never-shown");
    record(
        &s.run_with_stdin(&["secrets", "set", "envs/dev/secrets.enc.hcl", "rabbitmq_admin_password"], &wrong)
            .ok(),
    );
    record(&set_password(&format!("{rotated}-again")));
    let refused = s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]);
    transcript.push_str(&format!("{}{}", refused.stdout, refused.stderr));
    assert_ne!(refused.code, 0, "{refused:?}");
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(said.contains(&format!("the broker refused the admin user {admin}")), "{refused:?}");

    // The sweep: every output channel, the state and the rendered non-Secret files.
    let all = [&admin_password, &password, &rotated, &wrong];
    for secret in all {
        assert!(!transcript.contains(secret.as_str()), "a secret reached the output:\n{transcript}");
    }
    for entry in walk(&s.path(".capstan")).into_iter().chain(walk(&s.path("rendered"))) {
        let is_secret_object = entry.file_name().is_some_and(|n| n.to_string_lossy().starts_with("secret-"));
        if !is_secret_object {
            let text = std::fs::read_to_string(&entry).unwrap_or_default();
            assert!(!all.iter().any(|p| text.contains(p.as_str())), "{} holds a secret", entry.display());
        }
    }
}
