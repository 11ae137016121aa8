"""RecognizerOptions: every setting validated at construction; units; keyword convenience."""
from __future__ import annotations

import math

import pytest

from bharnet import sdk
from bharnet.sdk import OptionsError, RecognizerOptions

needs_model = pytest.mark.skipif(not sdk.default_model_path().is_file(), reason="no embedded default model")


@pytest.mark.parametrize("field,value", [
    ("window", 0), ("window", -3), ("window", 2.5), ("stride", 0), ("stride", True),
    ("top_k", 0), ("top_k", -1), ("threads", 0), ("max_tracks", 0), ("fps", 0), ("fps", -30),
    ("fps", math.nan), ("fps", math.inf), ("fps", "fast"), ("max_gap_ms", -1), ("max_gap_ms", 0),
    ("idle_timeout_ms", 0), ("idle_timeout_ms", -5), ("gap_periods", 0),
    ("min_body_presence", 1.5), ("min_body_presence", -0.1), ("min_score", 2), ("min_score", math.nan),
    ("timestamp_unit", "minutes"), ("timestamp_unit", None), ("layout", 3), ("clock", 5),
])
def test_bad_values_are_refused_naming_the_field(field, value):
    with pytest.raises(OptionsError, match=f"RecognizerOptions.{field} must be"):
        RecognizerOptions(**{field: value})


def test_good_values_are_normalised():
    o = RecognizerOptions(window=32, stride=4, fps=1, max_gap_ms=math.inf, idle_timeout_ms=None,
                          timestamp_unit="ns", min_score=0.4)
    assert o.fps == 1.0 and isinstance(o.fps, float) and o.max_gap_ms == math.inf
    assert o.ms_per_unit == 1e-6
    assert RecognizerOptions().min_body_presence == 0.5 and RecognizerOptions().max_gap_ms is None


@needs_model
def test_recognizer_checks_options_before_loading_anything():
    with pytest.raises(OptionsError, match="stride"):
        sdk.Recognizer(stride=0)
    with pytest.raises(OptionsError, match="window"):
        sdk.Recognizer(window=0)
    with pytest.raises(TypeError, match="unknown option.*max_gap\\b"):
        sdk.Recognizer(max_gap=3)


@needs_model
def test_options_object_and_keywords_agree_and_keywords_override(windowed_bundle):
    a = sdk.Recognizer(layout="mediapipe_holistic", options=RecognizerOptions(stride=4, top_k=3))
    b = sdk.Recognizer(None, layout="mediapipe_holistic", stride=4, top_k=3)
    assert (a.stride, a.top_k, a.layout) == (b.stride, b.top_k, b.layout) == (4, 3, "mediapipe_holistic")
    c = sdk.Recognizer(options=RecognizerOptions(stride=4), stride=6)
    assert c.stride == 6 and c.options.stride == 6
    d = sdk.Recognizer(windowed_bundle, "auto", "mediapipe_holistic", 48, 12)   # positional, as before
    assert (d.layout, d.window, d.stride) == ("mediapipe_holistic", 48, 12)


@needs_model
@pytest.mark.parametrize("unit,scale,origin", [("ns", 1e6, 1.7e18), ("us", 1e3, 1.7e15),
                                               ("s", 1e-3, 1.7e9), ("ms", 1.0, 0.0)])
def test_timestamp_units(holistic_stream, unit, scale, origin):
    r = sdk.Recognizer(layout="mediapipe_holistic", timestamp_unit=unit)
    out = [r.push(f, origin + i * 33.0 * scale) for i, f in enumerate(holistic_stream[:r.window])]
    last = out[-1]
    assert last is not None and sum(o is not None for o in out) == 1
    assert last.end_ms - last.start_ms == pytest.approx((r.window - 1) * 33.0, rel=1e-6)
    assert r.stats()["resets"] == 0


@needs_model
def test_too_short_timestamps_is_a_clear_error(holistic_stream):
    r = sdk.Recognizer(layout="mediapipe_holistic")
    with pytest.raises(ValueError, match="timestamps= has 5 entries"):
        list(r.run(list(holistic_stream[:40]), timestamps=[0, 33, 66, 99, 132]))


@needs_model
def test_bad_timestamps_and_fps_are_clear(holistic_stream):
    r = sdk.Recognizer(layout="mediapipe_holistic")
    with pytest.raises(sdk.TimestampError, match="finite"):
        r.push(holistic_stream[0], math.nan)
    with pytest.raises(sdk.TimestampError, match="number"):
        r.push(holistic_stream[0], "noon")
    with pytest.raises(ValueError, match="fps"):
        r.run(holistic_stream, fps=0)
