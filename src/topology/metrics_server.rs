//! The optional Prometheus endpoint: `GET /metrics` on `metrics.address` (loopback unless set),
//! in the text exposition format, rendered from what every component last published. Counters
//! only; never event content or secrets. With `auth`, a bearer token is required (compared in
//! constant time); with `tls`, it is served over TLS.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::MetricsConfig;
use crate::metrics::Registry;

/// Binds the endpoint and serves in the background until the handle is aborted.
pub(super) async fn start(config: &MetricsConfig, registry: Registry) -> std::io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(&config.address).await?;
    let tls = match config.tls.as_ref().filter(|t| t.enabled) {
        Some(t) => Some(TlsAcceptor::from(t.server_config().map_err(std::io::Error::other)?)),
        None => None,
    };
    let token: Option<Arc<[u8]>> = config.auth.as_ref().map(|a| Arc::from(a.token.expose()));
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (registry, token, tls) = (registry.clone(), token.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => serve(stream, registry, token).await,
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve(stream, registry, token).await;
                        }
                    }
                }
            });
        }
    }))
}

async fn serve<S>(stream: S, registry: Registry, token: Option<Arc<[u8]>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        let response = answer(&req, &registry, token.as_deref());
        async move { Ok::<_, std::convert::Infallible>(response) }
    });
    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
}

fn answer(req: &Request<hyper::body::Incoming>, registry: &Registry, token: Option<&[u8]>) -> Response<Full<Bytes>> {
    let (status, body) = if !authorized(req, token) {
        (StatusCode::UNAUTHORIZED, Bytes::from_static(b"a bearer token is required\n"))
    } else if req.uri().path() == "/metrics" {
        (StatusCode::OK, Bytes::from(registry.render_prometheus()))
    } else {
        (StatusCode::NOT_FOUND, Bytes::from_static(b"see /metrics\n"))
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

/// Whether the request carries the token (always, without one configured).
fn authorized(req: &Request<hyper::body::Incoming>, token: Option<&[u8]>) -> bool {
    let Some(token) = token else { return true };
    let given = req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes).unwrap_or_default();
    let given = given.strip_prefix(b"Bearer ").unwrap_or_default();
    bool::from(subtle::ConstantTimeEq::ct_eq(given, token))
}
