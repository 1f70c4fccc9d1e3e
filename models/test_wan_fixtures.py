"""The committed Wan fixture packages against the numbers diffusers produced for them (onnxruntime + numpy + onnx; no
torch). With torch + diffusers installed, also the exporter itself (round trips through export_diffusers.py).

    python3 -m unittest models/test_wan_fixtures.py
"""

import importlib.util
import json
import subprocess
import sys
import tempfile
import unittest
from collections import Counter
from pathlib import Path

import numpy as np
import onnx

MODELS = Path(__file__).resolve().parent
FIXTURES = MODELS / "fixtures"
NAMES = ("tiny-wan21", "tiny-wan22-ti2v")
HAS_TORCH = all(importlib.util.find_spec(m) for m in ("torch", "diffusers", "transformers"))

sys.path.insert(0, str(MODELS))
from wan_vae import denormalise, session, vae_decode  # noqa: E402


def load(expected_dir: Path, entry: dict) -> np.ndarray:
    return np.fromfile(expected_dir / entry["file"], dtype="<f4").reshape(entry["shape"])


def padded_ids(ids: list[int], length: int) -> tuple[np.ndarray, np.ndarray]:
    input_ids = np.zeros((1, length), dtype=np.int64)
    mask = np.zeros((1, length), dtype=np.int64)
    input_ids[0, :len(ids)] = ids
    mask[0, :len(ids)] = 1
    return input_ids, mask


def fixtures() -> list[tuple[Path, Path, dict]]:
    """(package, expected folder, expected.json) of every Wan fixture."""
    return [(FIXTURES / name, FIXTURES / f"{name}-expected",
             json.loads((FIXTURES / f"{name}-expected" / "expected.json").read_text())) for name in NAMES]


class WanFixtureTest(unittest.TestCase):

    def test_vae_graphs_reproduce_diffusers_decode(self):
        for package, expected_dir, e in fixtures():
            with self.subTest(package.name):
                for n, case in e["vae"]["cases"].items():
                    latents = load(expected_dir, case["latents"])
                    frames = load(expected_dir, case["frames"])
                    self.assertEqual(frames.shape[2], 1 + 4 * (int(n) - 1))
                    ours = vae_decode(package, denormalise(package, latents))
                    self.assertEqual(ours.shape, frames.shape)
                    np.testing.assert_allclose(ours, frames, atol=1e-4, rtol=0, err_msg=f"{n} latent frames")

    def test_first_graph_cache_outputs_are_the_step_graph_cache_inputs(self):
        for package, _, _ in fixtures():
            with self.subTest(package.name):
                first = session(package / "vae_decoder" / "first.onnx")
                step = session(package / "vae_decoder" / "step.onnx")
                outs = {o.name: o.shape for o in first.get_outputs() if o.name.startswith("cache_out_")}
                ins = {i.name.replace("cache_in_", "cache_out_"): i.shape for i in step.get_inputs()
                       if i.name.startswith("cache_in_")}
                step_outs = {o.name: o.shape for o in step.get_outputs() if o.name.startswith("cache_out_")}
                self.assertGreater(len(outs), 0)
                self.assertEqual(set(outs), {f"cache_out_{i}" for i in range(len(outs))})
                self.assertEqual(outs, ins)
                self.assertEqual(step_outs, ins)
                for shape in ins.values():
                    self.assertEqual(shape[2], 2, "every cache holds the last two frames")

    def test_text_encoder_reproduces_prompt_embeddings_after_zeroing_padding(self):
        for package, expected_dir, e in fixtures():
            with self.subTest(package.name):
                te = session(package / "text_encoder" / "model.onnx")
                length = e["request"]["text_length"]
                for ids, key in ((e["prompt_ids"], "prompt_embeds"), (e["negative_ids"], "negative_prompt_embeds")):
                    self.assertEqual(ids[-1], 1, "</s> ends the ids")
                    input_ids, mask = padded_ids(ids, length)
                    hidden = te.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
                    hidden[:, len(ids):] = 0.0
                    want = load(expected_dir, e["files"][key])
                    np.testing.assert_allclose(hidden, want, atol=1e-4, rtol=0, err_msg=key)
                    self.assertTrue((want[:, len(ids):] == 0).all())

    def test_transformer_reproduces_torch(self):
        for package, expected_dir, e in fixtures():
            with self.subTest(package.name):
                call = e["transformer_call"]
                latents = load(expected_dir, e["files"]["latents"])
                ehs = np.concatenate([load(expected_dir, e["files"]["negative_prompt_embeds"]),
                                      load(expected_dir, e["files"]["prompt_embeds"])])
                timestep = np.full(call["timestep_shape"], call["timestep"], dtype=np.float32)
                out = session(package / "transformer" / "model.onnx").run(None, {
                    "hidden_states": np.concatenate([latents, latents]), "timestep": timestep,
                    "encoder_hidden_states": ehs})[0]
                np.testing.assert_allclose(out, load(expected_dir, e["files"]["transformer_out"]), atol=1e-4, rtol=0)

    def test_transformer_attention_is_fused(self):
        for package, _, _ in fixtures():
            with self.subTest(package.name):
                layers = json.loads((package / "transformer" / "config.json").read_text())["num_layers"]
                ops = Counter(n.op_type for n in onnx.load(str(package / "transformer" / "model.onnx")).graph.node)
                self.assertEqual(ops["MultiHeadAttention"], 2 * layers, "self- and cross-attention of every block")
                self.assertEqual(ops["Softmax"], 0, "no attention scores materialised")

    def test_package_contract(self):
        for package, _, e in fixtures():
            with self.subTest(package.name):
                index = json.loads((package / "model_index.json").read_text())
                self.assertEqual(index["_class_name"], "WanPipeline")
                self.assertEqual(index["t2v_license"], "apache-2.0")
                self.assertEqual(index["t2v_defaults"]["scheduler"], "unipc")
                ti2v = package.name.endswith("ti2v")
                self.assertEqual(index.get("expand_timesteps", False), ti2v)
                tr = session(package / "transformer" / "model.onnx")
                t_input = next(i for i in tr.get_inputs() if i.name == "timestep")
                self.assertEqual(t_input.type, "tensor(float)")
                self.assertEqual(len(t_input.shape), 2 if ti2v else 1)
                for path in package.rglob("*.onnx"):
                    self.assertLessEqual(onnx.load(str(path), load_external_data=False).ir_version, 13, path)
                size = sum(f.stat().st_size for f in package.rglob("*") if f.is_file())
                self.assertLess(size, 5_000_000)


@unittest.skipUnless(HAS_TORCH, "needs torch, diffusers and transformers (models/requirements-export.txt)")
class WanExporterTest(unittest.TestCase):
    def test_unknown_pipeline_class_is_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "model_index.json").write_text('{"_class_name": "LTXPipeline"}')
            run = subprocess.run([sys.executable, str(MODELS / "export_diffusers.py"), tmp, str(Path(tmp) / "out")],
                                 capture_output=True, text=True)
            self.assertNotEqual(run.returncode, 0)
            self.assertIn("pipeline class 'LTXPipeline' is not supported", run.stderr)

    def test_licence_comes_from_the_model_card(self):
        from export_diffusers import card_license

        with tempfile.TemporaryDirectory() as tmp:
            self.assertIsNone(card_license(Path(tmp)))
            card = "---\nlanguage:\n- en\nlicense: apache-2.0\n---\n# Wan\nlicense: mit\n"
            (Path(tmp) / "README.md").write_text(card)
            self.assertEqual(card_license(Path(tmp)), "apache-2.0")

    def export(self, src: Path, out: Path, *args: str) -> None:
        subprocess.run([sys.executable, str(MODELS / "export_diffusers.py"), str(src), str(out), *args], check=True,
                       capture_output=True)

    def wan_source(self, tmp: Path, name: str) -> Path:
        sys.path.insert(0, str(FIXTURES))
        import make_wan_fixtures

        src = tmp / name
        make_wan_fixtures.build_pipeline(name, make_wan_fixtures.SPECS[name], src)
        return src

    def test_wan_export_round_trip_reproduces_the_committed_fixture(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = self.wan_source(Path(tmp), "tiny-wan21")
            out = Path(tmp) / "package"
            self.export(src, out, "--source", "test")
            for graph in ("text_encoder/model.onnx", "transformer/model.onnx", "vae_decoder/first.onnx",
                          "vae_decoder/step.onnx", "vae_encoder/first.onnx", "vae_encoder/step.onnx"):
                self.assertEqual((out / graph).read_bytes(), (FIXTURES / "tiny-wan21" / graph).read_bytes(), graph)
            index = json.loads((out / "model_index.json").read_text())
            self.assertEqual(index["t2v_defaults"], {"width": 832, "height": 480, "frames": 81, "max_frames": 81,
                                                     "fps": 16.0, "steps": 50, "guidance": 5.0, "scheduler": "unipc"})
            self.assertEqual(index["t2v_source"], "test")

    def test_wan_fp16_export_keeps_fp32_modules_and_stays_close(self):
        e = json.loads((FIXTURES / "tiny-wan22-ti2v-expected" / "expected.json").read_text())
        expected_dir = FIXTURES / "tiny-wan22-ti2v-expected"
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "package"
            self.export(self.wan_source(Path(tmp), "tiny-wan22-ti2v"), out, "--dtype", "fp16")
            graph = onnx.load(str(out / "transformer" / "model.onnx")).graph
            fp32 = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
            # diffusers' _keep_in_fp32_modules stay f32 (the time embedding); the attention projections are f16.
            self.assertLessEqual({"transformer.condition_embedder.time_embedder.linear_1.bias",
                                  "transformer.condition_embedder.time_embedder.linear_2.bias"}, fp32)
            self.assertFalse([name for name in fp32 if "attn" in name or "ffn" in name])
            self.assertIn("transformer.blocks.0.attn1.to_q.bias",
                          {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT16})
            tr = session(out / "transformer" / "model.onnx")
            self.assertEqual([i.type for i in tr.get_inputs()],
                             ["tensor(float16)", "tensor(float)", "tensor(float16)"])
            latents = load(expected_dir, e["files"]["latents"])
            ehs = np.concatenate([load(expected_dir, e["files"]["negative_prompt_embeds"]),
                                  load(expected_dir, e["files"]["prompt_embeds"])])
            call = e["transformer_call"]
            got = tr.run(None, {"hidden_states": np.concatenate([latents, latents]).astype(np.float16),
                                "timestep": np.full(call["timestep_shape"], call["timestep"], dtype=np.float32),
                                "encoder_hidden_states": ehs.astype(np.float16)})[0]
            self.assertEqual(got.dtype, np.float16)
            np.testing.assert_allclose(got.astype(np.float32), load(expected_dir, e["files"]["transformer_out"]),
                                       atol=1e-2, rtol=0)
            case = e["vae"]["cases"]["5"]
            frames = vae_decode(out, denormalise(out, load(expected_dir, case["latents"])).astype(np.float16))
            np.testing.assert_allclose(frames.astype(np.float32), load(expected_dir, case["frames"]), atol=1e-2, rtol=0)

    def test_half_precision_modelscope_folder_exports_fp16_graphs_onnx_runtime_loads(self):
        import torch
        from diffusers import TextToVideoSDPipeline

        sys.path.insert(0, str(FIXTURES))
        import make_fixtures

        with tempfile.TemporaryDirectory() as tmp:
            half = Path(tmp) / "half"
            src = make_fixtures.build_pipeline(Path(tmp))
            TextToVideoSDPipeline.from_pretrained(str(src), torch_dtype=torch.float16).save_pretrained(str(half))
            out = Path(tmp) / "package"
            self.export(half, out)  # --dtype auto: the folder's own precision
            for graph, first_input in (("text_encoder", "tensor(int64)"), ("unet", "tensor(float16)"),
                                       ("vae_decoder", "tensor(float16)")):
                s = session(out / graph / "model.onnx")  # the text encoder failed here (LayerNormalization types)
                self.assertEqual(s.get_inputs()[0].type, first_input, graph)
                self.assertEqual(s.get_outputs()[0].type, "tensor(float16)", graph)
            te = session(out / "text_encoder" / "model.onnx")
            hidden = te.run(None, {"input_ids": np.arange(77, dtype=np.int64)[None] % 50})[0]
            self.assertTrue(np.isfinite(hidden).all())
