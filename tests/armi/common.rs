//! Running the real armi binary against the emulator.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use armi_emulator::Action;
pub use armi_emulator::{Emulator, Fault, Limit, Route, Scenario, Service, UserIdentity};

/// The binary under test: the release artifact when `make test` names it, else cargo's build.
pub fn armi_bin() -> PathBuf {
    match std::env::var_os("ARMI_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_armi")),
    }
}

/// What one run of armi did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Asserts the exit code, showing the whole run when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "exit code; run: {self:#?}");
        self
    }

    #[track_caller]
    pub fn expect_stderr(&self, needle: &str) -> &Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}; run: {self:#?}"
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Runs armi with an empty environment but for `env`; nothing from the test runner's own
/// environment (proxies, AZURE_CLIENT_ID) leaks in.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let out = Command::new(armi_bin())
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("armi runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Runs armi pointed at the emulator (IMDS, ARM over TLS, the test CA), plus `extra` variables.
pub fn run_with(emu: &Emulator, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let imds = emu.imds_url();
    let arm = emu.arm_url();
    let ca = emu.ca_file();
    let ca = ca.to_string_lossy().into_owned();
    let mut env = vec![
        ("ARMI_IMDS_ENDPOINT", imds.as_str()),
        ("ARMI_ARM_ENDPOINT", arm.as_str()),
        ("SSL_CERT_FILE", ca.as_str()),
    ];
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push((k, v));
    }
    let run = run_env(args, &env);
    assert_no_token_on_stderr(emu, &run);
    run
}

/// armi with `args`, an empty environment but for the emulator's IMDS, ARM and test CA: for
/// the runs that need their own stdin or their own wait.
fn at_emulator(emu: &Emulator, args: &[&str]) -> Command {
    let mut command = Command::new(armi_bin());
    command
        .args(args)
        .env_clear()
        .env("ARMI_IMDS_ENDPOINT", emu.imds_url())
        .env("ARMI_ARM_ENDPOINT", emu.arm_url())
        .env("SSL_CERT_FILE", emu.ca_file());
    command
}

pub fn run(emu: &Emulator, args: &[&str]) -> Run {
    run_with(emu, args, &[])
}

/// Every run is checked: no token the emulator issued, and nothing token-shaped, on stderr.
#[track_caller]
pub fn assert_no_token_on_stderr(emu: &Emulator, run: &Run) {
    for token in emu.issued_tokens() {
        assert!(
            !run.stderr.contains(&token),
            "a token reached stderr: {run:#?}"
        );
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(
            !run.stderr.contains(signature),
            "a token's signature reached stderr: {run:#?}"
        );
    }
    assert!(
        !run.stderr.contains("eyJ"),
        "something token-shaped reached stderr: {run:#?}"
    );
}

/// Requests the emulator saw on one route.
pub fn token_requests(emu: &Emulator) -> Vec<armi_emulator::Recorded> {
    emu.requests()
        .into_iter()
        .filter(|r| {
            matches!(r.service, Service::Imds) && r.path() == "/metadata/identity/oauth2/token"
        })
        .collect()
}

pub fn arm_requests(emu: &Emulator) -> Vec<armi_emulator::Recorded> {
    emu.requests()
        .into_iter()
        .filter(|r| matches!(r.service, Service::Arm))
        .collect()
}

/// A scenario with one fault.
pub fn with_fault(route: Route, action: Action, limit: Limit) -> Scenario {
    Scenario {
        faults: vec![Fault {
            route,
            action,
            limit,
        }],
        ..Scenario::default()
    }
}

pub fn status(code: u16) -> Action {
    Action::Status {
        code,
        retry_after: None,
    }
}

pub const CLIENT_A: &str = "6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b";
pub const OBJECT_A: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
pub const CLIENT_B: &str = "7b2c8e1d-3e4f-4a61-9bac-1d2e3f4a5b6c";
pub const OBJECT_B: &str = "1e2d3c4b-5a69-4877-86a5-b4c3d2e1f0a9";

pub fn two_user_identities() -> Vec<UserIdentity> {
    vec![
        UserIdentity {
            name: "id-deploy".into(),
            client_id: CLIENT_A.into(),
            object_id: OBJECT_A.into(),
        },
        UserIdentity {
            name: "id-backup".into(),
            client_id: CLIENT_B.into(),
            object_id: OBJECT_B.into(),
        },
    ]
}

/// Like [`run_with`], with `input` on armi's stdin.
pub fn run_with_stdin(emu: &Emulator, args: &[&str], input: &str) -> Run {
    use std::io::Write as _;
    let started = Instant::now();
    let mut child = at_emulator(emu, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("armi runs");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .expect("stdin takes the input");
    }
    let out = child.wait_with_output().expect("armi ends");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    };
    assert_no_token_on_stderr(emu, &run);
    run
}

/// The VM group's ARM path, for `armi get` and `armi rest`.
pub fn group_path(sc: &Scenario) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}",
        sc.subscription_id, sc.resource_group
    )
}

/// A scenario where the system identity may also write in the VM's group.
pub fn writable() -> Scenario {
    let sc = Scenario::default();
    let scope = format!(
        "/subscriptions/{}/resourceGroups/{}",
        sc.subscription_id, sc.resource_group
    );
    Scenario {
        writers: vec![armi_emulator::Grant {
            principal_object_id: sc.system_object_id(),
            scope,
        }],
        ..sc
    }
}

/// Like [`run`], also measuring armi's peak RSS in KiB (its own, from `wait4`, which reaps it:
/// the `Child` is not waited on again).
#[allow(clippy::zombie_processes)]
pub fn run_measured(emu: &Emulator, args: &[&str]) -> (Run, i64) {
    use std::io::Read as _;
    let started = Instant::now();
    let mut child = at_emulator(emu, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("armi runs");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let mut err = String::new();
    let _ = stderr.read_to_string(&mut err);
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and the pid is our own child's.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: valid pointers to a status and a rusage.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let run = Run {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err,
        elapsed: started.elapsed(),
    };
    assert_no_token_on_stderr(emu, &run);
    (run, usage.ru_maxrss)
}

/// A loopback port where nothing listens (bound, then released): connecting is refused.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}
