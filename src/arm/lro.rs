//! Long-running operations (ARM's async pattern): a write answered 201/202 goes on in Azure, and
//! its end is learned by polling `Azure-AsyncOperation` (a status document) or `Location` (202
//! until done). armi polls as the service asks (`Retry-After`), within the one deadline, and every
//! polled URL passes [`super::Origin::follow`] first.

use std::time::Duration;

use serde_json::Value;

use super::{Session, Url};
use crate::error::{Error, Kind, Result};
use crate::http::{self, Reply};
use crate::text::clean;

/// Provisioning states and operation statuses that end an operation (ARM RPC).
fn terminal(status: &str) -> Option<Outcome> {
    match status.to_ascii_lowercase().as_str() {
        "succeeded" => Some(Outcome::Succeeded),
        "failed" => Some(Outcome::Failed),
        "canceled" | "cancelled" => Some(Outcome::Canceled),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Failed,
    Canceled,
}

/// Follows the operation `first` started to its end and returns the final body, if the
/// operation has one (a DELETE has none).
pub fn wait(
    session: &Session,
    method: &str,
    url: &Url,
    first: Reply,
    what: &str,
) -> Result<Option<Value>> {
    let async_op = first.header("azure-asyncoperation").map(str::to_string);
    let location = first.header("location").map(str::to_string);
    if let Some(link) = async_op {
        let status_url = session.origin.follow(&link, "Azure-AsyncOperation URL")?;
        // Check the Location too before any polling, so a bad link refuses early.
        let location = location
            .map(|l| session.origin.follow(&l, "Location URL"))
            .transpose()?;
        poll_status(session, &status_url, first.retry_after(), what)?;
        return final_result(session, method, url, location.as_ref(), what);
    }
    if first.status == 202 {
        let Some(link) = location else {
            return Err(Error::failed(format!(
                "{what}: 202 Accepted with neither Azure-AsyncOperation nor Location to poll"
            )));
        };
        let location = session.origin.follow(&link, "Location URL")?;
        let done = poll_location(session, &location, first.retry_after(), what)?;
        return match method {
            "PUT" | "PATCH" => session.get_json(url, what).map(Some),
            _ => Ok(done),
        };
    }
    let body = json_body(&first, what)?;
    // A PUT may answer 201 with a provisioningState still running and nothing else to poll:
    // then the resource itself is the status.
    let state = body.as_ref().and_then(provisioning_state);
    match (method, state) {
        ("PUT" | "PATCH", Some(state)) if terminal(&state).is_none() => {
            poll_resource(session, url, first.retry_after(), what).map(Some)
        }
        _ => Ok(body),
    }
}

/// What one poll found: the end, or that the operation still runs (with the service's
/// `Retry-After`, if it gave one).
enum Poll<T> {
    Done(T),
    Again(Option<Duration>),
}

/// Polls with `step` until it finds the end, pausing before each poll as [`pause`] says.
fn polling<T>(
    session: &Session,
    first_wait: Option<Duration>,
    what: &str,
    mut step: impl FnMut() -> Result<Poll<T>>,
) -> Result<T> {
    let mut wait = first_wait;
    let mut poll = 0u32;
    loop {
        poll = poll.saturating_add(1);
        pause(session, wait, poll, what)?;
        match step()? {
            Poll::Done(done) => return Ok(done),
            Poll::Again(next) => wait = next,
        }
    }
}

/// One poll of an operation URL.
fn poll_get(session: &Session, url: &Url, what: &str) -> Result<Reply> {
    session.send(
        "GET",
        url,
        vec![],
        None,
        &format!("{what}: poll the operation"),
    )
}

/// Polls an `Azure-AsyncOperation` status document until its `status` is terminal.
fn poll_status(
    session: &Session,
    status_url: &Url,
    first_wait: Option<Duration>,
    what: &str,
) -> Result<()> {
    polling(session, first_wait, what, || {
        let reply = poll_get(session, status_url, what)?;
        let reply = session.expect_success(reply, what)?;
        let doc: Value = crate::json::parse(&reply.body).map_err(|e| {
            Error::failed(format!("{what}: the operation status is not JSON ({e})"))
        })?;
        let status = doc
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match terminal(status) {
            Some(Outcome::Succeeded) => Ok(Poll::Done(())),
            Some(outcome) => Err(operation_failed(what, outcome, &doc)),
            None => {
                session
                    .http
                    .trace(&format!("{what}: operation {}", clean(status)));
                Ok(Poll::Again(reply.retry_after()))
            }
        }
    })
}

/// Polls a `Location` URL: 202 while running; 200/201 with the result, or 204, when done.
fn poll_location(
    session: &Session,
    location: &Url,
    first_wait: Option<Duration>,
    what: &str,
) -> Result<Option<Value>> {
    polling(session, first_wait, what, || {
        let reply = poll_get(session, location, what)?;
        if reply.status == 202 && reply.gave_up.is_none() {
            session
                .http
                .trace(&format!("{what}: operation still running (202)"));
            return Ok(Poll::Again(reply.retry_after()));
        }
        let reply = session.expect_success(reply, what)?;
        json_body(&reply, what).map(Poll::Done)
    })
}

/// GETs the resource until its `provisioningState` is terminal.
fn poll_resource(
    session: &Session,
    url: &Url,
    first_wait: Option<Duration>,
    what: &str,
) -> Result<Value> {
    polling(session, first_wait, what, || {
        let doc = session.get_json(url, what)?;
        let state = provisioning_state(&doc).unwrap_or_default();
        match terminal(&state) {
            Some(Outcome::Succeeded) => Ok(Poll::Done(doc)),
            Some(outcome) => Err(operation_failed(what, outcome, &doc)),
            None => {
                session
                    .http
                    .trace(&format!("{what}: provisioningState {}", clean(&state)));
                Ok(Poll::Again(None))
            }
        }
    })
}

/// After a successful operation: the resource for PUT/PATCH, the result at `Location` for a
/// POST that gave one, nothing for DELETE.
fn final_result(
    session: &Session,
    method: &str,
    url: &Url,
    location: Option<&Url>,
    what: &str,
) -> Result<Option<Value>> {
    match (method, location) {
        ("PUT" | "PATCH", _) => session.get_json(url, what).map(Some),
        ("POST", Some(location)) => {
            let reply = session.send("GET", location, vec![], None, what)?;
            let reply = session.expect_success(reply, what)?;
            json_body(&reply, what)
        }
        _ => Ok(None),
    }
}

/// Polling faster than this only loads the service (the Azure SDKs for Go and Rust refuse less).
const MIN_POLL: Duration = Duration::from_secs(1);

/// Waits before a poll: `Retry-After` when the service gave one, else backoff; at least a second,
/// whatever the service says, and never past the deadline.
fn pause(session: &Session, wait: Option<Duration>, poll: u32, what: &str) -> Result<()> {
    let wait = wait
        .unwrap_or_else(|| http::retry::backoff(poll, http::retry::random_unit()))
        .max(MIN_POLL);
    let left = session.http.deadline.remaining().unwrap_or_default();
    if wait >= left {
        return Err(Error::new(
            Kind::GaveUp,
            format!(
                "{what}: the operation was still running when --timeout ({} s) ran out; it goes on in Azure",
                session.http.deadline.total().as_secs()
            ),
        )
        .with_hint("raise --timeout to wait longer, or check the resource later"));
    }
    std::thread::sleep(wait);
    Ok(())
}

fn provisioning_state(doc: &Value) -> Option<String> {
    doc.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn json_body(reply: &Reply, what: &str) -> Result<Option<Value>> {
    if reply.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    crate::json::parse(&reply.body).map(Some).map_err(|e| {
        Error::failed(format!(
            "{what}: ARM answered {} but the body is not JSON ({e})",
            reply.status
        ))
    })
}

/// A failed or canceled operation: exit 1 with the operation's own error.
fn operation_failed(what: &str, outcome: Outcome, doc: &Value) -> Error {
    let error = doc
        .get("error")
        .or_else(|| doc.pointer("/properties/error"));
    let field = |k: &str| {
        error
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(clean)
            .unwrap_or_default()
    };
    let verb = match outcome {
        Outcome::Canceled => "was canceled",
        _ => "failed",
    };
    let mut message = format!("{what}: the operation {verb}");
    let (code, text) = (field("code"), field("message"));
    if !code.is_empty() {
        message.push_str(&format!(": {code}"));
    }
    if !text.is_empty() {
        message.push_str(&format!(": {text}"));
    }
    Error::failed(message)
}
