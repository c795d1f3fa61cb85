#!/usr/bin/env python3
"""Cold start: spawn the binary over stdio, send initialize, initialized and
tools/list at once, and time until the tools/list answer arrives. Prints the
median and range of N runs (default 20). Usage:
scripts/bench-cold-start.py [BINARY] [N]"""
import json, statistics, subprocess, sys, time, tempfile

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/loop-orchestrator"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
msgs = [
    {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "cold", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
]
payload = "".join(json.dumps(m) + "\n" for m in msgs).encode()
times = []
with tempfile.TemporaryDirectory() as root:
    for _ in range(n):
        t0 = time.perf_counter()
        p = subprocess.Popen([binary, "--root", root, "--mode", "stdio"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        p.stdin.write(payload)
        p.stdin.flush()
        for line in p.stdout:
            if json.loads(line).get("id") == 1:
                break
        times.append((time.perf_counter() - t0) * 1000)
        p.stdin.close()
        p.wait()
print(f"cold start to the first tools/list answer over {n} runs: "
      f"median {statistics.median(times):.1f} ms (min {min(times):.1f}, max {max(times):.1f})")
