//! TLS for every network door, through rustls (TLS 1.2 and 1.3 only): the `tls.*` options as
//! Vector names them, the server side (`http_server`, the metrics endpoint: certificate and key
//! from PEM files, client certificates when `ca_file` and `verify_certificate` are set, files
//! re-read on SIGHUP) and the client side (the `http` sink: the platform's public roots plus a
//! private CA, a client certificate, and the two checks that can be turned off, loudly).
//!
//! Errors name the option and the file, never key material.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;

/// `tls.*` on a component.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Serve TLS (servers); clients use TLS for `https://` addresses whatever this says.
    #[serde(default)]
    pub enabled: bool,
    /// The certificate chain, PEM: the server's own, or the client certificate a client shows.
    pub crt_file: Option<PathBuf>,
    /// The private key of `crt_file`, PEM.
    pub key_file: Option<PathBuf>,
    /// A CA bundle, PEM: for a server, the CA client certificates must chain to; for a client,
    /// a private CA trusted besides the public roots.
    pub ca_file: Option<PathBuf>,
    /// Servers: require a client certificate signed by `ca_file` (default off). Clients: check
    /// the server's certificate chain (default on; turning it off is warned about at start).
    pub verify_certificate: Option<bool>,
    /// Clients: check that the certificate names the host (default on; warned about when off).
    pub verify_hostname: Option<bool>,
}

/// A TLS setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("tls.{option}: cannot use `{path}`: {why}")]
    File { option: &'static str, path: String, why: String },
    /// A required option is missing.
    #[error("tls.{0} is required {1}")]
    Missing(&'static str, &'static str),
    /// rustls refused the combination (a key that does not match the certificate, say).
    #[error("tls: {0}")]
    Rustls(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

fn file_error(option: &'static str, path: &Path, why: impl std::fmt::Display) -> TlsError {
    TlsError::File { option, path: path.display().to_string(), why: why.to_string() }
}

fn load_certs(option: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(option, path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(option, path, e))?;
    if certs.is_empty() {
        return Err(file_error(option, path, "no certificate in it"));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    // The pem crate's errors name the section, not its bytes.
    PrivateKeyDer::from_pem_file(path).map_err(|_| file_error("key_file", path, "no readable private key in it"))
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs("ca_file", path)? {
        roots.add(cert).map_err(|e| file_error("ca_file", path, e))?;
    }
    Ok(roots)
}

fn rustls_error(e: impl std::fmt::Display) -> TlsError {
    TlsError::Rustls(e.to_string())
}

impl TlsConfig {
    /// The server configuration: certificate and key from their files, client certificates
    /// required when `verify_certificate` is on.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let crt = self.crt_file.as_deref().ok_or(TlsError::Missing("crt_file", "with tls.enabled"))?;
        let key = self.key_file.as_deref().ok_or(TlsError::Missing("key_file", "with tls.enabled"))?;
        let (certs, key) = (load_certs("crt_file", crt)?, load_key(key)?);
        let builder =
            ServerConfig::builder_with_provider(provider()).with_protocol_versions(VERSIONS).map_err(rustls_error)?;
        let builder = if self.verify_certificate.unwrap_or(false) {
            let ca = self.ca_file.as_deref().ok_or(TlsError::Missing("ca_file", "with tls.verify_certificate"))?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(load_roots(ca)?), provider())
                .build()
                .map_err(rustls_error)?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(certs, key).map_err(rustls_error)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The client configuration: public roots plus `ca_file`, a client certificate when one is
    /// given, and the checks `verify_certificate` and `verify_hostname` keep on by default.
    pub fn client_config(&self) -> Result<ClientConfig, TlsError> {
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(ca) = &self.ca_file {
            roots.roots.extend(load_roots(ca)?.roots);
        }
        let roots = Arc::new(roots);
        let builder =
            ClientConfig::builder_with_provider(provider()).with_protocol_versions(VERSIONS).map_err(rustls_error)?;
        let builder = match (self.verify_certificate.unwrap_or(true), self.verify_hostname.unwrap_or(true)) {
            (true, true) => builder.with_root_certificates(roots),
            (true, false) => {
                let inner =
                    WebPkiServerVerifier::builder_with_provider(roots, provider()).build().map_err(rustls_error)?;
                builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyHostname(inner)))
            }
            (false, _) => builder.dangerous().with_custom_certificate_verifier(Arc::new(Unverified(provider()))),
        };
        match (&self.crt_file, &self.key_file) {
            (Some(crt), Some(key)) => {
                builder.with_client_auth_cert(load_certs("crt_file", crt)?, load_key(key)?).map_err(rustls_error)
            }
            (None, None) => Ok(builder.with_no_client_auth()),
            _ => Err(TlsError::Missing("crt_file and tls.key_file", "together")),
        }
    }

    /// What a client would stop checking, for the warning at start.
    pub fn weakened_checks(&self) -> Vec<&'static str> {
        let mut off = Vec::new();
        if self.verify_certificate == Some(false) {
            off.push("tls.verify_certificate = false: any certificate is accepted, so anyone on the path can read the events");
        }
        if self.verify_hostname == Some(false) {
            off.push("tls.verify_hostname = false: a certificate for another host is accepted");
        }
        off
    }
}

/// The server's acceptor, swapped when the certificate files are re-read (SIGHUP). Connections
/// already open keep the configuration they started with.
#[derive(Clone)]
pub struct ReloadableAcceptor {
    config: TlsConfig,
    current: Arc<RwLock<TlsAcceptor>>,
}

impl std::fmt::Debug for ReloadableAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadableAcceptor").field("config", &self.config).finish_non_exhaustive()
    }
}

impl ReloadableAcceptor {
    /// Reads the files once.
    pub fn new(config: TlsConfig) -> Result<Self, TlsError> {
        let acceptor = TlsAcceptor::from(config.server_config()?);
        Ok(Self { config, current: Arc::new(RwLock::new(acceptor)) })
    }

    /// The acceptor for a new connection.
    pub fn current(&self) -> TlsAcceptor {
        match self.current.read() {
            Ok(a) => a.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the files; on an error the current certificate stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let acceptor = TlsAcceptor::from(self.config.server_config()?);
        match self.current.write() {
            Ok(mut a) => *a = acceptor,
            Err(poisoned) => *poisoned.into_inner() = acceptor,
        }
        Ok(())
    }

    /// Reloads on every SIGHUP until the task is aborted; `name` labels the log lines.
    pub async fn reload_on_sighup(self, name: String) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
            while hup.recv().await.is_some() {
                match self.reload() {
                    Ok(()) => tracing::info!(component_id = %name, "TLS certificate files re-read"),
                    Err(e) => {
                        tracing::error!(component_id = %name, error = %e, "TLS files not re-read, the old certificate stays")
                    }
                }
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}

/// Checks the chain but accepts a certificate for another name (`verify_hostname = false`).
#[derive(Debug)]
struct AnyHostname(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Accepts any certificate (`verify_certificate = false`); still checks the handshake
/// signatures, so the connection is at least to whoever holds the key shown.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
