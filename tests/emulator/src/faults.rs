//! Fault bookkeeping: which configured fault fires for a request, and how much of each is left.

use std::sync::Mutex;
use std::time::Instant;

use crate::scenario::{Action, Fault, Limit, Route};

struct Armed {
    fault: Fault,
    fired: u32,
    first: Option<Instant>,
}

impl Armed {
    fn is_active(&self, now: Instant) -> bool {
        match &self.fault.limit {
            Limit::Times(n) => self.fired < *n,
            Limit::For(window) => self.first.is_none_or(|first| now - first < *window),
            Limit::Always => true,
        }
    }
}

/// The scenario's faults with their remaining budget.
pub struct FaultBook {
    armed: Mutex<Vec<Armed>>,
}

impl FaultBook {
    pub fn new(faults: &[Fault]) -> Self {
        let armed = faults
            .iter()
            .map(|fault| Armed {
                fault: fault.clone(),
                fired: 0,
                first: None,
            })
            .collect();
        FaultBook {
            armed: Mutex::new(armed),
        }
    }

    /// The action of the first active fault whose route `matches`, counting it down.
    pub fn fire(&self, matches: impl Fn(&Route) -> bool) -> Option<Action> {
        let now = Instant::now();
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let hit = armed
            .iter_mut()
            .find(|a| matches(&a.fault.route) && a.is_active(now))?;
        hit.fired += 1;
        hit.first.get_or_insert(now);
        Some(hit.fault.action.clone())
    }
}
