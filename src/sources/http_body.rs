//! Reading a request body within two limits, while it streams in: one per request (a body over
//! it is refused, 413, before it is held whole) and one shared by all requests (a byte budget:
//! a body that does not fit now is refused with 503, which every agent retries, instead of
//! taking more memory). A gzip body's output is bounded and reserved piece by piece too.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::gzip::{gunzip_within, GunzipError};

/// The bytes all request bodies may hold at once.
#[derive(Debug, Clone)]
pub(super) struct BodyBudget {
    permits: Arc<Semaphore>,
}

/// Room held for one body; given back when dropped.
#[derive(Debug, Default)]
pub(super) struct Held {
    permits: Vec<OwnedSemaphorePermit>,
    bytes: usize,
}

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ReadError {
    /// Over the per-request limit (before or after decompression).
    TooLarge,
    /// The shared budget has no room now: retry later.
    NoRoom,
    /// Not a valid gzip stream, or the connection failed mid-body.
    Invalid(&'static str),
}

impl BodyBudget {
    /// A budget of `bytes` (at least one byte).
    pub(super) fn new(bytes: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(bytes.clamp(1, Semaphore::MAX_PERMITS))) }
    }

    /// Takes room for `bytes` more into `held`, now or not at all.
    fn reserve(&self, held: &mut Held, bytes: usize) -> bool {
        if bytes == 0 {
            return true;
        }
        let Ok(n) = u32::try_from(bytes) else { return false };
        match self.permits.clone().try_acquire_many_owned(n) {
            Ok(permit) => {
                held.permits.push(permit);
                held.bytes += bytes;
                true
            }
            Err(_) => false,
        }
    }
}

/// Reads `body` (of `declared` bytes when the client said so) up to `limit` bytes, decompressing
/// it when `gzip`, holding room for every byte kept. The room is given back when the returned
/// [`Held`] is dropped: keep it until the events are in the pipeline.
pub(super) async fn read(
    mut body: Incoming,
    declared: Option<usize>,
    gzip: bool,
    limit: usize,
    budget: &BodyBudget,
) -> Result<(Bytes, Held), ReadError> {
    let mut held = Held::default();
    if let Some(n) = declared {
        if n > limit {
            return Err(ReadError::TooLarge);
        }
        if !budget.reserve(&mut held, n) {
            return Err(ReadError::NoRoom);
        }
    }
    let mut raw = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Invalid("the connection failed while the body was sent"))?;
        let Ok(data) = frame.into_data() else { continue };
        if raw.len() + data.len() > limit {
            return Err(ReadError::TooLarge);
        }
        let more = (raw.len() + data.len()).saturating_sub(held.bytes);
        if !budget.reserve(&mut held, more) {
            return Err(ReadError::NoRoom);
        }
        raw.extend_from_slice(&data);
    }
    if !gzip {
        return Ok((raw.freeze(), held));
    }
    // The compressed bytes' room is given back once they are inflated (and dropped).
    let mut inflated_held = Held::default();
    let inflated = gunzip_within(&raw, limit, |n| budget.reserve(&mut inflated_held, n));
    drop((raw, held));
    match inflated {
        Ok(out) => Ok((Bytes::from(out), inflated_held)),
        Err(GunzipError::TooLarge(_)) => Err(ReadError::TooLarge),
        Err(GunzipError::NoRoom) => Err(ReadError::NoRoom),
        Err(_) => Err(ReadError::Invalid("invalid gzip body")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_given_back_when_the_body_is_dropped() {
        let budget = BodyBudget::new(100);
        let mut a = Held::default();
        assert!(budget.reserve(&mut a, 60));
        let mut b = Held::default();
        assert!(!budget.reserve(&mut b, 60), "only 40 bytes are left");
        assert!(budget.reserve(&mut b, 40));
        drop(a);
        let mut c = Held::default();
        assert!(budget.reserve(&mut c, 60));
    }
}
