//! Inputs of the ACME issuer: its account, how it answers challenges
//! (HTTP-01 through an ingress class, DNS-01 through a DNS provider
//! cert-manager supports natively) and the external account binding some
//! CAs require.
//!
//! Credentials are never inputs here, only references to Secrets the
//! operator keeps in the cluster resource namespace: a ClusterIssuer
//! renders in clear in Git and in the plan, and cert-manager reads the
//! Secret itself when it needs the value.

use capstan_core::Diagnostic;
use schemars::JsonSchema;
use serde::Deserialize;

use super::is_dns_subdomain;

/// The ACME ClusterIssuer.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Acme {
    /// Whether to render the ACME ClusterIssuer.
    pub enabled: bool,
    /// Name of the ClusterIssuer.
    pub name: String,
    /// The ACME directory URL (Let's Encrypt staging by default; ZeroSSL is
    /// `https://acme.zerossl.com/v2/DV90`, Google Trust Services
    /// `https://dv.acme-v02.api.pki.goog/directory`).
    pub server: String,
    /// The ACME account's contact address.
    #[serde(default)]
    pub email: String,
    /// Answer HTTP-01 challenges through an ingress class (the `waf`
    /// dependency's, else `ingress_class`). HTTP-01 cannot prove a wildcard;
    /// set it to false to answer every challenge through `dns01`.
    #[serde(default = "yes")]
    pub http01: bool,
    /// Ingress class for HTTP-01 challenges when there is no `waf` dependency.
    #[serde(default)]
    pub ingress_class: Option<String>,
    /// Answer DNS-01 challenges through a DNS provider; required for
    /// wildcard hosts. Absent: no DNS-01 solver.
    #[serde(default)]
    pub dns01: Option<Dns01>,
    /// External account binding, for CAs that register ACME accounts only
    /// against an account of theirs (ZeroSSL, Google Trust Services, most
    /// commercial CAs). Absent: no binding (Let's Encrypt needs none).
    #[serde(default)]
    pub external_account_binding: Option<ExternalAccountBinding>,
}

fn yes() -> bool {
    true
}

/// A DNS-01 solver: exactly one provider, optionally limited to some zones.
///
/// The optional blocks here are `#[schemars(inline)]`: an optional
/// referenced schema becomes an `anyOf`, and a schema error under it is
/// then reported at the block with no hint of which attribute is wrong.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct Dns01 {
    /// DNS zones this solver answers for (such as `example.com`). Empty: every
    /// name HTTP-01 cannot prove (wildcards), or every name when `http01` is
    /// false. When set, cert-manager prefers this solver over HTTP-01 for
    /// names in these zones (a zone selector is more specific than none).
    #[serde(default)]
    pub zones: Vec<String>,
    /// AWS Route 53. Credentials are ambient unless `access_key` or
    /// `service_account` is set: the AWS SDK's default chain in the
    /// cert-manager controller (IRSA or EKS Pod Identity on cert-manager's
    /// own ServiceAccount, or the node's instance profile), which
    /// cert-manager allows ClusterIssuers unless started with
    /// `--cluster-issuer-ambient-credentials=false`.
    #[serde(default)]
    pub route53: Option<Route53>,
    /// Cloudflare, with an API token (`Zone:DNS:Edit` on the zones). Global
    /// API keys are not offered: they can do anything the account can.
    #[serde(default)]
    pub cloudflare: Option<Cloudflare>,
    /// An authoritative server accepting RFC 2136 dynamic updates (BIND,
    /// Knot, PowerDNS, Windows DNS). TSIG is required: an unsigned update
    /// lets anyone who reaches the server rewrite the zone.
    #[serde(default)]
    pub rfc2136: Option<Rfc2136>,
}

/// A key of a Secret in the cluster resource namespace (where cert-manager
/// reads a ClusterIssuer's Secrets). The Secret is the operator's to create
/// (by hand, External Secrets, or another component): this plugin only
/// names it.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretKeySelector {
    /// Name of the Secret.
    pub name: String,
    /// The key in the Secret's data holding the value.
    pub key: String,
}

/// Route 53 credentials: ambient unless `access_key` or `service_account` is
/// set.
///
/// Ambient means the AWS SDK's default chain in the cert-manager
/// controller: IRSA or EKS Pod Identity on cert-manager's own
/// ServiceAccount, or the node's instance profile. cert-manager allows
/// ambient credentials to ClusterIssuers unless it was started with
/// `--cluster-issuer-ambient-credentials=false`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct Route53 {
    /// Region hint for the credential scope (Route 53 itself is global);
    /// cert-manager's `AWS_REGION` when absent.
    #[serde(default)]
    pub region: Option<String>,
    /// The hosted zone to write challenge records to; looked up by name
    /// (route53:ListHostedZonesByName) when absent.
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
    /// IAM role ARN to assume with the credentials. Required with
    /// `service_account`.
    #[serde(default)]
    pub role: Option<String>,
    /// A static access key, from a Secret.
    #[serde(default)]
    pub access_key: Option<Route53AccessKey>,
    /// A ServiceAccount whose token cert-manager requests and exchanges for
    /// `role` (AssumeRoleWithWebIdentity): IRSA without annotating
    /// cert-manager's own ServiceAccount. cert-manager needs RBAC to create
    /// tokens for it (`serviceaccounts/token`, verb `create`), which this
    /// plugin does not render.
    #[serde(default)]
    pub service_account: Option<Route53ServiceAccount>,
}

/// An AWS access key, both halves in Secrets.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct Route53AccessKey {
    /// The access key ID.
    pub access_key_id_secret: SecretKeySelector,
    /// The secret access key.
    pub secret_access_key_secret: SecretKeySelector,
}

/// The ServiceAccount of Route 53 web-identity credentials.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct Route53ServiceAccount {
    /// Name of the ServiceAccount, in the cluster resource namespace.
    pub name: String,
    /// Token audiences; cert-manager's default (`sts.amazonaws.com`) when empty.
    #[serde(default)]
    pub audiences: Vec<String>,
}

/// Cloudflare. Only API tokens: a global API key can do anything the
/// account can, a token can be limited to `Zone:DNS:Edit` on the zones.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct Cloudflare {
    /// The Secret key holding the API token.
    pub api_token_secret: SecretKeySelector,
}

/// RFC 2136 dynamic updates. TSIG is required: an unsigned update lets
/// anyone who reaches the server rewrite the zone.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct Rfc2136 {
    /// The authoritative server, `host[:port]` (an IPv6 address in brackets).
    pub nameserver: String,
    /// Name of the TSIG key as the server knows it.
    pub tsig_key_name: String,
    /// The Secret key holding the TSIG secret (base64, as `tsig-keygen` prints it).
    pub tsig_secret: SecretKeySelector,
    /// The TSIG algorithm; must match the server's key.
    #[serde(default)]
    pub tsig_algorithm: TsigAlgorithm,
    /// Transport of the updates; cert-manager's default (UDP) when absent.
    #[serde(default)]
    pub protocol: Option<DnsProtocol>,
}

/// TSIG algorithms cert-manager implements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum TsigAlgorithm {
    /// Legacy; only for servers that offer nothing else.
    #[serde(rename = "HMACMD5")]
    HmacMd5,
    /// Legacy.
    #[serde(rename = "HMACSHA1")]
    HmacSha1,
    /// The default here and of BIND's `tsig-keygen` (cert-manager's own
    /// default is HMACMD5, which is not a safe default).
    #[default]
    #[serde(rename = "HMACSHA256")]
    HmacSha256,
    /// SHA-512.
    #[serde(rename = "HMACSHA512")]
    HmacSha512,
}

impl TsigAlgorithm {
    /// The value cert-manager reads.
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacMd5 => "HMACMD5",
            TsigAlgorithm::HmacSha1 => "HMACSHA1",
            TsigAlgorithm::HmacSha256 => "HMACSHA256",
            TsigAlgorithm::HmacSha512 => "HMACSHA512",
        }
    }
}

/// Transport of RFC 2136 updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(inline)]
pub enum DnsProtocol {
    /// TCP.
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
}

impl DnsProtocol {
    /// The value cert-manager reads.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsProtocol::Tcp => "TCP",
            DnsProtocol::Udp => "UDP",
        }
    }
}

/// External account binding: the CA's key ID and the HMAC key it issued.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct ExternalAccountBinding {
    /// The key ID the CA gave (EAB "KID"); not secret.
    pub key_id: String,
    /// The Secret key holding the HMAC key, base64url without padding, as
    /// the CA gives it.
    pub hmac_key_secret: SecretKeySelector,
    /// The MAC algorithm. cert-manager (v1.21, the CRDs tested against)
    /// marks this field deprecated and signs with HS256 whatever it says;
    /// absent, it is not rendered.
    #[serde(default)]
    pub key_algorithm: Option<EabKeyAlgorithm>,
}

/// The MAC algorithms the ACME ClusterIssuer schema accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(inline)]
pub enum EabKeyAlgorithm {
    /// HMAC-SHA256: what every ACME CA issues and cert-manager uses.
    HS256,
    /// HMAC-SHA384.
    HS384,
    /// HMAC-SHA512.
    HS512,
}

impl EabKeyAlgorithm {
    /// The value cert-manager reads.
    pub fn as_str(self) -> &'static str {
        match self {
            EabKeyAlgorithm::HS256 => "HS256",
            EabKeyAlgorithm::HS384 => "HS384",
            EabKeyAlgorithm::HS512 => "HS512",
        }
    }
}

/// The DNS-01 provider chosen, after [`check`] found exactly one.
pub enum Dns01Provider<'a> {
    /// AWS Route 53.
    Route53(&'a Route53),
    /// Cloudflare.
    Cloudflare(&'a Cloudflare),
    /// RFC 2136.
    Rfc2136(&'a Rfc2136),
}

impl Dns01 {
    /// The providers set, in schema order; [`check`] requires exactly one.
    pub fn providers(&self) -> Vec<Dns01Provider<'_>> {
        let mut out = Vec::new();
        if let Some(p) = &self.route53 {
            out.push(Dns01Provider::Route53(p));
        }
        if let Some(p) = &self.cloudflare {
            out.push(Dns01Provider::Cloudflare(p));
        }
        if let Some(p) = &self.rfc2136 {
            out.push(Dns01Provider::Rfc2136(p));
        }
        out
    }

    /// Whether this solver answers for `host` (a wildcard's base name counts).
    pub fn covers(&self, host: &str) -> bool {
        let bare = host.strip_prefix("*.").unwrap_or(host);
        self.zones.is_empty()
            || self.zones.iter().any(|zone| bare == zone || bare.ends_with(&format!(".{zone}")))
    }
}

/// The checks of the ACME inputs the schema cannot say, with pointers under
/// `/acme`. Only called when the ACME issuer is enabled.
pub fn check(acme: &Acme, out: &mut Vec<Diagnostic>) {
    if !is_dns_subdomain(&acme.name) {
        out.push(Diagnostic::error("/acme/name", "must be a DNS-1123 name"));
    }
    let email = &acme.email;
    if !email.contains('@') || email.contains(char::is_whitespace) {
        out.push(Diagnostic::error(
            "/acme/email",
            "an ACME account needs a contact e-mail address (Let's Encrypt warns there before \
             certificates expire)",
        ));
    }
    if !acme.server.starts_with("https://") {
        out.push(Diagnostic::error("/acme/server", "must be an https:// ACME directory URL"));
    }
    if !acme.http01 && acme.dns01.is_none() {
        out.push(Diagnostic::error(
            "/acme/http01",
            "the ACME issuer needs a way to answer challenges: keep http01, or set acme.dns01",
        ));
    }
    if let Some(dns01) = &acme.dns01 {
        check_dns01(dns01, out);
    }
    if let Some(eab) = &acme.external_account_binding {
        check_eab(eab, out);
    }
}

fn check_dns01(dns01: &Dns01, out: &mut Vec<Diagnostic>) {
    for (i, zone) in dns01.zones.iter().enumerate() {
        if !is_dns_subdomain(zone) {
            out.push(Diagnostic::error(
                format!("/acme/dns01/zones/{i}"),
                format!("`{zone}` is not a DNS zone name (such as example.com)"),
            ));
        }
    }
    let providers = dns01.providers();
    if providers.len() != 1 {
        out.push(Diagnostic::error(
            "/acme/dns01",
            format!(
                "set exactly one DNS-01 provider: route53, cloudflare or rfc2136 ({} set)",
                providers.len()
            ),
        ));
    }
    for provider in providers {
        match provider {
            Dns01Provider::Route53(r) => check_route53(r, out),
            Dns01Provider::Cloudflare(c) => {
                check_secret_ref("/acme/dns01/cloudflare/api_token_secret", &c.api_token_secret, out)
            }
            Dns01Provider::Rfc2136(r) => check_rfc2136(r, out),
        }
    }
}

fn check_route53(r: &Route53, out: &mut Vec<Diagnostic>) {
    const AT: &str = "/acme/dns01/route53";
    if let Some(region) = &r.region
        && (region.is_empty()
            || !region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        out.push(Diagnostic::error(format!("{AT}/region"), "must be an AWS region name, such as eu-west-1"));
    }
    if let Some(zone) = &r.hosted_zone_id
        && (zone.is_empty() || !zone.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    {
        out.push(Diagnostic::error(
            format!("{AT}/hosted_zone_id"),
            "must be a Route 53 hosted zone ID (such as Z0123456789ABCDEFGHIJ), not its name",
        ));
    }
    if let Some(role) = &r.role
        && !is_iam_role_arn(role)
    {
        out.push(Diagnostic::error(
            format!("{AT}/role"),
            "must be an IAM role ARN, arn:<partition>:iam::<account>:role/<name>",
        ));
    }
    match (&r.access_key, &r.service_account) {
        (Some(_), Some(_)) => out.push(Diagnostic::error(
            AT,
            "set access_key or service_account, not both (neither: ambient credentials)",
        )),
        (Some(key), None) => {
            check_secret_ref(
                &format!("{AT}/access_key/access_key_id_secret"),
                &key.access_key_id_secret,
                out,
            );
            check_secret_ref(
                &format!("{AT}/access_key/secret_access_key_secret"),
                &key.secret_access_key_secret,
                out,
            );
        }
        (None, Some(sa)) => {
            if !is_dns_subdomain(&sa.name) {
                out.push(Diagnostic::error(
                    format!("{AT}/service_account/name"),
                    "must be a ServiceAccount name",
                ));
            }
            if r.role.is_none() {
                out.push(Diagnostic::error(
                    format!("{AT}/role"),
                    "service_account credentials are exchanged for a role: set the IAM role ARN",
                ));
            }
        }
        (None, None) => {}
    }
}

fn check_rfc2136(r: &Rfc2136, out: &mut Vec<Diagnostic>) {
    const AT: &str = "/acme/dns01/rfc2136";
    if !is_nameserver(&r.nameserver) {
        out.push(Diagnostic::error(
            format!("{AT}/nameserver"),
            "must be host[:port] of the authoritative server (an IPv6 address in brackets), \
             without a scheme",
        ));
    }
    // TSIG key names are domain names; BIND's are often mixed-case.
    if !is_dns_subdomain(&r.tsig_key_name.to_ascii_lowercase()) {
        out.push(Diagnostic::error(
            format!("{AT}/tsig_key_name"),
            "must be the TSIG key's name as the server knows it (a domain name)",
        ));
    }
    check_secret_ref(&format!("{AT}/tsig_secret"), &r.tsig_secret, out);
}

fn check_eab(eab: &ExternalAccountBinding, out: &mut Vec<Diagnostic>) {
    const AT: &str = "/acme/external_account_binding";
    if eab.key_id.is_empty() || eab.key_id.contains(char::is_whitespace) {
        out.push(Diagnostic::error(format!("{AT}/key_id"), "must be the key ID the CA gave"));
    }
    check_secret_ref(&format!("{AT}/hmac_key_secret"), &eab.hmac_key_secret, out);
    if let Some(algorithm) = eab.key_algorithm
        && algorithm != EabKeyAlgorithm::HS256
    {
        out.push(Diagnostic::warning(
            format!("{AT}/key_algorithm"),
            format!(
                "cert-manager ignores keyAlgorithm and signs the binding with HS256; `{}` is \
                 rendered but has no effect",
                algorithm.as_str()
            ),
        ));
    }
}

/// A Secret reference must name a Secret and a key; the messages never
/// echo the value, which may be a credential pasted in the wrong place.
fn check_secret_ref(at: &str, r: &SecretKeySelector, out: &mut Vec<Diagnostic>) {
    if !is_dns_subdomain(&r.name) {
        out.push(Diagnostic::error(
            format!("{at}/name"),
            "must be the name of a Secret in the cluster resource namespace (a DNS-1123 name); \
             the credential itself goes in that Secret, never in these inputs",
        ));
    }
    let key_ok = !r.key.is_empty()
        && r.key.len() <= 253
        && r.key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !key_ok {
        out.push(Diagnostic::error(
            format!("{at}/key"),
            "must be a key of the Secret's data (letters, digits, `-`, `_`, `.`); the credential \
             itself goes in the Secret, never in these inputs",
        ));
    }
}

fn is_iam_role_arn(s: &str) -> bool {
    // arn:<partition>:iam::<account-id>:role/<path/name>
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty()))
}

fn is_nameserver(s: &str) -> bool {
    if s.is_empty() || s.contains("://") || s.contains(char::is_whitespace) {
        return false;
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, tail)) => (v6, tail.strip_prefix(':')),
            None => return false,
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    let host_ok = if s.starts_with('[') {
        host.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        // Names and IPv4 addresses alike are dot-separated labels.
        is_dns_subdomain(&host.to_ascii_lowercase())
    };
    host_ok && port_ok
}
