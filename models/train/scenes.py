"""Procedural dataset of the tiny-shapes model: one flat shape moving over a flat background.

Everything here is numpy only, because the evaluation (which runs in CI without torch) reuses the
palette, the motion names and the held-out split.  A scene is a small dict of attributes; `render`
turns it into frames and `caption` turns it into one of many wordings, so the text encoder sees
varied prompts rather than one template.
"""

import numpy as np

SIZE = 64
FRAMES = 16

# Well separated sRGB colours (0..255); names are what captions use.
PALETTE = {
    "red": (220, 40, 40),
    "yellow": (240, 220, 40),
    "green": (40, 170, 60),
    "cyan": (40, 210, 220),
    "blue": (40, 70, 220),
    "purple": (150, 50, 200),
    "white": (240, 240, 240),
    "black": (20, 20, 20),
}
COLOURS = list(PALETTE)
SHAPES = ["circle", "square", "triangle", "diamond"]
MOTIONS = ["left", "right", "up", "down", "growing", "shrinking", "rotating", "bouncing"]

# Rotation of a circle is invisible, so that combination never exists.
ROTATING_SHAPES = ["square", "triangle", "diamond"]


def held_out_triples():
    """(object colour, background colour, motion) triples never seen in training.

    Every colour appears as object and as background and every motion appears, so the evaluation
    measures composition of known words, not unknown ones.
    """
    rng = np.random.default_rng(1234)
    triples = []
    for i, motion in enumerate(MOTIONS):
        for k in range(4):
            obj = COLOURS[(i + 3 * k) % len(COLOURS)]
            choices = [c for c in COLOURS if c != obj]
            bg = choices[int(rng.integers(len(choices)))]
            triples.append((obj, bg, motion))
    return triples


HELD_OUT = set(held_out_triples())


def sample_scene(rng, held_out=False):
    """Random scene attributes; `held_out` picks from the held-out triples instead of excluding them."""
    while True:
        if held_out:
            trips = sorted(HELD_OUT)
            obj, bg, motion = trips[int(rng.integers(len(trips)))]
        else:
            obj = COLOURS[int(rng.integers(len(COLOURS)))]
            bg = COLOURS[int(rng.integers(len(COLOURS)))]
            motion = MOTIONS[int(rng.integers(len(MOTIONS)))]
            if obj == bg or (obj, bg, motion) in HELD_OUT:
                continue
        shapes = ROTATING_SHAPES if motion == "rotating" else SHAPES
        shape = shapes[int(rng.integers(len(shapes)))]
        return {"object": obj, "background": bg, "motion": motion, "shape": shape,
                "geometry": _sample_geometry(rng, motion)}


def _sample_geometry(rng, motion):
    """Per-frame centre (x, y), half size and angle as arrays of length FRAMES."""
    t = np.linspace(0.0, 1.0, FRAMES)
    size = rng.uniform(7.0, 11.0)
    lo, hi = size + 2.0, SIZE - size - 2.0
    x = np.full(FRAMES, rng.uniform(lo, hi))
    y = np.full(FRAMES, rng.uniform(lo, hi))
    sizes = np.full(FRAMES, size)
    angle0 = rng.uniform(0, 2 * np.pi)
    angle = np.full(FRAMES, angle0)
    if motion in ("left", "right", "up", "down"):
        dist = rng.uniform(22.0, min(34.0, hi - lo))
        start = rng.uniform(lo, hi - dist)
        path = start + dist * t
        if motion in ("left", "up"):
            path = path[::-1]
        if motion in ("left", "right"):
            x = path
        else:
            y = path
    elif motion in ("growing", "shrinking"):
        s0, s1 = rng.uniform(4.0, 6.0), rng.uniform(14.0, 18.0)
        sizes = s0 + (s1 - s0) * t
        if motion == "shrinking":
            sizes = sizes[::-1]
        x = np.full(FRAMES, rng.uniform(s1 + 2, SIZE - s1 - 2))
        y = np.full(FRAMES, rng.uniform(s1 + 2, SIZE - s1 - 2))
    elif motion == "rotating":
        turn = rng.uniform(0.5, 1.0) * np.pi * rng.choice([-1.0, 1.0])
        angle = angle0 + turn * t
    elif motion == "bouncing":
        height = rng.uniform(18.0, min(30.0, hi - lo))
        floor = rng.uniform(lo + height, hi)
        phase = rng.uniform(0, np.pi)
        y = floor - height * np.abs(np.sin(phase + 2.0 * np.pi * t))
    return {"x": x, "y": y, "size": sizes, "angle": angle}


def _shape_distance(shape, px, py, size, angle):
    """Approximate signed distance (pixels) from each pixel to the shape outline; negative inside."""
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * px + s * py, -s * px + c * py
    if shape == "circle":
        return np.hypot(u, v) - size
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) - size * 0.85
    if shape == "diamond":
        return (np.abs(u) + np.abs(v)) / np.sqrt(2.0) - size * 0.75
    if shape == "triangle":
        dists = [np.cos(a) * u + np.sin(a) * v for a in (np.pi / 2 + k * 2 * np.pi / 3 for k in range(3))]
        return np.max(dists, axis=0) - size * 0.6
    raise ValueError(f"unknown shape {shape!r}")


def render(scene):
    """Frames of a scene: float32 [FRAMES, SIZE, SIZE, 3] in 0..1, anti-aliased edges."""
    g = scene["geometry"]
    obj = np.array(PALETTE[scene["object"]], np.float32) / 255.0
    bg = np.array(PALETTE[scene["background"]], np.float32) / 255.0
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    frames = np.empty((FRAMES, SIZE, SIZE, 3), np.float32)
    for f in range(FRAMES):
        d = _shape_distance(scene["shape"], xx - g["x"][f], yy - g["y"][f], g["size"][f], g["angle"][f])
        alpha = np.clip(0.5 - d, 0.0, 1.0)[..., None]
        frames[f] = bg * (1.0 - alpha) + obj * alpha
    return frames


# Caption wording: synonyms, optional adjectives/articles and several word orders.
SHAPE_WORDS = {
    "circle": ["circle", "ball", "disc", "dot"],
    "square": ["square", "box", "block"],
    "triangle": ["triangle"],
    "diamond": ["diamond", "rhombus"],
}
MOTION_PHRASES = {
    "left": ["moving left", "moves left", "sliding to the left", "going left", "drifting leftward",
             "travels to the left"],
    "right": ["moving right", "moves right", "sliding to the right", "going right", "drifting rightward",
              "travels to the right"],
    "up": ["moving up", "rising", "going upward", "floats up", "moves upwards"],
    "down": ["moving down", "falling", "going downward", "sinks down", "drops down"],
    "growing": ["growing", "getting bigger", "expanding", "grows larger"],
    "shrinking": ["shrinking", "getting smaller", "contracting", "shrinks"],
    "rotating": ["rotating", "spinning", "turning around", "rotates"],
    "bouncing": ["bouncing", "bounces", "hopping up and down", "bouncing around"],
}
ADJECTIVES = ["", "", "", "small", "little", "bright", "single", "simple"]
ARTICLES = ["a", "a", "the", "one", ""]
BACKGROUND_PHRASES = [
    "on a {c} background", "over a {c} background", "against a {c} backdrop", "on {c}",
    "in front of a {c} background", "with a {c} background", "over {c}",
]
PREFIXES = ["", "", "", "a video of", "animation of", "a clip of", "footage of"]


def caption(scene, rng):
    """One random wording of the scene's caption."""
    def pick(xs):
        return xs[int(rng.integers(len(xs)))]

    noun = " ".join(w for w in (pick(ARTICLES), pick(ADJECTIVES), scene["object"],
                                pick(SHAPE_WORDS[scene["shape"]])) if w)
    motion = pick(MOTION_PHRASES[scene["motion"]])
    bgc = scene["background"]
    order = int(rng.integers(4))
    if order == 0:
        text = f"{noun} {motion} {pick(BACKGROUND_PHRASES).format(c=bgc)}"
    elif order == 1:
        text = f"{pick(BACKGROUND_PHRASES).format(c=bgc)}, {noun} {motion}"
    elif order == 2:
        text = f"{bgc} background, {noun} {motion}"
    else:
        text = f"{noun} on {bgc}, {motion}"
    prefix = pick(PREFIXES) if order in (0, 3) else ""
    return f"{prefix} {text}" if prefix else text


def vocabulary():
    """Every word the captions can contain (the tokenizer's vocabulary besides specials)."""
    words = set(COLOURS) | {"background", "backdrop", ",", "on", "over", "with", "in", "front", "of",
                            "against", "a"}
    groups = [*SHAPE_WORDS.values(), *MOTION_PHRASES.values(), ADJECTIVES, ARTICLES, PREFIXES,
              BACKGROUND_PHRASES]
    for group in groups:
        for phrase in group:
            words.update(phrase.replace("{c}", "").replace(",", " , ").split())
    return sorted(words)
