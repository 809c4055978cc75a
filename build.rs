//! Build facts for `armi --version`, as compile-time environment variables:
//!
//! - `ARMI_TARGET`: the target triple this binary is built for (`x86_64-unknown-linux-musl`);
//! - `ARMI_COMMIT`: the short hash of the checked-out commit, or `unknown` when git is missing or
//!   the source is not a git checkout of armi itself;
//! - `ARMI_SOURCE_DATE_EPOCH`: the time of that commit in seconds since 1970, for the man page's
//!   date; outside a checkout, `SOURCE_DATE_EPOCH`, else 0.
//!
//! Nothing here depends on the time, the user or the path of the checkout, so release builds stay
//! byte-for-byte reproducible. Cargo re-runs this script only when HEAD moves (the HEAD file, the
//! branch's ref file or packed-refs), not on every build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=ARMI_TARGET={target}");
    let dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let commit = commit(&dir);
    // The commit's time moves only with HEAD, which `commit` watches; the variable is watched
    // only when it is used, so that builds with and without it in a checkout share their work.
    let seconds = match &commit {
        Some(_) => git(&dir, &["log", "-1", "--format=%ct", "HEAD"]),
        None => {
            println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
            env::var("SOURCE_DATE_EPOCH").ok()
        }
    };
    let seconds: u64 = seconds.and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    println!("cargo:rustc-env=ARMI_SOURCE_DATE_EPOCH={seconds}");
    let commit = commit.unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=ARMI_COMMIT={commit}");
}

/// The short hash of HEAD, with the files whose change moves HEAD registered for re-runs.
fn commit(dir: &Path) -> Option<String> {
    // Only armi's own checkout counts, not a repository that happens to enclose the sources.
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    // `--git-path` resolves linked worktrees and a `.git` file as well as a plain `.git/`.
    let path = |name: &str| git(dir, &["rev-parse", "--git-path", name]).map(|p| dir.join(p));
    let watch = |path: &Path| println!("cargo:rerun-if-changed={}", path.display());
    // A path that does not exist would make cargo re-run this script on every build.
    let head = path("HEAD")?;
    watch(&head);
    // On a branch, HEAD names a ref: its loose file, or packed-refs once git has packed it.
    if let Some(reference) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        if let Some(file) = path(&reference) {
            // A packed ref has no file until the next commit writes one: watch the nearest
            // directory above it instead (cargo notices a file appearing in it), which is at
            // worst `refs/`, never the whole git directory.
            let refs = path("refs")?;
            match file.ancestors().find(|p| p.exists()) {
                Some(found) if found.starts_with(&refs) => watch(found),
                _ => watch(&refs),
            }
        }
        if let Some(packed) = path("packed-refs").filter(|p| p.exists()) {
            watch(&packed);
        }
    }
    let hash = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    hash.bytes().all(|b| b.is_ascii_hexdigit()).then_some(hash)
}

/// Runs git in `dir`; its trimmed stdout when it succeeds with a non-empty answer.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}
