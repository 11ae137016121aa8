"""`from bharnet import sdk` and a whole recognition work with torch and onnx unimportable."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bharnet import sdk

BLOCKER = textwrap.dedent("""
    import sys
    class _Block:
        # refuse torch and onnx (not onnxruntime) the way a missing package would
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "onnx", "onnxscript", "torchvision"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None
    sys.meta_path.insert(0, _Block())
""")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_import_sdk_loads_no_torch():
    p = _run("""
        from bharnet import sdk
        import bharnet.backends, bharnet.sdk.cli
        bad = [m for m in sys.modules if m.split(".")[0] in ("torch", "onnx")]
        assert not bad, bad
        print("ok")
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok"


@pytest.mark.skipif(not sdk.default_model_path().is_file(), reason="no embedded default model")
def test_recognizer_runs_without_torch(holistic_stream, tmp_path):
    import numpy as np

    a = holistic_stream.copy()
    a[5:9, 40, 0] = np.nan
    a[::2, 33:] = 0
    np.save(tmp_path / "s.npy", a)
    p = _run(f"""
        import numpy as np
        from bharnet import sdk
        rec = sdk.Recognizer()        # auto, streaming default: the native step runtime
        assert (rec.backend.name, rec.mode) == ("native", "continual"), (rec.backend.name, rec.mode)
        rec = sdk.Recognizer(mode="window")        # auto in window mode: onnxruntime
        assert rec.backend.name == "onnxruntime", rec.backend.name
        rec = sdk.Recognizer(layout="mediapipe_holistic")
        a = np.load({str(tmp_path / 's.npy')!r})
        n = sum(1 for _ in rec.run(list(a)))
        assert n >= 1
        try:
            sdk.Recognizer(backend="torch")
        except sdk.BackendUnavailable as e:
            assert "torch" in str(e)
        else:
            raise AssertionError("torch backend should be unavailable")
        assert not [m for m in sys.modules if m.split(".")[0] in ("torch", "onnx")]
        print("ok", n)
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("ok")
