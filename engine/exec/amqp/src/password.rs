//! RabbitMQ's salted password hashes: how a user's password is set, and how
//! we tell whether the stored one already matches without sending it.
//!
//! The broker stores `base64(salt ‖ H(salt ‖ password))` with a 4-byte salt,
//! H being SHA-256 (`rabbit_password_hashing_sha256`, the default) or SHA-512
//! (`rabbit_password_hashing_sha512`). Given the stored hash, recomputing H
//! with its salt says whether the password is the same; setting a password
//! sends a hash computed here, so the clear password never crosses the wire
//! (nor reaches the broker's logs).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256, Sha512};

/// The algorithm [`hash_password`] uses, as the management API names it.
pub const SHA256: &str = "rabbit_password_hashing_sha256";
const SHA512: &str = "rabbit_password_hashing_sha512";
const SALT_LEN: usize = 4;

/// A fresh salted SHA-256 hash of `password`, the `password_hash` the
/// management API accepts with `hashing_algorithm` = `rabbit_password_hashing_sha256`.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    // The OS's generator does not fail on the platforms we run on; a zero
    // salt would still give a correct (if less private) hash.
    let _ = getrandom::fill(&mut salt);
    salted(&salt, password, SHA256).map(|h| STANDARD.encode(h)).unwrap_or_default()
}

/// Whether `stored` (the user's `password_hash`, made with `algorithm`) was
/// made from `password`. `None` when the algorithm is one we cannot compute
/// (such as the legacy MD5 scheme): the caller cannot tell, and sets it.
pub fn password_matches(password: &str, stored: &str, algorithm: &str) -> Option<bool> {
    if algorithm != SHA256 && algorithm != SHA512 {
        return None;
    }
    let Ok(bytes) = STANDARD.decode(stored) else { return Some(false) };
    if bytes.len() <= SALT_LEN {
        // No password at all (an empty hash): nothing matches.
        return Some(false);
    }
    let (salt, _) = bytes.split_at(SALT_LEN);
    Some(salted(salt, password, algorithm).is_some_and(|h| h == bytes))
}

/// `salt ‖ H(salt ‖ password)`.
fn salted(salt: &[u8], password: &str, algorithm: &str) -> Option<Vec<u8>> {
    let digest = match algorithm {
        SHA256 => Sha256::new().chain_update(salt).chain_update(password).finalize().to_vec(),
        SHA512 => Sha512::new().chain_update(salt).chain_update(password).finalize().to_vec(),
        _ => return None,
    };
    let mut out = salt.to_vec();
    out.extend(digest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_hash_matches_its_password_only() {
        let h = hash_password("correct horse");
        assert_eq!(password_matches("correct horse", &h, SHA256), Some(true));
        assert_eq!(password_matches("correct horse ", &h, SHA256), Some(false));
        assert_ne!(hash_password("correct horse"), h, "salted");
        assert_eq!(password_matches("x", "", SHA256), Some(false));
        assert_eq!(password_matches("x", "%%%", SHA256), Some(false));
        assert_eq!(password_matches("x", &h, "rabbit_password_hashing_md5"), None);
    }

    #[test]
    fn the_brokers_own_hash_of_guest_matches() {
        // What RabbitMQ 3.10 stored for its default `guest` user.
        let stored = "HYK5NhYYdaIAl0OswT8GPndiNfJxRD+bjU2JyEy/4a43oCHN";
        assert_eq!(password_matches("guest", stored, SHA256), Some(true));
        assert_eq!(password_matches("guest2", stored, SHA256), Some(false));
    }
}
