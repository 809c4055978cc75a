//! Throttling as ARM and IMDS do it (throttling.md), as a pure model: token buckets that are
//! told the time rather than reading a clock, so that the emulator drives them in real time
//! and a simulation drives the very same code in virtual time.
//!
//! ARM: one bucket per (principal, subscription, operation) and one per (subscription,
//! operation) shared by every principal, `global_factor` times larger ("Modernizing Azure
//! Resource Manager Throttling", 2024). A request goes through only if both buckets hold a
//! token, and then takes one from each. Whether a throttled request takes a token too is not
//! documented; [`ArmLimits::throttled_costs`] chooses, and [`Debt`] how far below zero a
//! bucket may then go. `Retry-After` is the time until the short bucket holds a token again,
//! in whole seconds rounded up, at least 1, so it grows with the debt.
//!
//! IMDS, per VM: the identity category (`/metadata/identity/...`) 20 requests a second and 5
//! at once, everything else 5 a second (IMDS-DOC "Rate limiting"). A second's worth of
//! requests may come at once (the bucket holds one second of refill); throttled IMDS requests
//! cost nothing (nothing public says otherwise, and IMDS sends no `Retry-After`).

use std::collections::HashMap;
use std::time::Duration;

/// A bucket's size and how fast it fills up again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketSpec {
    pub capacity: u32,
    pub refill_per_sec: u32,
}

impl BucketSpec {
    pub const fn new(capacity: u32, refill_per_sec: u32) -> Self {
        BucketSpec {
            capacity,
            refill_per_sec,
        }
    }

    /// This bucket `factor` times larger and faster.
    pub fn times(self, factor: u32) -> Self {
        BucketSpec::new(
            self.capacity.saturating_mul(factor),
            self.refill_per_sec.saturating_mul(factor),
        )
    }
}

/// A token bucket at the time it was last told.
#[derive(Clone, Debug)]
pub struct Bucket {
    spec: BucketSpec,
    tokens: f64,
    at: Duration,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn full(spec: BucketSpec, now: Duration) -> Self {
        Bucket {
            spec,
            tokens: f64::from(spec.capacity),
            at: now,
        }
    }

    /// Adds what flowed in since the bucket was last told the time (never past its capacity;
    /// a time before the last one changes nothing).
    pub fn refill(&mut self, now: Duration) {
        if now > self.at {
            let flowed = (now - self.at).as_secs_f64() * f64::from(self.spec.refill_per_sec);
            self.tokens = (self.tokens + flowed).min(f64::from(self.spec.capacity));
            self.at = now;
        }
    }

    /// Tokens held, negative when in debt.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }

    pub fn has_token(&self) -> bool {
        self.tokens >= 1.0
    }

    /// Takes one token, going no lower than `floor`.
    pub fn take(&mut self, floor: f64) {
        self.tokens = (self.tokens - 1.0).max(floor.min(self.tokens));
    }

    /// Whole tokens left, as the `x-ms-ratelimit-remaining-*` headers count them.
    pub fn remaining(&self) -> u64 {
        self.tokens.max(0.0).floor() as u64
    }

    /// How long until the bucket holds a whole token (zero if it does).
    pub fn until_token(&self) -> Duration {
        if self.has_token() || self.spec.refill_per_sec == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((1.0 - self.tokens) / f64::from(self.spec.refill_per_sec))
    }

    /// `Retry-After` for a client this bucket turned away: [`Bucket::until_token`] in whole
    /// seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        // A hair below a whole second is that second, not the next, whatever the float says.
        let secs = (self.until_token().as_secs_f64() - 1e-9).ceil();
        (secs as u64).max(1)
    }
}

/// How far below zero a bucket may go when throttled requests cost a token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Debt {
    /// Never below zero: a throttled request takes only what is there.
    #[default]
    None,
    /// Down to minus the bucket's capacity: a herd that keeps knocking delays itself.
    OneBucket,
}

/// ARM's limits for one region.
#[derive(Clone, Debug, PartialEq)]
pub struct ArmLimits {
    /// Per principal and subscription: GET and HEAD.
    pub reads: BucketSpec,
    /// Per principal and subscription: PUT, PATCH, POST.
    pub writes: BucketSpec,
    /// Per principal and subscription: DELETE.
    pub deletes: BucketSpec,
    /// The per-subscription bucket of all principals together is this many times the
    /// per-principal one.
    pub global_factor: u32,
    /// Whether a request that is answered 429 takes a token as well.
    pub throttled_costs: bool,
    /// How far into debt that may take a bucket.
    pub debt: Debt,
}

impl Default for ArmLimits {
    /// The documented defaults: 250/25 reads, 200/10 writes and deletes, global 15×,
    /// throttled requests free.
    fn default() -> Self {
        ArmLimits {
            reads: BucketSpec::new(250, 25),
            writes: BucketSpec::new(200, 10),
            deletes: BucketSpec::new(200, 10),
            global_factor: 15,
            throttled_costs: false,
            debt: Debt::None,
        }
    }
}

impl ArmLimits {
    /// The per-principal bucket of an operation.
    pub fn principal(&self, op: Operation) -> BucketSpec {
        match op {
            Operation::Read => self.reads,
            Operation::Write => self.writes,
            Operation::Delete => self.deletes,
        }
    }

    /// The per-subscription bucket of an operation, shared by all principals.
    pub fn global(&self, op: Operation) -> BucketSpec {
        self.principal(op).times(self.global_factor)
    }

    /// The lowest a bucket of `spec` may go.
    fn floor(&self, spec: BucketSpec) -> f64 {
        match self.debt {
            Debt::None => 0.0,
            Debt::OneBucket => -f64::from(spec.capacity),
        }
    }
}

/// The kinds of request ARM counts apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Read,
    Write,
    Delete,
}

impl Operation {
    /// GET and HEAD read, DELETE deletes, everything else writes.
    pub fn of_method(method: &str) -> Self {
        match method.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" => Operation::Read,
            "DELETE" => Operation::Delete,
            _ => Operation::Write,
        }
    }

    /// `read`, as throttling messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Delete => "delete",
        }
    }

    /// `reads`, as the `x-ms-ratelimit-remaining-subscription-*` headers name it.
    pub fn plural(self) -> &'static str {
        match self {
            Operation::Read => "reads",
            Operation::Write => "writes",
            Operation::Delete => "deletes",
        }
    }
}

/// What ARM's buckets say about one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArmVerdict {
    pub admitted: bool,
    /// Whole tokens left in the principal's bucket, after this request.
    pub remaining: u64,
    /// Whole tokens left in the subscription's global bucket, after this request.
    pub global_remaining: u64,
    /// `Retry-After` seconds when throttled.
    pub retry_after_secs: Option<u64>,
}

/// Every ARM bucket of one region, created full the first time a principal or subscription
/// is seen. Principals and subscriptions are GUIDs, compared case-insensitively.
#[derive(Debug)]
pub struct ArmThrottle {
    limits: ArmLimits,
    principals: HashMap<(String, String, Operation), Bucket>,
    subscriptions: HashMap<(String, Operation), Bucket>,
}

impl ArmThrottle {
    pub fn new(limits: ArmLimits) -> Self {
        ArmThrottle {
            limits,
            principals: HashMap::new(),
            subscriptions: HashMap::new(),
        }
    }

    pub fn limits(&self) -> &ArmLimits {
        &self.limits
    }

    /// Counts one request of `principal` in `subscription` at `now`.
    pub fn admit(
        &mut self,
        now: Duration,
        principal: &str,
        subscription: &str,
        op: Operation,
    ) -> ArmVerdict {
        let (own_spec, global_spec) = (self.limits.principal(op), self.limits.global(op));
        let sub = subscription.to_ascii_lowercase();
        let own = self
            .principals
            .entry((principal.to_ascii_lowercase(), sub.clone(), op))
            .or_insert_with(|| Bucket::full(own_spec, now));
        let global = self
            .subscriptions
            .entry((sub, op))
            .or_insert_with(|| Bucket::full(global_spec, now));
        own.refill(now);
        global.refill(now);
        let admitted = own.has_token() && global.has_token();
        if admitted || self.limits.throttled_costs {
            own.take(self.limits.floor(own_spec));
            global.take(self.limits.floor(global_spec));
        }
        let retry_after_secs = (!admitted).then(|| {
            [&*own, &*global]
                .into_iter()
                .filter(|bucket| !bucket.has_token())
                .map(Bucket::retry_after_secs)
                .max()
                .unwrap_or(1)
        });
        ArmVerdict {
            admitted,
            remaining: own.remaining(),
            global_remaining: global.remaining(),
            retry_after_secs,
        }
    }
}

/// Everything the emulator throttles, and how.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Throttling {
    pub arm: ArmLimits,
    pub imds: ImdsLimits,
    /// How long IMDS takes to answer a token request (it asks Entra ID behind the scenes),
    /// during which the request counts against the identity category's concurrency.
    pub imds_token_delay: Duration,
}

/// IMDS's limits for one VM.
#[derive(Clone, Debug, PartialEq)]
pub struct ImdsLimits {
    /// Requests a second to the identity category (tokens, identity info).
    pub identity_per_sec: u32,
    /// Identity requests being answered at once.
    pub identity_concurrent: u32,
    /// Requests a second to everything else (instance metadata, versions).
    pub metadata_per_sec: u32,
}

impl Default for ImdsLimits {
    /// The documented 20 a second and 5 at once for identity, 5 a second for the rest.
    fn default() -> Self {
        ImdsLimits {
            identity_per_sec: 20,
            identity_concurrent: 5,
            metadata_per_sec: 5,
        }
    }
}

/// Which of IMDS's limits a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImdsCategory {
    /// `/metadata/identity/...`
    Identity,
    /// Everything else: `/metadata/instance`, `/metadata/versions`, ...
    Metadata,
}

impl ImdsCategory {
    pub fn of_path(path: &str) -> Self {
        if path == "/metadata/identity" || path.starts_with("/metadata/identity/") {
            ImdsCategory::Identity
        } else {
            ImdsCategory::Metadata
        }
    }
}

/// One VM's IMDS limits at the time last told. An admitted identity request is in flight
/// until [`ImdsThrottle::finish`].
#[derive(Clone, Debug)]
pub struct ImdsThrottle {
    limits: ImdsLimits,
    identity: Bucket,
    metadata: Bucket,
    identity_in_flight: u32,
}

impl ImdsThrottle {
    pub fn new(limits: ImdsLimits, now: Duration) -> Self {
        let per_sec = |rate: u32| BucketSpec::new(rate, rate);
        ImdsThrottle {
            identity: Bucket::full(per_sec(limits.identity_per_sec), now),
            metadata: Bucket::full(per_sec(limits.metadata_per_sec), now),
            limits,
            identity_in_flight: 0,
        }
    }

    /// Whether a request of `category` arriving at `now` is answered (`true`) or throttled.
    pub fn admit(&mut self, now: Duration, category: ImdsCategory) -> bool {
        let bucket = match category {
            ImdsCategory::Identity => {
                if self.identity_in_flight >= self.limits.identity_concurrent {
                    return false;
                }
                &mut self.identity
            }
            ImdsCategory::Metadata => &mut self.metadata,
        };
        bucket.refill(now);
        if !bucket.has_token() {
            return false;
        }
        bucket.take(0.0);
        if category == ImdsCategory::Identity {
            self.identity_in_flight += 1;
        }
        true
    }

    /// An admitted request of `category` has been answered.
    pub fn finish(&mut self, category: ImdsCategory) {
        if category == ImdsCategory::Identity {
            self.identity_in_flight = self.identity_in_flight.saturating_sub(1);
        }
    }
}

/// When each of the requests arriving at `arrivals` (sorted) would go through `spec`'s
/// bucket, full at the first arrival, if they were served first come first served as soon as
/// a token is there: the best any retry policy can do against that bucket alone.
pub fn ideal_schedule(spec: BucketSpec, arrivals: &[Duration]) -> Vec<Duration> {
    let Some(first) = arrivals.first() else {
        return Vec::new();
    };
    let mut bucket = Bucket::full(spec, *first);
    let mut clock = *first;
    arrivals
        .iter()
        .map(|arrival| {
            clock = clock.max(*arrival);
            bucket.refill(clock);
            clock += bucket.until_token();
            bucket.refill(clock);
            bucket.take(0.0);
            clock
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const READS: BucketSpec = BucketSpec::new(250, 25);
    const SUB: &str = "8d10da13-8125-4ba9-a717-bf7490507b3d";
    const OID: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn drain(throttle: &mut ArmThrottle, now: Duration, n: usize) -> Vec<ArmVerdict> {
        (0..n)
            .map(|_| throttle.admit(now, OID, SUB, Operation::Read))
            .collect()
    }

    #[test]
    fn a_full_bucket_lets_its_capacity_through_then_throttles() {
        let mut throttle = ArmThrottle::new(ArmLimits::default());
        let verdicts = drain(&mut throttle, Duration::ZERO, 251);
        assert!(verdicts[..250].iter().all(|v| v.admitted));
        assert_eq!(verdicts[0].remaining, 249);
        assert_eq!(verdicts[0].global_remaining, 3749);
        assert_eq!(verdicts[249].remaining, 0);
        assert!(!verdicts[250].admitted);
        assert_eq!(verdicts[250].retry_after_secs, Some(1));
        assert_eq!(verdicts[250].global_remaining, 3500);
    }

    #[test]
    fn refill_adds_its_rate_per_second_up_to_the_capacity() {
        let mut bucket = Bucket::full(READS, Duration::ZERO);
        for _ in 0..250 {
            bucket.take(0.0);
        }
        bucket.refill(secs(2.0));
        assert_eq!(bucket.remaining(), 50);
        bucket.refill(secs(1000.0));
        assert_eq!(bucket.remaining(), 250);
        // Time going backwards adds nothing.
        bucket.take(0.0);
        bucket.refill(secs(500.0));
        assert_eq!(bucket.remaining(), 249);
    }

    #[test]
    fn an_empty_bucket_admits_its_refill_rate_each_second() {
        let mut throttle = ArmThrottle::new(ArmLimits::default());
        drain(&mut throttle, Duration::ZERO, 250);
        let next_second = drain(&mut throttle, secs(1.0), 100);
        assert_eq!(next_second.iter().filter(|v| v.admitted).count(), 25);
    }

    #[test]
    fn free_throttled_requests_take_nothing() {
        let mut throttle = ArmThrottle::new(ArmLimits::default());
        drain(&mut throttle, Duration::ZERO, 250);
        let throttled = drain(&mut throttle, Duration::ZERO, 1000);
        assert!(throttled.iter().all(|v| !v.admitted));
        // 12.5 tokens came in over the half second: 12 whole, whatever the 1000 429s.
        let after = throttle.admit(secs(0.5), OID, SUB, Operation::Read);
        assert!(after.admitted);
        assert_eq!(after.remaining, 11);
    }

    #[test]
    fn costly_throttled_requests_without_debt_stop_at_zero() {
        let limits = ArmLimits {
            throttled_costs: true,
            ..ArmLimits::default()
        };
        let mut throttle = ArmThrottle::new(limits);
        let verdicts = drain(&mut throttle, Duration::ZERO, 1000);
        let last = verdicts.last().expect("verdicts");
        assert_eq!(last.retry_after_secs, Some(1));
        // The throttled ones took global tokens as well.
        assert_eq!(last.global_remaining, 2750);
    }

    #[test]
    fn debt_goes_down_to_minus_one_bucket_and_retry_after_grows_with_it() {
        let limits = ArmLimits {
            throttled_costs: true,
            debt: Debt::OneBucket,
            ..ArmLimits::default()
        };
        let mut throttle = ArmThrottle::new(limits);
        let verdicts = drain(&mut throttle, Duration::ZERO, 1000);
        // 250 go through; the 251st leaves -1 token: 2 to wait for at 25/s is 0.08 s -> 1 s.
        assert_eq!(verdicts[250].retry_after_secs, Some(1));
        // After 25 in debt: -25, 26 tokens short -> 1.04 s -> 2 s.
        assert_eq!(verdicts[274].retry_after_secs, Some(2));
        // The floor is -250: 251 tokens short at 25/s = 10.04 s -> 11 s.
        assert_eq!(verdicts[999].retry_after_secs, Some(11));
        let mut bucket = Bucket::full(READS, Duration::ZERO);
        for _ in 0..1000 {
            bucket.take(-250.0);
        }
        assert_eq!(bucket.tokens(), -250.0);
    }

    #[test]
    fn retry_after_counts_whole_seconds_until_a_token_rounded_up() {
        let mut bucket = Bucket::full(BucketSpec::new(10, 2), Duration::ZERO);
        for _ in 0..14 {
            bucket.take(-10.0);
        }
        // -4 tokens: 5 short at 2/s = 2.5 s -> 3 s.
        assert_eq!(bucket.until_token(), secs(2.5));
        assert_eq!(bucket.retry_after_secs(), 3);
        bucket.refill(secs(0.5));
        // -3 tokens: exactly 2 s, not 3.
        assert_eq!(bucket.retry_after_secs(), 2);
        bucket.refill(secs(2.4));
        // 0.8 token: 0.1 s -> at least 1 s.
        assert_eq!(bucket.retry_after_secs(), 1);
    }

    #[test]
    fn principals_have_buckets_of_their_own_and_share_the_global_one() {
        let limits = ArmLimits {
            reads: BucketSpec::new(2, 1),
            global_factor: 2,
            ..ArmLimits::default()
        };
        let mut throttle = ArmThrottle::new(limits);
        let now = Duration::ZERO;
        for oid in ["a", "A", "b"] {
            assert!(
                throttle.admit(now, oid, SUB, Operation::Read).admitted,
                "{oid}"
            );
        }
        // "a" and "A" are one principal; the subscription's 4 are gone after this.
        let fourth = throttle.admit(now, "b", SUB, Operation::Read);
        assert!(fourth.admitted);
        assert_eq!(fourth.global_remaining, 0);
        let fifth = throttle.admit(now, "c", SUB, Operation::Read);
        assert!(!fifth.admitted);
        assert_eq!(fifth.remaining, 2);
        // Writes count apart from reads.
        assert!(throttle.admit(now, "c", SUB, Operation::Write).admitted);
    }

    #[test]
    fn methods_map_to_operations() {
        assert_eq!(Operation::of_method("GET"), Operation::Read);
        assert_eq!(Operation::of_method("head"), Operation::Read);
        assert_eq!(Operation::of_method("DELETE"), Operation::Delete);
        for write in ["PUT", "PATCH", "POST"] {
            assert_eq!(Operation::of_method(write), Operation::Write);
        }
    }

    #[test]
    fn imds_identity_allows_its_rate_and_its_concurrency() {
        let mut imds = ImdsThrottle::new(ImdsLimits::default(), Duration::ZERO);
        let id = ImdsCategory::Identity;
        for _ in 0..5 {
            assert!(imds.admit(Duration::ZERO, id));
        }
        assert!(!imds.admit(Duration::ZERO, id), "a sixth at once");
        for _ in 0..5 {
            imds.finish(id);
        }
        let admitted = (0..40)
            .filter(|_| {
                let ok = imds.admit(Duration::ZERO, id);
                imds.finish(id);
                ok
            })
            .count();
        assert_eq!(
            admitted, 15,
            "20 in the first second, 5 of them already used"
        );
        let next = (0..40)
            .filter(|_| {
                let ok = imds.admit(secs(1.0), id);
                imds.finish(id);
                ok
            })
            .count();
        assert_eq!(next, 20);
    }

    #[test]
    fn imds_metadata_allows_five_a_second_apart_from_identity() {
        let mut imds = ImdsThrottle::new(ImdsLimits::default(), Duration::ZERO);
        let meta = ImdsCategory::Metadata;
        let admitted = (0..10).filter(|_| imds.admit(Duration::ZERO, meta)).count();
        assert_eq!(admitted, 5);
        assert!(imds.admit(Duration::ZERO, ImdsCategory::Identity));
        assert!(
            imds.admit(secs(0.2), meta),
            "one more after a fifth of a second"
        );
        assert!(!imds.admit(secs(0.2), meta));
        assert_eq!(
            ImdsCategory::of_path("/metadata/identity/oauth2/token"),
            ImdsCategory::Identity
        );
        assert_eq!(
            ImdsCategory::of_path("/metadata/instance"),
            ImdsCategory::Metadata
        );
    }

    #[test]
    fn the_ideal_schedule_of_a_herd_drains_its_excess_at_the_refill_rate() {
        let at_once = vec![Duration::ZERO; 1000];
        let schedule = ideal_schedule(READS, &at_once);
        assert_eq!(schedule[249], Duration::ZERO);
        let last = schedule[999].as_secs_f64();
        assert!((last - 30.0).abs() < 1e-3, "{last}");
        assert!((schedule[274].as_secs_f64() - 1.0).abs() < 1e-3);
        // Arrivals slower than the refill never wait.
        let trickle: Vec<Duration> = (0..1000).map(|i| secs(f64::from(i) / 20.0)).collect();
        assert_eq!(ideal_schedule(READS, &trickle), trickle);
        assert!(ideal_schedule(READS, &[]).is_empty());
    }
}
