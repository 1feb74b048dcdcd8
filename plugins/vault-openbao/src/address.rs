//! The server's URL, as apps are given it: `http(s)://host[:port]`.

/// A URL apps reach Vault at, checked: scheme, host and port only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The host, `[…]` kept around an IPv6 address.
    pub host: &'a str,
    /// The port: the URL's, else the scheme's (443 or 80).
    pub port: u16,
}

impl<'a> Address<'a> {
    /// Parses `url`, or says what is wrong with it.
    pub fn parse(url: &'a str) -> Result<Self, String> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err("a URL such as https://vault.example.com:8200 (http:// or https://)".to_owned());
        };
        if !matches!(scheme, "http" | "https") {
            return Err(format!("scheme `{scheme}://`: Vault's API is http:// or https://"));
        }
        if rest.contains('@') {
            return Err("no user name or password in the URL: it is published to every app".to_owned());
        }
        let host_port = rest.strip_suffix('/').unwrap_or(rest);
        if host_port.is_empty() || host_port.contains(['/', '?', '#', ' ', ',']) {
            return Err("the server's base URL only, http(s)://host[:port], without a path: \
                        the API is under <address>/v1/"
                .to_owned());
        }
        // `[::1]:8200` keeps its colons inside the brackets.
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') && !host.is_empty() => (host, Some(port)),
            _ => (host_port, None),
        };
        let port = match port.map(str::parse::<u16>) {
            None => {
                if scheme == "https" {
                    443
                } else {
                    80
                }
            }
            Some(Ok(p)) if p > 0 => p,
            Some(_) => return Err("the port must be 1-65535 (Vault's is 8200)".to_owned()),
        };
        Ok(Self { scheme, host, port })
    }

    /// The URL without a trailing slash, as the outputs carry it.
    pub fn normalized(url: &str) -> &str {
        url.strip_suffix('/').unwrap_or(url)
    }

    /// The namespace of a cluster Service host (`<service>.<namespace>.svc`,
    /// with or without `.cluster.local`).
    pub fn service_namespace(&self) -> Option<&'a str> {
        let host = self.host.strip_suffix(".cluster.local").unwrap_or(self.host);
        match host.split('.').collect::<Vec<_>>().as_slice() {
            [service, namespace, "svc"] if !service.is_empty() && !namespace.is_empty() => Some(namespace),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn urls_are_read_as_clients_read_them() {
        let a = Address::parse("https://vault.security.svc:8200").unwrap();
        assert_eq!((a.scheme, a.host, a.port), ("https", "vault.security.svc", 8200));
        assert_eq!(a.service_namespace(), Some("security"));
        assert_eq!(Address::parse("https://vault.example.com/").unwrap().port, 443);
        assert_eq!(Address::parse("http://[::1]").unwrap().port, 80);
        assert_eq!(Address::parse("http://[::1]:8200").unwrap().host, "[::1]");
        assert_eq!(Address::parse("https://vault.example.com").unwrap().service_namespace(), None);
        for bad in [
            "vault:8200",
            "ftp://vault",
            "https://root:x@vault",
            "https://vault/v1",
            "https://vault:0",
            "https://",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Address::normalized("https://vault:8200/"), "https://vault:8200");
    }
}
