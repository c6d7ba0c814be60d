//! The run summary and the live registry behind the metrics endpoint, built from each
//! component's [`Metrics`] (defined in the plugin API crate).
//!
//! Names are stable (they appear in the summary and on the metrics endpoint); values are
//! counts, never event content or secrets.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

pub use phi_scrub_core::metrics::Metrics;

/// Counters of every component after a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Per source.
    pub sources: BTreeMap<String, Metrics>,
    /// Per transform.
    pub transforms: BTreeMap<String, Metrics>,
    /// Per sink.
    pub sinks: BTreeMap<String, Metrics>,
}

impl RunSummary {
    /// Records the final counters of the component `name` of `kind` (`source`, `transform`,
    /// `sink`).
    pub fn insert(&mut self, kind: &str, name: String, metrics: Metrics) {
        let map = match kind {
            "source" => &mut self.sources,
            "transform" => &mut self.transforms,
            _ => &mut self.sinks,
        };
        map.insert(name, metrics);
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "phi-scrub summary:")?;
        for (kind, map) in [("source", &self.sources), ("transform", &self.transforms), ("sink", &self.sinks)] {
            for (name, m) in map {
                writeln!(f, "  {kind:<9} {name}: {m}")?;
            }
        }
        Ok(())
    }
}

/// A component's identity in the registry: its kind (`source`, `transform`, `sink`) and name.
type ComponentKey = (&'static str, String);

/// One exported series: its name, help text, and how to read it from [`Metrics`].
type Series = (&'static str, &'static str, fn(&Metrics) -> u64);

/// Live counters of every component, shared with the metrics endpoint. A disabled registry
/// makes publishing free. Also what `/ready` reads: whether every component has started, and
/// the sinks stuck past their retry budget.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    inner: Option<Arc<Mutex<BTreeMap<ComponentKey, Metrics>>>>,
    health: Arc<Mutex<Health>>,
}

/// Readiness: set by the topology once every component runs, and by sinks when stuck.
#[derive(Debug, Default)]
struct Health {
    started: bool,
    stuck: std::collections::BTreeSet<String>,
}

/// One component's handle on the registry.
#[derive(Debug, Clone)]
pub struct Publisher {
    registry: Registry,
    kind: &'static str,
    name: String,
}

impl Registry {
    /// A registry that keeps what is published.
    pub fn enabled() -> Self {
        Self { inner: Some(Arc::default()), health: Arc::default() }
    }

    /// Every component has been started.
    pub fn mark_started(&self) {
        if let Ok(mut h) = self.health.lock() {
            h.started = true;
        }
    }

    /// Why the pipeline is not ready (`None` when it is): not started yet, or the sinks stuck
    /// past their retry budget, by name.
    pub fn not_ready(&self) -> Option<String> {
        let h = self.health.lock().ok()?;
        if !h.started {
            return Some("starting".into());
        }
        if h.stuck.is_empty() {
            return None;
        }
        let names: Vec<&str> = h.stuck.iter().map(String::as_str).collect();
        Some(format!("stuck past the retry budget: {}", names.join(", ")))
    }

    /// The handle a component publishes through.
    pub fn publisher(&self, kind: &'static str, name: &str) -> Publisher {
        Publisher { registry: self.clone(), kind, name: name.to_owned() }
    }

    /// Everything published so far, in Prometheus' text exposition format.
    pub fn render_prometheus(&self) -> String {
        let Some(inner) = &self.inner else { return String::new() };
        let snapshot = inner.lock().map(|m| m.clone()).unwrap_or_default();
        let mut out = String::new();
        let series: [Series; 4] = [
            ("events_in", "Events received by the component.", |m| m.events_in),
            ("events_out", "Events passed on (sinks: delivered or written).", |m| m.events_out),
            ("bytes_in", "Payload bytes received.", |m| m.bytes_in),
            ("bytes_out", "Payload bytes passed on.", |m| m.bytes_out),
        ];
        for (name, help, get) in series {
            out.push_str(&format!("# HELP phi_scrub_{name}_total {help}\n# TYPE phi_scrub_{name}_total counter\n"));
            for ((kind, id), m) in &snapshot {
                out.push_str(&format!("phi_scrub_{name}_total{{{}}} {}\n", labels(kind, id), get(m)));
            }
        }
        out.push_str(
            "# HELP phi_scrub_dropped_total Events refused, by reason.\n# TYPE phi_scrub_dropped_total counter\n",
        );
        for ((kind, id), m) in &snapshot {
            for (reason, n) in &m.dropped {
                out.push_str(&format!(
                    "phi_scrub_dropped_total{{{},reason=\"{}\"}} {n}\n",
                    labels(kind, id),
                    escape(reason)
                ));
            }
        }
        let mut counters: BTreeMap<&str, Vec<(&ComponentKey, u64)>> = BTreeMap::new();
        for (key, m) in &snapshot {
            for (counter, n) in &m.counters {
                counters.entry(counter).or_default().push((key, *n));
            }
        }
        for (counter, values) in counters {
            out.push_str(&format!("# TYPE phi_scrub_{counter}_total counter\n"));
            for ((kind, id), n) in values {
                out.push_str(&format!("phi_scrub_{counter}_total{{{}}} {n}\n", labels(kind, id)));
            }
        }
        out
    }
}

impl Publisher {
    /// Whether anything is kept (lets callers skip building a snapshot).
    pub fn enabled(&self) -> bool {
        self.registry.inner.is_some()
    }

    /// Marks the component stuck past its retry budget (or no longer).
    pub fn set_stuck(&self, stuck: bool) {
        if let Ok(mut h) = self.registry.health.lock() {
            if stuck {
                h.stuck.insert(self.name.clone());
            } else {
                h.stuck.remove(&self.name);
            }
        }
    }

    /// Replaces the component's published counters with `metrics`.
    pub fn publish(&self, metrics: &Metrics) {
        if let Some(inner) = &self.registry.inner {
            if let Ok(mut map) = inner.lock() {
                map.insert((self.kind, self.name.clone()), metrics.clone());
            }
        }
    }
}

fn labels(kind: &str, id: &str) -> String {
    format!("component_kind=\"{kind}\",component_id=\"{}\"", escape(id))
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_counters_by_component_and_reason() {
        let registry = Registry::enabled();
        let mut m = Metrics { events_in: 3, events_out: 2, ..Metrics::default() };
        m.drop_one("duplicate key");
        m.add("values_hashed", 4);
        registry.publisher("transform", "phi").publish(&m);
        let text = registry.render_prometheus();
        assert!(
            text.contains("phi_scrub_events_in_total{component_kind=\"transform\",component_id=\"phi\"} 3\n"),
            "{text}"
        );
        assert!(text.contains(
            "phi_scrub_dropped_total{component_kind=\"transform\",component_id=\"phi\",reason=\"duplicate key\"} 1\n"
        ));
        assert!(text.contains("phi_scrub_values_hashed_total{component_kind=\"transform\",component_id=\"phi\"} 4\n"));
    }

    #[test]
    fn disabled_registry_renders_nothing() {
        let registry = Registry::default();
        registry.publisher("sink", "x").publish(&Metrics::default());
        assert_eq!(registry.render_prometheus(), "");
    }
}
