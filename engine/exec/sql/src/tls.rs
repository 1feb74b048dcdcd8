//! TLS for the operator's connection, with libpq's `sslmode` meanings:
//! - `disable`: plain;
//! - `prefer` (the default): encrypted when the server offers it, not verified;
//! - `require`: encrypted, not verified — unless `sslrootcert` is given, in
//!   which case the chain is verified as with `verify-ca` (as libpq does);
//! - `verify-ca`: encrypted, the chain verified against the roots;
//! - `verify-full`: as `verify-ca`, and the server name must match the host.
//!
//! Roots come from `sslrootcert=<PEM file>` (a managed service's CA bundle,
//! such as Amazon RDS's), or are the Mozilla roots (`webpki-roots`) when it is
//! absent or `system`. tokio-postgres parses only `disable|prefer|require`, so
//! `verify-*` and `sslrootcert` are taken out of the connection string here.
//! rustls uses the ring provider, given explicitly (no process-wide default).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::SqlError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Encrypt (when TLS is used) but accept any certificate.
    Nothing,
    Chain,
    ChainAndName,
}

/// The TLS options taken out of a connection string.
#[derive(Debug, Default)]
pub(crate) struct TlsOptions {
    pub verify_mode: Option<&'static str>,
    pub root_cert: Option<String>,
}

/// Removes `sslmode=verify-*` and `sslrootcert` from a URL or key=value
/// connection string, returning the rest for tokio-postgres.
pub(crate) fn split_tls_options(conn: &str) -> (String, TlsOptions) {
    let mut options = TlsOptions::default();
    let mut take = |key: &str, value: &str| -> bool {
        match (key, value) {
            ("sslmode", "verify-ca") => options.verify_mode = Some("verify-ca"),
            ("sslmode", "verify-full") => options.verify_mode = Some("verify-full"),
            ("sslrootcert", v) => options.root_cert = Some(percent_decode(v)),
            _ => return false,
        }
        true
    };
    if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        let Some((base, query)) = conn.split_once('?') else { return (conn.to_string(), options) };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                !take(k, v)
            })
            .collect();
        let rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        (rest, options)
    } else {
        let kept: Vec<&str> = conn
            .split_whitespace()
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                !take(k.trim(), v.trim().trim_matches('\''))
            })
            .collect();
        (kept.join(" "), options)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What verification a parsed config plus the taken-out options ask for, and
/// the `SslMode` to give tokio-postgres.
pub(crate) fn resolve(mode: SslMode, options: &TlsOptions) -> (SslMode, Verify) {
    match (options.verify_mode, mode) {
        (Some("verify-full"), _) => (SslMode::Require, Verify::ChainAndName),
        (Some(_), _) => (SslMode::Require, Verify::Chain),
        (None, SslMode::Disable) => (SslMode::Disable, Verify::Nothing),
        (None, SslMode::Require) if options.root_cert.is_some() => (SslMode::Require, Verify::Chain),
        (None, SslMode::Require) => (SslMode::Require, Verify::Nothing),
        (None, _) => (SslMode::Prefer, Verify::Nothing),
    }
}

pub(crate) fn connector(
    connection: &str,
    verify: Verify,
    root_cert: Option<&str>,
) -> Result<MakeRustlsConnect, SqlError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_error = |why: String| SqlError::TlsConfig { connection: connection.to_string(), why };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(Lenient { chain: None, provider }),
        Verify::Chain | Verify::ChainAndName => {
            let roots = Arc::new(roots(root_cert).map_err(tls_error)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| tls_error(e.to_string()))?;
            if verify == Verify::Chain { Arc::new(Lenient { chain: Some(webpki), provider }) } else { webpki }
        }
    };
    let config = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn roots(root_cert: Option<&str>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match root_cert {
        None | Some("system") => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let path = PathBuf::from(path);
            let certs = CertificateDer::pem_file_iter(&path)
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("sslrootcert {} holds no usable certificate", path.display()));
            }
        }
    }
    Ok(store)
}

/// The two checks libpq makes that are weaker than rustls' default:
/// - `prefer`/`require` without roots (`chain: None`): any certificate, so
///   the session is encrypted but the peer is not authenticated;
/// - `verify-ca` (`chain: Some`): the chain must lead to a root, the name
///   may differ.
///
/// Handshake signatures are checked in both, with the provider's algorithms
/// (what the WebPKI verifier itself uses).
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_and_root_cert_are_taken_out_of_urls_and_key_values() {
        let (rest, o) = split_tls_options(
            "postgres://u:p@db.example:5432/app?sslmode=verify-full&sslrootcert=%2Fetc%2Frds.pem&application_name=x",
        );
        assert_eq!(rest, "postgres://u:p@db.example:5432/app?application_name=x");
        assert_eq!((o.verify_mode, o.root_cert.as_deref()), (Some("verify-full"), Some("/etc/rds.pem")));
        let (rest, o) =
            split_tls_options("host=db user=u sslmode=verify-ca sslrootcert='/ca.pem' dbname=app");
        assert_eq!(rest, "host=db user=u dbname=app");
        assert_eq!((o.verify_mode, o.root_cert.as_deref()), (Some("verify-ca"), Some("/ca.pem")));
        let (rest, o) = split_tls_options("postgres://u@h/db?sslmode=require");
        assert_eq!(rest, "postgres://u@h/db?sslmode=require");
        assert!(o.verify_mode.is_none() && o.root_cert.is_none());
    }
}
