"""Export a trained run as an ONNX model package in the diffusers / Optimum layout (docs/ARCHITECTURE.md).

    python3 models/train/export.py --run models/train/runs/default --out models/tiny-shapes

Each network is exported with torch.onnx.export(dynamo=False, opset 17), dynamic batch (and frames and
latent size for the denoiser), IR version <= 13, then loaded back with onnxruntime and compared with torch.
"""

import argparse
import json
import os
import shutil

import numpy as np
import onnx

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before onnxruntime loads (see reference_pipeline.Package)
import onnxruntime as ort  # noqa: E402
import torch
import diffusers
from diffusers import DDIMScheduler

import train
from networks import Decoder, Denoiser, TextEncoder

MAX_IR_VERSION = 13
DEFAULTS = {"width": 64, "height": 64, "frames": 16, "max_frames": 24, "fps": 8.0, "steps": 20,
            "guidance": 3.0, "scheduler": "ddim"}


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def export(module, args, names, outputs, axes, path):
    """Export, cap the IR version, and check onnxruntime reproduces torch on the example inputs."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    torch.onnx.export(module, args, path, input_names=names, output_names=outputs, dynamic_axes=axes,
                      opset_version=17, dynamo=False, do_constant_folding=True)
    model = onnx.load(path)
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {n: a.numpy() for n, a in zip(names, args)})[0]
    with torch.no_grad():
        want = module(*args).numpy()
    diff = float(np.abs(got - want).max())
    print(f"{path}: ir {model.ir_version}, {os.path.getsize(path) / 1e6:.2f} MB, max |onnx - torch| {diff:.2e}")
    if diff > 1e-3:
        raise SystemExit(f"{path}: onnxruntime differs from torch by {diff}")


def scheduler_config():
    """The diffusers DDIM config matching the training schedule (trailing spacing suits few steps)."""
    sched = DDIMScheduler(num_train_timesteps=train.TRAIN_TIMESTEPS, beta_schedule=train.BETA_SCHEDULE,
                          clip_sample=False, set_alpha_to_one=False, steps_offset=0,
                          prediction_type=train.PREDICTION, timestep_spacing="trailing")
    config = {k: v for k, v in sched.config.items() if not k.startswith("_")}
    return {"_class_name": "DDIMScheduler", "_diffusers_version": diffusers.__version__, **config}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--run", default=os.path.join(here, "runs", "default"))
    ap.add_argument("--out", default=os.path.join(here, "..", "tiny-shapes"))
    args = ap.parse_args()
    torch.manual_seed(0)

    diffusion = torch.load(os.path.join(args.run, "diffusion.pt"))
    scaling = torch.load(os.path.join(args.run, "latents.pt"))["scaling_factor"]
    vocab = diffusion["vocab_size"]
    text = TextEncoder(vocab, train.TEXT_LENGTH)
    text.load_state_dict(diffusion["text"])
    unet = Denoiser(train.LATENT_CHANNELS, text_dim=64)
    unet.load_state_dict(diffusion["unet"])
    decoder = Decoder(train.LATENT_CHANNELS)
    decoder.load_state_dict(torch.load(os.path.join(args.run, "decoder.pt")))

    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    out = args.out
    ids = torch.randint(0, vocab, (2, train.TEXT_LENGTH))
    export(text, (ids,), ["input_ids"], ["last_hidden_state"],
           {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}},
           os.path.join(out, "text_encoder", "model.onnx"))
    with torch.no_grad():
        states = text(ids)
    sample = torch.randn(2, train.LATENT_CHANNELS, 16, 8, 8)
    timestep = torch.tensor([999, 10], dtype=torch.long)
    export(unet, (sample, timestep, states), ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
           {"sample": {0: "batch", 2: "frames", 3: "height", 4: "width"}, "timestep": {0: "batch"},
            "encoder_hidden_states": {0: "batch"},
            "out_sample": {0: "batch", 2: "frames", 3: "height", 4: "width"}},
           os.path.join(out, "unet", "model.onnx"))
    export(decoder, (torch.randn(3, train.LATENT_CHANNELS, 8, 8),), ["latent_sample"], ["sample"],
           {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}},
           os.path.join(out, "vae_decoder", "model.onnx"))

    write_json(os.path.join(out, "text_encoder", "config.json"), {
        "_class_name": "TinyShapesTextEncoder", "architectures": ["TinyShapesTextEncoder"], "hidden_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": train.TEXT_LENGTH,
        "vocab_size": vocab})
    write_json(os.path.join(out, "unet", "config.json"), {
        "_class_name": "TinyShapesUNet3D", "in_channels": train.LATENT_CHANNELS,
        "out_channels": train.LATENT_CHANNELS, "sample_size": 8, "cross_attention_dim": 64,
        "block_out_channels": [48, 96]})
    write_json(os.path.join(out, "vae_decoder", "config.json"), {
        "_class_name": "TinyShapesAutoencoder", "in_channels": 3, "out_channels": 3,
        "latent_channels": train.LATENT_CHANNELS, "block_out_channels": Decoder.BLOCK_OUT_CHANNELS,
        "sample_size": 64, "scaling_factor": scaling})
    write_json(os.path.join(out, "scheduler", "scheduler_config.json"), scheduler_config())
    os.makedirs(os.path.join(out, "tokenizer"))
    shutil.copy(os.path.join(args.run, "tokenizer.json"), os.path.join(out, "tokenizer", "tokenizer.json"))
    write_json(os.path.join(out, "model_index.json"), {
        "_class_name": "TextToVideoSDPipeline",
        "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["onnx", "text_encoder/model.onnx"],
        "tokenizer": ["tokenizers", "tokenizer/tokenizer.json"],
        "unet": ["onnx", "unet/model.onnx"],
        "vae_decoder": ["onnx", "vae_decoder/model.onnx"],
        "t2v_defaults": DEFAULTS,
    })
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(f"package {out}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
