//! Token buckets in virtual time, in integer arithmetic.

use super::time::SimTime;

/// A token bucket holding up to `capacity` tokens that refills `refill` tokens every
/// `period_ms`. Levels are kept in units of 1/`period_ms` token so that every
/// computation stays in integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    level: u64,
    updated_at: SimTime,
}

/// The shape of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketShape {
    /// Most tokens held (the burst).
    pub capacity: u64,
    /// Tokens added per period.
    pub refill: u64,
    /// The period, in milliseconds.
    pub period_ms: u64,
}

impl BucketShape {
    fn full(self) -> u64 {
        self.capacity.saturating_mul(self.period_ms.max(1))
    }
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn full(shape: BucketShape, now: SimTime) -> Self {
        Bucket {
            level: shape.full(),
            updated_at: now,
        }
    }

    /// Whether the bucket has refilled by `now`: then it is no different from a new
    /// one, and a map of buckets may forget it.
    pub fn is_full(&self, shape: BucketShape, now: SimTime) -> bool {
        let elapsed = now.since(self.updated_at);
        self.level
            .saturating_add(elapsed.saturating_mul(shape.refill))
            >= shape.full()
    }

    /// Takes one token at `now`; false (and nothing taken) if the bucket is empty.
    pub fn take(&mut self, shape: BucketShape, now: SimTime) -> bool {
        let elapsed = now.since(self.updated_at);
        self.level = self
            .level
            .saturating_add(elapsed.saturating_mul(shape.refill))
            .min(shape.full());
        self.updated_at = self.updated_at.max(now);
        let one = shape.period_ms.max(1);
        if self.level >= one {
            self.level -= one;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIR: BucketShape = BucketShape {
        capacity: 45,
        refill: 1,
        period_ms: 6_000,
    };

    #[test]
    fn a_bucket_allows_its_burst_then_refuses() {
        let now = SimTime::ZERO;
        let mut bucket = Bucket::full(PAIR, now);
        assert!((0..45).all(|_| bucket.take(PAIR, now)));
        assert!(
            !bucket.take(PAIR, now),
            "the 46th message in one instant was allowed"
        );
    }

    #[test]
    fn a_bucket_refills_one_token_per_period() {
        let mut bucket = Bucket::full(PAIR, SimTime::ZERO);
        while bucket.take(PAIR, SimTime::ZERO) {}
        assert!(!bucket.take(PAIR, SimTime::from_ms(5_999)));
        assert!(bucket.take(PAIR, SimTime::from_ms(6_000)));
        assert!(!bucket.take(PAIR, SimTime::from_ms(6_000)));
    }
}
