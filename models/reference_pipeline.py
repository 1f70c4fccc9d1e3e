#!/usr/bin/env python3
"""Reference text-to-video pipeline over the engine's ONNX model packages, with onnxruntime + numpy only.

It is the yardstick for the Rust engine (`t2v-engine`): same package layout, same tokenizer rules, same seeded
noise (see `engine/src/noise.rs`), same schedulers, same classifier-free guidance and VAE decoding.

    from reference_pipeline import generate
    frames = generate("models/fixtures/tiny-modelscope", "a cat", seed=1)   # [F, H, W, 3] float32 in 0..1

    python3 models/reference_pipeline.py PACKAGE "a cat" --seed 1 --out out/ref   # PNG frames
"""

from __future__ import annotations

import argparse
import json
import os
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

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


# ---- tokenizer ---------------------------------------------------------------------------------------------

# The Unicode classes tokenizers' regexes use, for the stdlib `re`: [^\W\d_] is a letter, \d a digit.
_UNICODE_CLASSES = [(r"[\p{L}]+", r"[^\W\d_]+"), (r"[\p{N}]", r"\d"), (r"[^\s\p{L}\p{N}]+", r"(?:[^\s\w]|_)+"),
                    (r"\p{L}+", r"[^\W\d_]+"), (r"\p{N}+", r"\d+"), (r"[^\s\p{L}\p{N}]+", r"(?:[^\s\w]|_)+")]
_GPT2_SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+")
_CLIP_SPLIT = r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"


def _regex(pattern: str) -> re.Pattern:
    for ours, stdlib in _UNICODE_CLASSES:
        pattern = pattern.replace(ours, stdlib)
    if r"\p{" in pattern:
        raise ValueError(f"unsupported tokenizer pattern {pattern!r}")
    return re.compile(pattern)


def byte_chars() -> dict[int, str]:
    """CLIP / GPT-2 byte-to-printable-character table (also used to build the fixture tokenizer)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _clip_spec(vocab: dict, merges: list, config: dict) -> dict:
    """The tokenizer.json transformers writes for a CLIP vocab.json + merges.txt."""
    def tok(key, default):
        t = config.get(key, default)
        return t.get("content", default) if isinstance(t, dict) else t

    bos, eos = tok("bos_token", "<|startoftext|>"), tok("eos_token", "<|endoftext|>")
    specials = {bos, eos, tok("unk_token", "<|endoftext|>"), tok("pad_token", "<|endoftext|>")}
    return {
        "added_tokens": [{"content": t, "id": vocab[t]} for t in specials if t in vocab],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "}, {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": _CLIP_SPLIT}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}]},
        "model": {"type": "BPE", "vocab": vocab, "merges": merges, "end_of_word_suffix": "</w>",
                  "unk_token": tok("unk_token", "<|endoftext|>")},
        "post_processor": {"type": "RobertaProcessing", "sep": [eos, vocab[eos]], "cls": [bos, vocab[bos]]},
        "padding": None,
    }


class PromptTokenizer:
    """Prompt → a fixed number of ids, by the rules of engine/src/tokenizer.rs: tokenizer.json as it is (the
    pieces these packages use: NFC/Lowercase/Replace normalizers, Split/Whitespace/ByteLevel pre-tokenizers, BPE or
    WordLevel, Roberta/Bert/Template post-processors), else CLIP's vocab.json + merges.txt."""

    def __init__(self, folder: Path, max_length: int):
        config: dict = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            if (folder / name).exists():
                config.update(json.loads((folder / name).read_text()))
        if (folder / "tokenizer.json").exists():
            spec = json.loads((folder / "tokenizer.json").read_text())
        else:
            vocab = json.loads((folder / "vocab.json").read_text())
            lines = (folder / "merges.txt").read_text().split("\n")
            spec = _clip_spec(vocab, [ln for ln in lines if ln and not ln.startswith("#version")], config)
        self.spec, model = spec, spec["model"]
        self.vocab = model["vocab"]
        self.ranks = {(tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m)): i
                      for i, m in enumerate(model.get("merges", []))}
        self.unk = self.vocab.get(model.get("unk_token"))
        self.bytes = byte_chars()
        padding = spec.get("padding") or {}
        fixed = (padding.get("strategy") or {}).get("Fixed") if isinstance(padding.get("strategy"), dict) else None
        self.length = int(fixed or min(max_length, config.get("model_max_length", max_length)))
        pad = config.get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        self.pad = padding["pad_id"] if padding else (self.vocab[pad] if pad else self.vocab.get("<|endoftext|>", 0))

    def _normalize(self, n, text: str) -> str:
        if n is None:
            return text
        kind = n["type"]
        if kind == "Sequence":
            for sub in n["normalizers"]:
                text = self._normalize(sub, text)
            return text
        if kind in ("NFC", "NFD", "NFKC", "NFKD"):
            return unicodedata.normalize(kind, text)
        if kind == "Lowercase":
            return text.lower()
        if kind == "Replace":
            pat = n["pattern"]
            return _regex(pat["Regex"]).sub(n["content"], text) if "Regex" in pat else text.replace(pat["String"], n["content"])
        raise ValueError(f"unsupported normalizer {kind}")

    def _pre(self, p, pieces: list[str]) -> list[str]:
        if p is None:
            return pieces
        kind = p["type"]
        if kind == "Sequence":
            for sub in p["pretokenizers"]:
                pieces = self._pre(sub, pieces)
            return pieces
        if kind == "Whitespace":
            return [w for x in pieces for w in re.findall(r"\w+|[^\w\s]+", x)]
        if kind == "WhitespaceSplit":
            return [w for x in pieces for w in x.split()]
        if kind == "Split" and p["behavior"] == "Removed":
            pat = p["pattern"]
            rx = _regex(pat["Regex"]) if "Regex" in pat else re.compile(re.escape(pat["String"]))
            return [w for x in pieces for w in (rx.findall(x) if p.get("invert") else rx.split(x)) if w]
        if kind == "ByteLevel":
            if p.get("add_prefix_space"):
                pieces = [x if x.startswith(" ") else " " + x for x in pieces[:1]] + pieces[1:]
            if p.get("use_regex", True):
                pieces = [w for x in pieces for w in _GPT2_SPLIT.findall(x)]
            return ["".join(self.bytes[b] for b in x.encode("utf-8")) for x in pieces]
        raise ValueError(f"unsupported pre-tokenizer {kind}")

    def _bpe(self, word: str, suffix: str) -> list[str]:
        parts = list(word[:-1]) + [word[-1] + suffix]
        while len(parts) > 1:
            rank, i = min((self.ranks.get((a, b), 1 << 60), i) for i, (a, b) in enumerate(zip(parts, parts[1:])))
            if rank == 1 << 60:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        return parts

    def _frame(self, ids: list[int]) -> list[int]:
        pp = self.spec.get("post_processor")
        if pp is None:
            return ids
        if pp["type"] in ("RobertaProcessing", "BertProcessing"):
            return [pp["cls"][1]] + ids + [pp["sep"][1]]
        if pp["type"] == "TemplateProcessing":
            out = []
            for item in pp["single"]:
                if "Sequence" in item:
                    out += ids
                else:
                    out += pp["special_tokens"][item["SpecialToken"]["id"]]["ids"]
            return out
        raise ValueError(f"unsupported post-processor {pp['type']}")

    def encode(self, text: str) -> list[int]:
        model = self.spec["model"]
        added = {t["content"]: t["id"] for t in self.spec.get("added_tokens", [])}
        # Added tokens match first, on the raw text; the text between them is tokenized piece by piece.
        segments = re.split("(" + "|".join(map(re.escape, sorted(added, key=len, reverse=True))) + ")", text) if added else [text]
        ids = []
        for segment in segments:
            if segment in added:
                ids.append(added[segment])
            elif segment:
                ids += self._encode_text(segment)
        specials = len(self._frame([]))
        ids = self._frame(ids[: self.length - specials])
        return ids + [self.pad] * (self.length - len(ids))

    def _encode_text(self, text: str) -> list[int]:
        model = self.spec["model"]
        ids = []
        for piece in self._pre(self.spec.get("pre_tokenizer"), [self._normalize(self.spec.get("normalizer"), text)]):
            if model["type"] == "BPE":
                parts = self._bpe(piece, model.get("end_of_word_suffix") or "")
            elif model["type"] == "WordLevel":
                parts = [piece]
            else:
                raise ValueError(f"unsupported tokenizer model {model['type']}")
            ids += [self.vocab[t] if t in self.vocab else self.unk for t in parts if t in self.vocab or self.unk is not None]
        return ids


# ---- schedulers (same tables and updates as engine/src/scheduler) --------------------------------------------


def _alphas_cumprod(cfg: dict) -> np.ndarray:
    n = int(cfg.get("num_train_timesteps", 1000))
    schedule = cfg.get("beta_schedule", "linear")
    if cfg.get("trained_betas"):
        betas = np.asarray(cfg["trained_betas"], dtype=np.float32)
    elif schedule == "linear":
        betas = np.linspace(cfg.get("beta_start", 0.0001), cfg.get("beta_end", 0.02), n).astype(np.float32)
    elif schedule == "scaled_linear":
        betas = np.linspace(cfg.get("beta_start", 0.0001) ** 0.5, cfg.get("beta_end", 0.02) ** 0.5, n).astype(np.float32) ** 2
    elif schedule == "squaredcos_cap_v2":
        f = lambda t: np.cos((t + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
        t = np.arange(n, dtype=np.float64)
        betas = np.minimum(1 - f((t + 1) / n) / f(t / n), 0.999).astype(np.float32)
    else:
        raise ValueError(f"beta_schedule `{schedule}` is not supported")
    return np.cumprod(1.0 - betas, dtype=np.float32).astype(np.float64)


def _spaced(spacing: str, train: int, steps: int, offset: int) -> np.ndarray:
    if spacing == "linspace":
        return np.linspace(0, train - 1, steps).round()[::-1].copy()
    if spacing == "leading":
        return (np.arange(steps) * (train // steps))[::-1].astype(np.float64) + offset
    return np.round(np.arange(train, 0, -train / steps)) - 1.0


class Scheduler:
    """One scheduler run of `steps` steps, configured from a package's scheduler_config.json."""

    KINDS = ("ddim", "euler", "euler_a", "dpmpp_2m", "lcm", "flow_euler")

    def __init__(self, kind: str, cfg: dict, steps: int):
        if kind not in self.KINDS:
            raise ValueError(f"unknown scheduler {kind!r}; choose one of {', '.join(self.KINDS)}")
        self.kind, self.steps = kind, steps
        self.train = train = int(cfg.get("num_train_timesteps", 1000))
        self.pred = cfg.get("prediction_type", "epsilon")
        self.ac = _alphas_cumprod(cfg)
        self.final_ac = 1.0 if cfg.get("set_alpha_to_one", True) else self.ac[0]
        clip = cfg.get("clip_sample")
        clip = (kind == "ddim") if clip is None else clip
        self.clip = float(cfg.get("clip_sample_range", 1.0)) if clip else None
        self.scaling = float(cfg.get("timestep_scaling", 10.0))
        spacing = cfg.get("timestep_spacing") or ("leading" if kind in ("ddim", "lcm") else "linspace")
        offset = int(cfg.get("steps_offset", 0))
        self.init_sigma, self.sigmas, self.prev_x0 = 1.0, None, None
        table = np.sqrt((1 - self.ac.astype(np.float32)) / self.ac.astype(np.float32)).astype(np.float64)
        if kind == "ddim":
            self.timesteps = _spaced(spacing, train, steps, offset)
        elif kind in ("euler", "euler_a"):
            ts = _spaced(spacing, train, steps, offset)
            if spacing == "linspace":
                ts = np.linspace(0, train - 1, steps, dtype=np.float32)[::-1].astype(np.float64)
            self.sigmas = np.append(np.interp(ts, np.arange(train), table).astype(np.float32), 0.0).astype(np.float64)
            mx = self.sigmas.max()
            self.init_sigma = mx if spacing in ("linspace", "trailing") else float(np.float32((mx * mx + 1) ** 0.5))
            self.timesteps = ts
        elif kind == "dpmpp_2m":
            if spacing == "linspace":
                ts = np.linspace(0, train - 1, steps + 1).round()[::-1][:steps]
            elif spacing == "leading":
                ts = (np.arange(steps, 0, -1) * (train // (steps + 1))).astype(np.float64) + offset
            else:
                ts = np.round(np.arange(train, 0, -train / steps)) - 1.0
            self.sigmas = np.append(np.interp(ts, np.arange(train), table).astype(np.float32), 0.0).astype(np.float64)
            self.timesteps = ts
        elif kind == "lcm":
            original = int(cfg.get("original_inference_steps", 50))
            if steps > original:
                raise ValueError(f"LCM takes at most {original} steps (got {steps})")
            origin = (np.arange(1, original + 1) * (train // original) - 1)[::-1]
            self.timesteps = origin[np.floor(np.linspace(0, original, steps, endpoint=False)).astype(int)].astype(np.float64)
        else:
            shift = float(cfg.get("shift") or cfg.get("flow_shift") or 1.0)
            sh32 = lambda s: np.float32(shift) * np.float32(s) / (1 + (np.float32(shift) - 1) * np.float32(s))  # noqa: E731
            smax, smin = float(sh32(1.0)), float(sh32(np.float32(1.0) / np.float32(train)))
            sig = np.linspace(smax * train, smin * train, steps) / train
            sig = (shift * sig / (1 + (shift - 1) * sig)).astype(np.float32)
            self.timesteps = (sig * np.float32(train)).astype(np.float64)
            self.sigmas = np.append(sig, 0.0).astype(np.float64)

    def scale_model_input(self, i: int, x: np.ndarray) -> np.ndarray:
        if self.kind in ("euler", "euler_a"):
            return (x.astype(np.float64) / float(np.float32((self.sigmas[i] ** 2 + 1) ** 0.5))).astype(np.float32)
        return x

    def _x0_alpha(self, a: float, x, m):
        if self.pred == "epsilon":
            return (x - np.sqrt(1 - a) * m) / np.sqrt(a)
        if self.pred == "v_prediction":
            return np.sqrt(a) * x - np.sqrt(1 - a) * m
        return m

    def _x0_sigma(self, s: float, x, m):
        if self.pred == "epsilon":
            return x - s * m
        if self.pred == "v_prediction":
            return m * (-s / np.sqrt(s * s + 1)) + x / (s * s + 1)
        return m

    def step(self, i: int, model_output: np.ndarray, x: np.ndarray, noise: NoiseStream) -> np.ndarray:
        m, xv, n = model_output.astype(np.float64), x.astype(np.float64), len(self.timesteps)
        t = self.timesteps[i]
        if self.kind == "ddim":
            prev = t - self.train // n
            a = self.ac[int(t)]
            ap = self.ac[int(prev)] if prev >= 0 else self.final_ac
            x0 = self._x0_alpha(a, xv, m)
            eps = {"epsilon": m, "v_prediction": np.sqrt(a) * m + np.sqrt(1 - a) * xv}.get(
                self.pred, (xv - np.sqrt(a) * x0) / np.sqrt(1 - a))
            if self.clip is not None:
                x0 = np.clip(x0, -self.clip, self.clip)
            out = np.sqrt(ap) * x0 + np.sqrt(1 - ap) * eps
        elif self.kind == "euler":
            s, nxt = self.sigmas[i], self.sigmas[i + 1]
            out = xv + (xv - self._x0_sigma(s, xv, m)) / s * (nxt - s)
        elif self.kind == "euler_a":
            s, to = self.sigmas[i], self.sigmas[i + 1]
            up = np.sqrt(to * to * (s * s - to * to) / (s * s))
            down = np.sqrt(to * to - up * up)
            moved = (xv + (xv - self._x0_sigma(s, xv, m)) / s * (down - s)).astype(np.float32).astype(np.float64)
            out = moved + noise.take(x.size).reshape(x.shape).astype(np.float64) * up
        elif self.kind == "dpmpp_2m":
            def alpha_sigma(s):
                a = 1 / np.sqrt(s * s + 1)
                return a, s * a
            a0, s0 = alpha_sigma(self.sigmas[i])
            at, st = alpha_sigma(self.sigmas[i + 1])
            with np.errstate(divide="ignore"):
                lam = lambda a, s: np.log(a) - np.log(s)  # noqa: E731
                h = lam(at, st) - lam(a0, s0)
            x0 = {"epsilon": (xv - s0 * m) / a0, "v_prediction": a0 * xv - s0 * m}.get(self.pred, m)
            x0 = x0.astype(np.float32).astype(np.float64)
            em1 = np.exp(-h) - 1.0
            if self.prev_x0 is None or i + 1 == n:
                out = (st / s0) * xv - at * em1 * x0
            else:
                a1, s1 = alpha_sigma(self.sigmas[i - 1])
                r0 = (lam(a0, s0) - lam(a1, s1)) / h
                d1 = (x0 - self.prev_x0) / r0
                out = (st / s0) * xv - at * em1 * x0 - 0.5 * at * em1 * d1
            self.prev_x0 = x0
        elif self.kind == "lcm":
            prev = self.timesteps[i + 1] if i + 1 < n else t
            a, ap = self.ac[int(t)], self.ac[int(prev)]
            st = t * self.scaling
            c_skip, c_out = 0.25 / (st * st + 0.25), st / np.sqrt(st * st + 0.25)
            x0 = self._x0_alpha(a, xv, m)
            if self.clip is not None:
                x0 = np.clip(x0, -self.clip, self.clip)
            denoised = (c_out * x0 + c_skip * xv).astype(np.float32).astype(np.float64)
            if i + 1 == n:
                out = denoised
            else:
                out = np.sqrt(ap) * denoised + np.sqrt(1 - ap) * noise.take(x.size).reshape(x.shape).astype(np.float64)
        else:
            out = xv + (self.sigmas[i + 1] - self.sigmas[i]) * m
        return out.astype(np.float32)


# ---- package and pipeline ----------------------------------------------------------------------------------


class Package:
    """A model package with its onnxruntime sessions."""

    def __init__(self, folder: Path):
        # The PyPI build records telemetry by default on Linux (~/.cache/Microsoft, /tmp/.ses) unless this is
        # set when the library loads.
        os.environ["ORT_DISABLE_TELEMETRY"] = "1"
        import onnxruntime as ort

        self.dir = folder
        read = lambda rel: json.loads((folder / rel).read_text())  # noqa: E731
        index = read("model_index.json")
        text_cfg, unet_cfg, vae_cfg = read("text_encoder/config.json"), read("unet/config.json"), read("vae_decoder/config.json")
        self.scheduler_config = read("scheduler/scheduler_config.json")
        self.tokenizer = PromptTokenizer(folder / "tokenizer", int(text_cfg.get("max_position_embeddings", 77)))
        self.latent_channels = int(unet_cfg.get("in_channels", 4))
        self.vae_factor = 2 ** (len(vae_cfg["block_out_channels"]) - 1)
        self.scaling_factor = float(vae_cfg.get("scaling_factor", 0.18215))
        size = unet_cfg.get("sample_size", 32)
        size = (size[0] if isinstance(size, list) else size) * self.vae_factor
        native = {"DDIMScheduler": "ddim", "EulerDiscreteScheduler": "euler", "EulerAncestralDiscreteScheduler": "euler_a",
                  "DPMSolverMultistepScheduler": "dpmpp_2m", "LCMScheduler": "lcm",
                  "FlowMatchEulerDiscreteScheduler": "flow_euler"}.get(self.scheduler_config.get("_class_name"), "ddim")
        self.defaults = {"width": size, "height": size, "frames": 16, "steps": 25, "guidance": 9.0, "scheduler": native}
        self.defaults.update(index.get("t2v_defaults", {}))
        opts = ort.SessionOptions()
        load = lambda rel: ort.InferenceSession(str(folder / rel), opts, providers=["CPUExecutionProvider"])  # noqa: E731
        self.text, self.unet, self.vae = load("text_encoder/model.onnx"), load("unet/model.onnx"), load("vae_decoder/model.onnx")

    @staticmethod
    def _float(arg) -> type:
        return np.float16 if arg.type == "tensor(float16)" else np.float32

    def encode(self, texts: list[str]) -> np.ndarray:
        ids = np.asarray([self.tokenizer.encode(t) for t in texts], dtype=np.int64)
        inp = self.text.get_inputs()[0]
        ids = ids.astype(np.int32) if inp.type == "tensor(int32)" else ids
        names = [o.name for o in self.text.get_outputs()]
        out = self.text.run(["last_hidden_state" if "last_hidden_state" in names else names[0]], {"input_ids": ids})[0]
        return out.astype(np.float32)

    def denoise(self, sample: np.ndarray, t: float, context: np.ndarray) -> np.ndarray:
        ins = {i.name: i for i in self.unet.get_inputs()}
        ts = ins["timestep"]
        dtype = {"tensor(int64)": np.int64, "tensor(float16)": np.float16}.get(ts.type, np.float32)
        tval = np.asarray(round(t) if dtype == np.int64 else t, dtype=dtype)
        if len(ts.shape) == 1:
            tval = np.full((sample.shape[0],), tval, dtype=dtype)
        feed = {"sample": sample.astype(self._float(ins["sample"])), "timestep": tval,
                "encoder_hidden_states": context.astype(self._float(ins["encoder_hidden_states"]))}
        names = [o.name for o in self.unet.get_outputs()]
        return self.unet.run(["out_sample" if "out_sample" in names else names[0]], feed)[0].astype(np.float32)

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """[1, C, F, h, w] latents → [F, H, W, 3] in 0..1."""
        z = latents[0].transpose(1, 0, 2, 3) * np.float32(1.0 / self.scaling_factor)
        inp = self.vae.get_inputs()[0]
        names = [o.name for o in self.vae.get_outputs()]
        out = self.vae.run(["sample" if "sample" in names else names[0]], {inp.name: z.astype(self._float(inp))})[0]
        return np.clip(out.astype(np.float32) / 2 + 0.5, 0.0, 1.0).transpose(0, 2, 3, 1)


@lru_cache(maxsize=4)
def load_package(package_dir: str) -> Package:
    """The package at `package_dir`, loaded once per process."""
    return Package(Path(package_dir).resolve())


def generate(package_dir, prompt, negative_prompt="", seed=0, steps=None, guidance=None, scheduler=None,
             width=None, height=None, frames=None, latents=None) -> np.ndarray:
    """Generates a clip: [F, H, W, 3] float32 in 0..1. Unset settings take the package's defaults. `latents`
    (unit-variance, [1, C, F, h, w]) replaces the seed's initial noise."""
    pkg = load_package(str(Path(package_dir).resolve()))
    d = pkg.defaults
    steps, guidance = int(steps or d["steps"]), float(d["guidance"] if guidance is None else guidance)
    width, height, frames = int(width or d["width"]), int(height or d["height"]), int(frames or d["frames"])
    sched = Scheduler(scheduler or d["scheduler"], pkg.scheduler_config, steps)
    shape = (1, pkg.latent_channels, frames, height // pkg.vae_factor, width // pkg.vae_factor)
    noise = NoiseStream(seed)
    x = noise.take(int(np.prod(shape))).reshape(shape)
    if latents is not None:
        x = np.asarray(latents, dtype=np.float32).reshape(shape)
    guided = guidance > 1.0
    context = pkg.encode([negative_prompt, prompt] if guided else [prompt])
    x = (x * np.float32(sched.init_sigma)).astype(np.float32)
    for i, t in enumerate(sched.timesteps):
        inp = sched.scale_model_input(i, x)
        out = pkg.denoise(np.concatenate([inp, inp]) if guided else inp, float(t), context)
        pred = out[:1] + np.float32(guidance) * (out[1:] - out[:1]) if guided else out
        x = sched.step(i, pred, x, noise)
    return pkg.decode(x)


def main() -> None:
    ap = argparse.ArgumentParser(description="Generate a clip with the reference pipeline; writes PNG frames.")
    ap.add_argument("package", type=Path)
    ap.add_argument("prompt")
    ap.add_argument("--negative", default="")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--guidance", type=float)
    ap.add_argument("--scheduler", choices=Scheduler.KINDS)
    ap.add_argument("--width", type=int)
    ap.add_argument("--height", type=int)
    ap.add_argument("--frames", type=int)
    ap.add_argument("--out", type=Path, default=Path("out/reference"))
    a = ap.parse_args()
    video = generate(a.package, a.prompt, a.negative, a.seed, a.steps, a.guidance, a.scheduler, a.width, a.height,
                     a.frames)
    from PIL import Image

    a.out.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(video):
        Image.fromarray((frame * 255 + 0.5).astype(np.uint8)).save(a.out / f"frame_{i:04d}.png")
    print(f"{len(video)} frames {video.shape[2]}x{video.shape[1]} -> {a.out}")


if __name__ == "__main__":
    main()
