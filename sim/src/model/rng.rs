//! Seeded randomness: one ChaCha8 stream per concern, and integer ratios.
//!
//! Each concern (world generation, ecosystem traffic, message lifecycles, ids) draws
//! from its own stream of the root seed, so a new draw in one concern never shifts
//! the draws of another.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The concerns that draw randomness, each on its own ChaCha stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Recipients and their standing traits, drawn once when the world is built.
    World = 1,
    /// Other businesses' marketing traffic (`hashed_draw`s, not a generator).
    Ecosystem = 2,
    /// Status timings and read behaviour of accepted messages.
    Lifecycle = 3,
    /// Message ids and trace ids.
    Ids = 4,
    /// Webhook faults and verification challenges.
    Webhooks = 5,
    /// Recipients' feedback on templates (blocks, reports).
    Feedback = 6,
    /// Account incidents: whom an unknown origin messages with a stolen key.
    Incidents = 7,
    /// Media ids.
    Media = 8,
}

/// A seeded ChaCha8 random number generator for one concern.
#[derive(Debug, Clone)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// The generator for `stream` of the root `seed`.
    pub fn new(seed: u64, stream: Stream) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream as u64);
        SimRng(rng)
    }

    /// A uniform draw from `low..=high` (returns `low` if the range is empty).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        self.0.random_range(low..=high)
    }

    /// A uniform index below `len` (`len` must be positive).
    pub fn index(&mut self, len: usize) -> usize {
        debug_assert!(len > 0, "index drawn from an empty range");
        let len = u64::try_from(len).unwrap_or(u64::MAX).max(1);
        usize::try_from(self.0.random_range(0..len)).unwrap_or(0)
    }

    /// True with probability `ratio`.
    pub fn chance(&mut self, ratio: Ratio) -> bool {
        if ratio.numerator == 0 {
            return false;
        }
        if ratio.numerator >= ratio.denominator {
            return true;
        }
        self.0.random_range(0..ratio.denominator) < ratio.numerator
    }

    /// `len` random decimal digits.
    pub fn digits(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'0' + self.0.random_range(0..10u8)))
            .collect()
    }

    /// `len` random characters from `[A-Za-z0-9_-]`.
    pub fn token(&mut self, len: usize) -> String {
        let mut token = String::with_capacity(len);
        self.push_token(&mut token, len);
        token
    }

    /// Appends `len` random characters from `[A-Za-z0-9_-]`: ten per 64-bit draw,
    /// six bits each (the alphabet has 64 characters, so no bias).
    pub fn push_token(&mut self, out: &mut String, len: usize) {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let (mut bits, mut left) = (0u64, 0);
        for _ in 0..len {
            if left == 0 {
                (bits, left) = (self.0.next_u64(), 10);
            }
            out.push(char::from(ALPHABET[(bits & 63) as usize]));
            bits >>= 6;
            left -= 1;
        }
    }

    /// A `len`-digit id: nineteen digits per accepted 64-bit draw (draws of
    /// 10^19 or more are redrawn, so every digit is uniform). For ids drawn per
    /// message; `digits` keeps the world's generated numbers as they were.
    pub fn digit_id(&mut self, len: usize) -> String {
        const TEN_POW_19: u64 = 10_000_000_000_000_000_000;
        let mut id = String::with_capacity(len);
        while id.len() < len {
            let mut draw = self.0.next_u64();
            if draw >= TEN_POW_19 {
                continue;
            }
            for _ in 0..(len - id.len()).min(19) {
                id.push(char::from(b'0' + (draw % 10) as u8));
                draw /= 10;
            }
        }
        id
    }
}

/// A draw that is a pure function of (`seed`, `stream`, `a`, `b`): SplitMix64's
/// finaliser over the four, for draws that must not depend on the order of
/// requests (one per user and day) and are too many to seed a generator each.
pub fn hashed_draw(seed: u64, stream: Stream, a: u64, b: u64) -> u64 {
    let mut state = seed;
    for word in [stream as u64, a, b] {
        state = split_mix(state ^ word);
    }
    state
}

fn split_mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A probability as an integer ratio (`1/10`), never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// How many out of `denominator`.
    pub numerator: u32,
    /// The whole (positive).
    pub denominator: u32,
}

impl Ratio {
    /// `numerator/denominator`; a zero denominator is read as never.
    pub const fn new(numerator: u32, denominator: u32) -> Self {
        if denominator == 0 {
            Ratio {
                numerator: 0,
                denominator: 1,
            }
        } else {
            Ratio {
                numerator,
                denominator,
            }
        }
    }

    /// Never.
    pub const NEVER: Ratio = Ratio::new(0, 1);

    /// Whether a uniform 64-bit `draw` falls within the ratio (the modulo bias is
    /// below 2^-32 for any `u32` denominator).
    pub fn hits(self, draw: u64) -> bool {
        draw % u64::from(self.denominator.max(1)) < u64::from(self.numerator)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

/// Why a ratio string was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid ratio `{0}`: expected `N/D` with whole numbers N <= D and D > 0, such as `1/10`")]
pub struct RatioError(String);

impl FromStr for Ratio {
    type Err = RatioError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s.split_once('/').and_then(|(n, d)| {
            let numerator = n.trim().parse::<u32>().ok()?;
            let denominator = d.trim().parse::<u32>().ok()?;
            (denominator > 0 && numerator <= denominator).then_some(Ratio {
                numerator,
                denominator,
            })
        });
        parsed.ok_or_else(|| RatioError(s.to_owned()))
    }
}

impl Serialize for Ratio {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Names the `N/D` form when a ratio is written as a number (`0.33`).
        struct RatioText;

        impl serde::de::Visitor<'_> for RatioText {
            type Value = Ratio;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a ratio written as a string \"N/D\" of whole numbers, such as \"1/3\"")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Ratio, E> {
                text.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(RatioText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 16 draws of a fresh RNG for `seed` and `stream`.
    fn draws(seed: u64, stream: Stream) -> Vec<u64> {
        let mut rng = SimRng::new(seed, stream);
        (0..16).map(|_| rng.between(0, 1_000_000)).collect()
    }

    #[test]
    fn the_same_seed_and_stream_draw_the_same_values() {
        assert_eq!(draws(7, Stream::Lifecycle), draws(7, Stream::Lifecycle));
    }

    #[test]
    fn streams_of_one_seed_are_independent() {
        assert_ne!(draws(7, Stream::Lifecycle), draws(7, Stream::Ecosystem));
    }

    #[test]
    fn ratios_parse_and_bound_their_chance() {
        let ratio: Ratio = "1/4".parse().expect("valid ratio");
        assert_eq!(ratio, Ratio::new(1, 4));
        assert!("5/4".parse::<Ratio>().is_err());
        assert!("1/0".parse::<Ratio>().is_err());
        assert!("0.5".parse::<Ratio>().is_err());
        let mut rng = SimRng::new(1, Stream::World);
        assert!((0..100).all(|_| rng.chance(Ratio::new(1, 1))));
        assert!((0..100).all(|_| !rng.chance(Ratio::NEVER)));
        let hits = (0..4000).filter(|_| rng.chance(ratio)).count();
        assert!(
            (800..1200).contains(&hits),
            "1/4 of 4000 draws hit {hits} times"
        );
    }
}
