//! The throttle models of `throttle.rs` on the emulator's real clock, shared by the
//! connection threads, with counts of what they let through and turned away.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::throttle::{
    ArmLimits, ArmThrottle, ArmVerdict, ImdsCategory, ImdsLimits, ImdsThrottle, Operation,
};

/// How many requests the throttles admitted and turned away, for a storm's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleStats {
    pub arm_admitted: u64,
    pub arm_throttled: u64,
    pub imds_admitted: u64,
    pub imds_throttled: u64,
}

/// The running counts behind [`ThrottleStats`].
#[derive(Default)]
pub struct Counts {
    arm_admitted: AtomicU64,
    arm_throttled: AtomicU64,
    imds_admitted: AtomicU64,
    imds_throttled: AtomicU64,
}

impl Counts {
    pub fn snapshot(&self) -> ThrottleStats {
        ThrottleStats {
            arm_admitted: self.arm_admitted.load(Ordering::SeqCst),
            arm_throttled: self.arm_throttled.load(Ordering::SeqCst),
            imds_admitted: self.imds_admitted.load(Ordering::SeqCst),
            imds_throttled: self.imds_throttled.load(Ordering::SeqCst),
        }
    }

    fn count(admitted: &AtomicU64, throttled: &AtomicU64, passed: bool) {
        let counter = if passed { admitted } else { throttled };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// Time since the gate opened: the clock its model runs on.
fn since(start: Instant) -> Duration {
    start.elapsed()
}

// A panic while holding a model's lock leaves it as the last complete request left it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// ARM's buckets for one emulator.
pub struct ArmGate {
    start: Instant,
    model: Mutex<ArmThrottle>,
}

impl ArmGate {
    pub fn new(limits: ArmLimits) -> Self {
        ArmGate {
            start: Instant::now(),
            model: Mutex::new(ArmThrottle::new(limits)),
        }
    }

    /// Counts one request of `principal` now.
    pub fn admit(
        &self,
        counts: &Counts,
        principal: &str,
        subscription: &str,
        op: Operation,
    ) -> ArmVerdict {
        let verdict = lock(&self.model).admit(since(self.start), principal, subscription, op);
        Counts::count(
            &counts.arm_admitted,
            &counts.arm_throttled,
            verdict.admitted,
        );
        verdict
    }
}

/// One VM's IMDS limits.
pub struct ImdsGate {
    start: Instant,
    model: Mutex<ImdsThrottle>,
}

/// An admitted IMDS request, in flight until dropped.
pub struct Pass<'a> {
    gate: &'a ImdsGate,
    category: ImdsCategory,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        lock(&self.gate.model).finish(self.category);
    }
}

impl ImdsGate {
    pub fn new(limits: ImdsLimits) -> Self {
        ImdsGate {
            start: Instant::now(),
            model: Mutex::new(ImdsThrottle::new(limits, Duration::ZERO)),
        }
    }

    /// A pass for a request to `path`, or `None` when IMDS throttles it.
    pub fn enter(&self, counts: &Counts, path: &str) -> Option<Pass<'_>> {
        let category = ImdsCategory::of_path(path);
        let passed = lock(&self.model).admit(since(self.start), category);
        Counts::count(&counts.imds_admitted, &counts.imds_throttled, passed);
        passed.then_some(Pass {
            gate: self,
            category,
        })
    }
}
