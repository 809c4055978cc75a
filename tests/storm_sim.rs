//! Boot storm in virtual time, `make storm-sim` (not in `make test` or CI: it is `#[ignore]`d).
//!
//! The storms of `tests/storm.rs` for 1,000, 10,000 and 100,000 VMs (STORM_SIM_CLIENTS,
//! comma-separated), simulated: the emulator's own throttling model (`armi_emulator`'s
//! `ArmThrottle` and `ImdsThrottle`, the very code the emulator runs on its real clock) driven
//! by a clock that jumps from one event to the next. Each client runs the seed job of
//! `armi group`: instance metadata and a token from its VM's IMDS (per-VM limits), then one ARM
//! read of its resource group (ARM's buckets), every request retried by a policy that is a
//! plain function of what happened ([`Policy`]), all within armi's 90-second deadline. Only
//! throttling fails requests here: there are no network faults. STORM_SCENARIO, STORM_COSTLY
//! and STORM_SPREAD choose as for `make storm`; STORM_SIM_JITTER (seconds, default 0) adds a
//! uniform random delay to every client's start, as a loaded machine does to real processes;
//! STORM_SIM_SEED (default 1) seeds the random numbers. It prints the figures of
//! `tests/storm_figures`, the same as the real storm.
//!
//! The policy simulated is TODAY'S POLICY, [`todays_policy`], a faithful copy of what armi on
//! main does (`src/http.rs`: `send`, `retry_reason`, `backoff`). armi's next policy is to be a
//! public pure function of the armi library with this shape; the simulation will then call it
//! instead, and this copy can go.

#[path = "storm_figures/mod.rs"]
mod figures;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use armi_emulator::{
    ArmLimits, ArmThrottle, ImdsCategory, ImdsLimits, ImdsThrottle, Operation, Scenario,
};
use figures::{Client, DEADLINE, Identity, Storm, Traffic};

/// What to do after an answer that was not a success: `attempt` is the attempt just made of
/// this request (from 1), `status` its answer, `retry_after` the service's `Retry-After` if it
/// sent one, `consecutive_throttles` how many 429s in a row this request has had (this one
/// included), `time_left` the time to the command's deadline, `random_unit` a uniform number
/// in [0, 1). The wait before the next attempt, or `None` to give up.
pub type Policy = fn(
    attempt: u32,
    status: u16,
    retry_after: Option<Duration>,
    consecutive_throttles: u32,
    time_left: Duration,
    random_unit: f64,
) -> Option<Duration>;

/// TODAY'S POLICY: armi on main (`src/http.rs`). `send` retries what `retry_reason` allows
/// (429 and 5xx from IMDS and from ARM for a GET; IMDS's 404 and 410 too, which this
/// simulation never produces), waiting exactly `Retry-After` when the answer has one (at
/// least 100 ms), else `backoff(attempt)`: exponential from 1 s, capped at 10 s, with ±25 %
/// jitter; it gives up when that wait would reach the deadline.
fn todays_policy(
    attempt: u32,
    status: u16,
    retry_after: Option<Duration>,
    _consecutive_throttles: u32,
    time_left: Duration,
    random_unit: f64,
) -> Option<Duration> {
    if !(status == 429 || (500..=599).contains(&status)) {
        return None;
    }
    let wait = match retry_after {
        Some(after) => after.max(Duration::from_millis(100)),
        None => todays_backoff(attempt, random_unit),
    };
    (wait < time_left).then_some(wait)
}

/// armi's `backoff`: 1 s doubling per attempt (the shift capped at 8), at most 10 s, times
/// 0.75 to 1.25.
fn todays_backoff(attempt: u32, random_unit: f64) -> Duration {
    let exp = Duration::from_secs(1).saturating_mul(1u32 << attempt.saturating_sub(1).min(8));
    exp.min(Duration::from_secs(10))
        .mul_f64(0.75 + 0.5 * random_unit)
}

/// Round trips, from sending a request to having its answer (the services count a request
/// when it is sent).
const IMDS_RTT: Duration = Duration::from_millis(1);
const ARM_RTT: Duration = Duration::from_millis(10);

/// The seed job's requests, in armi's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Instance,
    Token,
    Group,
}

impl Step {
    fn next(self) -> Option<Step> {
        match self {
            Step::Instance => Some(Step::Token),
            Step::Token => Some(Step::Group),
            Step::Group => None,
        }
    }
}

/// One VM's armi.
struct Vm {
    start: Duration,
    deadline: Duration,
    step: Step,
    attempt: u32,
    throttles: u32,
    imds: ImdsThrottle,
    /// Exit code and when, once done.
    end: Option<(i32, Duration)>,
}

/// splitmix64: small, seedable, the same on every machine.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What one simulated storm is made of.
struct Setup {
    clients: usize,
    identity: Identity,
    limits: ArmLimits,
    spread: Duration,
    jitter: Duration,
    seed: u64,
    policy: Policy,
}

/// Runs one storm to its end: every client succeeded or gave up.
fn simulate(setup: &Setup) -> Storm {
    let scenario = Scenario::default();
    let subscription = scenario.subscription_id.clone();
    let principals: Vec<String> = match setup.identity {
        Identity::Shared => vec![armi_emulator::Fleet::shared_identity().object_id],
        Identity::System => (0..setup.clients).map(|vm| format!("vm-{vm}")).collect(),
    };
    let mut rng = Rng(setup.seed);
    let mut vms: Vec<Vm> = (0..setup.clients)
        .map(|_| {
            let start = setup.spread.mul_f64(rng.unit()) + setup.jitter.mul_f64(rng.unit());
            Vm {
                start,
                deadline: start + DEADLINE,
                step: Step::Instance,
                attempt: 0,
                throttles: 0,
                imds: ImdsThrottle::new(ImdsLimits::default(), Duration::ZERO),
                end: None,
            }
        })
        .collect();
    let mut arm = ArmThrottle::new(setup.limits.clone());
    let mut traffic = Traffic::default();
    let mut queue: BinaryHeap<Reverse<(Duration, usize)>> = vms
        .iter()
        .enumerate()
        .map(|(i, vm)| Reverse((vm.start, i)))
        .collect();
    while let Some(Reverse((now, i))) = queue.pop() {
        let vm = &mut vms[i];
        if now >= vm.deadline {
            // armi's `send` finds no time left before an attempt: gave up, exit 7.
            vm.end = Some((7, now));
            continue;
        }
        let (status, retry_after, rtt) = match vm.step {
            Step::Instance | Step::Token => {
                let category = if vm.step == Step::Token {
                    ImdsCategory::Identity
                } else {
                    ImdsCategory::Metadata
                };
                traffic.imds += 1;
                let admitted = vm.imds.admit(now, category);
                if admitted {
                    vm.imds.finish(category);
                    (200, None, IMDS_RTT)
                } else {
                    traffic.imds_429 += 1;
                    (429, None, IMDS_RTT)
                }
            }
            Step::Group => {
                traffic.arm += 1;
                let principal = &principals[i % principals.len()];
                let verdict = arm.admit(now, principal, &subscription, Operation::Read);
                if verdict.admitted {
                    (200, None, ARM_RTT)
                } else {
                    traffic.arm_429 += 1;
                    let after = verdict.retry_after_secs.map(Duration::from_secs);
                    (429, after, ARM_RTT)
                }
            }
        };
        let answered = now + rtt;
        vm.attempt += 1;
        if status == 200 {
            vm.attempt = 0;
            vm.throttles = 0;
            match vm.step.next() {
                Some(step) => {
                    vm.step = step;
                    queue.push(Reverse((answered, i)));
                }
                None => vm.end = Some((0, answered)),
            }
            continue;
        }
        vm.throttles += 1;
        let left = vm.deadline.saturating_sub(answered);
        let wait = (setup.policy)(
            vm.attempt,
            status,
            retry_after,
            vm.throttles,
            left,
            rng.unit(),
        );
        match wait {
            Some(wait) => queue.push(Reverse((answered + wait, i))),
            None => vm.end = Some((7, answered)),
        }
    }
    let clients = vms
        .iter()
        .map(|vm| {
            let (code, end) = vm.end.unwrap_or((-1, vm.deadline));
            Client {
                start: vm.start,
                code,
                end,
            }
        })
        .collect();
    Storm {
        title: figures::title(
            "simulated",
            setup.identity,
            setup.limits.throttled_costs,
            setup.clients,
        ),
        identity: setup.identity,
        limits: Some(setup.limits.clone()),
        clients,
        traffic,
    }
}

#[test]
#[ignore = "a simulation of minutes of storms: make storm-sim"]
fn storm_sim() {
    let sizes: Vec<usize> = std::env::var("STORM_SIM_CLIENTS")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .unwrap_or_else(|_| panic!("STORM_SIM_CLIENTS: '{n}' is not a number"))
        })
        .collect();
    let spread = Duration::from_secs_f64(figures::env_number("STORM_SPREAD", 0.0));
    let jitter = Duration::from_secs_f64(figures::env_number("STORM_SIM_JITTER", 0.0));
    let seed: u64 = figures::env_number("STORM_SIM_SEED", 1);
    println!(
        "storm-sim: today's policy; released within {:.1} s, start jitter {:.1} s, seed {seed}",
        spread.as_secs_f64(),
        jitter.as_secs_f64()
    );
    for clients in sizes {
        for (identity, costly) in figures::requested() {
            let setup = Setup {
                clients,
                identity,
                limits: figures::limits(costly),
                spread,
                jitter,
                seed,
                policy: todays_policy,
            };
            let started = Instant::now();
            let storm = simulate(&setup);
            for line in storm.report() {
                println!("{line}");
            }
            println!(
                "  run         simulated in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            println!();
        }
    }
}

/// The simulation itself is checked on storms whose outcome is known: these run in
/// `make test` (they take milliseconds).
mod checks {
    use super::*;

    fn setup(clients: usize, identity: Identity, costly: bool) -> Setup {
        Setup {
            clients,
            identity,
            limits: figures::limits(costly),
            spread: Duration::ZERO,
            jitter: Duration::ZERO,
            seed: 7,
            policy: todays_policy,
        }
    }

    fn last_end(storm: &Storm) -> Duration {
        storm
            .clients
            .iter()
            .map(|c| c.end)
            .max()
            .unwrap_or_default()
    }

    #[test]
    fn a_storm_within_the_bucket_succeeds_at_once_with_one_read_each() {
        let storm = simulate(&setup(250, Identity::Shared, false));
        assert_eq!(storm.successes(), 250);
        assert_eq!(storm.traffic.arm, 250);
        assert_eq!(storm.traffic.arm_429, 0);
        assert_eq!(storm.traffic.imds, 500);
        let last = last_end(&storm);
        assert_eq!(last, IMDS_RTT * 2 + ARM_RTT);
    }

    #[test]
    fn a_shared_principal_lets_the_excess_through_at_its_refill_rate() {
        let storm = simulate(&setup(1000, Identity::Shared, false));
        assert_eq!(storm.successes(), 1000);
        let last = last_end(&storm);
        // 750 past the bucket at 25 a second: 30 s, and not much more with Retry-After 1.
        assert!(last >= Duration::from_secs(29), "{last:?}");
        assert!(last <= Duration::from_secs(32), "{last:?}");
        assert_eq!(
            storm.traffic.arm,
            storm.traffic.arm_429 + storm.successes() as u64
        );
    }

    #[test]
    fn system_identities_only_meet_the_global_bucket() {
        let storm = simulate(&setup(4000, Identity::System, false));
        assert_eq!(storm.successes(), 4000);
        // 3750 at once, the 250 others within the next second.
        assert_eq!(storm.traffic.arm_429, 250);
    }

    #[test]
    fn todays_policy_waits_retry_after_exactly_else_backs_off_with_jitter() {
        let secs = Duration::from_secs_f64;
        let left = secs(60.0);
        // (attempt, status, Retry-After, time left, random unit) -> wait
        let cases = [
            (5, 429, Some(secs(3.0)), left, 0.9, Some(secs(3.0))),
            (1, 429, Some(secs(0.0)), left, 0.5, Some(secs(0.1))),
            (1, 429, None, left, 0.5, Some(secs(1.0))),
            (3, 503, None, left, 0.0, Some(secs(3.0))),
            (9, 429, None, left, 1.0, Some(secs(12.5))),
            (1, 429, Some(secs(3.0)), secs(3.0), 0.5, None),
            (1, 403, None, left, 0.5, None),
        ];
        for (attempt, status, after, left, unit, wait) in cases {
            assert_eq!(
                todays_policy(attempt, status, after, attempt, left, unit),
                wait,
                "{attempt} {status} {after:?} {left:?} {unit}"
            );
        }
    }
}
