#!/usr/bin/env bash
# Runs every benchmark of issue 6 and prints one Markdown table (figure | engine | reference | ratio | goal)
# with the machine it ran on, then the plugin's resampler against fast_image_resize (issue 15). See
# benchmarks/README.md for what each figure means.
#
#   scripts/bench.sh [CLIPS]      CLIPS: timed clips per clip benchmark (default 5), after one warm-up clip
#
# Engine and reference run in separate processes on the same ONNX files, CPU execution provider, and as
# many intra-op threads as the machine has cores. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

clips="${1:-5}"
threads="$(nproc)"
packages=(models/tiny-shapes models/fixtures/tiny-modelscope)   # the default model first
python=python3
if [ -x .venv/bin/python ]; then python=.venv/bin/python; fi

echo "building (release)..." >&2
cargo build -q --release -p benchmarks
cargo run -q --release -p bundle -- build --release >/dev/null   # bench_describe loads this bundle
export ORT_DYLIB_PATH="$PWD/target/onnxruntime/libonnxruntime.so.1.31.1"

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
args=(--clips "$clips" --threads "$threads")
names=()
for package in "${packages[@]}"; do
  name="$(basename "$package")"
  names+=("$name")
  echo "engine vs reference: $name..." >&2
  target/release/engine_clip "$package" "${args[@]}" >"$results/engine-$name.json"
  "$python" models/bench_reference.py "$package" "${args[@]}" >"$results/reference-$name.json"
done
echo "disk hit vs regeneration: ${names[0]}..." >&2
target/release/disk_vs_regen "${packages[0]}" "${args[@]}" >"$results/disk.json"
echo "cache and describe examples..." >&2
cargo run -q --release -p clip-cache --example cache_bench >"$results/cache_bench.txt"
cargo run -q --release -p ofx-host --example bench_describe >"$results/bench_describe.txt"
echo "resample: the plugin's against fast_image_resize..." >&2
target/release/resample_vs_fir >"$results/resample.md"

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "Machine: $threads cores, $cpu, $(uname -sm); $(date -u '+%Y-%m-%d %H:%M UTC'); CPU execution provider"
echo
target/release/bench_table "$results" "${names[@]}"
echo
cat "$results/resample.md"
