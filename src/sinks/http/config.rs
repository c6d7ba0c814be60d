//! Options of `[sinks.NAME] type = "http"`, named as Vector's `http` sink names them where it has
//! the concept, plus Mixpanel presets. `resolve()` turns them into the settings the sink runs
//! with, refusing combinations that cannot work (a preset without credentials, say).

use std::time::Duration;

use serde::Deserialize;

use crate::sinks::dead_letter::DeadLetterConfig;
use crate::tls::TlsConfig;
use phi_scrub_core::secret::SecretBytes;
use phi_scrub_transform::mixpanel;

/// A Mixpanel endpoint preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// `POST /import?strict=1&project_id=…`, Basic auth with a service account, gzip.
    MixpanelImport,
    /// `POST /track?verbose=1`, the project token inside each event.
    MixpanelTrack,
}

/// Mixpanel data residency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    #[default]
    Us,
    Eu,
    In,
}

/// Request body compression algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    None,
    Gzip,
}

/// `compression`, as Vector spells it: `"gzip"`, or `{ algorithm = "gzip", level = 6 }` with a
/// level from 0 to 9 or `"none"`, `"fast"`, `"default"`, `"best"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CompressionConfig {
    Algorithm(Compression),
    Table(CompressionTable),
}

/// `compression = { algorithm, level }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressionTable {
    pub algorithm: Compression,
    #[serde(default)]
    pub level: Option<CompressionLevel>,
}

/// A gzip level: a number, or one of Vector's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CompressionLevel {
    Number(u32),
    Named(NamedLevel),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedLevel {
    None,
    Fast,
    Default,
    Best,
}

/// The level used when none is given: 1, the fastest. Measured on Mixpanel events (BENCHMARKS.md,
/// "Request compression"): 2.97x smaller at 438 k events/s per core with flate2's default
/// backend, against 2.90-3.10x at a third to a quarter of that speed for levels 2 to 6.
pub(super) const DEFAULT_GZIP_LEVEL: u32 = 1;

impl CompressionConfig {
    /// The gzip level, or `None` for no compression.
    fn gzip_level(self) -> Result<Option<u32>, String> {
        let (algorithm, level) = match self {
            Self::Algorithm(a) => (a, None),
            Self::Table(t) => (t.algorithm, t.level),
        };
        if algorithm == Compression::None {
            return Ok(None);
        }
        let level = match level {
            None | Some(CompressionLevel::Named(NamedLevel::Fast)) => DEFAULT_GZIP_LEVEL,
            Some(CompressionLevel::Named(NamedLevel::None)) => 0,
            Some(CompressionLevel::Named(NamedLevel::Default)) => 6,
            Some(CompressionLevel::Named(NamedLevel::Best)) => 9,
            Some(CompressionLevel::Number(n)) if n <= 9 => n,
            Some(CompressionLevel::Number(n)) => return Err(format!("`compression.level` must be 0 to 9, not {n}")),
        };
        Ok(Some(level))
    }
}

/// `auth.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Only `basic`.
    pub strategy: AuthStrategy,
    /// The user (for `/import`: the service account's user name).
    pub user: String,
    /// The password (for `/import`: the service account's secret). Never logged.
    pub password: SecretBytes,
}

/// How requests authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthStrategy {
    Basic,
}

/// `batch.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Most events per request (presets: 2000, Mixpanel's limit).
    pub max_events: Option<usize>,
    /// Most uncompressed bytes per request (presets: 2 MiB).
    pub max_bytes: Option<usize>,
    /// Longest an event waits for its batch to fill, in seconds (default 1).
    pub timeout_secs: Option<f64>,
}

/// `request.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestConfig {
    /// Requests in flight at once (default 4; Mixpanel suggests 10-20 at most).
    pub concurrency: Option<usize>,
    /// Timeout of one request, in seconds (default 30).
    pub timeout_secs: Option<f64>,
    /// Retries of one batch before its events become dead letters (default 10).
    pub retry_attempts: Option<u32>,
    /// First backoff, doubled per retry, in seconds (default 2, as Mixpanel advises).
    pub retry_initial_backoff_secs: Option<f64>,
    /// Largest backoff, in seconds (default 60).
    pub retry_max_backoff_secs: Option<f64>,
    /// Longest time spent retrying one batch, in seconds (default 600).
    pub retry_max_duration_secs: Option<f64>,
}

/// `[sinks.NAME] type = "http"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    /// `mixpanel_import` or `mixpanel_track`; without one, `uri` is the full endpoint.
    pub preset: Option<Preset>,
    /// Mixpanel residency host for presets: `us` (default), `eu`, `in`.
    #[serde(default)]
    pub region: Region,
    /// Overrides the host for presets (`http://127.0.0.1:9000`), or the endpoint without one.
    pub uri: Option<String>,
    /// Mixpanel project id (required by `mixpanel_import`).
    pub project_id: Option<String>,
    /// Credentials.
    pub auth: Option<AuthConfig>,
    /// `gzip` (preset default for `/import`) or `none`, or `{ algorithm = "gzip", level = N }`.
    pub compression: Option<CompressionConfig>,
    /// Batching.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Requests and retries.
    #[serde(default)]
    pub request: RequestConfig,
    /// Where events the sink gives up on are appended.
    pub dead_letter: Option<DeadLetterConfig>,
    /// Vector's `encoding.codec`: `json` is accepted (a JSON array of events is what is sent).
    #[serde(default)]
    pub encoding: Option<crate::vector_compat::Encoding>,
    /// TLS for `https://`: `tls.ca_file` (a private CA, trusted besides the public roots),
    /// `tls.crt_file` / `tls.key_file` (a client certificate), `tls.verify_certificate` and
    /// `tls.verify_hostname` (both on unless turned off, which is warned about at start).
    #[serde(default)]
    pub tls: TlsConfig,
    /// Proxies, as Vector names them; `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` fill what is
    /// not set here (and `no_proxy` lists from both apply).
    #[serde(default)]
    pub proxy: ProxyConfig,
}

/// `proxy.*`: where requests go through on their way out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Use proxies at all (default on, from the options below or the environment).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The proxy for `http://` requests.
    pub http: Option<String>,
    /// The proxy for `https://` requests (tunnelled with CONNECT: it sees only ciphertext).
    pub https: Option<String>,
    /// Hosts reached directly: names, `.domain` suffixes, IPs or CIDR ranges.
    #[serde(default)]
    pub no_proxy: Vec<String>,
}

const fn default_true() -> bool {
    true
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self { enabled: true, http: None, https: None, no_proxy: Vec::new() }
    }
}

/// How the sink reads the answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// Mixpanel `/import?strict=1`: a 400 lists the failed records; the rest were ingested.
    MixpanelStrict,
    /// Mixpanel `/track?verbose=1`: `{"status":1}` or `{"status":0,"error":…}`.
    MixpanelVerbose,
    /// Any 2xx is success.
    Plain,
}

/// The settings the sink runs with.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub url: String,
    pub basic_auth: Option<(String, SecretBytes)>,
    /// The gzip level, or `None` for uncompressed bodies.
    pub gzip: Option<u32>,
    pub max_events: usize,
    pub max_bytes: usize,
    pub batch_timeout: Duration,
    pub concurrency: usize,
    pub request_timeout: Duration,
    pub retry_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub max_retry_duration: Duration,
    pub mode: ResponseMode,
    pub dead_letter: Option<DeadLetterConfig>,
    pub tls: TlsConfig,
    pub proxy: ProxyConfig,
}

fn secs(option: &'static str, value: Option<f64>, default: f64) -> Result<Duration, String> {
    let v = value.unwrap_or(default);
    Duration::try_from_secs_f64(v).map_err(|_| format!("`{option}` must be a non-negative number of seconds"))
}

impl HttpSinkConfig {
    /// Checks the options and applies the preset's defaults.
    pub fn resolve(&self) -> Result<HttpSettings, String> {
        let host = |region: Region| match region {
            Region::Us => mixpanel::HOST_US,
            Region::Eu => mixpanel::HOST_EU,
            Region::In => mixpanel::HOST_IN,
        };
        let base = self.uri.clone().unwrap_or_else(|| host(self.region).to_owned());
        let base = base.trim_end_matches('/').to_owned();
        let (url, mode, gzip_default) = match self.preset {
            Some(Preset::MixpanelImport) => {
                let project = self.project_id.as_deref().filter(|p| !p.is_empty());
                let project = project.ok_or("preset `mixpanel_import` needs `project_id`")?;
                if self.auth.is_none() {
                    return Err("preset `mixpanel_import` needs `auth` (strategy basic, a service account)".into());
                }
                (format!("{base}/import?strict=1&project_id={project}"), ResponseMode::MixpanelStrict, true)
            }
            Some(Preset::MixpanelTrack) => (format!("{base}/track?verbose=1"), ResponseMode::MixpanelVerbose, false),
            None => (self.uri.clone().ok_or("set `uri` (or a `preset`)")?, ResponseMode::Plain, false),
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err("`uri` must start with http:// or https://".into());
        }
        let preset = self.preset.is_some();
        let max_events = self.batch.max_events.unwrap_or(if preset { mixpanel::MAX_EVENTS_PER_REQUEST } else { 1000 });
        let max_bytes = self.batch.max_bytes.unwrap_or(mixpanel::MAX_REQUEST_BYTES);
        if preset && (max_events > mixpanel::MAX_EVENTS_PER_REQUEST || max_bytes > mixpanel::MAX_REQUEST_BYTES) {
            return Err(
                "`batch.max_events` / `batch.max_bytes` exceed Mixpanel's per-request limits (2000, 2 MiB)".into()
            );
        }
        if max_events == 0 || max_bytes == 0 {
            return Err("`batch.max_events` and `batch.max_bytes` must be positive".into());
        }
        let concurrency = self.request.concurrency.unwrap_or(4);
        if concurrency == 0 {
            return Err("`request.concurrency` must be positive".into());
        }
        Ok(HttpSettings {
            url,
            basic_auth: self.auth.as_ref().map(|a| (a.user.clone(), a.password.clone())),
            gzip: match self.compression {
                Some(c) => c.gzip_level()?,
                None => gzip_default.then_some(DEFAULT_GZIP_LEVEL),
            },
            max_events,
            max_bytes,
            batch_timeout: secs("batch.timeout_secs", self.batch.timeout_secs, 1.0)?,
            concurrency,
            request_timeout: secs("request.timeout_secs", self.request.timeout_secs, 30.0)?,
            retry_attempts: self.request.retry_attempts.unwrap_or(10),
            initial_backoff: secs("request.retry_initial_backoff_secs", self.request.retry_initial_backoff_secs, 2.0)?,
            max_backoff: secs("request.retry_max_backoff_secs", self.request.retry_max_backoff_secs, 60.0)?,
            max_retry_duration: secs("request.retry_max_duration_secs", self.request.retry_max_duration_secs, 600.0)?,
            mode,
            dead_letter: self.dead_letter.clone(),
            tls: self.tls.clone(),
            proxy: self.proxy.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<HttpSettings, String> {
        toml::from_str::<HttpSinkConfig>(text).unwrap().resolve()
    }

    const AUTH: &str = "auth = { strategy = \"basic\", user = \"u\", password = \"p\" }\n";

    #[test]
    fn import_preset_builds_the_strict_url_per_region() {
        for (region, host) in [("us", mixpanel::HOST_US), ("eu", mixpanel::HOST_EU), ("in", mixpanel::HOST_IN)] {
            let s =
                resolve(&format!("preset = \"mixpanel_import\"\nregion = \"{region}\"\nproject_id = \"42\"\n{AUTH}"))
                    .unwrap();
            assert_eq!(s.url, format!("{host}/import?strict=1&project_id=42"));
            assert!(s.gzip == Some(DEFAULT_GZIP_LEVEL) && s.mode == ResponseMode::MixpanelStrict);
            assert_eq!((s.max_events, s.max_bytes), (2000, 2 * 1024 * 1024));
        }
    }

    #[test]
    fn uri_overrides_the_host_and_track_uses_verbose() {
        let s = resolve("preset = \"mixpanel_track\"\nuri = \"http://127.0.0.1:9/\"\n").unwrap();
        assert_eq!(s.url, "http://127.0.0.1:9/track?verbose=1");
        assert_eq!(s.mode, ResponseMode::MixpanelVerbose);
    }

    #[test]
    fn import_preset_requires_credentials_and_project() {
        assert!(resolve("preset = \"mixpanel_import\"\nproject_id = \"42\"\n").unwrap_err().contains("auth"));
        assert!(resolve(&format!("preset = \"mixpanel_import\"\n{AUTH}")).unwrap_err().contains("project_id"));
    }

    #[test]
    fn compression_is_spelled_as_vector_spells_it() {
        let base = "uri = \"http://127.0.0.1:9/\"\n";
        let level = |c: &str| resolve(&format!("{base}compression = {c}\n")).map(|s| s.gzip);
        assert_eq!(level("\"gzip\""), Ok(Some(DEFAULT_GZIP_LEVEL)));
        assert_eq!(level("\"none\""), Ok(None));
        assert_eq!(level("{ algorithm = \"gzip\", level = 6 }"), Ok(Some(6)));
        assert_eq!(level("{ algorithm = \"gzip\", level = \"best\" }"), Ok(Some(9)));
        assert_eq!(level("{ algorithm = \"gzip\", level = \"fast\" }"), Ok(Some(1)));
        assert_eq!(level("{ algorithm = \"gzip\", level = \"default\" }"), Ok(Some(6)));
        assert_eq!(level("{ algorithm = \"none\", level = 6 }"), Ok(None));
        assert!(level("{ algorithm = \"gzip\", level = 12 }").unwrap_err().contains("0 to 9"));
        assert_eq!(resolve(base).unwrap().gzip, None, "no compression without a preset");
        let unknown = format!("{base}compression = {{ algorithm = \"gzip\", lvl = 6 }}\n");
        assert!(toml::from_str::<HttpSinkConfig>(&unknown).is_err(), "a misspelled key is refused");
    }

    #[test]
    fn limits_above_mixpanels_are_refused() {
        let text = format!("preset = \"mixpanel_import\"\nproject_id = \"1\"\n{AUTH}batch = {{ max_events = 5000 }}\n");
        assert!(resolve(&text).is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let c: HttpSinkConfig =
            toml::from_str(&format!("preset = \"mixpanel_import\"\nproject_id = \"1\"\n{AUTH}")).unwrap();
        let text = format!("{c:?} {:?}", c.resolve().unwrap());
        assert!(!text.contains("password: \"p\"") && text.contains("redacted"), "{text}");
    }
}
