"""Decoding Wan latents and encoding frames with a package's VAE graphs as the engine does (onnxruntime + numpy):
the reference the exporter's checks, the fixture generator and the fixture tests share."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # noqa: E402


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def latent_stats(package: Path, component: str = "vae_decoder") -> tuple[np.ndarray, np.ndarray]:
    """Per-channel latents_mean and latents_std of the component's config.json, shaped [1,z,1,1,1]."""
    cfg = json.loads((package / component / "config.json").read_text())
    shape = (1, cfg["z_dim"], 1, 1, 1)
    return (np.asarray(cfg["latents_mean"], dtype=np.float32).reshape(shape),
            np.asarray(cfg["latents_std"], dtype=np.float32).reshape(shape))


def denormalise(package: Path, latents: np.ndarray) -> np.ndarray:
    """x = z·latents_std + latents_mean per channel (vae_decoder/config.json), what the VAE graphs take."""
    mean, std = latent_stats(package)
    return (latents * std + mean).astype(latents.dtype)


def normalise(package: Path, latent_mean: np.ndarray) -> np.ndarray:
    """z = (μ − latents_mean) · (1/latents_std) per channel (vae_encoder/config.json), as WanVideoToVideoPipeline and
    WanImageToVideoPipeline normalise the encoder's posterior mean."""
    mean, std = latent_stats(package, "vae_encoder")
    return ((latent_mean - mean) * (np.float32(1.0) / std)).astype(latent_mean.dtype)


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


def vae_encode(folder: Path, video: np.ndarray) -> np.ndarray:
    """Frames [1,3,F,H,W] in [-1,1] through `folder`'s first.onnx (frame 0), then step.onnx for each further chunk of
    4 frames with the previous run's caches, as AutoencoderKLWan._encode chunks them (frames past the last whole
    chunk are dropped): the raw posterior mean [1,z,1+(F-1)//4,h,w]."""
    first, step = session(folder / "first.onnx"), session(folder / "step.onnx")
    mean, *caches = first.run(None, {"sample": video[:, :, :1]})
    out = [mean]
    for i in range(1, 1 + (video.shape[2] - 1) // 4):
        mean, *caches = step.run(None, {"sample": video[:, :, 1 + 4 * (i - 1):1 + 4 * i],
                                        **{f"cache_in_{k}": c for k, c in enumerate(caches)}})
        out.append(mean)
    return np.concatenate(out, axis=2)
