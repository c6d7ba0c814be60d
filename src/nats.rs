//! What the `nats` source and sink share: the connection options as Vector spells them (`url`,
//! `auth.strategy` with `user_password`, `token` or `credentials_file`, and `tls.*`: required
//! when `tls.enabled`, the server checked against the public roots plus `tls.ca_file`, a client
//! certificate from `tls.crt_file` and `tls.key_file`) and connecting with them. The client reconnects on its own after a server restart; connecting at start waits for
//! the server too, so a pipeline can start before its broker.

use std::path::PathBuf;

use serde::Deserialize;

use crate::tls::TlsConfig;
use phi_scrub_core::secret::SecretBytes;

/// `auth.*` of a `nats` source or sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsAuth {
    pub strategy: AuthStrategy,
    #[serde(default)]
    pub user_password: Option<UserPassword>,
    #[serde(default)]
    pub token: Option<Token>,
    #[serde(default)]
    pub credentials_file: Option<CredentialsFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthStrategy {
    UserPassword,
    Token,
    CredentialsFile,
}

/// `auth.user_password`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPassword {
    pub user: String,
    /// Never logged.
    pub password: SecretBytes,
}

/// `auth.token`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// Never logged.
    pub value: SecretBytes,
}

/// `auth.credentials_file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsFile {
    pub path: PathBuf,
}

impl NatsAuth {
    /// Checks that the table the strategy names is there.
    pub fn validate(&self) -> Result<(), String> {
        let present = match self.strategy {
            AuthStrategy::UserPassword => self.user_password.is_some(),
            AuthStrategy::Token => self.token.is_some(),
            AuthStrategy::CredentialsFile => self.credentials_file.is_some(),
        };
        let table = match self.strategy {
            AuthStrategy::UserPassword => "auth.user_password (user, password)",
            AuthStrategy::Token => "auth.token (value)",
            AuthStrategy::CredentialsFile => "auth.credentials_file (path)",
        };
        if present {
            Ok(())
        } else {
            Err(format!("`auth.strategy` needs `{table}`"))
        }
    }
}

/// Checks `auth.*` and `tls.*` of a `nats` source or sink: the table the strategy names is
/// there, and TLS files are readable and set only with `tls.enabled = true` (a certificate
/// configured but unused would send PHI in clear while looking protected).
pub fn validate(auth: Option<&NatsAuth>, tls: Option<&TlsConfig>) -> Result<(), String> {
    if let Some(auth) = auth {
        auth.validate()?;
    }
    if let Some(tls) = tls {
        let files = tls.ca_file.is_some() || tls.crt_file.is_some() || tls.key_file.is_some();
        if files && !tls.enabled {
            return Err("`tls.*` files are set but `tls.enabled` is not true: set it, or remove them".into());
        }
        tls.client_config().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Connects to `url`, waiting for the server if it is not up yet; over TLS when
/// `tls.enabled` (the server must then offer it).
pub async fn connect(
    url: &str,
    auth: Option<&NatsAuth>,
    tls: Option<&TlsConfig>,
    name: &str,
) -> std::io::Result<async_nats::Client> {
    let mut options =
        async_nats::ConnectOptions::new().name(name).retry_on_initial_connect().event_callback(log_event(name));
    if let Some(tls) = tls.filter(|t| t.enabled) {
        for weakened in tls.weakened_checks() {
            tracing::warn!(component_id = %name, "{weakened}");
        }
        let config = tls.client_config().map_err(std::io::Error::other)?;
        options = options.require_tls(true).tls_client_config(config);
    }
    if let Some(auth) = auth {
        options = match auth.strategy {
            AuthStrategy::UserPassword => {
                let up = auth.user_password.as_ref().ok_or_else(|| invalid("auth.user_password"))?;
                let password = String::from_utf8_lossy(up.password.expose()).into_owned();
                options.user_and_password(up.user.clone(), password)
            }
            AuthStrategy::Token => {
                let token = auth.token.as_ref().ok_or_else(|| invalid("auth.token"))?;
                options.token(String::from_utf8_lossy(token.value.expose()).into_owned())
            }
            AuthStrategy::CredentialsFile => {
                let file = auth.credentials_file.as_ref().ok_or_else(|| invalid("auth.credentials_file"))?;
                options.credentials_file(&file.path).await.map_err(|e| {
                    std::io::Error::other(format!("cannot read `auth.credentials_file.path`: {}", e.kind()))
                })?
            }
        };
    }
    // The error names the server, never the credentials.
    let shown = shown_url(url);
    options.connect(url).await.map_err(|e| std::io::Error::other(format!("cannot connect to NATS at {shown}: {e}")))
}

/// Logs what the client says of its connection (connected, disconnected, a server error such as
/// an authorization violation), with the component's name: the callback runs outside its span.
fn log_event(name: &str) -> impl Fn(async_nats::Event) -> std::future::Ready<()> + Send + Sync + 'static {
    let name = name.to_owned();
    move |event| {
        match &event {
            async_nats::Event::Connected => tracing::info!(component_id = %name, "connected to NATS"),
            async_nats::Event::Disconnected => {
                tracing::warn!(component_id = %name, "disconnected from NATS; reconnecting")
            }
            other => tracing::warn!(component_id = %name, event = %other, "NATS client event"),
        }
        std::future::ready(())
    }
}

/// `url` without any `user:password@` in it, for messages.
pub fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    if scheme.is_empty() {
        host.to_owned()
    } else {
        format!("{scheme}://{host}")
    }
}

fn invalid(table: &str) -> std::io::Error {
    std::io::Error::other(format!("`{table}` is missing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(shown_url("nats://u:secret@10.0.0.1:4222"), "nats://10.0.0.1:4222");
        assert_eq!(shown_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(shown_url("tok@host:4222"), "host:4222");
    }

    #[test]
    fn a_strategy_needs_its_table() {
        let auth: NatsAuth = toml::from_str("strategy = \"token\"").unwrap();
        assert!(auth.validate().unwrap_err().contains("auth.token"));
        let auth: NatsAuth = toml::from_str("strategy = \"token\"\ntoken = { value = \"t\" }").unwrap();
        assert!(auth.validate().is_ok());
        assert!(!format!("{auth:?}").contains("\"t\""), "the token never shows in Debug");
    }
}
