"""Fit a VAE encoder to the shipped tiny-shapes decoder and add it to the package as `vae_encoder`.

    python3 models/train/fit_encoder.py [--package models/tiny-shapes] [--steps 600] [--threads 2] [--resume]

The training run that made tiny-shapes (and its encoder) is gone; only the decoder graph ships. Its weights are
read back from `vae_decoder/model.onnx` into `networks.Decoder` and frozen, and a fresh `networks.Encoder` is trained
on newly rendered scenes so that dec(enc(x)) ≈ x. The encoder is exported with the ModelScope package contract
(docs/ARCHITECTURE.md): `sample` [N,3,H,W] in [-1,1] -> `latent_mean` [N,4,H/8,W/8], unscaled (the decoder's
input space; the engine multiplies by the package's scaling_factor before the denoiser). Only
`vae_encoder/` and the `vae_encoder` entry of model_index.json are written; every other file stays as it is.

Prints the round-trip error (mean |x - dec(enc(x))|, 0..1 units) on held-out scenes and on the clip the package
generates for the default prompt (models/reference_pipeline.py).
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(HERE)
sys.path.append(os.path.dirname(HERE))

import scenes  # noqa: E402
from export import export, write_json  # noqa: E402
from networks import Decoder, Encoder  # noqa: E402
from train import LATENT_CHANNELS, log, to_model_range  # noqa: E402

# The render tool's default prompt (tests/src/bin/render.rs) and seed.
DEFAULT_PROMPT = "a red circle moving right on a blue background"
DEFAULT_SEED = 42
SEED = 5


def load_weights(module, path):
    """`module` with the weights of the graph at `path` (its initializers are named as the module's state dict)."""
    model = onnx.load(path)
    module.load_state_dict({t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
                            for t in model.graph.initializer}, strict=True)
    return module


def batch(rng, held_out=False, clips=4, per_clip=8):
    frames = [scenes.render(scenes.sample_scene(rng, held_out=held_out)) for _ in range(clips)]
    return np.concatenate([c[rng.choice(scenes.FRAMES, per_clip, replace=False)] for c in frames])


def fit(dec, enc, steps, seed):
    """Encoder trained through the frozen decoder: L1 + MSE on pixels (object pixels weighted up as in the
    decoder's refinement) and a small pull towards the latent scale the denoiser was trained on."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(enc.parameters(), lr=2e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.05)
    for step in range(steps):
        x = to_model_range(batch(rng))
        y = dec(enc(x))
        weight = 1.0 + 9.0 * ((x - x[:, :, :1, :1]).abs().amax(dim=1, keepdim=True) > 0.1).float()
        loss = (weight * ((y - x).abs() + (y - x).pow(2))).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"encoder step {step} loss {loss.item():.4f}")
    return enc.eval()


def round_trip_error(enc, dec, frames):
    """Mean |x - dec(enc(x))| over frames [N,H,W,3] in 0..1, in 0..1 units."""
    with torch.no_grad():
        y = dec(enc(to_model_range(frames)))
    back = ((y + 1.0) / 2.0).clamp(0.0, 1.0).movedim(-3, -1).numpy()
    return float(np.abs(back - frames).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", default=os.path.join(HERE, "..", "tiny-shapes"))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resume", action="store_true", help="start from the package's vae_encoder instead of scratch")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dec = load_weights(Decoder(LATENT_CHANNELS), os.path.join(args.package, "vae_decoder", "model.onnx"))
    dec.eval().requires_grad_(False)
    enc = Encoder(LATENT_CHANNELS)
    if args.resume:
        load_weights(enc, os.path.join(args.package, "vae_encoder", "model.onnx"))
    enc = fit(dec, enc, args.steps, SEED + int(args.resume))

    held_out = batch(np.random.default_rng(99), held_out=True, clips=16)
    print(f"round trip on held-out scenes: mean abs {round_trip_error(enc, dec, held_out):.4f}")
    from reference_pipeline import generate

    generated = generate(args.package, DEFAULT_PROMPT, seed=DEFAULT_SEED)
    print(f"round trip on the default prompt's frames: mean abs {round_trip_error(enc, dec, generated):.4f}")

    out = os.path.join(args.package, "vae_encoder")
    export(enc, (torch.rand(3, 3, 64, 64) * 2 - 1,), ["sample"], ["latent_mean"],
           {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_mean": {0: "batch", 2: "height", 3: "width"}},
           os.path.join(out, "model.onnx"))
    with open(os.path.join(args.package, "vae_decoder", "config.json")) as f:
        write_json(os.path.join(out, "config.json"), json.load(f))
    index_path = os.path.join(args.package, "model_index.json")
    with open(index_path) as f:
        index = json.load(f)
    index["vae_encoder"] = ["onnx", "vae_encoder/model.onnx"]
    write_json(index_path, index)


if __name__ == "__main__":
    main()
