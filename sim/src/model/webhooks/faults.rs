//! Webhook fault profiles (issue 3): seeded, integer-ratio chances that a delivery
//! is duplicated, held back so a later one overtakes it, delayed, gathered into a
//! burst, or shadowed by a forged post. A profile may heal after a while, after
//! which delivery is clean again.
//!
//! One parser serves world files (`[webhooks.faults]`) and the control API
//! (`POST /_wasim/webhooks/faults`), so both refuse bad settings with the same
//! message naming the field.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::fields::FieldError;
use crate::model::rng::{Ratio, RatioError};

/// Longest extra delay, reorder hold or burst hold a profile may ask for (7 days).
pub const FAULT_HOLD_MS_MAX: u64 = 7 * 24 * 3600 * 1000;

/// Most deliveries one burst may gather.
pub const BURST_SIZE_MAX: u32 = 1000;

/// How badly the platform delivers webhooks. Every chance is drawn from the
/// world's seeded webhook stream, once per delivery, in the order the fields are
/// listed here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultProfile {
    /// Chance a delivery is first held back by up to `delay_max_ms` of virtual time.
    pub delay: Ratio,
    /// Longest such delay, in virtual milliseconds. Default 30000.
    pub delay_max_ms: u64,
    /// Chance a delivery is held until the next delivery has been posted, so the
    /// later change overtakes it (a `delivered` arriving before its `sent`).
    pub reorder: Ratio,
    /// Longest a reordered delivery waits for one to overtake it. Default 60000.
    pub reorder_hold_ms: u64,
    /// Chance a delivery starts a burst: it and the following deliveries are held
    /// and then posted back to back.
    pub burst: Ratio,
    /// Deliveries a burst gathers before it is posted. Default 20.
    pub burst_size: u32,
    /// Longest a burst gathers before it is posted anyway. Default 60000.
    pub burst_hold_ms: u64,
    /// Chance a delivery's first attempt is posted twice.
    pub duplicate: Ratio,
    /// Chance a delivery is followed by a forged copy: a new message id, a wrong
    /// signature (or wrong custom header values). A correct receiver refuses it.
    pub forged: Ratio,
    /// Virtual seconds after the profile is set at which delivery heals (clean
    /// again). None: faults last until changed.
    pub heal_after_s: Option<u64>,
}

impl Default for FaultProfile {
    fn default() -> Self {
        FaultProfile {
            delay: Ratio::NEVER,
            delay_max_ms: 30_000,
            reorder: Ratio::NEVER,
            reorder_hold_ms: 60_000,
            burst: Ratio::NEVER,
            burst_size: 20,
            burst_hold_ms: 60_000,
            duplicate: Ratio::NEVER,
            forged: Ratio::NEVER,
            heal_after_s: None,
        }
    }
}

/// The field names a profile accepts, as listed in errors.
pub const FIELDS: &[&str] = &[
    "delay",
    "delay_max_ms",
    "reorder",
    "reorder_hold_ms",
    "burst",
    "burst_size",
    "burst_hold_ms",
    "duplicate",
    "forged",
    "heal_after_s",
];

impl FaultProfile {
    /// Whether any fault can happen.
    pub fn is_clean(&self) -> bool {
        [
            self.delay,
            self.reorder,
            self.burst,
            self.duplicate,
            self.forged,
        ]
        .iter()
        .all(|ratio| ratio.numerator == 0)
    }

    /// Parses a profile from a JSON object (a world file's table is converted to
    /// one first). Fields left out keep their defaults. Errors start with `path`
    /// and the field: `webhooks.faults.duplicate: ...`.
    pub fn from_json(path: &str, value: &Value) -> Result<FaultProfile, FieldError> {
        let Value::Object(object) = value else {
            return Err(FieldError::new(
                path,
                "expected an object of fault settings such as {\"duplicate\": \"1/10\"}",
            ));
        };
        let mut profile = FaultProfile::default();
        for (key, value) in object {
            let field = format!("{path}.{key}");
            match key.as_str() {
                "delay" => profile.delay = ratio(&field, value)?,
                "reorder" => profile.reorder = ratio(&field, value)?,
                "burst" => profile.burst = ratio(&field, value)?,
                "duplicate" => profile.duplicate = ratio(&field, value)?,
                "forged" => profile.forged = ratio(&field, value)?,
                "delay_max_ms" => profile.delay_max_ms = hold_ms(&field, value)?,
                "reorder_hold_ms" => profile.reorder_hold_ms = hold_ms(&field, value)?,
                "burst_hold_ms" => profile.burst_hold_ms = hold_ms(&field, value)?,
                "burst_size" => {
                    let size = whole(&field, value)?;
                    profile.burst_size = u32::try_from(size)
                        .ok()
                        .filter(|size| (2..=BURST_SIZE_MAX).contains(size))
                        .ok_or_else(|| {
                            FieldError::new(
                                field.as_str(),
                                format!("expected 2 to {BURST_SIZE_MAX}, got {size}"),
                            )
                        })?;
                }
                "heal_after_s" => {
                    profile.heal_after_s = match value {
                        Value::Null => None,
                        value => Some(whole(&field, value)?)
                            .filter(|s| *s <= FAULT_HOLD_MS_MAX / 1000)
                            .map(Some)
                            .ok_or_else(|| {
                                FieldError::new(
                                    field.as_str(),
                                    format!(
                                        "expected at most {} seconds (7 days), got {value}",
                                        FAULT_HOLD_MS_MAX / 1000
                                    ),
                                )
                            })?,
                    };
                }
                _ => {
                    return Err(FieldError::new(
                        path,
                        format!(
                            "unknown field `{key}`, expected one of {}",
                            FIELDS.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(profile)
    }

    /// Reads `[webhooks.faults]` of a world file.
    pub fn from_toml(path: &str, table: &toml::Table) -> Result<FaultProfile, FieldError> {
        let value =
            serde_json::to_value(table).map_err(|e| FieldError::new(path, e.to_string()))?;
        FaultProfile::from_json(path, &value)
    }

    /// The profile as JSON, every field shown.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Object(Map::new()))
    }
}

fn ratio(field: &str, value: &Value) -> Result<Ratio, FieldError> {
    match value {
        Value::String(text) => text
            .parse()
            .map_err(|e: RatioError| FieldError::new(field, e.to_string())),
        other => Err(FieldError::new(
            field,
            format!("expected a ratio string such as \"1/10\", got {other}"),
        )),
    }
}

fn whole(field: &str, value: &Value) -> Result<u64, FieldError> {
    value
        .as_u64()
        .ok_or_else(|| FieldError::new(field, format!("expected a whole number, got {value}")))
}

fn hold_ms(field: &str, value: &Value) -> Result<u64, FieldError> {
    let ms = whole(field, value)?;
    if ms == 0 || ms > FAULT_HOLD_MS_MAX {
        return Err(FieldError::new(
            field,
            format!("expected 1 to {FAULT_HOLD_MS_MAX} milliseconds, got {ms}"),
        ));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_left_out_keep_their_defaults() {
        let profile =
            FaultProfile::from_json("faults", &json!({"duplicate": "1/10", "heal_after_s": 600}))
                .unwrap();
        assert_eq!(profile.duplicate, Ratio::new(1, 10));
        assert_eq!(profile.heal_after_s, Some(600));
        assert_eq!(
            profile.reorder_hold_ms,
            FaultProfile::default().reorder_hold_ms
        );
        assert!(!profile.is_clean());
        assert!(FaultProfile::default().is_clean());
    }

    #[test]
    fn bad_settings_name_the_field() {
        let cases = [
            (
                json!({"duplicate": "2/1"}),
                "faults.duplicate: invalid ratio",
            ),
            (
                json!({"reorder": 0.5}),
                "faults.reorder: expected a ratio string",
            ),
            (
                json!({"burst_size": 1}),
                "faults.burst_size: expected 2 to 1000",
            ),
            (
                json!({"delay_max_ms": 0}),
                "faults.delay_max_ms: expected 1 to",
            ),
            (
                json!({"heal_after_s": -1}),
                "faults.heal_after_s: expected a whole number",
            ),
            (
                json!({"dupe": "1/2"}),
                "faults: unknown field `dupe`, expected one of delay,",
            ),
            (json!(["duplicate"]), "faults: expected an object"),
        ];
        for (value, expected) in cases {
            let error = FaultProfile::from_json("faults", &value)
                .unwrap_err()
                .to_string();
            assert!(error.starts_with(expected), "{value}: {error}");
        }
    }

    #[test]
    fn a_toml_table_parses_like_json() {
        let table: toml::Table = toml::from_str("forged = \"1/3\"\nburst_size = 5").unwrap();
        let profile = FaultProfile::from_toml("webhooks.faults", &table).unwrap();
        assert_eq!(profile.forged, Ratio::new(1, 3));
        assert_eq!(profile.burst_size, 5);
        let table: toml::Table = toml::from_str("forged = 3").unwrap();
        let error = FaultProfile::from_toml("webhooks.faults", &table)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("webhooks.faults.forged: expected a ratio"),
            "{error}"
        );
    }
}
