//! When to try again: the one deadline, which answers are worth another attempt, and how long to
//! wait before it. [`decide`] is a pure function of what happened and what is left, so that the
//! same policy the binary uses can be checked in unit tests and in simulations.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long "connection refused" or "unreachable" is retried: long enough for cloud-init at early
/// boot, short enough that a machine that is not on Azure learns it fast.
pub const UNREACHABLE_WINDOW: Duration = Duration::from_secs(10);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// Waiting less than this for a `Retry-After: 0` would only hammer the service.
const MIN_RETRY_AFTER: Duration = Duration::from_millis(100);

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
    /// A transient answer or failure (a retryable status, a timeout, a broken connection), with
    /// the service's `Retry-After` if it sent one.
    Transient { retry_after: Option<Duration> },
    /// Nothing listening, or no route: retried only within [`UNREACHABLE_WINDOW`].
    NothingListening,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    Wait(Duration),
    /// Stop: the next attempt would come after the deadline.
    GiveUp(Why),
    /// Stop: nothing answered for the whole unreachable window.
    Unreachable,
}

/// Why armi stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The backoff would end past the deadline.
    Deadline,
    /// The service asked to come back after this long, past the deadline.
    RetryAfterPastDeadline(Duration),
}

/// The wait before attempt `attempt + 1`, given what attempt `attempt` (counting from 1) got,
/// the time since the first attempt and the time left; `unit` is a random number in [0, 1)
/// for jitter.
pub fn decide(
    said: Said,
    attempt: u32,
    since_first: Duration,
    left: Duration,
    unit: f64,
) -> Decision {
    match said {
        Said::NothingListening => {
            // The last try lands at the window's end.
            let window_left = UNREACHABLE_WINDOW.saturating_sub(since_first);
            let wait = backoff(attempt, unit).min(window_left);
            if window_left.is_zero() || wait >= left {
                Decision::Unreachable
            } else {
                Decision::Wait(wait)
            }
        }
        Said::Transient {
            retry_after: Some(asked),
        } => {
            let wait = asked.max(MIN_RETRY_AFTER);
            if wait >= left {
                Decision::GiveUp(Why::RetryAfterPastDeadline(asked))
            } else {
                Decision::Wait(wait)
            }
        }
        Said::Transient { retry_after: None } => {
            let wait = backoff(attempt, unit);
            if wait >= left {
                Decision::GiveUp(Why::Deadline)
            } else {
                Decision::Wait(wait)
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn backoff_grows_to_the_cap_with_bounded_jitter() {
        for attempt in 1..20 {
            for unit in [0.0, 0.5, 0.999] {
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
    fn retry_after_is_honoured_and_floored() {
        let said = |s| Said::Transient {
            retry_after: Some(Duration::from_millis(s)),
        };
        assert_eq!(
            decide(said(7000), 1, S(0), S(90), 0.5),
            Decision::Wait(S(7))
        );
        assert_eq!(
            decide(said(0), 1, S(0), S(90), 0.5),
            Decision::Wait(MIN_RETRY_AFTER)
        );
    }

    #[test]
    fn a_retry_after_past_the_deadline_gives_up_saying_so() {
        let said = Said::Transient {
            retry_after: Some(S(30)),
        };
        assert_eq!(
            decide(said, 1, S(0), S(5), 0.5),
            Decision::GiveUp(Why::RetryAfterPastDeadline(S(30)))
        );
    }

    #[test]
    fn nothing_listening_is_retried_only_within_the_window() {
        assert!(matches!(
            decide(Said::NothingListening, 1, S(2), S(80), 0.5),
            Decision::Wait(_)
        ));
        assert_eq!(
            decide(Said::NothingListening, 5, S(10), S(80), 0.5),
            Decision::Unreachable
        );
        // The last wait is cut to land at the window's end.
        assert_eq!(
            decide(
                Said::NothingListening,
                5,
                Duration::from_millis(9500),
                S(80),
                0.5
            ),
            Decision::Wait(Duration::from_millis(500))
        );
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
