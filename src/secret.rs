//! The one type for every secret armi holds: access tokens, identity-host headers
//! (`IDENTITY_HEADER`, `MSI_SECRET`), the Arc key, the federated assertion, proxy credentials and
//! token-response bodies.
//!
//! A [`Secret`] has no `Display`, and its `Debug` shows only its length, so that no `{:?}` or
//! `format!` can leak it by accident; the text is reached only through [`Secret::expose`], at the
//! few places that send or print it on purpose. Creating one also tells [`crate::text::redact`]
//! about it, so that a service echoing it back is redacted from every line armi writes to stderr.

use std::fmt;

use crate::text;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        let text = text.into();
        text::hold(&text);
        Secret(text)
    }

    /// The secret itself, for the request that carries it or the output that prints it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<secret, {} bytes>", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_length_and_not_the_secret() {
        let s = Secret::new("hunter2-but-longer");
        let shown = format!("{s:?} {:#?}", Some(&s));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<secret, 18 bytes>"), "{shown}");
        assert_eq!(s.expose(), "hunter2-but-longer");
    }

    #[test]
    fn a_new_secret_is_redacted_from_text() {
        let s = Secret::new("arc-key-3f2a1b0c9d8e7f60");
        let line = format!("the agent said: bad key {}", s.expose());
        assert_eq!(text::redact(&line), "the agent said: bad key [redacted]");
    }
}
