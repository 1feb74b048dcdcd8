//! The operator's connection: the broker's management API address and the
//! admin credentials, parsed once and described without the password.

use capstan_core::Sensitive;
use percent_encoding::percent_decode_str;
use reqwest::Url;

use crate::AmqpError;

/// A named broker connection from the operator's config (`client.hcl` or
/// `env.hcl`, `type = "amqp"`).
#[derive(Clone)]
pub struct AmqpConnection {
    name: String,
    /// The management API's base URL, without credentials.
    base: Url,
    username: String,
    password: Sensitive,
}

impl std::fmt::Debug for AmqpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConnection")
            .field("name", &self.name)
            .field("target", &self.target())
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl AmqpConnection {
    /// `url` is the management API's address, `http(s)://host:15672` (a path
    /// prefix is kept, for a broker behind a proxy). The admin credentials are
    /// `username` and `password`, or else the URL's `user:password@`.
    pub fn new(
        name: impl Into<String>,
        url: &Sensitive,
        username: Option<Sensitive>,
        password: Option<Sensitive>,
    ) -> Result<Self, AmqpError> {
        let name = name.into();
        let invalid = |why: &str| AmqpError::InvalidUrl { connection: name.clone(), why: why.to_string() };
        // The parser's error could quote the URL: say only what is wrong.
        let mut base = Url::parse(url.expose()).map_err(|_| invalid("it cannot be parsed"))?;
        match base.scheme() {
            "http" | "https" => {}
            "amqp" | "amqps" => {
                return Err(invalid(
                    "it must be the broker's management API (http://host:15672 or https://…), \
                     not its AMQP address: vhosts, users and permissions are managed over HTTP",
                ));
            }
            _ => return Err(invalid("the scheme must be http or https")),
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it has no host"));
        }
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let url_user = Some(decode(base.username())).filter(|u| !u.is_empty());
        let url_password = base.password().map(|p| Sensitive::new(decode(p)));
        // Credentials never stay in the URL we keep, print or send.
        let _ = base.set_username("");
        let _ = base.set_password(None);
        base.set_query(None);
        base.set_fragment(None);
        let username = username.map(|u| u.expose().to_string()).or(url_user);
        let password = password.or(url_password);
        let (Some(username), Some(password)) = (username, password) else {
            return Err(AmqpError::MissingCredentials { connection: name });
        };
        Ok(Self { name, base, username, password })
    }

    /// The connection's name in the operator's config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The admin user the driver logs in as.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// `name (http://host:port)`, for messages.
    pub fn target(&self) -> String {
        format!("{} ({})", self.name, self.base.as_str().trim_end_matches('/'))
    }

    pub(crate) fn password(&self) -> &Sensitive {
        &self.password
    }

    /// `<base>/api/<segments…>`, each segment percent-encoded (so the
    /// default vhost `/` becomes `%2F`, as the API expects).
    pub(crate) fn api_url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("api").extend(segments);
        }
        url
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
        let c =
            AmqpConnection::new("broker", &s("https://admin:p%40ss@mq.example:15671/"), None, None).unwrap();
        assert_eq!(c.username(), "admin");
        assert_eq!(c.password().expose(), "p@ss");
        assert_eq!(c.target(), "broker (https://mq.example:15671)");
        assert!(!format!("{c:?}").contains("p@ss"));

        let c = AmqpConnection::new(
            "broker",
            &s("http://127.0.0.1:15672/rabbit/"),
            Some(s("ops")),
            Some(s("secret")),
        )
        .unwrap();
        assert_eq!(c.username(), "ops");
        assert_eq!(c.api_url(&["vhosts", "/"]).as_str(), "http://127.0.0.1:15672/rabbit/api/vhosts/%2F");
        assert_eq!(
            c.api_url(&["queues", "a b", "q"]).as_str(),
            "http://127.0.0.1:15672/rabbit/api/queues/a%20b/q"
        );
    }

    #[test]
    fn amqp_urls_missing_credentials_and_garbage_are_refused_without_echo() {
        let e = AmqpConnection::new("broker", &s("amqp://u:hunter2@mq:5672/"), None, None).unwrap_err();
        assert!(e.to_string().contains("management API"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = AmqpConnection::new("broker", &s("http://mq:15672"), Some(s("u")), None).unwrap_err();
        assert!(matches!(e, AmqpError::MissingCredentials { .. }), "{e}");
        let e = AmqpConnection::new("broker", &s("not a url hunter2"), None, None).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
