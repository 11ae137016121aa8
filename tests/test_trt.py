"""TensorRT: the parts testable without TensorRT run here; engine builds need `import tensorrt`.

TensorRT cannot be installed in this workplace, so everything below the machine_import line is
written against the documented 10.3+ API and UNVERIFIED until run on a machine with TensorRT.
"""
import importlib.util

import numpy as np
import pytest

from bharnet.backends import trt_engine as T
from bharnet.bundle import BundleMeta
from bharnet.export import trt as B
from prereq import machine, machine_import

GPU = {"name": "NVIDIA Jetson AGX Orin", "compute_capability": "8.7"}


def _meta(graphs):
    return BundleMeta(spec={}, layout="coco17", classes=["a"], variant="vanilla", window=8, stride=8,
                      preprocessing={}, input_names=[], output_names=[], graphs=graphs)


def test_fp16_source_graph_follows_the_api_split():
    meta = _meta({"model.onnx": {"role": "window"}, "model.fp16.onnx": {"role": "window-fp16"},
                  "model.plugin.onnx": {"role": "window-plugin"}})
    assert T.onnx_member(meta, "fp16", "10.3.0") == "model.onnx"       # BuilderFlag.FP16 on FP32
    assert T.onnx_member(meta, "fp16", "11.0.0") == "model.fp16.onnx"  # strongly typed: FP16 graph
    assert T.onnx_member(meta, "fp32", "11.2.1") == "model.onnx"
    assert T.onnx_member(meta, "fp32", "10.3.0", plugin=True) == "model.plugin.onnx"
    assert not T.strongly_typed("10.7.0") and T.strongly_typed("11.0")
    with pytest.raises(ValueError):
        T.onnx_member(meta, "int8", "10.3")
    with pytest.raises(T.TrtUnavailable, match="window-fp16"):   # a bundle exported without FP16
        T.onnx_member(_meta({"model.onnx": {"role": "window"}}), "fp16", "11.0.0")


def test_cache_key_changes_with_everything_that_invalidates_a_plan(tmp_path):
    base = dict(bundle_sha256="a" * 64, member="model.onnx", precision="fp16", min_batch=1, opt_batch=4,
                max_batch=8, trt_version="10.3.0", gpu=GPU)
    k0 = T.cache_key(**base)
    for change in ({"bundle_sha256": "b" * 64}, {"trt_version": "10.4.0"}, {"precision": "fp32"},
                   {"gpu": {**GPU, "compute_capability": "9.0"}}, {"gpu": {**GPU, "name": "RTX 4090"}},
                   {"max_batch": 16}):
        assert T.cache_key(**{**base, **change})["id"] != k0["id"], change
    assert T.cache_key(**base) == k0
    p = T.engine_path(tmp_path, k0)
    assert p.parent == tmp_path and k0["id"] in p.name and p.suffix == ".engine"


def test_tensorrt_backend_is_unavailable_without_tensorrt():
    if importlib.util.find_spec("tensorrt") is not None:
        machine("tensorrt", "tensorrt is installed here; this checks its absence")
    from bharnet.backends import BackendUnavailable, get_backend

    with pytest.raises(BackendUnavailable, match="tensorrt"):
        get_backend("tensorrt", object(), device="cuda:0")
    with pytest.raises(T.TrtUnavailable):
        B.build_engine("whatever.bharnet")


# ---- needs TensorRT and a GPU (skipped in this workplace) ----------------------------------
@pytest.fixture(scope="module")
def trt_bundle(tmp_path_factory):
    machine_import("tensorrt", "tensorrt")
    from test_export import make_checkpoint  # same tiny checkpoint (tests/ is on sys.path)
    from bharnet.export.builder import export_checkpoint

    d = tmp_path_factory.mktemp("trt")
    return export_checkpoint(str(make_checkpoint(d / "pam.pt", "pam")), d / "pam.bharnet")


@pytest.mark.gpu
@pytest.mark.parametrize("precision,tol", [("fp32", 1e-3), ("fp16", 5e-2)])
def test_engine_matches_onnxruntime(trt_bundle, tmp_path, precision, tol):
    from bharnet.backends.tensorrt import TensorRTBackend
    from bharnet.bundle import open_bundle
    from bharnet.export.ort_check import run_ort

    b = open_bundle(trt_bundle)
    backend = TensorRTBackend(b, device="cuda:0", precision=precision, max_batch=4, cache_dir=tmp_path)
    rng = np.random.default_rng(0)
    from bharnet.data import InputSpec

    shapes = InputSpec.from_dict(b.meta.spec).input_shapes()
    B.build_engine(b, precision=precision, max_batch=4, cache_dir=tmp_path)
    x = {n: rng.normal(size=(6, *s)).astype(np.float32) for n, s in shapes.items()}
    x["hand_mask"] = (x["hand_mask"] > 0).astype(np.float32)
    got = backend.run(x)  # 6 > max_batch 4: runs in two chunks
    ref = run_ort(b.onnx_bytes(), x)
    for k in ref:
        assert np.abs(got[k] - ref[k]).max() <= tol
    again = B.build_engine(b, precision=precision, max_batch=4, cache_dir=tmp_path)
    assert again == backend.engine_path  # cache hit
