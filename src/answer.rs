//! A service's answer that is not what was asked for, read in every shape Azure services use,
//! and turned into one error line: `<what>: <status> <code>: <message>`. Each service keeps its
//! own table of what a status and code mean (the exit code) and how to fix it (the hint); the
//! reading and the line are the same for all.

use serde_json::Value;

use crate::error::{Error, Kind};
use crate::http::Reply;
use crate::text::clean;

/// What a service said: its status, its error code and its message, cleaned for a terminal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub status: u16,
    /// The service's error code (`AuthorizationFailed`, `invalid_request`...), if it gave one.
    pub code: Option<String>,
    /// A more specific code inside the error (Key Vault's `innererror.code`).
    pub inner_code: Option<String>,
    pub message: String,
}

impl Answer {
    /// Reads the error out of a reply: ARM's `{"error":{"code","message"}}`, OAuth's
    /// `{"error","error_description"}`, IMDS's `{"error": text}`, `{"statusCode","message"}`,
    /// the `x-ms-error-code` header of Storage (whose bodies are XML), or plain text.
    pub fn read(reply: &Reply) -> Answer {
        let mut answer = match crate::json::parse(&reply.body) {
            Ok(Value::Object(doc)) => from_json(&doc),
            _ => Answer {
                message: clean(&String::from_utf8_lossy(&reply.body)),
                ..Answer::default()
            },
        };
        answer.status = reply.status;
        if answer.code.is_none() {
            answer.code = reply.header("x-ms-error-code").map(clean);
        }
        answer
    }

    /// The message in lower case, for matching a hint.
    pub fn lower(&self) -> String {
        self.message.to_ascii_lowercase()
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(code))
    }

    /// `<status> <code>: <message>`, leaving out what is missing.
    pub fn line(&self) -> String {
        let mut line = self.status.to_string();
        if let Some(code) = &self.code {
            line.push(' ');
            line.push_str(code);
            // Key Vault's `Forbidden` says little; its inner code says which denial it is.
            if let Some(inner) = &self.inner_code {
                line.push_str(&format!(" ({inner})"));
            }
        }
        if !self.message.is_empty() {
            line.push_str(": ");
            line.push_str(&self.message);
        }
        line
    }
}

fn from_json(doc: &serde_json::Map<String, Value>) -> Answer {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(clean);
    if let Some(Value::Object(error)) = doc.get("error") {
        return Answer {
            code: text(error.get("code")),
            inner_code: error
                .get("innererror")
                .and_then(|inner| text(inner.get("code"))),
            message: text(error.get("message")).unwrap_or_default(),
            ..Answer::default()
        };
    }
    let (code, message) = match (text(doc.get("error")), text(doc.get("error_description"))) {
        (Some(code), Some(description)) => (Some(code), description),
        (error, None) => (
            None,
            error
                .or_else(|| text(doc.get("message")))
                .unwrap_or_default(),
        ),
        (None, Some(description)) => (None, description),
    };
    Answer {
        code,
        message,
        ..Answer::default()
    }
}

/// The error for an answer that is not a success: kind and hint from the service's own table
/// (`meaning`), or, when it was a transient error that outlasted the retries, "gave up" with
/// `retry_hint`.
pub fn error(
    what: &str,
    reply: &Reply,
    retry_hint: &str,
    meaning: impl FnOnce(&Answer) -> (Kind, Option<String>),
) -> Error {
    let answer = Answer::read(reply);
    let message = format!("{what}: {}", answer.line());
    let (kind, hint, message) = match &reply.gave_up {
        Some(why) => (
            Kind::GaveUp,
            Some(retry_hint.to_string()),
            format!("{message} ({why})"),
        ),
        None => {
            let (kind, hint) = meaning(&answer);
            (kind, hint, message)
        }
    };
    Error {
        ids: Some(ids_line(reply)),
        hint,
        ..Error::new(kind, message)
    }
}

/// The line support pastes: the service's request ids, this run's client request id, the time.
pub fn ids_line(reply: &Reply) -> String {
    let mut ids: Vec<String> = reply.service_ids().into_iter().collect();
    ids.push(format!(
        "x-ms-client-request-id {}",
        crate::http::client_request_id()
    ));
    ids.push(crate::time::rfc3339(crate::time::now()));
    ids.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_shape_is_read() {
        for (body, line) in [
            (
                r#"{"error":{"code":"SecretHeaderNotFound","message":"Secret is not found in the request headers."}}"#,
                "404 SecretHeaderNotFound: Secret is not found in the request headers.",
            ),
            (
                r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
                "404 invalid_request: Identity not found",
            ),
            (
                r#"{"error":"Bad request. api-version was not specified in the request"}"#,
                "404: Bad request. api-version was not specified in the request",
            ),
            (
                r#"{"statusCode":500,"message":"An unexpected error occured while fetching the AAD Token."}"#,
                "404: An unexpected error occured while fetching the AAD Token.",
            ),
            ("404 page not found\n", "404: 404 page not found"),
            ("", "404"),
        ] {
            assert_eq!(
                Answer::read(&Reply::new(404, body.as_bytes())).line(),
                line,
                "{body}"
            );
        }
    }

    #[test]
    fn key_vaults_inner_code_and_storages_header_code_are_read() {
        let kv = Answer::read(&Reply::new(
            403,
            r#"{"error":{"code":"Forbidden","message":"Caller is not authorized","innererror":{"code":"ForbiddenByRbac"}}}"#,
        ));
        assert_eq!(kv.inner_code.as_deref(), Some("ForbiddenByRbac"));
        let mut storage = Reply::new(403, "<?xml version=\"1.0\"?><Error><Code>X</Code></Error>");
        storage.headers.push((
            "x-ms-error-code".into(),
            "AuthorizationPermissionMismatch".into(),
        ));
        assert!(Answer::read(&storage).code_is("authorizationpermissionmismatch"));
    }

    #[test]
    fn a_transient_answer_that_outlasted_the_retries_is_gave_up() {
        let mut r = Reply::new(503, "");
        r.gave_up = Some("gave up after 3 attempts".into());
        let e = error("x", &r, "raise --timeout", |_| (Kind::Failed, None));
        assert_eq!(e.kind, Kind::GaveUp);
        assert_eq!(e.message, "x: 503 (gave up after 3 attempts)");
    }

    #[test]
    fn hostile_text_becomes_one_clean_line() {
        let a = Answer::read(&Reply::new(
            500,
            "line1\r\n\u{1b}[2Jline2\u{202e}".as_bytes(),
        ));
        assert_eq!(a.message, "line1 [2Jline2");
    }
}
