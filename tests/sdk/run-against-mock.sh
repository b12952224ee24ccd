#!/usr/bin/env bash
# Builds and starts the mock (default profile on ports PORT_BASE, PORT_BASE+1), runs the SDK
# suite against it, and stops it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
base="${PORT_BASE:-18411}"
cargo build -q --manifest-path "$root/Cargo.toml" -p jevons-mock --example mock_serve
bin="$root/target/debug/examples/mock_serve"
"$bin" default "$base" > /tmp/jevons-mock-sdk.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q anthropic /tmp/jevons-mock-sdk.log 2>/dev/null && break
  sleep 0.1
done
"$root/tests/sdk/run.sh" "http://127.0.0.1:$base/v1" "http://127.0.0.1:$((base + 1))" "$@"
