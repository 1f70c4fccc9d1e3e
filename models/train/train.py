"""Train tiny-shapes on the CPU: tokenizer, autoencoder, latent dataset, then text encoder + denoiser.

    python3 models/train/train.py --run models/train/runs/default --steps 26000 --threads 2

(the defaults; that is how the shipped package was trained).  Each stage writes its result into the run folder
and is skipped when that file already exists, so an interrupted run resumes at the stage it was in (the
diffusion stage also resumes from its last checkpoint, random streams included).  Seeds are fixed; with the
same thread count a rerun reproduces the model.
"""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

import scenes
from networks import Decoder, Denoiser, Encoder, TextEncoder

TEXT_LENGTH = 20
LATENT_CHANNELS = 4
TRAIN_TIMESTEPS = 1000
# Cosine ("squaredcos_cap_v2") betas reach zero signal at t=999, so training never lets the model read
# the clip's colours from a signal leak in the noise that pure-noise sampling lacks (with scaled_linear
# it did, and every sample got the same background); v-prediction keeps the last steps well posed.
BETA_SCHEDULE = "squaredcos_cap_v2"
PREDICTION = "v_prediction"
# Words the training prompts may contain that the vocabulary lacks: they become [UNK], so prompts with
# unknown words stay in distribution.
FILLER_WORDS = ["beautiful", "cinematic", "slowly", "very", "nice", "hd", "4k", "colorful", "cute"]


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def build_tokenizer():
    """WordLevel tokenizer: lowercase, split on whitespace/punctuation, [UNK], fixed padded length."""
    vocab = {"[PAD]": 0, "[UNK]": 1}
    for word in scenes.vocabulary():
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.enable_padding(length=TEXT_LENGTH, pad_id=0, pad_token="[PAD]")
    tok.enable_truncation(max_length=TEXT_LENGTH)
    return tok


def alphas_cumprod():
    """The training noise schedule, as diffusers computes 'squaredcos_cap_v2'."""
    f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    n = TRAIN_TIMESTEPS
    betas = torch.tensor([min(1 - f((i + 1) / n) / f(i / n), 0.999) for i in range(n)], dtype=torch.float32)
    return torch.cumprod(1.0 - betas, dim=0)


def to_model_range(frames):
    """[..., H, W, 3] 0..1 numpy -> torch [..., 3, H, W] in [-1, 1]."""
    t = torch.from_numpy(frames) * 2.0 - 1.0
    return t.movedim(-1, -3).contiguous()


def train_autoencoder(run, steps, seed):
    """Per-frame autoencoder on freshly rendered training scenes; a little latent noise keeps the
    decoder tolerant of the imperfect latents the denoiser produces."""
    path = os.path.join(run, "autoencoder.pt")
    if os.path.exists(path):
        return
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    enc, dec = Encoder(LATENT_CHANNELS), Decoder(LATENT_CHANNELS)
    opt = torch.optim.AdamW([*enc.parameters(), *dec.parameters()], lr=2e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.05)
    for step in range(steps):
        clips = [scenes.render(scenes.sample_scene(rng)) for _ in range(8)]
        frames = np.concatenate([c[rng.choice(scenes.FRAMES, 8, replace=False)] for c in clips])
        x = to_model_range(frames)
        z = enc(x)
        z_noisy = z + 0.1 * z.detach().std() * torch.randn_like(z)
        y = dec(z_noisy)
        loss = F.l1_loss(y, x) + F.mse_loss(y, x) + 1e-4 * z.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"autoencoder step {step} loss {loss.item():.4f}")
    torch.save({"encoder": enc.state_dict(), "decoder": dec.state_dict()}, path)


def refine_decoder(run, steps, seed):
    """Train the decoder alone (encoder frozen, so the latent space the denoiser learned stays valid),
    weighting object pixels up: the object covers a few percent of a frame, yet its colour is what the
    prompt names."""
    path = os.path.join(run, "decoder.pt")
    if os.path.exists(path):
        return
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    ae = torch.load(os.path.join(run, "autoencoder.pt"))
    enc, dec = Encoder(LATENT_CHANNELS), Decoder(LATENT_CHANNELS)
    enc.load_state_dict(ae["encoder"])
    dec.load_state_dict(ae["decoder"])
    enc.requires_grad_(False)
    opt = torch.optim.AdamW(dec.parameters(), lr=1e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps, pct_start=0.05)
    for step in range(steps):
        clips = [scenes.render(scenes.sample_scene(rng)) for _ in range(8)]
        frames = np.concatenate([c[rng.choice(scenes.FRAMES, 8, replace=False)] for c in clips])
        x = to_model_range(frames)
        with torch.no_grad():
            z = enc(x)
            z = z + 0.1 * z.std() * torch.randn_like(z)
        weight = 1.0 + 9.0 * ((x - x[:, :, :1, :1]).abs().amax(dim=1, keepdim=True) > 0.1).float()
        y = dec(z)
        loss = (weight * ((y - x).abs() + (y - x).pow(2))).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"decoder step {step} loss {loss.item():.4f}")
    torch.save(dec.state_dict(), path)


def encode_dataset(run, clips, seed):
    """Render `clips` training scenes and store their latents (scaled to unit variance)."""
    path = os.path.join(run, "latents.pt")
    if os.path.exists(path):
        return
    rng = np.random.default_rng(seed)
    enc = Encoder(LATENT_CHANNELS)
    enc.load_state_dict(torch.load(os.path.join(run, "autoencoder.pt"))["encoder"])
    enc.eval()
    latents, attrs = [], []
    with torch.no_grad():
        for i in range(clips):
            scene = scenes.sample_scene(rng)
            z = enc(to_model_range(scenes.render(scene)))  # [F, C, h, w]
            latents.append(z.transpose(0, 1))
            attrs.append({k: scene[k] for k in ("object", "background", "motion", "shape")})
            if i % 1000 == 0:
                log(f"encoded {i}/{clips}")
    latents = torch.stack(latents)
    scaling = float(1.0 / latents.std())
    log(f"latent std {latents.std():.4f} -> scaling_factor {scaling:.5f}")
    torch.save({"latents": latents * scaling, "scenes": attrs, "scaling_factor": scaling}, path)


def prompt_batch(attrs, rng):
    """Captions for a batch: random wording, 10% empty (for classifier-free guidance), some with an
    unknown word inserted."""
    prompts = []
    for a in attrs:
        if rng.random() < 0.1:
            prompts.append("")
            continue
        words = scenes.caption(a, rng).split()
        if rng.random() < 0.2:
            words.insert(int(rng.integers(len(words) + 1)), FILLER_WORDS[int(rng.integers(len(FILLER_WORDS)))])
        prompts.append(" ".join(words))
    return prompts


class AttributeHeads(torch.nn.Module):
    """Training-only classifiers on the denoiser's pooled text condition (not exported): naming the
    object colour, background colour, shape and motion from it teaches the text encoder which colour
    word is the background in a few hundred steps, where the diffusion loss alone takes thousands."""

    def __init__(self, dim):
        super().__init__()
        sizes = {"object": len(scenes.COLOURS), "background": len(scenes.COLOURS), "shape": len(scenes.SHAPES),
                 "motion": len(scenes.MOTIONS)}
        self.heads = torch.nn.ModuleDict({k: torch.nn.Linear(dim, n) for k, n in sizes.items()})

    def forward(self, cond):
        return {k: head(cond) for k, head in self.heads.items()}


def attribute_loss(aux, cond, attrs, prompts):
    """Cross-entropy of the attribute heads over the captioned (non-empty) prompts of a batch."""
    keep = torch.tensor([p != "" for p in prompts])
    names = {"object": scenes.COLOURS, "background": scenes.COLOURS, "shape": scenes.SHAPES,
             "motion": scenes.MOTIONS}
    logits = aux(cond[keep])
    kept = [a for a, k in zip(attrs, keep) if k]
    return sum(F.cross_entropy(logits[k], torch.tensor([names[k].index(a[k]) for a in kept])) for k in names)


def pretrain_text(run, steps, seed):
    """Text encoder + the denoiser's text pooling + attribute heads alone, before any diffusion: which
    colour word is the background is learned abruptly after a few hundred steps here, while under the
    joint loss it had not appeared after 1000 steps."""
    path = os.path.join(run, "text_pretrain.pt")
    if os.path.exists(path):
        return
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tok = build_tokenizer()
    text, pool, aux = TextEncoder(tok.get_vocab_size(), TEXT_LENGTH), Denoiser(LATENT_CHANNELS).text, AttributeHeads(128)
    opt = torch.optim.AdamW([*text.parameters(), *pool.parameters(), *aux.parameters()], lr=1e-3)
    for step in range(steps):
        attrs = [scenes.sample_scene(rng) for _ in range(64)]
        prompts = prompt_batch(attrs, rng)
        ids = torch.tensor([e.ids for e in tok.encode_batch(prompts)], dtype=torch.long)
        loss = attribute_loss(aux, pool(text(ids)), attrs, prompts)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"text step {step} attributes {loss.item():.4f}")
    torch.save({"text": text.state_dict(), "pool": pool.state_dict(), "aux": aux.state_dict()}, path)


def train_diffusion(run, steps, batch, seed):
    """Joint training of text encoder and denoiser (v-prediction), with an EMA copy for export."""
    final = os.path.join(run, "diffusion.pt")
    if os.path.exists(final) and torch.load(final)["steps"] == steps:
        return
    ckpt_path = os.path.join(run, "diffusion_ckpt.pt")
    data = torch.load(os.path.join(run, "latents.pt"))
    latents, attrs = data["latents"], data["scenes"]
    tok = build_tokenizer()
    torch.manual_seed(seed)
    text = TextEncoder(tok.get_vocab_size(), TEXT_LENGTH)
    unet = Denoiser(LATENT_CHANNELS, text_dim=64)
    aux = AttributeHeads(128)
    pretrained = torch.load(os.path.join(run, "text_pretrain.pt"))
    text.load_state_dict(pretrained["text"])
    unet.text.load_state_dict(pretrained["pool"])
    aux.load_state_dict(pretrained["aux"])
    params = [*text.parameters(), *unet.parameters()]
    opt = torch.optim.AdamW([*params, *aux.parameters()], lr=1e-3, weight_decay=0.01)
    ema = [p.detach().clone() for p in params]
    rng = np.random.default_rng(seed)
    start = 0
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        text.load_state_dict(ck["text"])
        unet.load_state_dict(ck["unet"])
        aux.load_state_dict(ck["aux"])
        opt.load_state_dict(ck["opt"])
        ema = ck["ema"]
        start = ck["step"]
        # Both random streams continue where they stopped, so a resumed run equals an uninterrupted one.
        torch.set_rng_state(ck["torch_rng"])
        rng.bit_generator.state = ck["numpy_rng"]
        log(f"resumed at step {start}")
    acp = alphas_cumprod()
    warmup = 100
    t0 = time.time()
    for step in range(start, steps):
        lr = 1e-3 * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(len(latents), size=batch)
        x0 = latents[idx]
        prompts = prompt_batch([attrs[i] for i in idx], rng)
        ids = torch.tensor([e.ids for e in tok.encode_batch(prompts)], dtype=torch.long)
        t = torch.randint(0, TRAIN_TIMESTEPS, (batch,))
        a = acp[t][:, None, None, None, None]
        noise = torch.randn_like(x0)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        states = text(ids)
        pred = unet(xt, t, states)
        loss = F.mse_loss(pred, a.sqrt() * noise - (1 - a).sqrt() * x0)
        aux_loss = attribute_loss(aux, unet.text(states), [attrs[i] for i in idx], prompts)
        loss_total = loss + 0.1 * aux_loss
        opt.zero_grad()
        loss_total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(0.998, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.lerp_(p.detach(), 1 - decay)
        if step % 50 == 0 or step == steps - 1:
            log(f"diffusion step {step} loss {loss.item():.4f} attributes {aux_loss.item():.3f} lr {lr:.2e} "
                f"{time.time() - t0:.0f}s")
        if (step + 1) % 250 == 0 or step == steps - 1:
            torch.save({"text": text.state_dict(), "unet": unet.state_dict(), "aux": aux.state_dict(),
                        "opt": opt.state_dict(),
                        "ema": ema, "step": step + 1, "torch_rng": torch.get_rng_state(),
                        "numpy_rng": rng.bit_generator.state}, ckpt_path)
    with torch.no_grad():
        for e, p in zip(ema, params):
            p.copy_(e)
    torch.save({"text": text.state_dict(), "unet": unet.state_dict(), "vocab_size": tok.get_vocab_size(),
                "steps": steps, "batch": batch}, final)
    log("diffusion done")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default=os.path.join(os.path.dirname(__file__), "runs", "default"))
    ap.add_argument("--ae-steps", type=int, default=600)
    ap.add_argument("--text-steps", type=int, default=1000)
    ap.add_argument("--decoder-steps", type=int, default=1000)
    ap.add_argument("--clips", type=int, default=8000)
    ap.add_argument("--steps", type=int, default=26000)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    build_tokenizer().save(os.path.join(args.run, "tokenizer.json"))
    with open(os.path.join(args.run, "args.json"), "w") as f:
        json.dump(vars(args), f, indent=1)
    train_autoencoder(args.run, args.ae_steps, args.seed)
    encode_dataset(args.run, args.clips, args.seed + 1)
    pretrain_text(args.run, args.text_steps, args.seed + 4)
    train_diffusion(args.run, args.steps, args.batch, args.seed + 2)
    refine_decoder(args.run, args.decoder_steps, args.seed + 3)


if __name__ == "__main__":
    main()
