#!/usr/bin/env bash
# Create .venv with Python >= 3.11 and install the project with its dev tools.
# Re-run whenever pyproject.toml changes (the Makefile does this through a stamp file).
set -euo pipefail
cd "$(dirname "$0")/../.."

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      PY="$candidate"; break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "error: Python >= 3.11 not found; install it (apt-get install python3 python3-venv)" >&2
  exit 1
fi
# setup.py compiles the sector sink's transcoder: it needs a C compiler and Python's headers.
include=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
build_tools=()
command -v gcc >/dev/null 2>&1 || build_tools+=(gcc)
[ -f /usr/include/stdio.h ] || build_tools+=(libc6-dev)
[ -f "$include/Python.h" ] || build_tools+=(python3-dev)
if [ ${#build_tools[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing build tools: ${build_tools[*]}" >&2
    echo "       install them with: sudo apt-get install -y ${build_tools[*]}" >&2
    exit 1
  fi
  echo "installing build tools: ${build_tools[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${build_tools[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || {
    echo "error: '$PY -m venv' failed; install the venv module (apt-get install python3-venv)" >&2
    exit 1
  }
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
touch .venv/.installed
