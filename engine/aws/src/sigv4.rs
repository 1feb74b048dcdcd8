//! AWS Signature Version 4 (header signing), for the AWS APIs Capstan calls
//! (SQS, WAFv2, SSM, Secrets Manager). Kept small on purpose: the caller
//! hands over an already-encoded path and canonical query. The tests below
//! check it against the AWS SigV4 test suite; the moto tests of
//! capstan-http and capstan-secrets against a server that verifies
//! signatures.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::clock::UtcTime;

/// The parts of an HTTP request that are signed.
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// `host` or `host:port`, exactly as sent in the Host header.
    pub host: &'a str,
    /// Already URI-encoded path, `/` for the root.
    pub path: &'a str,
    /// Already canonical (sorted, encoded) query string; empty for none.
    pub query: &'a str,
    /// Headers to sign besides `host` and `x-amz-date` (lowercase names).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body, hashed into the signature.
    pub payload: &'a [u8],
}

/// Who signs, for which region and service.
pub struct Signer<'a> {
    /// The access key id, sent in the clear in the credential scope.
    pub access_key_id: &'a str,
    /// The secret key: only HMAC keys are derived from it, it is never sent.
    pub secret_access_key: &'a str,
    /// `us-east-1`, …
    pub region: &'a str,
    /// The signing name (`sqs`, `ssm`).
    pub service: &'a str,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

impl Signer<'_> {
    /// The `x-amz-date` and `authorization` headers for `request` at `time`.
    pub fn sign(&self, request: &Request<'_>, time: UtcTime) -> [(String, String); 2] {
        let amz_date = time.amz_datetime();
        let date = time.amz_date();

        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
            .chain([
                ("host".to_owned(), request.host.to_owned()),
                ("x-amz-date".to_owned(), amz_date.clone()),
            ])
            .collect();
        headers.sort();
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed_headers = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");

        let canonical_request = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            request.method,
            request.path,
            request.query,
            canonical_headers,
            signed_headers,
            hex::encode(Sha256::digest(request.payload))
        );
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );

        let k_date = hmac(format!("AWS4{}", self.secret_access_key).as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, self.service.as_bytes());
        let k_signing = hmac(&k_service, b"aws4_request");
        let signature = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));

        [
            ("x-amz-date".to_owned(), amz_date),
            (
                "authorization".to_owned(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                    self.access_key_id
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signs a case of the AWS SigV4 test suite (its credentials, region,
    /// service, host and time: 2015-08-30T12:36:00Z) with `query`.
    fn sign_suite_case(query: &str) -> [(String, String); 2] {
        let signer = Signer {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
            service: "service",
        };
        let request = Request {
            method: "GET",
            host: "example.amazonaws.com",
            path: "/",
            query,
            headers: &[],
            payload: b"",
        };
        signer.sign(&request, UtcTime::from_unix(1_440_938_160))
    }

    /// `get-vanilla` from the AWS SigV4 test suite.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let [date, auth] = sign_suite_case("");
        assert_eq!(date.1, "20150830T123600Z");
        assert_eq!(
            auth.1,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    /// `get-vanilla-query-order-key-case` from the AWS SigV4 test suite.
    #[test]
    fn aws_test_suite_query_order() {
        let [_, auth] = sign_suite_case("Param1=value1&Param2=value2");
        assert!(
            auth.1.ends_with("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
            "{}",
            auth.1
        );
    }
}
