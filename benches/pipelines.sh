#!/usr/bin/env bash
# Whole processes beside their floors, in one run: a memchr line copy, phi-scrub with no
# transform, the Mixpanel job with 1 and 2 workers, and the same job as a single-threaded
# serde_json::Value program. Prints one table: events/s, CPU-seconds, events per CPU-second and
# the ratios. Usage: benches/pipelines.sh [EVENTS] [ROUNDS]   (default 200000 events, 3 rounds;
# the best round of each is shown). Numbers go in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${2:-3}
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release --bins --examples -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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

echo "$N events, $(du -m "$work/events.ndjson" | cut -f1) MB, $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), best of $ROUNDS"
python3 - "$work/results" "$N" <<'PY'
import sys
rows = {name: (float(s), float(c)) for name, s, c in (line.split() for line in open(sys.argv[1]))}
n = int(sys.argv[2])
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
    "serde_value": "reference",
}
for name in ["line_copy", "passthrough", "mixpanel_1_worker", "mixpanel_2_workers", "serde_value"]:
    secs, cpu = rows[name]
    print(f"| {name} | {rate(name):,.0f} | {cpu:.2f} | {per_cpu(name):,.0f} | {ratios[name]} |")
PY
