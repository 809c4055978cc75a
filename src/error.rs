//! The one error type, and the one place that maps failures to exit codes.
//!
//! Every error is one line on stderr, `armi: <what failed>: <detail>`, optionally followed by a
//! `hint:` line. Nothing in here may ever hold a token: messages are built from statuses, service
//! error codes and service messages, and `report` redacts every secret armi holds and anything shaped like a JWT anyway.

use std::fmt;

use crate::text::redact;

/// What kind of failure this is; each kind is one exit code (see [`Kind::exit_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Failed for another reason: ARM 400/409, a response that breaks the protocol, a query
    /// that matched nothing.
    Failed,
    /// Bad flag, argument or value; nothing was sent.
    Usage,
    /// The identity endpoint could not be reached.
    Unreachable,
    /// No identity: none assigned, the requested one not found, or several and none chosen.
    NoIdentity,
    /// ARM or the identity endpoint said 401/403.
    Denied,
    /// ARM said 404.
    NotFound,
    /// Transient failures outlasted the retries or the deadline.
    GaveUp,
}

impl Kind {
    /// The kind for a documented exit code (1 for anything unknown).
    pub fn from_code(code: u8) -> Kind {
        match code {
            2 => Kind::Usage,
            3 => Kind::Unreachable,
            4 => Kind::NoIdentity,
            5 => Kind::Denied,
            6 => Kind::NotFound,
            7 => Kind::GaveUp,
            _ => Kind::Failed,
        }
    }

    /// The documented exit code for this kind (README § Exit codes).
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Failed => 1,
            Kind::Usage => 2,
            Kind::Unreachable => 3,
            Kind::NoIdentity => 4,
            Kind::Denied => 5,
            Kind::NotFound => 6,
            Kind::GaveUp => 7,
        }
    }
}

/// An error with what failed, and a fix where one is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    /// The service's request ids and the time, when a service answered: what support asks for.
    pub ids: Option<String>,
    pub hint: Option<String>,
    /// The answer means "not yet" rather than "no" (a role assignment still propagating, an
    /// identity not attached yet): `--wait-access` asks again.
    pub not_yet: bool,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            ids: None,
            hint: None,
            not_yet: false,
        }
    }

    pub fn usage(message: impl Into<String>) -> Error {
        Error::new(Kind::Usage, message)
    }

    pub fn failed(message: impl Into<String>) -> Error {
        Error::new(Kind::Failed, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    /// Marks the error as "not yet" when `yes`.
    pub fn not_yet_if(mut self, yes: bool) -> Error {
        self.not_yet |= yes;
        self
    }

    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// A failure already told in full on stdout (the doctor's verdict): only the exit code.
    pub fn told(kind: Kind) -> Error {
        Error::new(kind, "")
    }

    /// The lines written to stderr, already redacted; nothing for an error already told.
    pub fn report(&self) -> String {
        if self.message.is_empty() {
            return String::new();
        }
        let mut out = format!("armi: {}\n", redact(&self.message));
        if let Some(ids) = &self.ids {
            out.push_str(&format!("ids: {}\n", redact(ids)));
        }
        if let Some(hint) = &self.hint {
            for line in redact(hint).lines() {
                out.push_str(&format!("hint: {line}\n"));
            }
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.message))
    }
}

impl From<lexopt::Error> for Error {
    fn from(e: lexopt::Error) -> Error {
        Error::usage(e.to_string())
    }
}

/// Writes one line to stderr, redacted. A stderr that cannot be written (`2>/dev/full`, a closed
/// pipe) is ignored: armi's exit code still tells what happened.
pub fn say(line: &str) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{}", redact(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_the_contract() {
        let all = [
            (Kind::Failed, 1),
            (Kind::Usage, 2),
            (Kind::Unreachable, 3),
            (Kind::NoIdentity, 4),
            (Kind::Denied, 5),
            (Kind::NotFound, 6),
            (Kind::GaveUp, 7),
        ];
        for (kind, code) in all {
            assert_eq!(kind.exit_code(), code, "{kind:?}");
            assert_eq!(Kind::from_code(code), kind);
        }
    }

    #[test]
    fn report_has_a_hint_line_when_a_fix_is_known() {
        let e = Error::new(
            Kind::NoIdentity,
            "token: 400 invalid_request: Identity not found",
        )
        .with_hint("pass --client-id");
        assert_eq!(
            e.report(),
            "armi: token: 400 invalid_request: Identity not found\nhint: pass --client-id\n"
        );
    }
}
