//! The recipients of a world, stored compactly.
//!
//! A world may hold ten million generated people, most of whom are never
//! messaged, so each costs 24 bytes: its WhatsApp id as a number (sorted, for a
//! binary search), a packed record (country, flags, ordinal) and an empty slot for
//! its activity, which is allocated the first time the business reaches it. Names
//! are derived ("User N") except for the spec's named recipients.

use std::borrow::Cow;
#[expect(
    clippy::disallowed_types,
    reason = "membership tests only, never iterated: one allocation the allocator returns, where a BTreeSet of 10M keys would stay resident"
)]
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, DefaultHasher};

use super::country;
use super::policy::Policy;
use super::rng::{SimRng, Stream};
use super::spec::WorldSpec;
use super::time::SimTime;

/// What the business and other businesses did with one person; empty until then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Other businesses' marketing added through the control API.
    pub ecosystem_marketing: Vec<SimTime>,
    /// This business's marketing counted toward the limit: (time, the message's
    /// number, as in its wamid).
    pub counted_marketing: Vec<(SimTime, u64)>,
    /// When the user last wrote to the business.
    pub last_inbound_at: Option<SimTime>,
    /// Until when a reply to marketing exempts marketing from counting (2025-07).
    pub marketing_reply_window_until: Option<SimTime>,
    /// Whether the business's latest message to the user was a marketing template.
    pub last_business_message_marketing: bool,
    /// Open conversations by pricing category: (conversation id, expiry).
    pub conversations: Conversations,
    /// Times this business's marketing to the user failed with 131049.
    pub cap_failures: Vec<SimTime>,
    /// Until when the user is blocked after repeated retries while capped.
    pub blocked_until: Option<SimTime>,
}

impl Activity {
    const NONE: Activity = Activity {
        ecosystem_marketing: Vec::new(),
        counted_marketing: Vec::new(),
        last_inbound_at: None,
        marketing_reply_window_until: None,
        last_business_message_marketing: false,
        conversations: Conversations(Vec::new()),
        cap_failures: Vec::new(),
        blocked_until: None,
    };
}

/// A user's conversations by pricing category (`marketing`, …): at most four, so
/// a list sized to what it holds (a map's node would take ten times the memory
/// of the one entry most users have).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversations(Vec<(&'static str, (String, SimTime))>);

impl Conversations {
    /// The conversation (id, expiry) of `category`, open or not.
    pub fn get(&self, category: &str) -> Option<&(String, SimTime)> {
        self.0
            .iter()
            .find(|(held, _)| *held == category)
            .map(|(_, conversation)| conversation)
    }

    /// Sets the conversation of `category`.
    pub fn insert(&mut self, category: &'static str, conversation: (String, SimTime)) {
        match self.0.iter_mut().find(|(held, _)| *held == category) {
            Some((_, held)) => *held = conversation,
            None => {
                self.0.reserve_exact(1);
                self.0.push((category, conversation));
            }
        }
    }
}

static NO_ACTIVITY: Activity = Activity::NONE;

const OPTED_OUT: u8 = 1;
const TERMS_ACCEPTED: u8 = 2;
const BACKGROUND_ECOSYSTEM: u8 = 4;
const NAMED: u8 = 8;

/// The packed record of one person (8 bytes).
#[derive(Debug, Clone, Copy)]
struct Person {
    /// Named: index into `names`; generated: the generation index (name "User N+1").
    ordinal: u32,
    /// Index into `countries`.
    country: u16,
    flags: u8,
}

/// The numbers drawn so far while generating (a fixed hasher: no seed from the OS).
#[expect(clippy::disallowed_types, reason = "see the import")]
type Taken = HashSet<u64, BuildHasherDefault<DefaultHasher>>;

/// Every recipient of a world, ordered by WhatsApp id (as strings order).
#[derive(Debug, Clone, Default)]
pub(crate) struct Recipients {
    keys: Vec<u64>,
    people: Vec<Person>,
    activity: Vec<Option<Box<Activity>>>,
    countries: Vec<String>,
    names: Vec<String>,
}

/// A person the business can message: a view into the world's recipients.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    book: &'a Recipients,
    index: usize,
}

impl<'a> Recipient<'a> {
    fn person(&self) -> Person {
        self.book.people[self.index]
    }

    /// The WhatsApp id as `encode` keys it.
    pub(crate) fn key(&self) -> u64 {
        self.book.keys[self.index]
    }

    /// WhatsApp id.
    pub fn wa_id(&self) -> String {
        decode(self.book.keys[self.index])
    }

    /// ISO country.
    pub fn country(&self) -> &'a str {
        &self.book.countries[usize::from(self.person().country)]
    }

    /// Profile name.
    pub fn name(&self) -> Cow<'a, str> {
        let person = self.person();
        if person.flags & NAMED != 0 {
            Cow::Borrowed(&self.book.names[person.ordinal as usize])
        } else {
            Cow::Owned(format!("User {}", u64::from(person.ordinal) + 1))
        }
    }

    /// Stopped marketing messages from this business (131050).
    pub fn opted_out(&self) -> bool {
        self.person().flags & OPTED_OUT != 0
    }

    /// For Turkish users: accepted the updated terms, so messages get delivered.
    pub fn terms_accepted(&self) -> bool {
        self.person().flags & TERMS_ACCEPTED != 0
    }

    /// Gets other businesses' background marketing drawn from the seed (generated
    /// recipients only; named ones get it only through the control API).
    pub fn background_ecosystem(&self) -> bool {
        self.person().flags & BACKGROUND_ECOSYSTEM != 0
    }

    /// What happened with this person so far.
    pub fn activity(&self) -> &'a Activity {
        self.book.activity[self.index]
            .as_deref()
            .unwrap_or(&NO_ACTIVITY)
    }

    /// True while the customer service window opened by the user's last message is open.
    pub fn service_window_open(&self, now: SimTime, hours: u64) -> bool {
        self.activity()
            .last_inbound_at
            .is_some_and(|at| at.plus_hours(hours) > now)
    }
}

impl Recipients {
    /// How many people.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    fn position(&self, wa_id: &str) -> Option<usize> {
        let key = encode(wa_id)?;
        self.keys.binary_search(&key).ok()
    }

    /// The person with this WhatsApp id.
    pub(crate) fn get(&self, wa_id: &str) -> Option<Recipient<'_>> {
        self.position(wa_id)
            .map(|index| Recipient { book: self, index })
    }

    /// Whether someone has this WhatsApp id.
    pub(crate) fn contains(&self, wa_id: &str) -> bool {
        self.position(wa_id).is_some()
    }

    /// The activity of the person with this WhatsApp id, created on first use.
    pub(crate) fn activity_mut(&mut self, wa_id: &str) -> Option<&mut Activity> {
        let index = self.position(wa_id)?;
        Some(self.activity[index].get_or_insert_with(Box::default))
    }

    /// Every person, ordered by WhatsApp id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Recipient<'_>> {
        (0..self.keys.len()).map(|index| Recipient { book: self, index })
    }

    /// The recipients of a world: the named ones, then `count` generated from the seed.
    pub(crate) fn generate(spec: &WorldSpec, policy: &Policy, seed: u64) -> Recipients {
        let mut book = Recipients::default();
        let count = spec.recipients.count as usize + spec.recipients.named.len();
        let mut entries: Vec<(u64, Person)> = Vec::with_capacity(count);
        let mut taken = Taken::with_capacity_and_hasher(count, BuildHasherDefault::default());
        for named in &spec.recipients.named {
            // The spec checked it: 7 to 15 digits.
            let Some(key) = encode(&named.wa_id) else {
                continue;
            };
            let country = named
                .country
                .as_deref()
                .unwrap_or_else(|| country::country_of(&named.wa_id));
            let mut flags = NAMED | TERMS_ACCEPTED;
            if named.opted_out {
                flags |= OPTED_OUT;
            }
            let ordinal = u32::try_from(book.names.len()).unwrap_or(u32::MAX);
            book.names
                .push(named.name.clone().unwrap_or_else(|| "Test User".to_owned()));
            let person = Person {
                ordinal,
                country: book.country_index(country),
                flags,
            };
            // A later entry for the same number replaces the earlier one.
            if taken.insert(key) {
                entries.push((key, person));
            } else if let Some(entry) = entries.iter_mut().find(|(k, _)| *k == key) {
                entry.1 = person;
            }
        }
        let mut rng = SimRng::new(seed, Stream::World);
        let weights: Vec<(&String, u32)> = spec
            .recipients
            .countries
            .iter()
            .map(|(c, w)| (c, *w))
            .collect();
        let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
        const ATTEMPTS_MAX: u32 = 64;
        for index in 0..spec.recipients.count {
            if total == 0 {
                break;
            }
            let mut pick = rng.between(0, total - 1);
            let country = weights
                .iter()
                .find(|(_, w)| {
                    let w = u64::from(*w);
                    if pick < w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .map_or("US", |(c, _)| c.as_str());
            let Some((prefix, digits)) = country::number_shape(country) else {
                continue;
            };
            let key = (0..ATTEMPTS_MAX).find_map(|_| {
                let area = match country {
                    "US" => country::US_AREA_CODES[rng.index(country::US_AREA_CODES.len())],
                    "CA" => "416",
                    _ => "",
                };
                let candidate = format!("{prefix}{area}{}", rng.digits(digits));
                encode(&candidate).filter(|key| !taken.contains(key))
            });
            let Some(key) = key else { continue };
            taken.insert(key);
            let mut flags = BACKGROUND_ECOSYSTEM;
            if rng.chance(spec.recipients.opted_out_ratio) {
                flags |= OPTED_OUT;
            }
            if country != "TR" || rng.chance(policy.turkey_terms_accepted_ratio) {
                flags |= TERMS_ACCEPTED;
            }
            let country = book.country_index(country);
            entries.push((
                key,
                Person {
                    ordinal: index,
                    country,
                    flags,
                },
            ));
        }
        drop(taken);
        entries.sort_unstable_by_key(|(key, _)| *key);
        book.keys = entries.iter().map(|(key, _)| *key).collect();
        book.people = entries.into_iter().map(|(_, person)| person).collect();
        book.activity = std::iter::repeat_with(|| None)
            .take(book.keys.len())
            .collect();
        book
    }

    fn country_index(&mut self, country: &str) -> u16 {
        match self.countries.iter().position(|c| c == country) {
            Some(index) => u16::try_from(index).unwrap_or(u16::MAX),
            None => {
                self.countries.push(country.to_owned());
                u16::try_from(self.countries.len() - 1).unwrap_or(u16::MAX)
            }
        }
    }
}

/// The longest WhatsApp id a key holds (E.164 numbers have at most 15 digits).
const KEY_DIGITS: usize = 18;

/// A WhatsApp id as a number that sorts as the string does: each digit `d` is the
/// base-11 symbol `d + 1`, padded on the right with 0 to 18 symbols (11^18 < 2^64).
/// `None` for anything but 1 to 18 ASCII digits.
pub(crate) fn encode(wa_id: &str) -> Option<u64> {
    let bytes = wa_id.as_bytes();
    if bytes.is_empty() || bytes.len() > KEY_DIGITS {
        return None;
    }
    let mut key = 0u64;
    for byte in bytes {
        if !byte.is_ascii_digit() {
            return None;
        }
        key = key * 11 + u64::from(byte - b'0') + 1;
    }
    // The padding: one 0 symbol per missing digit.
    Some(key * 11u64.pow((KEY_DIGITS - bytes.len()) as u32))
}

/// The WhatsApp id a key was encoded from.
fn decode(mut key: u64) -> String {
    let mut symbols = [0u8; KEY_DIGITS];
    for symbol in symbols.iter_mut().rev() {
        *symbol = (key % 11) as u8;
        key /= 11;
    }
    symbols
        .iter()
        .take_while(|symbol| **symbol != 0)
        .map(|symbol| char::from(b'0' + symbol - 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn keys_sort_as_the_ids_do_and_decode_back(
            a in "[0-9]{1,18}",
            b in "[0-9]{1,18}",
        ) {
            let (ka, kb) = (encode(&a).unwrap(), encode(&b).unwrap());
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(decode(ka), a);
        }
    }

    #[test]
    fn only_short_digit_strings_have_keys() {
        assert_eq!(encode(""), None);
        assert_eq!(encode("+15551234567"), None);
        assert_eq!(encode("1555123456x"), None);
        assert_eq!(encode(&"9".repeat(19)), None);
        assert!(encode(&"9".repeat(18)).is_some());
    }

    #[test]
    fn a_recipient_costs_24_bytes_until_reached() {
        assert_eq!(std::mem::size_of::<Person>(), 8);
        assert_eq!(std::mem::size_of::<Option<Box<Activity>>>(), 8);
        let spec = WorldSpec::default();
        let policy = spec.policy(None).expect("default policy");
        let mut book = Recipients::generate(&spec, &policy, 7);
        let wa_id = book.iter().nth(5).expect("people").wa_id();
        assert!(book.activity.iter().all(Option::is_none));
        book.activity_mut(&wa_id).expect("known").last_inbound_at = Some(SimTime::ZERO);
        assert_eq!(book.activity.iter().filter(|a| a.is_some()).count(), 1);
        let person = book.get(&wa_id).expect("known");
        assert_eq!(person.wa_id(), wa_id);
        assert!(person.service_window_open(SimTime::ZERO, 24));
    }
}
