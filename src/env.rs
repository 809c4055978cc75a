//! The process environment, read once (in `main`) and handed to whatever needs it, so that every
//! variable follows the same rule and the code that reads it can be tested with a made-up one.
//!
//! The rule: a variable that is unset, empty or only whitespace is unset. (`NO_PROXY=` in a
//! profile, or `AZURE_CLIENT_ID=` in a unit file, means "none", never "the empty value".)

use std::path::Path;

/// The variables armi may read, and where it looks for the files whose presence says which
/// identity host this machine is.
#[derive(Debug, Clone)]
pub struct Env {
    vars: Vec<(String, String)>,
    files: Files,
}

#[derive(Debug, Clone)]
enum Files {
    /// The real filesystem.
    Real,
    /// Only these paths exist (tests).
    Listed(Vec<String>),
}

impl Env {
    /// This process's environment. Values that are not UTF-8 are kept with U+FFFD in place of the
    /// bad bytes, so that whatever reads them refuses them by name rather than not seeing them.
    pub fn from_process() -> Env {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
            .collect();
        Env {
            vars,
            files: Files::Real,
        }
    }

    /// A made-up environment in which no file exists.
    pub fn of(pairs: &[(&str, &str)]) -> Env {
        Env {
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            files: Files::Listed(Vec::new()),
        }
    }

    /// The same environment with `path` existing too (tests).
    pub fn with_file(mut self, path: &str) -> Env {
        match &mut self.files {
            Files::Listed(paths) => paths.push(path.to_string()),
            Files::Real => {}
        }
        self
    }

    /// The variable's value, or `None` when it is unset, empty or only whitespace.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    /// The first of `names` that is set, with its name.
    pub fn first(&self, names: &[&'static str]) -> Option<(&'static str, &str)> {
        names.iter().find_map(|n| self.get(n).map(|v| (*n, v)))
    }

    /// Whether a file exists at `path` (without following a symlink at the end).
    pub fn exists(&self, path: &str) -> bool {
        match &self.files {
            Files::Real => Path::new(path).symlink_metadata().is_ok(),
            Files::Listed(paths) => paths.iter().any(|p| p == path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_means_unset() {
        let env = Env::of(&[("A", ""), ("B", "  \t"), ("C", " x ")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get("B"), None);
        assert_eq!(env.get("C"), Some(" x "));
        assert_eq!(env.get("D"), None);
    }

    #[test]
    fn first_skips_blank_variables() {
        let env = Env::of(&[("no_proxy", ""), ("NO_PROXY", "azure.com")]);
        assert_eq!(
            env.first(&["no_proxy", "NO_PROXY"]),
            Some(("NO_PROXY", "azure.com"))
        );
    }

    #[test]
    fn made_up_files_exist_only_when_listed() {
        let env = Env::of(&[]).with_file("/opt/azcmagent/bin/himds");
        assert!(env.exists("/opt/azcmagent/bin/himds"));
        assert!(!env.exists("/etc/passwd"));
    }
}
