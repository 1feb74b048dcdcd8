//! The AMQP URIs this plugin writes: the `endpoint` output, and each user's
//! connection URI (its credentials in it) in the user's Secret. One function
//! writes both, so they cannot name different servers or vhosts.
//!
//! They follow the RabbitMQ URI spec (<https://www.rabbitmq.com/docs/uri-spec>):
//! user, password and vhost are percent-encoded, and the vhost is one path
//! segment, so a `/` in it is `%2F`.

use capstan_sdk::prelude::Sensitive;

/// The server clients connect to: every part of its AMQP URI but the user's.
#[derive(Clone, Copy, Debug)]
pub struct Server<'a> {
    /// `amqp`, or `amqps` for TLS.
    pub scheme: &'a str,
    /// The broker's host name (a name, never an IPv6 literal: `host` refuses `:`).
    pub host: &'a str,
    /// The AMQP or AMQPS port.
    pub port: u16,
    /// The vhost's name, as the broker knows it (not encoded).
    pub vhost: &'a str,
}

impl Server<'_> {
    /// `scheme://host:port/vhost`: the `endpoint` output, with no credentials.
    pub fn endpoint(&self) -> String {
        self.uri("")
    }

    /// `scheme://user:password@host:port/vhost`: what a client configured
    /// with one string connects with. Sensitive, as the password is in it.
    pub fn connection_uri(&self, username: &str, password: &Sensitive) -> Sensitive {
        let userinfo = format!("{}:{}@", percent_encode(username), percent_encode(password.expose()));
        Sensitive::new(self.uri(&userinfo))
    }

    /// The vhost is always written, `/` included (as `%2F`): the spec reads
    /// an empty path segment as the vhost named "", and a missing one as the
    /// client's choice.
    fn uri(&self, userinfo: &str) -> String {
        format!("{}://{userinfo}{}:{}/{}", self.scheme, self.host, self.port, percent_encode(self.vhost))
    }
}

/// Percent-encodes every byte of `s` but RFC 3986's unreserved characters:
/// safe in the user, password and path segment of a URI alike (`/` becomes
/// `%2F`, `@` `%40`, `:` `%3A`, `%` `%25`; UTF-8 byte by byte).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(vhost: &str) -> Server<'_> {
        Server { scheme: "amqps", host: "mq.data.svc", port: 5671, vhost }
    }

    #[test]
    fn every_part_is_encoded_as_the_amqp_uri_spec_reads_it() {
        let uri = server("team/a").connection_uri("mq-app", &Sensitive::new("p@ss:w/rd%1 é"));
        assert_eq!(uri.expose(), "amqps://mq-app:p%40ss%3Aw%2Frd%251%20%C3%A9@mq.data.svc:5671/team%2Fa");
        assert_eq!(server("team/a").endpoint(), "amqps://mq.data.svc:5671/team%2Fa");
    }

    #[test]
    fn the_default_vhost_is_written_as_its_encoded_name() {
        assert_eq!(server("/").endpoint(), "amqps://mq.data.svc:5671/%2F");
    }
}
