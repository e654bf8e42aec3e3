//! Business-scoped user ids (BSUIDs): from April 2026 Meta identifies a WhatsApp
//! user to a business by `CC.<alphanumerics>` (`US.13491208655302741918`), where
//! `CC` is the user's ISO country. Policy profile `2026-04` puts them on webhooks
//! (`Policy::bsuid`).
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>
//!
//! wasim derives one without drawing from any random stream: a SHA-256 of the world
//! seed, the business (its WABA id) and the user's wa_id, written as 20 decimal
//! digits. So a user keeps one BSUID per business for the life of a world, other
//! businesses and other seeds see another one, and turning the flag on shifts no
//! other draw.

use sha2::{Digest, Sha256};

/// Digits after `CC.`: as many as Meta's example has.
pub const DIGITS: usize = 20;

/// The BSUID of the user `wa_id` (in `country`, ISO 3166 alpha-2) for the business
/// whose WABA is `business_id`, in a world seeded with `seed`.
pub fn derive(seed: u64, business_id: &str, country: &str, wa_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"wasim-bsuid\0")
        .chain_update(seed.to_le_bytes())
        .chain_update(business_id.as_bytes())
        .chain_update([0])
        .chain_update(wa_id.as_bytes())
        .finalize();
    let mut high = [0u8; 8];
    high.copy_from_slice(&digest[..8]);
    let number = u64::from_le_bytes(high);
    let width = DIGITS;
    format!("{country}.{number:0width$}")
}

/// True if `text` looks like a BSUID: two capital letters, a dot, then 1 to 128
/// ASCII letters or digits (Meta: "up to 128 alphanumerics"). The parent form
/// `CC.ENT.<…>` is not one: wasim never emits it.
pub fn is_well_formed(text: &str) -> bool {
    let Some((country, rest)) = text.split_once('.') else {
        return false;
    };
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && (1..=128).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bsuid_is_the_country_a_dot_and_twenty_digits() {
        let id = derive(1, "100000000000001", "US", "14155550123");
        assert!(is_well_formed(&id), "{id}");
        assert!(id.starts_with("US."), "{id}");
        assert_eq!(id.len(), 3 + DIGITS, "{id}");
        assert!(id[3..].bytes().all(|b| b.is_ascii_digit()), "{id}");
    }

    #[test]
    fn it_is_stable_per_user_and_business_and_differs_otherwise() {
        let id = derive(1, "100000000000001", "BR", "5511987654321");
        assert_eq!(id, derive(1, "100000000000001", "BR", "5511987654321"));
        assert_ne!(id, derive(1, "100000000000002", "BR", "5511987654321"));
        assert_ne!(id, derive(2, "100000000000001", "BR", "5511987654321"));
        assert_ne!(id, derive(1, "100000000000001", "BR", "5511987654322"));
    }

    #[test]
    fn well_formedness_follows_meta_s_format() {
        assert!(is_well_formed("US.13491208655302741918"));
        assert!(is_well_formed("DE.abc123"));
        for bad in [
            "",
            "US",
            "US.",
            "us.123",
            "USA.123",
            "US.12-3",
            "US.ENT.123",
            "14155550123",
        ] {
            assert!(!is_well_formed(bad), "{bad}");
        }
        assert!(!is_well_formed(&format!("US.{}", "1".repeat(129))));
    }
}
