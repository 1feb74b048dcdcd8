//! The operator's connection: the server's address and how to log in,
//! parsed once and described without the credentials.

use capstan_core::Sensitive;
use percent_encoding::percent_decode_str;
use url::Url;

use crate::JetStreamError;

/// How the driver logs in to the server.
#[derive(Clone)]
pub(crate) enum Auth {
    /// The server asks for nothing.
    None,
    UserPassword {
        user: String,
        password: Sensitive,
    },
    Token(Sensitive),
}

/// A named NATS connection from the operator's config (`client.hcl` or
/// `env.hcl`, `type = "nats"`).
#[derive(Clone)]
pub struct JetStreamConnection {
    name: String,
    /// The server's address, without credentials.
    server: Url,
    auth: Auth,
}

impl std::fmt::Debug for JetStreamConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            Auth::None => "none".to_string(),
            Auth::UserPassword { user, .. } => format!("user {user}"),
            Auth::Token(_) => "token".to_string(),
        };
        f.debug_struct("JetStreamConnection")
            .field("name", &self.name)
            .field("target", &self.target())
            .field("auth", &auth)
            .finish()
    }
}

impl JetStreamConnection {
    /// `url` is the server's address, `nats://host:4222` (or `tls://…` for a
    /// server that needs TLS). The login is `username` and `password`, or
    /// `token`, or else what the URL holds: `user:password@` or `token@`. A
    /// server without authentication needs none of them.
    pub fn new(
        name: impl Into<String>,
        url: &Sensitive,
        username: Option<Sensitive>,
        password: Option<Sensitive>,
        token: Option<Sensitive>,
    ) -> Result<Self, JetStreamError> {
        let name = name.into();
        let invalid =
            |why: &str| JetStreamError::InvalidUrl { connection: name.clone(), why: why.to_string() };
        // The parser's error could quote the URL: say only what is wrong.
        let mut server = Url::parse(url.expose()).map_err(|_| invalid("it cannot be parsed"))?;
        match server.scheme() {
            "nats" | "tls" => {}
            "http" | "https" => {
                return Err(invalid(
                    "it must be the server's client address (nats://host:4222 or tls://…), \
                     not its HTTP monitoring port",
                ));
            }
            _ => return Err(invalid("the scheme must be nats or tls")),
        }
        if server.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it has no host"));
        }
        if !matches!(server.path(), "" | "/") || server.query().is_some() || server.fragment().is_some() {
            return Err(invalid("a NATS address is only scheme://host:port"));
        }
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let url_user = Some(decode(server.username())).filter(|u| !u.is_empty());
        let url_password = server.password().map(|p| Sensitive::new(decode(p)));
        // Credentials never stay in the URL we keep, print or hand the client.
        let _ = server.set_username("");
        let _ = server.set_password(None);
        server.set_path("");

        // A URL with only `name@` carries a token, as NATS clients read it.
        let (url_user, url_token) = match (url_user, &url_password) {
            (Some(user), Some(_)) => (Some(user), None),
            (Some(token), None) => (None, Some(Sensitive::new(token))),
            (None, _) => (None, None),
        };
        let given = username.is_some() || password.is_some() || token.is_some();
        let (username, password, token) = if given {
            (username.map(|u| u.expose().to_string()), password, token)
        } else {
            (url_user, url_password, url_token)
        };
        let bad =
            |why: &str| JetStreamError::InvalidCredentials { connection: name.clone(), why: why.to_string() };
        let auth = match (username, password, token) {
            (None, None, None) => Auth::None,
            (Some(user), Some(password), None) => {
                if user.is_empty() {
                    return Err(bad("the username is empty"));
                }
                Auth::UserPassword { user, password }
            }
            (None, None, Some(token)) => {
                if token.expose().is_empty() {
                    return Err(bad("the token is empty"));
                }
                Auth::Token(token)
            }
            (Some(_), None, None) => return Err(bad("a username needs a password")),
            (None, Some(_), None) => return Err(bad("a password needs a username")),
            (_, _, Some(_)) => {
                return Err(bad("set either a token or a username and password, not both"));
            }
        };
        Ok(Self { name, server, auth })
    }

    /// The connection's name in the operator's config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `name (nats://host:port)`, for messages.
    pub fn target(&self) -> String {
        format!("{} ({})", self.name, self.server_address())
    }

    /// The server's address without credentials, as the client is given it.
    pub(crate) fn server_address(&self) -> &str {
        self.server.as_str().trim_end_matches('/')
    }

    pub(crate) fn auth(&self) -> &Auth {
        &self.auth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Sensitive {
        Sensitive::new(v)
    }

    #[test]
    fn credentials_come_from_settings_or_the_url_and_never_show() {
        let c = JetStreamConnection::new("nats", &s("nats://app:p%40ss@mq.example:4222"), None, None, None)
            .unwrap();
        assert_eq!(c.target(), "nats (nats://mq.example:4222)");
        assert!(
            matches!(c.auth(), Auth::UserPassword { user, password } if user == "app" && password.expose() == "p@ss")
        );
        assert!(!format!("{c:?}").contains("p@ss"), "{c:?}");

        let c =
            JetStreamConnection::new("nats", &s("tls://s3cr3t-token@mq.example"), None, None, None).unwrap();
        assert!(matches!(c.auth(), Auth::Token(t) if t.expose() == "s3cr3t-token"));
        assert_eq!(c.target(), "nats (tls://mq.example)");
        assert!(!format!("{c:?}").contains("s3cr3t"), "{c:?}");

        // Settings win over the URL's userinfo.
        let c = JetStreamConnection::new(
            "nats",
            &s("nats://old:old@127.0.0.1:4222/"),
            None,
            None,
            Some(s("tok")),
        )
        .unwrap();
        assert!(matches!(c.auth(), Auth::Token(t) if t.expose() == "tok"));
        assert_eq!(c.server_address(), "nats://127.0.0.1:4222");

        let c = JetStreamConnection::new("nats", &s("nats://127.0.0.1:4222"), None, None, None).unwrap();
        assert!(matches!(c.auth(), Auth::None));
    }

    #[test]
    fn other_schemes_half_credentials_and_garbage_are_refused_without_echo() {
        let e =
            JetStreamConnection::new("nats", &s("http://u:hunter2@mq:8222/"), None, None, None).unwrap_err();
        assert!(e.to_string().contains("monitoring port"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = JetStreamConnection::new("nats", &s("not a url hunter2"), None, None, None).unwrap_err();
        assert!(matches!(e, JetStreamError::InvalidUrl { .. }) && !e.to_string().contains("hunter2"), "{e}");
        let e = JetStreamConnection::new("nats", &s("nats://mq:4222"), Some(s("u")), None, None).unwrap_err();
        assert_eq!(e.to_string(), "NATS connection nats: credentials: a username needs a password");
        let e = JetStreamConnection::new(
            "nats",
            &s("nats://mq:4222"),
            Some(s("u")),
            Some(s("hunter2")),
            Some(s("t")),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not both") && !format!("{e:?}").contains("hunter2"), "{e}");
        let e = JetStreamConnection::new("nats", &s("nats://mq:4222/path?x=hunter2"), None, None, None)
            .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
