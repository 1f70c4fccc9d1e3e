#!/usr/bin/env python3
"""Seconds per denoising step and per decoded frame of a real-size Wan2.1-T2V-1.3B (random weights, the
released transformer and VAE configs) at 480p, PyTorch against the exported ONNX graphs in ONNX Runtime — the
engine's runtime, whose own share of a step is under 2 % (benchmarks/) — on the same weights and inputs, in
one process. One step is one transformer call on a guided batch of 2 (prompt and negative), as the pipeline's
classifier-free guidance runs it; decoding is the VAE's first/step loop (ONNX) against `vae.decode` (PyTorch).
Prints one JSON object with the figures, the largest output differences and the peak RSS.

Both sides use the same CPU threads (--threads, default all cores). A watchdog ends the process when
available memory falls under --min-free-gib or free disk under --min-disk-gib. Needs torch + diffusers
(models/requirements-export.txt), about 13 GiB of memory and 7 GB of disk.

    python3 models/bench_wan_step.py OUT_FOLDER [--frames 5] [--parts step,decode]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

MODELS = Path(__file__).resolve().parent
sys.path.insert(0, str(MODELS))

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # noqa: E402

import export_wan  # noqa: E402
from bench_wan_export import WAN21_1_3B, peak_rss_gib, watchdog  # noqa: E402
from wan_vae import vae_decode  # noqa: E402

HEIGHT, WIDTH = 480, 832


def timed(f):
    start = time.time()
    out = f()
    return out, time.time() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--frames", type=int, default=5, help="clip frames (4k+1)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--parts", default="step,decode", help="what to measure: step, decode or both")
    ap.add_argument("--min-free-gib", type=float, default=4.0)
    ap.add_argument("--min-disk-gib", type=float, default=3.0)
    args = ap.parse_args()
    if (args.frames - 1) % 4:
        sys.exit(f"--frames must be 4k+1, not {args.frames}")
    args.out.mkdir(parents=True, exist_ok=True)
    threading.Thread(target=watchdog, args=(args.out, args.min_free_gib, args.min_disk_gib), daemon=True).start()
    torch.set_num_threads(args.threads)

    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    torch.manual_seed(0)
    transformer = WanTransformer3DModel(**WAN21_1_3B).eval()
    vae = AutoencoderKLWan().eval()
    latent_frames = (args.frames - 1) // 4 + 1
    report = {"size": f"{WIDTH}x{HEIGHT}", "frames": args.frames, "latent_frames": latent_frames,
              "tokens": latent_frames * (HEIGHT // 16) * (WIDTH // 16), "threads": args.threads}
    parts = args.parts.split(",")
    if "step" in parts:
        report["step"] = step(transformer, args, latent_frames)
        print(json.dumps(report["step"]), flush=True)
    del transformer  # the decode needs the memory
    if "decode" in parts:
        report["decode"] = decode(vae, args, latent_frames)
    report["peak_rss_gib"] = round(peak_rss_gib(), 2)
    print(json.dumps(report, indent=1))


def step(transformer, args, latent_frames: int) -> dict:
    """One guided transformer call in PyTorch and in ONNX Runtime on the same inputs."""
    seconds = {}
    _, seconds["export"] = timed(
        lambda: export_wan.export_transformer(transformer, args.out, "auto", torch.float32, False))
    hidden = torch.randn((2, 16, latent_frames, HEIGHT // 8, WIDTH // 8))
    timestep = torch.tensor([999, 999])
    context = torch.randn((2, 512, 4096)) * 0.1
    with torch.no_grad():
        want, seconds["pytorch"] = timed(
            lambda: transformer(hidden, timestep, context, return_dict=False)[0].numpy())
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    session, seconds["onnx_load"] = timed(lambda: ort.InferenceSession(
        str(args.out / "transformer" / "model.onnx"), options, providers=["CPUExecutionProvider"]))
    ts = next(i for i in session.get_inputs() if i.name == "timestep")
    ts_value = timestep.numpy().astype(np.float32 if "float" in ts.type else np.int64)
    feeds = {"hidden_states": hidden.numpy(), "encoder_hidden_states": context.numpy(),
             "timestep": ts_value if ts.shape else ts_value[0]}
    got, seconds["onnx"] = timed(lambda: session.run(["out_sample"], feeds)[0])
    return {"seconds": {k: round(v, 1) for k, v in seconds.items()},
            "onnx_vs_pytorch": round(seconds["onnx"] / seconds["pytorch"], 2),
            "max_abs_diff": float(np.abs(got - want).max())}


def decode(vae, args, latent_frames: int) -> dict:
    """The clip's latents decoded by `vae.decode` and by the exported first/step graphs."""
    seconds = {}
    _, seconds["export"] = timed(lambda: export_wan.export_vae_decoder(vae, args.out, "auto", torch.float32))
    (args.out / "vae_decoder" / "config.json").write_text(json.dumps(dict(vae.config)))
    latents = torch.randn((1, 16, latent_frames, HEIGHT // 8, WIDTH // 8))
    with torch.no_grad():
        want, seconds["pytorch"] = timed(lambda: vae.decode(latents, return_dict=False)[0].numpy())
    got, seconds["onnx"] = timed(lambda: vae_decode(args.out, latents.numpy()))
    count = want.shape[2]
    return {"decoded_frames": count, "seconds": {k: round(v, 1) for k, v in seconds.items()},
            "seconds_per_frame": {"onnx": round(seconds["onnx"] / count, 2),
                                  "pytorch": round(seconds["pytorch"] / count, 2)},
            "max_abs_diff": float(np.abs(got - want).max())}


if __name__ == "__main__":
    main()
