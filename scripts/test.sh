#!/usr/bin/env bash
# Runs every test, as CI does: formatting and lints, the Rust unit and integration tests (the
# integration tests load the built bundle through the C ABI; tests/tests/binaries.rs checks what its
# Linux and Windows binaries export and link), the Windows half under wine, and the Python tests
# under models/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cargo run -q -p bundle -- build
# The test-only fault-injection build for tests/tests/panics.rs (only the plugin crate recompiles).
cargo run -q -p bundle -- build --faults
export ORT_DYLIB_PATH="$PWD/target/onnxruntime/libonnxruntime.so.1.31.1"
# The plugin logs every test's errors and panics: into target/, not the per-user log folder.
export T2V_LOG_DIR="$PWD/target/test-logs"

cargo fmt --all -- --check
cargo clippy -q --workspace --all-targets -- -D warnings
cargo clippy -q -p text-to-video-ofx --all-targets --features fault-injection -- -D warnings
# What is built for Windows: the plugin (and its cache), the host and the tests that run under wine.
cargo clippy -q --target x86_64-pc-windows-gnu -p text-to-video-ofx -p clip-cache -p ofx-host --lib --bins \
  --test portable -- -D warnings
cargo test --workspace

# The headless host cross-compiled for Windows loads Contents/Win64 (with the bundle's onnxruntime.dll,
# not ORT_DYLIB_PATH's Linux library) under wine; tests/tests/portable.rs also checks its frames against
# those the Linux run above wrote.
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$PWD/scripts/wine-run.sh" env -u ORT_DYLIB_PATH \
  cargo test -p ofx-host --target x86_64-pc-windows-gnu --test portable

.venv/bin/python -m unittest discover -v -s models -p 'test_*.py' -t .
