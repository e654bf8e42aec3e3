//! Property-based exploration: proptest strategies generate scenario timelines
//! on the default world (user messages, ecosystem marketing, clock advances,
//! webhook faults, template incidents, token resets and driver actions), each
//! case runs against the integration like a library scenario, and the first case
//! that breaks a `must` check is shrunk, with that check held fixed, to a
//! minimal timeline that is saved as a scenario file anyone can replay with
//! `wasim run`.
//!
//! The same seed explores the same cases: the strategies draw from a ChaCha
//! generator seeded from it. Steps pick recipients, templates and numbers from
//! fixed pools of the default world, so every shrunk step is still valid.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::{Value, json};
use wasim_reports::{CheckStatus, Outcome, ScenarioReport, Severity};
use wasim_sim::model::InboundContent;
use wasim_sim::state::wall_now;

use crate::runner::{RunOptions, RunnerError, Session, Start, run_scenario, run_scenario_in};
use crate::scenario::{Scenario, SendSurface, Step};

/// Named recipients of the default world.
const USERS: &[&str] = &[
    "5511987654321",
    "919812345678",
    "14155550123",
    "4915112345678",
    "905321234567",
];

/// Magic recipients whose outcome is fixed (capped, opted out, undeliverable,
/// throughput and pair-rate refusals).
const MAGIC: &[&str] = &[
    "999131049",
    "999131050",
    "999131049",
    "999131026",
    "999130429",
    "999131056",
    "999130429",
    "999131056",
];

/// Customers of the 360dialog family's world, enough for a campaign to be
/// under way when something happens to the channel.
const CUSTOMERS: &[&str] = &[
    "4915110000001",
    "4915110000002",
    "4915110000003",
    "4915110000004",
    "4915110000005",
    "4915110000006",
    "4915110000007",
    "4915110000008",
    "4915110000009",
    "4915110000010",
    "4915110000011",
    "4915110000012",
];

/// The worlds exploration runs on; each family has the events that make sense
/// in its world, so that shrinking keeps every step valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// The default world on the Cloud API: users, caps, opt-outs, the service
    /// window, webhook faults, template pauses, token resets, rate refusals.
    Cloud,
    /// The default world with pacing after two sends (`pacing_threshold = 2`):
    /// YELLOW templates held, then released or paused.
    Paced,
    /// The 360dialog surface (`surface = "d360"`): channel key rotations during
    /// campaigns, a compromised account, a flagged WABA, a removed partner user.
    D360,
    /// Profile 2024-05 on 2024-05-27 with two unregistered numbers: a Turkish one
    /// the day before Cloud API opens there and an On-Premises one.
    Registration,
}

impl Family {
    /// Every family, in order.
    pub const ALL: &[Family] = &[
        Family::Cloud,
        Family::Paced,
        Family::D360,
        Family::Registration,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Family::Cloud => "cloud",
            Family::Paced => "paced",
            Family::D360 => "d360",
            Family::Registration => "registration",
        }
    }

    /// The family's world overrides, as a world file writes them.
    fn world(self) -> String {
        match self {
            Family::Cloud => String::new(),
            Family::Paced => "[policy]\npacing_threshold = 2\n".to_owned(),
            Family::D360 => CUSTOMERS
                .iter()
                .enumerate()
                .map(|(index, wa_id)| {
                    format!(
                        "[[recipients.named]]\nwa_id = \"{wa_id}\"\nname = \"Customer {}\"\n",
                        index + 1
                    )
                })
                .collect(),
            Family::Registration => REGISTRATION_WORLD.to_owned(),
        }
    }

    /// `scenario` set up for this family: surface, profile and world.
    pub fn apply(self, mut scenario: Scenario) -> Scenario {
        match self {
            Family::Cloud | Family::Paced => {}
            Family::D360 => scenario.surface = SendSurface::D360,
            Family::Registration => scenario.profile = Some("2024-05".to_owned()),
        }
        let world = self.world();
        if world.is_empty() {
            return scenario;
        }
        let table: toml::Table = toml::from_str(&world)
            .unwrap_or_else(|e| panic!("the {} family's world is invalid: {e}", self.name()));
        let name = self.name();
        scenario
            .with_world(table)
            .unwrap_or_else(|e| panic!("the {name} family's world is refused: {e}"))
    }
}

/// The registration family's world: 2024-05-27 09:00 UTC, a Turkish number and
/// an On-Premises number, both unregistered.
const REGISTRATION_WORLD: &str = r#"epoch_unix_s = 1716800400

[[waba.phone_numbers]]
id = "110000000000090"
display_phone_number = "902125550190"
country = "TR"
channel_id = "wasimCH90"
d360_api_key = "wasim_test_d360_key_tr_new"
registered = false

[[waba.phone_numbers]]
id = "110000000000080"
display_phone_number = "4930901880"
country = "DE"
api = "on_premises"
channel_id = "wasimCH80"
d360_api_key = "wasim_test_d360_key_onprem"
registered = false

[[recipients.named]]
wa_id = "905321234567"
name = "Deniz"
"#;

/// One generated case: a family and its timeline of events.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The world it runs on.
    pub family: Family,
    /// Its events, each one or a few steps.
    pub events: Vec<Vec<Step>>,
}

impl Case {
    /// Its steps, in order. A partner user is removed once: a second removal of
    /// the same user would be refused as a step on an unknown user.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::new();
        for step in self.events.iter().flatten() {
            let removal = matches!(step, Step::Incident(_))
                && step.to_json()["incident"]["incident"] == "remove_partner_user";
            if removal && steps.contains(step) {
                continue;
            }
            steps.push(step.clone());
        }
        steps
    }
}

/// How one exploration runs.
#[derive(Debug, Clone)]
pub struct ExploreOptions {
    /// Cases to generate (before shrinking).
    pub cases: u32,
    /// The seed of the generator.
    pub seed: u64,
    /// Most steps in one generated timeline.
    pub steps_max: usize,
    /// Most runs spent shrinking a failure.
    pub shrink_runs: u32,
    /// Wall-time budget; cases past it are not run.
    pub budget: Duration,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            cases: 24,
            seed: 1,
            steps_max: 8,
            shrink_runs: 48,
            budget: Duration::from_secs(600),
        }
    }
}

/// A broken rule found by exploration, shrunk.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The check it breaks.
    pub check: String,
    /// The check's message on the minimal case.
    pub message: String,
    /// The minimal scenario.
    pub scenario: Scenario,
    /// Steps of the case first found, before shrinking.
    pub steps_found: usize,
    /// Its report entry.
    pub report: ScenarioReport,
}

/// What an exploration did.
#[derive(Debug, Clone)]
pub struct Exploration {
    /// The seed.
    pub seed: u64,
    /// Cases run before the failure (or all of them).
    pub cases_run: u32,
    /// Runs spent shrinking.
    pub shrink_runs: u32,
    /// Cases that ended in a harness error (crash, hang), not judged.
    pub harness_errors: u32,
    /// The failure, shrunk; none when every case passed.
    pub finding: Option<Finding>,
    /// Whether the wall-time budget ran out.
    pub out_of_time: bool,
    /// Integration processes started (cases that could not reuse one).
    pub integration_starts: u32,
    /// Cases that reused a running integration reset through `POST /wasim/reset`.
    pub resets: u32,
    /// Why exploration stopped before its budget of cases: the integration never
    /// started, so no case could be judged.
    pub stopped: Option<String>,
    /// The case a signal cut short (reported `interrupted`), or when it came
    /// between cases an `exploration` entry saying so; no case runs after it.
    pub interrupted: Option<ScenarioReport>,
}

/// What the caller hears while exploring.
#[derive(Debug, Clone)]
pub enum ExploreProgress<'a> {
    /// A case ran: its number (from 1), its family, its report entry (whose
    /// outcome says whether it passed, was not exercised, skipped or a harness
    /// error) and the `must` check it broke, if any.
    Case(u32, Family, &'a ScenarioReport, Option<&'a str>),
    /// A shrinking run: its number and the steps left.
    Shrink(u32, usize),
    /// Exploration stops: the integration never started.
    Stopping(&'a str),
}

fn template(name: &str) -> Value {
    if name == "order_update" {
        json!({"name": name, "language": "en_US", "parameters": ["A-1"]})
    } else {
        json!({"name": name, "language": "en_US"})
    }
}

/// A step from its scenario-file form; the generators only write valid ones
/// (a unit test reads back every kind).
fn step(value: Value) -> Step {
    Step::from_json(&value).unwrap_or_else(|e| panic!("a generated step is invalid ({e}): {value}"))
}

fn user() -> impl Strategy<Value = String> {
    prop::sample::select(USERS).prop_map(str::to_owned)
}

fn anyone() -> impl Strategy<Value = String> {
    prop_oneof![3 => user(), 2 => prop::sample::select(MAGIC).prop_map(str::to_owned)]
}

fn template_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["spring_sale", "order_update"][..])
}

fn send_template_step(to: &str, name: &str) -> Step {
    Step::Action(json!({"action": "send_template", "to": to, "template": template(name)}))
}

fn campaign_step(to: &[&str], name: &str) -> Step {
    Step::Action(json!({"action": "send_campaign", "to": to, "template": template(name)}))
}

fn inbound_step(from: &str, text: &str) -> Step {
    Step::Inbound {
        from: from.to_owned(),
        content: InboundContent::Text(text.to_owned()),
        phone_number_id: None,
    }
}

fn minute() -> Step {
    Step::Advance { ms: 60_000 }
}

fn hours(count: u64) -> Step {
    Step::Advance {
        ms: count * 3_600_000,
    }
}

/// Events of the Cloud family: single steps, or short stories of steps that
/// belong together (a user capped by other businesses and then messaged, a
/// user who writes STOP and then gets marketing, a fault phase around some
/// traffic, a token reset in the middle of sending). Shrinking drops whole
/// events and simplifies the values inside them.
fn cloud_event() -> impl Strategy<Value = Vec<Step>> {
    let inbound = (
        user(),
        prop::sample::select(&["Hi", "STOP", "Where is my order?"][..]),
    )
        .prop_map(|(from, text)| vec![inbound_step(&from, text)]);
    let capped = (user(), 2u32..=3, template_name()).prop_map(|(to, count, name)| {
        vec![
            Step::EcosystemMarketing {
                to: to.clone(),
                count,
            },
            send_template_step(&to, name),
            minute(),
        ]
    });
    let opted_out = prop_oneof![
        1 => user().prop_map(|to| {
            vec![
                inbound_step(&to, "STOP"),
                send_template_step(&to, "spring_sale"),
            ]
        }),
        2 => Just(vec![
            send_template_step("999131050", "spring_sale"),
            minute(),
            send_template_step("999131050", "spring_sale"),
        ]),
    ];
    let advance = prop::sample::select(&[60_000u64, 1_800_000, 7_200_000, 90_000_000][..])
        .prop_map(|ms| vec![Step::Advance { ms }]);
    let faults = (
        prop::sample::select(&["duplicate", "reorder", "forged"][..]),
        prop::sample::select(&["1/1", "1/2"][..]),
        user(),
        template_name(),
    )
        .prop_map(|(kind, ratio, to, name)| {
            vec![
                step(json!({"faults": {kind: ratio}})),
                inbound_step(&to, "Hi"),
                send_template_step(&to, name),
                minute(),
                Step::Heal,
            ]
        });
    // Half the statuses held back two minutes, so later ones overtake them: a
    // late `sent` must not lower what the integration knows of a read message.
    let reordered = Just(()).prop_map(|()| {
        let mut steps = vec![step(
            json!({"faults": {"reorder": "1/2", "reorder_hold_ms": 120_000}}),
        )];
        for _ in 0..3 {
            steps.push(send_template_step("999000002", "order_update"));
            steps.push(Step::Advance { ms: 1_800_000 });
        }
        steps.push(Step::Heal);
        steps
    });
    let send_template = (anyone(), template_name())
        .prop_map(|(to, name)| vec![send_template_step(&to, name), minute()]);
    // A magic user whose sends are throttled (130429, 131056): how the
    // integration backs off.
    let throttled = (
        prop::sample::select(&["999130429", "999131056"][..]),
        template_name(),
    )
        .prop_map(|(to, name)| vec![send_template_step(to, name), minute()]);
    let send_text = user().prop_map(|to| {
        vec![Step::Action(
            json!({"action": "send_text", "to": to, "text": "Thanks for writing"}),
        )]
    });
    let campaign = (
        prop::sample::subsequence(USERS, 1..=USERS.len()),
        template_name(),
    )
        .prop_map(|(to, name)| vec![campaign_step(&to, name)]);
    let paused = (prop::sample::select(&["pause", "RED"][..]), user()).prop_map(|(control, to)| {
        let control = if control == "pause" {
            json!({"name": "spring_sale", "pause": true})
        } else {
            json!({"name": "spring_sale", "quality": control})
        };
        vec![
            step(json!({ "template": control })),
            send_template_step(&to, "spring_sale"),
            send_template_step(&to, "spring_sale"),
        ]
    });
    let token_reset = (user(), any::<bool>()).prop_map(|(to, handed_over)| {
        let mut steps = vec![Step::RotateAccessToken];
        if handed_over {
            steps.push(Step::Action(json!({"action": "set_access_token"})));
        }
        steps.push(campaign_step(USERS, "order_update"));
        steps.push(send_template_step(&to, "order_update"));
        steps
    });
    // A receipt by a link the platform cannot fetch (131053), and a photo the
    // integration archives after its URL expired.
    let media_link = user().prop_map(|to| {
        vec![
            inbound_step(&to, "Receipt please"),
            Step::Action(json!({"action": "send_media", "to": to,
                "media": {"type": "document", "link": "https://files.example.invalid/receipt.pdf"}})),
            minute(),
        ]
    });
    let media_later = user().prop_map(|from| {
        vec![
            step(json!({"inbound": {"from": from, "image": {"caption": "Damaged"}}})),
            Step::Advance { ms: 600_000 },
            Step::Action(json!({"action": "tick"})),
        ]
    });
    prop_oneof![
        1 => inbound,
        1 => media_link,
        1 => media_later,
        2 => capped,
        2 => opted_out,
        1 => advance,
        3 => faults,
        2 => reordered,
        2 => send_template,
        1 => throttled,
        2 => send_text,
        1 => campaign,
        1 => paused,
        2 => token_reset,
    ]
}

/// Events of the paced family: a YELLOW template paced and then released or
/// paused on the feedback of the messages sent before the hold, around plain
/// sends and campaigns.
fn paced_event() -> impl Strategy<Value = Vec<Step>> {
    let paced = (
        prop::sample::select(&["0/1", "1/1"][..]),
        prop::sample::subsequence(USERS, 3..=USERS.len()),
    )
        .prop_map(|(negative, to)| {
            let mut to = to;
            to.push("999000000");
            vec![
                step(json!({"template": {"name": "spring_sale", "quality": "YELLOW"}})),
                step(json!({"template": {"name": "spring_sale", "negative": negative}})),
                campaign_step(&to, "spring_sale"),
                hours(1),
            ]
        });
    let send_template = (user(), template_name())
        .prop_map(|(to, name)| vec![send_template_step(&to, name), minute()]);
    let campaign = prop::sample::subsequence(USERS, 1..=USERS.len())
        .prop_map(|to| vec![campaign_step(&to, "spring_sale")]);
    let inbound = user().prop_map(|from| vec![inbound_step(&from, "Hi")]);
    prop_oneof![
        3 => paced,
        2 => send_template,
        2 => campaign,
        1 => inbound,
        1 => Just(vec![hours(1)]),
    ]
}

fn customers(range: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<&'static str>> {
    prop::sample::subsequence(CUSTOMERS, range)
}

/// Events of the 360dialog family: a channel key rotated while a campaign
/// runs, a leaked key used by an unknown origin and the integration told of the
/// compromise, templates disabled on a flagged WABA and enabled again, the
/// partner user the integration logs in as removed.
fn d360_event() -> impl Strategy<Value = Vec<Step>> {
    let rotate_key = json!({"action": {"action": "rotate_key", "channel_id": "wasimCH01"}});
    let rotation = (customers(4..=8), customers(1..=4)).prop_map({
        let rotate_key = rotate_key.clone();
        move |(first, then)| {
            vec![
                campaign_step(&first, "order_update"),
                step(rotate_key.clone()),
                campaign_step(&then, "order_update"),
                Step::Advance { ms: 300_000 },
            ]
        }
    });
    let compromise = (
        customers(2..=4),
        customers(1..=4),
        prop::sample::select(&[1_800u64, 3_600][..]),
    )
        .prop_map(|(before, during, resume_after_s)| {
            vec![
                campaign_step(&before, "order_update"),
                step(json!({"incident": {"incident": "compromise", "phone_number_id": "110000000000001", "every_s": 300}})),
                Step::Advance { ms: 660_000 },
                step(json!({"action": {"action": "account_compromised", "phone_number_id": "110000000000001", "channel_id": "wasimCH01", "resume_after_s": resume_after_s}})),
                campaign_step(&during, "order_update"),
                Step::Advance { ms: resume_after_s * 500 },
                step(json!({"action": {"action": "tick"}})),
                Step::Advance { ms: resume_after_s * 500 + 60_000 },
                step(json!({"action": {"action": "tick"}})),
            ]
        });
    let flagged =
        (customers(1..=6), prop::sample::select(&[1u64, 2][..])).prop_map(|(to, held_hours)| {
            vec![
                step(json!({"incident": {"incident": "disable_templates"}})),
                campaign_step(&to, "order_update"),
                hours(held_hours),
                step(json!({"incident": {"incident": "enable_templates"}})),
                Step::Advance { ms: 300_000 },
            ]
        });
    let user_removed = customers(1..=5).prop_map(move |to| {
        vec![
            step(json!({"incident": {"incident": "remove_partner_user", "email": "partner@wasim.test"}})),
            step(rotate_key.clone()),
            campaign_step(&to, "order_update"),
            Step::Advance { ms: 300_000 },
        ]
    });
    let campaign = customers(1..=8).prop_map(|to| vec![campaign_step(&to, "order_update")]);
    let send_template = prop::sample::select(CUSTOMERS)
        .prop_map(|to| vec![send_template_step(to, "order_update"), minute()]);
    prop_oneof![
        2 => rotation,
        2 => compromise,
        2 => flagged,
        1 => user_removed,
        1 => campaign,
        1 => send_template,
        1 => Just(vec![hours(1)]),
    ]
}

/// Events of the registration family: registering the Turkish and the
/// On-Premises numbers, a day passing, messages to a Turkish user.
fn registration_event() -> impl Strategy<Value = Vec<Step>> {
    let register = prop::sample::select(
        &[
            ("110000000000090", "246810"),
            ("110000000000080", "135790"),
        ][..],
    )
    .prop_map(|(phone_number_id, pin)| {
        vec![step(
            json!({"action": {"action": "register", "phone_number_id": phone_number_id, "pin": pin}}),
        )]
    });
    prop_oneof![
        3 => register,
        2 => prop::sample::select(&[3_600_000u64, 86_400_000][..])
            .prop_map(|ms| vec![Step::Advance { ms }]),
        1 => Just(vec![send_template_step("905321234567", "order_update"), minute()]),
        1 => Just(vec![inbound_step("905321234567", "Merhaba")]),
    ]
}

fn events(
    event: impl Strategy<Value = Vec<Step>>,
    family: Family,
    steps_max: usize,
) -> impl Strategy<Value = Case> {
    prop::collection::vec(event, 1..=steps_max.max(1))
        .prop_map(move |events| Case { family, events })
}

/// The families' turns, repeated: of every 8 cases, 4 are cloud (the most
/// rules), 2 d360, 1 paced and 1 registration. A fixed turn rather than a
/// weighted draw, so every budget of 8 cases or more reaches every family (a
/// draw left registration with one case in some seeds' first 24).
pub const TURNS: [Family; 8] = [
    Family::Cloud,
    Family::D360,
    Family::Cloud,
    Family::Paced,
    Family::Cloud,
    Family::D360,
    Family::Cloud,
    Family::Registration,
];

/// Cases of up to `steps_max` events, the families taking [`TURNS`].
pub fn cases(steps_max: usize) -> Cases {
    let family = |family: Family| match family {
        Family::Cloud => events(cloud_event(), family, steps_max).boxed(),
        Family::Paced => events(paced_event(), family, steps_max).boxed(),
        Family::D360 => events(d360_event(), family, steps_max).boxed(),
        Family::Registration => events(registration_event(), family, steps_max).boxed(),
    };
    Cases {
        turns: TURNS.map(family),
        next: Cell::new(0),
    }
}

/// The strategy of [`cases`]: each new case comes from the next turn.
#[derive(Debug)]
pub struct Cases {
    /// One strategy per turn of [`TURNS`].
    turns: [BoxedStrategy<Case>; 8],
    /// The turn of the next case.
    next: Cell<usize>,
}

impl Strategy for Cases {
    type Tree = Box<dyn ValueTree<Value = Case>>;
    type Value = Case;

    fn new_tree(&self, runner: &mut TestRunner) -> proptest::strategy::NewTree<Self> {
        let turn = self.next.get();
        self.next.set(turn + 1);
        self.turns[turn % TURNS.len()].new_tree(runner)
    }
}

/// The generator's seed bytes for a `u64` seed (SplitMix64, four words).
fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut state = seed;
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes
}

/// The first failing `must` check of a report entry. A case the integration
/// declined (an action it does not support: skipped) breaks nothing: the
/// checks of a story it never played would only judge its absence.
fn failing_check(report: &ScenarioReport) -> Option<(String, String)> {
    if report.outcome == Outcome::Skipped {
        return None;
    }
    report
        .checks
        .iter()
        .find(|c| c.status == CheckStatus::Fail && c.severity == Severity::Must)
        .map(|c| (c.id.clone(), c.message.clone()))
}

/// A generated case as a scenario.
pub fn case_scenario(seed: u64, number: u32, case: &Case) -> Scenario {
    case.family.apply(Scenario::generated(
        &format!("explore-{seed}-{number}"),
        &format!(
            "generated by `wasim explore --seed {seed}` (case {number}, {} family)",
            case.family.name()
        ),
        1,
        case.steps(),
    ))
}

/// Explores: generates `options.cases` timelines, runs each against the
/// integration, and shrinks the first failure. Blocking; runs its own runtime.
///
/// When the first case's integration never starts (and none has started since
/// the exploration began), no further case is run: they could only fail the
/// same way, and a case never played must not read as passed.
pub fn explore(
    run: &RunOptions,
    options: &ExploreOptions,
    progress: impl FnMut(ExploreProgress<'_>),
) -> Result<Exploration, RunnerError> {
    let progress = RefCell::new(progress);
    // Cases play timer instants a second at a time; the minimal case found is
    // confirmed as `wasim run` plays it.
    let cases_run = RunOptions {
        coalesce_ms: run.coalesce_ms.max(1_000),
        ..run.clone()
    };
    let runtime = tokio::runtime::Runtime::new().map_err(RunnerError::Runtime)?;
    let started = wall_now();
    let config = Config {
        cases: options.cases,
        max_shrink_iters: options.shrink_runs,
        failure_persistence: None,
        max_global_rejects: options.cases.saturating_mul(4),
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(options.seed));
    let mut runner = TestRunner::new_with_rng(config, rng);
    // The check the first failure broke: shrinking keeps to it.
    let target: RefCell<Option<String>> = RefCell::new(None);
    // Integrations kept running between cases, reset through the driver hook.
    let session = RefCell::new(Session::new());
    // Whether an integration has listened yet, and why exploration stopped.
    let listened = Cell::new(false);
    let stopped: RefCell<Option<String>> = RefCell::new(None);
    let interrupted: RefCell<Option<ScenarioReport>> = RefCell::new(None);
    let state = RefCell::new((0u32, 0u32, 0u32, false, None::<(ScenarioReport, usize)>));
    let result = runner.run(&cases(options.steps_max), |case| {
        let mut guard = state.borrow_mut();
        let (cases, shrinks, _, out_of_time, _) = &mut *guard;
        let shrinking = target.borrow().is_some();
        if let Some(signal) = run.interrupt.raised() {
            // Stopped by a signal: nothing more runs (a finding keeps its last run).
            if interrupted.borrow().is_none() {
                *interrupted.borrow_mut() = Some(between_cases(options.seed, signal));
            }
            return Err(TestCaseError::reject("interrupted"));
        }
        if stopped.borrow().is_some() {
            // Nothing can be judged: the remaining cases pass unseen and unrun.
            return Err(TestCaseError::reject("the integration never started"));
        }
        if wall_now().duration_since(started) > options.budget {
            *out_of_time = true;
            // Out of time: the case passes unseen (and shrinking stops here).
            return Err(TestCaseError::reject("out of time"));
        }
        let number = if shrinking {
            *shrinks += 1;
            *shrinks
        } else {
            *cases += 1;
            *cases
        };
        let scenario = case_scenario(options.seed, number, &case);
        drop(guard);
        let outcome = runtime.block_on(run_scenario_in(
            &scenario,
            &cases_run,
            &mut session.borrow_mut(),
        ));
        match outcome.start {
            Start::Listened => listened.set(true),
            Start::NeverStarted if !listened.get() => {
                let reason = format!(
                    "the integration never started ({}); no case was explored",
                    outcome
                        .report
                        .reason
                        .as_deref()
                        .unwrap_or("no reason given")
                );
                (progress.borrow_mut())(ExploreProgress::Stopping(&reason));
                *stopped.borrow_mut() = Some(reason);
            }
            Start::NeverStarted | Start::NotTried => {}
        }
        let report = outcome.report;
        if report.outcome == Outcome::HarnessError {
            state.borrow_mut().2 += 1;
        }
        if report.outcome == Outcome::Interrupted {
            *interrupted.borrow_mut() = Some(report);
            return Err(TestCaseError::reject("interrupted"));
        }
        let failed = failing_check(&report);
        let wanted = target.borrow().clone();
        let breaks = match (&failed, &wanted) {
            (Some((id, _)), None) => {
                *target.borrow_mut() = Some(id.clone());
                true
            }
            (Some(_), Some(wanted)) => report
                .checks
                .iter()
                .any(|c| &c.id == wanted && c.status == CheckStatus::Fail),
            (None, _) => false,
        };
        if shrinking {
            (progress.borrow_mut())(ExploreProgress::Shrink(number, scenario.steps.len()));
        } else {
            (progress.borrow_mut())(ExploreProgress::Case(
                number,
                case.family,
                &report,
                failed.as_ref().map(|(id, _)| id.as_str()),
            ));
        }
        if breaks {
            let steps = scenario.steps.len();
            let mut guard = state.borrow_mut();
            let first = guard.4.as_ref().map_or(steps, |(_, first)| *first);
            guard.4 = Some((report, first.max(steps)));
            Err(TestCaseError::fail(wanted.unwrap_or_else(|| {
                failed.map(|(id, _)| id).unwrap_or_default()
            })))
        } else {
            Ok(())
        }
    });
    let (cases_run, shrink_runs, harness_errors, out_of_time, _) = state.borrow().clone();
    let mut session = session.into_inner();
    runtime.block_on(session.close(run.stop_grace));
    let finding = match result {
        Ok(()) | Err(TestError::Abort(_)) => None,
        Err(TestError::Fail(reason, case)) => {
            let check = reason.message().to_owned();
            let first_steps = state.borrow().4.as_ref().map_or(0, |(_, steps)| *steps);
            // The minimal case, run once more by a fresh integration process for
            // its report (and to confirm it does not need an earlier case).
            let mut scenario = case_scenario(options.seed, 0, &case);
            scenario.name = format!("{}-{}", check.to_lowercase(), options.seed);
            scenario.file = PathBuf::from(format!("{}.toml", scenario.name));
            scenario.description = format!(
                "Found by `wasim explore --seed {}`: breaks {check}; shrunk from {first_steps} to {} steps",
                options.seed,
                scenario.steps.len()
            );
            let report = match state.borrow_mut().4.take() {
                // Interrupted while shrinking: the last failing run stands for
                // the minimal case rather than a run the signal would cut short.
                Some((mut report, _)) if run.interrupt.raised().is_some() => {
                    report.name.clone_from(&scenario.name);
                    report.description.clone_from(&scenario.description);
                    report.file = scenario.file.display().to_string();
                    report
                }
                _ => runtime.block_on(run_scenario(&scenario, run)).report,
            };
            let message = report
                .checks
                .iter()
                .find(|c| c.id == check)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            Some(Finding {
                check,
                message,
                steps_found: first_steps,
                scenario,
                report,
            })
        }
    };
    Ok(Exploration {
        seed: options.seed,
        cases_run,
        shrink_runs,
        harness_errors,
        finding,
        out_of_time,
        integration_starts: session.starts,
        resets: session.resets,
        stopped: stopped.into_inner(),
        interrupted: interrupted.into_inner(),
    })
}

/// The report entry of an exploration a signal stopped between two cases.
fn between_cases(seed: u64, signal: crate::runner::Signal) -> ScenarioReport {
    ScenarioReport {
        name: format!("explore-{seed}"),
        description: format!("the exploration of seed {seed}"),
        file: String::new(),
        outcome: Outcome::Interrupted,
        reason: Some(format!(
            "interrupted by {} between two cases: the rest were not run",
            signal.name()
        )),
        checks: Vec::new(),
        timeline: Vec::new(),
        stats: Default::default(),
        artifacts: Vec::new(),
    }
}

/// Writes a finding to `dir/<check>-<seed>.toml` (the check in lower case) and
/// returns the path.
pub fn save(finding: &Finding, seed: u64, dir: &Path) -> Result<PathBuf, RunnerError> {
    std::fs::create_dir_all(dir).map_err(|error| RunnerError::CreateDir {
        path: dir.to_owned(),
        error,
    })?;
    let path = dir.join(format!("{}-{seed}.toml", finding.check.to_lowercase()));
    let mut scenario = finding.scenario.clone();
    scenario.checks = Some(vec![finding.check.clone()]);
    std::fs::write(&path, scenario.to_toml()).map_err(|error| RunnerError::Write {
        path: path.clone(),
        error,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seed: u64, count: usize) -> Vec<Case> {
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed));
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let strategy = cases(8);
        (0..count)
            .map(|_| strategy.new_tree(&mut runner).expect("a case").current())
            .collect()
    }

    #[test]
    fn the_same_seed_generates_the_same_cases_and_another_seed_others() {
        assert_eq!(sample(7, 5), sample(7, 5));
        assert_ne!(sample(7, 5), sample(8, 5));
    }

    #[test]
    fn every_generated_case_is_a_valid_scenario_file_that_reads_back() {
        let mut families = Vec::new();
        for (index, case) in sample(3, 200).iter().enumerate() {
            let scenario = case_scenario(3, index as u32, case);
            let text = scenario.to_toml();
            let back = Scenario::from_toml(&text, Path::new("case.toml"))
                .unwrap_or_else(|e| panic!("case {index} does not read back: {e}\n{text}"));
            assert_eq!(back.steps, scenario.steps, "{text}");
            assert_eq!(back.world, scenario.world, "{text}");
            assert_eq!(back.surface, scenario.surface, "{text}");
            assert_eq!(back.profile, scenario.profile, "{text}");
            assert!(!back.steps.is_empty());
            families.push(case.family);
        }
        // The families take turns, so every budget of 8 reaches each of them.
        for (index, family) in families.iter().enumerate() {
            assert_eq!(*family, TURNS[index % TURNS.len()], "case {index}");
        }
        for family in Family::ALL {
            assert!(TURNS.contains(family), "{} has no turn", family.name());
        }
    }
}
