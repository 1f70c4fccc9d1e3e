"""Decoding Wan latents with a package's VAE graphs as the engine does (onnxruntime + numpy): the reference the
fixture generator and the fixture tests share."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # noqa: E402


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def denormalise(package: Path, latents: np.ndarray) -> np.ndarray:
    """x = z·latents_std + latents_mean per channel (vae_decoder/config.json), what the VAE graphs take."""
    cfg = json.loads((package / "vae_decoder" / "config.json").read_text())
    shape = (1, cfg["z_dim"], 1, 1, 1)
    mean = np.asarray(cfg["latents_mean"], dtype=np.float32).reshape(shape)
    std = np.asarray(cfg["latents_std"], dtype=np.float32).reshape(shape)
    return (latents * std + mean).astype(latents.dtype)


def vae_decode(package: Path, latents: np.ndarray) -> np.ndarray:
    """De-normalised latents [1,z,N,h,w] through first.onnx, then step.onnx for each later latent frame with the
    previous run's caches: [1,3,1+4(N-1),H,W]."""
    first, step = session(package / "vae_decoder" / "first.onnx"), session(package / "vae_decoder" / "step.onnx")
    sample, *caches = first.run(None, {"latent_sample": latents[:, :, :1]})
    out = [sample]
    for i in range(1, latents.shape[2]):
        sample, *caches = step.run(None, {"latent_sample": latents[:, :, i:i + 1],
                                          **{f"cache_in_{k}": c for k, c in enumerate(caches)}})
        out.append(sample)
    return np.concatenate(out, axis=2)
