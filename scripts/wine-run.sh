#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu (scripts/test.sh sets CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER):
# runs a Windows test binary under Debian's wine64 in a private prefix under target/wine. Wine 8 lacks
# Windows 10's bcryptprimitives.dll, whose ProcessPrng Rust's std imports, so the prefix gets a test-only
# stand-in built with mingw from tests/wine/processprng.c (never part of the bundle).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export WINEPREFIX="$root/target/wine/prefix" WINEDEBUG=-all
wine=/usr/lib/wine/wine64
shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$shim" ]; then
  mkdir -p "$WINEPREFIX"
  "$wine" wineboot -i >/dev/null 2>&1
  x86_64-w64-mingw32-gcc -O2 -shared -o "$shim" "$root/tests/wine/processprng.c" -ladvapi32
fi
exec "$wine" "$@"
