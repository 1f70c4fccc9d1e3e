#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine that has Rust and Python:
# libclang (for bindgen) and a Python virtual environment with ONNX Runtime and NumPy (reference
# pipeline, evaluation). Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# libclang itself (libclang.so*, libclang-N.so*), not libclang-cpp, which some images carry alone.
has_libclang() {
  local pattern
  for pattern in '/usr/lib/llvm-*/lib/libclang.so*' '/usr/lib/x86_64-linux-gnu/libclang.so*' \
    '/usr/lib/x86_64-linux-gnu/libclang-[0-9]*.so*'; do
    compgen -G "$pattern" >/dev/null && return 0
  done
  return 1
}
if ! has_libclang; then
  echo "setup: installing libclang-dev (bindgen needs it)"
  apt_install libclang-dev
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv 2>/dev/null || { apt_install python3-venv; rm -rf .venv; python3 -m venv .venv; }
fi
if ! .venv/bin/python -c "import onnxruntime, numpy, PIL" 2>/dev/null; then
  echo "setup: installing Python test requirements into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r models/requirements-test.txt
fi
