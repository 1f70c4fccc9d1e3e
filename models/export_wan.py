"""Convert a diffusers ``WanPipeline`` folder (Wan2.1 T2V, Wan2.2 TI2V-5B) into the Wan package the engine reads
(docs/ARCHITECTURE.md, "Wan package"): a UMT5 text encoder, the DiT transformer with fused attention, and the
causal VAE decoder and encoder, each as a first-frame graph plus a step graph whose feature caches are explicit inputs
and outputs.

Called through models/export_diffusers.py, which picks this module from the folder's ``_class_name``.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import torch
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d, patchify, unpatchify
from torch.onnx import symbolic_helper

from onnx_export import (
    CHECK_TOLERANCE, DTYPES, OPSET, export_graph, pin_output_shapes, write_json, write_model_index,
)
from wan_vae import vae_encode

# What each Wan release generates by default (the model cards' settings); TI2V is the one with per-token timesteps.
WAN21_DEFAULTS = {"width": 832, "height": 480, "frames": 81, "fps": 16.0}
WAN22_TI2V_DEFAULTS = {"width": 1280, "height": 704, "frames": 121, "fps": 24.0}
COMMON_DEFAULTS = {"steps": 50, "guidance": 5.0, "scheduler": "unipc"}
# The UMT5 context length every Wan transformer is trained with; padding rows are zeroed, never cut.
TEXT_LENGTH = 512


# ---- fused attention --------------------------------------------------------------------------------------


def _multi_head_attention(heads: int):
    """A symbolic for scaled_dot_product_attention on [B,H,S,D] with H = `heads` (the traced graph no longer knows
    it): one com.microsoft::MultiHeadAttention on [B,S,H·D], which ONNX Runtime runs as a fused kernel instead of
    materialising the S×S scores (≈26 GB per call at 480p × 81 frames)."""

    @symbolic_helper.parse_args("v", "v", "v", "v", "f", "b", "v", "b")
    def symbolic(g, query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa):
        if not symbolic_helper._is_none(attn_mask) or is_causal or dropout_p or enable_gqa:
            raise ValueError("fused attention export supports unmasked, non-causal attention only")
        attrs = {"num_heads_i": heads}
        if not symbolic_helper._is_none(scale):
            attrs["scale_f"] = symbolic_helper._maybe_get_const(scale, "f")
        to_bsd = g.op("Constant", value_t=torch.tensor([0, 0, -1], dtype=torch.int64))
        to_bshd = g.op("Constant", value_t=torch.tensor([0, 0, heads, -1], dtype=torch.int64))

        def packed(x):
            return g.op("Reshape", g.op("Transpose", x, perm_i=[0, 2, 1, 3]), to_bsd)

        out = g.op("com.microsoft::MultiHeadAttention", packed(query), packed(key), packed(value), **attrs)
        out = g.op("Transpose", g.op("Reshape", out, to_bshd), perm_i=[0, 2, 1, 3])
        out.setType(query.type())
        return out

    return symbolic


@symbolic_helper.parse_args("v", "is", "v", "v")
def _rms_norm(g, x, normalized_shape, weight, eps):
    """torch.nn.RMSNorm (the transformer's q/k norms) for opset 17, which has no RMSNormalization: computed in f32
    like torch, x / sqrt(mean(x², last dims) + eps) · weight."""
    eps = symbolic_helper._maybe_get_const(eps, "f")
    if symbolic_helper._is_none(eps) or eps is None:
        raise ValueError("RMSNorm export needs an explicit eps")
    x32 = g.op("Cast", x, to_i=torch.onnx.TensorProtoDataType.FLOAT)
    axes = list(range(-len(normalized_shape), 0))
    mean_sq = g.op("ReduceMean", g.op("Mul", x32, x32), axes_i=axes, keepdims_i=1)
    eps_t = g.op("Constant", value_t=torch.tensor(eps, dtype=torch.float32))
    normed = g.op("Div", x32, g.op("Sqrt", g.op("Add", mean_sq, eps_t)))
    normed = g.op("CastLike", normed, x)
    out = normed if symbolic_helper._is_none(weight) else g.op("Mul", normed, weight)
    out.setType(x.type())
    return out


@symbolic_helper.parse_args("v", "v", "v")
def _upsample_nearest_exact2d(g, x, output_size, scale_factors):
    """The VAE's 2× "nearest-exact" upsampling, which opset 17 lacks: for a whole scale factor s, source pixel
    floor((d + 0.5) / s) is floor(d / s), i.e. Resize nearest / asymmetric / floor."""
    scales = symbolic_helper._maybe_get_const(scale_factors, "fs")
    if symbolic_helper._is_none(scale_factors) or any(float(f) != int(f) for f in scales):
        raise ValueError("nearest-exact upsampling exports for whole scale factors only")
    scales_t = g.op("Constant", value_t=torch.tensor([1.0, 1.0, *scales], dtype=torch.float32))
    empty = g.op("Constant", value_t=torch.tensor([], dtype=torch.float32))
    return g.op("Resize", x, empty, scales_t, mode_s="nearest", coordinate_transformation_mode_s="asymmetric",
                nearest_mode_s="floor")


@contextmanager
def wan_symbolics(attention_heads: int):
    """Exports traced inside this block emit fused attention (every attention in the graph has `attention_heads`
    heads), and opset-17 forms of RMSNorm and nearest-exact upsampling."""
    symbolics = {"aten::scaled_dot_product_attention": _multi_head_attention(attention_heads),
                 "aten::rms_norm": _rms_norm, "aten::_upsample_nearest_exact2d": _upsample_nearest_exact2d}
    for name, fn in symbolics.items():
        torch.onnx.register_custom_op_symbolic(name, fn, OPSET)
    try:
        yield
    finally:
        for name in symbolics:
            torch.onnx.unregister_custom_op_symbolic(name, OPSET)


# ---- modules as the package's graphs ----------------------------------------------------------------------


class TextEncoderForExport(torch.nn.Module):
    """UMT5 encoder with the attention mask, as WanPipeline calls it (the engine zeroes the padding rows)."""

    def __init__(self, text_encoder):
        super().__init__()
        self.text_encoder = text_encoder

    def forward(self, input_ids, attention_mask):
        return self.text_encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class TraceableWanAttnProcessor:
    """diffusers' WanAttnProcessor (text-to-video: no image key/value) with the rotary embedding written as a stack
    instead of strided in-place writes, which the tracer bakes into fixed-shape Expand nodes; the same arithmetic."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        if attn.add_k_proj is not None or attention_mask is not None:
            raise ValueError("the Wan export covers text-to-video attention (no image context, no mask)")
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        query = attn.norm_q(attn.to_q(hidden_states)).unflatten(2, (attn.heads, -1))
        key = attn.norm_k(attn.to_k(context)).unflatten(2, (attn.heads, -1))
        value = attn.to_v(context).unflatten(2, (attn.heads, -1))
        if rotary_emb is not None:
            query, key = (_apply_rotary(x, *rotary_emb) for x in (query, key))
        out = torch.nn.functional.scaled_dot_product_attention(
            query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2)
        ).transpose(1, 2)
        out = out.flatten(2, 3).type_as(query)
        return attn.to_out[1](attn.to_out[0](out))


def _apply_rotary(x, freqs_cos, freqs_sin):
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    cos, sin = freqs_cos[..., 0::2], freqs_sin[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2).type_as(x)


class TransformerForExport(torch.nn.Module):
    """The Wan DiT with positional inputs and a plain tensor output."""

    def __init__(self, transformer):
        super().__init__()
        self.transformer = transformer

    def forward(self, hidden_states, timestep, encoder_hidden_states):
        return self.transformer(hidden_states, timestep, encoder_hidden_states, return_dict=False)[0]


CACHE_FRAMES = 2  # every causal conv of the VAE keeps its last two input frames


def _full_cache(entry: torch.Tensor) -> torch.Tensor:
    """A cache holding fewer than two frames, zero-padded at the front: the causal conv pads with zeros there anyway,
    so the next step computes the same and every step sees one fixed cache shape."""
    missing = CACHE_FRAMES - entry.shape[2]
    if missing <= 0:
        return entry
    return torch.cat([torch.zeros_like(entry[:, :, :1])] * missing + [entry], dim=2)


class VaeDecodeStep(torch.nn.Module):
    """One latent frame through AutoencoderKLWan's decoder, as diffusers' `_decode` loop runs it.

    `first=True`: latent frame 0 (`first_chunk`, 1 output frame, no cache in); it returns the caches the next step
    takes. `first=False`: a later latent frame (4 output frames) with the caches of the previous run as inputs.
    `latent_sample` is de-normalised already (z·std + mean)."""

    def __init__(self, vae, first: bool):
        super().__init__()
        self.vae, self.first = vae, first
        self.slots = sum(isinstance(m, WanCausalConv3d) for m in vae.decoder.modules())
        self.time_upsamplers = [m for m in vae.decoder.modules() if getattr(m, "mode", None) == "upsample3d"]

    def forward(self, latent_sample, *caches):
        cache = list(caches) + [None] * (self.slots - len(caches))
        x = self.vae.post_quant_conv(latent_sample)
        with self._upsampler_inputs() as upsampler_inputs:
            out = self.vae.decoder(x, feat_cache=cache, feat_idx=[0], first_chunk=self.first)
        if self.vae.config.patch_size is not None:
            out = unpatchify(out, patch_size=self.vae.config.patch_size)
        used = [c for c in cache if c is not None]
        # On frame 0 an upsampler's time conv is skipped ("Rep"); on the next frame it runs on zero padding, which
        # is a zero cache of two frames of its input.
        reps = iter(upsampler_inputs)
        used = [_full_cache(torch.zeros_like(next(reps))) if isinstance(c, str) else _full_cache(c) for c in used]
        return (torch.clamp(out, -1.0, 1.0), *used)

    @contextmanager
    def _upsampler_inputs(self):
        seen = []
        hooks = [m.register_forward_pre_hook(lambda _m, args: seen.append(args[0])) for m in self.time_upsamplers]
        try:
            yield seen
        finally:
            for h in hooks:
                h.remove()


class VaeEncodeStep(torch.nn.Module):
    """One chunk of frames through AutoencoderKLWan's encoder, as diffusers' `_encode` loop runs it: patchify (Wan2.2),
    the encoder with the feature caches, quant_conv, and the posterior's mean (the first z channels; never a sample).

    `first=True`: frame 0 alone, no cache in; `first=False`: a chunk of 4 frames with the previous run's caches as
    inputs. Both give one latent frame and return the caches zero-padded to two frames (the causal convs pad with
    zeros where a cache is short, so the result is the same and every step sees one fixed cache shape; a temporal
    downsampler's cache is one frame, and it reads only the last)."""

    def __init__(self, vae, first: bool):
        super().__init__()
        self.vae, self.first = vae, first
        self.slots = sum(isinstance(m, WanCausalConv3d) for m in vae.encoder.modules())

    def forward(self, sample, *caches):
        cache = list(caches) + [None] * (self.slots - len(caches))
        if self.vae.config.patch_size is not None:
            sample = patchify(sample, patch_size=self.vae.config.patch_size)
        out = self.vae.quant_conv(self.vae.encoder(sample, feat_cache=cache, feat_idx=[0]))
        mean = out[:, : self.vae.config.z_dim]
        return (mean, *(_full_cache(c) for c in cache if c is not None))


# ---- the package ------------------------------------------------------------------------------------------


def _axis_name(size: int, base: int, name: str) -> str:
    return name if size == base else f"{name}_x{size // base}"


def export_vae_decoder(vae, out: Path, external: str, dtype: torch.dtype) -> int:
    """Writes vae_decoder/first.onnx and step.onnx; returns the number of cache tensors."""
    lh, lw = 4, 6
    latent = torch.randn((1, vae.config.z_dim, 1, lh, lw), dtype=dtype)
    first = VaeDecodeStep(vae, first=True).eval()
    with torch.no_grad():
        _, *caches = first(latent)
    k = len(caches)
    latent_axes = {0: "batch", 3: "latent_height", 4: "latent_width"}
    sample_axes = {0: "batch", 3: "height", 4: "width"}
    cache_axes = [
        {0: "batch", 3: _axis_name(c.shape[3], lh, "latent_height"), 4: _axis_name(c.shape[4], lw, "latent_width")}
        for c in caches
    ]
    cache_out = [f"cache_out_{i}" for i in range(k)]
    cache_in = [f"cache_in_{i}" for i in range(k)]
    # The VAE's attention (mid block) is single-head over the pixels of one frame.
    with wan_symbolics(attention_heads=1):
        export_graph(first, (latent,), ["latent_sample"], ["sample", *cache_out],
                     {"latent_sample": latent_axes, "sample": sample_axes, **dict(zip(cache_out, cache_axes))},
                     out / "vae_decoder" / "first.onnx", external)
        step = VaeDecodeStep(vae, first=False).eval()
        with torch.no_grad():
            _, *step_caches = step(latent, *caches)
        mismatched = [i for i, (a, b) in enumerate(zip(caches, step_caches)) if a.shape != b.shape]
        if len(step_caches) != k or mismatched:
            raise RuntimeError(f"VAE caches change shape between the first frame and a step (slots {mismatched})")
        export_graph(step, (latent, *caches), ["latent_sample", *cache_in], ["sample", *cache_out],
                     {"latent_sample": latent_axes, "sample": sample_axes, **dict(zip(cache_in, cache_axes)),
                      **dict(zip(cache_out, cache_axes))},
                     out / "vae_decoder" / "step.onnx", external)
    # The engine reads the cache shapes from the graphs: both declare exactly the shapes step.onnx takes.
    shapes = {name: [axes.get(d, size) for d, size in enumerate(c.shape)]
              for name, axes, c in zip(cache_out, cache_axes, caches)}
    for graph in ("first.onnx", "step.onnx"):
        pin_output_shapes(out / "vae_decoder" / graph, shapes)
    return k


def export_vae_encoder(vae, out: Path, external: str, dtype: torch.dtype) -> int:
    """Writes vae_encoder/first.onnx (frame 0) and step.onnx (4 frames + caches), checked together against
    `vae.encode(x).latent_dist.mean` on 9 frames; returns the number of cache tensors."""
    s = vae.config.scale_factor_spatial
    lh, lw = 4, 6
    first = VaeEncodeStep(vae, first=True).eval()
    frame = torch.rand((1, 3, 1, lh * s, lw * s), dtype=dtype) * 2 - 1
    chunk = torch.rand((1, 3, 4, lh * s, lw * s), dtype=dtype) * 2 - 1
    with torch.no_grad():
        _, *caches = first(frame)
        _, *step_caches = VaeEncodeStep(vae, first=False).eval()(chunk, *caches)
    k = len(caches)
    mismatched = [i for i, (a, b) in enumerate(zip(caches, step_caches)) if a.shape != b.shape]
    if len(step_caches) != k or mismatched:
        raise RuntimeError(f"VAE encoder caches change shape between the first frame and a step (slots {mismatched})")
    sample_axes = {0: "batch", 3: "height", 4: "width"}
    latent_axes = {0: "batch", 3: "latent_height", 4: "latent_width"}
    cache_axes = [
        {0: "batch", 3: _axis_name(c.shape[3], lh, "latent_height"), 4: _axis_name(c.shape[4], lw, "latent_width")}
        for c in caches
    ]
    cache_out = [f"cache_out_{i}" for i in range(k)]
    cache_in = [f"cache_in_{i}" for i in range(k)]
    folder = out / "vae_encoder"
    with wan_symbolics(attention_heads=1):
        export_graph(first, (frame,), ["sample"], ["latent_mean", *cache_out],
                     {"sample": sample_axes, "latent_mean": latent_axes, **dict(zip(cache_out, cache_axes))},
                     folder / "first.onnx", external)
        export_graph(VaeEncodeStep(vae, first=False).eval(), (chunk, *caches), ["sample", *cache_in],
                     ["latent_mean", *cache_out],
                     {"sample": sample_axes, "latent_mean": latent_axes, **dict(zip(cache_in, cache_axes)),
                      **dict(zip(cache_out, cache_axes))},
                     folder / "step.onnx", external)
    shapes = {name: [axes.get(d, size) for d, size in enumerate(c.shape)]
              for name, axes, c in zip(cache_out, cache_axes, caches)}
    shapes["latent_mean"] = ["batch", vae.config.z_dim, 1, "latent_height", "latent_width"]
    for graph in ("first.onnx", "step.onnx"):
        pin_output_shapes(folder / graph, shapes)
    video = torch.rand((1, 3, 9, lh * s, lw * s), dtype=dtype) * 2 - 1
    with torch.no_grad():
        want = vae.encode(video).latent_dist.mean
    got = torch.from_numpy(vae_encode(folder, video.numpy()))
    diff = float((got.double() - want.double()).abs().max())
    if not diff <= CHECK_TOLERANCE[dtype]:
        for graph in ("first.onnx", "step.onnx"):
            (folder / graph).unlink()
        raise RuntimeError(f"{folder}: the first/step graphs differ from vae.encode by {diff}")
    return k


def export_text_encoder(text_encoder, out: Path, external: str) -> None:
    ids = torch.ones((2, TEXT_LENGTH), dtype=torch.int64)
    mask = torch.zeros((2, TEXT_LENGTH), dtype=torch.int64)
    mask[:, :8] = 1
    export_graph(TextEncoderForExport(text_encoder), (ids, mask), ["input_ids", "attention_mask"],
                 ["last_hidden_state"],
                 {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                  "last_hidden_state": {0: "batch", 1: "sequence"}},
                 out / "text_encoder" / "model.onnx", external)


def export_transformer(transformer, out: Path, external: str, dtype: torch.dtype, per_token_timestep: bool) -> None:
    cfg = transformer.config
    _, ph, pw = cfg.patch_size
    frames, lh, lw = 2, 2 * ph, 3 * pw
    sample = torch.randn((2, cfg.in_channels, frames, lh, lw), dtype=dtype)
    tokens = frames * (lh // ph) * (lw // pw)
    timestep = torch.full((2, tokens) if per_token_timestep else (2,), 500.0, dtype=torch.float32)
    ehs = torch.randn((2, TEXT_LENGTH, cfg.text_dim), dtype=dtype)
    processors = transformer.attn_processors
    transformer.set_attn_processor(TraceableWanAttnProcessor())
    with wan_symbolics(cfg.num_attention_heads):
        export_graph(TransformerForExport(transformer), (sample, timestep, ehs),
                     ["hidden_states", "timestep", "encoder_hidden_states"], ["out_sample"],
                     {"hidden_states": {0: "batch", 2: "frames", 3: "height", 4: "width"},
                      "timestep": {0: "batch", 1: "tokens"} if per_token_timestep else {0: "batch"},
                      "encoder_hidden_states": {0: "batch", 1: "sequence"},
                      "out_sample": {0: "batch", 2: "frames", 3: "height", 4: "width"}},
                     out / "transformer" / "model.onnx", external)
    transformer.set_attn_processor(processors)


def default_settings(pipe, overrides: dict) -> dict:
    """The package's t2v_defaults: the release's own settings, then whatever the command line gave."""
    ti2v = bool(pipe.config.get("expand_timesteps", False))
    base = {**(WAN22_TI2V_DEFAULTS if ti2v else WAN21_DEFAULTS), **COMMON_DEFAULTS}
    base.update({k: v for k, v in overrides.items() if v is not None})
    base.setdefault("max_frames", base["frames"])
    return base


def load_pipeline(src: Path, dtype: str):
    from diffusers import WanPipeline

    # diffusers keeps each model's _keep_in_fp32_modules (RoPE, time embedding, norms; UMT5's `wo`) in fp32.
    return WanPipeline.from_pretrained(str(src), torch_dtype=DTYPES[dtype])


def export_pipeline(pipe, out: Path, defaults: dict, external: str = "auto", license: str | None = None,
                    source: str | None = None) -> None:
    """Export every component of a loaded WanPipeline into `out` and write the package's JSON."""
    if getattr(pipe, "transformer_2", None) is not None:
        raise SystemExit("this WanPipeline has two transformers (Wan2.2 A14B's high/low-noise experts); the package "
                         "format holds one: export Wan2.1 T2V or Wan2.2 TI2V-5B")
    out.mkdir(parents=True, exist_ok=True)
    transformer, vae, text_encoder = pipe.transformer.eval(), pipe.vae.eval(), pipe.text_encoder.eval()
    ti2v = bool(pipe.config.get("expand_timesteps", False))
    export_text_encoder(text_encoder, out, external)
    export_transformer(transformer, out, external, transformer.dtype, ti2v)
    export_vae_decoder(vae, out, external, vae.dtype)
    export_vae_encoder(vae, out, external, vae.dtype)

    write_json(out / "text_encoder" / "config.json", text_encoder.config.to_dict())
    write_json(out / "transformer" / "config.json", dict(transformer.config))
    write_json(out / "vae_decoder" / "config.json", dict(vae.config))
    write_json(out / "vae_encoder" / "config.json", dict(vae.config))
    write_json(out / "scheduler" / "scheduler_config.json", dict(pipe.scheduler.config))
    tok_dir = out / "tokenizer"
    if tok_dir.exists():
        shutil.rmtree(tok_dir)
    pipe.tokenizer.save_pretrained(str(tok_dir))
    index = {
        "_class_name": "WanPipeline",
        "scheduler": ["diffusers", type(pipe.scheduler).__name__],
        "text_encoder": ["onnx", "text_encoder/model.onnx"],
        "tokenizer": ["transformers", type(pipe.tokenizer).__name__],
        "transformer": ["onnx", "transformer/model.onnx"],
        "vae_decoder": ["onnx", "vae_decoder/first.onnx"],
        "vae_encoder": ["onnx", "vae_encoder/first.onnx"],
        "t2v_defaults": defaults,
        "t2v_text_length": TEXT_LENGTH,
    }
    if ti2v:
        index["expand_timesteps"] = True
    write_model_index(out, index, license, source)
