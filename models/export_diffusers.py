#!/usr/bin/env python3
"""Convert a diffusers text-to-video pipeline folder into the ONNX model package the engine reads (see
docs/ARCHITECTURE.md, "Model package"). The folder's model_index.json `_class_name` picks the family:

- ``TextToVideoSDPipeline`` (ModelScope text-to-video-ms-1.7b, Zeroscope v2): text_encoder, unet, vae_decoder and
  vae_encoder (video-to-video);
- ``WanPipeline`` (Wan2.1 T2V, Wan2.2 TI2V-5B): models/export_wan.py.

``--dtype fp16`` writes half-precision graphs (with fp16 inputs and outputs) and keeps the modules diffusers keeps in
fp32 in fp32; ``auto`` (the default) exports in the precision the folder's weights are stored in.

Needs torch, diffusers, transformers, accelerate and onnx (models/requirements-export.txt); CI never runs it.

    python3 models/export_diffusers.py SRC_DIFFUSERS_FOLDER OUT_FOLDER [--dtype fp16 --frames 16 --fps 8 ...]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from onnx_export import (  # noqa: E402
    CHECK_TOLERANCE, DTYPES, check_graph, choose_dtype, export_graph, read_class_name, write_json, write_model_index,
)

FAMILIES = ("TextToVideoSDPipeline", "WanPipeline")


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


class VaeEncoderForExport(torch.nn.Module):
    """The VAE encoder (quant conv included), run per frame like the decoder: the posterior's mean, unscaled (the
    engine multiplies it by scaling_factor, as VideoToVideoSDPipeline does); never a sample, so it is deterministic."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        return self.vae.encode(sample, return_dict=False)[0].mean


class TextEncoderForExport(torch.nn.Module):
    """The CLIP text encoder without attention mask, as TextToVideoSDPipeline calls it."""

    def __init__(self, text_encoder):
        super().__init__()
        self.text_encoder = text_encoder

    def forward(self, input_ids):
        out = self.text_encoder(input_ids, return_dict=True)
        return out.last_hidden_state, out.pooler_output


def export_pipeline(
    pipe, out: Path, defaults: dict, external: str = "auto", src: Path | None = None, license: str | None = None,
    source: str | None = None,
) -> None:
    """Export every component of a loaded TextToVideoSDPipeline into `out` and write the package's JSON."""
    out.mkdir(parents=True, exist_ok=True)
    unet, vae, text_encoder = pipe.unet.eval(), pipe.vae.eval(), pipe.text_encoder.eval()
    # The TorchScript exporter's scaled_dot_product_attention writes a boolean mask's fill values as f32 whatever the
    # model's precision, which made fp16 text encoders ONNX Runtime refuses; eager attention adds the causal mask in
    # the model's own type.
    text_encoder.set_attn_implementation("eager")
    dtype = unet.dtype
    max_len = pipe.tokenizer.model_max_length
    hidden = text_encoder.config.hidden_size
    lc = unet.config.in_channels
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    lh, lw = defaults["height"] // factor, defaults["width"] // factor

    ids = torch.zeros((2, max_len), dtype=torch.int64)
    export_graph(
        TextEncoderForExport(text_encoder),
        (ids,),
        ["input_ids"],
        ["last_hidden_state", "pooler_output"],
        {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"},
         "pooler_output": {0: "batch"}},
        out / "text_encoder" / "model.onnx",
        external,
    )
    sample = torch.randn((2, lc, 2, lh, lw), dtype=dtype)
    timestep = torch.tensor([500.0, 500.0], dtype=torch.float32)
    ehs = torch.randn((2, max_len, hidden), dtype=dtype)
    export_graph(
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
        out / "unet" / "model.onnx",
        external,
    )
    latent = torch.randn((2, vae.config.latent_channels, lh, lw), dtype=dtype)
    export_graph(
        VaeDecoderForExport(vae),
        (latent,),
        ["latent_sample"],
        ["sample"],
        {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}},
        out / "vae_decoder" / "model.onnx",
        external,
    )
    export_vae_encoder(vae, out, external, defaults)

    write_json(out / "text_encoder" / "config.json", text_encoder.config.to_dict())
    write_json(out / "unet" / "config.json", dict(unet.config))
    write_json(out / "vae_decoder" / "config.json", dict(vae.config))
    write_json(out / "vae_encoder" / "config.json", dict(vae.config))
    write_json(out / "scheduler" / "scheduler_config.json", dict(pipe.scheduler.config))
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
        "vae_encoder": ["onnx", "vae_encoder/model.onnx"],
        "t2v_defaults": defaults,
    }
    write_model_index(out, index, license, source)


def export_vae_encoder(vae, out: Path, external: str, defaults: dict) -> None:
    """Writes vae_encoder/model.onnx: frames [N,3,H,W] in [-1,1] -> `latent_mean` [N,C,H/f,W/f], checked against
    torch at a size other than the traced one (the spatial axes are dynamic)."""
    module = VaeEncoderForExport(vae).eval()
    sample = torch.rand((2, vae.config.in_channels, defaults["height"], defaults["width"]), dtype=vae.dtype) * 2 - 1
    path = out / "vae_encoder" / "model.onnx"
    axes = {0: "batch", 2: "height", 3: "width"}
    export_graph(module, (sample,), ["sample"], ["latent_mean"], {"sample": axes, "latent_mean": axes}, path, external)
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    other = torch.rand((3, vae.config.in_channels, 2 * factor, 3 * factor), dtype=vae.dtype) * 2 - 1
    for x in (sample, other):
        with torch.no_grad():
            check_graph(path, {"sample": x}, [module(x)], CHECK_TOLERANCE[vae.dtype])


MODELSCOPE_DEFAULTS = {"frames": 16, "max_frames": 64, "fps": 8.0, "steps": 25, "guidance": 9.0, "scheduler": "ddim"}


def default_settings(pipe, overrides: dict) -> dict:
    """t2v_defaults for a TextToVideoSDPipeline: the UNet's sample size, ModelScope's settings, then the command
    line."""
    factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    sample = pipe.unet.config.sample_size
    sample = sample if isinstance(sample, int) else sample[0]
    settings = {"width": sample * factor, "height": sample * factor, **MODELSCOPE_DEFAULTS}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def card_license(src: Path) -> str | None:
    """The `license:` of the model card's front matter (README.md), as the hub shows it."""
    card = src / "README.md"
    if not card.is_file():
        return None
    front = re.match(r"---\n(.*?)\n---", card.read_text(errors="replace"), re.S)
    found = front and re.search(r"^license:\s*(\S+)\s*$", front.group(1), re.M)
    return found.group(1).strip("\"'") if found else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="diffusers pipeline folder (TextToVideoSDPipeline or WanPipeline)")
    ap.add_argument("out", type=Path, help="output package folder")
    ap.add_argument("--dtype", choices=["auto", *DTYPES], default="auto",
                    help="precision of the exported graphs (auto: the precision of the folder's weights)")
    ap.add_argument("--width", type=int, help="default width (ModelScope: unet sample_size x VAE factor; Wan2.1: 832)")
    ap.add_argument("--height", type=int, help="default height (ModelScope: as width; Wan2.1: 480)")
    ap.add_argument("--frames", type=int, help="default frames (ModelScope 16; Wan2.1 81; Wan2.2 TI2V 121)")
    ap.add_argument("--max-frames", type=int, help="most frames the plugin offers (ModelScope 64; Wan: --frames)")
    ap.add_argument("--fps", type=float, help="default frame rate (ModelScope 8; Wan2.1 16; Wan2.2 TI2V 24)")
    ap.add_argument("--steps", type=int, help="default steps (ModelScope 25; Wan 50)")
    ap.add_argument("--guidance", type=float, help="default guidance (ModelScope 9; Wan 5)")
    ap.add_argument("--scheduler", help="default scheduler: ddim, euler, euler_a, dpmpp_2m, lcm (epsilon / "
                    "v-prediction models), flow_euler, unipc (flow-matching models); ModelScope ddim, Wan unipc")
    ap.add_argument("--external-data", choices=["auto", "always", "never"], default="auto")
    ap.add_argument("--license", help="the model's licence (default: the model card's, e.g. apache-2.0)")
    ap.add_argument("--source", help="where the model comes from, recorded in the package (e.g. the hub id)")
    args = ap.parse_args()

    family = read_class_name(args.src)
    if family not in FAMILIES:
        raise SystemExit(f"{args.src}: pipeline class {family!r} is not supported (this exporter knows "
                         f"{', '.join(FAMILIES)})")
    overrides = {"width": args.width, "height": args.height, "frames": args.frames, "max_frames": args.max_frames,
                 "fps": args.fps, "steps": args.steps, "guidance": args.guidance, "scheduler": args.scheduler}
    license = args.license or card_license(args.src)
    if family == "WanPipeline":
        import export_wan

        dtype = choose_dtype(args.dtype, args.src, "transformer")
        pipe = export_wan.load_pipeline(args.src, dtype)
        export_wan.export_pipeline(pipe, args.out, export_wan.default_settings(pipe, overrides), args.external_data,
                                   license, args.source)
    else:
        from diffusers import TextToVideoSDPipeline

        dtype = choose_dtype(args.dtype, args.src, "unet")
        pipe = TextToVideoSDPipeline.from_pretrained(str(args.src), torch_dtype=DTYPES[dtype])
        export_pipeline(pipe, args.out, default_settings(pipe, overrides), args.external_data, args.src, license,
                        args.source)
    print(f"exported {family} {args.src} -> {args.out} ({dtype})")


if __name__ == "__main__":
    main()
