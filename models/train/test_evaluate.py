"""Checks of the shipped tiny-shapes package (onnxruntime + numpy, no torch):

    python3 -m unittest models/train/test_evaluate.py
"""

import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import scenes  # noqa: E402

PACKAGE = os.path.join(os.path.dirname(evaluate.HERE), "tiny-shapes")


class AnalysisTest(unittest.TestCase):
    def test_reads_rendered_ground_truth(self):
        """The image analysis itself recovers colours and motion of the procedural scenes."""
        rng = np.random.default_rng(3)
        for i in range(64):
            scene = scenes.sample_scene(rng, held_out=i % 2 == 0)
            want = {k: scene[k] for k in ("object", "background", "motion")}
            self.assertEqual(evaluate.analyse(scenes.render(scene)), want)


class PackageTest(unittest.TestCase):
    # What the shipped model reaches on this 8-clip sample (8/8, 8/8, 7/8), less one clip each (full evaluation,
    # 32 captions x 2 seeds: object 93.8 %, background 100 %, motion 89.1 %; the targets are evaluate.TARGETS,
    # which `evaluate.py` reports against). The floors catch a package or engine change that makes prompt
    # following worse.
    SHIPPED_FLOORS = {"object": 0.85, "background": 0.85, "motion": 0.7}

    def test_held_out_accuracy(self):
        scores = evaluate.evaluate(PACKAGE, captions=8, seeds=1, verbose=False)
        for key, floor in self.SHIPPED_FLOORS.items():
            self.assertGreaterEqual(scores[key], floor, f"{key} accuracy {scores}")

    def test_seeds(self):
        prompt = "a yellow square moving down on a purple background"
        a = evaluate.generate(PACKAGE, prompt, seed=11)
        b = evaluate.generate(PACKAGE, prompt, seed=11)
        c = evaluate.generate(PACKAGE, prompt, seed=12)
        self.assertEqual(a.shape, (16, 64, 64, 3))
        np.testing.assert_array_equal(a, b)
        self.assertGreater(float(np.abs(a - c).mean()), 0.01)

    def test_unknown_words(self):
        """Words outside the vocabulary become [UNK]; generation still works and follows the known words."""
        frames = evaluate.generate(PACKAGE, "a cinematic red circle moving right on a blue background, 8k hdr")
        self.assertTrue(np.isfinite(frames).all())
        self.assertEqual(evaluate.analyse(frames), {"object": "red", "background": "blue", "motion": "right"})
        nonsense = evaluate.generate(PACKAGE, "zebra xylophone quantum")
        self.assertTrue(np.isfinite(nonsense).all())
        self.assertEqual(nonsense.shape, (16, 64, 64, 3))


if __name__ == "__main__":
    unittest.main()
