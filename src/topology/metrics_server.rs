//! The optional Prometheus endpoint: `GET /metrics` on `metrics.address`, in the text exposition
//! format, rendered from what every component last published. Counters only; never event
//! content or secrets.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::metrics::Registry;

/// Binds `address` and serves in the background until the handle is aborted.
pub(super) async fn start(address: &str, registry: Registry) -> std::io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(address).await?;
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let registry = registry.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let registry = registry.clone();
                    async move {
                        let mut response = if req.uri().path() == "/metrics" {
                            Response::new(Full::new(Bytes::from(registry.render_prometheus())))
                        } else {
                            let mut r = Response::new(Full::new(Bytes::from_static(b"see /metrics\n")));
                            *r.status_mut() = StatusCode::NOT_FOUND;
                            r
                        };
                        response
                            .headers_mut()
                            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    }))
}
