#!/usr/bin/env python3
"""Convert a diffusers ``TextToVideoSDPipeline`` folder (ModelScope text-to-video-ms-1.7b, Zeroscope v2)
into the ONNX model package the engine reads (see docs/ARCHITECTURE.md, "Model package").

Uses the legacy TorchScript exporter (``dynamo=False``, opset 17): the dynamo exporter produces a UNet3D
that ONNX Runtime rejects. Every model is saved with an IR version ONNX Runtime 1.31 reads (<= 13), and
models too large for one protobuf get their weights merged into a single ``model.onnx_data``.

Needs torch, diffusers, transformers and onnx (models/requirements-export.txt); CI never runs it.

    python3 models/export_diffusers.py SRC_DIFFUSERS_FOLDER OUT_FOLDER [--frames 16 --fps 8 ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import onnx
import torch

# ONNX Runtime 1.31 reads IR version 13 at most; opset 17 needs 8 at least.
MAX_IR_VERSION = 10
# Protobuf cannot hold more than 2 GiB; stay well below it before switching to external data.
INLINE_LIMIT_BYTES = 1 << 30


class UNetForExport(torch.nn.Module):
    """The 3D UNet with positional inputs and a plain tensor output."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states, return_dict=False)[0]


class VaeDecoderForExport(torch.nn.Module):
    """The VAE decoder (post-quant conv included), run per frame: frames are folded into the batch."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample, return_dict=False)[0]


class TextEncoderForExport(torch.nn.Module):
    """The CLIP text encoder without attention mask, as TextToVideoSDPipeline calls it."""

    def __init__(self, text_encoder):
        super().__init__()
        self.text_encoder = text_encoder

    def forward(self, input_ids):
        out = self.text_encoder(input_ids, return_dict=True)
        return out.last_hidden_state, out.pooler_output


def _finish_onnx(tmp_file: Path, out_dir: Path, external: str) -> None:
    """Load the exported graph with its weights, pin the IR version and save it as model.onnx,
    merging all weights into one model.onnx_data when asked or when the model is too large."""
    # The exporter spills large models into one file per weight next to model.onnx: count them all.
    size = sum(f.stat().st_size for f in tmp_file.parent.iterdir() if f.is_file())
    model = onnx.load(str(tmp_file), load_external_data=True)
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    out_dir.mkdir(parents=True, exist_ok=True)
    use_external = external == "always" or (external == "auto" and size > INLINE_LIMIT_BYTES)
    for stale in ("model.onnx", "model.onnx_data"):
        (out_dir / stale).unlink(missing_ok=True)
    if use_external:
        onnx.save_model(
            model,
            str(out_dir / "model.onnx"),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location="model.onnx_data",
            size_threshold=1024,
        )
        # onnx creates the data file owner-only; packages are installed for every user.
        (out_dir / "model.onnx_data").chmod(0o644)
    else:
        onnx.save_model(model, str(out_dir / "model.onnx"))
    onnx.checker.check_model(str(out_dir / "model.onnx"))


def _export(module, args, names_in, names_out, dynamic_axes, out_dir: Path, external: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_file = Path(tmp) / "model.onnx"
        with torch.no_grad():
            torch.onnx.export(
                module,
                args,
                str(tmp_file),
                input_names=names_in,
                output_names=names_out,
                dynamic_axes=dynamic_axes,
                opset_version=17,
                do_constant_folding=True,
                dynamo=False,
            )
        _finish_onnx(tmp_file, out_dir, external)


def _write_json(path: Path, value) -> None:
    # Where the source was loaded from means nothing in the package (and would leak local paths).
    value = {k: v for k, v in value.items() if k != "_name_or_path"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def export_pipeline(
    pipe, out: Path, defaults: dict, external: str = "auto", src: Path | None = None, license: str | None = None
) -> None:
    """Export every component of a loaded TextToVideoSDPipeline into `out` and write the package's JSON."""
    out.mkdir(parents=True, exist_ok=True)
    unet, vae, text_encoder = pipe.unet.eval(), pipe.vae.eval(), pipe.text_encoder.eval()
    dtype = unet.dtype
    max_len = pipe.tokenizer.model_max_length
    hidden = text_encoder.config.hidden_size
    lc = unet.config.in_channels
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    lh, lw = defaults["height"] // factor, defaults["width"] // factor

    ids = torch.zeros((2, max_len), dtype=torch.int64)
    _export(
        TextEncoderForExport(text_encoder),
        (ids,),
        ["input_ids"],
        ["last_hidden_state", "pooler_output"],
        {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"},
         "pooler_output": {0: "batch"}},
        out / "text_encoder",
        external,
    )
    sample = torch.randn((2, lc, 2, lh, lw), dtype=dtype)
    timestep = torch.tensor([500.0, 500.0], dtype=torch.float32)
    ehs = torch.randn((2, max_len, hidden), dtype=dtype)
    _export(
        UNetForExport(unet),
        (sample, timestep, ehs),
        ["sample", "timestep", "encoder_hidden_states"],
        ["out_sample"],
        {
            "sample": {0: "batch", 2: "frames", 3: "height", 4: "width"},
            "timestep": {0: "batch"},
            "encoder_hidden_states": {0: "batch", 1: "sequence"},
            "out_sample": {0: "batch", 2: "frames", 3: "height", 4: "width"},
        },
        out / "unet",
        external,
    )
    latent = torch.randn((2, vae.config.latent_channels, lh, lw), dtype=dtype)
    _export(
        VaeDecoderForExport(vae),
        (latent,),
        ["latent_sample"],
        ["sample"],
        {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}},
        out / "vae_decoder",
        external,
    )

    _write_json(out / "text_encoder" / "config.json", text_encoder.config.to_dict())
    _write_json(out / "unet" / "config.json", dict(unet.config))
    _write_json(out / "vae_decoder" / "config.json", dict(vae.config))
    _write_json(out / "scheduler" / "scheduler_config.json", dict(pipe.scheduler.config))
    tok_dir = out / "tokenizer"
    if tok_dir.exists():
        shutil.rmtree(tok_dir)
    pipe.tokenizer.save_pretrained(str(tok_dir))
    if src is not None and (src / "tokenizer").is_dir():
        # Keep the original vocab.json / merges.txt next to whatever save_pretrained wrote.
        for f in (src / "tokenizer").iterdir():
            if f.is_file() and not (tok_dir / f.name).exists():
                shutil.copy(f, tok_dir / f.name)
    index = {
        "_class_name": "TextToVideoSDPipeline",
        "scheduler": ["diffusers", type(pipe.scheduler).__name__],
        "text_encoder": ["onnx", "text_encoder/model.onnx"],
        "tokenizer": ["transformers", type(pipe.tokenizer).__name__],
        "unet": ["onnx", "unet/model.onnx"],
        "vae_decoder": ["onnx", "vae_decoder/model.onnx"],
        "t2v_defaults": defaults,
    }
    if license:
        index["t2v_license"] = license  # recorded in every clip.json the plugin writes
    _write_json(out / "model_index.json", index)


def default_settings(pipe, args) -> dict:
    factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    sample = pipe.unet.config.sample_size
    sample = sample if isinstance(sample, int) else sample[0]
    size = sample * factor
    return {
        "width": args.width or size,
        "height": args.height or size,
        "frames": args.frames,
        "max_frames": args.max_frames,
        "fps": args.fps,
        "steps": args.steps,
        "guidance": args.guidance,
        "scheduler": args.scheduler,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="diffusers TextToVideoSDPipeline folder")
    ap.add_argument("out", type=Path, help="output package folder")
    ap.add_argument("--width", type=int, default=0, help="default width (0: unet sample_size x VAE factor)")
    ap.add_argument("--height", type=int, default=0, help="default height (0: unet sample_size x VAE factor)")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--max-frames", type=int, default=64)
    ap.add_argument("--fps", type=float, default=8.0)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, default=9.0)
    ap.add_argument("--scheduler", default="ddim", help="ddim, euler, euler_a, dpmpp_2m, lcm (epsilon / v-prediction models), flow_euler (flow-matching models)")
    ap.add_argument("--external-data", choices=["auto", "always", "never"], default="auto")
    ap.add_argument("--license", help="the model's licence as its model card states it (e.g. cc-by-nc-4.0)")
    args = ap.parse_args()

    from diffusers import TextToVideoSDPipeline

    pipe = TextToVideoSDPipeline.from_pretrained(str(args.src), torch_dtype=torch.float32)
    export_pipeline(pipe, args.out, default_settings(pipe, args), args.external_data, args.src, args.license)
    print(f"exported {args.src} -> {args.out}")


if __name__ == "__main__":
    main()
