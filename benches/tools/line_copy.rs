//! The floor for a line pipeline: stdin to stdout, framing every line with `memchr` and
//! writing whole buffers, doing nothing else. `benches/pipelines.sh` runs it beside phi-scrub.

use std::io::{Read, Write};

fn main() -> std::io::Result<()> {
    let (mut input, mut output) = (std::io::stdin().lock(), std::io::stdout().lock());
    let mut buf = vec![0u8; 256 * 1024];
    let (mut carry, mut out) = (Vec::new(), Vec::with_capacity(buf.len() * 2));
    let mut lines = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        carry.extend_from_slice(&buf[..n]);
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &carry) {
            out.extend_from_slice(&carry[start..=end]);
            start = end + 1;
            lines += 1;
        }
        carry.drain(..start);
        output.write_all(&out)?;
        out.clear();
    }
    output.write_all(&carry)?;
    eprintln!("{lines} lines");
    Ok(())
}
