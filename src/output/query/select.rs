//! Applying a query: to a whole value ([`Query::select`]), or to a list whose items arrive one
//! at a time ([`Query::on_list`]), and, when it matches nothing, where it missed.

use serde_json::Value;

use super::{Query, Step, bare_key_problem};
use crate::output::miss::{Miss, Why, keys_of, type_of};

impl Query {
    /// Applies the query; `None` means it matched nothing ([`Query::select`] says where).
    pub fn apply(&self, value: &Value) -> Option<Value> {
        self.select(value).ok()
    }

    /// Applies the query, or says which step matched nothing and what was there.
    pub fn select(&self, value: &Value) -> std::result::Result<Value, Miss> {
        self.select_from(0, value)
    }

    /// Applies the steps from `start` on, to `value`, as the query's step `start` sees it.
    pub(crate) fn select_from(
        &self,
        start: usize,
        value: &Value,
    ) -> std::result::Result<Value, Miss> {
        // A loop over the steps, never recursion, so deep input costs no stack.
        let mut focus = Focus::One(value);
        for (k, step) in self.steps.iter().enumerate().skip(start) {
            focus = match focus {
                Focus::One(current) => {
                    step_one(step, current).ok_or_else(|| self.miss_one(k, current))?
                }
                Focus::Many(currents) => {
                    let next = step_many(step, &currents);
                    if next.is_empty() && !currents.is_empty() && step.selects() {
                        return Err(self.miss_many(k, &currents));
                    }
                    Focus::Many(next)
                }
            };
        }
        Ok(match focus {
            Focus::One(selected) => selected.clone(),
            Focus::Many(selected) => Value::Array(selected.into_iter().cloned().collect()),
        })
    }

    /// How the query can run on a list whose items arrive one at a time.
    pub(crate) fn on_list(&self) -> OnList {
        match self.steps.first() {
            None => OnList::Whole,
            Some(Step::Project) => OnList::Each,
            Some(Step::Index(index)) => match usize::try_from(*index) {
                Ok(n) => OnList::Item(n),
                Err(_) => {
                    OnList::FromEnd(usize::try_from(index.unsigned_abs()).unwrap_or(usize::MAX))
                }
            },
            Some(Step::Member(token)) => match pointer_index(token) {
                Some(n) => OnList::Item(n),
                None => OnList::Never(self.miss(
                    0,
                    Why::NotAnIndex {
                        token: token.clone(),
                    },
                )),
            },
            Some(Step::Key(key)) => OnList::Never(self.miss(
                0,
                Why::Not {
                    wanted: "an object",
                    found: "an array",
                    key: Some(key.clone()),
                },
            )),
        }
    }

    /// For a query that starts with `[]`, its results on one item of the list, how many of its
    /// steps the item got through with something left to select, and whether an object was
    /// among what was left after the last of them.
    pub(crate) fn project_item<'v>(&self, item: &'v Value) -> (Vec<&'v Value>, usize, bool) {
        let mut focus = vec![item];
        let mut reached = 1;
        let mut object = item.is_object();
        for step in self.steps.iter().skip(1) {
            let next = step_many(step, &focus);
            if next.is_empty() {
                return (next, reached, object);
            }
            reached += 1;
            object = next.iter().any(|v| v.is_object());
            focus = next;
        }
        (focus, reached, object)
    }

    /// For a query that starts with `[]`, why it matched nothing on a list where no item got
    /// past step `reached`: `first` is the first item that got that far, `object` the first
    /// whose values there held an object (as [`Query::select`] on the whole list would say).
    /// `None` when that step does not select (a `[]` that found no array is an empty match).
    pub(crate) fn miss_in_items(
        &self,
        reached: usize,
        first: &Value,
        object: Option<&Value>,
    ) -> Option<Miss> {
        let step = self.steps.get(reached)?;
        if !step.selects() {
            return None;
        }
        let focus_of = |item| {
            let mut focus = vec![item];
            for step in self.steps.iter().take(reached).skip(1) {
                focus = step_many(step, &focus);
            }
            focus
        };
        let mut focus = focus_of(first);
        if let Some(object) = object {
            focus.extend(focus_of(object));
        }
        // The first value there decides the type named, the first object the keys.
        let mut miss = self.miss_many(reached, &focus[..1.min(focus.len())]);
        if let (Why::NoItem { keys, .. }, Some(found)) =
            (&mut miss.why, focus.iter().find_map(|v| v.as_object()))
        {
            *keys = Some(keys_of(found));
        }
        Some(miss)
    }

    /// Why step `k` found nothing in `current`.
    fn miss_one(&self, k: usize, current: &Value) -> Miss {
        let not = |wanted, key: Option<&String>| Why::Not {
            wanted,
            found: type_of(current),
            key: key.cloned(),
        };
        let why = match (&self.steps[k], current) {
            (Step::Key(key) | Step::Member(key), Value::Object(members)) => Why::NoKey {
                key: key.clone(),
                keys: keys_of(members),
            },
            (Step::Key(key), _) => not("an object", Some(key)),
            (Step::Index(index), Value::Array(items)) => Why::OutOfRange {
                index: *index,
                len: items.len(),
            },
            (Step::Member(token), Value::Array(items)) => match pointer_index(token) {
                Some(n) => Why::OutOfRange {
                    index: i64::try_from(n).unwrap_or(i64::MAX),
                    len: items.len(),
                },
                None => Why::NotAnIndex {
                    token: token.clone(),
                },
            },
            (Step::Member(_), _) => not("an object or an array", None),
            (Step::Index(_) | Step::Project, _) => not("an array", None),
        };
        self.miss(k, why)
    }

    /// Why step `k` found nothing in any of the values of a projection.
    fn miss_many(&self, k: usize, currents: &[&Value]) -> Miss {
        let keys = currents.iter().find_map(|v| v.as_object()).map(keys_of);
        let why = Why::NoItem {
            step: step_text(&self.steps[k], true),
            keys,
            found: currents.first().map_or("null", |v| type_of(v)),
        };
        let mut miss = self.miss(k, why);
        // "no item has 'name'", not "... in []": the projection is what "item" says.
        miss.at = miss
            .at
            .strip_prefix("[]")
            .map(|rest| rest.trim_start_matches('.').to_string())
            .unwrap_or(miss.at);
        miss
    }

    /// A miss at step `k`, with the path before it.
    pub(crate) fn miss(&self, k: usize, why: Why) -> Miss {
        let at = self.steps[..k.min(self.steps.len())]
            .iter()
            .enumerate()
            .map(|(i, step)| step_text(step, i == 0))
            .collect();
        Miss { at, why }
    }
}

/// How a query runs on a list whose items arrive one at a time (see [`Query::on_list`]).
pub(crate) enum OnList {
    /// `@`: the whole list, as it is.
    Whole,
    /// A leading `[]`: the rest of the query on every item, as it arrives.
    Each,
    /// A leading `[n]` or `/n`: item `n` only; the list can stop there.
    Item(usize),
    /// A leading `[-n]`: the `n`-th item from the end, known only at the end.
    FromEnd(usize),
    /// A first step that no array matches (a key): the list need not be read.
    Never(Miss),
}

impl Step {
    /// Whether the step selects (a key, an index, a pointer segment), as opposed to `[]`.
    fn selects(&self) -> bool {
        !matches!(self, Step::Project)
    }
}

/// A step as a query writes it: `.name` (`name` first), `."app.version"`, `[0]`, `[]`, `/x`.
fn step_text(step: &Step, first: bool) -> String {
    match step {
        Step::Key(key) => {
            let bare = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c != '.' && c != '[' && bare_key_problem(c).is_none());
            let shown = if bare {
                key.clone()
            } else {
                format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
            };
            if first { shown } else { format!(".{shown}") }
        }
        Step::Index(index) => format!("[{index}]"),
        Step::Project => "[]".to_string(),
        Step::Member(token) => format!("/{}", token.replace('~', "~0").replace('/', "~1")),
    }
}

/// What the steps so far selected: one value, or the elements of a projection.
enum Focus<'v> {
    One(&'v Value),
    Many(Vec<&'v Value>),
}

fn step_one<'v>(step: &Step, current: &'v Value) -> Option<Focus<'v>> {
    match step {
        Step::Project => current
            .as_array()
            .map(|items| Focus::Many(items.iter().collect())),
        _ => select(step, current).map(Focus::One),
    }
}

fn step_many<'v>(step: &Step, currents: &[&'v Value]) -> Vec<&'v Value> {
    match step {
        // A `[]` inside a projection flattens one level, as JMESPath's does.
        Step::Project => currents
            .iter()
            .filter_map(|current| current.as_array())
            .flatten()
            .collect(),
        _ => currents
            .iter()
            .filter_map(|current| select(step, current))
            .collect(),
    }
}

/// Applies a step that selects at most one value.
fn select<'v>(step: &Step, current: &'v Value) -> Option<&'v Value> {
    match step {
        Step::Key(key) => current.as_object()?.get(key),
        Step::Index(index) => element(current.as_array()?, *index),
        Step::Member(token) => match current {
            Value::Object(members) => members.get(token),
            Value::Array(items) => items.get(pointer_index(token)?),
            _ => None,
        },
        Step::Project => None,
    }
}

fn element(items: &[Value], index: i64) -> Option<&Value> {
    let position = if index < 0 {
        let from_end = usize::try_from(index.unsigned_abs()).ok()?;
        items.len().checked_sub(from_end)?
    } else {
        usize::try_from(index).ok()?
    };
    items.get(position)
}

/// RFC 6901 array index: `0` or digits without a leading zero (`-`, past the end, never matches).
fn pointer_index(token: &str) -> Option<usize> {
    let digits_only = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}
