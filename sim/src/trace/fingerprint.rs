//! Fingerprints: what a trace, log or report shows in place of a secret.

use sha2::{Digest, Sha256};

/// A short, stable fingerprint of a secret (`fp_` and 12 hex digits of its SHA-256).
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    format!("fp_{}", &hex::encode(digest)[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_short_stable_and_do_not_contain_the_secret() {
        let print = fingerprint("wasim_test_access_token");
        assert_eq!(print, fingerprint("wasim_test_access_token"));
        assert_eq!(print.len(), 15);
        assert!(!print.contains("wasim"));
        assert_ne!(print, fingerprint("another"));
    }
}
