//! What the walker counts, declared once: each counter's name here is the name in the run
//! summary, on the metrics endpoint and in tests. A new counter is one variant and one line of
//! [`Counter::NAMES`]; detectors' counters come from [`Detector::counter`].

use phi_scrub_core::metrics::Metrics;

use crate::detect::Detector;

/// One of the walker's counters (detector matches are counted per detector beside them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    /// Values replaced by their keyed hash.
    Hashed,
    /// Fields and array elements removed.
    Removed,
    /// Objects or arrays found under a `hash` path, removed rather than forwarded.
    HashContainersRemoved,
    /// Values replaced by the redaction marker.
    Redacted,
    /// Values replaced by a coarser form (year, zip3, …).
    Generalised,
    /// Values a generaliser could not read, removed rather than forwarded.
    UngeneralisableRemoved,
}

impl Counter {
    /// Every counter with its name, in declaration order.
    const NAMES: [(Self, &'static str); 6] = [
        (Self::Hashed, "values_hashed"),
        (Self::Removed, "fields_removed"),
        (Self::HashContainersRemoved, "hash_containers_removed"),
        (Self::Redacted, "values_redacted"),
        (Self::Generalised, "values_generalised"),
        (Self::UngeneralisableRemoved, "ungeneralisable_removed"),
    ];
}

/// What the walker counted, per counter: plain additions on the hot path, folded into named
/// counters only when metrics are read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WalkCounts {
    counts: [u64; Counter::NAMES.len()],
    /// Detector matches, by [`Detector::index`].
    detected: [u64; Detector::ALL.len()],
}

impl WalkCounts {
    /// Counts one more.
    #[inline]
    pub(crate) fn add(&mut self, counter: Counter) {
        self.counts[counter as usize] += 1;
    }

    /// Counts one match of `detector`.
    #[inline]
    pub(crate) fn add_detected(&mut self, detector: Detector) {
        self.detected[detector.index()] += 1;
    }

    /// Adds another event's counts to these.
    pub(crate) fn absorb(&mut self, other: &WalkCounts) {
        for (total, n) in self.counts.iter_mut().zip(other.counts) {
            *total += n;
        }
        for (total, n) in self.detected.iter_mut().zip(other.detected) {
            *total += n;
        }
    }

    /// Adds every counter to `metrics` under its name.
    pub(crate) fn publish(&self, metrics: &mut Metrics) {
        for (counter, name) in Counter::NAMES {
            metrics.add(name, self.counts[counter as usize]);
        }
        for d in Detector::ALL {
            metrics.add(d.counter(), self.detected[d.index()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_declaration_order() {
        for (i, (counter, _)) in Counter::NAMES.iter().enumerate() {
            assert_eq!(*counter as usize, i);
        }
    }

    #[test]
    fn every_counter_is_published_under_its_name() {
        let mut counts = WalkCounts::default();
        for (counter, _) in Counter::NAMES {
            counts.add(counter);
        }
        counts.add_detected(Detector::Email);
        let mut metrics = Metrics::default();
        counts.publish(&mut metrics);
        for (_, name) in Counter::NAMES {
            assert_eq!(metrics.counters.get(name), Some(&1), "{name}");
        }
        assert_eq!(metrics.counters.get("detected_email"), Some(&1));
    }
}
