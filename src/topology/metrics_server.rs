//! The optional Prometheus endpoint: `GET /metrics` on `metrics.address` (loopback unless set),
//! in the text exposition format, rendered from what every component last published. Counters
//! only; never event content or secrets. Beside it the probes for load balancers and
//! Kubernetes: `GET /health` (200 while the process answers) and `GET /ready` (200 once every
//! component runs, 503 while starting, after a shutdown signal, or while a sink is stuck past
//! its retry budget, naming it). With `auth`, a bearer token is required (compared in constant
//! time) for `/metrics`; the probes carry no data and need none. With `tls`, all are served
//! over TLS.

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
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::MetricsConfig;
use crate::metrics::Registry;

/// Binds the endpoint and serves in the background until the handle is aborted.
pub(super) async fn start(
    config: &MetricsConfig,
    registry: Registry,
    stop: watch::Receiver<bool>,
) -> std::io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(&config.address).await?;
    let tls = match config.tls.as_ref().filter(|t| t.enabled) {
        Some(t) => Some(TlsAcceptor::from(t.server_config().map_err(std::io::Error::other)?)),
        None => None,
    };
    let token: Option<Arc<[u8]>> = config.auth.as_ref().map(|a| Arc::from(a.token.expose()));
    tracing::info!(address = %config.address, tls = tls.is_some(), "metrics, /health and /ready listening");
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let state = State { registry: registry.clone(), token: token.clone(), stop: stop.clone() };
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve(stream, state).await,
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve(stream, state).await;
                        }
                    }
                }
            });
        }
    }))
}

/// What one connection answers from.
#[derive(Clone)]
struct State {
    registry: Registry,
    token: Option<Arc<[u8]>>,
    stop: watch::Receiver<bool>,
}

async fn serve<S>(stream: S, state: State)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        let response = answer(&req, &state);
        async move { Ok::<_, std::convert::Infallible>(response) }
    });
    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
}

fn answer(req: &Request<hyper::body::Incoming>, state: &State) -> Response<Full<Bytes>> {
    let (status, body) = match req.uri().path() {
        "/health" => (StatusCode::OK, Bytes::from_static(b"ok\n")),
        "/ready" => ready(state),
        _ if !authorized(req, state.token.as_deref()) => {
            (StatusCode::UNAUTHORIZED, Bytes::from_static(b"a bearer token is required\n"))
        }
        "/metrics" => (StatusCode::OK, Bytes::from(state.registry.render_prometheus())),
        _ => (StatusCode::NOT_FOUND, Bytes::from_static(b"see /metrics, /health, /ready\n")),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

/// `/ready`: 200, or 503 with the reason.
fn ready(state: &State) -> (StatusCode, Bytes) {
    if *state.stop.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, Bytes::from_static(b"shutting down\n"));
    }
    match state.registry.not_ready() {
        None => (StatusCode::OK, Bytes::from_static(b"ready\n")),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, Bytes::from(reason + "\n")),
    }
}

/// Whether the request carries the token (always, without one configured).
fn authorized(req: &Request<hyper::body::Incoming>, token: Option<&[u8]>) -> bool {
    let Some(token) = token else { return true };
    let given = req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes).unwrap_or_default();
    let given = given.strip_prefix(b"Bearer ").unwrap_or_default();
    bool::from(subtle::ConstantTimeEq::ct_eq(given, token))
}
