#!/usr/bin/env bash
# Installs the project's Python environment (.venv) from the committed uv.lock.
# uv itself is installed once, keyed by version, into the cache outside the repo.
set -euo pipefail
UV_VERSION="0.13.9"
cache="${LAKEHOUSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cdr-lakehouse}"
uv_home="$cache/tools/uv-$UV_VERSION"
python="${LAKEHOUSE_PYTHON:-python3.11}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found; the project needs CPython 3.11 (set LAKEHOUSE_PYTHON to another path)" >&2
  exit 3
fi
if [ ! -x "$uv_home/bin/uv" ]; then
  echo "installing uv $UV_VERSION into $uv_home"
  rm -rf "$uv_home"
  "$python" -m venv "$uv_home"
  "$uv_home/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
export UV_CACHE_DIR="$cache/uv" UV_PYTHON_DOWNLOADS=never
"$uv_home/bin/uv" sync --frozen --extra dev --python "$python"
touch .venv/.synced
