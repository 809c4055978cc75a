//! Waiting for access that is not there yet. A role assigned a minute ago can take up to ten
//! minutes to take effect (longer for some Storage roles), and IMDS does not know an identity
//! attached a few seconds ago: ARM's 403 `AuthorizationFailed`, Key Vault's 403
//! `ForbiddenByRbac`, Storage's 403 `AuthorizationPermissionMismatch` and IMDS's 400 `Identity
//! not found` mean "not yet" as often as "no". Each service's table marks such an answer
//! ([`Error::not_yet`]); with `--wait-access SECS`, [`until_allowed`] asks again, a new token
//! first (the grant may show only in a newer one), with backoff from about 5 s to about 30 s,
//! until SECS have passed. Every other answer, a 404, a 400 validation error or a 401 for the
//! wrong audience among them, ends the wait at once.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use crate::error::{Error, Kind, Result};
use crate::http::Http;
use crate::http::retry::random_unit;
use crate::text::seconds;

/// The first pause: about what IMDS takes to learn a new identity on a VM.
const FIRST: Duration = Duration::from_secs(5);
/// The longest pause: propagation takes minutes, and a minute is long to be late by.
const CAP: Duration = Duration::from_secs(30);

/// The pause after round `round` (from 1): 5 s growing by half each round to 30 s, ±20 %
/// (`unit` in [0, 1)) so that machines started together do not ask in step.
pub fn pause(round: u32, unit: f64) -> Duration {
    let grown = FIRST.mul_f64(1.5f64.powi(round.saturating_sub(1).min(10) as i32));
    grown.min(CAP).mul_f64(0.8 + 0.4 * unit)
}

/// Runs `attempt` (which asks for its token itself) until it succeeds, fails for good, or has
/// said "not yet" for `wait`; the last attempt lands at the end of `wait`, and none after the
/// deadline. With `wait` zero, a "not yet" gets a hint that names the flag.
/// (One loop for every caller: the attempt is `dyn`, and its result stays with the caller.)
pub fn until_allowed(
    http: &Http,
    wait: Duration,
    attempt: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    let started = Instant::now();
    let mut told = false;
    let mut round = 0u32;
    loop {
        round = round.saturating_add(1);
        let e = match attempt() {
            Err(e) if e.not_yet => e,
            done => return done,
        };
        if wait.is_zero() {
            return Err(name_the_flag(e));
        }
        let waited = started.elapsed();
        let left = wait.saturating_sub(waited);
        let pause = pause(round, random_unit()).min(left);
        if left.is_zero() || pause >= http.deadline.left() {
            return Err(still(e, waited));
        }
        http.trace(&format!(
            "{}: not yet; asking again in {} (--wait-access: {} left)",
            e.message,
            seconds(pause),
            seconds(left)
        ));
        if !http.verbose && !told && std::io::stderr().is_terminal() {
            told = true;
            crate::error::say(&format!(
                "armi: access is not there yet ({}); asking again for up to {} (-v shows each wait)",
                short(&e.message),
                seconds(left)
            ));
        }
        std::thread::sleep(pause);
    }
}

/// The error at the end of the wait, saying how long it lasted.
fn still(mut e: Error, waited: Duration) -> Error {
    let state = if e.kind == Kind::Denied {
        "still denied"
    } else {
        "still not known"
    };
    e.message = format!(
        "{} ({state} after {} s of --wait-access)",
        e.message,
        waited.as_secs()
    );
    e
}

fn name_the_flag(mut e: Error) -> Error {
    let line = "if this was granted or attached in the last minutes, it may not have taken \
                effect yet: --wait-access SECS asks again until it does";
    e.hint = Some(match e.hint.take() {
        Some(hint) => format!("{hint}\n{line}"),
        None => line.to_string(),
    });
    e
}

/// The start of a message, for the one progress line.
fn short(message: &str) -> String {
    match message.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &message[..i]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client with a deadline `secs` away and no `-v`.
    fn quiet_http(secs: u64) -> Http {
        Http::new(
            crate::http::Deadline::after(Duration::from_secs(secs)),
            false,
            crate::http::Remote::default(),
        )
    }

    #[test]
    fn pauses_grow_from_five_seconds_to_thirty_with_bounded_jitter() {
        let mid = |round| pause(round, 0.5).as_secs_f64();
        assert!((mid(1) - 5.0).abs() < 1e-9);
        assert!((mid(2) - 7.5).abs() < 1e-9);
        assert!((mid(30) - 30.0).abs() < 1e-9);
        for round in 1..40 {
            for unit in [0.0, 0.999] {
                let d = pause(round, unit).as_secs_f64();
                assert!((4.0..=36.0).contains(&d), "{round}: {d}");
            }
        }
    }

    #[test]
    fn without_a_wait_a_not_yet_names_the_flag_and_is_not_asked_again() {
        let http = quiet_http(5);
        let mut calls = 0;
        let e = until_allowed(&http, Duration::ZERO, &mut || {
            calls += 1;
            Err(Error::new(Kind::Denied, "x: 403").not_yet_if(true))
        })
        .unwrap_err();
        assert_eq!(calls, 1);
        assert!(e.hint.unwrap().contains("--wait-access"));
    }

    #[test]
    fn an_answer_that_is_not_a_not_yet_ends_the_wait_at_once() {
        let http = quiet_http(5);
        let mut calls = 0;
        let e = until_allowed(&http, Duration::from_secs(60), &mut || {
            calls += 1;
            Err(Error::new(Kind::NotFound, "x: 404"))
        })
        .unwrap_err();
        assert_eq!((calls, e.kind), (1, Kind::NotFound));
        assert!(e.hint.is_none());
    }

    #[test]
    fn the_wait_ends_still_denied_when_the_deadline_comes_first() {
        let http = quiet_http(1);
        let e = until_allowed(&http, Duration::from_secs(60), &mut || {
            Err(Error::new(Kind::Denied, "x: 403").not_yet_if(true))
        })
        .unwrap_err();
        assert!(
            e.message
                .ends_with("(still denied after 0 s of --wait-access)"),
            "{e:?}"
        );
    }
}
