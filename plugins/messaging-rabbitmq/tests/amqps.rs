//! A real AMQPS round trip with what the plugin plans in-cluster: an app
//! logs in over TLS at the endpoint the outputs give, verifying the broker
//! with the CA the outputs point at, publishes and reads a message back;
//! and so does a client given the connection URI of the user's Secret.
//!
//! The broker is a RabbitMQ node this test starts on loopback ports of its
//! own (the machine's broker on 5672 is plain and is left alone), and stops.
//! Three stand-ins take the place of what this machine has no cluster for:
//! - cert-manager: `openssl` issues the CA and the server certificate the
//!   plugin's `Certificate` asks for (its `dnsNames`, ECDSA P-256) into a
//!   directory named after its Secret, one file per key (`tls.crt`,
//!   `tls.key`, `ca.crt`), as the Secret would be mounted;
//! - the cluster-operator: the node's `rabbitmq.conf` is what the operator
//!   writes for the plugin's `spec.tls` (`secretName`: the TLS listener and
//!   its certificate; `caSecretName`: peer verification with that CA;
//!   `disableNonTLSListeners`: no plain listener), and the app's user is the
//!   node's default user (the topology operator's job);
//! - the cluster's DNS: the client dials 127.0.0.1 and verifies the
//!   endpoint's host name, as a pod resolving the Service would.
//!
//! The client is RabbitMQ's own Erlang AMQP client (`amqp_client`, shipped
//! with the broker), run by `escript`: the workspace has no AMQP client with
//! TLS among its dependencies, and adding one would bring a second crypto
//! provider into the build.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use capstan_plugin_messaging_rabbitmq::MessagingRabbitmq;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt};
use serde_json::{Value, json};

const USER_PASSWORD: &str = "payments-api-s3cret";
const RABBITMQ_BIN: &str = "/usr/lib/rabbitmq/bin";
/// Long enough for a node to boot on a loaded 2-core machine (about 15 s idle).
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// The in-cluster plan, TLS by default.
fn plan() -> ComponentPlan {
    PlanCall::new(json!({
        "queues": { "payments": {} },
        "users": { "payments-api": { "password": USER_PASSWORD, "queues": ["payments"] } },
    }))
    .component("staging", "opus", "events")
    .sensitive("/users/payments-api/password")
    .run::<MessagingRabbitmq>()
    .unwrap()
}

/// A directory of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("capstan-amqps-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `program` and returns its output; panics with the command, its
/// stdout and stderr when it cannot start or, when `must_succeed`, fails.
fn run(cmd: &mut Command, must_succeed: bool) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    if must_succeed && !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// cert-manager's part: the CA, and a certificate it signs for `dns_names`,
/// written into `secret_dir` under the Secret's keys.
fn issue_certificate(work: &Path, secret_dir: &Path, dns_names: &[&str]) {
    std::fs::create_dir_all(secret_dir).unwrap();
    let (ca_key, csr, ext) = (work.join("ca.key"), work.join("tls.csr"), work.join("ext.cnf"));
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    run(
        Command::new("openssl")
            .args(["req", "-x509"])
            .args(ec)
            .arg("-keyout")
            .arg(&ca_key)
            .arg("-out")
            .arg(secret_dir.join("ca.crt"))
            .args(["-days", "1", "-subj", "/CN=events CA"]),
        true,
    );
    run(
        Command::new("openssl")
            .arg("req")
            .args(ec)
            .arg("-keyout")
            .arg(secret_dir.join("tls.key"))
            .arg("-out")
            .arg(&csr)
            .args(["-subj", &format!("/CN={}", dns_names[0])]),
        true,
    );
    let sans: Vec<String> = dns_names.iter().map(|n| format!("DNS:{n}")).collect();
    std::fs::write(
        &ext,
        format!(
            "subjectAltName={}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
            sans.join(",")
        ),
    )
    .unwrap();
    run(
        Command::new("openssl")
            .args(["x509", "-req", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(secret_dir.join("ca.crt"))
            .arg("-CAkey")
            .arg(&ca_key)
            .args(["-CAcreateserial", "-days", "1", "-out"])
            .arg(secret_dir.join("tls.crt"))
            .arg("-extfile")
            .arg(&ext),
        true,
    );
}

/// The cluster-operator's part: the node's configuration for `spec.tls`,
/// with the listener on loopback `port` instead of 5671.
fn rabbitmq_conf(spec_tls: &Value, secrets: &Path, port: u16, vhost: &str, user: &str) -> String {
    assert_eq!(spec_tls["disableNonTLSListeners"], true, "{spec_tls}");
    let tls = secrets.join(spec_tls["secretName"].as_str().unwrap());
    let ca = secrets.join(spec_tls["caSecretName"].as_str().unwrap());
    format!(
        "listeners.tcp = none\n\
         listeners.ssl.default = 127.0.0.1:{port}\n\
         ssl_options.certfile = {}\n\
         ssl_options.keyfile = {}\n\
         ssl_options.cacertfile = {}\n\
         ssl_options.verify = verify_peer\n\
         default_vhost = {vhost}\n\
         default_user = {user}\n\
         default_pass = {USER_PASSWORD}\n\
         loopback_users = none\n",
        tls.join("tls.crt").display(),
        tls.join("tls.key").display(),
        ca.join("ca.crt").display(),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A RabbitMQ node of this test's own, stopped when dropped.
struct Node {
    child: Child,
    name: String,
    home: PathBuf,
}

impl Node {
    fn env<'c>(cmd: &'c mut Command, home: &Path) -> &'c mut Command {
        // HOME holds the node's Erlang cookie, which rabbitmqctl needs too.
        cmd.env("HOME", home)
            .env("RABBITMQ_CONF_ENV_FILE", home.join("env.conf"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
    }

    fn start(home: &Path, conf: &str, port: u16) -> Node {
        std::fs::write(home.join("env.conf"), "").unwrap();
        std::fs::write(home.join("rabbitmq.conf"), conf).unwrap();
        // No plugins: the management plugin would take the machine broker's port.
        std::fs::write(home.join("enabled_plugins"), "[].\n").unwrap();
        let name = format!("capstan-amqps-{}@localhost", std::process::id());
        let log = std::fs::File::create(home.join("server.out")).unwrap();
        let mut cmd = Command::new(format!("{RABBITMQ_BIN}/rabbitmq-server"));
        Node::env(&mut cmd, home)
            .env("RABBITMQ_NODENAME", &name)
            .env("RABBITMQ_CONFIG_FILE", home.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", home.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", home.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", home.join("log"))
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let mut node = Node { child, name, home: home.to_owned() };
        node.wait_for(port);
        node
    }

    fn wait_for(&mut self, port: u16) {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = self.child.try_wait().unwrap();
            if exited.is_some() || start.elapsed() > BOOT_TIMEOUT {
                let out = std::fs::read_to_string(self.home.join("server.out")).unwrap_or_default();
                panic!("RabbitMQ node {} did not listen on {port} ({exited:?}):\n{out}", self.name);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let mut stop = Command::new(format!("{RABBITMQ_BIN}/rabbitmqctl"));
        Node::env(&mut stop, &self.home)
            .args(["-n", &self.name, "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !stop.status().is_ok_and(|s| s.success()) {
            // The script stops its node on TERM.
            let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        }
        let _ = self.child.wait();
    }
}

/// Publishes `body` to `queue` through the default exchange and reads it
/// back, as an AMQPS client verifying the broker with `ca_file` and
/// `server_name`: `received <body>` on success, the error otherwise.
const CLIENT: &str = r#"#!/usr/bin/env escript
%%! -noinput
-include_lib("amqp_client/include/amqp_client.hrl").
main([Uri, Queue, Body]) ->
    {ok, Params} = amqp_uri:parse(Uri),
    case amqp_connection:start(Params) of
        {ok, Conn} ->
            {ok, Ch} = amqp_connection:open_channel(Conn),
            Q = list_to_binary(Queue),
            #'queue.declare_ok'{} = amqp_channel:call(Ch, #'queue.declare'{queue = Q, auto_delete = true}),
            #'confirm.select_ok'{} = amqp_channel:call(Ch, #'confirm.select'{}),
            ok = amqp_channel:call(Ch, #'basic.publish'{routing_key = Q}, #amqp_msg{payload = list_to_binary(Body)}),
            true = amqp_channel:wait_for_confirms(Ch, 10000),
            case amqp_channel:call(Ch, #'basic.get'{queue = Q, no_ack = true}) of
                {#'basic.get_ok'{}, #amqp_msg{payload = P}} -> io:format("received ~s~n", [P]);
                Other -> io:format("nothing to read: ~p~n", [Other]), halt(2)
            end,
            amqp_connection:close(Conn);
        {error, E} -> io:format("connection refused: ~p~n", [E]), halt(1)
    end.
"#;

/// The directory of the broker's Erlang applications (amqp_client among them).
fn erlang_libs() -> PathBuf {
    let lib = Path::new("/usr/lib/rabbitmq/lib");
    let server = std::fs::read_dir(lib)
        .unwrap_or_else(|e| panic!("{}: {e} (is rabbitmq-server installed?)", lib.display()))
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("rabbitmq_server-"))
        .expect("a rabbitmq_server-* directory");
    server.path().join("plugins")
}

/// Runs the client against 127.0.0.1:`port` with `uri`'s credentials, vhost
/// and TLS options; its stdout and whether it succeeded.
fn client(work: &Path, uri: &str, queue: &str, body: &str) -> (bool, String) {
    let script = work.join("client.escript");
    std::fs::write(&script, CLIENT).unwrap();
    let out = run(
        Command::new("escript").arg(&script).args([uri, queue, body]).env("ERL_LIBS", erlang_libs()),
        false,
    );
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `scheme://host:port/vhost` of the outputs' endpoint.
fn split_endpoint(endpoint: &str) -> (&str, &str, u16, &str) {
    let (scheme, rest) = endpoint.split_once("://").unwrap();
    let (authority, vhost) = rest.split_once('/').unwrap();
    let (host, port) = authority.rsplit_once(':').unwrap();
    (scheme, host, port.parse().unwrap(), vhost)
}

#[test]
fn an_app_publishes_and_consumes_over_amqps_verifying_the_broker_with_the_published_ca() {
    let plan = plan();
    let endpoint = plan.output("endpoint").unwrap().as_str().unwrap().to_owned();
    let (scheme, host, service_port, vhost) = split_endpoint(&endpoint);
    assert_eq!((scheme, service_port), ("amqps", 5671));
    let cert = &plan.expect_object("Certificate", "events-tls")["spec"];
    let spec_tls = &plan.expect_object("RabbitmqCluster", "events")["spec"]["tls"];
    let ca = &plan.output("tls").unwrap()["ca_secret"];
    let user =
        plan.expect_object("Secret", "events-payments-api-credentials")["stringData"]["username"].clone();
    let user = user.as_str().unwrap();

    // The key cert-manager makes, which the stand-in below makes alike.
    assert_eq!(
        (&cert["privateKey"]["algorithm"], &cert["privateKey"]["size"]),
        (&json!("ECDSA"), &json!(256))
    );

    let scratch = Scratch::new();
    let secrets = scratch.0.join("secrets");
    let dns_names: Vec<&str> =
        cert["dnsNames"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    issue_certificate(&scratch.0, &secrets.join(cert["secretName"].as_str().unwrap()), &dns_names);

    let port = free_port();
    let home = scratch.0.join("node");
    std::fs::create_dir_all(&home).unwrap();
    let _node = Node::start(&home, &rabbitmq_conf(spec_tls, &secrets, port, vhost, user), port);

    // The client is told only what the outputs say: the CA file is the key of
    // the Secret the `tls` output names, the host name the endpoint's.
    let ca_file = secrets.join(ca["name"].as_str().unwrap()).join(ca["key"].as_str().unwrap());
    let uri = |server_name: &str| {
        format!(
            "amqps://{user}:{USER_PASSWORD}@127.0.0.1:{port}/{vhost}?cacertfile={}&verify=verify_peer&server_name_indication={server_name}",
            ca_file.display()
        )
    };
    let (ok, out) = client(&scratch.0, &uri(host), "capstan-amqps", "hello over TLS");
    assert!(ok && out.contains("received hello over TLS"), "{out}");

    // A client given the whole URI of the user's Secret (`uri_key`), parsed
    // by RabbitMQ's own `amqp_uri`, logs in too: only the address is the
    // DNS stand-in's, the TLS options the client's own.
    let key = plan.output("credentials_secret").unwrap()["uri_key"].as_str().unwrap().to_owned();
    let secret_uri = plan.expect_object("Secret", "events-payments-api-credentials")["stringData"][&key]
        .as_str()
        .unwrap()
        .to_owned();
    let service = format!("@{host}:{service_port}/");
    assert!(secret_uri.starts_with("amqps://") && secret_uri.contains(&service), "the endpoint's server");
    let local = secret_uri.replacen(&service, &format!("@127.0.0.1:{port}/"), 1);
    let (ok, out) = client(
        &scratch.0,
        &format!("{local}?cacertfile={}&verify=verify_peer&server_name_indication={host}", ca_file.display()),
        "capstan-amqps-uri",
        "hello through the URI",
    );
    assert!(ok && out.contains("received hello through the URI"), "{out}");

    // The client really verifies: a name the certificate does not hold is refused.
    let (ok, out) = client(&scratch.0, &uri("events.elsewhere.svc"), "capstan-amqps", "x");
    assert!(!ok && out.contains("hostname_check_failed"), "{out}");
}
