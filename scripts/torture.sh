#!/usr/bin/env bash
# Torture suite (issue 7): hostile load against the release binary, one line
# per property with its figure (scripts/torture.py). Not part of `cargo
# test`; .ci/run runs it. Needs only python3 (standard library) and, for the
# full-disk property, `unshare` (a tmpfs in a private mount namespace).
#   scripts/torture.sh                 # every property, about 3-4 minutes
#   scripts/torture.sh --only kill     # one property; --scale 2 for heavier
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
exec timeout 600 python3 scripts/torture.py --bin target/release/loop-orchestrator "$@"
