#!/usr/bin/env python3
"""Reference text-to-video pipeline over the engine's ONNX model packages, with onnxruntime + numpy only.

It is the yardstick for the Rust engine (`t2v-engine`): same package layout, same tokenizer rules, same seeded
noise (see `engine/src/noise.rs`), same schedulers, same classifier-free guidance and VAE decoding.
"""

from __future__ import annotations

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(seed: int, start: int, count: int) -> np.ndarray:
    """Outputs start..start+count of SplitMix64 seeded with `seed` (output i mixes seed + (i+1)·γ)."""
    with np.errstate(over="ignore"):
        i = np.arange(start + 1, start + count + 1, dtype=np.uint64)
        z = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) + i * _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


class NoiseStream:
    """The engine's seeded standard-normal stream: SplitMix64 → uniform ((x >> 11) + 0.5)·2⁻⁵³ → Box–Muller
    pairs (cos first, then sin) in f64, cast to f32. Values are consumed in order across draws."""

    def __init__(self, seed: int):
        self.seed, self.pos = seed, 0

    def take(self, count: int) -> np.ndarray:
        first_pair, end = self.pos // 2, self.pos + count
        pairs = (end + 1) // 2 - first_pair
        x = _splitmix64(self.seed, 2 * first_pair, 2 * pairs)
        u = ((x >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
        r = np.sqrt(-2.0 * np.log(u[0::2]))
        theta = 2.0 * np.pi * u[1::2]
        values = np.empty(2 * pairs, dtype=np.float64)
        values[0::2] = r * np.cos(theta)
        values[1::2] = r * np.sin(theta)
        out = values[self.pos - 2 * first_pair:self.pos - 2 * first_pair + count].astype(np.float32)
        self.pos = end
        return out


def seeded_normals(seed: int, count: int) -> np.ndarray:
    """The first `count` values of the noise stream for `seed`."""
    return NoiseStream(seed).take(count)
