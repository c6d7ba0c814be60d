//! One component's counters: events and bytes in and out, refusals by reason, and named
//! counters. Values are counts, never event content or secrets.

use std::collections::BTreeMap;
use std::fmt;

/// One component's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Events received (for a source: frames read).
    pub events_in: u64,
    /// Events passed on (for a sink: written).
    pub events_out: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Payload bytes passed on.
    pub bytes_out: u64,
    /// Events refused, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Other named counters (e.g. `values_hashed`).
    pub counters: BTreeMap<&'static str, u64>,
}

impl Metrics {
    /// Total events refused.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// Counts one refused event.
    pub fn drop_one(&mut self, reason: &'static str) {
        *self.dropped.entry(reason).or_insert(0) += 1;
    }

    /// Adds another instance's counters to these (workers of one component).
    pub fn merge(&mut self, other: &Metrics) {
        self.events_in += other.events_in;
        self.events_out += other.events_out;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        for (reason, n) in &other.dropped {
            *self.dropped.entry(reason).or_insert(0) += n;
        }
        for (name, n) in &other.counters {
            *self.counters.entry(name).or_insert(0) += n;
        }
    }

    /// Adds `n` to a named counter.
    pub fn add(&mut self, counter: &'static str, n: u64) {
        if n > 0 {
            *self.counters.entry(counter).or_insert(0) += n;
        }
    }
}

impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in {} ({} B), out {} ({} B)", self.events_in, self.bytes_in, self.events_out, self.bytes_out)?;
        if !self.dropped.is_empty() {
            write!(f, ", dropped {}:", self.dropped_total())?;
            for (reason, n) in &self.dropped {
                write!(f, " [{reason}: {n}]")?;
            }
        }
        for (name, n) in &self.counters {
            write!(f, ", {name} {n}")?;
        }
        Ok(())
    }
}
