//! The per-user marketing limit, counted across all businesses
//! (360dialog partner newsletter, 2024-05-09;
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/marketing-templates/per-user-limits>).
//!
//! A user's window count is: other businesses' background marketing drawn from the
//! seed (one draw per user and virtual day, so it never depends on the order of
//! requests), plus other businesses' marketing added through the control API, plus
//! this business's counted marketing.

use super::World;
use super::policy::MarketingCounting;
use super::recipients::Recipient;
use super::rng::{Stream, hashed_draw};
use super::time::{HOUR_MS, SimTime};

const DAY_MS: u64 = 24 * HOUR_MS;

/// The verdict on one marketing template to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Delivered without counting (exempt region or exempting window/conversation).
    Exempt,
    /// Delivered and counted; the window count including it.
    Counted(u32),
    /// Fails with 131049.
    Capped,
}

/// Counted marketing in the window that ends at `at`.
pub(crate) fn window_count(world: &World, recipient: &Recipient, at: SimTime) -> u32 {
    let window_ms = world
        .policy
        .marketing_cap_window_hours
        .saturating_mul(HOUR_MS);
    let in_window = |t: SimTime| t <= at && t.plus_ms(window_ms) > at;
    let activity = recipient.activity();
    let injected = activity
        .ecosystem_marketing
        .iter()
        .filter(|t| in_window(**t))
        .count();
    let ours = activity
        .counted_marketing
        .iter()
        .filter(|(t, _)| in_window(*t))
        .count();
    let background = if recipient.background_ecosystem() {
        background_count(world, recipient, at, window_ms)
    } else {
        0
    };
    u32::try_from(injected + ours)
        .unwrap_or(u32::MAX)
        .saturating_add(background)
}

/// Other businesses' background marketing in the window: a draw per user and day,
/// placed at the start of that virtual day.
fn background_count(world: &World, recipient: &Recipient, at: SimTime, window_ms: u64) -> u32 {
    let ecosystem = &world.spec.ecosystem;
    if ecosystem.marketing_per_day_max == 0 {
        return 0;
    }
    let first_day = at.as_ms().saturating_sub(window_ms) / DAY_MS;
    let last_day = at.as_ms() / DAY_MS;
    let (key, max) = (recipient.key(), u64::from(ecosystem.marketing_per_day_max));
    let mut total = 0u32;
    for day in first_day..=last_day {
        let start = SimTime::from_ms(day * DAY_MS);
        if start > at || start.plus_ms(window_ms) <= at {
            continue;
        }
        let active = hashed_draw(world.seed, Stream::Ecosystem, key, day);
        if ecosystem.active_ratio.hits(active) {
            let count = 1 + hashed_draw(active, Stream::Ecosystem, key, day) % max;
            total = total.saturating_add(count as u32);
        }
    }
    total
}

/// Judges a marketing template from a number in `sender_country` to `wa_id` at `now`,
/// recording the count or the cap failure. Exempt regions are checked by the caller.
pub(crate) fn judge(world: &mut World, wa_id: &str, now: SimTime, message: u64) -> Verdict {
    let (counting, cap) = (world.policy.marketing_counting, world.policy.marketing_cap);
    let Some(recipient) = world.recipients.get(wa_id) else {
        return Verdict::Exempt;
    };
    let exempt = match counting {
        MarketingCounting::NewConversation => recipient
            .activity()
            .conversations
            .get("marketing")
            .is_some_and(|(_, expires)| *expires > now),
        MarketingCounting::EveryDelivered => recipient
            .activity()
            .marketing_reply_window_until
            .is_some_and(|until| until > now),
    };
    if exempt {
        return Verdict::Exempt;
    }
    let count = window_count(world, &recipient, now);
    if count >= cap {
        return Verdict::Capped;
    }
    let Some(activity) = world.recipients.activity_mut(wa_id) else {
        return Verdict::Exempt;
    };
    activity.counted_marketing.push((now, message));
    Verdict::Counted(count + 1)
}

/// Records a 131049 failure; returns the end of a new block if this retry caused one.
pub(crate) fn record_cap_failure(world: &mut World, wa_id: &str, now: SimTime) -> Option<SimTime> {
    let threshold = world.policy.marketing_retry_block_threshold;
    let block_hours = world.policy.marketing_retry_block_hours;
    let recipient = world.recipients.activity_mut(wa_id)?;
    recipient.cap_failures.retain(|t| t.plus_hours(24) > now);
    recipient.cap_failures.push(now);
    let failures = u32::try_from(recipient.cap_failures.len()).unwrap_or(u32::MAX);
    if threshold > 0
        && failures >= threshold
        && recipient.blocked_until.is_none_or(|until| until <= now)
    {
        let until = now.plus_hours(block_hours);
        recipient.blocked_until = Some(until);
        return Some(until);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::WorldSpec;

    #[test]
    fn background_traffic_is_a_pure_function_of_seed_user_and_day() {
        let world = World::new(WorldSpec::default(), Some(3), None).expect("default world");
        let generated: Vec<Recipient<'_>> = world
            .recipients()
            .filter(|r| r.background_ecosystem())
            .take(200)
            .collect();
        let counts_in = |world: &World, at: SimTime| -> Vec<u32> {
            generated
                .iter()
                .map(|r| window_count(world, r, at))
                .collect()
        };
        let day_0 = SimTime::from_ms(1_000);
        let counts = counts_in(&world, day_0);
        // The same seed, user and day give the same count: again, in another
        // order, and in another world built from the same seed.
        assert_eq!(counts, counts_in(&world, day_0));
        let reversed: Vec<u32> = generated
            .iter()
            .rev()
            .map(|r| window_count(&world, r, day_0))
            .collect();
        assert_eq!(counts, reversed.into_iter().rev().collect::<Vec<_>>());
        let twin = World::new(WorldSpec::default(), Some(3), None).expect("default world");
        assert_eq!(counts, counts_in(&twin, day_0));
        assert!(
            counts.contains(&0) && counts.contains(&1),
            "with active ratio 1/2 both occur: {counts:?}"
        );
        let max = world.spec.ecosystem.marketing_per_day_max;
        assert!(counts.iter().all(|c| *c <= max));
        // Another seed draws other counts for the same users on the same day.
        let other_seed = World::new(WorldSpec::default(), Some(4), None).expect("default world");
        assert_ne!(counts, counts_in(&other_seed, day_0));
        // Another day draws other counts; within one day the count stands.
        let day_9 = SimTime::from_ms(9 * DAY_MS + 1_000);
        assert_ne!(counts_in(&world, day_9), counts_in(&world, day_0));
        assert_eq!(
            counts_in(&world, day_9),
            counts_in(&world, SimTime::from_ms(9 * DAY_MS + 5_000))
        );
    }

    #[test]
    fn named_recipients_get_no_background_traffic() {
        let world = World::new(WorldSpec::default(), None, None).expect("default world");
        for hour in 0..72 {
            assert_eq!(
                world.marketing_in_window("5511987654321", SimTime::ZERO.plus_hours(hour)),
                0
            );
        }
    }
}
