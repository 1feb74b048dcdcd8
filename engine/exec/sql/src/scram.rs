//! SCRAM-SHA-256 verifiers: how a role's password is set, and how we tell
//! whether the stored one already matches without sending the password.
//!
//! PostgreSQL stores `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
//! (RFC 5802/7677). Given the password, the salt and the iteration count from
//! the stored verifier, recomputing StoredKey and ServerKey says whether the
//! password is the same. Setting a password sends a verifier computed here,
//! so the clear password never appears in a statement (or a server log).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// A fresh verifier (random salt, 4096 iterations) for `password`, the form
/// `ALTER ROLE … PASSWORD '<verifier>'` accepts. Contains no quote characters.
pub fn scram_verifier(password: &str) -> String {
    postgres_protocol::password::scram_sha_256(password.as_bytes())
}

/// Whether `verifier` (as stored in `pg_authid.rolpassword`) was made from
/// `password`. Anything that is not a well-formed SCRAM-SHA-256 verifier
/// (an MD5 hash, no password) does not match.
pub fn verifier_matches(password: &str, verifier: &str) -> bool {
    let Some(rest) = verifier.strip_prefix("SCRAM-SHA-256$") else { return false };
    let Some((params, keys)) = rest.split_once('$') else { return false };
    let Some((iterations, salt)) = params.split_once(':') else { return false };
    let Some((stored_key, server_key)) = keys.split_once(':') else { return false };
    let (Ok(iterations), Ok(salt), Ok(stored_key), Ok(server_key)) = (
        iterations.parse::<u32>(),
        STANDARD.decode(salt),
        STANDARD.decode(stored_key),
        STANDARD.decode(server_key),
    ) else {
        return false;
    };
    if iterations == 0 || iterations > 10_000_000 {
        return false;
    }
    let salted = hi(&normalize(password), &salt, iterations);
    let client_key = hmac(&salted, b"Client Key");
    let server = hmac(&salted, b"Server Key");
    // Not secret-dependent timing in any useful sense (the stored verifier is
    // ours to read), but compare whole values anyway.
    Sha256::digest(client_key).as_slice() == stored_key.as_slice()
        && server.as_slice() == server_key.as_slice()
}

/// SASLprep as PostgreSQL applies it: normalised when possible, the raw
/// bytes when the password is not valid for SASLprep.
fn normalize(password: &str) -> Vec<u8> {
    match stringprep::saslprep(password) {
        Ok(p) => p.into_owned().into_bytes(),
        Err(_) => password.as_bytes().to_vec(),
    }
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length; the error arm cannot happen.
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// PBKDF2-HMAC-SHA256 with one output block ("Hi" in RFC 5802).
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut first = salt.to_vec();
    first.extend_from_slice(&[0, 0, 0, 1]);
    let mut prev = hmac(password, &first);
    let mut out = prev;
    for _ in 1..iterations {
        prev = hmac(password, &prev);
        for (o, p) in out.iter_mut().zip(prev) {
            *o ^= p;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_verifier_matches_its_password_only() {
        let v = scram_verifier("correct horse");
        assert!(v.starts_with("SCRAM-SHA-256$4096:"));
        assert!(!v.contains('\'') && !v.contains('\\'));
        assert!(verifier_matches("correct horse", &v));
        assert!(!verifier_matches("correct horse ", &v));
        assert!(!verifier_matches("correct horse", "md5abcdef"));
        assert!(!verifier_matches("x", "SCRAM-SHA-256$nonsense"));
    }
}
