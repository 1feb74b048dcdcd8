//! In-cluster configuration: inside a pod with no kubeconfig, the cluster
//! is the one the pod's ServiceAccount names.
//!
//! No kube-apiserver and no pod can run on the build machines. The
//! ServiceAccount directory is a temporary one, written as the kubelet
//! mounts it (`token`, `ca.crt`, `namespace`), with a cluster CA made for
//! the test run; the service variables are handed in as the CLI captures
//! them. For the connection, the API server is the fake cluster: it serves
//! plain HTTP, so a TLS front made here serves it with a certificate that
//! CA signed, as a cluster's API server is served.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use capstan_kube::kubeconfig::choose;
use capstan_kube::{InClusterSource, KubeTarget, KubeconfigSource, Settings};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The ServiceAccount token the tests' kubelet mounts. Lower case, because
/// the requests the front records are searched in lower case.
const TOKEN: &str = "eyj-test-service-account-token-7d1c";

/// A cluster CA, made afresh for each test.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: Vec<u8>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { der: cert.der().to_vec(), issuer: Issuer::new(params, key) }
    }

    fn pem(&self) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", self.der.clone()))
    }

    /// A serving certificate for `host` and its key, as the API server has.
    fn serving(&self, host: &str) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let cert =
            CertificateParams::new(vec![host.to_owned()]).unwrap().signed_by(&key, &self.issuer).unwrap();
        (cert.der().clone(), PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
    }
}

/// What a pod has: its ServiceAccount directory, and a home with no kubeconfig.
struct Pod {
    ca: Ca,
    service_account: TempDir,
    home: TempDir,
}

impl Pod {
    /// The kubelet's mount: the token, the cluster CA and (if given) the namespace.
    fn new(namespace: Option<&str>) -> Self {
        let pod = Self {
            ca: Ca::new("capstan-test-cluster-ca"),
            service_account: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        };
        std::fs::write(pod.file("token"), TOKEN).unwrap();
        std::fs::write(pod.file("ca.crt"), pod.ca.pem()).unwrap();
        if let Some(namespace) = namespace {
            // The kubelet writes it without a newline; a hand-made one may have one.
            std::fs::write(pod.file("namespace"), format!("{namespace}\n")).unwrap();
        }
        pod
    }

    fn file(&self, name: &str) -> std::path::PathBuf {
        self.service_account.path().join(name)
    }

    /// What the CLI captures in this pod, with the service at `host:port`.
    fn source(&self, host: &str, port: &str) -> KubeconfigSource {
        KubeconfigSource {
            kubeconfig_env: None,
            home: Some(self.home.path().to_path_buf()),
            in_cluster: InClusterSource {
                service_host: Some(host.into()),
                service_port: Some(port.into()),
                service_account_dir: self.service_account.path().to_path_buf(),
            },
        }
    }
}

fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: laptop\n\
         clusters:\n- name: laptop\n  cluster:\n    server: {server}\n\
         users:\n- name: laptop\n  user:\n    token: kubeconfig-token-not-a-secret\n\
         contexts:\n- name: laptop\n  context:\n    cluster: laptop\n    user: laptop\n"
    )
}

#[tokio::test]
async fn in_a_pod_without_kubeconfig_the_service_account_chooses_the_cluster() {
    let pod = Pod::new(Some("shop"));
    let chosen = choose(&pod.source("10.96.0.1", "443"), None).await.unwrap();
    assert_eq!(chosen.context, "in-cluster");
    let config = &chosen.config;
    assert_eq!(config.cluster_url.to_string(), "https://10.96.0.1:443/");
    assert_eq!(config.default_namespace, "shop");
    assert_eq!(config.root_cert.as_deref(), Some(&[pod.ca.der.clone()][..]), "the CA of ca.crt, as DER");
    assert_eq!(config.root_cert_file.as_deref(), Some(pod.file("ca.crt").as_path()), "re-read on rotation");
    // A file, not the token itself: kube reads it again each minute, so a
    // token the kubelet rotates is picked up.
    assert_eq!(config.auth_info.token_file.as_deref(), pod.file("token").to_str());
    assert!(config.auth_info.token.is_none());
    assert!(!config.accept_invalid_certs);
    assert!(!format!("{config:?}").contains(TOKEN), "the token is not in the config's Debug output");

    // An IPv6 Service address goes in brackets.
    let chosen = choose(&pod.source("fd00:10:96::1", "6443"), None).await.unwrap();
    assert_eq!(chosen.config.cluster_url.to_string(), "https://[fd00:10:96::1]:6443/");

    // A ServiceAccount volume without a namespace file works in `default`, as client-go does.
    let bare = Pod::new(None);
    let chosen = choose(&bare.source("10.96.0.1", "443"), None).await.unwrap();
    assert_eq!(chosen.config.default_namespace, "default");
}

#[tokio::test]
async fn a_kubeconfig_is_used_before_the_pods_service_account() {
    let pod = Pod::new(Some("shop"));
    let in_pod = pod.source("10.96.0.1", "443");

    // ~/.kube/config exists.
    std::fs::create_dir(pod.home.path().join(".kube")).unwrap();
    std::fs::write(pod.home.path().join(".kube/config"), kubeconfig("https://laptop.example:6443")).unwrap();
    let chosen = choose(&in_pod, None).await.unwrap();
    assert_eq!(chosen.context, "laptop");
    assert_eq!(chosen.config.cluster_url.to_string(), "https://laptop.example:6443/");
    std::fs::remove_dir_all(pod.home.path().join(".kube")).unwrap();

    // KUBECONFIG (or --kubeconfig, which the CLI hands in as KUBECONFIG) lists a file.
    let listed = pod.home.path().join("ci.yaml");
    std::fs::write(&listed, kubeconfig("https://ci.example:6443")).unwrap();
    let with_env = KubeconfigSource { kubeconfig_env: Some(listed.into()), ..in_pod.clone() };
    let chosen = choose(&with_env, None).await.unwrap();
    assert_eq!(chosen.config.cluster_url.to_string(), "https://ci.example:6443/");

    // KUBECONFIG naming only missing files is still that error, not the pod's
    // ServiceAccount: files named on purpose are what the operator meant.
    let missing =
        KubeconfigSource { kubeconfig_env: Some(pod.home.path().join("nope").into()), ..in_pod.clone() };
    let err = choose(&missing, None).await.err().unwrap();
    assert!(
        err.to_string().starts_with("no kubeconfig found: none of the files KUBECONFIG lists exists ("),
        "{err}"
    );

    // Without either, the pod's.
    assert_eq!(choose(&in_pod, None).await.unwrap().context, "in-cluster");
}

#[tokio::test]
async fn in_cluster_configuration_has_no_context_to_choose() {
    let pod = Pod::new(Some("shop"));
    let err = choose(&pod.source("10.96.0.1", "443"), Some("prod-eu")).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "context \"prod-eu\" was asked for, but there is no kubeconfig (KUBECONFIG is not set and \
             {}/.kube/config does not exist) and in-cluster configuration (the pod's ServiceAccount) \
             has no contexts: give no context, or provide a kubeconfig",
            pod.home.path().display()
        )
    );
}

#[tokio::test]
async fn without_the_token_file_there_is_no_configuration_and_the_error_names_both_places() {
    let pod = Pod::new(Some("shop"));
    std::fs::remove_file(pod.file("token")).unwrap();
    let err = choose(&pod.source("10.96.0.1", "443"), None).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "no kubeconfig found (KUBECONFIG is not set and {}/.kube/config does not exist) and no \
             in-cluster configuration (the pod's ServiceAccount token {} does not exist: is \
             automountServiceAccountToken false?): set KUBECONFIG or create the file with your \
             cluster's credentials, or, in a pod, mount its ServiceAccount token",
            pod.home.path().display(),
            pod.file("token").display()
        )
    );

    // A token but only one of the two service variables: not a pod, as client-go judges.
    let pod = Pod::new(Some("shop"));
    let half = KubeconfigSource {
        in_cluster: InClusterSource { service_port: None, ..pod.source("10.96.0.1", "443").in_cluster },
        ..pod.source("10.96.0.1", "443")
    };
    let err = choose(&half, None).await.err().unwrap().to_string();
    assert!(
        err.contains("and no in-cluster configuration (not in a pod: KUBERNETES_SERVICE_PORT is not set)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_broken_service_account_mount_is_an_error_naming_the_file() {
    let pod = Pod::new(Some("shop"));
    std::fs::remove_file(pod.file("ca.crt")).unwrap();
    let err = choose(&pod.source("10.96.0.1", "443"), None).await.err().unwrap().to_string();
    let ca = pod.file("ca.crt");
    assert!(err.starts_with(&format!("in-cluster configuration: reading {}: ", ca.display())), "{err}");

    std::fs::write(&ca, "not a certificate").unwrap();
    let err = choose(&pod.source("10.96.0.1", "443"), None).await.err().unwrap().to_string();
    assert!(
        err.starts_with(&format!("in-cluster configuration: {} is not a CA bundle: ", ca.display())),
        "{err}"
    );

    std::fs::write(&ca, pod.ca.pem()).unwrap();
    let err = choose(&pod.source("10.96.0.1", "https"), None).await.err().unwrap().to_string();
    assert_eq!(err, "in-cluster configuration: KUBERNETES_SERVICE_PORT is not a port number: \"https\"");
    assert!(!err.contains(TOKEN));
}

/// TLS in front of the fake cluster's plain HTTP port, as a cluster's API
/// server is served. Returns its address and the requests as they arrived,
/// decrypted, so a test can see the headers the client sent.
async fn tls_front(
    backend: &str,
    (cert, key): (CertificateDer<'static>, PrivateKeyDer<'static>),
) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let backend: SocketAddr = backend.trim_start_matches("http://").parse().unwrap();
    let config =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert], key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let (acceptor, log) = (acceptor.clone(), log.clone());
            tokio::spawn(async move {
                // A handshake the client refuses ends here, as it should.
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let plain = tokio::net::TcpStream::connect(backend).await.unwrap();
                let (mut from_client, mut to_client) = tokio::io::split(tls);
                let (mut from_cluster, mut to_cluster) = plain.into_split();
                let requests = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = from_client.read(&mut buf).await.unwrap_or(0);
                        if n == 0 || to_cluster.write_all(&buf[..n]).await.is_err() {
                            let _ = to_cluster.shutdown().await;
                            return;
                        }
                        log.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                };
                let answers = async {
                    let _ = tokio::io::copy(&mut from_cluster, &mut to_client).await;
                    let _ = to_client.shutdown().await;
                };
                tokio::join!(requests, answers);
            });
        }
    });
    (address, seen)
}

#[tokio::test]
async fn in_a_pod_the_target_applies_over_tls_with_the_service_account_token() {
    // Two providers are linked into this test binary; pick the binary's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cluster = crate::support::Cluster::start().await;
    let plain = cluster.serve().await;
    let pod = Pod::new(Some("shop"));
    let (address, seen) = tls_front(&plain, pod.ca.serving("127.0.0.1")).await;

    let source = pod.source("127.0.0.1", &address.port().to_string());
    let target = KubeTarget::connect(&source, None, Settings::default()).await.unwrap();
    let objects = crate::support::app(json!({"image": "registry.example.com/shop/api:1.4.2", "replicas": 1}));
    target.apply(crate::support::KEY, &objects).await.unwrap();
    let deployment = crate::support::key(&objects[0]);
    assert!(cluster.get(&deployment).await.is_some(), "applied through TLS to the pod's cluster");

    let requests = String::from_utf8_lossy(&seen.lock().unwrap()).to_lowercase();
    assert!(requests.contains("get /version "), "connecting asked the server's version first");
    assert!(
        requests.contains(&format!("authorization: bearer {TOKEN}")),
        "every request carries the token file's token: {}",
        requests.lines().take(12).collect::<Vec<_>>().join("\n")
    );
}

#[tokio::test]
async fn a_server_the_pods_ca_did_not_sign_or_nothing_listening_is_one_connect_error() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cluster = crate::support::Cluster::start().await;
    let plain = cluster.serve().await;
    let pod = Pod::new(Some("shop"));
    // A server whose certificate another CA signed: TLS verification refuses it.
    let stranger = Ca::new("some-other-ca");
    let (address, seen) = tls_front(&plain, stranger.serving("127.0.0.1")).await;
    let source = pod.source("127.0.0.1", &address.port().to_string());
    let err = KubeTarget::connect(&source, None, Settings::default()).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "connecting to the cluster of context \"in-cluster\" at https://127.0.0.1:{}/",
            address.port()
        )
    );
    assert!(seen.lock().unwrap().is_empty(), "no request, so no token, went to it");
    let causes = chain(&err);
    assert!(causes.contains("invalid peer certificate"), "the cause is kept: {causes}");
    assert!(!causes.contains(TOKEN) && !format!("{err:?}").contains(TOKEN));

    // Nothing listening on the service's port.
    let port = free_port().await;
    let source = pod.source("127.0.0.1", &port.to_string());
    let err = KubeTarget::connect(&source, None, Settings::default()).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        format!("connecting to the cluster of context \"in-cluster\" at https://127.0.0.1:{port}/")
    );
    let causes = chain(&err);
    assert!(causes.contains("client error (Connect)"), "the cause is kept: {causes}");
}

/// The error and its causes, one per line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        out.push('\n');
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// A loopback port nothing listens on (bound, then let go).
async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}
