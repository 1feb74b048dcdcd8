//! A stand-in for SPIRE's OIDC discovery provider, for tests that apply
//! Vault's JWT auth trusting SPIRE: HTTPS on loopback serving the discovery
//! document and the JWKS of one ES256 key, and signing JWT-SVIDs with that
//! key as the SPIRE server signs them (ES256 is its default JWT key type).
//!
//! MOCK: SPIRE itself cannot run here (no release of it is in the registries
//! this machine reaches), so this plays the one part of it Vault talks to.
//! Vault reads it as it reads the real provider: over TLS verified against
//! the CA it is given, when the JWT auth method is configured, and for the
//! keys at each login.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use capstan_vault::testing::Bao;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

/// The key's id in the JWKS and in each JWT's header.
const KEY_ID: &str = "stand-in-1";

pub struct OidcStandIn {
    /// `https://127.0.0.1:<port>`: the discovery URL and the JWTs' issuer.
    pub url: String,
    /// The PEM of the CA that signed its certificate.
    pub ca_pem: String,
    key: EcdsaKeyPair,
}

impl OidcStandIn {
    /// Serves on a free loopback port until the test process ends, with a
    /// certificate for 127.0.0.1 from a PKI mount of `bao` (so no other tool
    /// makes certificates for the test).
    pub fn start(bao: &Bao) -> Self {
        let (ca_pem, chain, private_key) = loopback_certificate(bao);
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let documents = Arc::new(Documents {
            discovery: json!({
                "issuer": url,
                "jwks_uri": format!("{url}/keys"),
                "authorization_endpoint": "",
                "response_types_supported": ["id_token"],
                "subject_types_supported": [],
                "id_token_signing_alg_values_supported": ["RS256", "ES256", "ES384"],
            })
            .to_string(),
            jwks: json!({ "keys": [jwk(key.public_key().as_ref())] }).to_string(),
        });
        let tls = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, private_key)
                .unwrap(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (tls, documents) = (tls.clone(), documents.clone());
                std::thread::spawn(move || serve(stream, tls, &documents));
            }
        });
        OidcStandIn { url, ca_pem, key }
    }

    /// A JWT-SVID as SPIRE issues one: `sub` the SPIFFE ID, `aud` the
    /// audience, this server as `iss`, valid five minutes.
    pub fn jwt_svid(&self, spiffe_id: &str, audience: &str) -> String {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let header = json!({ "alg": "ES256", "kid": KEY_ID, "typ": "JWT" });
        let claims =
            json!({ "iss": self.url, "sub": spiffe_id, "aud": [audience], "iat": now, "exp": now + 300 });
        let signed = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let signature = self.key.sign(&SystemRandom::new(), signed.as_bytes()).unwrap();
        format!("{signed}.{}", b64(signature.as_ref()))
    }
}

/// What the provider serves.
struct Documents {
    discovery: String,
    jwks: String,
}

/// The public key (an uncompressed P-256 point) as a JWK.
fn jwk(point: &[u8]) -> Value {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    assert_eq!((point.len(), point[0]), (65, 4), "an uncompressed P-256 point");
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64(&point[1..33]),
        "y": b64(&point[33..]),
        "kid": KEY_ID,
        "alg": "ES256",
        "use": "sig",
    })
}

/// A root CA and a certificate for 127.0.0.1 under it, from a PKI mount of
/// the test's own: the CA's PEM, the chain and the key.
fn loopback_certificate(bao: &Bao) -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let root = |path: &str, body: Value| bao.ok("POST", path, Some(&body));
    root("sys/mounts/test-oidc-ca", json!({ "type": "pki" }));
    let ca = root(
        "test-oidc-ca/root/generate/internal",
        json!({ "common_name": "OIDC stand-in CA", "ttl": "24h" }),
    );
    root(
        "test-oidc-ca/roles/loopback",
        json!({ "allow_ip_sans": true, "allow_any_name": true, "enforce_hostnames": false, "max_ttl": "24h" }),
    );
    let issued = root(
        "test-oidc-ca/issue/loopback",
        json!({ "common_name": "127.0.0.1", "ip_sans": "127.0.0.1", "ttl": "1h", "private_key_format": "pkcs8" }),
    );
    let pem = |field: &str| issued["data"][field].as_str().unwrap().to_owned();
    let chain = CertificateDer::pem_slice_iter(pem("certificate").as_bytes()).map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_slice(pem("private_key").as_bytes()).unwrap();
    (ca["data"]["certificate"].as_str().unwrap().to_owned(), chain, key)
}

/// One HTTP/1.1 request over TLS, answered and closed.
fn serve(stream: TcpStream, tls: Arc<rustls::ServerConfig>, documents: &Documents) {
    let Ok(connection) = rustls::ServerConnection::new(tls) else { return };
    let mut stream = rustls::StreamOwned::new(connection, stream);
    let mut reader = BufReader::new(&mut stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = match path {
        "/.well-known/openid-configuration" => ("200 OK", documents.discovery.as_str()),
        "/keys" => ("200 OK", documents.jwks.as_str()),
        _ => ("404 Not Found", "{}"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    stream.conn.send_close_notify();
    let _ = stream.flush();
}
