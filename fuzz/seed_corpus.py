"""Writes the seed inputs of the fuzz corpus from the repository's real files (run once; the fuzzer adds
the rest).  A seed is the files of one input joined by the 0xFF separator (see src/lib.rs).

    python3 fuzz/seed_corpus.py
"""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "fuzz")
PACKAGE_FILES = ["model_index.json", "text_encoder/config.json", "unet/config.json", "vae_decoder/config.json",
                 "scheduler/scheduler_config.json", "tokenizer/tokenizer.json"]
PACKAGES = ["models/tiny-shapes", "models/fixtures/tiny-modelscope"]
PROMPT = "a red ball moving left on a blue background".encode()


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def write(target, name, parts):
    os.makedirs(os.path.join(HERE, "corpus", target), exist_ok=True)
    with open(os.path.join(HERE, "corpus", target, name), "wb") as f:
        f.write(b"\xff".join(parts))


for package in PACKAGES:
    parts = [read(os.path.join(package, f)) if os.path.exists(os.path.join(ROOT, package, f)) else b""
             for f in PACKAGE_FILES]
    write("model_package", "seed-" + os.path.basename(package), parts + [PROMPT])


def png16(width, height, value):
    """A 16-bit RGB PNG filled with one grey `value` (0..65535), written by hand so no imaging library is needed."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + struct.pack(">H", value) * 3 * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


# The check re-signs `$KEY` and every listed frame's size and checksum, so these stay readable seeds.
METADATA = b"""{
  "format": "t2v-clip-cache/1",
  "key": "$KEY",
  "recipe": {"model": "fuzz", "prompt": "a red ball", "negative_prompt": "", "seed": 1, "steps": 2,
             "guidance": 1.0, "scheduler": "ddim", "scheduler_config": "{}", "width": 4, "height": 2, "frames": 2},
  "plugin_version": "fuzz",
  "generated_at_unix_ms": 0,
  "generation_seconds": 0.5,
  "width": 4,
  "height": 2,
  "files": [{"name": "frame_0000.png", "bytes": 0, "blake3": ""}, {"name": "frame_0001.png", "bytes": 0, "blake3": ""}]
}"""
write("clip_entry", "seed-stored-frame", [METADATA, b""])
write("clip_entry", "seed-grey-frame", [METADATA, png16(4, 2, 30583)])
write("clip_entry", "seed-wrong-size", [METADATA.replace(b'"width": 4,\n', b'"width": 8,\n'), png16(8, 2, 0)])


def latents(shape, count=None, values=None):
    """A latents file's bytes after its key: rank, dimensions, count, f32 values (see cache/src/latents.rs)."""
    import struct
    n = 1
    for d in shape:
        n *= d
    count = n if count is None else count
    values = [i / 4 - 1 for i in range(n)] if values is None else values
    return (struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
            + struct.pack("<Q", count) + b"".join(struct.pack("<f", v) for v in values))


write("latents_file", "seed-video-latents", [latents([1, 4, 2, 1, 1])])
write("latents_file", "seed-too-many-values", [latents([2305])])
write("latents_file", "seed-count-mismatch", [latents([2, 2], count=5)])
write("latents_file", "seed-huge-dimension", [latents([1 << 62, 4], count=0, values=[])])
