//! The few calls of the OCI distribution API that bundles need, with the
//! authentication real registries ask for: anonymous first; on `401`, the
//! `WWW-Authenticate` challenge says what next — `Basic` (send the login)
//! or `Bearer realm=…,service=…,scope=…` (trade the login, or nothing for
//! anonymous pulls, for a token at the realm, then retry with the token).
//! Tokens are kept per scope for the rest of the run.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use capstan_core::Sensitive;
use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LINK, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};

use super::Credentials;
use super::reference::{OciReference, is_loopback};
use crate::net::{self, ReadError};

/// Manifests are small JSON documents; distribution itself caps them at 4 MiB.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Tag lists, token answers and error bodies.
const MAX_SMALL_BYTES: u64 = 1 << 20;
/// A tag list is paged; a registry that never stops paging is cut off here.
const MAX_TAG_PAGES: usize = 100;

/// What went wrong talking to a registry. The text never holds a password
/// or a token: requests are named by method and URL, which hold neither.
#[derive(Debug)]
pub(crate) enum OciError {
    /// No such repository, tag or blob (`404`).
    NotFound(String),
    /// A body over its limit (in bytes).
    TooLarge {
        what: String,
        limit: u64,
    },
    Failed(String),
}

impl std::fmt::Display for OciError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OciError::NotFound(s) | OciError::Failed(s) => f.write_str(s),
            OciError::TooLarge { what, limit } => write!(f, "{what}: larger than the {limit} byte limit"),
        }
    }
}

#[derive(Clone)]
enum Auth {
    Basic,
    Bearer(Sensitive),
}

/// One request, replayable after authenticating.
struct Req<'a> {
    method: Method,
    url: Url,
    scope: &'a str,
    accept: Option<&'a str>,
    body: Option<(&'a [u8], &'a str)>,
}

pub(crate) struct OciClient {
    registry: OciReference,
    http: Client,
    credentials: Option<Credentials>,
    auth: Mutex<HashMap<String, Auth>>,
}

fn pull(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn push(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

impl OciClient {
    pub fn new(registry: OciReference, credentials: Option<Credentials>) -> Result<Self, OciError> {
        let http = net::client().map_err(|e| OciError::Failed(e.to_string()))?;
        Ok(Self { registry, http, credentials, auth: Mutex::new(HashMap::new()) })
    }

    pub fn registry(&self) -> &OciReference {
        &self.registry
    }

    fn url(&self, path: &str) -> Result<Url, OciError> {
        self.registry.base.join(path).map_err(|e| OciError::Failed(format!("{path}: {e}")))
    }

    /// The manifest tagged `tag` in `repo`.
    pub fn manifest(&self, repo: &str, tag: &str) -> Result<Vec<u8>, OciError> {
        let url = self.url(&format!("v2/{repo}/manifests/{tag}"))?;
        let what = format!("manifest {}/{repo}:{tag}", self.registry.host);
        let resp = self.send(&Req {
            method: Method::GET,
            url,
            scope: &pull(repo),
            accept: Some(super::MANIFEST_MEDIA_TYPE),
            body: None,
        })?;
        read(expect(resp, &[StatusCode::OK], &what)?, MAX_MANIFEST_BYTES, &what)
    }

    /// The blob `digest` of `repo`, refused past `limit` bytes.
    pub fn blob(&self, repo: &str, digest: &str, limit: u64) -> Result<Vec<u8>, OciError> {
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"))?;
        let what = format!("blob {digest} of {}/{repo}", self.registry.host);
        let resp =
            self.send(&Req { method: Method::GET, url, scope: &pull(repo), accept: None, body: None })?;
        read(expect(resp, &[StatusCode::OK], &what)?, limit, &what)
    }

    /// Every tag of `repo`, following the registry's pages (`Link: <…>; rel="next"`).
    pub fn tags(&self, repo: &str) -> Result<Vec<String>, OciError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let what = format!("tags of {}/{repo}", self.registry.host);
        let mut url = self.url(&format!("v2/{repo}/tags/list"))?;
        let mut out = Vec::new();
        for _ in 0..MAX_TAG_PAGES {
            let resp = self.send(&Req {
                method: Method::GET,
                url: url.clone(),
                scope: &pull(repo),
                accept: None,
                body: None,
            })?;
            let resp = expect(resp, &[StatusCode::OK], &what)?;
            let next = next_page(&resp);
            let page: Page = serde_json::from_slice(&read(resp, MAX_SMALL_BYTES, &what)?)
                .map_err(|e| OciError::Failed(format!("{what}: not a tag list: {e}")))?;
            out.extend(page.tags.unwrap_or_default());
            match next {
                Some(link) => url = self.same_origin(&url, &link, &what)?,
                None => return Ok(out),
            }
        }
        Err(OciError::Failed(format!("{what}: more than {MAX_TAG_PAGES} pages")))
    }

    pub fn has_blob(&self, repo: &str, digest: &str) -> Result<bool, OciError> {
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"))?;
        let what = format!("blob {digest} of {}/{repo}", self.registry.host);
        let resp =
            self.send(&Req { method: Method::HEAD, url, scope: &push(repo), accept: None, body: None })?;
        match expect(resp, &[StatusCode::OK], &what) {
            Ok(_) => Ok(true),
            Err(OciError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A monolithic upload: `POST …/blobs/uploads/`, then one `PUT` of the
    /// whole blob to the location the registry answered.
    pub fn upload_blob(&self, repo: &str, digest: &str, bytes: &[u8]) -> Result<(), OciError> {
        let what = format!("upload of {digest} to {}/{repo}", self.registry.host);
        let start = self.url(&format!("v2/{repo}/blobs/uploads/"))?;
        let resp = self.send(&Req {
            method: Method::POST,
            url: start.clone(),
            scope: &push(repo),
            accept: None,
            body: None,
        })?;
        let resp = expect(resp, &[StatusCode::ACCEPTED], &what)?;
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| OciError::Failed(format!("{what}: the registry gave no upload location")))?
            .to_string();
        let mut put = self.same_origin(&start, &location, &what)?;
        put.query_pairs_mut().append_pair("digest", digest);
        let resp = self.send(&Req {
            method: Method::PUT,
            url: put,
            scope: &push(repo),
            accept: None,
            body: Some((bytes, "application/octet-stream")),
        })?;
        expect(resp, &[StatusCode::CREATED], &what).map(drop)
    }

    /// Tags `manifest` as `tag` in `repo`.
    pub fn put_manifest(&self, repo: &str, tag: &str, manifest: &[u8]) -> Result<(), OciError> {
        let url = self.url(&format!("v2/{repo}/manifests/{tag}"))?;
        let what = format!("manifest {}/{repo}:{tag}", self.registry.host);
        let resp = self.send(&Req {
            method: Method::PUT,
            url,
            scope: &push(repo),
            accept: None,
            body: Some((manifest, super::MANIFEST_MEDIA_TYPE)),
        })?;
        expect(resp, &[StatusCode::CREATED], &what).map(drop)
    }

    /// A URL the registry handed back (upload location, next page), which
    /// must stay on the registry's own origin: our credentials go with it.
    fn same_origin(&self, from: &Url, link: &str, what: &str) -> Result<Url, OciError> {
        let url = from.join(link).map_err(|e| OciError::Failed(format!("{what}: bad URL {link:?}: {e}")))?;
        if url.origin() != self.registry.base.origin() {
            return Err(OciError::Failed(format!(
                "{what}: the registry sent us to {}, another origin than {}",
                url.origin().ascii_serialization(),
                self.registry.base.origin().ascii_serialization()
            )));
        }
        Ok(url)
    }

    fn send(&self, req: &Req<'_>) -> Result<Response, OciError> {
        let cached = self.auth.lock().unwrap_or_else(PoisonError::into_inner).get(req.scope).cloned();
        let resp = self.attempt(req, cached.as_ref())?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let auth = self.authenticate(&challenge, req.scope)?;
        let resp = self.attempt(req, Some(&auth))?;
        if matches!(resp.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(OciError::Failed(format!(
                "{} {}: {} ({})",
                req.method,
                req.url,
                if self.credentials.is_some() {
                    "the registry refused the login"
                } else {
                    "the registry refuses anonymous access; give a username and password"
                },
                resp.status()
            )));
        }
        self.auth.lock().unwrap_or_else(PoisonError::into_inner).insert(req.scope.to_string(), auth);
        Ok(resp)
    }

    fn attempt(&self, req: &Req<'_>, auth: Option<&Auth>) -> Result<Response, OciError> {
        let mut rb = self.http.request(req.method.clone(), req.url.clone());
        if let Some(accept) = req.accept {
            rb = rb.header(ACCEPT, accept);
        }
        if let Some((body, content_type)) = req.body {
            rb = rb.header(CONTENT_TYPE, content_type).body(body.to_vec());
        }
        match (auth, &self.credentials) {
            (Some(Auth::Basic), Some(c)) => rb = rb.basic_auth(&c.username, Some(c.password.expose())),
            (Some(Auth::Bearer(token)), _) => rb = rb.bearer_auth(token.expose()),
            _ => {}
        }
        rb.send().map_err(|e| OciError::Failed(format!("{} {}: {e}", req.method, req.url)))
    }

    fn authenticate(&self, challenge: &str, scope: &str) -> Result<Auth, OciError> {
        let (scheme, params) = parse_challenge(challenge);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" if self.credentials.is_some() => Ok(Auth::Basic),
            "basic" => Err(OciError::Failed(format!(
                "{} asks for a login (basic auth); give a username and password",
                self.registry.host
            ))),
            "bearer" => self.token(&params, scope).map(Auth::Bearer),
            "" => Err(OciError::Failed(format!("{} answered 401 without a challenge", self.registry.host))),
            other => Err(OciError::Failed(format!(
                "{} asks for {other} authentication, which this engine does not speak (basic and bearer only)",
                self.registry.host
            ))),
        }
    }

    /// Asks the challenge's realm for a token covering `scope` (and the
    /// scope the challenge names, when it differs).
    fn token(&self, params: &HashMap<String, String>, scope: &str) -> Result<Sensitive, OciError> {
        let realm = params.get("realm").ok_or_else(|| {
            OciError::Failed(format!("{}: a Bearer challenge without a realm", self.registry.host))
        })?;
        let mut url =
            Url::parse(realm).map_err(|e| OciError::Failed(format!("token realm {realm:?}: {e}")))?;
        let plain_ok = url.scheme() == "http" && url.host_str().is_some_and(is_loopback);
        if url.scheme() != "https" && !plain_ok {
            return Err(OciError::Failed(format!(
                "token realm {realm} is not HTTPS (plain HTTP only to a loopback host): not sending anything there"
            )));
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = params.get("service") {
                query.append_pair("service", service);
            }
            query.append_pair("scope", scope);
            if let Some(asked) = params.get("scope").filter(|s| *s != scope) {
                query.append_pair("scope", asked);
            }
        }
        let mut rb = self.http.get(url);
        if let Some(c) = &self.credentials {
            rb = rb.basic_auth(&c.username, Some(c.password.expose()));
        }
        let what = format!("token from {realm}");
        let resp = rb.send().map_err(|e| OciError::Failed(format!("{what}: {e}")))?;
        if matches!(resp.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(OciError::Failed(format!(
                "{what}: {} ({})",
                if self.credentials.is_some() { "the login was refused" } else { "a login is needed" },
                resp.status()
            )));
        }
        let body = read(expect(resp, &[StatusCode::OK], &what)?, MAX_SMALL_BYTES, &what)?;
        #[derive(serde::Deserialize)]
        struct Answer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| OciError::Failed(format!("{what}: not a token answer: {e}")))?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .map(Sensitive::new)
            .ok_or_else(|| OciError::Failed(format!("{what}: the answer holds no token")))
    }
}

/// `resp` when its status is one of `ok`; else why not, with the
/// registry's own error codes (`NAME_UNKNOWN: repository name not known…`).
fn expect(resp: Response, ok: &[StatusCode], what: &str) -> Result<Response, OciError> {
    let status = resp.status();
    if ok.contains(&status) {
        return Ok(resp);
    }
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: String,
        #[serde(default)]
        message: String,
    }
    let detail = net::read_capped(resp, MAX_SMALL_BYTES)
        .ok()
        .and_then(|b| serde_json::from_slice::<Errors>(&b).ok())
        .map(|e| {
            let parts: Vec<String> = e.errors.iter().map(|e| format!("{}: {}", e.code, e.message)).collect();
            format!(" ({})", parts.join("; "))
        })
        .unwrap_or_default();
    let text = format!("{what}: {status}{detail}");
    Err(if status == StatusCode::NOT_FOUND { OciError::NotFound(text) } else { OciError::Failed(text) })
}

fn read(resp: Response, limit: u64, what: &str) -> Result<Vec<u8>, OciError> {
    net::read_capped(resp, limit).map_err(|e| match e {
        ReadError::TooLarge => OciError::TooLarge { what: what.to_string(), limit },
        ReadError::Io(e) => OciError::Failed(format!("{what}: {e}")),
    })
}

/// The target of `Link: <url>; rel="next"`, if the response has one.
fn next_page(resp: &Response) -> Option<String> {
    let link = resp.headers().get(LINK)?.to_str().ok()?;
    link.split(',').find(|part| part.contains("rel=\"next\"")).and_then(|part| {
        let start = part.find('<')? + 1;
        let end = part[start..].find('>')? + start;
        Some(part[start..end].to_string())
    })
}

/// `Bearer realm="…",service="…"` → (`Bearer`, {realm, service}). Values
/// may be quoted (with `\"` escapes) and quoted values may hold commas.
fn parse_challenge(header: &str) -> (String, HashMap<String, String>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    (scheme.to_string(), params)
}

#[cfg(test)]
mod tests {
    use super::parse_challenge;

    #[test]
    fn a_bearer_challenge_with_a_comma_in_a_quoted_scope_is_read_whole() {
        let (scheme, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:acme/app:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:acme/app:pull,push");
        let (scheme, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!((scheme.as_str(), p["realm"].as_str()), ("Basic", "Registry Realm"));
    }
}
