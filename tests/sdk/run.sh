#!/usr/bin/env bash
# Usage: tests/sdk/run.sh OPENAI_BASE_URL ANTHROPIC_BASE_URL [pytest args...]
# Installs the official openai + anthropic SDKs (pinned in requirements.txt) into a cached
# venv and runs the suite. The venv is reused while requirements.txt is unchanged, so later
# runs need no network. Keys come from JEVONS_OPENAI_KEY / JEVONS_ANTHROPIC_KEY (defaults:
# dummy keys for the mock).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export JEVONS_OPENAI_BASE_URL="${1:?openai base url, e.g. http://127.0.0.1:8101/v1}"
export JEVONS_ANTHROPIC_BASE_URL="${2:?anthropic base url, e.g. http://127.0.0.1:8102}"
shift 2
venv="${JEVONS_SDK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/jevons-sdk-venv}"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/pytest" ] || [ "$(cat "$venv/.jevons-requirements" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
  echo "$want" > "$venv/.jevons-requirements"
fi
exec "$venv/bin/pytest" -q "$here/test_sdk.py" "$@"
