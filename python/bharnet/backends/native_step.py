"""The native step runtime: a streaming layer program run frame by frame by bharnet._C
(csrc/runtime), with a ring buffer per cached tensor and nothing copied between frames.

Two schedules, the same as the exported step graphs (bharnet/export/continual.py):
  native  strided layers fire on every s-th element: one prediction every `frames_per_prediction`
          frames (the program's total stride), the least work per frame;
  atrous  the program rewritten by bharnet.program.to_atrous: a prediction every frame.

One runner (weights, plan, the steady state of missing frames) serves many tracks from several
threads; each track owns a state from `new_state()`, stepped by one thread at a time (the SDK
holds a lock per track; a state stepped by two threads at once is refused).

No torch, no onnxruntime.
"""
from __future__ import annotations

import numpy as np

from ..program import SCHEDULES, Program, ProgramError, to_atrous


def _kernels():
    try:
        from bharnet import _C
    except ImportError as e:
        raise ImportError(f"the native step runtime needs the compiled bharnet._C ({e})") from None
    if not hasattr(_C, "StepProgram"):
        raise ImportError("this bharnet._C was built without the step runtime; rebuild it (make build)")
    return _C


class NativeStepRunner:
    """program: a valid (streaming) Program; weights: {name: array}; schedule: native | atrous."""

    def __init__(self, program: Program, weights: dict[str, np.ndarray], schedule: str = "native"):
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if not program.streamable:
            raise ProgramError("the native step runtime needs a valid (streaming) program: a same-padded "
                               "model's outputs depend on where its window starts")
        program.validate()
        missing = [n for n in program.weight_names() if n not in weights]
        if missing:
            raise ProgramError(f"the program's weights are missing {missing[:5]}")
        prog = to_atrous(program) if schedule == "atrous" else program
        C = _kernels()
        self.schedule = schedule
        self.program = prog
        self._impl = C.StepProgram(
            [(name, [int(d) for d in shape]) for name, shape in prog.inputs.items()],
            [(o.op, list(o.ins), o.out, dict(o.attrs), dict(o.weights)) for o in prog.ops],
            list(prog.outputs.items()),
            {n: np.ascontiguousarray(weights[n], np.float32) for n in prog.weight_names()})
        self.input_names = tuple(self._impl.input_names)
        self.output_names = tuple(self._impl.output_names)
        self.frames_per_prediction = int(self._impl.frames_per_prediction)
        self.receptive_field = int(self._impl.receptive_field)
        self.isa = C.StepProgram.isa

    def new_state(self):
        """A track's state at the steady state of missing (all-zero) frames."""
        return self._impl.new_state()

    def reset(self, state) -> None:
        self._impl.reset(state)

    def step(self, frame: dict[str, np.ndarray], state) -> dict[str, np.ndarray] | None:
        """One frame per input, without batch or time axes (body [C, V, I], hand [C, 21, I],
        hand_mask [I], joints [C, 65, I]); returns {output: [1, K]} when this frame completes a
        prediction, else None. Mutates `state` in place."""
        return self._impl.step(state, frame)

    def state_bytes(self, state=None) -> int:
        """Bytes one track's state holds (rings, heads, counter)."""
        return int(state.nbytes if state is not None else self._impl.state_bytes)


__all__ = ["NativeStepRunner"]
