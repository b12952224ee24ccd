#!/usr/bin/env sh
# Builds jevons in release mode and runs `jevons bench` (direct vs nginx vs jevons, RSS over
# 1M requests, ledger bytes/event, the mock's throughput). Arguments go to `jevons bench`,
# e.g. scripts/bench.sh --duration 5s --rounds 3 --format json
# Needs wrk and nginx (`apt-get install -y wrk nginx-light`; installed automatically when run
# as root). Not for CI: figures depend on the machine and its load.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p jevons
echo "load before: $(uptime)" >&2
exec ./target/release/jevons bench "$@"
