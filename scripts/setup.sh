#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine that has Rust (rustup) and Python:
# libclang (for bindgen); the Windows target with mingw-w64 (the Win64 plugin) and wine64 (its tests);
# a Python virtual environment with ONNX Runtime and NumPy (reference pipeline, evaluation) and with
# zig and cargo-zigbuild (the Linux plugin, linked against glibc 2.28). Safe to run again: it only
# installs what is missing.
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

if ! rustup target list --installed | grep -qx x86_64-pc-windows-gnu; then
  echo "setup: adding the Rust target x86_64-pc-windows-gnu"
  rustup target add x86_64-pc-windows-gnu
fi
# The Win64 plugin's linker and C compiler; wine runs the Windows tests (scripts/wine-run.sh).
if ! command -v x86_64-w64-mingw32-gcc >/dev/null || [ ! -x /usr/lib/wine/wine64 ]; then
  echo "setup: installing mingw-w64 and wine64"
  apt_install --no-install-recommends gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine64
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv 2>/dev/null || { apt_install python3-venv; rm -rf .venv; python3 -m venv .venv; }
fi
if ! .venv/bin/python -c "import onnxruntime, numpy, PIL" 2>/dev/null; then
  echo "setup: installing Python test requirements into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r models/requirements-test.txt
fi
if [ ! -x .venv/bin/cargo-zigbuild ] || ! .venv/bin/python -c "import ziglang" 2>/dev/null; then
  echo "setup: installing zig and cargo-zigbuild into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements-build.txt
fi
