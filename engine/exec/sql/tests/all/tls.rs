//! TLS modes against the shared server, which has `ssl = on` with Debian's
//! self-signed "snakeoil" certificate (CN and SAN `localhost`).

use capstan_core::Sensitive;
use capstan_sql::{SqlConnection, SqlError};

const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

fn conn(url: &str) -> SqlConnection {
    SqlConnection::from_url("main", &Sensitive::new(url)).unwrap()
}

#[tokio::test]
async fn prefer_and_require_encrypt_and_disable_does_not() {
    let default = conn("postgres://postgres@127.0.0.1:5432/postgres").probe().await.unwrap();
    assert!(default.tls, "prefer (the default) uses TLS when the server offers it");
    assert!(default.version.starts_with("15"), "{}", default.version);
    assert!(conn("postgres://postgres@127.0.0.1:5432/postgres?sslmode=require").probe().await.unwrap().tls);
    assert!(!conn("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable").probe().await.unwrap().tls);
}

#[tokio::test]
async fn verify_full_checks_the_chain_and_the_name() {
    // Right root, right name (host localhost, address 127.0.0.1).
    let ok = conn(&format!(
        "postgres://postgres@localhost:5432/postgres?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={SNAKEOIL}"
    ));
    assert!(ok.probe().await.unwrap().tls);

    // Right root, wrong name: refused by verify-full, accepted by verify-ca.
    let by_ip = format!("postgres://postgres@127.0.0.1:5432/postgres?sslrootcert={SNAKEOIL}&sslmode=");
    let err = conn(&format!("{by_ip}verify-full")).probe().await.unwrap_err();
    assert!(matches!(err, SqlError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(conn(&format!("{by_ip}verify-ca")).probe().await.unwrap().tls);

    // The public roots do not vouch for a self-signed server.
    let err = conn("postgres://postgres@localhost:5432/postgres?hostaddr=127.0.0.1&sslmode=verify-full")
        .probe()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("UnknownIssuer") || err.contains("unknown issuer"), "{err}");
}

#[test]
fn an_unreadable_root_certificate_is_a_clear_error() {
    let err = SqlConnection::from_url(
        "main",
        &Sensitive::new("postgres://u:pw-9q@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"),
    )
    .unwrap_err();
    assert!(matches!(err, SqlError::TlsConfig { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/ca.pem") && !msg.contains("pw-9q"), "{msg}");
}
