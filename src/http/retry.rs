//! When to try again: the one deadline, which answers are worth another attempt, and how long to
//! wait before it. [`decide`] is a pure function of what the service said, where the request's
//! retries stand and a random number, so that the policy the binary runs is the one the unit
//! tests check and the storm simulation (`tests/storm_sim.rs`) runs for 100,000 machines.
//!
//! The policy, and why (figures in README § Fleet scale):
//!
//! - **Throttled by a token bucket** (ARM's 429 with `Retry-After`): never before `Retry-After`,
//!   then a random extra wait, uniform in `[0, Retry-After × 8 × 3^(n−1))` for the n-th 429 in a
//!   row, at most 25 s while `Retry-After` is 1 s. A bucket that refills 25 tokens a second
//!   answers `Retry-After: 1` to every client it turns away, so clients that wait exactly that
//!   long come back together and are turned away together (12 requests per success for 1,000
//!   clients on one bucket); the spread sends them back over the time the bucket needs. It
//!   grows with each 429 because each says more clients wait than the last spread allowed for.
//!   It scales with `Retry-After` because a bucket whose 429s cost a token goes into debt, asks
//!   for longer the deeper it is, and stays there while clients knock faster than it refills:
//!   750 waiters on 25 tokens a second must spread over more than 30 s. So while `Retry-After`
//!   is longer than a second the spread has no cap but the deadline; at 1 s (the bucket has a
//!   token again within the second) a spread past 25 s would only leave it idle.
//! - **Throttled by the identity endpoint** (IMDS's 429, which sends no `Retry-After`):
//!   Microsoft's schedule for it, 0, 2, 6, 14, 30 s and then 60 s, each ±20 %, the first spread
//!   over a second rather than at once (processes turned away together would come back
//!   together).
//! - **Anything else transient** (5xx, IMDS's 404 and 410, timeouts, broken connections):
//!   exponential backoff from 1 s doubling to 10 s, ±25 %; a 70-second 410 is outlasted within
//!   the default 90 s.
//! - A `Retry-After` is always a floor; **nothing listening** is retried for
//!   [`UNREACHABLE_WINDOW`] only.
//! - **The deadline**: a wait that would end past it is cut to land at a random moment between
//!   its floor and just before the deadline (one more attempt, not a herd at the last second),
//!   unless the service asked to wait past the deadline, which gives up at once and says so.
//! - **Pacing** ([`pace`]): after a page of a list, when ARM's `x-ms-ratelimit-remaining-*-reads`
//!   says fewer than a second's refill of reads is left, the next page waits for the bucket to
//!   refill that far instead of streaming the list into an empty bucket.

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::text::seconds;

/// How long "connection refused" or "unreachable" is retried: long enough for cloud-init at early
/// boot, short enough that a machine that is not on Azure learns it fast.
pub const UNREACHABLE_WINDOW: Duration = Duration::from_secs(10);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// Waiting less than this for a `Retry-After: 0` would only hammer the service.
const MIN_RETRY_AFTER: Duration = Duration::from_millis(100);
/// A throttled answer without `Retry-After` from a remote service is taken to mean this.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The first extra wait on top of `Retry-After` spans up to this many times `Retry-After` ...
const SPREAD_FIRST: f64 = 8.0;
/// ... and each further 429 in a row multiplies it by this ...
const SPREAD_GROWTH: f64 = 3.0;
/// ... up to this while `Retry-After` is [`SHORT_RETRY_AFTER`] or less: a bucket that has a
/// token again within a second loses nothing to clients that knock (or 429s cost nothing, or
/// the bucket is barely short), and a longer spread only leaves it idle while they wait.
const SPREAD_CAP: Duration = Duration::from_secs(25);
/// A longer `Retry-After` says the bucket is in debt, which every request that reaches it
/// deepens: then the spread is bounded only by the deadline.
const SHORT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// IMDS's retry schedule for its identity endpoint: the n-th wait is this step times 2^(n−1) − 1
/// (0, 2, 6, 14, 30 s) ...
const SCHEDULE_STEP: Duration = Duration::from_secs(2);
/// ... at most this ...
const SCHEDULE_CAP: Duration = Duration::from_secs(60);
/// ... and the first, nominally 0, within this.
const SCHEDULE_FIRST: Duration = Duration::from_secs(1);
/// The last attempt before the deadline lands at least this long before it, so that it has time
/// to be answered.
const LAST_ATTEMPT_ROOM: Duration = Duration::from_millis(500);
/// No wait is computed longer than this (136 years), whatever a service's `Retry-After` says, so
/// that the arithmetic stays far from `Duration`'s limits; any such wait is past every deadline.
const LONGEST_WAIT: Duration = Duration::from_secs(1 << 32);

/// The single deadline of a command, retries included.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
    total: Duration,
}

impl Deadline {
    pub fn after(total: Duration) -> Deadline {
        Deadline::from(Instant::now(), total)
    }

    /// `total` from `start`.
    pub fn from(start: Instant, total: Duration) -> Deadline {
        Deadline {
            end: start + total,
            total,
        }
    }

    /// Time left, or `None` once it has passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.end
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Time left, zero once it has passed.
    pub fn left(&self) -> Duration {
        self.remaining().unwrap_or_default()
    }

    pub fn total(&self) -> Duration {
        self.total
    }

    /// A deadline that ends at `share` of what is left of this one, or at least `floor` from now
    /// (and never after this one): for a step that must leave time for the steps after it.
    pub fn share(&self, share: f64, floor: Duration) -> Deadline {
        let left = self.left();
        let part = left.mul_f64(share).max(floor).min(left.max(floor));
        Deadline {
            end: Instant::now() + part,
            total: part,
        }
    }
}

/// What the last attempt got, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// 429 from a service that throttles with token buckets and says when to come back (ARM,
    /// another Azure API, Entra ID), with its `Retry-After`.
    Throttled { retry_after: Option<Duration> },
    /// 429 from an identity endpoint on this machine (IMDS's per-VM limits), which documents no
    /// `Retry-After`; one it sends anyway is honoured.
    LocalThrottled { retry_after: Option<Duration> },
    /// Another transient answer or failure (a retryable status, a timeout, a broken
    /// connection), with the service's `Retry-After` if it sent one.
    Transient { retry_after: Option<Duration> },
    /// Nothing listening, or no route: retried only within [`UNREACHABLE_WINDOW`].
    NothingListening,
}

/// Where one request's retries stand after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tries {
    /// Attempts made so far, counting from 1.
    pub attempt: u32,
    /// Throttled answers (429) in a row, the last one included; 0 if it was not throttled.
    pub throttles: u32,
    /// The longest `Retry-After` of those throttled answers (zero if none said one): a
    /// bucket that once asked for long is still deep in debt when it briefly asks for less.
    pub longest_asked: Duration,
    /// Time since the first attempt was sent.
    pub since_first: Duration,
    /// Time left before the deadline.
    pub left: Duration,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait, then try again.
    Wait(Wait),
    /// Stop: the next attempt would come after the deadline.
    GiveUp(Why),
    /// Stop: nothing answered for the whole unreachable window.
    Unreachable,
}

/// A wait before the next attempt, and what it is made of (for `-v`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub total: Duration,
    pub basis: Basis,
}

/// Why a wait is as long as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The service's `Retry-After` (or its assumed second), plus a random `spread` for the
    /// `throttles`-th throttled answer in a row.
    Spread {
        asked: Duration,
        spread: Duration,
        throttles: u32,
    },
    /// Step `step` of IMDS's schedule for throttled requests, jittered.
    Schedule { step: u32 },
    /// Exponential backoff.
    Backoff,
    /// The service's `Retry-After`, longer than the backoff or the schedule.
    Asked,
    /// Cut to land before the deadline: the last attempt.
    Last,
}

impl Wait {
    fn of(total: Duration, basis: Basis) -> Wait {
        Wait { total, basis }
    }
}

impl fmt::Display for Wait {
    /// `in 7.3 s (Retry-After 1.0 s + 6.3 s spread after 1 throttled answer)`, for `-v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in {}", seconds(self.total))?;
        match self.basis {
            Basis::Spread {
                asked,
                spread,
                throttles,
            } => write!(
                f,
                " (Retry-After {} + {} spread after {throttles} throttled answer{})",
                seconds(asked),
                seconds(spread),
                if throttles == 1 { "" } else { "s in a row" }
            ),
            Basis::Schedule { step } => write!(f, " (IMDS's retry schedule, step {step})"),
            Basis::Backoff => f.write_str(" (backoff)"),
            Basis::Asked => f.write_str(" (as Retry-After asked)"),
            Basis::Last => f.write_str(" (the last attempt before --timeout)"),
        }
    }
}

/// Why armi stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The backoff would end past the deadline.
    Deadline,
    /// The service asked to come back after this long, past the deadline.
    RetryAfterPastDeadline(Duration),
}

/// The wait before the next attempt, given what the last one got, where the retries stand and
/// `unit`, a random number in [0, 1) for jitter. Never before a `Retry-After`, never past the
/// deadline.
pub fn decide(said: Said, tries: Tries, unit: f64) -> Decision {
    let (floor, wait) = match said {
        Said::NothingListening => return nothing_listening(tries, unit),
        Said::Throttled { retry_after } => {
            let asked = retry_after
                .unwrap_or(DEFAULT_RETRY_AFTER)
                .clamp(MIN_RETRY_AFTER, LONGEST_WAIT);
            let spread = spread(asked.max(tries.longest_asked), tries.throttles).mul_f64(unit);
            let basis = Basis::Spread {
                asked,
                spread,
                throttles: tries.throttles,
            };
            (asked, Wait::of(asked + spread, basis))
        }
        Said::LocalThrottled { retry_after } => {
            let step = tries.throttles.max(1);
            at_least(
                retry_after,
                Wait::of(schedule(step, unit), Basis::Schedule { step }),
            )
        }
        Said::Transient { retry_after } => at_least(
            retry_after,
            Wait::of(backoff(tries.attempt, unit), Basis::Backoff),
        ),
    };
    within_deadline(floor, wait, tries, unit)
}

/// `wait`, or the service's `Retry-After` when that is longer: (the floor, the wait).
fn at_least(retry_after: Option<Duration>, wait: Wait) -> (Duration, Wait) {
    match retry_after.map(|asked| asked.clamp(MIN_RETRY_AFTER, LONGEST_WAIT)) {
        Some(asked) if asked > wait.total => (asked, Wait::of(asked, Basis::Asked)),
        Some(asked) => (asked, wait),
        None => (Duration::ZERO, wait),
    }
}

/// Keeps a wait inside the deadline: one that would end past it is cut to land at a random
/// moment before it, but never before `floor` (what the service asked for).
fn within_deadline(floor: Duration, wait: Wait, tries: Tries, unit: f64) -> Decision {
    if wait.total.saturating_add(LAST_ATTEMPT_ROOM) <= tries.left {
        return Decision::Wait(wait);
    }
    let latest = tries.left.saturating_sub(LAST_ATTEMPT_ROOM);
    if floor >= latest || latest.is_zero() {
        return Decision::GiveUp(if floor.is_zero() {
            Why::Deadline
        } else {
            Why::RetryAfterPastDeadline(floor)
        });
    }
    // Spread over the time between the floor and the latest moment, as the wait itself was:
    // clients that started together must not all come back at the last moment together. (The
    // low bits of `unit`, so that how far the wait was cut does not follow how long it was.)
    let total = floor + (latest - floor).mul_f64((unit * 4096.0).fract());
    Decision::Wait(Wait {
        total,
        basis: Basis::Last,
    })
}

/// The span of the random extra wait after the `throttles`-th throttled answer in a row, for
/// `asked`, the longest `Retry-After` of them: `asked × 8 × 3^(throttles−1)`, at most
/// [`SPREAD_CAP`] while `asked` is a second or less, and bounded only by the deadline when it
/// is more.
fn spread(asked: Duration, throttles: u32) -> Duration {
    let growth = SPREAD_GROWTH.powi(throttles.saturating_sub(1).min(30) as i32);
    let span = Duration::try_from_secs_f64(asked.as_secs_f64() * SPREAD_FIRST * growth)
        .unwrap_or(LONGEST_WAIT)
        .min(LONGEST_WAIT);
    if asked <= SHORT_RETRY_AFTER {
        span.min(SPREAD_CAP)
    } else {
        span
    }
}

/// Step `step` (from 1) of IMDS's schedule: 2 s × (2^(step−1) − 1), at most 60 s, ±20 %; the
/// first, nominally 0, anywhere within [`SCHEDULE_FIRST`].
fn schedule(step: u32, unit: f64) -> Duration {
    if step <= 1 {
        return SCHEDULE_FIRST.mul_f64(unit);
    }
    let factor = (1u32 << (step - 1).min(10)) - 1;
    SCHEDULE_STEP
        .saturating_mul(factor)
        .min(SCHEDULE_CAP)
        .mul_f64(0.8 + 0.4 * unit)
}

fn nothing_listening(tries: Tries, unit: f64) -> Decision {
    // The last try lands at the window's end.
    let window_left = UNREACHABLE_WINDOW.saturating_sub(tries.since_first);
    let wait = backoff(tries.attempt, unit).min(window_left);
    if window_left.is_zero() || wait >= tries.left {
        Decision::Unreachable
    } else {
        Decision::Wait(Wait {
            total: wait,
            basis: Basis::Backoff,
        })
    }
}

/// Exponential backoff from 1 s, capped at 10 s, with ±25 % jitter so that many machines
/// started together do not retry in step.
pub fn backoff(attempt: u32, unit: f64) -> Duration {
    let exp = BACKOFF_FIRST.saturating_mul(1u32 << attempt.saturating_sub(1).min(8));
    exp.min(BACKOFF_CAP).mul_f64(0.75 + 0.5 * unit)
}

/// A number in [0, 1), good enough for jitter; not for anything secret.
pub fn random_unit() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(nanos) ^ (u64::from(std::process::id()) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// How fast one principal's bucket of ARM reads refills (throttling.md: 25 a second).
const READS_PER_SECOND: u64 = 25;

/// The pause before the next page of a list, given the fewest reads ARM's
/// `x-ms-ratelimit-remaining-*-reads` headers said were left after the last one: none while a
/// second's refill is left, else the time the bucket takes to refill that far, so that a long
/// list leaves the reads it shares with other clients (a fleet booting) near a second's worth
/// rather than streaming them to zero and into 429s.
pub fn pace(remaining: Option<u64>) -> Option<Duration> {
    let missing = READS_PER_SECOND.checked_sub(remaining?)?;
    (missing > 0).then(|| Duration::from_secs_f64(missing as f64 / READS_PER_SECOND as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const UNITS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 0.999_999];

    fn tries(attempt: u32, throttles: u32, left: Duration) -> Tries {
        Tries {
            attempt,
            throttles,
            longest_asked: Duration::ZERO,
            since_first: Duration::ZERO,
            left,
        }
    }

    fn waited(decision: Decision) -> Wait {
        match decision {
            Decision::Wait(wait) => wait,
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    fn throttled(secs: u64) -> Said {
        Said::Throttled {
            retry_after: Some(S(secs)),
        }
    }

    #[test]
    fn a_throttled_request_waits_retry_after_plus_a_spread_of_up_to_eight_times_it() {
        for unit in UNITS {
            let wait = waited(decide(throttled(1), tries(1, 1, S(90)), unit));
            assert!(wait.total >= S(1), "{wait:?}");
            assert!(wait.total < S(9), "{wait:?}");
            assert_eq!(wait.total, S(1) + S(8).mul_f64(unit));
        }
    }

    #[test]
    fn the_spread_triples_with_each_throttle_in_a_row_up_to_25_s_at_retry_after_1() {
        let longest = |throttles| {
            waited(decide(
                throttled(1),
                tries(throttles, throttles, S(600)),
                0.999_999,
            ))
            .total
        };
        assert!(
            longest(2) > S(24) && longest(2) <= S(25),
            "{:?}",
            longest(2)
        );
        for throttles in 3..40 {
            assert!(
                longest(throttles) <= S(26),
                "{throttles}: {:?}",
                longest(throttles)
            );
            assert!(
                longest(throttles) > S(25),
                "{throttles}: {:?}",
                longest(throttles)
            );
        }
    }

    #[test]
    fn a_longer_retry_after_scales_the_spread_and_lifts_its_cap() {
        // A bucket in debt asks for 11 s: the spread is 88 s, then 264 s, 792 s...
        let second = waited(decide(throttled(11), tries(2, 2, S(3600)), 0.5)).total;
        assert_eq!(second, S(11) + S(264).mul_f64(0.5));
        let fifth = waited(decide(throttled(11), tries(5, 5, S(100_000)), 0.5)).total;
        assert_eq!(fifth, S(11) + S(11 * 8 * 81).mul_f64(0.5));
    }

    #[test]
    fn a_bucket_that_asked_for_long_keeps_the_long_spread_when_it_asks_for_less() {
        // Deep in debt it asked for 11 s; now, almost out of it, for 1 s: the clients still
        // waiting are as many as before, so the spread stays that of 11 s.
        let tries = Tries {
            longest_asked: S(11),
            ..tries(2, 2, S(3600))
        };
        let wait = waited(decide(throttled(1), tries, 0.5));
        assert_eq!(wait.total, S(1) + S(11 * 24).mul_f64(0.5));
    }

    #[test]
    fn no_throttled_wait_comes_before_retry_after() {
        for asked in [0, 1, 2, 7, 30] {
            for throttles in [1, 2, 5, 30] {
                for unit in UNITS {
                    for left in [S(5), S(40), S(90), S(600)] {
                        let said = throttled(asked);
                        if let Decision::Wait(wait) =
                            decide(said, tries(throttles, throttles, left), unit)
                        {
                            assert!(
                                wait.total >= S(asked).max(MIN_RETRY_AFTER),
                                "{asked} {wait:?}"
                            );
                            assert!(wait.total + LAST_ATTEMPT_ROOM <= left, "{left:?} {wait:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_throttled_answer_without_retry_after_counts_as_one_second() {
        let said = Said::Throttled { retry_after: None };
        assert_eq!(waited(decide(said, tries(1, 1, S(90)), 0.0)).total, S(1));
        let zero = throttled(0);
        assert_eq!(
            waited(decide(zero, tries(1, 1, S(90)), 0.0)).total,
            MIN_RETRY_AFTER
        );
    }

    #[test]
    fn imds_429s_follow_microsofts_schedule_with_jitter() {
        let said = Said::LocalThrottled { retry_after: None };
        let range = |step: u32| {
            let waits: Vec<Duration> = UNITS
                .iter()
                .map(|u| waited(decide(said, tries(step, step, S(600)), *u)).total)
                .collect();
            (waits[0], waits[4])
        };
        assert_eq!(range(1).0, Duration::ZERO);
        assert!(range(1).1 < S(1));
        for (step, nominal) in [
            (2, 2.0),
            (3, 6.0),
            (4, 14.0),
            (5, 30.0),
            (6, 60.0),
            (9, 60.0),
        ] {
            let (low, high) = range(step);
            assert!(
                (low.as_secs_f64() - nominal * 0.8).abs() < 1e-6,
                "{step}: {low:?}"
            );
            assert!(
                (high.as_secs_f64() - nominal * 1.2).abs() < 1e-4,
                "{step}: {high:?}"
            );
        }
    }

    #[test]
    fn an_imds_retry_after_is_a_floor_for_its_schedule() {
        let said = Said::LocalThrottled {
            retry_after: Some(S(3)),
        };
        let wait = waited(decide(said, tries(1, 1, S(90)), 0.5));
        assert_eq!(wait, Wait::of(S(3), Basis::Asked));
        let late = waited(decide(said, tries(5, 5, S(90)), 0.5));
        assert_eq!(late.total, S(30));
    }

    #[test]
    fn other_transient_answers_back_off_exponentially_with_retry_after_as_a_floor() {
        let said = Said::Transient { retry_after: None };
        assert_eq!(waited(decide(said, tries(3, 0, S(90)), 0.5)).total, S(4));
        let asked = Said::Transient {
            retry_after: Some(S(7)),
        };
        assert_eq!(waited(decide(asked, tries(1, 0, S(90)), 0.5)).total, S(7));
        assert_eq!(waited(decide(asked, tries(5, 0, S(90)), 0.5)).total, S(10));
    }

    #[test]
    fn backoff_grows_to_the_cap_with_bounded_jitter() {
        for attempt in 1..20 {
            for unit in UNITS {
                let d = backoff(attempt, unit);
                let base = (1u64 << (attempt - 1).min(8)).min(10) as f64;
                assert!(d.as_secs_f64() >= base * 0.75 - 1e-9, "{attempt}: {d:?}");
                assert!(d.as_secs_f64() <= base * 1.25 + 1e-9, "{attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn backoff_outlasts_a_70_second_410_within_the_default_deadline() {
        // Any attempt made before 70 s is followed by one at most one (jittered, capped) wait
        // later, so the first attempt after the 410 window still falls inside 90 s.
        let longest = (1..40).map(|a| backoff(a, 0.999)).max().unwrap_or_default();
        assert!(S(70) + longest < S(90), "{longest:?}");
    }

    #[test]
    fn a_wait_past_the_deadline_is_cut_to_land_before_it_but_not_before_retry_after() {
        // (With unit 0 the spread is nothing, and the wait fits.)
        for unit in &UNITS[1..] {
            let unit = *unit;
            let wait = waited(decide(throttled(2), tries(3, 3, S(10)), unit));
            assert_eq!(wait.basis, Basis::Last);
            assert!(wait.total >= S(2), "{wait:?}");
            assert!(wait.total + LAST_ATTEMPT_ROOM <= S(10), "{wait:?}");
            let backoff = Said::Transient { retry_after: None };
            let cut = waited(decide(backoff, tries(8, 0, S(3)), unit));
            assert_eq!(cut.basis, Basis::Last);
            assert!(cut.total + LAST_ATTEMPT_ROOM <= S(3), "{cut:?}");
        }
    }

    #[test]
    fn a_retry_after_of_any_size_gives_up_without_overflow() {
        let huge = [u64::MAX, u64::MAX / 8, 1 << 40];
        for secs in huge {
            for unit in UNITS.into_iter().chain([1.0 - f64::EPSILON]) {
                for (n, longest) in [(1, 0), (30, secs), (u32::MAX, secs)] {
                    let at = Tries {
                        longest_asked: S(longest),
                        ..tries(n, n, S(1 << 40))
                    };
                    for said in [
                        throttled(secs),
                        Said::LocalThrottled {
                            retry_after: Some(S(secs)),
                        },
                        Said::Transient {
                            retry_after: Some(S(secs)),
                        },
                    ] {
                        match decide(said, at, unit) {
                            Decision::GiveUp(Why::RetryAfterPastDeadline(_)) => {}
                            Decision::Wait(wait) => assert!(wait.total < S(1 << 40), "{wait:?}"),
                            other => panic!("{secs} s: {other:?}"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_retry_after_past_the_deadline_gives_up_saying_so() {
        assert_eq!(
            decide(throttled(30), tries(1, 1, S(5)), 0.5),
            Decision::GiveUp(Why::RetryAfterPastDeadline(S(30)))
        );
        let said = Said::Transient { retry_after: None };
        assert_eq!(
            decide(said, tries(1, 0, Duration::from_millis(400)), 0.5),
            Decision::GiveUp(Why::Deadline)
        );
    }

    #[test]
    fn nothing_listening_is_retried_only_within_the_window() {
        let at = |since: Duration, attempt| Tries {
            attempt,
            throttles: 0,
            longest_asked: Duration::ZERO,
            since_first: since,
            left: S(80),
        };
        assert!(matches!(
            decide(Said::NothingListening, at(S(2), 1), 0.5),
            Decision::Wait(_)
        ));
        assert_eq!(
            decide(Said::NothingListening, at(S(10), 5), 0.5),
            Decision::Unreachable
        );
        // The last wait is cut to land at the window's end.
        assert_eq!(
            waited(decide(
                Said::NothingListening,
                at(Duration::from_millis(9500), 5),
                0.5
            ))
            .total,
            Duration::from_millis(500)
        );
    }

    #[test]
    fn each_wait_says_why_it_is_that_long() {
        let spread = waited(decide(throttled(1), tries(2, 2, S(90)), 0.25)).to_string();
        assert_eq!(
            spread,
            "in 7.0 s (Retry-After 1.0 s + 6.0 s spread after 2 throttled answers in a row)"
        );
        let first = waited(decide(throttled(1), tries(1, 1, S(90)), 0.5)).to_string();
        assert!(
            first.ends_with("spread after 1 throttled answer)"),
            "{first}"
        );
        let imds = Said::LocalThrottled { retry_after: None };
        let step = waited(decide(imds, tries(3, 3, S(90)), 0.5)).to_string();
        assert_eq!(step, "in 6.0 s (IMDS's retry schedule, step 3)");
        let last = waited(decide(throttled(1), tries(3, 3, S(5)), 0.5)).to_string();
        assert!(
            last.ends_with("(the last attempt before --timeout)"),
            "{last}"
        );
    }

    #[test]
    fn a_list_pauses_when_fewer_than_a_seconds_reads_are_left() {
        assert_eq!(pace(None), None);
        assert_eq!(pace(Some(249)), None);
        assert_eq!(pace(Some(25)), None);
        assert_eq!(pace(Some(24)), Some(Duration::from_millis(40)));
        assert_eq!(pace(Some(0)), Some(S(1)));
    }

    #[test]
    fn a_deadline_share_leaves_time_for_later_steps() {
        let d = Deadline::after(S(10));
        let part = d.share(0.25, Duration::from_millis(200));
        assert!(part.total() <= Duration::from_millis(2500) && part.total() > S(2));
        let done = Deadline::after(Duration::ZERO);
        assert_eq!(
            done.share(0.5, Duration::from_millis(200)).total(),
            Duration::from_millis(200)
        );
    }
}
