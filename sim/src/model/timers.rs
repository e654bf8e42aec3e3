//! The timer queue: pending model events ordered by (virtual time, sequence).

use std::collections::BTreeMap;

use super::time::SimTime;

/// Pending timers, fired in `(at, seq)` order so that ties keep insertion order.
#[derive(Debug, Clone)]
pub struct TimerQueue<T> {
    pending: BTreeMap<(SimTime, u64), T>,
    next_seq: u64,
}

impl<T> Default for TimerQueue<T> {
    fn default() -> Self {
        TimerQueue {
            pending: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<T> TimerQueue<T> {
    /// Schedules `timer` at `at`.
    pub fn push(&mut self, at: SimTime, timer: T) {
        self.pending.insert((at, self.next_seq), timer);
        self.next_seq += 1;
    }

    /// The time of the earliest pending timer.
    pub fn next_deadline(&self) -> Option<SimTime> {
        self.pending.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest timer due at or before `now`.
    pub fn pop_due(&mut self, now: SimTime) -> Option<(SimTime, T)> {
        let first = self.pending.first_entry()?;
        if first.key().0 > now {
            return None;
        }
        let ((at, _), timer) = first.remove_entry();
        Some((at, timer))
    }

    /// How many timers are pending.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_by_time_then_by_insertion_order() {
        let mut queue = TimerQueue::default();
        queue.push(SimTime::from_ms(20), "late");
        queue.push(SimTime::from_ms(10), "first");
        queue.push(SimTime::from_ms(10), "second");
        assert_eq!(queue.next_deadline(), Some(SimTime::from_ms(10)));
        assert_eq!(
            queue.pop_due(SimTime::from_ms(15)),
            Some((SimTime::from_ms(10), "first"))
        );
        assert_eq!(
            queue.pop_due(SimTime::from_ms(15)),
            Some((SimTime::from_ms(10), "second"))
        );
        assert_eq!(
            queue.pop_due(SimTime::from_ms(15)),
            None,
            "a timer fired before it was due"
        );
        assert_eq!(
            queue.pop_due(SimTime::from_ms(20)),
            Some((SimTime::from_ms(20), "late"))
        );
        assert!(queue.is_empty());
    }
}
