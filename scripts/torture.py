#!/usr/bin/env python3
"""Torture suite: hostile load against the release binary (issue 7).

Standard library only. Each property prints one line:

    PASS <property>: <figure>
    FAIL <property>: <what went wrong>

and the exit status is 1 if any property failed. Run by scripts/torture.sh
(which builds the binary); run one property with --only NAME, make it
heavier with --scale N.
"""

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BIN = None
SCALE = 1.0
RESULTS = []


def report(ok, name, figure):
    RESULTS.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}: {figure}", flush=True)


def pct(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def new_root(config=""):
    root = tempfile.mkdtemp(prefix="lo-torture-")
    os.makedirs(os.path.join(root, ".roo"), exist_ok=True)
    if config:
        with open(os.path.join(root, ".roo", "orchestrator.toml"), "w") as f:
            f.write(config)
    return root


class Stdio:
    """One server over stdio, spoken to with raw pipelined JSON-RPC."""

    def __init__(self, root, extra=()):
        self.p = subprocess.Popen(
            [BIN, "--root", root, *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.next_id = 1
        self.lock = threading.Lock()
        self.answers = {}
        self.sent_at = {}
        self.got_at = {}
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.request("initialize", {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "torture", "version": "1"},
        })
        self.wait_all(10)
        self.send_raw(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))

    def _read(self):
        for line in self.p.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "id" in msg:
                with self.lock:
                    self.answers[msg["id"]] = msg
                    self.got_at[msg["id"]] = time.monotonic()

    def send_raw(self, text):
        self.p.stdin.write(text.encode() + b"\n")
        self.p.stdin.flush()

    def request(self, method, params):
        with self.lock:
            i = self.next_id
            self.next_id += 1
            self.sent_at[i] = time.monotonic()
        self.send_raw(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
        return i

    def call(self, tool, args):
        return self.request("tools/call", {"name": tool, "arguments": args})

    def wait_all(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.answers) >= self.next_id - 1:
                    return True
            if self.p.poll() is not None:
                time.sleep(0.05)
                with self.lock:
                    return len(self.answers) >= self.next_id - 1
            time.sleep(0.005)
        return False

    def result(self, i):
        """(ok, structured result or error text) of request i."""
        msg = self.answers.get(i)
        if msg is None:
            return False, "no answer"
        if "error" in msg:
            return False, msg["error"].get("message", "")
        r = msg["result"]
        if r.get("isError"):
            return False, "".join(c.get("text", "") for c in r.get("content", []))
        return True, r.get("structuredContent", r)

    def latency(self, i):
        return self.got_at[i] - self.sent_at[i]

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def prop_pipelined_creates(procs=8, per=100):
    """N processes × M pipelined manage_schedules create: all succeed."""
    per = max(1, int(per * SCALE))
    root = new_root()
    servers = [Stdio(root) for _ in range(procs)]
    ids = []
    t0 = time.monotonic()
    for s in servers:
        ids.append([
            s.call("manage_schedules", {"action": "create", "schedule": {
                "name": f"p{s.p.pid}-{k}", "mode": "code", "taskInstructions": "x"}})
            for k in range(per)
        ])
    answered = all(s.wait_all(120) for s in servers)
    elapsed = time.monotonic() - t0
    ok_count, errors, lat, per_proc = 0, [], [], []
    for s, mine in zip(servers, ids):
        n = 0
        for i in mine:
            good, r = s.result(i)
            if good:
                n += 1
                lat.append(s.latency(i))
            else:
                errors.append(r)
        ok_count += n
        per_proc.append(n)
    for s in servers:
        s.close()
    with open(os.path.join(root, ".roo", "schedules.json")) as f:
        stored = len(json.load(f)["schedules"])
    total = procs * per
    good = answered and ok_count == total and stored == total
    figure = (f"{ok_count}/{total} succeeded, {stored} stored, {total / elapsed:.0f} creates/s, "
              f"latency p50 {pct(lat, 50) * 1000:.0f} ms p99 {pct(lat, 99) * 1000:.0f} ms "
              f"max {max(lat, default=0) * 1000:.0f} ms, per process {min(per_proc)}–{max(per_proc)}")
    if errors:
        figure += f"; first error: {errors[0][:200]}"
    report(good, f"{procs}x{per} pipelined schedule creates all succeed", figure)


def prop_serial_creates(procs=8, per=50):
    """N processes, each one create at a time: lock waits stay short."""
    per = max(1, int(per * SCALE))
    root = new_root()
    servers = [Stdio(root) for _ in range(procs)]
    lat, errors = [], []

    def work(s):
        for k in range(per):
            i = s.call("manage_schedules", {"action": "create", "schedule": {
                "name": f"s{s.p.pid}-{k}", "mode": "code", "taskInstructions": "x"}})
            end = time.monotonic() + 60
            while i not in s.answers and time.monotonic() < end:
                time.sleep(0.0005)
            good, r = s.result(i)
            if good:
                lat.append(s.latency(i))
            else:
                errors.append(r)

    threads = [threading.Thread(target=work, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in servers:
        s.close()
    total = procs * per
    good = not errors and len(lat) == total and pct(lat, 99) < 1.0
    figure = (f"{len(lat)}/{total} succeeded, latency p50 {pct(lat, 50) * 1000:.0f} ms "
              f"p99 {pct(lat, 99) * 1000:.0f} ms max {max(lat, default=0) * 1000:.0f} ms")
    if errors:
        figure += f"; first error: {errors[0][:200]}"
    report(good, f"{procs}x{per} one-at-a-time schedule creates, p99 under 1 s", figure)


PROPERTIES = {
    "creates": prop_pipelined_creates,
    "serial": prop_serial_creates,
}


def main():
    global BIN, SCALE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--only", action="append", choices=sorted(PROPERTIES))
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    BIN = os.path.abspath(a.bin)
    SCALE = a.scale
    for name in a.only or PROPERTIES:
        try:
            PROPERTIES[name]()
        except Exception as e:  # a harness failure is a failed property
            report(False, name, f"harness error: {e!r}")
    sys.exit(0 if all(RESULTS) else 1)


if __name__ == "__main__":
    main()
