"""What every exporter in models/ shares: tracing a module to ONNX the way ONNX Runtime 1.31 reads it, merging
weights into one external-data file per graph, precision handling and the package's JSON files.

Uses the legacy TorchScript exporter (``dynamo=False``, opset 17): the dynamo exporter produces a UNet3D that
ONNX Runtime rejects. Needs torch and onnx (models/requirements-export.txt); CI never runs it.
"""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import onnx
import torch

# ONNX Runtime 1.31 reads IR version 13 at most; opset 17 needs 8 at least.
MAX_IR_VERSION = 10
OPSET = 17
# Protobuf cannot hold more than 2 GiB; stay well below it before switching to external data.
INLINE_LIMIT_BYTES = 1 << 30

DTYPES = {"fp32": torch.float32, "fp16": torch.float16}
# How far ONNX Runtime may be from torch on a check_graph call, per precision of the exported graph.
CHECK_TOLERANCE = {torch.float32: 1e-4, torch.float16: 2e-2}


def finish_onnx(tmp_file: Path, out_file: Path, external: str) -> None:
    """Load the exported graph with its weights, pin the IR version and save it as `out_file`, merging all
    weights into one `<name>_data` file (model.onnx -> model.onnx_data) when asked or when it is too large."""
    # The exporter spills large models into one file per weight next to the graph: count them all.
    size = sum(f.stat().st_size for f in tmp_file.parent.iterdir() if f.is_file())
    model = onnx.load(str(tmp_file), load_external_data=True)
    # The weights are in memory now: drop the spilled copy, so that a large model never needs two copies on disk.
    for f in tmp_file.parent.iterdir():
        f.unlink()
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    data_file = out_file.with_name(out_file.name + "_data")
    for stale in (out_file, data_file):
        stale.unlink(missing_ok=True)
    if external == "always" or (external == "auto" and size > INLINE_LIMIT_BYTES):
        onnx.save_model(
            model,
            str(out_file),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data_file.name,
            size_threshold=1024,
        )
        # onnx creates the data file owner-only; packages are installed for every user.
        data_file.chmod(0o644)
    else:
        onnx.save_model(model, str(out_file))
    onnx.checker.check_model(str(out_file))


def export_graph(module, args, names_in, names_out, dynamic_axes, out_file: Path, external: str) -> None:
    """Trace `module` on `args` into `out_file` (see finish_onnx for the weights)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_file = Path(tmp) / "model.onnx"
        with torch.no_grad():
            torch.onnx.export(
                module,
                args,
                str(tmp_file),
                input_names=names_in,
                output_names=names_out,
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        finish_onnx(tmp_file, out_file, external)


def check_graph(path: Path, feeds: dict, expected: list, tolerance: float = 1e-4) -> float:
    """Run the written graph in ONNX Runtime on `feeds` (name -> torch tensor) and compare every output with torch's
    `expected` (same order); a graph that differs is deleted and the export fails. Returns the largest difference."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: v.detach().cpu().numpy() for k, v in feeds.items()})
    diff = max(float(np.abs(g.astype(np.float64) - e.detach().cpu().double().numpy()).max())
               for g, e in zip(got, expected, strict=True))
    if not diff <= tolerance:
        path.unlink()
        path.with_name(path.name + "_data").unlink(missing_ok=True)
        raise RuntimeError(f"{path}: ONNX Runtime differs from torch by {diff} (tolerance {tolerance})")
    return diff


def pin_output_shapes(path: Path, shapes: dict[str, list]) -> None:
    """Declare the named outputs' shapes (ints for fixed dims, names for dynamic ones) where the exporter's shape
    inference lost them, so a runtime reading the graph's metadata sees them; external weights stay as they are."""
    model = onnx.load(str(path), load_external_data=False)
    for out in model.graph.output:
        if out.name in shapes:
            dims = out.type.tensor_type.shape.dim
            del dims[:]
            for d in shapes[out.name]:
                dim = dims.add()
                if isinstance(d, int):
                    dim.dim_value = d
                else:
                    dim.dim_param = d
    onnx.save_model(model, str(path))
    onnx.checker.check_model(str(path))


def write_json(path: Path, value) -> None:
    # Where the source was loaded from means nothing in the package (and would leak local paths).
    value = {k: v for k, v in value.items() if k != "_name_or_path"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def write_model_index(out: Path, index: dict, license: str | None, source: str | None) -> None:
    """model_index.json with the model's provenance: its licence (recorded in every clip.json the plugin writes)
    and where it came from."""
    if license:
        index["t2v_license"] = license
    if source:
        index["t2v_source"] = source
    write_json(out / "model_index.json", index)


def read_class_name(src: Path) -> str:
    """The pipeline class a diffusers folder declares in its model_index.json."""
    index = src / "model_index.json"
    if not index.is_file():
        raise SystemExit(f"{src} is not a diffusers pipeline folder: it has no model_index.json")
    return json.loads(index.read_text()).get("_class_name", "")


def source_precision(component_dir: Path) -> str | None:
    """"fp16" or "fp32": the floating-point type of a component's safetensors weights (read from the file header,
    no weights loaded), or None when it has none. Half types (bf16 too) count as fp16."""
    for f in sorted(component_dir.glob("*.safetensors")):
        with f.open("rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(length))
        for name, entry in header.items():
            if name != "__metadata__" and entry["dtype"] in ("F16", "BF16"):
                return "fp16"
            if name != "__metadata__" and entry["dtype"] == "F32":
                return "fp32"
    return None


def choose_dtype(requested: str, src: Path, component: str) -> str:
    """The export precision: what was asked for, or with "auto" the precision the source folder's `component`
    weights are stored in (a half-precision folder exports as fp16, never silently as fp32)."""
    if requested != "auto":
        return requested
    found = source_precision(src / component)
    if found is None:
        print(f"{src / component} has no safetensors weights to read the precision from: exporting fp32")
        return "fp32"
    return found
