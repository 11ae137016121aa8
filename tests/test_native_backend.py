"""The native backend runs the bundle's layer program: every variant and baseline, against ONNX
Runtime on the same bundle (<= 1e-4 on the logits), on random and on real-stream inputs."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from bharnet.bundle import open_bundle  # noqa: E402
from bharnet.training.models import VARIANTS  # noqa: E402

from test_export import make_checkpoint, real_stream_inputs  # noqa: E402

TOL = 1e-4
# in the fast suite: one GAP variant, the PAM one and the one with private branches (every op
# kind); the rest run with the slow tests (CI runs both)
FAST = ("vanilla", "pam", "expertized")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """variant -> its exported bundle, made on first use."""
    from bharnet.export.builder import export_checkpoint

    d = tmp_path_factory.mktemp("native")

    class Lazy(dict):
        def __missing__(self, v):
            self[v] = open_bundle(export_checkpoint(str(make_checkpoint(d / f"{v}.pt", v, seed=3)),
                                                    d / f"{v}.bharnet", fp16=False, quiet=True))
            return self[v]
    return Lazy()


@pytest.mark.parametrize("variant", [v if v in FAST else pytest.param(v, marks=pytest.mark.slow)
                                     for v in VARIANTS])
def test_native_matches_onnxruntime(bundles, variant, holistic_stream):
    from bharnet.backends import get_backend
    from bharnet.training.config import example_inputs

    b = bundles[variant]
    native, ort = get_backend("native", b, threads=1), get_backend("onnxruntime", b, threads=1)
    rand = {k: v.numpy() for k, v in example_inputs(b.meta.config, batch=3, seed=4).items()}
    real = real_stream_inputs(holistic_stream, b.meta.spec)
    for x in (rand, real):
        got, ref = native.run(x), ort.run(x)
        assert set(got) == set(ref) == set(b.meta.output_names)
        scale = max(1.0, float(np.abs(ref["logits"]).max()))
        for k in ref:
            assert np.abs(got[k] - ref[k]).max() <= TOL * scale, (variant, k)
        assert (got["logits"].argmax(-1) == ref["logits"].argmax(-1)).all()


def test_program_is_what_the_exporter_checked(bundles):
    """The bundle records the program's own check against torch, and the program runs every op
    kind the variants need."""
    ops = set()
    for b in (bundles[v] for v in FAST):
        program, weights = b.program()
        ops |= {o.op for o in program.ops}
        assert max(b.meta.export_check["program_vs_torch"]["max_abs"].values()) <= TOL
        assert set(program.weight_names()) <= set(weights)
    assert {"embed", "gconv", "temporal", "concat", "collect", "gap", "pool_attention", "fuse",
            "presence", "linear"} <= ops


def test_native_refuses_a_bundle_without_program(tmp_path):
    from bharnet.backends import BackendUnavailable, get_backend
    from bharnet.export.builder import export_checkpoint
    from bharnet.training.checkpoint import load_checkpoint, save_checkpoint

    ck = load_checkpoint(make_checkpoint(tmp_path / "c.pt", "body_only"))
    ck["config"]["model"]["backbone"]["gcn"] = "ctrgcn"
    from bharnet.training.config import build_model

    ck["model"] = build_model(ck["config"], num_classes=ck["num_classes"], use_kernels=False).state_dict()
    save_checkpoint(tmp_path / "ctr.pt", **{k: v for k, v in ck.items() if k != "format"})
    b = open_bundle(export_checkpoint(str(tmp_path / "ctr.pt"), tmp_path / "ctr.bharnet", fp16=False,
                                      quiet=True))
    assert b.meta.program is None and "skipped" in b.meta.export_check["program_vs_torch"]
    with pytest.raises(BackendUnavailable, match="no layer program"):
        get_backend("native", b)
