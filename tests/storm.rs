//! Boot storm, `make storm` (not in `make test` or CI: it is `#[ignore]`d).
//!
//! STORM_N (default 1000) real armi processes, each a VM of a scale set running the seed job
//! `armi group` (instance metadata and a token from its own IMDS, then one ARM GET of its
//! resource group) against one emulator: each VM has its own IMDS on its own loopback address
//! with IMDS's per-VM limits, ARM is shared and throttles with its token buckets. They are
//! released within STORM_SPREAD seconds (default 0: the same instant). STORM_SCENARIO picks
//! the identity (`shared`: one user-assigned identity on every VM, armi run with
//! `--client-id`; `system`: each VM its own; `one-vm`: STORM_VM_CLIENTS (default 30) armi
//! processes on one VM, all asking its IMDS, whose per-VM limits then bind; `all`, the
//! default, the three), STORM_COSTLY the token rule (0: 429s are free, 1: a 429 costs a
//! token, with debt down to minus one bucket; unset, both). STORM_TIMEOUT (seconds) runs
//! armi with that `--timeout` instead of its default. An unthrottled storm of the same size
//! runs first, to show what the machine itself takes. Every run prints the figures of
//! `tests/storm_figures`.
//!
//! Why a test of the armi crate: it runs the binary the way `tests/soak.rs` does, with the
//! emulator in the same process, whose counters (requests, 429s) it reads directly. The
//! start barrier: each armi is started through `sh`, which waits on a pipe of its own and
//! then execs armi, so spawning a thousand processes (which takes a while) happens before
//! the storm, and closing the pipes releases them together (or at their drawn offsets).
//! Exits are reaped with `waitpid` as they happen, for completion times. Anything still
//! running at its deadline plus a margin is killed, and every child is killed if the harness
//! itself fails. `make storm` builds it in the `storm` profile: optimised, since a debug
//! emulator would make its own TLS handshakes the bottleneck.

#[path = "storm_figures/mod.rs"]
mod figures;

use std::fs::File;
use std::io::{BufRead, BufReader, PipeReader, PipeWriter};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use armi_emulator::{Emulator, Fleet, Scenario, Service, Throttling};
use figures::{Client, Identity, Storm, Traffic};

/// How long past a client's deadline the harness waits before it kills what is left.
const MARGIN: Duration = Duration::from_secs(15);

fn armi_bin() -> PathBuf {
    match std::env::var_os("ARMI_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_armi")),
    }
}

#[test]
#[ignore = "a storm of real processes: make storm"]
fn storm() {
    raise_open_files();
    let n: usize = figures::env_number("STORM_N", 1000);
    let spread: f64 = figures::env_number("STORM_SPREAD", 0.0);
    let spread = Duration::from_secs_f64(spread);
    println!(
        "storm: {n} armi processes ({}), released within {:.1} s, {} cores",
        armi_bin().display(),
        spread.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    let calibration = run_storm(n, spread, Identity::System, None);
    print_storm(&calibration);
    for (identity, costly) in figures::requested() {
        let clients = match identity {
            Identity::OneVm => figures::one_vm_clients(),
            _ => n,
        };
        let storm = run_storm(clients, spread, identity, Some(costly));
        print_storm(&storm);
    }
}

fn print_storm(run: &Run) {
    for line in run.storm.report() {
        println!("{line}");
    }
    for line in &run.notes {
        println!("  {line}");
    }
    println!();
}

/// A storm and what the harness saw of the machine meanwhile.
struct Run {
    storm: Storm,
    notes: Vec<String>,
}

/// One storm: `costly` `None` runs it unthrottled.
fn run_storm(n: usize, spread: Duration, identity: Identity, costly: Option<bool>) -> Run {
    let limits = figures::limits(costly.unwrap_or(false));
    let fleet = match identity {
        Identity::Shared => Fleet::shared(n),
        Identity::System => Fleet::system(n),
        Identity::OneVm => Fleet::system(1),
    };
    let emulator = Emulator::start(Scenario {
        fleet: Some(fleet),
        throttling: costly.map(|_| Throttling {
            arm: limits.clone(),
            ..Throttling::default()
        }),
        ..Scenario::default()
    });
    let dir = scratch_dir();
    let spawn_started = Instant::now();
    let mut children = Children::default();
    // Released together, the VMs wait on one pipe, so that one close wakes them all at once.
    let together = spread
        .is_zero()
        .then(|| std::io::pipe().expect("the start barrier"));
    let mut gates: Vec<Gate> = Vec::with_capacity(n);
    for vm in 0..n {
        let (reader, gate) = match &together {
            Some((reader, _)) => (reader.try_clone().expect("the start barrier"), None),
            None => {
                let (reader, writer) = std::io::pipe().expect("a start barrier");
                (reader, Some(writer))
            }
        };
        children
            .pids
            .push(spawn_vm(&emulator, vm, identity, &dir, reader));
        gates.push(gate);
    }
    let spawned_in = spawn_started.elapsed();
    // Let the last shells reach their `read` before the storm starts.
    std::thread::sleep(Duration::from_millis(500));
    let usage_before = (usage(libc::RUSAGE_SELF), usage(libc::RUSAGE_CHILDREN));
    let tcp_before = tcp_counters();
    let sampler = Sampler::start();
    let (exits, reaper) = reap(n);
    let offsets = offsets(n, spread);
    let t0 = Instant::now();
    // One close releases them all: they all start at t0.
    let together = match together {
        Some(barrier) => {
            drop(barrier);
            true
        }
        None => false,
    };
    let mut starts = vec![Duration::ZERO; n];
    for vm in order_of(&offsets).into_iter().filter(|_| !together) {
        let due = t0 + offsets[vm];
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        starts[vm] = t0.elapsed();
        drop(gates[vm].take());
    }
    let mut ends: Vec<Option<(i32, Duration)>> = vec![None; n];
    let give_up = t0 + spread + figures::deadline() + MARGIN;
    let mut left = n;
    while left > 0 {
        let wait = give_up.saturating_duration_since(Instant::now());
        match exits.recv_timeout(wait) {
            Ok((pid, code, at)) => {
                if let Some(vm) = children.pids.iter().position(|p| *p == pid) {
                    ends[vm] = Some((code, at.duration_since(t0)));
                    children.pids[vm] = 0;
                    left -= 1;
                }
            }
            Err(_) => {
                children.kill_all();
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let _ = reaper.join();
    let wall = t0.elapsed();
    let usage_after = (usage(libc::RUSAGE_SELF), usage(libc::RUSAGE_CHILDREN));
    let tcp = tcp_counters().since(&tcp_before);
    let (threads, fds) = sampler.stop();
    let clients: Vec<Client> = (0..n)
        .map(|vm| {
            let (code, end) = ends[vm].unwrap_or((-1, wall));
            Client {
                start: starts[vm],
                code,
                end,
            }
        })
        .collect();
    let arm_arrivals = emulator
        .requests()
        .iter()
        .filter(|r| r.service == Service::Arm)
        .map(|r| r.at.saturating_duration_since(t0))
        .collect();
    let stats = emulator.throttle_stats();
    let traffic = Traffic {
        arm: emulator.count(Service::Arm) as u64,
        arm_429: stats.arm_throttled,
        imds: emulator.count(Service::Imds) as u64,
        imds_429: stats.imds_throttled,
    };
    let kind = if costly.is_some() {
        "storm"
    } else {
        "unthrottled storm (the machine's own pace)"
    };
    let title = match costly {
        Some(costly) => figures::title(kind, identity, costly, n),
        None => format!("{kind}, {} VMs", n),
    };
    let mut notes = vec![
        format!(
            "run         {:.1} s wall; {n} processes spawned (before the start) in {:.1} s",
            wall.as_secs_f64(),
            spawned_in.as_secs_f64()
        ),
        format!(
            "cpu         harness and emulator {:.1} s, armi processes {:.1} s (2 cores give {:.1} s in that time)",
            usage_after.0 - usage_before.0,
            usage_after.1 - usage_before.1,
            2.0 * wall.as_secs_f64()
        ),
        format!(
            "emulator    peak {threads} threads and {fds} open files in this process; TCP listen overflows {}, listen drops {}, SYN retransmits {}",
            tcp.listen_overflows, tcp.listen_drops, tcp.syn_retransmits
        ),
    ];
    notes.extend(failure_samples(&clients, &dir));
    drop(emulator);
    if std::env::var_os("STORM_KEEP").is_some() {
        notes.push(format!("stderr      kept in {}", dir.display()));
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Run {
        storm: Storm {
            title,
            identity,
            limits: costly.map(|_| limits),
            clients,
            traffic,
            deadline: figures::deadline(),
            arm_arrivals,
        },
        notes,
    }
}

/// Starts VM `vm`'s armi behind its gate: a shell that execs armi once `barrier` (the read
/// end of a pipe) reaches its end.
fn spawn_vm(
    emulator: &Emulator,
    vm: usize,
    identity: Identity,
    dir: &Path,
    barrier: PipeReader,
) -> i32 {
    let stderr = File::create(dir.join(format!("{vm}.err"))).expect("a stderr file");
    let client_id = Fleet::shared_identity().client_id;
    let mut command = Command::new("/bin/sh");
    command
        .args(["-c", "read go; exec \"$0\" \"$@\""])
        .arg(armi_bin())
        .arg("group");
    if identity == Identity::Shared {
        command.args(["--client-id", &client_id]);
    }
    if let Ok(extra) = std::env::var("STORM_ARMI_ARGS") {
        command.args(extra.split_whitespace());
    }
    if std::env::var_os("STORM_TIMEOUT").is_some() {
        command.args(["--timeout", &figures::deadline().as_secs().to_string()]);
    }
    // On one VM, every client asks that VM's IMDS.
    let vm = if identity == Identity::OneVm { 0 } else { vm };
    // Reaped by `reap`, with waitpid on any child, as the children exit.
    #[allow(clippy::zombie_processes)]
    let child = command
        .env_clear()
        .env("ARMI_IMDS_ENDPOINT", emulator.vm_imds_url(vm))
        .env("ARMI_ARM_ENDPOINT", emulator.arm_url())
        .env("SSL_CERT_FILE", emulator.ca_file())
        .stdin(Stdio::from(barrier))
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("sh starts");
    child.id() as i32
}

/// A child's own start barrier when the VMs start at different times: closing (dropping)
/// the write end releases it.
type Gate = Option<PipeWriter>;

/// The children still running, killed if the harness stops early.
#[derive(Default)]
struct Children {
    /// 0 once reaped.
    pids: Vec<i32>,
}

impl Children {
    fn kill_all(&mut self) {
        for pid in self.pids.iter().filter(|p| **p > 0) {
            // SAFETY: kill(2) on a child of ours that has not been reaped, so the pid is
            // still that child's.
            unsafe {
                libc::kill(*pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Reaps `n` children as they exit: (pid, exit code or -1 when killed, when).
fn reap(
    n: usize,
) -> (
    mpsc::Receiver<(i32, i32, Instant)>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel();
    let reaper = std::thread::spawn(move || {
        for _ in 0..n {
            let mut status = 0;
            // SAFETY: waitpid(2) with a valid pointer to an int for the status.
            let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
            if pid <= 0 {
                return;
            }
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            };
            if tx.send((pid, code, Instant::now())).is_err() {
                return;
            }
        }
    });
    (rx, reaper)
}

/// When each VM starts after the storm's start: all at once, or uniformly within `spread`.
fn offsets(n: usize, spread: Duration) -> Vec<Duration> {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            spread.mul_f64((seed >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// The VMs in the order of their offsets.
fn order_of(offsets: &[Duration]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_by_key(|vm| offsets[*vm]);
    order
}

/// For each exit code but 0, how many, and the first line one of them wrote to stderr.
fn failure_samples(clients: &[Client], dir: &Path) -> Vec<String> {
    let mut seen: Vec<i32> = Vec::new();
    let mut lines = Vec::new();
    for (vm, client) in clients.iter().enumerate() {
        if client.code == 0 || seen.contains(&client.code) {
            continue;
        }
        seen.push(client.code);
        let first = File::open(dir.join(format!("{vm}.err")))
            .ok()
            .and_then(|f| BufReader::new(f).lines().next())
            .and_then(Result::ok)
            .unwrap_or_default();
        let count = clients.iter().filter(|c| c.code == client.code).count();
        lines.push(format!("exit {} x{count}, e.g.: {first}", client.code));
    }
    lines
}

/// The kernel's TCP counters that say whether connections waited for the emulator's accept
/// queues (`/proc/net/netstat`, this network namespace).
#[derive(Default)]
struct TcpCounters {
    listen_overflows: u64,
    listen_drops: u64,
    syn_retransmits: u64,
}

impl TcpCounters {
    fn since(&self, before: &TcpCounters) -> TcpCounters {
        TcpCounters {
            listen_overflows: self
                .listen_overflows
                .saturating_sub(before.listen_overflows),
            listen_drops: self.listen_drops.saturating_sub(before.listen_drops),
            syn_retransmits: self.syn_retransmits.saturating_sub(before.syn_retransmits),
        }
    }
}

fn tcp_counters() -> TcpCounters {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut ext = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (ext.next(), ext.next()) else {
        return TcpCounters::default();
    };
    let value = |wanted: &str| {
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(name, _)| *name == wanted)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    };
    TcpCounters {
        listen_overflows: value("ListenOverflows"),
        listen_drops: value("ListenDrops"),
        syn_retransmits: value("TCPSynRetrans"),
    }
}

/// Samples this process's thread and descriptor counts every 100 ms, keeping the peaks.
struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(usize, usize)>,
}

impl Sampler {
    fn start() -> Sampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut threads, mut fds) = (0, 0);
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
                let now = status
                    .lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
                threads = threads.max(now);
                let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
                fds = fds.max(open);
                std::thread::sleep(Duration::from_millis(100));
            }
            (threads, fds)
        });
        Sampler { stop, thread }
    }

    fn stop(self) -> (usize, usize) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().unwrap_or_default()
    }
}

/// CPU seconds (user + system) of this process or of its reaped children.
fn usage(who: libc::c_int) -> f64 {
    // SAFETY: getrusage(2) fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(who, &mut usage);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A thousand VMs take a few thousand descriptors here: listeners, connections, pipes.
fn raise_open_files() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a rlimit.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("armi-storm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("a scratch directory");
    dir
}
