"""Measure whether tiny-shapes follows held-out prompts, with onnxruntime + numpy only (no torch).

    python3 models/train/evaluate.py [--package models/tiny-shapes] [--captions 32] [--seeds 2]
                                     [--first-seed 0] [--guidance G]

For every held-out (object colour, background colour, motion) triple -- combinations the training set
never contains -- it generates clips through `models/reference_pipeline.py` at the package defaults and
reads them back with simple image analysis: the background is the colour of the border pixels, the
object is the pixels far from it (nearest named colour of their median), the motion comes from the
object's centroid trajectory and area.  Prints the three accuracies and exits 1 below the targets.
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(HERE)
sys.path.append(os.path.dirname(HERE))

import scenes  # noqa: E402
from reference_pipeline import generate  # noqa: E402

TARGETS = {"object": 0.90, "background": 0.90, "motion": 0.80}
NAMES = list(scenes.PALETTE)
RGB = np.array([scenes.PALETTE[n] for n in NAMES], np.float32) / 255.0
# A pixel belongs to the object when it is this far (RGB distance, 0..1 units) from the background.
OBJECT_DISTANCE = 0.3
# Minimum centroid travel (pixels) that counts as moving, and area ratios that count as growing/shrinking.
TRAVEL = 8.0
GROW, SHRINK = 1.8, 0.55


def nearest_colour(rgb):
    return NAMES[int(np.argmin(np.linalg.norm(RGB - rgb, axis=1)))]


def held_out_prompts(count):
    """(prompt, expected attributes) for `count` held-out triples spread over all motions, wording fixed
    by a seed."""
    rng = np.random.default_rng(7)
    triples = scenes.held_out_triples()
    prompts = []
    for i in np.linspace(0, len(triples) - 1, count).round().astype(int):
        obj, bg, motion = triples[i]
        shapes = scenes.ROTATING_SHAPES if motion == "rotating" else scenes.SHAPES
        scene = {"object": obj, "background": bg, "motion": motion,
                 "shape": shapes[int(rng.integers(len(shapes)))]}
        prompts.append((scenes.caption(scene, rng), scene))
    return prompts


def classify_motion(masks):
    """Name the motion of the object masks [F, H, W] (bool), or 'none' when no object is seen."""
    area = masks.sum(axis=(1, 2)).astype(np.float64)
    if (area >= 4).sum() < len(masks) // 2:
        return "none"
    yy, xx = np.mgrid[0:masks.shape[1], 0:masks.shape[2]]
    visible = area >= 4
    cx = np.array([xx[m].mean() for m in masks[visible]])
    cy = np.array([yy[m].mean() for m in masks[visible]])
    a = area[visible]
    ratio = a[-3:].mean() / a[:3].mean()
    if ratio > GROW:
        return "growing"
    if ratio < SHRINK:
        return "shrinking"
    # Largest fall and rise of the centroid (y grows downwards) at any two frames in order.
    fall = max((cy[j] - cy[i] for i in range(len(cy)) for j in range(i + 1, len(cy))), default=0.0)
    rise = max((cy[i] - cy[j] for i in range(len(cy)) for j in range(i + 1, len(cy))), default=0.0)
    if fall > TRAVEL and rise > TRAVEL:
        return "bouncing"
    dx = cx[-3:].mean() - cx[:3].mean()
    dy = cy[-3:].mean() - cy[:3].mean()
    if max(abs(dx), abs(dy)) > TRAVEL:
        if abs(dx) > abs(dy):
            return "right" if dx > 0 else "left"
        return "down" if dy > 0 else "up"
    first = masks[0]
    change = max(1.0 - (first & m).sum() / max((first | m).sum(), 1) for m in masks)
    return "rotating" if change > 0.2 else "static"


def analyse(frames):
    """Background colour, object colour and motion names of a clip [F, H, W, 3] in 0..1."""
    border = np.concatenate([frames[:, :2].reshape(-1, 3), frames[:, -2:].reshape(-1, 3),
                             frames[:, :, :2].reshape(-1, 3), frames[:, :, -2:].reshape(-1, 3)])
    bg_rgb = np.median(border, axis=0)
    masks = np.linalg.norm(frames - bg_rgb, axis=-1) > OBJECT_DISTANCE
    obj = nearest_colour(np.median(frames[masks], axis=0)) if masks.any() else "none"
    return {"background": nearest_colour(bg_rgb), "object": obj, "motion": classify_motion(masks)}


def evaluate(package, captions, seeds, first_seed=0, guidance=None, verbose=True):
    """Accuracy per attribute over held-out prompts x seeds `first_seed..first_seed+seeds`; `guidance` None
    keeps the package default."""
    hits = {k: 0 for k in TARGETS}
    total = 0
    for prompt, want in held_out_prompts(captions):
        for seed in range(first_seed, first_seed + seeds):
            got = analyse(generate(package, prompt, seed=seed, guidance=guidance))
            total += 1
            for k in hits:
                hits[k] += got[k] == want[k]
            if verbose:
                bad = [f"{k} {got[k]}" for k in TARGETS if got[k] != want[k]]
                print(f"{'ok ' if not bad else 'BAD'} seed {seed} {prompt!r}" + (f" -> {', '.join(bad)}" if bad else ""))
    return {k: hits[k] / total for k in hits}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", default=os.path.join(os.path.dirname(HERE), "tiny-shapes"))
    ap.add_argument("--captions", type=int, default=len(scenes.held_out_triples()))
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds 0 and 1 give the reported figures; other seeds are for choosing settings")
    ap.add_argument("--guidance", type=float, help="instead of the package default")
    args = ap.parse_args()
    scores = evaluate(args.package, args.captions, args.seeds, args.first_seed, args.guidance)
    failed = False
    for k, target in TARGETS.items():
        ok = scores[k] >= target
        failed |= not ok
        print(f"{k} colour accuracy" if k != "motion" else "motion accuracy", f"{100 * scores[k]:.1f} %",
              f"(target {100 * target:.0f} %)", "ok" if ok else "BELOW TARGET")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
