#!/usr/bin/env python3
"""The reference side of "engine vs Python reference" (benchmarks/src/bin/engine_clip.rs is the other side).

In its own process: loads the package once with reference_pipeline (onnxruntime + numpy, CPU execution
provider), generates one warm-up clip, then times N clips of the package's defaults. Prints one JSON line with
the median clip wall time and the process's peak RSS (VmHWM), measured as the engine side measures them.

    python3 models/bench_reference.py PACKAGE [--clips N] [--threads N] [--prompt TEXT] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before onnxruntime loads (see reference_pipeline.Package)
import onnxruntime  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_pipeline  # noqa: E402


def peak_rss_kib() -> int:
    """VmHWM of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM line in /proc/self/status")


def pin_intra_op_threads(threads: int) -> None:
    """Makes the sessions reference_pipeline creates use `threads` intra-op threads, as the engine's do (0 leaves
    ONNX Runtime's default). reference_pipeline builds its own SessionOptions, so the class is wrapped."""
    if threads <= 0:
        return
    base = onnxruntime.SessionOptions

    def options() -> onnxruntime.SessionOptions:
        opts = base()
        opts.intra_op_num_threads = threads
        return opts

    onnxruntime.SessionOptions = options


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package", type=Path)
    ap.add_argument("--clips", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--prompt", default="a red circle moving right on a blue background")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    pin_intra_op_threads(a.threads)

    package = reference_pipeline.load_package(str(a.package.resolve()))
    runs = []
    for i in range(max(a.clips, 1) + 1):
        start = time.perf_counter()
        video = reference_pipeline.generate(a.package, a.prompt, seed=a.seed)
        if i > 0:  # the first clip warms up
            runs.append(time.perf_counter() - start)
    d = package.defaults
    frames, height, width, _ = video.shape
    print(json.dumps({
        "side": "reference", "package": a.package.resolve().name, "threads": a.threads, "clips": len(runs),
        "frames": frames, "width": width, "height": height, "steps": d["steps"],
        "median_s": sorted(runs)[len(runs) // 2], "peak_rss_kib": peak_rss_kib(),
    }))


if __name__ == "__main__":
    main()
