//! STS `AssumeRoleWithWebIdentity` on the wire: the form the request sends
//! and the XML that comes back, kept apart from the I/O so both are tested
//! alone.
//!
//! STS speaks the query API: a form-encoded POST, an XML answer. The few
//! elements read here are found by name with a small extraction rather than
//! an XML parser: STS's answers are flat, machine-written documents, and no
//! XML crate is otherwise in the build.

use capstan_core::Sensitive;

use crate::settings::AwsCredentials;
use crate::web_identity::TemporaryCredentials;

/// The STS query-API version the request names.
const VERSION: &str = "2011-06-15";

/// The form-encoded body of an `AssumeRoleWithWebIdentity` request. It holds
/// the token, so it stays [`Sensitive`] until it is sent.
pub(crate) fn web_identity_form(role_arn: &str, session_name: &str, token: &Sensitive) -> Sensitive {
    let pairs = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", VERSION),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
        ("WebIdentityToken", token.expose()),
    ];
    let form: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", form_encode(v))).collect();
    Sensitive::new(form.join("&"))
}

/// The credentials of a successful answer. The error names the element that
/// is missing, never a value (the answer holds secrets).
pub(crate) fn parse_credentials(body: &str) -> Result<TemporaryCredentials, String> {
    let credentials = element(body, "Credentials").ok_or("its answer has no <Credentials>")?;
    let field = |tag: &str| {
        element(credentials, tag)
            .map(unescape)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("its <Credentials> have no <{tag}>"))
    };
    Ok(TemporaryCredentials {
        credentials: AwsCredentials {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: Sensitive::new(field("SecretAccessKey")?),
            session_token: Some(Sensitive::new(field("SessionToken")?)),
        },
        expiration: field("Expiration")?,
    })
}

/// STS's error answer: `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error>`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StsError {
    /// `InvalidIdentityToken`, `AccessDenied`, `ExpiredTokenException`, …
    pub code: String,
    /// The human message, as STS wrote it.
    pub message: Option<String>,
}

/// The code and message of an error answer, if it is one.
pub(crate) fn parse_error(body: &str) -> Option<StsError> {
    let error = element(body, "Error")?;
    let code = element(error, "Code").map(unescape).filter(|c| !c.trim().is_empty())?;
    let message = element(error, "Message").map(unescape).filter(|m| !m.trim().is_empty());
    Some(StsError { code: code.trim().to_owned(), message: message.map(|m| m.trim().to_owned()) })
}

/// The text between the first `<tag>` and the next `</tag>`. STS writes its
/// elements without attributes, except the root's `xmlns`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// Element text with XML's entity and character references replaced. An
/// unknown or malformed reference is kept as written.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').and_then(|semi| {
            let name = &after[..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .map(|hex| u32::from_str_radix(hex, 16))
                    .or_else(|| name.strip_prefix('#').map(str::parse::<u32>))
                    .and_then(Result::ok)
                    .and_then(char::from_u32),
            }?;
            Some((c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `application/x-www-form-urlencoded` as AWS reads it: everything but
/// RFC 3986's unreserved characters percent-encoded (a JWT's `.`, `-`, `_`
/// pass; an ARN's `:` and `/` do not).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    /// The shape of STS's answer (AWS's API reference, trimmed), with an
    /// escaped `&` in the token.
    const SUCCESS: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:apps:deployer</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANX&amp;Xmq+lt/Ug==</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2026-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/deployer/capstan</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:capstan</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#;

    #[test]
    fn a_success_answer_gives_temporary_credentials() {
        let issued = parse_credentials(SUCCESS).unwrap();
        assert_eq!(issued.credentials.access_key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            issued.credentials.secret_access_key.expose(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
        );
        assert_eq!(
            issued.credentials.session_token.as_ref().map(Sensitive::expose),
            Some("AQoDYXdzEE0a8ANX&Xmq+lt/Ug=="),
            "entities are decoded"
        );
        assert_eq!(issued.expiration, "2026-10-24T23:00:23Z");
        let debug = format!("{issued:?}");
        assert!(debug.contains("ASIAIOSFODNN7EXAMPLE"), "{debug}");
        assert!(!debug.contains("wJalrXUtnFEMI") && !debug.contains("AQoDYXdzEE0a8ANX"), "{debug}");
    }

    #[test]
    fn an_answer_missing_a_field_names_the_field_not_the_values() {
        let no_token = SUCCESS.replace("<SessionToken>AQoDYXdzEE0a8ANX&amp;Xmq+lt/Ug==</SessionToken>", "");
        let err = parse_credentials(&no_token).unwrap_err();
        assert_eq!(err, "its <Credentials> have no <SessionToken>");
        let empty_key = SUCCESS.replace("ASIAIOSFODNN7EXAMPLE", " ");
        assert_eq!(parse_credentials(&empty_key).unwrap_err(), "its <Credentials> have no <AccessKeyId>");
        assert_eq!(
            parse_credentials("<html>proxy login</html>").unwrap_err(),
            "its answer has no <Credentials>"
        );
        // An <AccessKeyId> outside <Credentials> does not count.
        let outside = "<R><AccessKeyId>AKID</AccessKeyId><Credentials></Credentials></R>";
        assert_eq!(parse_credentials(outside).unwrap_err(), "its <Credentials> have no <AccessKeyId>");
    }

    #[test]
    fn an_error_answer_gives_code_and_message() {
        let body = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>InvalidIdentityToken</Code>
    <Message>Couldn&apos;t retrieve verification key from your identity provider</Message>
  </Error>
  <RequestId>4f3e8d2b-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>"#;
        assert_eq!(
            parse_error(body),
            Some(StsError {
                code: "InvalidIdentityToken".to_owned(),
                message: Some("Couldn't retrieve verification key from your identity provider".to_owned()),
            })
        );
        let bare = "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>";
        assert_eq!(parse_error(bare), Some(StsError { code: "AccessDenied".to_owned(), message: None }));
        assert_eq!(parse_error(SUCCESS), None);
        assert_eq!(parse_error("Bad Gateway"), None);
        assert_eq!(parse_error("<Error><Message>no code</Message></Error>"), None);
    }

    #[test]
    fn references_decode_and_stray_ampersands_stay() {
        assert_eq!(unescape("a&lt;b&gt;&quot;c&quot;&#65;&#x42;"), "a<b>\"c\"AB");
        assert_eq!(unescape("fish & chips &unknown; &#xZZ;"), "fish & chips &unknown; &#xZZ;");
        assert_eq!(unescape("trailing &"), "trailing &");
    }

    #[test]
    fn the_form_names_the_action_and_encodes_every_value() {
        let token = Sensitive::new("eyJhbGciOi.J9+/=");
        let form = web_identity_form("arn:aws:iam::123456789012:role/ci deploy", "capstan-1", &token);
        assert_eq!(
            form.expose(),
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
             &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fci%20deploy\
             &RoleSessionName=capstan-1&WebIdentityToken=eyJhbGciOi.J9%2B%2F%3D"
        );
        assert!(!format!("{form:?}").contains("eyJhbGciOi"));
    }
}
