//! In-cluster configuration: the API server and credentials Kubernetes gives
//! a pod, used when there is no kubeconfig — Capstan run as a Job beside
//! Argo CD or Flux, or by a CI runner inside the cluster.
//!
//! As client-go decides: the service variables `KUBERNETES_SERVICE_HOST`
//! and `KUBERNETES_SERVICE_PORT` must both be set and the ServiceAccount's
//! `token` file must exist. The server is `https://<host>:<port>`, trusted
//! through the mounted `ca.crt`; the token is handed to kube as a file, which
//! it reads again every minute, so a token the kubelet rotates keeps working
//! for a long run. The token is never read here and never reaches an error
//! or `Debug` output.
//!
//! The variables are captured by the caller ([`InClusterSource`]), like the
//! rest of [`crate::KubeconfigSource`]; this module reads only files under
//! the ServiceAccount directory it is given.

use std::path::{Path, PathBuf};

use crate::KubeError;

/// Where Kubernetes mounts a pod's ServiceAccount credentials.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The name [`crate::kubeconfig::choose`] reports for in-cluster
/// configuration, which has no contexts: kubectl's name for it.
pub const CONTEXT: &str = "in-cluster";

/// What in-cluster configuration is made from, as the process had it.
#[derive(Debug, Clone)]
pub struct InClusterSource {
    /// `KUBERNETES_SERVICE_HOST`: the API server's Service address.
    pub service_host: Option<String>,
    /// `KUBERNETES_SERVICE_PORT`.
    pub service_port: Option<String>,
    /// The directory holding `token`, `ca.crt` and `namespace`
    /// (default [`SERVICE_ACCOUNT_DIR`]).
    pub service_account_dir: PathBuf,
}

/// Outside a pod: no service variables, so nothing under the directory is read.
impl Default for InClusterSource {
    fn default() -> Self {
        Self { service_host: None, service_port: None, service_account_dir: SERVICE_ACCOUNT_DIR.into() }
    }
}

impl InClusterSource {
    /// The service variables of this process, and the standard directory.
    pub fn from_process() -> Self {
        Self {
            service_host: std::env::var("KUBERNETES_SERVICE_HOST").ok(),
            service_port: std::env::var("KUBERNETES_SERVICE_PORT").ok(),
            service_account_dir: SERVICE_ACCOUNT_DIR.into(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.service_account_dir.join(name)
    }

    /// Whether in-cluster configuration can be used; if not, why (for the
    /// error that says no configuration was found).
    pub(crate) fn available(&self) -> Result<(), String> {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        match (set(&self.service_host), set(&self.service_port)) {
            (true, true) => {}
            (false, false) => {
                return Err(
                    "not in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set".into()
                );
            }
            (false, true) => return Err("not in a pod: KUBERNETES_SERVICE_HOST is not set".into()),
            (true, false) => return Err("not in a pod: KUBERNETES_SERVICE_PORT is not set".into()),
        }
        let token = self.file("token");
        if token.is_file() {
            Ok(())
        } else {
            Err(format!(
                "the pod's ServiceAccount token {} does not exist: is automountServiceAccountToken false?",
                token.display()
            ))
        }
    }

    /// The connection settings of in-cluster configuration; call once
    /// [`InClusterSource::available`] said yes.
    pub(crate) fn config(&self) -> Result<kube::Config, KubeError> {
        let host = self.service_host.as_deref().unwrap_or_default();
        let port = self.service_port.as_deref().unwrap_or_default();
        let port: u16 = port.parse().map_err(|_| KubeError::InCluster {
            why: format!("KUBERNETES_SERVICE_PORT is not a port number: {port:?}"),
        })?;
        let url = server_url(host, port);
        let cluster_url = url
            .parse()
            .map_err(|e| KubeError::InCluster { why: format!("the API server URL {url} is invalid: {e}") })?;

        let ca = self.file("ca.crt");
        let pem = read(&ca)?;
        let roots = certificates(&pem).map_err(|why| KubeError::InCluster {
            why: format!("{} is not a CA bundle: {why}", ca.display()),
        })?;
        // As client-go: a pod whose ServiceAccount volume has no namespace
        // file works in `default`.
        let namespace_file = self.file("namespace");
        let namespace = if namespace_file.exists() {
            String::from_utf8_lossy(&read(&namespace_file)?).trim().to_owned()
        } else {
            String::new()
        };
        let token = self.file("token");
        let token = token.to_str().ok_or_else(|| KubeError::InCluster {
            why: format!("the token's path {} is not UTF-8", token.display()),
        })?;

        let mut config = kube::Config::new(cluster_url);
        config.default_namespace = if namespace.is_empty() { "default".into() } else { namespace };
        config.root_cert = Some(roots);
        // Verification re-reads the file, so a rotated cluster CA is trusted
        // without a restart (kube's own in-cluster setting does the same).
        config.root_cert_file = Some(ca);
        config.auth_info.token_file = Some(token.to_owned());
        Ok(config)
    }
}

/// `https://<host>:<port>`, an IPv6 host in brackets (as Go's
/// `net.JoinHostPort`, which client-go uses).
fn server_url(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    }
}

fn read(path: &Path) -> Result<Vec<u8>, KubeError> {
    std::fs::read(path).map_err(|source| KubeError::InClusterFile { path: path.to_owned(), source })
}

/// The DER certificates of a PEM bundle; at least one.
fn certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let blocks = pem::parse_many(pem).map_err(|e| e.to_string())?;
    let certs: Vec<Vec<u8>> =
        blocks.into_iter().filter(|b| b.tag() == "CERTIFICATE").map(pem::Pem::into_contents).collect();
    if certs.is_empty() { Err("it holds no PEM certificate".into()) } else { Ok(certs) }
}

#[cfg(test)]
mod tests {
    use super::server_url;

    #[test]
    fn the_server_url_brackets_an_ipv6_host_and_always_names_the_port() {
        assert_eq!(server_url("10.96.0.1", 443), "https://10.96.0.1:443");
        assert_eq!(server_url("fd00:10:96::1", 6443), "https://[fd00:10:96::1]:6443");
        assert_eq!(server_url("[fd00::1]", 443), "https://[fd00::1]:443");
        assert_eq!(server_url("kubernetes.default.svc", 443), "https://kubernetes.default.svc:443");
    }
}
