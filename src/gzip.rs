//! Bounded gzip decompression for request bodies: a small body that expands enormously (a
//! "gzip bomb") is refused as soon as it passes the limit, never inflated whole.

use std::io::Read;

use thiserror::Error;

/// Why a gzip body was refused.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GunzipError {
    /// Not a valid gzip stream.
    #[error("invalid gzip body")]
    Invalid,
    /// Decompresses to more than the limit.
    #[error("body larger than {0} bytes after decompression")]
    TooLarge(usize),
    /// The caller's memory budget refused more output.
    #[error("no room for the decompressed body right now")]
    NoRoom,
}

/// Decompresses `raw`, reading at most `limit + 1` bytes of output.
pub fn gunzip_bounded(raw: &[u8], limit: usize) -> Result<Vec<u8>, GunzipError> {
    gunzip_within(raw, limit, |_| true)
}

/// Output is read this much at a time, each piece reserved before it is kept.
const CHUNK: usize = 64 * 1024;

/// Decompresses `raw` piece by piece, asking `reserve` for room before keeping each piece of
/// output (`false` stops with [`GunzipError::NoRoom`]), and stopping past `limit`.
pub fn gunzip_within(raw: &[u8], limit: usize, mut reserve: impl FnMut(usize) -> bool) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(raw).take(limit as u64 + 1);
    let mut piece = vec![0u8; CHUNK];
    loop {
        let n = decoder.read(&mut piece).map_err(|_| GunzipError::Invalid)?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > limit {
            return Err(GunzipError::TooLarge(limit));
        }
        if !reserve(n) {
            return Err(GunzipError::NoRoom);
        }
        out.extend_from_slice(&piece[..n]);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn round_trips_within_the_limit() {
        assert_eq!(gunzip_bounded(&gzip(b"hello"), 5).unwrap(), b"hello");
    }

    #[test]
    fn stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 64 * 1024);
        assert_eq!(gunzip_bounded(&bomb, 1 << 20), Err(GunzipError::TooLarge(1 << 20)));
    }

    #[test]
    fn every_piece_of_output_is_reserved_before_it_is_kept() {
        let data = vec![7u8; 300 * 1024];
        let mut reserved = 0;
        let out = gunzip_within(&gzip(&data), 1 << 20, |n| {
            reserved += n;
            true
        });
        assert_eq!(out.unwrap(), data);
        assert_eq!(reserved, data.len());
        let mut room = 100 * 1024;
        let refused = gunzip_within(&gzip(&data), 1 << 20, |n| {
            let fits = n <= room;
            room = room.saturating_sub(n);
            fits
        });
        assert_eq!(refused, Err(GunzipError::NoRoom));
    }

    #[test]
    fn garbage_is_invalid() {
        assert_eq!(gunzip_bounded(b"not gzip", 100), Err(GunzipError::Invalid));
    }
}
