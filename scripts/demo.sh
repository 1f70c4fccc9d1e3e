#!/usr/bin/env bash
# Builds TextToVideo.ofx.bundle (release) and renders the default prompt with the shipped default
# model through the headless OFX host: PNG frames and a contact sheet in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cargo run -q --release -p bundle -- build --release
cargo run -q --release -p ofx-host --bin render -- --out out/demo "$@"
