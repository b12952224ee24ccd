#!/usr/bin/env bash
# Runs the official OpenAI + Anthropic Python SDK suite, unchanged, against the jevons gateway:
# starts `jevons mock` (default profile), a gateway config pointing at it, a virtual key,
# `jevons serve`, then tests/sdk/run.sh with the gateway's URLs and the virtual key.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
base="${PORT_BASE:-18511}"
gw_port=$((base + 10))
cargo build -q --manifest-path "$root/Cargo.toml" -p jevons
bin="$root/target/debug/jevons"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$bin" mock --profile default --port-base "$base" > "$work/mock.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q anthropic "$work/mock.log" 2>/dev/null && break; sleep 0.1; done

cat > "$work/jevons.toml" <<TOML
[server]
listen = "127.0.0.1:$gw_port"

[ledger]
path = "$work/ledger.sqlite"

[[providers]]
name = "openai"
kind = "openai"
base_url = "http://127.0.0.1:$base"
api_key_env = "JEVONS_MOCK_PROVIDER_KEY"
models = ["gpt-4o-mini", "gpt-4o", "o3-mini", "text-embedding-3-small"]

[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "http://127.0.0.1:$((base + 1))"
api_key_env = "JEVONS_MOCK_PROVIDER_KEY"
models = ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"]
TOML
export JEVONS_MOCK_PROVIDER_KEY=mock-provider-key
"$bin" config check "$work/jevons.toml"
key="$("$bin" keys create --team sdk --db "$work/ledger.sqlite" --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"
"$bin" serve --config "$work/jevons.toml" > "$work/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$gw_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

JEVONS_OPENAI_KEY="$key" JEVONS_ANTHROPIC_KEY="$key" \
  "$root/tests/sdk/run.sh" "http://127.0.0.1:$gw_port/v1" "http://127.0.0.1:$gw_port" "$@"
echo "ledger rows written by the SDK suite:"
"$bin" ledger stats --db "$work/ledger.sqlite" | head -5
