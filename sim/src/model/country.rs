//! Countries: calling codes, how their numbers look, and which are exempt from
//! the per-user marketing limit (EEA, UK, Japan, South Korea:
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/marketing-templates/per-user-limits>).

/// Member states of the European Economic Area (EU plus Iceland, Liechtenstein, Norway).
const EEA: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

/// Canadian area codes: +1 numbers with these are not US numbers, so the US
/// marketing pause (<https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/marketing-templates/per-user-limits>)
/// does not cover them.
const CANADA_AREA_CODES: &[&str] = &[
    "204", "226", "236", "249", "250", "263", "289", "306", "343", "354", "365", "367", "382",
    "403", "416", "418", "428", "431", "437", "438", "450", "468", "474", "506", "514", "519",
    "548", "579", "581", "584", "587", "604", "613", "639", "647", "672", "683", "705", "709",
    "742", "753", "778", "780", "782", "807", "819", "825", "867", "873", "879", "902", "905",
];

/// US area codes the default world draws from.
pub const US_AREA_CODES: &[&str] = &[
    "201", "202", "205", "206", "212", "213", "214", "303", "305", "310", "312", "404", "407",
    "415", "469", "503", "512", "602", "617", "646", "702", "713", "718", "773", "786", "818",
    "917", "949",
];

/// True if the per-user marketing limit does not apply to or from this country.
pub fn marketing_limit_exempt(country: &str) -> bool {
    // Compared as two bytes: this runs twice for every marketing send.
    let &[a, b] = country.as_bytes() else {
        return false;
    };
    EEA.iter()
        .chain(&["GB", "JP", "KR"])
        .any(|code| code.as_bytes() == [a, b])
}

/// Calling-code prefixes, longest first where they overlap.
const PREFIXES: &[(&str, &str)] = &[
    ("999", "ZZ"),
    ("91", "IN"),
    ("90", "TR"),
    ("86", "CN"),
    ("82", "KR"),
    ("81", "JP"),
    ("65", "SG"),
    ("62", "ID"),
    ("61", "AU"),
    ("57", "CO"),
    ("55", "BR"),
    ("54", "AR"),
    ("52", "MX"),
    ("49", "DE"),
    ("48", "PL"),
    ("47", "NO"),
    ("46", "SE"),
    ("45", "DK"),
    ("44", "GB"),
    ("43", "AT"),
    ("41", "CH"),
    ("39", "IT"),
    ("34", "ES"),
    ("33", "FR"),
    ("32", "BE"),
    ("31", "NL"),
    ("27", "ZA"),
    ("20", "EG"),
    ("7", "RU"),
];

/// The country of a WhatsApp id (digits with calling code), as ISO 3166 alpha-2.
/// `+1` numbers are US unless their area code is Canadian. Unknown codes give `ZZ`.
pub fn country_of(wa_id: &str) -> &'static str {
    if let Some(rest) = wa_id.strip_prefix('1') {
        let area = rest.get(..3).unwrap_or("");
        return if CANADA_AREA_CODES.contains(&area) {
            "CA"
        } else {
            "US"
        };
    }
    PREFIXES
        .iter()
        .find(|(prefix, _)| wa_id.starts_with(prefix))
        .map_or("ZZ", |(_, country)| country)
}

/// A number given as digits with its calling code, written the way Graph's phone
/// number reads show it: `+`, the calling code, a space, the rest (`+1 555-010-0001`
/// for the +1 plan, otherwise ungrouped: `+49 30901820`).
pub fn international(digits: &str) -> String {
    let code_len = if digits.starts_with('1') {
        1
    } else {
        PREFIXES
            .iter()
            .find(|(prefix, _)| digits.starts_with(prefix))
            .map_or(0, |(prefix, _)| prefix.len())
    };
    let (code, rest) = digits.split_at(code_len.min(digits.len()));
    match (code, rest.len()) {
        ("", _) => format!("+{rest}"),
        ("1", 10) => format!("+1 {}-{}-{}", &rest[..3], &rest[3..6], &rest[6..]),
        _ => format!("+{code} {rest}"),
    }
}

/// How to make a plausible mobile number for a country: (prefix, random digits).
pub fn number_shape(country: &str) -> Option<(&'static str, usize)> {
    Some(match country {
        "DE" => ("49151", 8),
        "FR" => ("336", 8),
        "ES" => ("346", 8),
        "IT" => ("393", 9),
        "NL" => ("316", 8),
        "GB" => ("447", 9),
        "IN" => ("919", 9),
        "BR" => ("55119", 8),
        "TR" => ("905", 9),
        "MX" => ("521", 10),
        "ID" => ("628", 10),
        "JP" => ("8190", 8),
        "KR" => ("8210", 8),
        // US and CA draw an area code first (see `US_AREA_CODES`).
        "US" | "CA" => ("1", 7),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that `map` turns each number of `cases` into what stands beside it.
    fn assert_each<T: PartialEq<&'static str> + std::fmt::Debug>(
        map: impl Fn(&str) -> T,
        cases: &[(&str, &'static str)],
    ) {
        for (number, expected) in cases {
            assert_eq!(map(number), *expected, "{number}");
        }
    }

    #[test]
    fn plus_one_numbers_are_us_unless_the_area_code_is_canadian() {
        assert_each(country_of, &[("14155550123", "US"), ("14165550123", "CA")]);
    }

    #[test]
    fn numbers_map_to_their_calling_code_country() {
        assert_each(
            country_of,
            &[
                ("4915112345678", "DE"),
                ("5511987654321", "BR"),
                ("905321234567", "TR"),
                ("999131049", "ZZ"),
                ("3801234", "ZZ"),
            ],
        );
    }

    #[test]
    fn numbers_are_written_with_plus_and_their_calling_code() {
        assert_each(
            international,
            &[
                ("15550100001", "+1 555-010-0001"),
                ("4930901820", "+49 30901820"),
                ("902125550101", "+90 2125550101"),
                ("3801234", "+3801234"),
            ],
        );
    }

    #[test]
    fn eea_uk_japan_and_korea_are_exempt_from_the_marketing_limit() {
        for country in ["DE", "FR", "NO", "GB", "JP", "KR"] {
            assert!(marketing_limit_exempt(country), "{country}");
        }
        for country in ["US", "IN", "BR", "TR", "CH"] {
            assert!(!marketing_limit_exempt(country), "{country}");
        }
    }
}
