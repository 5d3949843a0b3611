#!/usr/bin/env bash
# Installs the project's Python environment (.venv) from the committed uv.lock.
# uv itself is installed once, keyed by version, into the cache outside the repo, from a wheel
# whose SHA-256 is pinned in infra/uv-requirements.txt (pip --require-hashes refuses any other).
set -euo pipefail
UV_VERSION="0.13.9"  # keep in step with infra/uv-requirements.txt
uv_requirements="$(dirname "$0")/uv-requirements.txt"
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
  "$uv_home/bin/pip" install --quiet --disable-pip-version-check \
    --require-hashes --only-binary :all: -r "$uv_requirements"
fi
# Verified on use too: each file of the installed uv against the SHA-256 that pip recorded from
# the hash-checked wheel (its RECORD), so a corrupted or replaced cached uv is not run.
if ! "$uv_home/bin/python" - <<'PY'
import base64, hashlib, importlib.metadata, sys

def digest(path):
    return base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()

files = [f for f in importlib.metadata.distribution("uv").files or [] if f.hash is not None]
bad = [str(f) for f in files if not f.locate().is_file() or digest(f.locate()) != f.hash.value]
if bad or not files:
    sys.exit(f"error: the cached uv differs from the wheel it was installed from: {', '.join(bad) or 'no RECORD'}")
PY
then
  echo "error: delete $uv_home (rm -rf) and run 'make install' again to reinstall uv from its pinned wheel" >&2
  exit 5
fi
export UV_CACHE_DIR="$cache/uv" UV_PYTHON_DOWNLOADS=never
"$uv_home/bin/uv" sync --frozen --extra dev --python "$python"
touch .venv/.synced
