#!/usr/bin/env python3
"""Exports a real-size Wan2.1-T2V-1.3B package with random weights on this machine, in one process: the full
WanTransformer3DModel (30 layers, 12×128 heads) and AutoencoderKLWan at their released configs, paired with a
reduced UMT5 encoder of the same 4096 output width (the 5.7 B UMT5-XXL does not fit 24 GiB in fp32). Prints one
JSON object: seconds per component, the process's peak RSS, the package's file sizes, and the largest difference
between the exported VAE graphs (first + step) and diffusers' `vae.decode` on 3 latent frames.

A watchdog ends the process when available memory falls under --min-free-gib or free disk under --min-disk-gib.
fp32 (the CPU's precision). Needs torch + diffusers (models/requirements-export.txt), about 12 GiB of memory
and 7 GB of disk.

    python3 models/bench_wan_export.py OUT_FOLDER
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

import export_wan  # noqa: E402
from wan_vae import vae_decode  # noqa: E402

# diffusers' Wan-AI/Wan2.1-T2V-1.3B-Diffusers transformer config.
WAN21_1_3B = dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16,
                  out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
                  qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)


def peak_rss_gib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def available_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def watchdog(folder: Path, min_free: float, min_disk: float) -> None:
    while True:
        st = os.statvfs(folder)
        free, disk = available_gib(), st.f_bavail * st.f_frsize / 2**30
        if free < min_free or disk < min_disk:
            print(f"aborted: {free:.1f} GiB memory available, {disk:.1f} GiB disk free", flush=True)
            os._exit(3)
        time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--min-free-gib", type=float, default=6.0)
    ap.add_argument("--min-disk-gib", type=float, default=3.0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    threading.Thread(target=watchdog, args=(args.out, args.min_free_gib, args.min_disk_gib), daemon=True).start()

    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    seconds = {}
    start = time.time()
    encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=256, d_model=4096, d_kv=64, d_ff=1024, num_layers=1, num_heads=4, feed_forward_proj="gated-gelu",
        dropout_rate=0.0, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, tie_word_embeddings=False,
    )).eval()
    transformer = WanTransformer3DModel(**WAN21_1_3B).eval()
    vae = AutoencoderKLWan().eval()  # diffusers' defaults are the Wan2.1 VAE
    seconds["build"] = time.time() - start
    params = {"transformer": sum(p.numel() for p in transformer.parameters()),
              "vae_decoder": sum(p.numel() for p in vae.decoder.parameters())}

    for name, export in (("text_encoder", lambda: export_wan.export_text_encoder(encoder, args.out, "auto")),
                         ("vae_decoder", lambda: export_wan.export_vae_decoder(vae, args.out, "auto", torch.float32)),
                         ("transformer", lambda: export_wan.export_transformer(transformer, args.out, "auto",
                                                                               torch.float32, False))):
        start = time.time()
        export()
        seconds[name] = round(time.time() - start, 1)
        print(f"{name}: {seconds[name]} s, peak RSS so far {peak_rss_gib():.1f} GiB", flush=True)
    peak = peak_rss_gib()

    (args.out / "vae_decoder" / "config.json").write_text(json.dumps(dict(vae.config)))
    latents = torch.randn((1, 16, 3, 4, 6))
    with torch.no_grad():
        want = vae.decode(latents, return_dict=False)[0].numpy()
    vae_diff = float(np.abs(vae_decode(args.out, latents.numpy()) - want).max())
    sizes = {str(f.relative_to(args.out)): f.stat().st_size for f in sorted(args.out.rglob("*")) if f.is_file()}
    print(json.dumps({"parameters": params, "seconds": seconds, "peak_rss_gib": round(peak, 2),
                      "sizes": sizes, "total_gb": round(sum(sizes.values()) / 1e9, 2),
                      "vae_first_step_vs_diffusers_max_abs": vae_diff}, indent=1))


if __name__ == "__main__":
    main()
