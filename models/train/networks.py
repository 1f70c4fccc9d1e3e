"""The three networks of tiny-shapes, sized to train on a 2-core CPU (the shipped package: 89 minutes).

* `TextEncoder`: a 2-layer transformer over word ids (input_ids [B,S] -> last_hidden_state [B,S,D]).
* `Denoiser`: a (2+1)D conv UNet on latents [B,C,F,h,w] (two resolutions), conditioned by FiLM from the
  timestep and a multi-head attention pooling of the text states, with temporal attention at the coarse
  level so the whole clip agrees on one motion.
* `Encoder` / `Decoder`: a per-frame conv autoencoder, 64x64 RGB <-> C x 8 x 8 latent (factor 8).

Attention is written with plain matmuls so `torch.onnx.export(dynamo=False)` yields simple graphs.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoid(x, dim):
    """Sinusoidal embedding of a float tensor [N] -> [N, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = x.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class SelfAttention(nn.Module):
    """Pre-norm multi-head self-attention over tokens [N, L, D] (no mask: padding is learned)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        n, length, dim = x.shape
        q, k, v = self.qkv(self.norm(x)).chunk(3, dim=-1)
        split = lambda t: t.reshape(n, length, self.heads, dim // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(q), split(k), split(v)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dim // self.heads), dim=-1)
        y = (w @ v).transpose(1, 2).reshape(n, length, dim)
        return x + self.out(y)


class TextEncoder(nn.Module):
    def __init__(self, vocab, length, dim=64, layers=2, heads=4):
        super().__init__()
        # Word and position embeddings start at the same scale: with positions 50x smaller than words the
        # encoder stays a bag of words for thousands of steps and cannot tell the object's colour from the
        # background's.
        self.embed = nn.Embedding(vocab, dim)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.pos = nn.Parameter(torch.randn(length, dim) * 0.02)
        self.attn = nn.ModuleList(SelfAttention(dim, heads) for _ in range(layers))
        self.mlp = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
            for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, input_ids):
        x = self.embed(input_ids) + self.pos[: input_ids.shape[1]]
        for attn, mlp in zip(self.attn, self.mlp):
            x = attn(x)
            x = x + mlp(x)
        return self.norm(x)


class TextPool(nn.Module):
    """Several learned queries attend over the text states; their concatenation conditions the UNet."""

    def __init__(self, dim, queries, out):
        super().__init__()
        self.query = nn.Parameter(torch.randn(queries, dim) * 0.1)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.proj = nn.Linear(queries * dim, out)

    def forward(self, states):
        w = torch.softmax(self.key(states) @ self.query.t() / math.sqrt(states.shape[-1]), dim=1)
        pooled = w.transpose(1, 2) @ self.value(states)  # [B, Q, D]
        return self.proj(pooled.flatten(1))


class ResBlock(nn.Module):
    """Spatial 3x3 conv, FiLM, temporal 3-tap conv, spatial 3x3 conv, residual."""

    def __init__(self, cin, cout, cond):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv3d(cin, cout, (1, 3, 3), padding=(0, 1, 1))
        self.film = nn.Linear(cond, 2 * cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.temporal = nn.Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0))
        self.conv2 = nn.Conv3d(cout, cout, (1, 3, 3), padding=(0, 1, 1))
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, c):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(c)[:, :, None, None, None].chunk(2, dim=1)
        h = F.silu(self.norm2(h) * (1 + scale) + shift)
        h = h + self.temporal(h)
        return self.skip(x) + self.conv2(F.silu(h))


class TemporalAttention(nn.Module):
    """Self-attention across frames at every spatial position of [B, C, F, h, w]."""

    def __init__(self, channels, heads=4):
        super().__init__()
        self.attn = SelfAttention(channels, heads)

    def forward(self, x):
        b, c, f, h, w = x.shape
        t = x.permute(0, 3, 4, 2, 1).reshape(b * h * w, f, c)
        t = self.attn(t)
        return t.reshape(b, h, w, f, c).permute(0, 4, 3, 1, 2)


class Denoiser(nn.Module):
    def __init__(self, latent_channels=4, text_dim=64, ch0=48, ch1=96, cond=128):
        super().__init__()
        self.time = nn.Sequential(nn.Linear(64, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.text = TextPool(text_dim, 4, cond)
        self.frame = nn.Linear(32, ch0)
        self.conv_in = nn.Conv3d(latent_channels, ch0, (1, 3, 3), padding=(0, 1, 1))
        self.block0 = ResBlock(ch0, ch0, cond)
        self.down = nn.Conv3d(ch0, ch1, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.block1 = ResBlock(ch1, ch1, cond)
        self.temporal = TemporalAttention(ch1)
        self.block2 = ResBlock(ch1, ch1, cond)
        self.up = nn.Conv3d(ch1, ch0, (1, 3, 3), padding=(0, 1, 1))
        self.block3 = ResBlock(2 * ch0, ch0, cond)
        self.norm_out = nn.GroupNorm(8, ch0)
        self.conv_out = nn.Conv3d(ch0, latent_channels, (1, 3, 3), padding=(0, 1, 1))
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, sample, timestep, encoder_hidden_states):
        c = F.silu(self.time(sinusoid(timestep, 64)) + self.text(encoder_hidden_states))
        frames = torch.arange(sample.shape[2], device=sample.device)
        h = self.conv_in(sample) + self.frame(sinusoid(frames, 32)).t()[None, :, :, None, None]
        h0 = self.block0(h, c)
        h = self.down(h0)
        h = self.block1(h, c)
        h = self.temporal(h)
        h = self.block2(h, c)
        h = self.up(F.interpolate(h, scale_factor=(1.0, 2.0, 2.0), mode="nearest"))
        h = self.block3(torch.cat([h, h0], dim=1), c)
        return self.conv_out(F.silu(self.norm_out(h)))


class Encoder(nn.Module):
    """64x64 RGB in [-1,1] -> latent [N, C, 8, 8]."""

    def __init__(self, latent_channels=4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, 1), nn.SiLU(),
            nn.Conv2d(32, 48, 3, 2, 1), nn.SiLU(),
            nn.Conv2d(48, 64, 3, 2, 1), nn.SiLU(),
            nn.Conv2d(64, 64, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(64, latent_channels, 1))

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    """latent [N, C, 8, 8] -> RGB [N, 3, 64, 64] in [-1, 1]."""

    BLOCK_OUT_CHANNELS = [16, 32, 48, 64]  # high to low resolution, as diffusers lists them

    def __init__(self, latent_channels=4):
        super().__init__()
        up = lambda: nn.Upsample(scale_factor=2.0, mode="nearest")  # noqa: E731
        self.net = nn.Sequential(
            nn.Conv2d(latent_channels, 64, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(64, 64, 3, 1, 1), nn.SiLU(),
            up(), nn.Conv2d(64, 48, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(48, 48, 3, 1, 1), nn.SiLU(),
            up(), nn.Conv2d(48, 32, 3, 1, 1), nn.SiLU(),
            up(), nn.Conv2d(32, 16, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(16, 3, 3, 1, 1), nn.Tanh())

    def forward(self, latent_sample):
        return self.net(latent_sample)
