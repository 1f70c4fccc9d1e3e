"""The reference pipeline against diffusers (onnxruntime + numpy only; the fixtures hold diffusers' numbers):

    python3 -m unittest models/test_reference_pipeline.py
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reference_pipeline import PromptTokenizer, NoiseStream, Scheduler, generate, seeded_normals  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PACKAGE = FIXTURES / "tiny-modelscope"
EXPECTED = FIXTURES / "tiny-modelscope-expected"


def expected() -> dict:
    return json.loads((EXPECTED / "expected.json").read_text())


class NoiseTest(unittest.TestCase):
    def test_known_values_and_stream_continuity(self):
        # The same values engine/src/noise.rs checks.
        np.testing.assert_allclose(seeded_normals(7, 3), [1.3649923, 0.14452122, -0.39652398], atol=1e-6)
        s = NoiseStream(42)
        parts = np.concatenate([s.take(3), s.take(1), s.take(7)])
        np.testing.assert_array_equal(parts, seeded_normals(42, 11))


class TokenizerTest(unittest.TestCase):
    def test_matches_transformers_from_both_sources(self):
        e = expected()
        with tempfile.TemporaryDirectory() as tmp:
            vocab_only = Path(tmp) / "tokenizer"
            shutil.copytree(PACKAGE / "tokenizer", vocab_only)
            (vocab_only / "tokenizer.json").unlink()
            for folder in (PACKAGE / "tokenizer", vocab_only):
                tok = PromptTokenizer(folder, 77)
                self.assertEqual(tok.encode(e["prompt"]), e["prompt_ids"])
                self.assertEqual(tok.encode(e["negative_prompt"]), e["negative_ids"])
                # Ids printed by the `tokenizers` library for transformers' tokenizer.json (as in engine/tests/parity.rs).
                self.assertEqual(tok.encode("Hello, World! it's 42 cats")[:22],
                                 [572, 71, 68, 75, 75, 334, 267, 535, 75, 323, 0, 72, 339, 6, 338, 275, 273, 66, 64,
                                  83, 338, 573])
                long = tok.encode("a cat " * 100)
                self.assertEqual(len(long), 77)
                self.assertEqual(long[-1], e["prompt_ids"][13], "ends with <|endoftext|> after truncation")

    def test_word_level_tokenizer_json(self):
        """The same word-level tokenizer.json engine/src/tokenizer.rs tests: own padding, no framing."""
        spec = {"version": "1.0", "truncation": {"max_length": 6}, "added_tokens": [],
                "padding": {"strategy": {"Fixed": 6}, "pad_id": 0, "pad_token": "[PAD]"},
                "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None,
                "model": {"type": "WordLevel", "vocab": {"[PAD]": 0, "[UNK]": 1, "red": 2, "ball": 3},
                          "unk_token": "[UNK]"}}
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "tokenizer.json").write_text(json.dumps(spec))
            tok = PromptTokenizer(Path(tmp), 77)
            self.assertEqual(tok.encode("A Red ball!"), [1, 2, 3, 1, 0, 0])
            self.assertEqual(tok.encode("red " * 8), [2] * 6)
            self.assertEqual(tok.encode(""), [0] * 6)


class SchedulerTest(unittest.TestCase):
    def test_trajectories_match_diffusers(self):
        data = json.loads((FIXTURES / "schedulers.json").read_text())
        n = data["trajectory_len"]
        for case in data["cases"]:
            label = f'{case["kind"]} / {case["config_name"]} / {case["steps"]}'
            with self.subTest(label):
                s = Scheduler(case["kind"], case["config"], case["steps"])
                np.testing.assert_allclose(s.timesteps, case["timesteps"], rtol=1e-5, atol=1e-5)
                if "sigmas" in case:
                    np.testing.assert_allclose(s.sigmas, case["sigmas"], rtol=1e-5, atol=1e-5)
                noise = NoiseStream(data["trajectory_seed"])
                x = (noise.take(n) * np.float32(s.init_sigma)).astype(np.float32)
                idx = np.arange(n, dtype=np.float64)
                for i, t in enumerate(s.timesteps):
                    inp = s.scale_model_input(i, x)
                    np.testing.assert_allclose(inp, case["model_inputs"][i], rtol=1e-5, atol=1e-5)
                    out = (0.9 * inp.astype(np.float64) + 0.2 * np.sin(idx + t / 100)).astype(np.float32)
                    x = s.step(i, out, x, noise)
                    np.testing.assert_allclose(x, case["samples"][i], rtol=1e-5, atol=1e-5)


class PipelineTest(unittest.TestCase):
    def test_frames_match_diffusers(self):
        e = expected()
        latents = np.fromfile(EXPECTED / "latents.f32", "<f4")
        np.testing.assert_allclose(seeded_normals(e["seed"], latents.size), latents, atol=1e-6)
        for kind, run in e["runs"].items():
            with self.subTest(kind):
                video = generate(PACKAGE, e["prompt"], e["negative_prompt"], seed=e["seed"], scheduler=kind)
                self.assertEqual(video.shape, (e["frames"], e["height"], e["width"], 3))
                want = np.fromfile(EXPECTED / run["file"], "<f4").reshape(video.shape)
                self.assertLess(float(np.abs(video - want).max()), 1e-3)

    def test_f16_and_integer_io(self):
        """fp16 exports' I/O (f16 floats, int32 ids, int64 timestep): within f16 rounding of diffusers' f32 run."""
        e = expected()
        run = e["f16io_runs"]["ddim"]
        video = generate(FIXTURES / "tiny-modelscope-f16io", e["prompt"], e["negative_prompt"], seed=e["seed"],
                         scheduler="ddim")
        want = np.fromfile(EXPECTED / run["file"], "<f4").reshape(video.shape)
        self.assertLess(float(np.abs(video - want).max()), 1e-2)

    def test_reference_runs_are_reproducible(self):
        """The committed reference frames (which the Rust engine also reproduces) still come out of this code."""
        e = expected()
        for name, run in e["reference_runs"].items():
            with self.subTest(name):
                video = generate(PACKAGE, e["prompt"], e["negative_prompt"], seed=e["seed"], scheduler=run["scheduler"],
                                 frames=run["frames"])
                want = np.fromfile(EXPECTED / run["file"], "<f4").reshape(video.shape)
                # ONNX Runtime picks its kernels by CPU (AVX2 / AVX-512): the same run differs by ~1.4e-5 across
                # machines (measured on an AVX2-only EPYC against files made elsewhere).
                self.assertLess(float(np.abs(video - want).max()), 5e-5)

    def test_defaults_and_unguided(self):
        video = generate(PACKAGE, "a cat", guidance=1.0, steps=2)
        self.assertEqual(video.shape, (3, 24, 32, 3))
        self.assertTrue(((video >= 0) & (video <= 1)).all())
        again = generate(PACKAGE, "a cat", negative_prompt="ignored without guidance", guidance=1.0, steps=2)
        np.testing.assert_array_equal(video, again)

    def test_a_generation_writes_nothing_into_the_home_folder(self):
        # ONNX Runtime's PyPI build writes ~/.cache/Microsoft/... unless its telemetry is off.
        with tempfile.TemporaryDirectory() as home:
            env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY")}
            code = f"import reference_pipeline as r; r.generate({str(PACKAGE)!r}, 'a cat', steps=1)"
            subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent, check=True,
                           env={**env, "HOME": home})
            self.assertEqual(os.listdir(home), [])


if __name__ == "__main__":
    unittest.main()
