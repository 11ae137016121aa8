"""bharnet.sdk: the deployable, torch-free runtime.

    from bharnet import sdk
    rec = sdk.Recognizer()                 # embedded demo model (synthetic data only)
    for r in rec.run(frames): print(r.label, r.score)

Importing this package imports no torch and no onnx; onnxruntime is loaded only when a
Recognizer picks that backend.
"""
from __future__ import annotations

from ..backends.base import BackendUnavailable
from .adapters import holistic_to_rows, split_rows
from .model import default_model_path, load_model
from ..container import BundleError, SignatureError
from .events import Event, EventDetector, EventRule
from .options import OptionsError, RecognizerOptions
from .recognizer import DEFAULT_STRIDE, Recognizer
from .results import ACTION, LOW_CONFIDENCE, NO_PERSON, Recognition
from .tracks import TimestampError

__all__ = ["Recognizer", "RecognizerOptions", "Recognition", "TimestampError", "OptionsError",
           "BackendUnavailable", "BundleError", "SignatureError", "ACTION", "NO_PERSON", "LOW_CONFIDENCE",
           "default_model_path", "load_model", "holistic_to_rows", "split_rows", "DEFAULT_STRIDE",
           "Event", "EventRule", "EventDetector"]
