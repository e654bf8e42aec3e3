//! Durations as scenario files write them (`90s`, `15m`, `2h`, `1d`) and as
//! proofs and reports print them (`1d 2h`). A leaf: scenarios read them, checks
//! print them.

/// Longest `advance` or `drain` a scenario may ask for (30 days).
pub const DURATION_MS_MAX: u64 = 30 * 24 * 3_600_000;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// No number in front.
    #[error("expected a duration such as `90s`, `15m`, `2h` or `1d`, got `{0}`")]
    Malformed(String),
    /// A unit other than ms, s, m, h, d.
    #[error("unknown unit `{unit}` in `{text}`: use ms, s, m, h or d")]
    Unit {
        /// The unit given.
        unit: String,
        /// The whole text.
        text: String,
    },
    /// Over [`DURATION_MS_MAX`].
    #[error("`{0}` is longer than 30 days")]
    TooLong(String),
}

/// `90s`, `15m`, `2h`, `1d` (or a bare number of seconds) in milliseconds.
pub fn parse(text: &str) -> Result<u64, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| DurationError::Malformed(text.to_owned()))?;
    let unit_ms = match unit {
        "" | "s" => 1_000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => {
            return Err(DurationError::Unit {
                unit: other.to_owned(),
                text: text.to_owned(),
            });
        }
    };
    let ms = number.saturating_mul(unit_ms);
    if ms > DURATION_MS_MAX {
        return Err(DurationError::TooLong(text.to_owned()));
    }
    Ok(ms)
}

/// Milliseconds in words (`2h`, `90s`, `1d 2h`).
pub fn words(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut parts = Vec::new();
    let mut rest = ms;
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_in_units() {
        assert_eq!(parse("90s"), Ok(90_000));
        assert_eq!(parse("2h"), Ok(7_200_000));
        assert_eq!(parse("1d"), Ok(86_400_000));
        assert_eq!(parse("250ms"), Ok(250));
        assert_eq!(parse("30"), Ok(30_000));
        assert_eq!(parse("30d"), Ok(DURATION_MS_MAX));
        assert!(matches!(parse("31d"), Err(DurationError::TooLong(_))));
        assert!(matches!(parse("2w"), Err(DurationError::Unit { .. })));
        assert!(matches!(parse("h"), Err(DurationError::Malformed(_))));
        assert_eq!(words(90_061_000), "1d 1h 1m 1s");
        assert_eq!(words(0), "0s");
    }
}
