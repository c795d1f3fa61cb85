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
import re
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
        self.null_answers = 0
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
                    if msg["id"] is None:
                        self.null_answers += 1
                        continue
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


def tsv_problems(text):
    """Torn or malformed rows of task_timing.tsv (header + 9 columns)."""
    problems = []
    if text and not text.endswith("\n"):
        problems.append("unterminated last row")
    for n, line in enumerate(text.splitlines(), 1):
        if line.count("\t") != 8:
            problems.append(f"line {n} has {line.count(chr(9)) + 1} columns")
    return problems


def read_text(root, rel):
    try:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def prop_kill_trials(trials=200):
    """SIGKILL a server at a random point of pipelined writes to every file."""
    trials = max(1, int(trials * SCALE))
    root = new_root("[memory]\nline_limit = 400\n")
    rng = random.Random(7)
    acked = {"tsv": [], "sched": [], "mem": [], "deleg": []}
    bad, repaired = [], 0
    for t in range(trials):
        s = Stdio(root)
        calls = []
        for i in range(rng.randint(5, 40)):
            tag = f"k{t}x{i}"
            kind = rng.choice(["tsv", "tsv", "sched", "mem", "deleg"])
            if kind == "tsv":
                args = ("track_task_time", {"action": "record", "task": tag + " " + "r" * rng.randint(1, 3000),
                                            "mode": "code", "start_time": "2026-01-01T00:00:00Z",
                                            "end_time": "2026-01-01T00:01:00Z"})
            elif kind == "sched":
                args = ("manage_schedules", {"action": "create", "schedule": {
                    "name": tag, "mode": "code", "taskInstructions": "x"}})
            elif kind == "mem":
                args = ("update_persistent_memory", {"section": "updates", "mode": "code",
                                                     "category": "t", "finding": tag,
                                                     "on_overflow": "archive"})
            else:
                args = ("delegate_task", {"action": "create", "task": tag, "mode": "code"})
            calls.append((kind, tag, s.call(*args)))
        time.sleep(rng.uniform(0.0, 0.06))
        s.p.send_signal(signal.SIGKILL)
        s.p.wait()
        s.reader.join(2)
        for kind, tag, i in calls:
            if s.result(i)[0]:
                acked[kind].append(tag)
        info = subprocess.run([BIN, "--root", root, "--info"], capture_output=True, text=True, timeout=30)
        if "repaired" in info.stdout:
            repaired += 1
        tsv = read_text(root, "task_timing.tsv")
        problems = tsv_problems(tsv)
        try:
            sched = json.loads(read_text(root, ".roo/schedules.json") or '{"schedules": []}')
        except ValueError as e:
            problems.append(f"schedules.json does not parse: {e}")
            sched = {"schedules": []}
        for n, line in enumerate(read_text(root, ".roo/delegations.jsonl").splitlines(), 1):
            try:
                json.loads(line)
            except ValueError:
                problems.append(f"delegations.jsonl line {n} does not parse")
        if problems:
            bad.append(f"trial {t}: {problems[:3]}")
            break
    tsv = read_text(root, "task_timing.tsv")
    names = {x.get("name") for x in sched["schedules"]}
    memory = read_text(root, "persistent-memory.md") + read_text(root, "persistent-memory.archive.md")
    deleg = read_text(root, ".roo/delegations.jsonl")
    lost = [x for x in acked["tsv"] if f"\t{x} " not in tsv]
    lost += [x for x in acked["sched"] if x not in names]
    lost += [x for x in acked["mem"] if x not in memory]
    lost += [x for x in acked["deleg"] if f'"task":"{x}"' not in deleg]
    n_acked = sum(len(v) for v in acked.values())
    figure = (f"{trials} kills, {n_acked} acknowledged writes all present, every file parses, "
              f"no torn row; {repaired} starts removed an interrupted append")
    if bad or lost:
        figure = f"{bad[:1]} lost {len(lost)} acknowledged: {lost[:3]}"
    report(not bad and not lost, f"SIGKILL into pipelined writes ({trials} trials)", figure)


def prop_appends(procs=8, per=5000):
    """N processes × M pipelined appends: exact row count."""
    per = max(1, int(per * SCALE))
    root = new_root()
    servers = [Stdio(root) for _ in range(procs)]
    t0 = time.monotonic()
    for s in servers:
        for k in range(per):
            s.call("track_task_time", {"action": "record", "task": f"a{s.p.pid}-{k}", "mode": "code",
                                       "start_time": "2026-01-01T00:00:00Z",
                                       "end_time": "2026-01-01T00:00:01Z"})
    answered = all(s.wait_all(300) for s in servers)
    elapsed = time.monotonic() - t0
    errors = [r for s in servers for i in range(2, s.next_id) for ok, r in [s.result(i)] if not ok]
    for s in servers:
        s.close()
    tsv = read_text(root, "task_timing.tsv")
    rows = len(tsv.splitlines()) - 1
    problems = tsv_problems(tsv)
    total = procs * per
    good = answered and not errors and rows == total and not problems
    figure = f"{rows}/{total} rows, {total / elapsed:.0f} appends/s, {len(errors)} errors"
    if problems or errors:
        figure += f"; {(problems + errors)[:2]}"
    report(good, f"{procs}x{per} pipelined appends, exact row count", figure)


def fuzz_frames(rng, n):
    tools = ["get_schedule_status", "manage_schedules", "track_task_time", "get_time_tracking",
             "get_persistent_memory", "update_persistent_memory", "get_todo_status", "delegate_task"]
    values = [None, True, 0, -1, 1.5, 1e308, "", "x" * 300, "\u0000", [], [1, "a"], {}, {"a": {"b": []}},
              "2026-13-45T99:99:99Z", 2 ** 64, "../../etc/passwd", "code", "start", "create", "list"]
    keys = ["action", "task", "mode", "task_id", "schedule", "id", "section", "finding", "limit",
            "offset", "since", "fields", "expected_version", "priority", "end_time", "start_time",
            "delegation_id", "query", "tail", "include_rows", "group_by"]
    frames = []
    for i in range(n):
        rid = 1000 + i
        r = rng.random()
        if r < 0.35:
            args = {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(0, 4))}
            frames.append((rid, json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                                            "params": {"name": rng.choice(tools), "arguments": args}})))
        elif r < 0.5:
            params = rng.choice([1, "str", [1, 2], None, {"name": 5}, {"arguments": []}, {"name": "nope"}])
            frames.append((rid, json.dumps({"jsonrpc": "2.0", "id": rid, "method": rng.choice(
                ["tools/call", "tools/list", "ping", "resources/list", "prompts/get", "nope/x"]),
                "params": params})))
        elif r < 0.6:
            frames.append((rid, '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_todo_status","arguments":{"x":"\\ud800"}}}' % rid))
        elif r < 0.7:
            frames.append((rid, '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_todo_status","arguments":{"limit":NaN}}}' % rid))
        elif r < 0.8:
            good = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "ping"})
            cut = rng.randint(1, len(good) - 1)
            # Truncated: -32700, with the id when it can still be read, else null.
            frames.append((-rid, good[:cut]))
        elif r < 0.9:
            frames.append((None, "".join(chr(rng.randint(1, 0x2fff)) for _ in range(rng.randint(1, 200)))
                           .replace("\n", " ")))
        else:
            depth = rng.randint(1, 3000)
            frames.append((rid, '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_todo_status","arguments":{"limit":%s1%s}}}'
                           % (rid, "[" * depth, "]" * depth)))
    return frames


def prop_fuzz(n=3000):
    """Random and broken frames and arguments: no crash, every id answered."""
    n = max(10, int(n * SCALE))
    rng = random.Random(11)
    root = new_root()
    s = Stdio(root)
    frames = fuzz_frames(rng, n)
    ids = []
    maybe = []
    for rid, text in frames:
        s.send_raw(text)
        if rid is not None and rid > 0:
            ids.append(rid)
        elif rid is not None:
            maybe.append(-rid)
    ping = s.request("ping", {})
    s.wait_all(0)
    end = time.monotonic() + 60
    while time.monotonic() < end and ping not in s.answers and s.p.poll() is None:
        time.sleep(0.01)
    time.sleep(0.2)
    alive = s.p.poll() is None
    missing = [i for i in ids if i not in s.answers]
    unreadable = len(frames) - len(ids)
    # Truncated frames are answered with their id when it could be read.
    answered = s.null_answers + sum(1 for i in maybe if i in s.answers)
    s.close()
    good = alive and ping in s.answers and not missing and answered == unreadable
    figure = (f"{len(frames)} frames, {len(ids)} with an id: {len(ids) - len(missing)} answered; "
              f"{answered}/{unreadable} unreadable ones answered (id null or the id still readable); "
              f"server {'alive' if alive else 'DEAD'}")
    if missing:
        figure += f"; unanswered ids e.g. {missing[:5]}"
    report(good, "fuzzed frames and arguments all answered", figure)


def prop_full_disk():
    """A tmpfs that fills up: clear errors, no partial row, works again."""
    if os.environ.get("TORTURE_IN_NS") != "1":
        mnt = tempfile.mkdtemp(prefix="lo-tmpfs-")
        cmd = ["unshare", "-rm", "sh", "-c",
               'mount -t tmpfs -o size=600k tmpfs "$0" && TORTURE_IN_NS=1 exec "$1" "$2" --bin "$3" --only full-disk --mount "$0"',
               mnt, sys.executable, os.path.abspath(__file__), BIN]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            report(False, "full disk", f"could not run in a mount namespace: {e!r}")
            return
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith(("PASS", "FAIL"))]
        if not lines:
            report(False, "full disk", f"no mount namespace for a tmpfs (unshare -rm): {r.stderr.strip()[:200]}")
            return
        for ln in lines:
            print(ln, flush=True)
            RESULTS.append(ln.startswith("PASS"))
        return
    root = os.path.join(MOUNT, "proj")
    os.makedirs(os.path.join(root, ".roo"))
    filler = os.path.join(MOUNT, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * 300_000)
    s = Stdio(root)
    errors, ok_rows = [], 0
    for k in range(400):
        i = s.call("track_task_time", {"action": "record", "task": f"d{k} " + "z" * 900, "mode": "code",
                                       "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:01Z"})
        s.wait_all(30)
        good, r = s.result(i)
        if good:
            ok_rows += 1
        else:
            errors.append(r)
            if len(errors) >= 5:
                break
    tsv = read_text(root, "task_timing.tsv")
    problems = tsv_problems(tsv)
    rows_full = len(tsv.splitlines()) - 1
    os.remove(filler)
    i = s.call("track_task_time", {"action": "record", "task": "after", "mode": "code",
                                   "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:01Z"})
    s.wait_all(30)
    again = s.result(i)[0]
    s.close()
    tsv = read_text(root, "task_timing.tsv")
    problems += tsv_problems(tsv)
    clear = bool(errors) and all("No space left" in e or "cannot append" in e for e in errors)
    good = clear and not problems and again and rows_full == ok_rows and len(tsv.splitlines()) - 1 == ok_rows + 1
    figure = (f"{ok_rows} rows fit, then {len(errors)} refused ({errors[0][:90] if errors else 'none'}…); "
              f"no partial row; after freeing space the next append {'worked' if again else 'FAILED'}")
    if problems:
        figure += f"; problems: {problems[:2]}"
    report(good, "full disk (tmpfs)", figure)


def http_request(port, method, path, body=b"", headers=None, timeout=10):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Host": f"127.0.0.1:{port}"}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    out = (r.status, dict(r.getheaders()), data)
    c.close()
    return out


class Daemon:
    def __init__(self, root, extra=()):
        self.p = subprocess.Popen([BIN, "--root", root, "--mode", "http", "--port", "0", *extra],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        self.port = None
        end = time.monotonic() + 30
        while time.monotonic() < end:
            line = self.p.stdout.readline()
            m = re.search(r"listening on http://[^ ]*:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        threading.Thread(target=lambda: [None for _ in self.p.stdout], daemon=True).start()
        if self.port is None:
            raise RuntimeError("the daemon did not start")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def mcp_session_call(port):
    """initialize + one tool call over streamable HTTP; returns seconds taken."""
    t0 = time.monotonic()
    hdr = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    st, h, _ = http_request(port, "POST", "/mcp", init.encode(), hdr)
    if st != 200:
        raise RuntimeError(f"initialize: HTTP {st}")
    sid = {k.lower(): v for k, v in h.items()}.get("mcp-session-id")
    hdr2 = dict(hdr)
    if sid:
        hdr2["Mcp-Session-Id"] = sid
    http_request(port, "POST", "/mcp", json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode(), hdr2)
    st, _, body = http_request(port, "POST", "/mcp", json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                                                "params": {"name": "get_todo_status", "arguments": {}}}).encode(), hdr2)
    if st != 200 or b'"result"' not in body:
        raise RuntimeError(f"tools/call: HTTP {st} {body[:100]!r}")
    if sid:
        http_request(port, "DELETE", "/mcp", b"", {"Mcp-Session-Id": sid})
    return time.monotonic() - t0


def prop_slow_clients(slowloris=100, slow_bodies=256):
    """Slowloris and slow-body clients: others keep being served; they are cut off."""
    root = new_root("[http]\nheader_timeout_s = 2\nbody_timeout_s = 2\n")
    d = Daemon(root)
    socks = []
    try:
        for _ in range(slowloris):
            c = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            c.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            socks.append(("loris", c))
        for _ in range(slow_bodies):
            c = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            c.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{")
            socks.append(("body", c))
        lat, failures = [], []
        for _ in range(10):
            try:
                lat.append(mcp_session_call(d.port))
            except Exception as e:  # noqa: BLE001 - any failure is a finding
                failures.append(repr(e))
        # Keep trickling; the server must close them after its timeouts.
        t0 = time.monotonic()
        open_left = list(socks)
        closed_at = []
        while open_left and time.monotonic() - t0 < 15:
            still = []
            for kind, c in open_left:
                try:
                    c.setblocking(False)
                    try:
                        data = c.recv(4096)
                        if data == b"" or data.startswith(b"HTTP/1.1 408"):
                            closed_at.append(time.monotonic() - t0)
                            c.close()
                            continue
                    except BlockingIOError:
                        pass
                    c.send(b"X" if kind == "loris" else b" ")
                    still.append((kind, c))
                except OSError:
                    closed_at.append(time.monotonic() - t0)
                    c.close()
            open_left = still
            time.sleep(0.2)
        for _, c in open_left:
            c.close()
    finally:
        d.stop()
    good = not failures and not open_left and lat and max(lat) < 3
    figure = (f"{slowloris} slowloris + {slow_bodies} slow bodies: {len(lat)}/10 other sessions served "
              f"(max {max(lat, default=0) * 1000:.0f} ms); all slow connections closed "
              f"{max(closed_at, default=0):.1f} s into trickling" if not open_left else
              f"{len(open_left)} slow connections still open after 15 s")
    if failures:
        figure += f"; failures: {failures[:2]}"
    report(good, "slow clients cannot starve the daemon", figure)


def prop_soak(seconds=60):
    """A short mixed soak against the daemon with RSS sampled (scripts/soak.py)."""
    seconds = max(10, int(seconds * SCALE))
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run([sys.executable, os.path.join(here, "soak.py"), "--bin", BIN, "--seconds",
                        str(seconds), "--json"], capture_output=True, text=True, timeout=seconds + 120)
    try:
        summary = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        report(False, f"{seconds} s soak", f"no summary: {r.stdout[-300:]} {r.stderr[-300:]}")
        return
    figure = ", ".join(f"{k} {v}" for k, v in summary.items() if not isinstance(v, (list, dict)))
    report(r.returncode == 0, f"{seconds} s soak, RSS flat after warm-up", figure)


PROPERTIES = {
    "kill": prop_kill_trials,
    "appends": prop_appends,
    "creates": prop_pipelined_creates,
    "serial": lambda: prop_serial_creates(per=25),
    "fuzz": prop_fuzz,
    "full-disk": prop_full_disk,
    "slow-clients": prop_slow_clients,
    "soak": prop_soak,
}

MOUNT = None


def main():
    global BIN, SCALE, MOUNT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--only", action="append", choices=sorted(PROPERTIES))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--mount", help=argparse.SUPPRESS)
    a = ap.parse_args()
    MOUNT = a.mount
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
