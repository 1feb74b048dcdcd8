use capstan_secrets::{Env, RemoteSources, SecretsError};
use serde_json::json;

use crate::support::{BAO_ROOT_TOKEN, bao, closed_port_url, http};

#[test]
fn kv2_values_resolve_and_failures_are_typed() {
    let server = bao();
    let put = http()
        .post(format!("{}/v1/secret/data/app/db", server.url))
        .header("X-Vault-Token", BAO_ROOT_TOKEN)
        .json(&json!({"data": {"password": "vault-s3cret", "port": 5432}}))
        .send()
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().unwrap());

    let env = Env::from_pairs([("VAULT_ADDR", server.url.as_str()), ("VAULT_TOKEN", BAO_ROOT_TOKEN)]);
    let sources = RemoteSources::new(env.clone());
    assert_eq!(sources.resolve("vault:secret/app/db#password").unwrap().expose(), "vault-s3cret");
    assert_eq!(sources.resolve("vault:secret/app/db#port").unwrap().expose(), "5432");

    for reference in ["vault:secret/app/db#nope", "vault:secret/app/none#password"] {
        let err = sources.resolve(reference).unwrap_err();
        assert!(matches!(err, SecretsError::RefNotFound { .. }), "{reference}: {err}");
        assert!(err.to_string().contains(reference) && !err.to_string().contains("vault-s3cret"));
    }

    // A token Vault does not know: 403.
    let err = RemoteSources::new(env.clone().with("VAULT_TOKEN", "not-a-token"))
        .resolve("vault:secret/app/db#password")
        .unwrap_err();
    assert!(matches!(err, SecretsError::RefDenied { status: 403, .. }), "{err}");
    assert!(
        err.to_string().contains("vault:secret/app/db#password") && !err.to_string().contains("not-a-token"),
        "{err}"
    );

    // The token may come from ~/.vault-token, as after `bao login`.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".vault-token"), format!("{BAO_ROOT_TOKEN}\n")).unwrap();
    let env = Env::from_pairs([("VAULT_ADDR", server.url.as_str()), ("HOME", home.path().to_str().unwrap())]);
    assert_eq!(
        RemoteSources::new(env).resolve("vault:secret/app/db#password").unwrap().expose(),
        "vault-s3cret"
    );
}

#[test]
fn vault_unreachable_or_unconfigured() {
    let env = Env::from_pairs([("VAULT_ADDR", closed_port_url()), ("VAULT_TOKEN", "t".to_owned())]);
    let err = RemoteSources::new(env).resolve("vault:secret/app#k").unwrap_err();
    assert!(matches!(err, SecretsError::RefUnreachable { .. }), "{err}");
    assert!(err.to_string().contains("vault:secret/app#k"), "{err}");

    let err = RemoteSources::new(Env::default()).resolve("vault:secret/app#k").unwrap_err();
    assert!(matches!(err, SecretsError::RefConfig { .. }), "{err}");
    assert!(err.to_string().contains("VAULT_ADDR"), "{err}");
}
