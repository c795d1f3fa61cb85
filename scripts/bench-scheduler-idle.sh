#!/usr/bin/env bash
# Idle cost of the scheduler daemon: 20 active schedules that do not fall
# due during the measurement, the release binary as an HTTP daemon with
# --scheduler, CPU time (utime+stime from /proc) and RSS after MINUTES
# (default 10). Usage: scripts/bench-scheduler-idle.sh [MINUTES]
set -euo pipefail
minutes="${1:-10}"
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$PWD/target/release/loop-orchestrator"
root="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$root"' EXIT
mkdir -p "$root/.roo"
python3 - "$root" <<'PY'
import json, sys, datetime
root = sys.argv[1]
# Daily schedules starting tomorrow: none is due during the measurement.
start = (datetime.datetime.utcnow() + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
days = {d: True for d in ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}
scheds = []
for i in range(20):
    scheds.append({
        "id": str(1700000000000 + i), "name": f"s{i}", "mode": "code",
        "taskInstructions": f"task {i}", "scheduleType": "time",
        "timeInterval": str(1 + i % 5), "timeUnit": ["minute", "hour", "day"][i % 3],
        "selectedDays": days, "startDate": start, "startHour": f"{i % 24:02d}",
        "startMinute": "00", "expirationDate": "", "expirationHour": "00",
        "expirationMinute": "00", "requireActivity": False, "active": True,
        "taskInteraction": "wait", "inactivityDelay": "10",
        "lastExecutionTime": "", "lastSkippedTime": "", "lastTaskId": "",
        "nextExecutionTime": "", "modeDisplayName": "Code",
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
    })
open(f"{root}/.roo/schedules.json", "w").write(json.dumps({"schedules": scheds}, indent=2))
open(f"{root}/.roo/orchestrator.toml", "w").write('[scheduler]\ntimezone = "UTC"\n')
PY
"$bin" --root "$root" --mode http --port 0 --scheduler 2>/dev/null &
pid=$!
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
sleep $((minutes * 60))
t1=$(ticks)
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
cpu_s=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
pct=$(awk -v c="$cpu_s" -v m="$minutes" 'BEGIN {printf "%.4f", 100 * c / (m * 60)}')
echo "scheduler idle over $minutes min with 20 schedules: CPU ${cpu_s} s (${pct} % of one core), RSS $((rss_kb / 1024)) MiB ($rss_kb KiB)"
echo "machine: $(nproc) cores, $(uname -sr)"
