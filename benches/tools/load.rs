//! Load client for the end-to-end benchmark: posts an NDJSON file to `/v1/batch` in batches of
//! 100 events over C concurrent connections, retrying 503s, and prints events/s.
//! `cargo run --release --example load -- http://127.0.0.1:8080 events.ndjson 8`

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (base, file) = (args.get(1).ok_or("base url")?.clone(), args.get(2).ok_or("events file")?.clone());
    let connections: usize = args.get(3).and_then(|c| c.parse().ok()).unwrap_or(8);
    let text = std::fs::read_to_string(file)?;
    let lines: Vec<&str> = text.lines().collect();
    let bodies: Vec<String> = lines
        .chunks(100)
        .map(|c| {
            format!(
                "{{\"batch\":[{}]}}",
                c.iter()
                    .map(|l| l.replacen('{', "{\"type\":\"track\",", 1).replacen(",\"type\":\"track\"", "", 1))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect();
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/batch");
    let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url, queue) = (client.clone(), url.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(body) = queue.lock().ok().and_then(|mut q| q.pop()) else { return };
                loop {
                    let sent =
                        client.post(&url).header("content-type", "application/json").body(body.clone()).send().await;
                    if matches!(sent, Ok(ref r) if r.status() == 200) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{} events in {secs:.2}s = {:.0} events/s", lines.len(), lines.len() as f64 / secs);
    Ok(())
}
