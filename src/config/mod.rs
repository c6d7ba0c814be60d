//! The Vector-style pipeline config: `[sources.*]`, `[transforms.*]` and `[sinks.*]` tables
//! wired by `inputs`, read from TOML, interpolated, validated, and summarised.
//!
//! Everything is checked before anything runs: unknown types and options, missing variables,
//! unknown inputs, cycles and bad values are reported with the component's name (and the
//! option where there is one). Transforms are built here too, so a bad key or a conflicting
//! policy stops `validate` as it stops `run`.

mod interpolate;
pub mod unit_test;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use thiserror::Error;

pub use interpolate::{interpolate, InterpolateError};
pub use phi_scrub_core::config::safe_message;

use crate::component::{Plugin, Resource, SinkConfig, SourceConfig};
use crate::sinks::{find_sink, SINKS};
use crate::sources::{find_source, SOURCES};
use crate::transforms::{find_transform, TRANSFORMS};
use phi_scrub_core::transform::TransformConfig;

/// A config problem, located.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config `{path}`: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config is not valid TOML: {0}")]
    Toml(String),
    #[error("`{at}`: {source}")]
    Interpolate { at: String, source: InterpolateError },
    #[error("unknown top-level table `{0}`; expected sources, transforms, sinks, metrics or tests")]
    UnknownSection(String),
    #[error("{kind} `{name}`: {message}")]
    Component { kind: &'static str, name: String, message: String },
    #[error("the config has no {0}")]
    Empty(&'static str),
    #[error("at most one `stdin` source and one `console` sink: they share the process's stdin and stdout")]
    SharedStdio,
    #[error("component name `{0}` is used by more than one component")]
    DuplicateName(String),
    #[error("transforms form a cycle: {0}")]
    Cycle(String),
    #[error("{0}")]
    Test(String),
}

fn component_error(kind: &'static str, name: &str, message: impl fmt::Display) -> ConfigError {
    ConfigError::Component { kind, name: name.to_owned(), message: message.to_string() }
}

/// A transform as configured.
#[derive(Debug)]
pub struct TransformEntry {
    /// Its `type`.
    pub type_name: String,
    /// Its `inputs`.
    pub inputs: Vec<String>,
    /// Workers running it, each with its own instance (`concurrency`; default: the machine's
    /// cores). Batches go to whichever worker is free, so order is kept within a batch, not
    /// across batches.
    pub concurrency: usize,
    /// Its parsed options.
    pub config: Box<dyn TransformConfig>,
}

/// A source as configured.
#[derive(Debug)]
pub struct SourceEntry {
    /// Its `type`.
    pub type_name: String,
    /// Its parsed and validated options.
    pub config: Box<dyn SourceConfig>,
}

/// A sink as configured.
#[derive(Debug)]
pub struct SinkEntry {
    /// Its `type`.
    pub type_name: String,
    /// Its `inputs`.
    pub inputs: Vec<String>,
    /// Its parsed and validated options.
    pub config: Box<dyn SinkConfig>,
}

/// `[metrics]`: a Prometheus text endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port` serving `GET /metrics`: loopback (`127.0.0.1:9598`) unless set.
    #[serde(default = "default_metrics_address")]
    pub address: String,
    /// `auth.strategy = "bearer"` with `auth.token`: scrapers must send
    /// `Authorization: Bearer TOKEN` (compared in constant time).
    #[serde(default)]
    pub auth: Option<MetricsAuth>,
    /// TLS, as on `http_server` (`tls.enabled`, `tls.crt_file`, `tls.key_file`, ...).
    #[serde(default)]
    pub tls: Option<crate::tls::TlsConfig>,
}

fn default_metrics_address() -> String {
    "127.0.0.1:9598".into()
}

/// `[metrics.auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsAuth {
    /// Only `bearer`.
    pub strategy: BearerStrategy,
    /// The token scrapers send.
    pub token: phi_scrub_core::secret::SecretBytes,
}

/// The one metrics auth strategy.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BearerStrategy {
    /// `Authorization: Bearer TOKEN`.
    Bearer,
}

/// A validated pipeline config.
#[derive(Debug)]
pub struct PipelineConfig {
    /// The metrics endpoint, if any.
    pub metrics: Option<MetricsConfig>,
    /// Sources by name.
    pub sources: BTreeMap<String, SourceEntry>,
    /// Transforms by name.
    pub transforms: BTreeMap<String, TransformEntry>,
    /// Sinks by name.
    pub sinks: BTreeMap<String, SinkEntry>,
    /// `[[tests]]`: run by `phi-scrub test`, ignored by `run`.
    pub tests: Vec<unit_test::UnitTest>,
}

impl PipelineConfig {
    /// Reads, interpolates (from the process environment) and validates a config file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::from_toml(&text, &|name| std::env::var(name).ok())
    }

    /// Parses and validates config text, looking variables up with `env`.
    pub fn from_toml(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut root: toml::Table = text.parse().map_err(|e: toml::de::Error| syntax_error(text, &e))?;
        interpolate_table(&mut root, "", env)?;
        let mut config = Self {
            metrics: None,
            sources: BTreeMap::new(),
            transforms: BTreeMap::new(),
            sinks: BTreeMap::new(),
            tests: Vec::new(),
        };
        for (section, value) in root {
            if section == "tests" {
                config.tests = value
                    .try_into()
                    .map_err(|e: toml::de::Error| ConfigError::Test(format!("tests: {}", safe_message(&e))))?;
                continue;
            }
            let components = match value {
                toml::Value::Table(t) => t,
                _ => return Err(ConfigError::UnknownSection(section)),
            };
            match section.as_str() {
                "sources" => config.parse_sources(components)?,
                "transforms" => config.parse_transforms(components)?,
                "sinks" => config.parse_sinks(components)?,
                "metrics" => {
                    let m: MetricsConfig = toml::Value::Table(components)
                        .try_into()
                        .map_err(|e: toml::de::Error| component_error("metrics", "metrics", safe_message(&e)))?;
                    if let Some(tls) = m.tls.as_ref().filter(|t| t.enabled) {
                        tls.server_config().map_err(|e| component_error("metrics", "metrics", e))?;
                    }
                    config.metrics = Some(m);
                }
                _ => return Err(ConfigError::UnknownSection(section)),
            }
        }
        config.validate_graph()?;
        unit_test::validate(&config).map_err(ConfigError::Test)?;
        Ok(config)
    }

    fn parse_sources(&mut self, components: toml::Table) -> Result<(), ConfigError> {
        for (name, value) in components {
            let mut table = component_table("source", &name, value)?;
            if table.contains_key("inputs") {
                return Err(component_error("source", &name, "sources take no `inputs`"));
            }
            let type_name = take_type("source", &name, &mut table)?;
            let plugin = lookup("source", &name, &type_name, find_source(&type_name), SOURCES)?;
            let config = (plugin.parse)(table).map_err(|m| component_error("source", &name, m))?;
            self.sources.insert(name, SourceEntry { type_name, config });
        }
        Ok(())
    }

    fn parse_transforms(&mut self, components: toml::Table) -> Result<(), ConfigError> {
        for (name, value) in components {
            let mut table = component_table("transform", &name, value)?;
            let type_name = take_type("transform", &name, &mut table)?;
            let inputs = take_inputs("transform", &name, &mut table)?;
            let concurrency = take_concurrency(&name, &mut table)?;
            let plugin = find_transform(&type_name).ok_or_else(|| {
                let known: Vec<&str> = TRANSFORMS.iter().map(|p| p.type_name).collect();
                unknown_type("transform", &name, &type_name, &known)
            })?;
            let config = (plugin.parse)(table).map_err(|m| component_error("transform", &name, m))?;
            config.build().map_err(|e| component_error("transform", &name, e))?;
            self.transforms.insert(name, TransformEntry { type_name, inputs, concurrency, config });
        }
        Ok(())
    }

    fn parse_sinks(&mut self, components: toml::Table) -> Result<(), ConfigError> {
        for (name, value) in components {
            let mut table = component_table("sink", &name, value)?;
            let type_name = take_type("sink", &name, &mut table)?;
            let inputs = take_inputs("sink", &name, &mut table)?;
            let plugin = lookup("sink", &name, &type_name, find_sink(&type_name), SINKS)?;
            let config = (plugin.parse)(table).map_err(|m| component_error("sink", &name, m))?;
            self.sinks.insert(name, SinkEntry { type_name, inputs, config });
        }
        Ok(())
    }

    /// Checks inputs and cycles.
    fn validate_graph(&self) -> Result<(), ConfigError> {
        if self.sources.is_empty() {
            return Err(ConfigError::Empty("sources"));
        }
        if self.sinks.is_empty() {
            return Err(ConfigError::Empty("sinks"));
        }
        let names = self.sources.keys().chain(self.transforms.keys()).chain(self.sinks.keys());
        let mut seen = BTreeSet::new();
        for name in names {
            if !seen.insert(name) {
                return Err(ConfigError::DuplicateName(name.clone()));
            }
        }
        self.check_resources()?;
        let consumers = self
            .transforms
            .iter()
            .map(|(n, t)| ("transform", n, &t.inputs))
            .chain(self.sinks.iter().map(|(n, s)| ("sink", n, &s.inputs)));
        for (kind, name, inputs) in consumers {
            for input in inputs {
                self.check_input(input).map_err(|m| component_error(kind, name, m))?;
            }
        }
        self.check_cycles()
    }

    /// Refuses two components claiming the same resource (stdin or stdout).
    fn check_resources(&self) -> Result<(), ConfigError> {
        let claims = self
            .sources
            .values()
            .flat_map(|s| s.config.resources())
            .chain(self.sinks.values().flat_map(|s| s.config.resources()));
        let mut held = BTreeSet::new();
        for resource in claims {
            if !held.insert(resource) {
                return Err(match resource {
                    Resource::Stdin | Resource::Stdout => ConfigError::SharedStdio,
                });
            }
        }
        Ok(())
    }

    fn check_input(&self, input: &str) -> Result<(), String> {
        let (component, output) = split_input(input);
        if self.sources.contains_key(component) {
            return match output {
                None => Ok(()),
                Some(o) => Err(format!("input `{input}`: source `{component}` has no output `{o}`")),
            };
        }
        match (self.transforms.get(component), output) {
            (Some(_), None) => Ok(()),
            (Some(t), Some(o)) if t.config.named_outputs().contains(&o) => Ok(()),
            (Some(_), Some(o)) => Err(format!("input `{input}`: transform `{component}` has no output `{o}`")),
            (None, _) => Err(format!("input `{input}` is not a source or transform in this config")),
        }
    }

    fn check_cycles(&self) -> Result<(), ConfigError> {
        let mut done = BTreeSet::new();
        for name in self.transforms.keys() {
            let mut path = Vec::new();
            self.visit(name, &mut path, &mut done)?;
        }
        Ok(())
    }

    fn visit<'a>(
        &'a self,
        name: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Result<(), ConfigError> {
        if done.contains(name) {
            return Ok(());
        }
        if let Some(i) = path.iter().position(|p| *p == name) {
            let mut cycle: Vec<&str> = path[i..].to_vec();
            cycle.push(name);
            return Err(ConfigError::Cycle(cycle.join(" -> ")));
        }
        let Some(t) = self.transforms.get(name) else { return Ok(()) };
        path.push(name);
        for input in &t.inputs {
            self.visit(split_input(input).0, path, done)?;
        }
        path.pop();
        done.insert(name);
        Ok(())
    }

    /// A short human summary of the graph, for `validate`. Holds no option values.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (name, s) in &self.sources {
            out.push_str(&format!("source    {name} ({})\n", s.type_name));
        }
        for (name, t) in &self.transforms {
            out.push_str(&format!("transform {name} ({}) <- {}\n", t.type_name, t.inputs.join(", ")));
            for notice in t.config.notices() {
                out.push_str(&format!("  note: {notice}\n"));
            }
        }
        for (name, s) in &self.sinks {
            out.push_str(&format!("sink      {name} ({}) <- {}\n", s.type_name, s.inputs.join(", ")));
        }
        out
    }
}

/// A TOML syntax error located by line and column, without the excerpt of the file that the
/// `toml` crate's own message includes: that line may hold a secret written in clear.
fn syntax_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let at = e.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!(" at line {line}, column {column}")
    });
    ConfigError::Toml(format!("{}{}", e.message().lines().next().unwrap_or("syntax error"), at.unwrap_or_default()))
}

/// Splits `name.output` into the component and its named output.
pub fn split_input(input: &str) -> (&str, Option<&str>) {
    match input.rsplit_once('.') {
        Some((component, output)) => (component, Some(output)),
        None => (input, None),
    }
}

/// A registered source or sink kind, or an error listing the known ones.
fn lookup<C: ?Sized>(
    kind: &'static str,
    name: &str,
    type_name: &str,
    found: Option<&'static Plugin<C>>,
    all: &[Plugin<C>],
) -> Result<&'static Plugin<C>, ConfigError> {
    found.ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|p| p.type_name).collect();
        unknown_type(kind, name, type_name, &known)
    })
}

/// Component types of Vector's that phi-scrub does not have: named back in the error, since
/// they come from this list and not from the config (a type built from an expanded variable
/// could hold a secret, so any other unknown type is not repeated).
const VECTOR_TYPES: &[&str] = &[
    "remap",
    "filter",
    "route",
    "reduce",
    "dedupe",
    "sample",
    "throttle",
    "lua",
    "log_to_metric",
    "aggregate",
    "http",
    "http_client",
    "socket",
    "syslog",
    "file",
    "journald",
    "kafka",
    "kubernetes_logs",
    "docker_logs",
    "datadog_agent",
    "splunk_hec",
    "aws_s3",
    "aws_sqs",
    "aws_kinesis_firehose",
    "elasticsearch",
    "loki",
    "vector",
    "prometheus_exporter",
    "prometheus_remote_write",
    "statsd",
    "blackhole",
    "demo_logs",
    "exec",
    "fluent",
    "logstash",
    "amqp",
    "redis",
    "pulsar",
    "gcp_pubsub",
    "azure_blob",
    "clickhouse",
    "influxdb_logs",
    "webhdfs",
];

fn unknown_type(kind: &'static str, name: &str, type_name: &str, known: &[&str]) -> ConfigError {
    let shown = if VECTOR_TYPES.contains(&type_name) { format!(" `{type_name}`") } else { String::new() };
    component_error(kind, name, format!("unknown type{shown}; known: {}", known.join(", ")))
}

fn component_table(kind: &'static str, name: &str, value: toml::Value) -> Result<toml::Table, ConfigError> {
    if name.is_empty() || name.contains('.') {
        return Err(component_error(kind, name, "component names must be non-empty and contain no `.`"));
    }
    match value {
        toml::Value::Table(t) => Ok(t),
        _ => Err(component_error(kind, name, "must be a table")),
    }
}

fn take_type(kind: &'static str, name: &str, table: &mut toml::Table) -> Result<String, ConfigError> {
    match table.remove("type") {
        Some(toml::Value::String(s)) => Ok(s),
        Some(_) => Err(component_error(kind, name, "`type` must be a string")),
        None => Err(component_error(kind, name, "missing `type`")),
    }
}

/// `concurrency = N` on a transform block (taken off before the transform parses its options).
fn take_concurrency(name: &str, table: &mut toml::Table) -> Result<usize, ConfigError> {
    let Some(value) = table.remove("concurrency") else {
        return Ok(std::thread::available_parallelism().map_or(1, usize::from));
    };
    match value.as_integer() {
        Some(n @ 1..=256) => Ok(n as usize),
        _ => Err(component_error("transform", name, "`concurrency` must be a whole number from 1 to 256")),
    }
}

fn take_inputs(kind: &'static str, name: &str, table: &mut toml::Table) -> Result<Vec<String>, ConfigError> {
    let value = table.remove("inputs").ok_or_else(|| component_error(kind, name, "missing `inputs`"))?;
    let inputs = Vec::<String>::deserialize(value)
        .map_err(|_| component_error(kind, name, "`inputs` must be a list of component names"))?;
    if inputs.is_empty() {
        return Err(component_error(kind, name, "`inputs` is empty"));
    }
    Ok(inputs)
}

fn interpolate_table(
    table: &mut toml::Table,
    at: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (key, value) in table.iter_mut() {
        let here = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
        interpolate_value(value, &here, env)?;
    }
    Ok(())
}

fn interpolate_value(
    value: &mut toml::Value,
    at: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(s) => {
            let replaced =
                interpolate(s, env).map_err(|source| ConfigError::Interpolate { at: at.to_owned(), source })?;
            *s = replaced;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_value(item, &format!("{at}[{i}]"), env)?;
            }
        }
        toml::Value::Table(t) => interpolate_table(t, at, env)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
