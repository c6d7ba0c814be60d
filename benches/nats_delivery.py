#!/usr/bin/env python3
"""Throughput of the NATS delivery tier with 1 and 2 instances, beside its floor, in one run.

The events are generated Segment events scrubbed once into Mixpanel events (stdin -> phi_scrub ->
console). Each round fills a fresh JetStream stream with them (stdin -> nats sink), then starts
the delivery tier (nats source -> http sink, mixpanel_import with gzip -> mixpanel-emulator) with
1 or 2 instances on one durable consumer, and times until the emulator has every event. The floor
is the same scrubbed events from stdin straight to the http sink and the emulator, no stream. CPU is read from /proc per process: the phi-scrub
delivery instances, nats-server and the emulator apart.

Usage: benches/nats_delivery.py [EVENTS] [ROUNDS]   (default 100000 events, 2 rounds; best shown)
Needs nats-server (apt-get install nats-server). Numbers go in BENCHMARKS.md.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
PHI = os.path.join(REL, "phi-scrub")
EMULATOR = os.path.join(REL, "mixpanel-emulator")
TICK = os.sysconf("SC_CLK_TCK")
KEY = "bench-key-0123456789abcdef0123456789"

SCRUB = """
[transforms.phi]
type = "phi_scrub"
inputs = ["in"]
key = "%s"
allow = ["properties.specialty", "properties.plan", "properties.results_count", "properties.filters"]
hash = ["userId", { path = "properties.email", trim = true, lowercase = true }]
drop = ["properties.firstname", "properties.lastname"]
[transforms.phi.mixpanel]
token = "bench-token"
""" % KEY

MIXPANEL = """
[sinks.mixpanel]
type = "http"
inputs = ["%(input)s"]
preset = "mixpanel_import"
uri = "http://%(address)s"
project_id = "12345"
auth.strategy = "basic"
auth.user = "svc-user"
auth.password = "svc-secret"
dead_letter.path = "%(dead)s"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, within=30):
    deadline = time.time() + within
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def write(work, name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Emulator:
    def __init__(self):
        self.proc = subprocess.Popen([EMULATOR], stdout=subprocess.PIPE, text=True)
        self.address = self.proc.stdout.readline().strip().removeprefix("listening on ")

    def accepted(self):
        with urllib.request.urlopen(f"http://{self.address}/_emulator/stats") as r:
            return json.load(r)["accepted_unique"]

    def stop(self):
        cpu = cpu_seconds(self.proc.pid)
        self.proc.kill()
        self.proc.wait()
        return cpu


def wait_accepted(emulator, n, within=600):
    deadline = time.time() + within
    while emulator.accepted() < n:
        if time.time() > deadline:
            raise SystemExit(f"only {emulator.accepted()} of {n} delivered")
        time.sleep(0.02)


def fill_stream(work, events, nats_url, stream):
    config = write(work, f"ingest-{stream}.toml", f"""[sources.in]
type = "stdin"
[sinks.stream]
type = "nats"
inputs = ["in"]
url = "{nats_url}"
subject = "{stream.lower()}"
jetstream.enabled = true
jetstream.stream = "{stream}"
""")
    with open(events, "rb") as stdin:
        subprocess.run([PHI, "run", "--config", config], stdin=stdin, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)


def delivery(work, nats_url, stream, instances, n, nats_pid):
    emulator = Emulator()
    procs = []
    nats_before = cpu_seconds(nats_pid)
    started = time.time()
    for i in range(instances):
        metrics = free_port()
        config = write(work, f"delivery-{stream}-{i}.toml", f"""[metrics]
address = "127.0.0.1:{metrics}"
[sources.stream]
type = "nats"
url = "{nats_url}"
subject = "{stream.lower()}"
jetstream.stream = "{stream}"
jetstream.consumer = "delivery"
dead_letter.path = "{work}/dead-source-{stream}-{i}.ndjson"
""" + MIXPANEL % {"input": "stream", "address": emulator.address, "dead": f"{work}/dead-{stream}-{i}.ndjson"})
        procs.append(subprocess.Popen([PHI, "run", "--config", config], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    wait_accepted(emulator, n)
    secs = time.time() - started
    phi_cpu = sum(cpu_seconds(p.pid) for p in procs)
    nats_cpu = cpu_seconds(nats_pid) - nats_before
    for p in procs:
        p.kill()
        p.wait()
    return secs, phi_cpu, nats_cpu, emulator.stop()


def floor(work, events, n):
    """The same events from stdin straight to the http sink: no stream."""
    emulator = Emulator()
    config = write(work, "floor.toml", "[sources.in]\ntype = \"stdin\"\n"
                   + MIXPANEL % {"input": "in", "address": emulator.address, "dead": f"{work}/dead-floor.ndjson"})
    started = time.time()
    with open(events, "rb") as stdin:
        proc = subprocess.Popen([PHI, "run", "--config", config], stdin=stdin, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_accepted(emulator, n)
        secs = time.time() - started
        phi_cpu = cpu_seconds(proc.pid)
        proc.wait()
    return secs, phi_cpu, 0.0, emulator.stop()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    nats_server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    subprocess.run(["cargo", "build", "--release", "-q", "--bins", "--examples"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp()
    try:
        segment = os.path.join(work, "segment.ndjson")
        with open(segment, "wb") as out:
            subprocess.run([os.path.join(REL, "examples", "gen_events"), str(n)], stdout=out, check=True)
        events = os.path.join(work, "events.ndjson")
        scrub = write(work, "scrub.toml", "[sources.in]\ntype = \"stdin\"\n" + SCRUB
                      + "[sinks.out]\ntype = \"console\"\ninputs = [\"phi\"]\n")
        with open(segment, "rb") as stdin, open(events, "wb") as out:
            subprocess.run([PHI, "run", "--config", scrub], stdin=stdin, stdout=out, stderr=subprocess.DEVNULL,
                           check=True)
        with open(events, "rb") as f:
            n = sum(1 for _ in f)
        port = free_port()
        nats = subprocess.Popen([nats_server, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd",
                                 os.path.join(work, "store")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        url = f"nats://127.0.0.1:{port}"
        best = {}
        for r in range(rounds):
            runs = {"stdin -> http (floor)": lambda: floor(work, events, n)}
            for instances in (1, 2):
                stream = f"BENCH_{r}_{instances}"
                fill_stream(work, events, url, stream)
                runs[f"nats -> http, {instances} instance{'s' if instances > 1 else ''}"] = (
                    lambda s=stream, i=instances: delivery(work, url, s, i, n, nats.pid))
            for name, run in runs.items():
                result = run()
                if name not in best or result[0] < best[name][0]:
                    best[name] = result
        nats.kill()
        cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                             capture_output=True, text=True).stdout.strip()
        print(f"{n} events (scrubbed Mixpanel events, gzip to the emulator), {os.cpu_count()} cores, {cpu}, "
              f"best of {rounds}")
        print("| pipeline | events/s | phi-scrub CPU-s | events per phi-scrub CPU-s | nats-server CPU-s "
              "| emulator CPU-s | ratio |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        floor_rate = n / best["stdin -> http (floor)"][0]
        one = n / best["nats -> http, 1 instance"][0]
        for name, (secs, phi_cpu, nats_cpu, emu_cpu) in best.items():
            rate = n / secs
            ratio = "floor" if "floor" in name else f"{rate / floor_rate:.0%} of the floor"
            if "2 instances" in name:
                ratio += f", {rate / one:.2f}x 1 instance"
            print(f"| {name} | {rate:,.0f} | {phi_cpu:.2f} | {n / max(phi_cpu, 0.01):,.0f} | {nats_cpu:.2f} "
                  f"| {emu_cpu:.2f} | {ratio} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
