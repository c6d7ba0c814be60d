//! The request body: the batch's events as one JSON array (Mixpanel's `/import` and `/track`
//! take it), gzip-compressed when the sink compresses.

use std::io::Write;

use phi_scrub_core::event::Event;

/// The body: a JSON array of the events, gzip-compressed at `gzip`'s level if asked.
pub fn encode(events: &[Event], gzip: Option<u32>) -> bytes::Bytes {
    let mut json = Vec::with_capacity(events.iter().map(|e| e.payload.len() + 1).sum::<usize>() + 2);
    json.push(b'[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(&e.payload);
    }
    json.push(b']');
    let Some(level) = gzip else { return json.into() };
    let level = flate2::Compression::new(level);
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 4), level);
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(&json);
    encoder.finish().unwrap_or_default().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_batch_is_a_json_array_and_gzip_round_trips() {
        let events: Vec<Event> = ["{\"a\":1}", "{\"b\":2}"]
            .iter()
            .map(|p| Event::new(bytes::Bytes::from_static(p.as_bytes()), "t".into()))
            .collect();
        assert_eq!(&encode(&events, None)[..], b"[{\"a\":1},{\"b\":2}]");
        for level in [0, 1, 6, 9] {
            let gz = encode(&events, Some(level));
            let mut out = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
            assert_eq!(out, "[{\"a\":1},{\"b\":2}]", "level {level}");
        }
    }
}
