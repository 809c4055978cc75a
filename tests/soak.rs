//! Fault soak, `make soak` (not in `make test` or CI: it is `#[ignore]`d).
//!
//! SOAK_RUNS (default 2000) invocations of armi, SOAK_THREADS (default 16) at once, each against
//! its own emulator with one fault of the core issue drawn at random: IMDS (token or instance
//! metadata) or ARM answering 404/410/429/5xx for a count, for a time or always, with or without
//! `Retry-After`; a hang, a slow body, a malformed, truncated or oversized body, a redirect to
//! another host, a connection reset. Each run's command (`token`, `instance`, `group`, `groups`)
//! and `--timeout` (2-6 s) are drawn too. The exit code each run must end with is worked out
//! from README's "Exit codes" and "Transport, retries and security" (never from running armi);
//! fault timings that the retry jitter could send either way are drawn again, so that every
//! expectation is certain. Every run is checked for: that exit code; wall time at most the
//! `--timeout` + 1.5 s; no issued token, no signature of one and nothing `eyJ`-shaped on stderr;
//! peak RSS at most 8 MiB (`wait4` of armi through `tests/bench-measure.c`, so that this
//! process's own memory is not counted); nothing sent to the redirect's other host.
//!
//! The seed (SOAK_SEED, default from the clock) is printed first; each run's own seed derives
//! from it and the run's index, so `SOAK_SEED=S SOAK_ONLY=I` replays run I alone.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use armi_emulator::{Action, Emulator, Fault, Limit, Route, Scenario, Service, SplitMix64};

const RSS_LIMIT_KIB: u64 = 8 * 1024;
const WALL_SLACK: Duration = Duration::from_millis(1500);
const MIB: usize = 1 << 20;

/// The seed of run `index` of the soak seeded `seed`.
fn run_seed(seed: u64, index: usize) -> u64 {
    SplitMix64(seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    ImdsToken,
    ImdsInstance,
    Arm,
}

impl Where {
    const ALL: [Where; 3] = [Where::ImdsToken, Where::ImdsInstance, Where::Arm];

    fn route(self) -> Route {
        match self {
            Where::ImdsToken => Route::ImdsToken,
            Where::ImdsInstance => Route::ImdsInstance,
            Where::Arm => Route::Arm,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Where::ImdsToken => "imds-token",
            Where::ImdsInstance => "imds-instance",
            Where::Arm => "arm",
        }
    }

    fn is_imds(self) -> bool {
        self != Where::Arm
    }
}

#[derive(Clone, Copy, Debug)]
enum Cmd {
    /// `armi token RESOURCE`: a single token request.
    Token,
    /// `armi token`: the cloud from instance metadata, then a token.
    TokenDefault,
    Instance,
    /// `armi group`: instance metadata, a token, one ARM GET.
    Group,
    /// `armi groups`: instance metadata, a token, the list (one page).
    Groups,
}

impl Cmd {
    const ALL: [Cmd; 5] = [
        Cmd::Token,
        Cmd::TokenDefault,
        Cmd::Instance,
        Cmd::Group,
        Cmd::Groups,
    ];

    fn args(self) -> &'static [&'static str] {
        match self {
            Cmd::Token => &["token", "https://management.azure.com/"],
            Cmd::TokenDefault => &["token"],
            Cmd::Instance => &["instance"],
            Cmd::Group => &["group"],
            Cmd::Groups => &["groups"],
        }
    }

    fn touches(self) -> &'static [Where] {
        match self {
            Cmd::Token => &[Where::ImdsToken],
            Cmd::TokenDefault => &[Where::ImdsInstance, Where::ImdsToken],
            Cmd::Instance => &[Where::ImdsInstance],
            Cmd::Group | Cmd::Groups => &Where::ALL,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Status(u16),
    RetryAfter(u16, u64),
    Hang,
    SlowBody(u64),
    Malformed,
    Truncated,
    Oversized(usize),
    Redirect,
    Reset,
}

impl Kind {
    /// The row of the summary this fault counts in.
    fn family(self) -> String {
        match self {
            Kind::Status(code) => format!("status {code}"),
            Kind::RetryAfter(code, _) => format!("status {code} + Retry-After"),
            Kind::Hang => "hang".into(),
            Kind::SlowBody(_) => "slow body".into(),
            Kind::Malformed => "malformed body".into(),
            Kind::Truncated => "truncated body".into(),
            Kind::Oversized(_) => "oversized body".into(),
            Kind::Redirect => "redirect to another host".into(),
            Kind::Reset => "connection reset".into(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Lim {
    Times(u32),
    ForMs(u64),
    Always,
}

impl Lim {
    fn limit(self) -> Limit {
        match self {
            Lim::Times(n) => Limit::Times(n),
            Lim::ForMs(ms) => Limit::For(Duration::from_millis(ms)),
            Lim::Always => Limit::Always,
        }
    }
}

/// How armi waits between attempts (README, "IMDS retries", "Throttled by ARM").
#[derive(Clone, Copy)]
enum Wait {
    /// Exponential from 1 s, cap 10 s, ±25 % jitter; a `Retry-After` (`floor`) is a floor.
    Backoff { floor: f64 },
    /// ARM's 429: `Retry-After` (1 s when none is sent), then a random spread of up to
    /// 8 × it × 3^(n−1) for the n-th 429 in a row, at most 25 s while it is 1 s or less.
    Spread { asked: f64 },
    /// IMDS's 429: Microsoft's schedule, the first within 1 s, then 2 × (2^(n−1) − 1) s ±20 %
    /// (at most 60 s); a `Retry-After` (`floor`) is a floor.
    Schedule { floor: f64 },
}

impl Wait {
    fn of(kind: Kind, at: Where) -> Wait {
        match kind {
            Kind::Status(429) if at.is_imds() => Wait::Schedule { floor: 0.0 },
            Kind::Status(429) => Wait::Spread { asked: 1.0 },
            Kind::RetryAfter(429, secs) if at.is_imds() => Wait::Schedule { floor: secs as f64 },
            Kind::RetryAfter(429, secs) => Wait::Spread { asked: secs as f64 },
            Kind::RetryAfter(_, secs) => Wait::Backoff { floor: secs as f64 },
            _ => Wait::Backoff { floor: 0.0 },
        }
    }

    /// What the service asked for: no wait is shorter.
    fn floor(self) -> f64 {
        match self {
            Wait::Backoff { floor } | Wait::Schedule { floor } => floor,
            Wait::Spread { asked } => asked,
        }
    }

    /// The shortest and the longest wait after the (k+1)-th failure in a row.
    fn bounds(self, k: u32) -> (f64, f64) {
        let (a, b) = match self {
            Wait::Backoff { .. } => {
                let base = f64::from(1u32 << k.min(8)).min(10.0);
                (0.75 * base, 1.25 * base)
            }
            Wait::Spread { asked } => {
                let span = 8.0 * asked * 3f64.powi(k.min(30) as i32);
                (0.0, if asked <= 1.0 { span.min(25.0) } else { span })
            }
            Wait::Schedule { .. } if k == 0 => (0.0, 1.0),
            Wait::Schedule { .. } => {
                let base = (2.0 * (f64::from(1u32 << k.min(10)) - 1.0)).min(60.0);
                (0.8 * base, 1.2 * base)
            }
        };
        match self {
            Wait::Spread { asked } => (asked + a, asked + b),
            _ => (a.max(self.floor()), b.max(self.floor())),
        }
    }
}

/// One run, drawn from its seed.
#[derive(Clone, Debug)]
struct Plan {
    index: usize,
    seed: u64,
    cmd: Cmd,
    at: Where,
    kind: Kind,
    limit: Lim,
    timeout: u64,
    expected: i32,
}

impl Plan {
    fn draw(index: usize, seed: u64) -> Plan {
        let mut rng = SplitMix64(seed);
        loop {
            let cmd = rng.pick(&Cmd::ALL);
            // Mostly a route the command uses; sometimes another, which must not matter.
            // Commands that reach ARM get an ARM fault more often than not, so that ARM's
            // share is not diluted by the IMDS steps before it.
            let at = if rng.below(10) < 9 {
                let steps = cmd.touches();
                if steps.contains(&Where::Arm) && rng.below(10) < 6 {
                    Where::Arm
                } else {
                    rng.pick(steps)
                }
            } else {
                rng.pick(&Where::ALL)
            };
            let kind = match rng.below(10) {
                0 | 1 => Kind::Status(rng.pick(&[404, 410, 429, 500, 502, 503, 504])),
                2 => {
                    if at.is_imds() {
                        Kind::RetryAfter(rng.pick(&[429, 503, 410]), rng.range(1, 3))
                    } else {
                        Kind::RetryAfter(429, rng.range(1, 3))
                    }
                }
                3 => Kind::Hang,
                4 => Kind::SlowBody(rng.pick(&[300, 1000, 2000, 4000, 8000])),
                5 => Kind::Malformed,
                6 => Kind::Truncated,
                7 => {
                    let cap = if at.is_imds() { MIB } else { 32 * MIB };
                    Kind::Oversized(cap + 1 + rng.below(cap as u64 / 4) as usize)
                }
                8 => Kind::Redirect,
                _ => {
                    if rng.below(4) == 0 {
                        Kind::Status(rng.pick(&[401, 403]))
                    } else {
                        Kind::Reset
                    }
                }
            };
            let limit = match rng.below(4) {
                0 | 1 => Lim::Times(rng.range(1, 3) as u32),
                2 => Lim::ForMs(rng.pick(&[500, 1500, 3000, 10_000])),
                _ => Lim::Always,
            };
            let timeout = rng.range(2, 6);
            if let Some(expected) = expect(cmd, at, kind, limit, timeout) {
                return Plan {
                    index,
                    seed,
                    cmd,
                    at,
                    kind,
                    limit,
                    timeout,
                    expected,
                };
            }
            // The jitter could send this one either way: draw again.
        }
    }

    /// ARM sends a body over its 32 MiB cap. The emulator declares the body's length, so armi
    /// must refuse it before reading any of it: these runs are held to the same memory limit as
    /// the others, and reported apart.
    fn over_arm_cap(&self) -> bool {
        matches!(self.kind, Kind::Oversized(_))
            && self.at == Where::Arm
            && self.cmd.touches().contains(&Where::Arm)
    }

    fn describe(&self) -> String {
        format!(
            "run seed {:#x}: armi {} --timeout {}; fault {} {:?} {:?}",
            self.seed,
            self.cmd.args().join(" "),
            self.timeout,
            self.at.name(),
            self.kind,
            self.limit
        )
    }
}

/// The exit code README documents for this run, or `None` when the fault's timing against the
/// deadline is too close to call (the jitter decides).
fn expect(cmd: Cmd, at: Where, kind: Kind, limit: Lim, timeout: u64) -> Option<i32> {
    if !cmd.touches().contains(&at) {
        return Some(0);
    }
    let t = timeout as f64;
    match kind {
        // ARM 404: "not found" (6); never retried (only 429/5xx/timeouts are, from ARM).
        Kind::Status(404) if at == Where::Arm => Some(6),
        // ARM 410 is not among ARM's transient answers, nor a 404: "another reason".
        Kind::Status(410) if at == Where::Arm => Some(1),
        // "ARM or the identity endpoint said 401/403": denied; IMDS never retries them.
        Kind::Status(401 | 403) => Some(5),
        // IMDS 404/410/429/5xx; ARM 429/5xx on a GET: retried with backoff until --timeout.
        Kind::Status(_) | Kind::RetryAfter(..) | Kind::Truncated | Kind::Reset => {
            retried(Wait::of(kind, at), limit, t)
        }
        // Each IMDS attempt may last 20 s, more than any deadline here; ARM has no cut but
        // the deadline: a request that never ends is "gave up" at --timeout.
        Kind::Hang => Some(7),
        Kind::SlowBody(ms) => {
            let total = ms as f64 / 1000.0;
            if total + 0.75 < t {
                Some(0)
            } else if total > t + 0.3 {
                Some(7)
            } else {
                None
            }
        }
        // Not JSON, over the cap, a redirect: "not what the protocol promises".
        Kind::Malformed | Kind::Oversized(_) | Kind::Redirect => Some(1),
    }
}

/// A transient fault: attempts go on (waiting `wait` after each failure) while the fault lasts,
/// within the deadline `t`. 0 when an attempt after the fault is sure to start with time to
/// spare; 7 when every attempt that can start before the deadline surely meets the fault, or
/// the service surely asks for more time than is left. A wait that might end past the
/// deadline becomes one more attempt at a random moment before it: then the jitter decides.
fn retried(wait: Wait, limit: Lim, t: f64) -> Option<i32> {
    const SPARE: f64 = 0.75; // an attempt must start this long before the deadline to count
    const EDGE: f64 = 0.3; // how close to a window's end or the deadline is too close to call
    const LATENCY: f64 = 0.1; // per attempt, on top of the waits
    const ROOM: f64 = 0.5; // the last attempt lands at least this long before the deadline
    let persists = match limit {
        Lim::Always => true,
        Lim::ForMs(ms) => ms as f64 / 1000.0 >= t + EDGE,
        Lim::Times(_) => false,
    };
    if persists {
        return Some(7);
    }
    let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
    for k in 0..64u32 {
        let clear = match limit {
            Lim::Times(n) => k >= n,
            Lim::ForMs(ms) => lo >= ms as f64 / 1000.0 + EDGE,
            Lim::Always => false,
        };
        if clear && hi + SPARE < t {
            return Some(0);
        }
        let faulted = match limit {
            Lim::Times(n) => k < n,
            Lim::ForMs(ms) => hi < ms as f64 / 1000.0 - EDGE,
            Lim::Always => true,
        };
        if !faulted {
            return None;
        }
        if wait.floor() >= t - lo - ROOM + EDGE {
            return Some(7);
        }
        let (a, b) = wait.bounds(k);
        if hi + b + LATENCY + ROOM + EDGE > t {
            return None;
        }
        lo += a;
        hi += b + LATENCY;
    }
    None
}

/// What one run did.
struct Outcome {
    plan: Plan,
    code: i32,
    wall: Duration,
    rss_kib: u64,
    problems: Vec<String>,
    stderr: String,
}

fn armi_bin() -> PathBuf {
    match std::env::var_os("ARMI_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_armi")),
    }
}

/// Builds the `wait4` launcher of `make bench` (static when the C library allows).
fn build_measure() -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bench-measure.c");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak-measure");
    let gcc = |extra: &[&str]| {
        Command::new("gcc")
            .args(["-O2"])
            .args(extra)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(
        gcc(&["-static"]) || gcc(&[]),
        "gcc could not build {}",
        src.display()
    );
    out
}

fn run_one(plan: Plan, measure: &Path, armi: &Path) -> Outcome {
    // The redirect's other host: a socket that must never see a connection.
    let other = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    other.set_nonblocking(true).expect("non-blocking");
    let other_url = format!("http://{}/steal", other.local_addr().expect("its address"));
    let action = match plan.kind {
        Kind::Status(code) => Action::Status {
            code,
            retry_after: None,
        },
        Kind::RetryAfter(code, secs) => Action::Status {
            code,
            retry_after: Some(secs.to_string()),
        },
        Kind::Hang => Action::Hang,
        Kind::SlowBody(ms) => Action::SlowBody {
            total: Duration::from_millis(ms),
        },
        Kind::Malformed => Action::Malformed,
        Kind::Truncated => Action::Truncated,
        Kind::Oversized(bytes) => Action::Oversized { bytes },
        Kind::Redirect => Action::Redirect { to: other_url },
        Kind::Reset => Action::Reset,
    };
    let emu = Emulator::start(Scenario {
        faults: vec![Fault::new(plan.at.route(), action, plan.limit.limit())],
        ..Scenario::default()
    });
    let timeout = plan.timeout.to_string();
    let started = Instant::now();
    let out = Command::new(measure)
        .arg(armi)
        .args(plan.cmd.args())
        .args(["--timeout", &timeout])
        .env_clear()
        .env("ARMI_IMDS_ENDPOINT", emu.imds_url())
        .env("ARMI_ARM_ENDPOINT", emu.arm_url())
        .env("SSL_CERT_FILE", emu.ca_file())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("the launcher runs");
    let outside = started.elapsed();
    let figures = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut problems = Vec::new();
    let fields: Vec<u64> = figures
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let (wall, rss_kib, code) = match fields[..] {
        // The launcher's fourth figure, CPU time, is the bench's.
        [ns, kib, code, _cpu_us] => (Duration::from_nanos(ns), kib, code as i32),
        _ => {
            problems.push(format!("the launcher printed {figures:?}"));
            (outside, 0, -1)
        }
    };
    if code != plan.expected {
        problems.push(format!("exit {code}, expected {}", plan.expected));
    }
    let deadline = Duration::from_secs(plan.timeout) + WALL_SLACK;
    if wall > deadline {
        problems.push(format!("took {wall:.2?}, over --timeout + 1.5 s"));
    }
    if rss_kib > RSS_LIMIT_KIB {
        problems.push(format!("peak RSS {rss_kib} KiB, over {RSS_LIMIT_KIB} KiB"));
    }
    for token in emu.issued_tokens() {
        let signature = token.rsplit('.').next().unwrap_or_default();
        if stderr.contains(&token) || (!signature.is_empty() && stderr.contains(signature)) {
            problems.push("an issued token (or its signature) reached stderr".into());
        }
    }
    if stderr.contains("eyJ") {
        problems.push("something token-shaped (eyJ) reached stderr".into());
    }
    if other.accept().is_ok() || emu.count(Service::Foreign) > 0 {
        problems.push("the other host was contacted".into());
    }
    drop(emu);
    Outcome {
        plan,
        code,
        wall,
        rss_kib,
        problems,
        stderr,
    }
}

fn env_num(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

fn median(sorted: &[f64]) -> f64 {
    if sorted.is_empty() {
        0.0
    } else {
        sorted[sorted.len() / 2]
    }
}

#[test]
#[ignore = "the fault soak: minutes long, run by `make soak`"]
fn soak() {
    let seed = env_num("SOAK_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let runs = env_num("SOAK_RUNS").unwrap_or(2000) as usize;
    let threads = env_num("SOAK_THREADS").unwrap_or(16).max(1) as usize;
    let only = env_num("SOAK_ONLY").map(|i| i as usize);
    println!("soak: SOAK_SEED={seed} (replay: make soak SOAK_SEED={seed} [SOAK_ONLY=run])");
    let indexes: Vec<usize> = match only {
        Some(i) => vec![i],
        None => (0..runs).collect(),
    };
    let plans: Vec<Plan> = indexes
        .iter()
        .map(|&i| Plan::draw(i, run_seed(seed, i)))
        .collect();
    if only.is_some() {
        println!("soak: run {}: {}", plans[0].index, plans[0].describe());
    }
    let armi = armi_bin();
    let measure = build_measure();
    println!(
        "soak: {} runs, {threads} at once, armi {}",
        plans.len(),
        armi.display()
    );

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(plans.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.min(plans.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(plan) = plans.get(i) else { break };
                    let outcome = run_one(plan.clone(), &measure, &armi);
                    if !outcome.problems.is_empty() {
                        println!(
                            "soak: FAIL run {} (SOAK_SEED={seed} SOAK_ONLY={}): {}: {}\n  stderr: {}",
                            outcome.plan.index,
                            outcome.plan.index,
                            outcome.plan.describe(),
                            outcome.problems.join("; "),
                            outcome.stderr.trim().replace('\n', "\n          ")
                        );
                    }
                    let mut all = outcomes.lock().unwrap_or_else(|e| e.into_inner());
                    all.push(outcome);
                    if all.len() % 100 == 0 {
                        println!(
                            "soak: {}/{} runs, {:.0?}",
                            all.len(),
                            plans.len(),
                            started.elapsed()
                        );
                    }
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by_key(|o| o.plan.index);
    report(seed, &outcomes, started.elapsed());
    let failed: Vec<usize> = outcomes
        .iter()
        .filter(|o| !o.problems.is_empty())
        .map(|o| o.plan.index)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} runs failed (SOAK_SEED={seed}): runs {failed:?}",
        failed.len(),
        outcomes.len()
    );
}

fn report(seed: u64, outcomes: &[Outcome], took: Duration) {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct Row {
        runs: usize,
        failed: usize,
        codes: BTreeMap<i32, usize>,
        worst_ratio: f64,
        rss: u64,
    }
    let add = |rows: &mut BTreeMap<String, Row>, key: String, o: &Outcome| {
        let row = rows.entry(key).or_default();
        row.runs += 1;
        row.failed += usize::from(!o.problems.is_empty());
        *row.codes.entry(o.plan.expected).or_default() += 1;
        let ratio = o.wall.as_secs_f64() / o.plan.timeout as f64;
        row.worst_ratio = row.worst_ratio.max(ratio);
        row.rss = row.rss.max(o.rss_kib);
    };
    let mut by_fault = BTreeMap::new();
    let mut by_route = BTreeMap::new();
    let mut by_cmd = BTreeMap::new();
    for o in outcomes {
        add(&mut by_fault, o.plan.kind.family(), o);
        let used = o.plan.cmd.touches().contains(&o.plan.at);
        let route = format!(
            "{}{}",
            o.plan.at.name(),
            if used {
                ""
            } else {
                " (not used by the command)"
            }
        );
        add(&mut by_route, route, o);
        add(&mut by_cmd, format!("armi {}", o.plan.cmd.args()[0]), o);
        if matches!(o.plan.cmd, Cmd::TokenDefault) {
            add(
                &mut by_cmd,
                "  of which `armi token` (no resource)".into(),
                o,
            );
        }
    }
    let table = |title: &str, rows: &BTreeMap<String, Row>| {
        println!(
            "\n| {title} | runs | failed | expected exit codes | max wall/timeout | max RSS KiB |"
        );
        println!("|---|---:|---:|---|---:|---:|");
        for (name, r) in rows {
            let codes: Vec<String> = r.codes.iter().map(|(c, n)| format!("{c}×{n}")).collect();
            println!(
                "| {name} | {} | {} | {} | {:.2} | {} |",
                r.runs,
                r.failed,
                codes.join(" "),
                r.worst_ratio,
                r.rss
            );
        }
    };
    println!(
        "\nsoak: SOAK_SEED={seed}: {} runs in {:.0?}",
        outcomes.len(),
        took
    );
    table("fault", &by_fault);
    table("faulted route", &by_route);
    table("command", &by_cmd);
    let mut over: Vec<f64> = outcomes
        .iter()
        .map(|o| o.wall.as_secs_f64() - o.plan.timeout as f64)
        .collect();
    over.sort_by(f64::total_cmp);
    let mut ratio: Vec<f64> = outcomes
        .iter()
        .map(|o| o.wall.as_secs_f64() / o.plan.timeout as f64)
        .collect();
    ratio.sort_by(f64::total_cmp);
    let mut rss: Vec<f64> = outcomes
        .iter()
        .filter(|o| !o.plan.over_arm_cap())
        .map(|o| o.rss_kib as f64)
        .collect();
    rss.sort_by(f64::total_cmp);
    let capped = outcomes.iter().filter(|o| o.plan.over_arm_cap());
    let (capped_runs, capped_max) = capped.fold((0, 0), |(n, max), o| (n + 1, max.max(o.rss_kib)));
    let gave_up: Vec<&Outcome> = outcomes.iter().filter(|o| o.code == 7).collect();
    let mut late: Vec<f64> = gave_up
        .iter()
        .map(|o| o.wall.as_secs_f64() - o.plan.timeout as f64)
        .collect();
    late.sort_by(f64::total_cmp);
    let failed = outcomes.iter().filter(|o| !o.problems.is_empty()).count();
    println!(
        "\nfailures: {failed} of {}\n\
         wall / --timeout: median {:.2}, max {:.2}; wall - --timeout: max {:+.3} s\n\
         exit-7 runs ({}): wall - --timeout median {:+.3} s, max {:+.3} s\n\
         peak RSS: median {:.0} KiB, max {:.0} KiB (limit {RSS_LIMIT_KIB}), \
         ARM bodies over the 32 MiB cap excluded\n\
         peak RSS with an ARM body over the 32 MiB cap ({capped_runs} runs): max {capped_max} KiB \
         (limit {RSS_LIMIT_KIB})",
        outcomes.len(),
        median(&ratio),
        ratio.last().copied().unwrap_or_default(),
        over.last().copied().unwrap_or_default(),
        gave_up.len(),
        median(&late),
        late.last().copied().unwrap_or_default(),
        median(&rss),
        rss.last().copied().unwrap_or_default(),
    );
}
