#!/usr/bin/env python3
"""Where a phi-scrub process's CPU goes, by pipeline stage, from a `perf record` profile.

Reads `perf report --no-children --sort dso,symbol --stdio` (self time per symbol) and sums the
shares by stage: each symbol is put in the first stage whose pattern it matches. Code shared by
stages (allocation, copies, the runtime, hyper's connection code used by both the server and the
client, the kernel's socket work) is shown on its own lines rather than guessed apart.

Usage: stages.py PERF_DATA [CPU_SECONDS EVENTS]   (with the totals, also µs of CPU per event)
"""

import re
import subprocess
import sys

STAGES = [
    ("http_server: request bodies, Segment batches", [r"sources::http_server", r"sources::segment",
                                                       r"sources::http_body", r"hyper::proto::h1::role::.*Server",
                                                       r"httparse", r"phi_scrub::gzip"]),
    ("phi_scrub transform: scan, policy, HMAC", [r"phi_scrub_transform", r"phi_scrub_json", r"phi_scrub_core",
                                                 r"sha2", r"siphasher", r"simdutf8", r"hmac", r"transform_task"]),
    ("http sink: batching, body, gzip", [r"sinks::http", r"miniz_oxide", r"flate2", r"crc32fast", r"adler"]),
    ("HTTP client (reqwest, hyper client)", [r"reqwest", r"hyper::client", r"hyper_util::client",
                                             r"hyper::proto::h1::role::.*Client"]),
    ("hyper connection code (both sides)", [r"hyper", r"http::", r"h2::"]),
    ("tokio runtime, channels, wakeups", [r"tokio", r"futures", r"parking_lot", r"mio::"]),
    ("allocation and copies", [r"malloc", r"free", r"memmove", r"memcpy", r"memset", r"_int_", r"realloc",
                               r"unlink_chunk", r"alloc::"]),
]


def classify(dso, symbol):
    if "kernel" in dso:
        return "kernel: sockets, syscalls, scheduling"
    for stage, patterns in STAGES:
        if any(re.search(p, symbol) for p in patterns):
            return stage
    return "other"


def main():
    report = subprocess.run(["perf", "report", "-i", sys.argv[1], "--no-children", "--sort", "dso,symbol",
                             "--stdio", "-g", "none"], capture_output=True, text=True).stdout
    shares = {}
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(.*)", line)
        if m:
            share, dso, symbol = float(m.group(1)), m.group(2), m.group(3).strip()
            stage = classify(dso, symbol)
            shares[stage] = shares.get(stage, 0.0) + share
    per_event = None
    if len(sys.argv) == 4:
        per_event = float(sys.argv[2]) / int(sys.argv[3]) * 1e6
    print("| stage | share of phi-scrub's CPU |" + (" µs per event |" if per_event else ""))
    print("| --- | --- |" + (" --- |" if per_event else ""))
    for stage, share in sorted(shares.items(), key=lambda kv: -kv[1]):
        extra = f" {per_event * share / 100:.2f} |" if per_event else ""
        print(f"| {stage} | {share:.1f}% |{extra}")


if __name__ == "__main__":
    main()
