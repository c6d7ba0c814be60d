#!/usr/bin/env bash
# Whole processes beside their floors, in one run: a memchr line copy, phi-scrub with no
# transform, the Mixpanel job with 1 and 2 workers, the same job as a single-threaded
# serde_json::Value program (with the system allocator, and with phi-scrub's), and the HTTP path (http_server /v1/batch, 100 events a request over
# 8 keep-alive connections -> phi_scrub -> http sink, mixpanel_import, gzip -> the emulator).
# Prints one table: events/s, CPU-seconds, events per CPU-second and the ratios; for the HTTP
# path the phi-scrub process's CPU is counted apart from the load client's and the emulator's,
# and, with perf installed, split by stage (benches/support/stages.py). Usage: benches/pipelines.sh [EVENTS] [ROUNDS]   (default 200000 events, 3 rounds;
# the best round of each is shown). Numbers go in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${2:-3}
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release --bins --examples -q
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/examples/gen_events "$N" > "$work/events.ndjson"
export PHI_HMAC_KEY=bench-key-0123456789abcdef0123456789
sed 's/^type = "phi_scrub"$/type = "phi_scrub"\nconcurrency = 1/' benches/e2e/scrub.toml > "$work/scrub1.toml"
sed 's/^type = "phi_scrub"$/type = "phi_scrub"\nconcurrency = 2/' benches/e2e/scrub.toml > "$work/scrub2.toml"
cat "$work/events.ndjson" > /dev/null

# measure NAME COMMAND...: the best of ROUNDS runs, as "NAME seconds cpu-seconds".
measure() {
  local name=$1 best="" cpu=""
  shift
  for _ in $(seq "$ROUNDS"); do
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" < "$work/events.ndjson" > /dev/null 2> /dev/null
    read -r secs user sys < "$work/time"
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $secs < $best else 1)"; then
      best=$secs cpu=$(python3 -c "print(round($user + $sys, 2))")
    fi
  done
  echo "$name $best $cpu" >> "$work/results"
}
measure line_copy target/release/examples/line_copy
measure passthrough target/release/phi-scrub run --config benches/e2e/passthrough.toml
measure mixpanel_1_worker target/release/phi-scrub run --config "$work/scrub1.toml"
measure mixpanel_2_workers target/release/phi-scrub run --config "$work/scrub2.toml"
measure serde_value target/release/examples/serde_reference
measure serde_value_mimalloc target/release/examples/serde_reference_mimalloc

# The HTTP path, best of ROUNDS; CPU ticks of each process read from /proc.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
http_round() {  # [perf]: also profile the phi-scrub process
  target/release/mixpanel-emulator > "$work/emulator.out" &
  local emulator=$!
  until grep -q listening "$work/emulator.out" 2>/dev/null; do sleep 0.05; done
  export EMULATOR=$(sed -n 's/listening on //p' "$work/emulator.out")
  export PHI_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  target/release/phi-scrub run --config benches/e2e/http.toml 2> /dev/null &
  local phi=$!
  until curl -s -o /dev/null "http://127.0.0.1:$PHI_PORT/"; do sleep 0.05; done
  local perf_pid=""
  if [ "${1:-}" = perf ]; then
    perf record -q -F 499 --call-graph dwarf,16384 -p "$phi" -o "$work/perf.data" 2> /dev/null &
    perf_pid=$!
  fi
  local started=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/load.time" target/release/examples/load "http://127.0.0.1:$PHI_PORT" "$work/events.ndjson" 8 > /dev/null
  until [ "$(curl -s "http://$EMULATOR/_emulator/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accepted_unique"])')" -ge "$N" ]; do sleep 0.02; done
  local secs=$(python3 -c "import time; print(round(time.time() - $started, 3))")
  local phi_cpu=$(ticks $phi) emu_cpu=$(ticks $emulator)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  kill -TERM $phi; wait $phi || true
  kill $emulator; wait $emulator 2>/dev/null || true
  read -r user sys < "$work/load.time"
  echo "http_path $secs $phi_cpu $(python3 -c "print($user + $sys)") $emu_cpu" >> "$work/http"
}
for _ in $(seq "$ROUNDS"); do http_round; done

echo "$N events, $(du -m "$work/events.ndjson" | cut -f1) MB, $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), best of $ROUNDS"
python3 - "$work/results" "$N" "$work/http" "$(getconf CLK_TCK)" <<'PY'
import sys
rows = {name: (float(s), float(c)) for name, s, c in (line.split() for line in open(sys.argv[1]))}
n = int(sys.argv[2])
tick = int(sys.argv[4])
http = min((tuple(map(float, line.split()[1:])) for line in open(sys.argv[3])), key=lambda r: r[0])
rows["http_path"] = (http[0], http[1] / tick)
rate = lambda k: n / max(rows[k][0], 0.01)
per_cpu = lambda k: n / max(rows[k][1], 0.01)
print(f"| pipeline | events/s | CPU-s | events per CPU-s | ratio |")
print(f"| --- | --- | --- | --- | --- |")
ratios = {
    "line_copy": "floor",
    "passthrough": f"{rate('passthrough') / rate('line_copy'):.0%} of the line copy",
    "mixpanel_1_worker": f"{rate('mixpanel_1_worker') / rate('serde_value'):.1f}x serde_json",
    "mixpanel_2_workers": f"{rate('mixpanel_2_workers') / rate('serde_value'):.1f}x serde_json, "
                          f"{rate('mixpanel_2_workers') / rate('mixpanel_1_worker'):.2f}x 1 worker",
    "serde_value": "reference (the system allocator)",
    "serde_value_mimalloc": f"the reference with phi-scrub's allocator: 2 workers "
                            f"{rate('mixpanel_2_workers') / rate('serde_value_mimalloc'):.1f}x it",
    "http_path": f"phi-scrub CPU per event {per_cpu('mixpanel_2_workers') / per_cpu('http_path'):.2f}x the stdin path's "
                 f"(2 workers)",
}
for name in ["line_copy", "passthrough", "mixpanel_1_worker", "mixpanel_2_workers", "serde_value",
             "serde_value_mimalloc", "http_path"]:
    secs, cpu = rows[name]
    print(f"| {name} | {rate(name):,.0f} | {cpu:.2f} | {per_cpu(name):,.0f} | {ratios[name]} |")
print()
print(f"HTTP path, counted apart: the load client {http[2]:.2f} CPU-s, the emulator {http[3] / tick:.2f} CPU-s "
      f"(phi-scrub {http[1] / tick:.2f}).")
PY
if command -v perf > /dev/null && perf record -q -o /dev/null true 2> /dev/null; then
  http_round perf
  echo
  echo "Where the HTTP path's phi-scrub CPU goes (perf, samples by the stage on their stack; one profiled round):"
  last=$(tail -1 "$work/http")
  python3 benches/support/stages.py "$work/perf.data" "$(echo "$last" | awk -v t="$(getconf CLK_TCK)" '{print $3 / t}')" "$N"
fi
