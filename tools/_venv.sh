# Sourced by the tools: creates (once) and activates the pinned Python venv.
# Everything lives under FLINKLLM_CACHE (default ~/.cache/flinkllm), keyed by the
# requirements hash, so a pin change never reuses a stale environment.
set -euo pipefail
TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export FLINKLLM_CACHE="${FLINKLLM_CACHE:-$HOME/.cache/flinkllm}"
req_hash="$(sha256sum "$TOOLS_DIR/requirements.txt" | cut -c1-12)"
FLINKLLM_VENV="$FLINKLLM_CACHE/venv-$req_hash"
if [ ! -x "$FLINKLLM_VENV/.ready" ]; then
  echo "[flinkllm] creating tool venv $FLINKLLM_VENV" >&2
  rm -rf "$FLINKLLM_VENV"
  python3 -m venv "$FLINKLLM_VENV"
  "$FLINKLLM_VENV/bin/pip" install -q --disable-pip-version-check -r "$TOOLS_DIR/requirements.txt" >&2
  printf '#!/bin/sh\n' > "$FLINKLLM_VENV/.ready" && chmod +x "$FLINKLLM_VENV/.ready"
fi
export FLINKLLM_VENV
export PYTHONPATH="$TOOLS_DIR${PYTHONPATH:+:$PYTHONPATH}"
