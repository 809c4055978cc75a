//! The figures of a boot storm, real (`tests/storm.rs`) or simulated (`tests/storm_sim.rs`),
//! worked out and printed the same way so that the two can be read side by side.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use armi_emulator::{ArmLimits, BucketSpec, Debt, ImdsLimits, Operation, ideal_schedule};

/// armi's default `--timeout`: every client's deadline, retries included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

/// Every client's deadline: STORM_TIMEOUT seconds (armi's `--timeout`), default armi's own.
pub fn deadline() -> Duration {
    Duration::from_secs(env_number("STORM_TIMEOUT", DEFAULT_TIMEOUT.as_secs()))
}

/// How many clients the one-VM storm runs (STORM_VM_CLIENTS): about what made IMDS answer 429
/// on one VM in public (throttling.md: about 60 processes; 30 already pass its 5 a second).
pub fn one_vm_clients() -> usize {
    env_number("STORM_VM_CLIENTS", 30)
}

/// Which identity the VMs read ARM with, and on how many VMs the clients run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// One user-assigned identity on every VM (`armi --client-id`): one principal's bucket.
    Shared,
    /// Each VM its own system-assigned identity: a bucket each, the global one shared.
    System,
    /// Every client on one VM, with its system identity: the VM's IMDS limits bind (instance
    /// metadata, 5 a second), not ARM's.
    OneVm,
}

impl Identity {
    pub fn name(self) -> &'static str {
        match self {
            Identity::Shared => "shared",
            Identity::System => "system",
            Identity::OneVm => "one VM",
        }
    }

    /// The bucket a storm of single reads runs into: the one principal's, or the
    /// subscription's global one when every VM is its own principal, or the one VM's IMDS
    /// instance-metadata limit (the first request of the job).
    pub fn binding_bucket(self, limits: &ArmLimits) -> BucketSpec {
        match self {
            Identity::Shared => limits.principal(Operation::Read),
            Identity::System => limits.global(Operation::Read),
            Identity::OneVm => {
                let rate = ImdsLimits::default().metadata_per_sec;
                BucketSpec::new(rate, rate)
            }
        }
    }
}

/// The storms the environment asks for: `STORM_SCENARIO` (shared, system, one-vm, all;
/// default all) and `STORM_COSTLY` (0: throttled requests free, 1: they cost a token with debt
/// down to one bucket; default both). The one-VM storm runs once: ARM's buckets do not bind
/// there.
pub fn requested() -> Vec<(Identity, bool)> {
    let identities = match std::env::var("STORM_SCENARIO").as_deref() {
        Ok("shared") => vec![Identity::Shared],
        Ok("system") => vec![Identity::System],
        Ok("one-vm") => vec![Identity::OneVm],
        Ok("all") | Err(_) => vec![Identity::Shared, Identity::System, Identity::OneVm],
        Ok(other) => panic!("STORM_SCENARIO wants shared, system, one-vm or all, not '{other}'"),
    };
    let costly = match std::env::var("STORM_COSTLY").as_deref() {
        Ok("0") => vec![false],
        Ok("1") => vec![true],
        Err(_) => vec![false, true],
        Ok(other) => panic!("STORM_COSTLY wants 0 or 1, not '{other}'"),
    };
    identities
        .into_iter()
        .flat_map(|identity| match identity {
            Identity::OneVm => vec![(identity, costly[0])],
            _ => costly.iter().map(|c| (identity, *c)).collect(),
        })
        .collect()
}

/// A number from the environment, or `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(raw) => raw
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} wants a number, not '{raw}'")),
        Err(_) => default,
    }
}

/// ARM's documented limits, with throttled requests free or costing a token (and then
/// allowed one bucket of debt).
pub fn limits(costly: bool) -> ArmLimits {
    ArmLimits {
        throttled_costs: costly,
        debt: if costly { Debt::OneBucket } else { Debt::None },
        ..ArmLimits::default()
    }
}

/// The title of one storm.
pub fn title(kind: &str, identity: Identity, costly: bool, clients: usize) -> String {
    if identity == Identity::OneVm {
        return format!("{kind} one VM, {clients} armi processes on its IMDS");
    }
    let rule = if costly {
        "429s cost a token (debt down to one bucket)"
    } else {
        "429s free"
    };
    format!("{kind} {}, {rule}, {clients} VMs", identity.name())
}

/// What became of one client, times from the storm's start.
#[derive(Clone, Copy, Debug)]
pub struct Client {
    pub start: Duration,
    /// armi's exit code; -1 for a process the harness had to kill.
    pub code: i32,
    pub end: Duration,
}

/// What the services saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Traffic {
    pub arm: u64,
    pub arm_429: u64,
    pub imds: u64,
    pub imds_429: u64,
}

/// One storm's outcome.
pub struct Storm {
    pub title: String,
    pub identity: Identity,
    /// `None` when nothing throttled.
    pub limits: Option<ArmLimits>,
    pub clients: Vec<Client>,
    pub traffic: Traffic,
    /// Every client's `--timeout`.
    pub deadline: Duration,
    /// When each ARM request arrived, from the storm's start.
    pub arm_arrivals: Vec<Duration>,
}

impl Storm {
    pub fn successes(&self) -> usize {
        self.clients.iter().filter(|c| c.code == 0).count()
    }

    /// The storm's figures, a line each.
    pub fn report(&self) -> Vec<String> {
        let n = self.clients.len();
        let ok = self.successes();
        let mut starts: Vec<Duration> = self.clients.iter().map(|c| c.start).collect();
        starts.sort();
        let spread = starts.last().copied().unwrap_or_default();
        let mut codes: BTreeMap<i32, usize> = BTreeMap::new();
        for client in &self.clients {
            *codes.entry(client.code).or_default() += 1;
        }
        let codes: Vec<String> = codes
            .iter()
            .map(|(code, count)| match code {
                -1 => format!("killed x{count}"),
                code => format!("{code} x{count}"),
            })
            .collect();
        let mut done: Vec<Duration> = self
            .clients
            .iter()
            .filter(|c| c.code == 0)
            .map(|c| c.end)
            .collect();
        done.sort();
        let t = &self.traffic;
        let service = |name: &str, requests: u64, throttled: u64| {
            format!(
                "  {name:<11} {requests} requests, {throttled} answered 429: {} requests and {} \
                 429s per success",
                per(requests, ok),
                per(throttled, ok)
            )
        };
        let mut lines = vec![
            self.title.clone(),
            format!("  clients     {n}, started within {:.2} s", secs(spread)),
            format!(
                "  succeeded   {ok} of {n} ({:.1} %); exit codes: {}",
                percent(ok, n),
                codes.join(", ")
            ),
            service("ARM", t.arm, t.arm_429),
            service("IMDS", t.imds, t.imds_429),
        ];
        lines.push(match done.last() {
            Some(last) => format!(
                "  completion  p50 {:.2} s, p90 {:.2} s, p99 {:.2} s, max {:.2} s (successes, from the storm's start)",
                secs(percentile(&done, 50)),
                secs(percentile(&done, 90)),
                secs(percentile(&done, 99)),
                secs(*last)
            ),
            None => "  completion  no success".to_string(),
        });
        lines.push(self.ideal_line(&starts, done.last().copied()));
        lines.push(format!(
            "  ARM/5 s     {} (requests in each 5 s from the start)",
            per_bin(&self.arm_arrivals)
        ));
        lines.push(format!(
            "  done/5 s    {} (successes in each 5 s)",
            per_bin(&done)
        ));
        lines
    }

    /// What the binding bucket allows at best, and how the last success compares.
    fn ideal_line(&self, starts: &[Duration], last: Option<Duration>) -> String {
        let Some(limits) = &self.limits else {
            return "  ideal       nothing throttled".to_string();
        };
        let spec = self.identity.binding_bucket(limits);
        let schedule = ideal_schedule(spec, starts);
        let ideal = schedule.last().copied().unwrap_or_default();
        let within = schedule
            .iter()
            .zip(starts)
            .filter(|(served, start)| **served <= **start + self.deadline)
            .count();
        let bucket = match self.identity {
            Identity::Shared => "one principal's bucket",
            Identity::System => "the subscription's global bucket",
            Identity::OneVm => "the VM's instance-metadata limit",
        };
        let mut line = format!(
            "  ideal       last success at {:.2} s ({} reads through {bucket} of {} at {}/s)",
            secs(ideal),
            starts.len(),
            spec.capacity,
            spec.refill_per_sec
        );
        if within < starts.len() {
            line.push_str(&format!(
                "; at most {within} within the {} s deadline",
                self.deadline.as_secs()
            ));
        }
        let anyone_waits = schedule
            .iter()
            .zip(starts)
            .any(|(served, start)| served > start);
        match last {
            Some(last) if anyone_waits => {
                line.push_str(&format!("; last/ideal {:.2}", secs(last) / secs(ideal)));
            }
            Some(_) => line.push_str("; last/ideal n/a (the bucket holds every request)"),
            None => {}
        }
        line
    }
}

/// How many of `times` fall in each 5 s from 0 to the last, comma-separated.
fn per_bin(times: &[Duration]) -> String {
    const BIN: f64 = 5.0;
    let Some(last) = times.iter().max() else {
        return "none".to_string();
    };
    let mut bins = vec![0usize; (secs(*last) / BIN) as usize + 1];
    for t in times {
        bins[(secs(*t) / BIN) as usize] += 1;
    }
    bins.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The nearest-rank percentile `p` of sorted `values` (not empty).
pub fn percentile(values: &[Duration], p: usize) -> Duration {
    let rank = (p * values.len()).div_ceil(100).max(1);
    values[rank.min(values.len()) - 1]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

fn per(count: u64, successes: usize) -> String {
    if successes == 0 {
        "n/a".to_string()
    } else {
        format!("{:.2}", count as f64 / successes as f64)
    }
}
