#!/usr/bin/env python3
"""Load time, seconds per guided step, decode time and peak RSS of a real-size ModelScope text-to-video-ms-1.7b
(random weights, the released UNet / CLIP text encoder / SD-1.x VAE configs written below), the Rust engine
against diffusers/PyTorch on the same weights, each side in a fresh process, side by side in one run.

The first run builds the random diffusers folder (DATA/diffusers, about 7 GB) and exports it with
models/export_diffusers.py (DATA/package, about 7 GB); later runs reuse both. The engine side is the release
benchmark binary `engine_load` (benchmarks/), which prints one JSON line; the PyTorch side is this script with
--side pytorch. Both sides: prompt and empty negative prompt encoded first (not counted in a step), then
--steps guided DDIM steps of --frames frames at the package's 256×256, then the VAE decode of those latents, with
the same --threads. Prints a Markdown table and one JSON object.

A watchdog ends a process when available memory falls under --min-free-gib or free disk under --min-disk-gib.
Needs torch + diffusers (models/requirements-export.txt), about 13 GiB of memory and 15 GB of disk; CI never
runs it.

    python3 models/bench_modelscope_scale.py DATA [--threads 2] [--steps 1] [--frames 16] [--engine BINARY]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

MODELS = Path(__file__).resolve().parent
ROOT = MODELS.parent
sys.path.insert(0, str(MODELS))

from bench_wan_export import peak_rss_gib, watchdog  # noqa: E402

PROMPT = "a red circle moving right on a blue background"
TOKENIZER = MODELS / "fixtures" / "tiny-modelscope" / "tokenizer"

# damo-vilab/text-to-video-ms-1.7b: unet/config.json.
UNET_1_7B = dict(
    sample_size=32, in_channels=4, out_channels=4,
    down_block_types=("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"),
    up_block_types=("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1,
    act_fn="silu", norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=1024, attention_head_dim=64,
)
# text_encoder/config.json (OpenCLIP ViT-H/14's text tower, 23 of its 24 layers).
CLIP_TEXT_1_7B = dict(
    vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
    max_position_embeddings=77, hidden_act="gelu", projection_dim=512, layer_norm_eps=1e-5,
)
# vae/config.json: the SD-1.x AutoencoderKL.
VAE_SD1 = dict(
    in_channels=3, out_channels=3, latent_channels=4, sample_size=256, scaling_factor=0.18215, norm_num_groups=32,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512), layers_per_block=2, act_fn="silu",
)
# scheduler/scheduler_config.json.
DDIM = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
            set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon", timestep_spacing="leading")


def build_diffusers(folder: Path) -> None:
    """The random real-size pipeline in diffusers' layout (safetensors), with the tiny fixture's tokenizer."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    tokenizer = CLIPTokenizer.from_pretrained(str(TOKENIZER))
    text_encoder = CLIPTextModel(CLIPTextConfig(
        **CLIP_TEXT_1_7B, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=0))
    pipe = TextToVideoSDPipeline(vae=AutoencoderKL(**VAE_SD1), text_encoder=text_encoder, tokenizer=tokenizer,
                                 unet=UNet3DConditionModel(**UNET_1_7B), scheduler=DDIMScheduler(**DDIM))
    pipe.save_pretrained(str(folder))
    for f in ("vocab.json", "merges.txt"):  # export_diffusers.py keeps them beside the tokenizer it saves
        (folder / "tokenizer" / f).write_bytes((TOKENIZER / f).read_bytes())


def prepare(data: Path, min_free: float) -> tuple[Path, Path]:
    """DATA/diffusers and DATA/package, built and exported when missing (a `.done` marker: never half a folder)."""
    src, package = data / "diffusers", data / "package"
    for folder, make in ((src, lambda: build_diffusers(src)),
                         (package, lambda: subprocess.run(
                             [sys.executable, str(MODELS / "export_diffusers.py"), str(src), str(package)],
                             check=True))):
        if not (folder / ".done").exists():
            start = time.time()
            make()
            (folder / ".done").write_text(f"{time.time() - start:.0f} s\n")
            print(f"{folder}: made in {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    return src, package


def pytorch_side(args) -> dict:
    """In this (fresh) process: from_pretrained, the prompt encoded, `--steps` guided steps, the decode."""
    import torch
    from diffusers import TextToVideoSDPipeline

    torch.set_num_threads(args.threads)
    seconds = {}
    start = time.time()
    pipe = TextToVideoSDPipeline.from_pretrained(str(args.data / "diffusers"))
    seconds["load"] = time.time() - start
    rss = {"peak_rss_after_load_gib": peak_rss_gib()}
    with torch.no_grad():
        start = time.time()
        cond, uncond = pipe.encode_prompt(PROMPT, "cpu", 1, True, "")
        context = torch.cat([uncond, cond])
        seconds["encode"] = time.time() - start
        pipe.scheduler.set_timesteps(args.steps)
        latents = torch.randn((1, 4, args.frames, 32, 32), generator=torch.Generator().manual_seed(1))
        start = time.time()
        for t in pipe.scheduler.timesteps:
            noise = pipe.unet(torch.cat([latents] * 2), t, encoder_hidden_states=context, return_dict=False)[0]
            uncond_noise, cond_noise = noise.chunk(2)
            noise = uncond_noise + 9.0 * (cond_noise - uncond_noise)
            latents = pipe.scheduler.step(noise, t, latents).prev_sample
        seconds["step"] = (time.time() - start) / args.steps
        rss["peak_rss_after_steps_gib"] = peak_rss_gib()
        start = time.time()
        frames = pipe.decode_latents(latents)
        seconds["decode"] = time.time() - start
    return {"side": "pytorch", "frames": int(frames.shape[2]), "steps": args.steps, "threads": args.threads,
            **{f"{k}_s": round(v, 2) for k, v in seconds.items()},
            **{k: round(v, 2) for k, v in rss.items()}, "peak_rss_gib": round(peak_rss_gib(), 2)}


def engine_side(args, package: Path) -> dict:
    """`engine_load` in its own process; its JSON line."""
    out = subprocess.run([str(args.engine), str(package), "--threads", str(args.threads), "--steps",
                          str(args.steps), "--frames", str(args.frames), "--prompt", PROMPT],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def table(engine: dict, pytorch: dict) -> str:
    rows = [("load", "load_s", "s"), ("prompt encoding", "encode_s", "s"), ("one guided step", "step_s", "s"),
            (f"VAE decode ({pytorch['frames']} frames)", "decode_s", "s"), ("peak RSS after load", "peak_rss_after_load_gib", "GiB"),
            ("peak RSS after the steps", "peak_rss_after_steps_gib", "GiB"), ("peak RSS", "peak_rss_gib", "GiB")]
    lines = ["| figure | engine | PyTorch | engine / PyTorch |", "|---|---|---|---|"]
    for name, key, unit in rows:
        e, p = engine[key], pytorch[key]
        lines.append(f"| {name} | {e:.2f} {unit} | {p:.2f} {unit} | {e / p:.2f}× |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="folder for the diffusers folder and the package (reused)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--engine", type=Path, default=ROOT / "target" / "release" / "engine_load")
    ap.add_argument("--side", choices=["both", "engine", "pytorch"], default="both",
                    help="pytorch: measure diffusers in this process (what `both` runs in a child)")
    ap.add_argument("--min-free-gib", type=float, default=3.0)
    ap.add_argument("--min-disk-gib", type=float, default=3.0)
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    threading.Thread(target=watchdog, args=(args.data, args.min_free_gib, args.min_disk_gib), daemon=True).start()
    if args.side == "pytorch":
        print(json.dumps(pytorch_side(args)))
        return
    _, package = prepare(args.data, args.min_free_gib)
    engine = engine_side(args, package)
    print(json.dumps(engine), file=sys.stderr, flush=True)
    if args.side == "engine":
        print(json.dumps(engine))
        return
    out = subprocess.run([sys.executable, __file__, str(args.data), "--side", "pytorch", "--threads",
                          str(args.threads), "--steps", str(args.steps), "--frames", str(args.frames)],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    pytorch = json.loads(out.strip().splitlines()[-1])
    print(table(engine, pytorch))
    print(json.dumps({"engine": engine, "pytorch": pytorch}, indent=1))


if __name__ == "__main__":
    main()
