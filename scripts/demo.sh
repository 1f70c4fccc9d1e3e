#!/usr/bin/env bash
# Builds TextToVideo.ofx.bundle (release) and renders the default prompt with the shipped default
# model through the headless OFX host: PNG frames and a contact sheet in out/demo/, then one contact
# sheet per workflow beside it (a long clip with a prompt schedule; video-to-video and extending the
# shot, both from the first clip).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cargo run -q --release -p bundle -- build --release
render() { cargo run -q --release -p ofx-host --bin render -- "$@"; }
render --out out/demo "$@"
render --out out/demo/long-clip --frames 48 \
  --prompt $'0: a red circle moving right on a blue background\n24: a yellow square moving left on a green background'
render --out out/demo/video-to-video --source out/demo --strength 0.6 \
  --prompt "a yellow square moving right on a green background"
render --out out/demo/extend --source out/demo --start-from frame:15 \
  --prompt "a red circle moving left on a blue background"
