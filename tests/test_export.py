"""Export: checkpoint -> bundle -> ONNX Runtime, compared with torch; FP16; TensorRT lint.

One small PAM checkpoint is exported once per session (dynamo export is slow-ish on 2 cores); the
parity sweep over every variant is marked slow.
"""
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from bharnet.bundle import BundleError, open_bundle  # noqa: E402
from bharnet.export.ort_check import max_abs_diff, run_ort, run_torch, top1_agreement  # noqa: E402
from bharnet.training.models import VARIANTS  # noqa: E402

SMALL = {"base_channels": 8, "num_stages": 4, "inflate_stages": [3], "down_stages": [3]}
WINDOW = 16
TOL = 1e-4


def make_checkpoint(path, variant, num_classes=6, seed=0):
    from continual_helpers import random_model

    from bharnet.training.checkpoint import save_checkpoint
    from bharnet.training.config import input_spec, load_config

    cfg = load_config({"model": {"variant": variant, "backbone": SMALL, "pam": {"dim": 8, "heads": 2},
                                 "branch_stages": 2, "use_kernels": False},
                       "data": {"window": WINDOW, "layout": "mediapipe_holistic"}})
    # non-trivial BatchNorm statistics and PAM output so folding and attention are exercised
    model = random_model(cfg, seed=seed, classes=num_classes)
    return save_checkpoint(path, config=cfg, num_classes=num_classes,
                           classes=[f"action_{i}" for i in range(num_classes)], hand_intensive=[1, 3],
                           source_layout="mediapipe_holistic", spec=input_spec(cfg).to_dict(),
                           model=model.state_dict())


def torch_model(ckpt_path):
    from bharnet.training.checkpoint import load_checkpoint, model_from_checkpoint

    return model_from_checkpoint(load_checkpoint(ckpt_path), use_kernels=False)


def real_stream_inputs(stream, spec_dict, starts=(0, 20, 40, 56)):
    """Windows of the real MediaPipe Holistic stream through the shared NumPy pipeline."""
    from bharnet.data import InputSpec, collate, prepare

    spec = InputSpec.from_dict(spec_dict)
    kp, score = stream[..., :spec.coords][None], stream[..., 3][None]
    return collate([prepare(kp[:, s:s + spec.window], score[:, s:s + spec.window], "mediapipe_holistic", spec)
                    for s in starts])


def structured_inputs(model, batch, seed):
    """Random-but-structured inputs: smooth trajectories, realistic scores, hands coming and going."""
    rng = np.random.default_rng(seed)
    from bharnet.training.config import example_inputs  # shapes only

    out = {}
    for name, t in example_inputs({"model": {"variant": model.variant},
                                   "data": {"coords": 2, "with_score": True, "window": WINDOW,
                                            "num_person": 1, "body_layout": "coco17"}}, batch).items():
        shape = t.shape
        if name == "hand_mask":
            out[name] = (rng.random(shape) > 0.3).astype(np.float32)
            continue
        walk = np.cumsum(rng.normal(0, 0.05, shape), axis=2) + rng.normal(0, 0.5, shape[:2] + (1,) + shape[3:])
        walk[:, -1] = rng.uniform(0.3, 1.0, walk[:, -1].shape)  # score channel
        out[name] = walk.astype(np.float32)
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from bharnet.cli import main

    d = tmp_path_factory.mktemp("export")
    ckpt = make_checkpoint(d / "pam.pt", "pam")
    out = d / "pam.bharnet"
    assert main(["export", str(ckpt), "--out", str(out), "--plugin"]) == 0
    return ckpt, out


def test_bundle_metadata(exported):
    _, path = exported
    b = open_bundle(path)
    m = b.meta
    assert b.metadata["format_version"] == 2 and m.variant == "pam" and m.window == WINDOW
    assert m.layout == "mediapipe_holistic" and m.stride == 8 and m.opset >= 17
    assert m.classes[0] == "action_0" and m.hand_intensive == [1, 3]
    assert m.input_names == ["body", "hand", "hand_mask"]
    assert m.output_names == ["logits", "body_logits", "hand_logits"]
    assert m.spec["window"] == WINDOW and m.preprocessing["stream"] == "j"
    assert m.preprocessing["sampling"] == "uniform" and "normalisation" in m.preprocessing
    assert {g: r["role"] for g, r in m.graphs.items()} == {
        "model.onnx": "window", "model.fp16.onnx": "window-fp16", "model.plugin.onnx": "window-plugin"}
    assert set(b.metadata["members"]) == {"model.onnx", "model.fp16.onnx", "model.plugin.onnx",
                                          "weights.safetensors", "program.json", "program.safetensors"}
    assert max(m.export_check["ort_vs_torch_max_abs"].values()) <= TOL
    assert max(m.export_check["program_vs_torch"]["max_abs"].values()) <= TOL
    w = b.weights()
    sd = torch_model(exported[0]).state_dict()
    assert set(w) == set(sd)
    np.testing.assert_array_equal(w["body_head.1.weight"], sd["body_head.1.weight"].numpy())


def test_graph_is_fixed_window_dynamic_batch(exported):
    import onnx

    g = onnx.load_from_string(open_bundle(exported[1]).onnx_bytes()).graph
    for vi in list(g.input) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        assert dims[0].dim_param == "batch"
        assert all(d.HasField("dim_value") for d in dims[1:])
    assert {n.domain for n in g.node} <= {"", "ai.onnx"}


@pytest.mark.parametrize("batch", [1, 5])
def test_ort_matches_torch_on_random_inputs(exported, batch):
    from bharnet.training.config import example_inputs

    ckpt, path = exported
    model = torch_model(ckpt)
    cfg = torch.load(ckpt, weights_only=True)["config"]
    x = {k: v.numpy() for k, v in example_inputs(cfg, batch=batch, seed=7).items()}
    diff = max_abs_diff(run_ort(open_bundle(path).onnx_bytes(), x), run_torch(model, x))
    assert max(diff.values()) <= TOL, diff


def test_fresh_python_without_torch_runs_the_real_stream(exported, holistic_stream, tmp_path):
    """The check as a user runs it: a Python with torch blocked opens the bundle and runs ORT."""
    ckpt, path = exported
    out = tmp_path / "logits.npy"
    code = f"""
import sys
sys.modules["torch"] = None  # any torch import now fails
import numpy as np, onnxruntime as ort
from bharnet.bundle import open_bundle
from bharnet.data import InputSpec, collate, prepare
b = open_bundle({str(path)!r})
spec = InputSpec.from_dict(b.meta.spec)
s = np.load({str(tmp_path / 'stream.npy')!r})
kp, sc = s[..., :spec.coords][None], s[..., 3][None]
x = collate([prepare(kp[:, i:i + spec.window], sc[:, i:i + spec.window], b.meta.layout, spec)
             for i in (0, 20, 40, 56)])
sess = ort.InferenceSession(b.onnx_bytes(), providers=["CPUExecutionProvider"])
np.save({str(out)!r}, sess.run(["logits"], {{k: x[k] for k in b.meta.input_names}})[0])
"""
    np.save(tmp_path / "stream.npy", holistic_stream)
    subprocess.run([sys.executable, "-c", code], check=True)
    model = torch_model(ckpt)
    x = real_stream_inputs(holistic_stream, open_bundle(path).meta.spec)
    ref = run_torch(model, x)["logits"]
    assert np.abs(np.load(out) - ref).max() <= TOL


def test_fp16_graph_agrees_on_top1(exported):
    ckpt, path = exported
    b = open_bundle(path)
    model = torch_model(ckpt)
    x = structured_inputs(model, 256, seed=3)
    o32 = run_ort(b.onnx_bytes(), x)["logits"]
    o16 = run_ort(b.onnx_bytes("model.fp16.onnx"), x)["logits"]
    assert o16.dtype == np.float32  # FP32 I/O, FP16 inside
    assert top1_agreement(o16, o32) >= 0.99
    import onnx

    inits = onnx.load_from_string(b.onnx_bytes("model.fp16.onnx")).graph.initializer
    assert all(t.data_type != onnx.TensorProto.FLOAT for t in inits)


def test_trt_lint_passes_on_exported_graphs(exported):
    from bharnet.export.trt_lint import lint

    b = open_bundle(exported[1])
    assert lint(b.onnx_bytes()) == []
    assert lint(b.onnx_bytes("model.fp16.onnx")) == []


def test_plugin_graph_has_plugin_nodes_and_passes_the_lint(exported):
    import onnx

    from bharnet.export.trt_lint import lint

    g = onnx.load_from_string(open_bundle(exported[1]).onnx_bytes("model.plugin.onnx")).graph
    plugins = [n for n in g.node if n.domain == "bharnet"]
    assert {n.op_type for n in plugins} == {"GraphConv", "PoolAttention"}
    for n in plugins:
        attrs = {a.name: a for a in n.attribute}
        assert attrs["plugin_namespace"].s == b"bharnet" and attrs["plugin_version"].s == b"1"
    assert lint(open_bundle(exported[1]).onnx_bytes("model.plugin.onnx")) == []


def test_plugin_graph_on_ort_with_our_kernels_matches_portable(exported, holistic_stream):
    """GraphConv / PoolAttention nodes run by bharnet._C's CPU kernels inside ONNX Runtime."""
    pytest.importorskip("onnxruntime_extensions")
    from bharnet.export.ort_plugins import plugin_session
    from bharnet.training.config import example_inputs

    b = open_bundle(exported[1])
    sess = plugin_session(b.onnx_bytes("model.plugin.onnx"))
    cfg = torch.load(exported[0], weights_only=True)["config"]
    rand = {k: v.numpy() for k, v in example_inputs(cfg, batch=3, seed=5).items()}
    real = real_stream_inputs(holistic_stream, b.meta.spec)
    for x in (rand, real):
        diff = max_abs_diff(run_ort(sess, x), run_ort(b.onnx_bytes(), x))
        assert max(diff.values()) <= TOL, diff


def test_trt_lint_catches_what_tensorrt_refuses():
    from onnx import TensorProto, helper

    from bharnet.export.trt_lint import TrtLintError, check_trt_ready, lint

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "T", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "T", 4])
    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "b", [],
                               [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("If", ["c"], ["y0"], then_branch=branch, else_branch=branch),
             helper.make_node("Einsum", ["y0", "y0"], ["y1"], equation="...i,...i->..."),
             helper.make_node("Unique", ["y1"], ["y2"]),
             helper.make_node("MyOp", ["y2"], ["y"], domain="somewhere")]
    model = helper.make_model(helper.make_graph(nodes, "g", [x, cond], [y]),
                              opset_imports=[helper.make_opsetid("", 18)])
    issues = "\n".join(lint(model))
    for expected in ("control flow", "axis 1 is dynamic (T)", "ellipsis", "Unique", "somewhere"):
        assert expected in issues
    with pytest.raises(TrtLintError):
        check_trt_ready(model.SerializeToString())
    old = helper.make_model(helper.make_graph([], "g", [], []), opset_imports=[helper.make_opsetid("", 21)])
    assert any("opset 21" in i for i in lint(old))
    # the negative control: a static, supported graph passes, as a ModelProto and as bytes
    xs = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 4])
    ys = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8, 4])
    clean = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [xs], [ys]),
                              opset_imports=[helper.make_opsetid("", 18)])
    assert lint(clean) == [] and lint(clean.SerializeToString()) == []
    check_trt_ready(clean.SerializeToString())


def test_tampered_bundle_is_refused(exported, tmp_path):
    raw = bytearray(exported[1].read_bytes())
    for pos in (10, len(raw) // 3, len(raw) - 70):
        bad = bytearray(raw)
        bad[pos] ^= 0x40
        p = tmp_path / "bad.bharnet"
        p.write_bytes(bytes(bad))
        with pytest.raises(BundleError):
            open_bundle(p)


def test_export_cli_reports_missing_checkpoint(tmp_path, capsys):
    from bharnet.cli import main

    assert main(["export", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x.bharnet")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_parity_random_and_real_stream(variant, tmp_path, holistic_stream):
    from bharnet.export.builder import export_checkpoint
    from bharnet.training.config import example_inputs

    ckpt = make_checkpoint(tmp_path / f"{variant}.pt", variant)
    path = export_checkpoint(str(ckpt), tmp_path / f"{variant}.bharnet", plugin=True)
    b = open_bundle(path)
    model = torch_model(ckpt)
    cfg = torch.load(ckpt, weights_only=True)["config"]
    rand = {k: v.numpy() for k, v in example_inputs(cfg, batch=4, seed=11).items()}
    real = real_stream_inputs(holistic_stream, b.meta.spec)
    report = {}
    for name, x in (("random", rand), ("real", real)):
        diff = max_abs_diff(run_ort(b.onnx_bytes(), x), run_torch(model, x))
        report[name] = diff["logits"]
        assert max(diff.values()) <= TOL, (variant, name, diff)
    xs = structured_inputs(model, 256, seed=5)
    report["fp16_top1"] = top1_agreement(run_ort(b.onnx_bytes("model.fp16.onnx"), xs)["logits"],
                                         run_ort(b.onnx_bytes(), xs)["logits"])
    assert report["fp16_top1"] >= 0.99
    if importlib.util.find_spec("onnxruntime_extensions") is not None:
        from bharnet.export.ort_plugins import plugin_session

        sess = plugin_session(b.onnx_bytes("model.plugin.onnx"))
        for name, x in (("random", rand), ("real", real)):
            diff = max_abs_diff(run_ort(sess, x), run_ort(b.onnx_bytes(), x))
            report[f"plugin_{name}"] = diff["logits"]
            assert max(diff.values()) <= TOL, (variant, "plugin", name, diff)
    print(f"PARITY {variant} {json.dumps(report)}")


def test_batchnorm_folding_preserves_the_model():
    from bharnet.export.onnx_export import fold_batchnorm
    from bharnet.training.config import build_model, example_inputs, load_config

    cfg = load_config({"model": {"variant": "vanilla", "backbone": SMALL}, "data": {"window": WINDOW}})
    model = build_model(cfg, num_classes=4, use_kernels=False).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    folded = fold_batchnorm(model)
    n_bn = lambda m: sum(isinstance(x, torch.nn.BatchNorm2d) for x in m.modules())  # noqa: E731
    assert n_bn(folded) < n_bn(model)
    x = example_inputs(cfg, batch=2)
    with torch.no_grad():
        torch.testing.assert_close(folded(**x)["logits"], model(**x)["logits"], atol=1e-5, rtol=1e-5)


def test_fp16_values_never_underflow_to_zero_or_overflow():
    from bharnet.export.fp16 import to_half

    h = to_half(np.array([1e-12, -1e-12, 0.0, 1e6, -np.inf, 0.5], np.float32))
    assert h[0] > 0 and h[1] < 0 and h[2] == 0
    assert np.isfinite(h[3]) and h[3] == np.float16(65504) and np.isneginf(h[4]) and h[5] == 0.5
