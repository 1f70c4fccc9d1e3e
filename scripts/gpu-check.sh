#!/usr/bin/env bash
# GPU check (issue #13), for a machine with an NVIDIA GPU, no network, and a Python environment holding
# NVIDIA's CUDA 13 libraries (the nvidia-* cu13 wheels, as PyTorch installs them):
#   1. each fixture (tiny-modelscope, tiny-wan21) runs on CUDA and on the CPU; their frames must agree
#      within TOLERANCE (largest absolute difference, frames in 0..1);
#   2. the default model (tiny-shapes) is timed on both: load and generation;
#   3. a table of the results is printed. Exit status 0 only when every check passed.
#
#   scripts/gpu-check.sh              # CUDA against the CPU (strict: a CUDA run that cannot use the GPU fails)
#   scripts/gpu-check.sh --cpu-only   # the CPU against itself: proves the script end to end without a GPU
#
# Inputs (prebuilt, since the GPU machine has no network):
#   GENERATE      the engine's example binary (default target/debug/examples/generate; built with
#                 `cargo build -p t2v-engine --example generate` when absent and cargo is there)
#   ORT_GPU_DIR   folder with ONNX Runtime's CUDA build (libonnxruntime.so.1.31.1 and
#                 libonnxruntime_providers_cuda.so); default: the `bundle build --cuda` or --cuda=system
#                 bundle, else the Python environment's onnxruntime-gpu
#   ORT_CPU       the CPU build (default target/onnxruntime/libonnxruntime.so.1.31.1)
#   PYTHON        the Python whose site-packages hold nvidia/cu13 and cudnn (default python3)
#   RUN_TIMEOUT   seconds one run may take (default 300), so a stuck driver cannot hang the script
#
# TOLERANCE 4e-3 (one 8-bit code value, 1/255): CUDA kernels (cuBLAS, cuDNN convolutions, TF32 matrix
# products) add in another order than the CPU's, which moves values by about 1e-4..1e-3 after a few
# denoising steps; the 8-bit picture stays within one code value.
set -euo pipefail
cd "$(dirname "$0")/.."

TOLERANCE=${TOLERANCE:-4e-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
PYTHON=${PYTHON:-python3}
ORT_CPU=${ORT_CPU:-$PWD/target/onnxruntime/libonnxruntime.so.1.31.1}
GENERATE=${GENERATE:-$PWD/target/debug/examples/generate}
MODE=cuda
[[ "${1:-}" == "--cpu-only" ]] && MODE=cpu
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "gpu-check: $*" >&2; exit 1; }

if [[ ! -x "$GENERATE" ]]; then
    command -v cargo >/dev/null || fail "$GENERATE is missing and there is no cargo to build it"
    cargo build -q -p t2v-engine --example generate || fail "building the generate example failed"
fi
[[ -f "$ORT_CPU" ]] || fail "no CPU ONNX Runtime at $ORT_CPU (run: cargo run -p bundle -- fetch-ort)"

# The CUDA side: ONNX Runtime's CUDA build and the CUDA 13 libraries it needs.
if [[ $MODE == cuda ]]; then
    command -v nvidia-smi >/dev/null || fail "no NVIDIA GPU here: nvidia-smi not found (use --cpu-only)"
    timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
        || fail "no NVIDIA GPU here: nvidia-smi failed (use --cpu-only)"
    if [[ -z "${ORT_GPU_DIR:-}" ]]; then
        for d in target/bundle-cuda/TextToVideo.ofx.bundle/Contents/Linux-x86-64 \
                 target/bundle-cuda-system/TextToVideo.ofx.bundle/Contents/Linux-x86-64 \
                 "$("$PYTHON" -c 'import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), "capi"))' 2>/dev/null || true)"; do
            if [[ -n "$d" && -f "$d/libonnxruntime_providers_cuda.so" ]]; then ORT_GPU_DIR=$d; break; fi
        done
    fi
    [[ -n "${ORT_GPU_DIR:-}" && -f "$ORT_GPU_DIR/libonnxruntime_providers_cuda.so" ]] \
        || fail "no ONNX Runtime CUDA build found: set ORT_GPU_DIR, run \`cargo run -p bundle -- build --cuda\`, or install onnxruntime-gpu==1.31.1 in $PYTHON's environment"
    ORT_GPU=$(ls "$ORT_GPU_DIR"/libonnxruntime.so.1.* 2>/dev/null | sort | tail -1)
    [[ -n "$ORT_GPU" ]] || fail "no libonnxruntime.so.1.* in $ORT_GPU_DIR"
    # The Python environment's CUDA 13 / cuDNN 9 libraries, found by the loader like a system CUDA.
    CUDA_LIBS=$("$PYTHON" - <<'PY' 2>/dev/null || true
import glob, os, site
dirs = set()
for root in site.getsitepackages() + [site.getusersitepackages()]:
    for lib in glob.glob(os.path.join(root, "nvidia", "**", "lib*.so*"), recursive=True):
        dirs.add(os.path.dirname(lib))
print(":".join(sorted(dirs)))
PY
)
    export LD_LIBRARY_PATH="${CUDA_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    SIDE=(--cuda --strict)
else
    ORT_GPU=$ORT_CPU
    SIDE=()
fi

# run NAME ORT OUT ARGS...: one generation; prints "load_s gen_s" (parsed from the example's output).
run() {
    local name=$1 ort=$2 out=$3; shift 3
    local log="$WORK/$name.log"
    if ! ORT_DYLIB_PATH="$ort" timeout "$RUN_TIMEOUT" "$GENERATE" "$@" --out "$out" >"$log" 2>&1; then
        echo "gpu-check: $name failed (or ran past ${RUN_TIMEOUT}s):" >&2
        tail -5 "$log" >&2
        return 1
    fi
    grep -q '^note: ' "$log" && { echo "gpu-check: $name: $(grep '^note: ' "$log")" >&2; return 1; }
    "$PYTHON" - "$log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def seconds(pattern):
    m = re.search(pattern, text)
    value, unit = float(m.group(1)), m.group(2)
    return value / {"s": 1, "ms": 1e3, "µs": 1e6, "ns": 1e9}[unit]
load = seconds(r"(?m)^loaded .* in ([0-9.]+)(s|ms|µs|ns) on")
generate = seconds(r"frames [0-9]+x[0-9]+ in ([0-9.]+)(s|ms|µs|ns)")
print(f"{load:.3f} {generate:.3f}")
PY
}

# compare A B: largest and mean absolute difference of two f32 frame files.
compare() {
    "$PYTHON" - "$1" "$2" <<'PY'
import array, sys
a, b = array.array("f"), array.array("f")
a.frombytes(open(sys.argv[1], "rb").read()); b.frombytes(open(sys.argv[2], "rb").read())
if len(a) != len(b) or not a:
    sys.exit(f"frame files differ in size: {len(a)} vs {len(b)} values")
d = [abs(x - y) for x, y in zip(a, b)]
print(f"{max(d):.2e} {sum(d) / len(d):.2e}")
PY
}

status=0
rows=()
for fixture in tiny-modelscope tiny-wan21; do
    package=models/fixtures/$fixture
    args=("$package" "a red ball bouncing" --seed 7)
    cpu=$(run "$fixture-cpu" "$ORT_CPU" "$WORK/$fixture-cpu.f32" "${args[@]}") || { status=1; continue; }
    dev=$(run "$fixture-$MODE" "$ORT_GPU" "$WORK/$fixture-$MODE.f32" "${args[@]}" "${SIDE[@]}") || { status=1; continue; }
    read -r max mean < <(compare "$WORK/$fixture-cpu.f32" "$WORK/$fixture-$MODE.f32") || { status=1; continue; }
    verdict=$("$PYTHON" -c "print('ok' if $max <= $TOLERANCE else 'FAIL')")
    [[ $verdict == ok ]] || status=1
    rows+=("$fixture|${cpu#* }|${dev#* }|$max|$mean|$verdict")
done

# The default model, timed (load and generation) on both sides.
package=models/tiny-shapes
cpu=$(run shapes-cpu "$ORT_CPU" "$WORK/shapes-cpu.f32" "$package" "a red ball" --seed 1) || status=1
dev=$(run "shapes-$MODE" "$ORT_GPU" "$WORK/shapes-$MODE.f32" "$package" "a red ball" --seed 1 "${SIDE[@]}") || status=1

echo
echo "GPU check ($MODE against the CPU; tolerance $TOLERANCE largest absolute difference)"
printf '%-18s %10s %10s %10s %10s %s\n' fixture "cpu gen s" "$MODE gen s" "max diff" "mean diff" verdict
for row in "${rows[@]}"; do
    IFS='|' read -r f c g mx mn v <<<"$row"
    printf '%-18s %10s %10s %10s %10s %s\n' "$f" "$c" "$g" "$mx" "$mn" "$v"
done
if [[ -n "${cpu:-}" && -n "${dev:-}" ]]; then
    printf '%-18s load %s s, generate %s s on the cpu; load %s s, generate %s s on %s\n' \
        "tiny-shapes" ${cpu% *} ${cpu#* } ${dev% *} ${dev#* } "$MODE"
fi
[[ $status == 0 ]] && echo "gpu-check: all checks passed" || echo "gpu-check: some checks FAILED" >&2
exit $status
