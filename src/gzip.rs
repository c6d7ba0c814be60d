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
}

/// Decompresses `raw`, reading at most `limit + 1` bytes of output.
pub fn gunzip_bounded(raw: &[u8], limit: usize) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(raw).take(limit as u64 + 1);
    decoder.read_to_end(&mut out).map_err(|_| GunzipError::Invalid)?;
    if out.len() > limit {
        return Err(GunzipError::TooLarge(limit));
    }
    Ok(out)
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
    fn garbage_is_invalid() {
        assert_eq!(gunzip_bounded(b"not gzip", 100), Err(GunzipError::Invalid));
    }
}
