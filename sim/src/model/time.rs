//! Virtual time: `SimTime` (milliseconds since the world epoch) and the clock modes.
//!
//! The model never reads the wall clock; every call takes a `SimTime`. The shell
//! (`crate::state`) maps wall time to virtual time according to the `ClockMode`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A point in virtual time: milliseconds since the world epoch.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct SimTime(u64);

impl SimTime {
    /// The world epoch.
    pub const ZERO: SimTime = SimTime(0);

    /// A time `ms` milliseconds after the epoch.
    pub const fn from_ms(ms: u64) -> Self {
        SimTime(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn as_ms(self) -> u64 {
        self.0
    }

    /// This time plus `ms` milliseconds (saturating).
    #[must_use]
    pub const fn plus_ms(self, ms: u64) -> Self {
        SimTime(self.0.saturating_add(ms))
    }

    /// This time plus `hours` hours (saturating).
    #[must_use]
    pub const fn plus_hours(self, hours: u64) -> Self {
        self.plus_ms(hours.saturating_mul(HOUR_MS))
    }

    /// This time minus `ms` milliseconds, floored at the epoch.
    #[must_use]
    pub const fn minus_ms(self, ms: u64) -> Self {
        SimTime(self.0.saturating_sub(ms))
    }

    /// Milliseconds from `earlier` to `self` (zero if `earlier` is later).
    pub const fn since(self, earlier: SimTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// Milliseconds in one hour.
pub const HOUR_MS: u64 = 3_600_000;

/// How virtual time relates to wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// Virtual time runs at wall-clock rate from the world epoch.
    Real,
    /// Virtual time runs N times faster than the wall clock.
    Scaled(u32),
    /// Virtual time moves only through `POST /_wasim/clock/advance`.
    Manual,
}

impl ClockMode {
    /// Virtual milliseconds per wall millisecond (zero for `manual`).
    pub fn rate(self) -> u64 {
        match self {
            ClockMode::Real => 1,
            ClockMode::Scaled(n) => u64::from(n),
            ClockMode::Manual => 0,
        }
    }
}

impl fmt::Display for ClockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockMode::Real => f.write_str("real"),
            ClockMode::Scaled(n) => write!(f, "scaled:{n}"),
            ClockMode::Manual => f.write_str("manual"),
        }
    }
}

/// Why a clock mode string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid clock mode `{0}`: expected `real`, `manual` or `scaled:N` with N a whole number from 1 to 1000000"
)]
pub struct ClockModeError(String);

impl FromStr for ClockMode {
    type Err = ClockModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "real" => Ok(ClockMode::Real),
            "manual" => Ok(ClockMode::Manual),
            _ => {
                let factor = s
                    .strip_prefix("scaled:")
                    .and_then(|n| n.parse::<u32>().ok())
                    .filter(|n| (1..=1_000_000).contains(n));
                factor
                    .map(ClockMode::Scaled)
                    .ok_or_else(|| ClockModeError(s.to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_modes_round_trip_through_their_names() {
        for text in ["real", "manual", "scaled:60"] {
            let mode: ClockMode = text.parse().expect("valid mode");
            assert_eq!(mode.to_string(), text);
        }
    }

    #[test]
    fn bad_clock_modes_are_refused_with_the_expected_forms() {
        for text in ["", "fast", "scaled:", "scaled:0", "scaled:x", "scaled:-1"] {
            let error = text.parse::<ClockMode>().expect_err("invalid mode");
            assert!(error.to_string().contains("scaled:N"), "{error}");
        }
    }

    #[test]
    fn time_arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(SimTime::ZERO.minus_ms(5), SimTime::ZERO);
        assert_eq!(SimTime::from_ms(u64::MAX).plus_ms(1).as_ms(), u64::MAX);
        assert_eq!(SimTime::from_ms(10).since(SimTime::from_ms(4)), 6);
        assert_eq!(SimTime::ZERO.plus_hours(1).as_ms(), HOUR_MS);
    }
}
