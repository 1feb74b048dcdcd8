//! `[scheme://]host[:port][/path][:tag]`: where a registry is, which
//! repository path, and (for `plugin push`) which tag.

use std::net::IpAddr;

/// A parsed reference. `path` has no leading or trailing `/`; for a
/// `plugin_source` it is the prefix under which plugin repositories live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciReference {
    /// `http://host:port/` or `https://host:port/`: where the `/v2/` API is.
    pub base: reqwest::Url,
    /// The host as written (`127.0.0.1:5000`), for messages and locators.
    pub host: String,
    /// Repository path, e.g. `acme/messaging-sqs`; may be empty.
    pub path: String,
    /// The tag after the last `:` of the path, e.g. `1.2.0`, when written.
    pub tag: Option<String>,
}

impl OciReference {
    /// Parses `text`, refusing plain HTTP to anything but a loopback host
    /// and credentials written into the reference.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = match text.split_once("://") {
            Some(("https", rest)) => (Some("https"), rest),
            Some(("http", rest)) => (Some("http"), rest),
            // Helm's spelling of "a registry": the default rule applies.
            Some(("oci", rest)) => (None, rest),
            Some((other, _)) => return Err(format!("scheme {other}:// is not http://, https:// or oci://")),
            None => (None, text),
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() {
            return Err("no registry host (expected host[:port]/path, e.g. 127.0.0.1:5000/acme)".into());
        }
        if host.contains('@') {
            return Err("credentials do not belong in the reference; use username/password".into());
        }
        let probe = reqwest::Url::parse(&format!("https://{host}/"))
            .map_err(|e| format!("registry host {host:?}: {e}"))?;
        let loopback = probe.host_str().is_some_and(is_loopback);
        let scheme = match scheme {
            Some("http") if !loopback => {
                return Err(format!(
                    "plain HTTP is allowed only to a loopback registry (127.0.0.1, ::1, localhost), not {host}; \
                     use https://"
                ));
            }
            Some(s) => s,
            // Docker's rule for registries without a scheme: loopback ones may be plain HTTP.
            None if loopback => "http",
            None => "https",
        };
        let base = reqwest::Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| format!("registry host {host:?}: {e}"))?;
        let path = path.trim_matches('/');
        let (path, tag) = match path.rsplit_once('/').map_or(path, |(_, last)| last).split_once(':') {
            Some((_, tag)) => (&path[..path.len() - tag.len() - 1], Some(tag.to_string())),
            None => (path, None),
        };
        if let Some(bad) = path.split('/').find(|s| !path.is_empty() && !valid_component(s)) {
            return Err(format!(
                "repository path segment {bad:?} is not lowercase letters and digits joined by . _ __ or -"
            ));
        }
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(format!(
                "tag {t:?} is not 1-128 letters, digits, _ . or - (not starting with . or -)"
            ));
        }
        Ok(Self { base, host: host.to_string(), path: path.to_string(), tag })
    }

    /// `path/sub`, or `sub` when the path is empty.
    pub fn join(&self, sub: &str) -> String {
        if self.path.is_empty() { sub.to_string() } else { format!("{}/{sub}", self.path) }
    }
}

impl std::fmt::Display for OciReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.host)?;
        if !self.path.is_empty() {
            write!(f, "/{}", self.path)?;
        }
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        Ok(())
    }
}

/// `localhost`, `127.0.0.0/8` or `::1` (a URL's host, brackets and all).
pub(crate) fn is_loopback(host: &str) -> bool {
    let name = host.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The tag a version is pushed under (`+` is not allowed in tags).
pub fn tag_of(version: &semver::Version) -> String {
    version.to_string().replace('+', "_")
}

/// The version a tag stands for, when it is one that [`tag_of`] writes
/// (`latest`, `v1.2` and the like are not versions).
pub fn version_of_tag(tag: &str) -> Option<semver::Version> {
    let version = semver::Version::parse(&tag.replace('_', "+")).ok()?;
    (tag_of(&version) == tag).then_some(version)
}

/// One path component as the distribution spec allows it:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        match &s[start..i] {
            "." | "_" | "__" => {}
            sep if sep.bytes().all(|b| b == b'-') => {}
            _ => return false,
        }
    }
    true
}

/// `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    t.len() <= 128
        && t.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && t.bytes().all(ok)
}
