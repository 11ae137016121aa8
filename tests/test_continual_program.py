"""Continual inference at the level of the layer program: the step forward (both schedules), in
eager torch and as ONNX on ONNX Runtime, equals the window forward at every prediction point."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from continual_helpers import random_model, small_config, valid_program, window_runner  # noqa: E402

from bharnet.export import continual as C  # noqa: E402
from bharnet.program import Program, ProgramError, to_atrous  # noqa: E402


@pytest.mark.parametrize("variant,tcn", [("vanilla", "conv"), ("pam", "mstcn"), ("expertized", "conv"),
                                         ("unified", "mstcn"), ("noisy_or", "conv")])
@pytest.mark.parametrize("schedule", C.SCHEDULES)
def test_eager_step_equals_window_at_every_prediction(variant, tcn, schedule):
    cfg = small_config(variant, tcn)
    prog, w = valid_program(random_model(cfg), cfg)
    run = window_runner(prog, w)
    mod = C.step_module(prog, w, schedule)
    state = C.steady_state(mod)
    st = [torch.as_tensor(state[C.STATE_IN + n]) for n in mod.state_names]
    k = mod.k
    assert k == (4 if schedule == "native" else 1)
    frames = prog.window + 5 * k
    stream = C._stream(prog, frames, seed=2)
    worst = 0.0
    for call in range(frames // k):
        lo, hi = call * k, (call + 1) * k
        feed = [torch.as_tensor(np.take(stream[n], range(lo, hi), axis=1 if n == "hand_mask" else 2))
                for n in prog.inputs]
        with torch.no_grad():
            out = mod(*feed, *st)
        st = list(out[len(mod.output_names):])
        ref = run(C._window(stream, hi - 1, prog.window))
        worst = max(worst, max(float(np.abs(o.numpy() - ref[n]).max())
                               for n, o in zip(mod.output_names, out)))
    assert worst <= 1e-5


@pytest.mark.slow
def test_onnx_step_graphs_are_checked_and_linted():
    cfg = small_config("vanilla", "conv")
    prog, w = valid_program(random_model(cfg, seed=1), cfg)
    members, graphs, meta = C.continual_members(prog, w, window_runner(prog, w), opset=18,
                                                quiet=True)
    assert set(members) == {"model.step.onnx", "model.step.atrous.onnx", C.INIT_STATE}
    native, atrous = graphs["model.step.onnx"], graphs["model.step.atrous.onnx"]
    assert native["frames_per_call"] == 4 and atrous["frames_per_call"] == 1
    assert native["check"]["points"] >= prog.window // 4 and native["check"]["max_abs"] <= 1e-5
    assert atrous["check"]["points"] >= prog.window and atrous["check"]["max_abs"] <= 1e-5
    assert native["trt_lint"] == "passed" and meta["exact"] and meta["window"] == prog.window
    from safetensors.numpy import load

    init = load(members[C.INIT_STATE])
    assert {k.split("/")[0] for k in init} == {"native", "atrous"}
    # the atrous schedule caches more (every phase of the strided layers)
    assert atrous["state_floats"] > native["state_floats"]


def test_step_graph_refuses_what_cannot_be_exact():
    cfg = small_config("vanilla", "conv")
    model = random_model(cfg)
    from bharnet.export.program_export import program_of
    from bharnet.training.config import input_spec

    same, w = program_of(model, input_spec(cfg))
    with pytest.raises(ProgramError, match="valid"):
        C.continual_members(same, w, None, opset=18, quiet=True)
    with pytest.raises(ProgramError, match="valid"):
        to_atrous(same)
    prog, w = valid_program(model, cfg)
    with pytest.raises(ProgramError, match="fit the strides"):
        prog.lengths(prog.window + 1)


def test_atrous_rewrite_keeps_the_weights_and_removes_strides():
    cfg = small_config("pam", "mstcn")
    prog, _ = valid_program(random_model(cfg), cfg)
    at = to_atrous(prog)
    assert all(o.attrs.get("stride", 1) == 1 for o in at.ops)
    assert [o.weights for o in at.ops] == [o.weights for o in prog.ops]
    assert set(at.rates().values()) == {1}
    assert at.receptive_field() == prog.receptive_field()
    assert Program.from_json(at.to_json()).to_json() == at.to_json()
