#!/usr/bin/env bash
# End-to-end throughput and peak RSS of the phi-scrub binary, three pipelines, one machine.
# Usage: benches/e2e.sh [EVENTS]   (default 500000). Numbers go in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500000}
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release --bins --examples -q
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/examples/gen_events "$N" > "$work/events.ndjson"
export PHI_HMAC_KEY=bench-key-0123456789abcdef0123456789
echo "$N events, $(du -m "$work/events.ndjson" | cut -f1) MB, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

stdin_run() {
  /usr/bin/time -f "%e %M" -o "$work/time" target/release/phi-scrub run --config "$2" < "$work/events.ndjson" > /dev/null 2> "$work/err"
  read -r secs kib < "$work/time"
  echo "$1: ${secs}s, $(python3 -c "print(round($N/$secs))") events/s, peak RSS $((kib / 1024)) MiB"
}
stdin_run "stdin -> console (pass-through)" benches/e2e/passthrough.toml
stdin_run "stdin -> phi_scrub -> console   " benches/e2e/scrub.toml

target/release/mixpanel-emulator > "$work/emulator.out" &
sleep 0.5
export EMULATOR=$(sed -n 's/listening on //p' "$work/emulator.out")
export PHI_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/phi-scrub run --config benches/e2e/http.toml 2> "$work/http.err" &
phi=$!
until curl -s -o /dev/null "http://127.0.0.1:$PHI_PORT/"; do sleep 0.1; done
echo -n "http_server -> phi_scrub -> http -> emulator: "
target/release/examples/load "http://127.0.0.1:$PHI_PORT" "$work/events.ndjson" 8
rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$phi/status")
kill -TERM $phi; wait $phi || true
echo "  phi-scrub peak RSS: $rss MiB"
echo "  emulator: $(curl -s "http://$EMULATOR/_emulator/stats")"
cat "$work/http.err"
