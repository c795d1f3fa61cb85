#!/usr/bin/env python3
r"""soak.py: run the HTTP daemon under a steady mixed load and watch its memory.

  python3 scripts/soak.py --bin target/release/loop-orchestrator --seconds 600
  python3 scripts/soak.py --bin /tmp/lo --seconds 60 --sample 5 --json

Standard library only (Python 3.11+). Starts `BIN --root TMP --mode http
--port 0` on a fresh temporary project (its `.roo/orchestrator.toml` sets
`[http] max_sessions`, default 32 here, so that abandoned sessions hit the
cap and are evicted early in the run; the 5-minute session idle expiry has no
configuration key), reads the port from "listening on http://HOST:PORT", and
for --seconds runs, from a few threads, at a steady ~100 tool calls/s:

  * streamable HTTP sessions (/mcp): initialize, notifications/initialized,
    get_schedule_status, track_task_time start + stop (unique task ids),
    update_persistent_memory (on_overflow "archive"), manage_schedules create
    + delete, get_time_tracking, then DELETE; every --abandon-every'th session
    is dropped without DELETE (left to eviction / idle expiry);
  * legacy SSE clients: GET /sse, read the endpoint event, POST initialize,
    notifications/initialized and a tools/call to /message, read the answers
    from the stream, close;
  * slow clients that the server must cut off: slowloris connections sending
    their headers a byte a second (cut within [http] header_timeout_s, 10 s)
    and POSTs sending their body a byte a second (408 within body_timeout_s,
    30 s);
  * GET /healthz polls.

Every --sample seconds it prints one line: the daemon's VmRSS / RssAnon /
VmHWM (from /proc/PID/status), open fds (/proc/PID/fd), threads, the
sessions /healthz reports, tool calls done (and per second), errors, and the
p50/p99 latency of the tool calls of that interval (client side, the whole
HTTP round trip).

Verdict (exit 0 only when all hold, else 1; 2 when the daemon did not start):
  * RSS flat after warm-up: RSS at the end of the load <= RSS at the first
    sample at or after 20% of the run (the warm-up) * 1.15 + 2 MB;
  * fds back near baseline: within 10 s after the load stops, the daemon's
    open fds <= the count before the load + 4;
  * no unexpected errors: every MCP request answered 2xx with no JSON-RPC
    error and no isError result, every /healthz 200, every slow client cut
    off in time. Cut-offs of the slow clients are expected and counted apart.

The summary gives RSS at ~1, ~5 and ~10 min (runs of >= 600 s) or else at
10%, 50% and 100% of the run, the warm-up and end RSS and the limit, max and
end fds, overall p50/p99, errors and the verdict; --json prints it as one
JSON object on stdout (sample lines then go to stderr). The daemon inherits
this environment (e.g. MALLOC_ARENA_MAX=2) and is stopped at the end with
SIGTERM, then SIGKILL after 5 s. Every socket has a timeout; a watchdog ends
the run if it overstays --seconds by more than 90 s.
"""

import argparse
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

PROTOCOL = "2025-06-18"
SOCK_TIMEOUT = 15.0
FD_SLACK = 4
RSS_FACTOR = 1.15
RSS_SLACK_MB = 2.0
WARMUP_FRACTION = 0.2
DAEMONS = []  # for the watchdog


# --------------------------------------------------------------------------
# shared state


class Stats:
    """Counters shared by the load threads; one lock for all."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = 0  # tool calls answered without error
        self.interval_ms = []  # tool-call latencies since the last sample
        self.all_ms = []
        self.errors = 0
        self.error_kinds = {}
        self.first_errors = []
        self.counts = {
            "sessions_deleted": 0,
            "sessions_abandoned": 0,
            "sse_sessions": 0,
            "slowloris_cut": 0,
            "slow_body_cut": 0,
            "healthz": 0,
        }
        self.health = {}

    def call_done(self, ms):
        with self.lock:
            self.calls += 1
            self.interval_ms.append(ms)
            self.all_ms.append(ms)

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def error(self, kind, msg):
        with self.lock:
            self.errors += 1
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
            if len(self.first_errors) < 10:
                self.first_errors.append(f"{kind}: {msg}"[:400])

    def take_interval(self):
        with self.lock:
            ms, self.interval_ms = self.interval_ms, []
            return ms, self.calls, self.errors


def percentile(values, q):
    """Nearest-rank percentile (ms, rounded), None when empty."""
    if not values:
        return None
    s = sorted(values)
    rank = max(1, -(-len(s) * q // 100))
    return round(s[int(rank) - 1], 2)


class McpError(Exception):
    def __init__(self, kind, msg):
        super().__init__(msg)
        self.kind = kind


# --------------------------------------------------------------------------
# streamable HTTP


def read_sse_message(resp, want_id, deadline):
    """Reads SSE events from `resp` until a JSON-RPC answer with `want_id`."""
    data = []
    while True:
        if time.monotonic() > deadline:
            raise McpError("timeout", f"no answer to id {want_id} in time")
        line = resp.readline()
        if not line:
            raise McpError("protocol", f"event stream ended without an answer to id {want_id}")
        line = line.rstrip(b"\r\n")
        if line == b"":
            if data:
                text = "\n".join(data)
                data = []
                if text.strip():
                    msg = json.loads(text)
                    if isinstance(msg, dict) and msg.get("id") == want_id and (
                        "result" in msg or "error" in msg
                    ):
                        return msg
            continue
        if line.startswith(b":"):
            continue
        if line.startswith(b"data:"):
            v = line[5:]
            data.append((v[1:] if v.startswith(b" ") else v).decode())


class McpSession:
    """One streamable HTTP session over one keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCK_TIMEOUT)
        self.sid = None
        self.version = None
        self.next_id = 1

    def close(self):
        try:
            self.conn.close()
        except OSError:
            pass

    def _headers(self):
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.sid:
            h["Mcp-Session-Id"] = self.sid
        if self.version:
            h["MCP-Protocol-Version"] = self.version
        return h

    def request(self, method, params, notify=False):
        msg = {"jsonrpc": "2.0", "method": method, "params": params}
        if not notify:
            msg["id"] = self.next_id
            self.next_id += 1
        body = json.dumps(msg).encode()
        try:
            self.conn.request("POST", "/mcp", body=body, headers=self._headers())
            resp = self.conn.getresponse()
            if resp.status // 100 != 2:
                text = resp.read(2000).decode(errors="replace")
                self.close()
                raise McpError(f"http_{resp.status}", f"{method}: HTTP {resp.status}: {text[:200]}")
            if method == "initialize":
                self.sid = resp.getheader("mcp-session-id")
            if notify:
                resp.read()
                return None
            ctype = (resp.getheader("content-type") or "").lower()
            if "text/event-stream" in ctype:
                answer = read_sse_message(resp, msg["id"], time.monotonic() + SOCK_TIMEOUT)
                resp.read()  # the request's stream ends after its answer
            else:
                answer = json.loads(resp.read())
        except McpError:
            self.close()
            raise
        except (OSError, http.client.HTTPException, ValueError) as e:
            self.close()
            raise McpError("transport", f"{method}: {type(e).__name__}: {e}") from e
        if "error" in answer:
            raise McpError("jsonrpc", f"{method}: {json.dumps(answer['error'])[:200]}")
        return answer.get("result")

    def initialize(self):
        r = self.request(
            "initialize",
            {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "soak", "version": "1"}},
        )
        if not self.sid:
            raise McpError("protocol", "initialize: no Mcp-Session-Id header")
        self.version = (r or {}).get("protocolVersion", PROTOCOL)
        self.request("notifications/initialized", {}, notify=True)

    def call(self, stats, name, args):
        t0 = time.perf_counter()
        r = self.request("tools/call", {"name": name, "arguments": args})
        ms = (time.perf_counter() - t0) * 1000
        if not isinstance(r, dict) or r.get("isError"):
            text = "".join(c.get("text", "") for c in (r or {}).get("content", []))
            raise McpError("tool_error", f"{name}: {text[:200]}")
        stats.call_done(ms)
        return r.get("structuredContent") or {}

    def delete(self):
        try:
            self.conn.request("DELETE", "/mcp", headers=self._headers())
            resp = self.conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise McpError("transport", f"DELETE: {type(e).__name__}: {e}") from e
        finally:
            self.close()
        if resp.status // 100 != 2:
            raise McpError(f"http_{resp.status}", f"DELETE: HTTP {resp.status}")


def session_worker(wid, port, stats, stop, pace, abandon_every):
    n = 0
    while not stop.is_set():
        n += 1
        s = McpSession(port)
        abandon = abandon_every > 0 and n % abandon_every == 0
        try:
            s.initialize()
            steps = [
                lambda: s.call(stats, "get_schedule_status", {}),
                lambda: s.call(stats, "track_task_time",
                               {"action": "start", "task_id": tid, "task": "soak", "mode": "code"}),
                lambda: s.call(stats, "track_task_time", {"action": "stop", "task_id": tid}),
                lambda: s.call(stats, "update_persistent_memory",
                               {"section": "updates", "mode": "code", "category": "Soak",
                                "finding": f"soak entry {tid}", "on_overflow": "archive"}),
                None,  # manage_schedules create + delete
                lambda: s.call(stats, "get_time_tracking", {"task_id": tid}),
            ]
            tid = f"soak-{wid}-{n}-{int(time.time() * 1000)}"
            for step in steps:
                if stop.wait(pace):
                    break
                if step is not None:
                    step()
                    continue
                created = s.call(stats, "manage_schedules",
                                 {"action": "create",
                                  "schedule": {"name": f"soak {tid}", "mode": "code",
                                               "taskInstructions": "soak", "active": False}})
                sched_id = (created.get("schedule") or {}).get("id")
                if not sched_id:
                    raise McpError("protocol", f"manage_schedules create: no schedule id: {str(created)[:200]}")
                stop.wait(pace)
                s.call(stats, "manage_schedules", {"action": "delete", "schedule_id": sched_id})
            if abandon:
                s.close()
                stats.count("sessions_abandoned")
            else:
                s.delete()
                stats.count("sessions_deleted")
        except McpError as e:
            stats.error(e.kind, str(e))
            s.close()
            stop.wait(0.5)
        stop.wait(pace)


# --------------------------------------------------------------------------
# legacy SSE


class SseReader:
    """Reads events from a GET /sse response."""

    def __init__(self, resp):
        self.resp = resp

    def next_event(self, deadline):
        event, data = "message", []
        while True:
            if time.monotonic() > deadline:
                raise McpError("timeout", "SSE: no event in time")
            line = self.resp.readline()
            if not line:
                raise McpError("protocol", "SSE: stream ended")
            line = line.rstrip(b"\r\n").decode()
            if line == "":
                if data:
                    return event, "\n".join(data)
                event = "message"
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)

    def answer(self, want_id, deadline):
        while True:
            event, data = self.next_event(deadline)
            if event != "message":
                continue
            msg = json.loads(data)
            if isinstance(msg, dict) and msg.get("id") == want_id:
                if "error" in msg:
                    raise McpError("jsonrpc", f"SSE id {want_id}: {json.dumps(msg['error'])[:200]}")
                return msg.get("result")


def sse_post(port, endpoint, msg):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCK_TIMEOUT)
    try:
        conn.request("POST", endpoint, body=json.dumps(msg).encode(),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        text = resp.read(2000)
        if resp.status // 100 != 2:
            raise McpError(f"http_{resp.status}", f"POST {endpoint.split('?')[0]}: HTTP {resp.status}: {text[:200]!r}")
    finally:
        conn.close()


def sse_worker(port, stats, stop, interval):
    while not stop.wait(interval):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCK_TIMEOUT)
        try:
            conn.request("GET", "/sse", headers={"Accept": "text/event-stream"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise McpError(f"http_{resp.status}", f"GET /sse: HTTP {resp.status}")
            rd = SseReader(resp)
            deadline = time.monotonic() + SOCK_TIMEOUT
            event, endpoint = rd.next_event(deadline)
            if event != "endpoint" or not endpoint.startswith("/message"):
                raise McpError("protocol", f"SSE: first event {event} {endpoint[:100]!r}")
            sse_post(port, endpoint, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                      "params": {"protocolVersion": "2024-11-05", "capabilities": {},
                                                 "clientInfo": {"name": "soak-sse", "version": "1"}}})
            rd.answer(1, deadline)
            sse_post(port, endpoint, {"jsonrpc": "2.0", "method": "notifications/initialized"})
            t0 = time.perf_counter()
            sse_post(port, endpoint, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                      "params": {"name": "get_schedule_status", "arguments": {}}})
            r = rd.answer(2, deadline)
            ms = (time.perf_counter() - t0) * 1000
            if not isinstance(r, dict) or r.get("isError"):
                raise McpError("tool_error", f"SSE get_schedule_status: {str(r)[:200]}")
            stats.call_done(ms)
            stats.count("sse_sessions")
        except McpError as e:
            stats.error(e.kind, str(e))
        except (OSError, http.client.HTTPException, ValueError) as e:
            stats.error("transport", f"SSE: {type(e).__name__}: {e}")
        finally:
            conn.close()


# --------------------------------------------------------------------------
# slow clients


def slow_worker(port, stats, stop, kind, limit_s):
    """Sends a request a byte a second; the server must close it within limit_s."""
    while not stop.is_set():
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError as e:
            stats.error("transport", f"{kind}: connect: {e}")
            stop.wait(1)
            continue
        sock.settimeout(5)
        if kind == "slowloris":
            head, trickle = b"", b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 400
        else:
            head = (b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Accept: application/json, text/event-stream\r\nContent-Length: 400\r\n\r\n")
            trickle = b"{" + b" " * 399
        t0 = time.monotonic()
        cut, answer = False, b""
        try:
            if head:
                sock.sendall(head)
            i = 0
            while not stop.is_set() and time.monotonic() - t0 < limit_s:
                if i < len(trickle):
                    try:
                        sock.send(trickle[i:i + 1])
                    except OSError:  # EPIPE / ECONNRESET: the server closed it
                        cut = True
                        break
                    i += 1
                r, _, _ = select.select([sock], [], [], 1.0)
                if r:
                    try:
                        chunk = sock.recv(4096)
                    except OSError:
                        cut = True
                        break
                    if not chunk:
                        cut = True
                        break
                    answer += chunk
                    if b"\r\n\r\n" in answer:  # a whole response head: the server answered
                        cut = True
                        break
        finally:
            sock.close()
        elapsed = time.monotonic() - t0
        if stop.is_set() and not cut:
            break
        if not cut:
            stats.error("slow_not_cut", f"{kind}: still open after {elapsed:.1f} s")
        else:
            status = answer.split(b"\r\n", 1)[0].decode(errors="replace") if answer else "closed"
            if kind == "slow_body" and answer and b" 408 " not in answer.split(b"\r\n", 1)[0]:
                stats.error("slow_unexpected", f"{kind}: answered {status!r} after {elapsed:.1f} s")
            else:
                stats.count("slowloris_cut" if kind == "slowloris" else "slow_body_cut")
        stop.wait(0.5)


# --------------------------------------------------------------------------
# /healthz


def healthz_worker(port, stats, stop, interval):
    while not stop.wait(interval):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCK_TIMEOUT)
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            body = resp.read(10000)
            if resp.status != 200:
                raise McpError(f"http_{resp.status}", f"/healthz: HTTP {resp.status}")
            h = json.loads(body)
            if h.get("status") != "ok":
                raise McpError("healthz", f"/healthz: {body[:200]!r}")
            with stats.lock:
                stats.health = h
            stats.count("healthz")
        except McpError as e:
            stats.error(e.kind, str(e))
        except (OSError, http.client.HTTPException, ValueError) as e:
            stats.error("transport", f"/healthz: {type(e).__name__}: {e}")
        finally:
            conn.close()


# --------------------------------------------------------------------------
# the daemon


def proc_sample(pid):
    """VmRSS/RssAnon/VmHWM in MB, threads, open fds of `pid`; None when gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                    out[k] = int(v.split()[0]) / 1024
                elif k == "Threads":
                    out[k] = int(v)
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return None
    return out


def smaps_rollup(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = round(int(parts[1]) / 1024, 1)
    except OSError:
        pass
    return out


def start_daemon(a, root, log_path):
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [a.bin, "--root", root, "--mode", "http", "--port", "0"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )
    log.close()
    DAEMONS.append(proc)
    deadline = time.monotonic() + 20
    pat = re.compile(rb"listening on http://[^\s:]+:(\d+)|listening on http://\[[^\]]*\]:(\d+)")
    while time.monotonic() < deadline:
        with open(log_path, "rb") as f:
            m = pat.search(f.read())
        if m:
            return proc, int(m.group(1) or m.group(2))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop_daemon(proc)
    with open(log_path, "rb") as f:
        tail = f.read()[-2000:].decode(errors="replace")
    raise RuntimeError(f"the daemon did not report its port (exit {proc.returncode}): {tail}")


def stop_daemon(proc):
    """SIGTERM, then SIGKILL after 5 s. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


# --------------------------------------------------------------------------
# the run


def fmt(v, unit="", nd=1):
    return "-" if v is None else f"{v:.{nd}f}{unit}"


def sample_line(s):
    return (f"[{s['t']:6.0f}s] rss={fmt(s['rss_mb'], 'MB')} anon={fmt(s['anon_mb'], 'MB')} "
            f"hwm={fmt(s['hwm_mb'], 'MB')} fds={s['fds']} thr={s['threads']} "
            f"sess={s['sessions']} sse={s['sse_sessions']} calls={s['calls']} "
            f"({fmt(s['calls_per_s'], '/s')}) err={s['errors']} "
            f"p50={fmt(s['p50_ms'], 'ms', 2)} p99={fmt(s['p99_ms'], 'ms', 2)}")


def run(a):
    out = sys.stderr if a.json else sys.stdout

    def say(msg):
        print(msg, file=out, flush=True)

    root = tempfile.mkdtemp(prefix="lo-soak-")
    os.makedirs(os.path.join(root, ".roo"))
    with open(os.path.join(root, ".roo", "orchestrator.toml"), "w") as f:
        # No idle-expiry key exists (sessions idle 5 min end on their own);
        # a smaller session cap makes abandoned sessions get evicted early.
        f.write("[http]\n")
        if a.max_sessions > 0:
            f.write(f"max_sessions = {a.max_sessions}\n")
    log_path = os.path.join(root, "daemon.log")
    try:
        proc, port = start_daemon(a, root, log_path)
    except (RuntimeError, OSError) as e:
        print(f"soak: {e}", file=sys.stderr)
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
        return 2, None

    stats = Stats()
    stop = threading.Event()
    threads = []
    samples = []
    summary = None
    try:
        time.sleep(0.5)
        base = proc_sample(proc.pid)
        if base is None:
            raise RuntimeError("the daemon exited before the load started")
        say(f"soak: daemon pid {proc.pid} on port {port}, root {root}; "
            f"baseline rss={base['VmRSS']:.1f}MB fds={base['fds']} threads={base['Threads']}; "
            f"{a.seconds} s, sample every {a.sample} s")

        def spawn(target, *args):
            t = threading.Thread(target=target, args=args, daemon=True)
            t.start()
            threads.append(t)

        for w in range(a.workers):
            spawn(session_worker, w, port, stats, stop, a.pace, a.abandon_every)
        spawn(sse_worker, port, stats, stop, 0.5)
        for _ in range(a.slowloris):
            spawn(slow_worker, port, stats, stop, "slowloris", a.header_timeout + 5)
        spawn(slow_worker, port, stats, stop, "slow_body", a.body_timeout + 8)
        spawn(healthz_worker, port, stats, stop, 1.0)

        t0 = time.monotonic()
        last_t, last_calls = 0.0, 0
        k = 1
        while True:
            t_next = min(k * a.sample, a.seconds)
            time.sleep(max(0.0, t0 + t_next - time.monotonic()))
            t = time.monotonic() - t0
            ms, calls, errors = stats.take_interval()
            ps = proc_sample(proc.pid)
            if ps is None or proc.poll() is not None:
                stats.error("daemon_exit", f"the daemon exited (code {proc.poll()}) at {t:.0f} s")
                break
            with stats.lock:
                h = dict(stats.health)
            s = {
                "t": round(t, 1), "rss_mb": round(ps["VmRSS"], 1), "anon_mb": round(ps.get("RssAnon", 0), 1),
                "hwm_mb": round(ps["VmHWM"], 1), "fds": ps["fds"], "threads": ps["Threads"],
                "sessions": h.get("sessions"), "sse_sessions": h.get("sse_sessions"),
                "calls": calls, "calls_per_s": round((calls - last_calls) / max(t - last_t, 1e-9), 1),
                "errors": errors, "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            }
            samples.append(s)
            say(sample_line(s))
            last_t, last_calls = t, calls
            if t_next >= a.seconds:
                break
            k += 1

        stop.set()
        for t in threads:
            t.join(timeout=SOCK_TIMEOUT + 5)
        hung = sum(t.is_alive() for t in threads)
        if hung:
            stats.error("client_hang", f"{hung} load threads did not stop")

        # fds back near baseline once the clients are gone
        fds_end, settle_deadline = None, time.monotonic() + 10
        while True:
            ps = proc_sample(proc.pid)
            if ps is None:
                break
            fds_end = ps["fds"]
            if fds_end <= base["fds"] + FD_SLACK or time.monotonic() > settle_deadline:
                break
            time.sleep(0.5)
        idle = proc_sample(proc.pid) or {}
        rollup = smaps_rollup(proc.pid)
        summary = summarize(a, base, samples, stats, fds_end, idle, rollup)
        summary["files_kb"] = {}
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                if not rel.startswith(os.path.join(".roo", "backups")):
                    try:
                        summary["files_kb"][rel] = round(os.path.getsize(path) / 1024, 1)
                    except OSError:
                        pass
    finally:
        stop.set()
        code = stop_daemon(proc)
        if summary is not None:
            summary["daemon_exit_code"] = code
            if code not in (0, -signal.SIGTERM):
                summary["notes"].append(f"daemon exited with {code} on SIGTERM")
        if summary is None or not summary["ok"]:
            try:
                with open(log_path, "rb") as f:
                    tail = f.read()[-1500:].decode(errors="replace")
                if tail.count("\n") > 1:
                    print(f"soak: daemon log tail:\n{tail}", file=sys.stderr)
            except OSError:
                pass
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    return (0 if summary["ok"] else 1), summary


def at(samples, t):
    """The sample nearest to time t."""
    return min(samples, key=lambda s: abs(s["t"] - t)) if samples else None


def summarize(a, base, samples, stats, fds_end, idle, rollup):
    notes = []
    n = a.seconds
    if n >= 600:
        marks = [("1min", 60), ("5min", 300), ("10min", 600)]
    else:
        marks = [("10%", 0.1 * n), ("50%", 0.5 * n), ("100%", n)]
    rss_at = {lbl: (at(samples, t) or {}).get("rss_mb") for lbl, t in marks}
    warm = next((s for s in samples if s["t"] >= WARMUP_FRACTION * n - 0.5), None)
    end = samples[-1] if samples else None
    rss_warm = warm["rss_mb"] if warm else None
    rss_end = end["rss_mb"] if end else None
    rss_limit = round(rss_warm * RSS_FACTOR + RSS_SLACK_MB, 1) if rss_warm is not None else None
    rss_flat = rss_end is not None and rss_limit is not None and rss_end <= rss_limit
    if warm is end:
        notes.append("run too short for a warm-up sample before the end")
    fds_max = max([s["fds"] for s in samples] + [base["fds"]])
    fds_ok = fds_end is not None and fds_end <= base["fds"] + FD_SLACK
    with stats.lock:
        all_ms = list(stats.all_ms)
        errors, kinds, first = stats.errors, dict(stats.error_kinds), list(stats.first_errors)
        counts = dict(stats.counts)
        calls = stats.calls
    if counts["slowloris_cut"] + counts["slow_body_cut"] == 0 and n >= a.body_timeout + 10:
        notes.append("no slow client was cut off")
    ok = rss_flat and fds_ok and errors == 0 and bool(samples)
    duration = samples[-1]["t"] if samples else 0
    return {
        "ok": ok,
        "verdict": "PASS" if ok else "FAIL",
        "seconds": n,
        "rule": (f"RSS flat after warm-up: RSS at the end <= RSS at {int(WARMUP_FRACTION * 100)}% of the run"
                 f" * {RSS_FACTOR} + {RSS_SLACK_MB} MB; fds within {FD_SLACK} of the pre-load count"
                 " 10 s after the load; no unexpected errors"),
        "rss_mb": rss_at,
        "rss_warmup_mb": rss_warm,
        "rss_warmup_at_s": warm["t"] if warm else None,
        "rss_end_mb": rss_end,
        "rss_limit_mb": rss_limit,
        "rss_flat": rss_flat,
        "rss_baseline_mb": round(base["VmRSS"], 1),
        "rss_idle_after_mb": round(idle["VmRSS"], 1) if idle.get("VmRSS") else None,
        "hwm_mb": round(max([s["hwm_mb"] for s in samples] + [base["VmHWM"]]), 1),
        "smaps_rollup_mb": {k: rollup[k] for k in ("Rss", "Anonymous", "Private_Dirty", "Shared_Clean")
                            if k in rollup},
        "fds_baseline": base["fds"],
        "fds_max": fds_max,
        "fds_end": fds_end,
        "fds_ok": fds_ok,
        "threads_max": max([s["threads"] for s in samples] + [base["Threads"]]),
        "calls": calls,
        "calls_per_s": round(calls / duration, 1) if duration else None,
        "p50_ms": percentile(all_ms, 50),
        "p99_ms": percentile(all_ms, 99),
        "max_ms": round(max(all_ms), 2) if all_ms else None,
        "errors": errors,
        "error_kinds": kinds,
        "first_errors": first,
        **counts,
        "notes": notes,
        "samples": samples,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True, help="the loop-orchestrator binary")
    p.add_argument("--seconds", type=float, required=True, help="how long to run the load")
    p.add_argument("--sample", type=float, default=10, help="seconds between samples (default 10)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    p.add_argument("--workers", type=int, default=3, help="streamable HTTP session threads (default 3)")
    p.add_argument("--pace", type=float, default=0.02, help="seconds a session thread waits between requests")
    p.add_argument("--abandon-every", type=int, default=4,
                   help="every Nth session is dropped without DELETE (default 4; 0: never)")
    p.add_argument("--max-sessions", type=int, default=32,
                   help="[http] max_sessions for the daemon (default 32, reached within ~10 s, so"
                   " abandoned sessions are evicted from early on; 0: the server's default, 1000)")
    p.add_argument("--slowloris", type=int, default=2, help="concurrent slowloris connections (default 2)")
    p.add_argument("--header-timeout", type=float, default=10, help="the daemon's header_timeout_s (default 10)")
    p.add_argument("--body-timeout", type=float, default=30, help="the daemon's body_timeout_s (default 30)")
    p.add_argument("--keep", action="store_true", help="keep the temporary project root")
    a = p.parse_args()
    if a.seconds <= 0 or a.sample <= 0:
        p.error("--seconds and --sample must be positive")
    if not (os.path.isfile(a.bin) and os.access(a.bin, os.X_OK)):
        p.error(f"--bin {a.bin}: not an executable file")
    a.bin = os.path.abspath(a.bin)

    # Never hang: a watchdog kills the daemon and ends the process.
    limit = a.seconds + 90

    def watchdog():
        time.sleep(limit)
        print(f"soak: watchdog: still running {limit:.0f} s after the start; giving up", file=sys.stderr)
        for proc in DAEMONS:
            if proc.poll() is None:
                proc.kill()
        os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        code, summary = run(a)
    except KeyboardInterrupt:
        print("soak: interrupted", file=sys.stderr)
        sys.exit(130)
    if summary is None:
        sys.exit(code)
    if a.json:
        print(json.dumps(summary), flush=True)
    else:
        r = summary["rss_mb"]
        rss = " ".join(f"{k}={fmt(v, 'MB')}" for k, v in r.items())
        print(f"soak: {summary['verdict']}: RSS {rss} (warm-up {fmt(summary['rss_warmup_mb'], 'MB')} at "
              f"{fmt(summary['rss_warmup_at_s'], 's', 0)}, end {fmt(summary['rss_end_mb'], 'MB')}, "
              f"limit {fmt(summary['rss_limit_mb'], 'MB')}, hwm {fmt(summary['hwm_mb'], 'MB')}); "
              f"fds baseline {summary['fds_baseline']} max {summary['fds_max']} end {summary['fds_end']}; "
              f"calls {summary['calls']} ({fmt(summary['calls_per_s'], '/s')}) "
              f"p50 {fmt(summary['p50_ms'], 'ms', 2)} p99 {fmt(summary['p99_ms'], 'ms', 2)}; "
              f"errors {summary['errors']} {summary['error_kinds'] or ''}; "
              f"sessions deleted {summary['sessions_deleted']} abandoned {summary['sessions_abandoned']}, "
              f"sse {summary['sse_sessions']}, slow cut {summary['slowloris_cut']}+{summary['slow_body_cut']}"
              + (f"; notes: {'; '.join(summary['notes'])}" if summary["notes"] else ""), flush=True)
        for e in summary["first_errors"]:
            print(f"  error: {e}", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
