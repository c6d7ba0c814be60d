//! Line framing for the `stdin` source: whole buffers searched with `memchr`, each line split
//! off the read buffer without a copy, and lines over a maximum length skipped (and counted)
//! without ever being held whole: the buffer is emptied while the line goes on.

use bytes::{Buf, Bytes, BytesMut};

use crate::metrics::Metrics;

/// Splits a byte stream into lines (without their `\n`).
#[derive(Debug)]
pub(super) struct LineFramer {
    max_length: usize,
    /// Bytes of the buffer already searched for a newline.
    searched: usize,
    /// Inside an over-long line: everything up to the next newline is dropped.
    discarding: bool,
}

/// What counts a skipped line.
pub(super) const TOO_LONG: &str = "line too long";

impl LineFramer {
    /// Lines longer than `max_length` bytes are skipped. Without a limit a line without a
    /// newline would grow the buffer without bound: always give one.
    pub(super) fn new(max_length: usize) -> Self {
        Self { max_length, searched: 0, discarding: false }
    }

    /// The next complete line in `buf`, or at `eof` the last one without a newline.
    pub(super) fn next(&mut self, buf: &mut BytesMut, eof: bool, metrics: &mut Metrics) -> Option<Bytes> {
        loop {
            let Some(at) = memchr::memchr(b'\n', &buf[self.searched..]) else {
                return self.no_newline(buf, eof, metrics);
            };
            let end = self.searched + at;
            self.searched = 0;
            if std::mem::take(&mut self.discarding) {
                buf.advance(end + 1);
                continue;
            }
            if end > self.max_length {
                metrics.drop_one(TOO_LONG);
                buf.advance(end + 1);
                continue;
            }
            let mut line = buf.split_to(end + 1);
            line.truncate(end);
            return Some(line.freeze());
        }
    }

    fn no_newline(&mut self, buf: &mut BytesMut, eof: bool, metrics: &mut Metrics) -> Option<Bytes> {
        if !self.discarding && buf.len() > self.max_length {
            metrics.drop_one(TOO_LONG);
            self.discarding = true;
        }
        if self.discarding {
            buf.clear();
            self.searched = 0;
            return None;
        }
        if eof && !buf.is_empty() {
            self.searched = 0;
            return Some(buf.split().freeze());
        }
        self.searched = buf.len();
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[&[u8]], max: usize) -> (Vec<Vec<u8>>, u64) {
        let mut framer = LineFramer::new(max);
        let mut buf = BytesMut::new();
        let mut metrics = Metrics::default();
        let mut out = Vec::new();
        for (i, chunk) in input.iter().enumerate() {
            buf.extend_from_slice(chunk);
            let eof = i + 1 == input.len();
            while let Some(line) = framer.next(&mut buf, eof, &mut metrics) {
                out.push(line.to_vec());
            }
        }
        (out, metrics.dropped.get(TOO_LONG).copied().unwrap_or(0))
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        let (lines, skipped) = frames(&[b"{\"a\"", b":1}\n{\"b\":2}\n{\"c\"", b":3}"], 100);
        assert_eq!(lines, vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec(), b"{\"c\":3}".to_vec()]);
        assert_eq!(skipped, 0);
    }

    #[test]
    fn an_over_long_line_is_skipped_and_counted_once_and_the_next_survives() {
        let long = [b'x'; 50];
        let (lines, skipped) = frames(&[&long[..20], &long[20..], b"\nok\n", b"12345\n123456\n"], 5);
        assert_eq!(lines, vec![b"ok".to_vec(), b"12345".to_vec()]);
        assert_eq!(skipped, 2);
    }

    #[test]
    fn an_over_long_line_is_never_held_whole() {
        let mut framer = LineFramer::new(8);
        let (mut buf, mut metrics) = (BytesMut::new(), Metrics::default());
        for _ in 0..1000 {
            buf.extend_from_slice(&[b'y'; 1024]);
            assert!(framer.next(&mut buf, false, &mut metrics).is_none());
            assert!(buf.len() <= 1024, "the buffer keeps only the current read");
        }
        buf.extend_from_slice(b"\nnext\n");
        assert_eq!(framer.next(&mut buf, false, &mut metrics).as_deref(), Some(&b"next"[..]));
    }
}
