//! The operator's connection: the server's address, the token and the
//! namespace, checked once and described without the token.

use capstan_core::Sensitive;
use url::Url;

use crate::VaultError;

/// A named Vault or OpenBao connection from the operator's config
/// (`type = "vault"`). `Debug` shows the name, the address and the
/// namespace; never the token.
#[derive(Clone)]
pub struct VaultConnection {
    name: String,
    /// `scheme://host:port`, no credentials, path, query or fragment.
    server: Url,
    token: Sensitive,
    namespace: Option<String>,
}

impl std::fmt::Debug for VaultConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultConnection")
            .field("name", &self.name)
            .field("target", &self.target())
            .field("namespace", &self.namespace)
            .field("token", &self.token)
            .finish()
    }
}

impl VaultConnection {
    /// `url` is the server's address (`http://127.0.0.1:8200`,
    /// `https://vault.example:8200`); it is taken as sensitive because an
    /// operator may paste one with credentials, which is refused without
    /// being shown (Vault logs in with the token, never with the URL).
    /// `token` is the operator's (sent as `X-Vault-Token`); `namespace`, if
    /// any, is sent as `X-Vault-Namespace` (Vault Enterprise, OpenBao).
    pub fn new(
        name: impl Into<String>,
        url: &Sensitive,
        token: Sensitive,
        namespace: Option<String>,
    ) -> Result<Self, VaultError> {
        let name = name.into();
        let invalid = |why: &str| VaultError::InvalidUrl { connection: name.clone(), why: why.to_string() };
        // The parser's error could quote the URL: say only what is wrong.
        let mut server = Url::parse(url.expose()).map_err(|_| invalid("it cannot be parsed"))?;
        if !matches!(server.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if server.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it has no host"));
        }
        if !server.username().is_empty() || server.password().is_some() {
            return Err(invalid(
                "it holds credentials; Vault takes none in its address: give the token as the token setting",
            ));
        }
        if !matches!(server.path(), "" | "/") || server.query().is_some() || server.fragment().is_some() {
            return Err(invalid("a Vault address is only scheme://host:port (the API is under /v1/)"));
        }
        server.set_path("");

        let bad =
            |why: &str| VaultError::InvalidConnection { connection: name.clone(), why: why.to_string() };
        if token.expose().trim().is_empty() {
            return Err(bad("the token is empty"));
        }
        // Sent as a header: anything else would fail there, with a message
        // that says less.
        if !token.expose().trim().bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("the token holds spaces or characters a header cannot carry"));
        }
        let token = Sensitive::new(token.expose().trim());
        let namespace = match namespace.as_deref().map(|n| n.trim().trim_matches('/')) {
            None | Some("") => None,
            Some(n) if n.bytes().all(|b| b.is_ascii_graphic()) => Some(n.to_string()),
            Some(_) => return Err(bad("the namespace holds spaces or characters a header cannot carry")),
        };
        Ok(Self { name, server, token, namespace })
    }

    /// The connection's name in the operator's config, as effects name it
    /// in `Effect::target`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `name (http://host:port)`, for messages.
    pub fn target(&self) -> String {
        format!("{} ({})", self.name, self.address())
    }

    /// The namespace requests are sent to, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The server's address, `scheme://host:port`.
    pub(crate) fn address(&self) -> &str {
        self.server.as_str().trim_end_matches('/')
    }

    /// The URL of `path` under `/v1/`, each segment percent-encoded.
    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.server.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.clear().push("v1").extend(path.split('/'));
        }
        url
    }

    pub(crate) fn token(&self) -> &Sensitive {
        &self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Sensitive {
        Sensitive::new(v)
    }

    #[test]
    fn an_address_is_scheme_host_and_port_and_the_token_never_shows() {
        let c =
            VaultConnection::new("vault", &s("http://127.0.0.1:8200/"), s(" hvs.s3cr3t\n"), None).unwrap();
        assert_eq!(c.target(), "vault (http://127.0.0.1:8200)");
        assert_eq!(c.token().expose(), "hvs.s3cr3t");
        assert!(!format!("{c:?}").contains("s3cr3t"), "{c:?}");
        assert_eq!(c.url("sys/mounts/pki").as_str(), "http://127.0.0.1:8200/v1/sys/mounts/pki");
        assert_eq!(c.url("auth/a b/role/x?y").as_str(), "http://127.0.0.1:8200/v1/auth/a%20b/role/x%3Fy");

        let c =
            VaultConnection::new("v", &s("https://vault.example"), s("t"), Some("/team-a/".into())).unwrap();
        assert_eq!((c.target().as_str(), c.namespace()), ("v (https://vault.example)", Some("team-a")));
        let c = VaultConnection::new("v", &s("https://vault.example"), s("t"), Some(String::new())).unwrap();
        assert_eq!(c.namespace(), None);
    }

    #[test]
    fn credentials_paths_and_bad_tokens_are_refused_without_echo() {
        for url in [
            "http://root:hunter2@vault:8200",
            "http://hunter2@vault:8200",
            "vault:8200 hunter2",
            "nats://vault:4222/hunter2",
            "http://vault:8200/v1?token=hunter2",
        ] {
            let e = VaultConnection::new("vault", &s(url), s("t"), None).unwrap_err();
            assert!(matches!(e, VaultError::InvalidUrl { .. }), "{url}: {e:?}");
            assert!(!format!("{e} {e:?}").contains("hunter2"), "{url}: {e}");
        }
        let e = VaultConnection::new("vault", &s("http://u:hunter2@vault"), s("t"), None).unwrap_err();
        assert!(e.to_string().contains("holds credentials"), "{e}");
        let e = VaultConnection::new("vault", &s("http://vault"), s("  "), None).unwrap_err();
        assert_eq!(e.to_string(), "Vault connection vault: the token is empty");
        let e = VaultConnection::new("vault", &s("http://vault"), s("hunter2 x"), None).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("hunter2"), "{e}");
    }
}
