//! State shared by every listener and connection of one emulator.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::faults::FaultBook;
use crate::federation::Federation;
use crate::gate::Counts;
use crate::links::Hosts;
use crate::operations::Operations;
use crate::record::Journal;
use crate::scenario::Scenario;
use crate::store::Store;
use crate::token::TokenBook;

/// How often blocked sockets and sleeps look whether the emulator is stopping.
pub const POLL: Duration = Duration::from_millis(50);

pub struct Shared {
    pub scenario: Scenario,
    pub journal: Journal,
    pub faults: FaultBook,
    pub tokens: TokenBook,
    /// The service-account tokens written for workload identity, which Entra ID accepts.
    pub federation: Federation,
    /// Where the listeners are, for the links ARM hands out.
    pub hosts: Hosts,
    /// What the throttles (`Scenario::throttling`) admitted and turned away.
    pub throttle_counts: Counts,
    /// When the emulator started: grants that propagate count from here.
    pub started: Instant,
    world: Mutex<World>,
    stopping: AtomicBool,
    log: AtomicBool,
}

/// What ARM writes change. One lock for both, since an operation that ends changes the store.
pub struct World {
    pub store: Store,
    pub operations: Operations,
}

impl Shared {
    pub fn new(scenario: Scenario, hosts: Hosts) -> Self {
        Shared {
            faults: FaultBook::new(&scenario.faults),
            world: Mutex::new(World {
                store: Store::new(&scenario),
                operations: Operations::default(),
            }),
            hosts,
            throttle_counts: Counts::default(),
            started: Instant::now(),
            scenario,
            journal: Journal::default(),
            tokens: TokenBook::default(),
            federation: Federation::default(),
            stopping: AtomicBool::new(false),
            log: AtomicBool::new(false),
        }
    }

    // A panic while holding the lock leaves the world as the last complete change left it.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub fn set_log(&self, on: bool) {
        self.log.store(on, Ordering::SeqCst);
    }

    pub fn logs(&self) -> bool {
        self.log.load(Ordering::SeqCst)
    }

    /// Sleeps for `duration` unless the emulator stops first; `false` if it did.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        loop {
            if self.is_stopping() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }
}
