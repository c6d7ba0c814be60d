#!/usr/bin/env python3
"""Where a phi-scrub process's CPU goes, by pipeline stage, from a `perf record --call-graph
dwarf` profile.

Each sample is given to the stage whose code is on its stack (the whole stack, so the kernel's
socket work and the allocations a stage makes count as that stage's): the first stage in
STAGES with a frame matching one of its patterns. Samples with none of them are the runtime's
(tokio scheduling, wakeups, idle polling) or, without any user frame, the kernel's alone.

Usage: stages.py PERF_DATA [CPU_SECONDS EVENTS]   (with the totals, also µs of CPU per event)
"""

import re
import subprocess
import sys

STAGES = [
    ("phi_scrub transform (worker threads)", [r"transform_task", r"FunctionTransform", r"phi_scrub_transform::"]),
    ("http sink: batching, body, gzip, answers", [r"phi_scrub::sinks::http"]),
    ("HTTP client connections (hyper client)", [r"hyper::proto::h1::role::Client", r"hyper_util::client",
                                                r"reqwest::", r"hyper::client"]),
    ("http_server: sockets, HTTP parsing, bodies, Segment batches",
     [r"phi_scrub::sources::http_server", r"phi_scrub::sources::segment", r"hyper::server",
      r"hyper_util::server", r"hyper::proto::h1::role::Server"]),
    ("tokio runtime: scheduling, wakeups, timers", [r"tokio::"]),
]


def stage_of(frames):
    for stage, patterns in STAGES:
        if any(re.search(p, f) for f in frames for p in patterns):
            return stage
    if all("kernel" in f for f in frames):
        return "kernel, no user frame"
    return "other"


def samples(perf_data):
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "ip,sym,dso"], capture_output=True,
                         text=True).stdout
    for block in out.split("\n\n"):
        frames = [line.strip() for line in block.splitlines() if line.strip()]
        if frames:
            yield frames


def main():
    counts = {}
    for frames in samples(sys.argv[1]):
        stage = stage_of(frames)
        counts[stage] = counts.get(stage, 0) + 1
    total = sum(counts.values()) or 1
    per_event = float(sys.argv[2]) / int(sys.argv[3]) * 1e6 if len(sys.argv) == 4 else None
    print("| stage | share of phi-scrub's CPU |" + (" µs per event |" if per_event else ""))
    print("| --- | --- |" + (" --- |" if per_event else ""))
    for stage, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        share = 100 * n / total
        extra = f" {per_event * share / 100:.2f} |" if per_event else ""
        print(f"| {stage} | {share:.1f}% |{extra}")
    print(f"({total} samples)")


if __name__ == "__main__":
    main()
