use capstan_kube::kubeconfig::choose;
use capstan_kube::{KubeTarget, KubeconfigSource, Settings};
use serde_json::json;

fn kubeconfig(clusters: &[(&str, &str)], current: Option<&str>) -> String {
    let mut out = String::from("apiVersion: v1\nkind: Config\n");
    if let Some(c) = current {
        out.push_str(&format!("current-context: {c}\n"));
    }
    out.push_str("clusters:\n");
    for (name, url) in clusters {
        out.push_str(&format!("- name: {name}\n  cluster:\n    server: {url}\n"));
    }
    out.push_str("users:\n");
    for (name, _) in clusters {
        out.push_str(&format!("- name: {name}\n  user:\n    token: test-token-not-a-secret\n"));
    }
    out.push_str("contexts:\n");
    for (name, _) in clusters {
        out.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n    namespace: shop\n"
        ));
    }
    out
}

#[tokio::test]
async fn the_files_kubeconfig_lists_are_merged_and_the_current_context_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, kubeconfig(&[("staging", "https://staging.example.com:6443")], Some("staging")))
        .unwrap();
    std::fs::write(&b, kubeconfig(&[("production", "https://prod.example.com:6443")], Some("production")))
        .unwrap();
    let source = KubeconfigSource {
        kubeconfig_env: Some(std::env::join_paths([&a, &b]).unwrap()),
        home: Some(dir.path().join("no-home")),
        ..KubeconfigSource::default()
    };

    // The first file's current-context wins, as with kubectl.
    let chosen = choose(&source, None).await.unwrap();
    assert_eq!(chosen.context, "staging");
    assert_eq!(chosen.config.cluster_url.to_string(), "https://staging.example.com:6443/");
    assert_eq!(chosen.config.default_namespace, "shop");

    let chosen = choose(&source, Some("production")).await.unwrap();
    assert_eq!(chosen.config.cluster_url.to_string(), "https://prod.example.com:6443/");

    let err = choose(&source, Some("qa")).await.err().unwrap();
    assert_eq!(err.to_string(), "kubeconfig has no context named \"qa\" (contexts: staging, production)");
}

#[tokio::test]
async fn without_kubeconfig_the_default_file_is_read_and_its_absence_is_explained() {
    let home = tempfile::tempdir().unwrap();
    let source = KubeconfigSource { home: Some(home.path().to_path_buf()), ..KubeconfigSource::default() };
    let err = choose(&source, None).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "no kubeconfig found (KUBECONFIG is not set and {}/.kube/config does not exist) \
             and no in-cluster configuration (not in a pod: KUBERNETES_SERVICE_HOST and \
             KUBERNETES_SERVICE_PORT are not set): set KUBECONFIG or create the file with your \
             cluster's credentials, or, in a pod, mount its ServiceAccount token",
            home.path().display()
        )
    );

    std::fs::create_dir(home.path().join(".kube")).unwrap();
    std::fs::write(home.path().join(".kube/config"), kubeconfig(&[("dev", "https://dev.example.com")], None))
        .unwrap();
    let err = choose(&source, None).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "kubeconfig names no current context and --context was not given (contexts: dev)"
    );
    assert_eq!(choose(&source, Some("dev")).await.unwrap().context, "dev");

    // An empty KUBECONFIG counts as unset; one naming only missing files is an error.
    let empty = KubeconfigSource { kubeconfig_env: Some("".into()), ..source.clone() };
    assert_eq!(choose(&empty, Some("dev")).await.unwrap().context, "dev");
    let missing = KubeconfigSource { kubeconfig_env: Some(home.path().join("nope").into()), ..source };
    let err = choose(&missing, None).await.err().unwrap();
    assert!(
        err.to_string().starts_with("no kubeconfig found: none of the files KUBECONFIG lists exists ("),
        "{err}"
    );
}

#[tokio::test]
async fn connecting_asks_the_chosen_cluster_and_an_unreachable_one_is_named() {
    // Two providers are linked into this test binary; pick the binary's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The fake API server over HTTP, as a kubeconfig names a real one.
    let cluster = crate::support::Cluster::start().await;
    let url = cluster.serve().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(&path, kubeconfig(&[("fake", &url), ("gone", "http://127.0.0.1:1")], Some("gone")))
        .unwrap();
    let source = KubeconfigSource { kubeconfig_env: Some(path.into()), ..KubeconfigSource::default() };

    let target = KubeTarget::connect(&source, Some("fake"), Settings::default()).await.unwrap();
    let objects = crate::support::app(json!({"image": "registry.example.com/shop/api:1.4.2", "replicas": 1}));
    target.apply(crate::support::KEY, &objects).await.unwrap();
    let deployment = crate::support::key(&objects[0]);
    assert!(cluster.get(&deployment).await.is_some(), "applied over HTTP to the context named");

    let err = KubeTarget::connect(&source, None, Settings::default()).await.err().unwrap();
    assert_eq!(err.to_string(), "connecting to the cluster of context \"gone\" at http://127.0.0.1:1/");
    let cause = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
    assert!(cause.contains("client error (Connect)"), "the cause is kept: {cause}");
}
