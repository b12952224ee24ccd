#!/usr/bin/env bash
# Builds the `jevons` CLI, starts `jevons mock` (default profile on ports PORT_BASE,
# PORT_BASE+1), runs the SDK suite against it, and stops it.
# JEVONS_BIN=path/to/jevons skips the build (e.g. a release binary).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
base="${PORT_BASE:-18411}"
bin="${JEVONS_BIN:-}"
if [ -z "$bin" ]; then
  cargo build -q --manifest-path "$root/Cargo.toml" -p jevons
  bin="$root/target/debug/jevons"
fi
log="$(mktemp)"
"$bin" mock --profile default --port-base "$base" > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  grep -q '^serving' "$log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { echo "jevons mock exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
grep -q '^serving' "$log" || { echo "jevons mock did not start within 10 s:" >&2; cat "$log" >&2; exit 1; }
"$root/tests/sdk/run.sh" "http://127.0.0.1:$base/v1" "http://127.0.0.1:$((base + 1))" "$@"
