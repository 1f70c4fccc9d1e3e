#!/usr/bin/env bash
# Runs every test, as CI does: formatting and lints, the Rust unit and integration tests (the
# integration tests load the built bundle through the C ABI), and the Python tests under models/.
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
cargo test --workspace
.venv/bin/python -m unittest discover -v -s models -p 'test_*.py' -t .
