#!/usr/bin/env bash
# Wheel smoke test: build the wheel, install it into a fresh venv WITHOUT torch, and check that the
# SDK works there on the real MediaPipe stream (NaNs injected, hands removed), that timestamps
# going back are refused, and that the embedded default model is inside the wheel.
#
#   tests/smoke/no_torch_smoke.sh            (PYTHON=... to pick the building interpreter)
#
# The build needs scikit-build-core, pybind11 and a compiler in the building interpreter (as
# `make setup` provides); the venv gets numpy/onnxruntime/safetensors from the package index.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
WORK="$(mktemp -d -t bharnet-smoke-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
STREAM="${BHARNET_STREAM:-$REPO/../shared/data/streams/demo_skeleton_holistic.npy}"

echo "== building the wheel with $PYTHON"
"$PYTHON" -m pip wheel -q --no-build-isolation --no-deps -w "$WORK/dist" .
WHEEL="$(ls "$WORK"/dist/bharnet-*.whl)"
echo "   $WHEEL ($(du -h "$WHEEL" | cut -f1))"
LISTING="$("$PYTHON" -m zipfile -l "$WHEEL")"
grep -q "bharnet/sdk/default_model/default.bharnet" <<<"$LISTING" \
  || { echo "FAIL: the embedded default model is not in the wheel"; exit 1; }
echo "   embedded default model present in the wheel"

echo "== fresh venv without torch"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$VPY" -m pip install -q "$WHEEL"
cd "$WORK"   # away from the source tree: only the installed wheel can be imported

"$VPY" - "$STREAM" <<'PY'
import json, sys, importlib.util
import numpy as np

assert importlib.util.find_spec("torch") is None, "torch must not be installed in the smoke venv"
from bharnet import sdk
loaded = [m for m in sys.modules if m.split(".")[0] in ("torch", "onnx")]
assert not loaded, f"import bharnet.sdk loaded {loaded}"
print("   import bharnet.sdk: no torch, no onnx")

rec = sdk.Recognizer()
print(f"   Recognizer(): backend {rec.backend.name}, {len(rec.classes)} classes, window {rec.window}")
stream_path = sys.argv[1]
try:
    kp = np.load(stream_path)
except FileNotFoundError:
    print(f"   (real stream {stream_path} not found: a synthetic holistic-shaped stream instead)")
    rng = np.random.default_rng(0)
    kp = rng.uniform(0.2, 0.8, (72, 75, 4)).astype(np.float32)
    kp[..., 3] = 0.9
noisy = kp.copy()
rng = np.random.default_rng(0)
noisy[rng.integers(0, len(kp), 30), rng.integers(0, 75, 30), 0] = np.nan
noisy[rng.integers(0, len(kp), 5), rng.integers(0, 75, 5), 1] = np.inf
noisy[::2, 54:75] = 0.0        # right hand missing in half the frames
noisy[10:30, 33:75] = 0.0      # both hands missing for a while
noisy[40] = np.nan             # a broken frame

rec = sdk.Recognizer()          # layout told by the rows: 75 -> mediapipe_holistic
inner = rec.backend
class Spy:
    name, thread_safe, finite = inner.name, True, True
    def run(self, x):
        Spy.finite &= all(np.isfinite(v).all() for v in x.values())
        return inner.run(x)
rec.backend = Spy()
recs = list(rec.run(list(noisy), fps=28))
assert recs and Spy.finite, "non-finite values reached the network"
for r in recs:
    assert r.label in rec.classes and np.isfinite(r.score)
    json.dumps(r.to_dict())
print(f"   stream with NaN/inf and missing hands: {len(recs)} recognitions, e.g. "
      f"{recs[-1].label} {recs[-1].score:.2f}, hands(L,R)={recs[-1].hand_presence}")
clip = rec.run(noisy)
print(f"   clip mode: {clip.label} {clip.score:.2f}")

live = sdk.Recognizer()
live.push(noisy[0], 1000.0)
live.push(noisy[1], 1040.0)
try:
    live.push(noisy[2], 1010.0)
except sdk.TimestampError as e:
    assert "1010" in str(e) and "1040" in str(e), str(e)
    print(f"   timestamp going back refused: {e}")
else:
    raise SystemExit("FAIL: a timestamp going back was accepted")
try:
    sdk.Recognizer(backend="torch")
except sdk.BackendUnavailable as e:
    print(f"   torch backend refused cleanly: {e}")
else:
    raise SystemExit("FAIL: torch backend should be unavailable")
print("SMOKE OK (python API)")
PY

echo "== bharnet CLI from the venv"
"$VPY" -c "import numpy as np, sys; a=np.load(sys.argv[1]) if __import__('os').path.exists(sys.argv[1]) else np.random.default_rng(0).uniform(0.2,0.8,(72,75,4)).astype('f4'); a[5,40]=np.nan; np.save('kp.npy', a)" "$STREAM"
"$WORK/venv/bin/bharnet" run --keypoints kp.npy --layout mediapipe_holistic --fps 28 --out out.jsonl
echo "   bharnet run: $(wc -l < out.jsonl) JSON lines"
"$WORK/venv/bin/bharnet" demo --quiet --plot none.png --stream "$STREAM" | tail -n 8

if [[ "${BHARNET_SMOKE_VIDEO:-0}" == 1 ]]; then
  # The [video] extra lives with the SDK here, not with [train]: mediapipe 0.10.14 needs protobuf<5.
  echo "== [video] extra in the same torch-free venv: video -> keypoints -> recognitions"
  "$VPY" -m pip install -q "mediapipe==0.10.14" pytest
  "$VPY" -c "from bharnet.sdk.video import _need_video; _need_video(); print('   mediapipe usable')"
  "$VPY" -m pytest -q -p no:cacheprovider "$REPO/tests/test_sdk_video.py"
fi
echo "SMOKE OK"
