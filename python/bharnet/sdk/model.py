"""Finding and opening the model: a bundle path, an opened bundle, or the embedded default."""
from __future__ import annotations

import pathlib

DEFAULT_MODEL_NAME = "default.bharnet"


def default_model_path() -> pathlib.Path:
    """Where the embedded demo bundle lives inside the installed package.

    Returns:
        The path of `default.bharnet` (it may be missing in an install built without it).
    """
    return pathlib.Path(__file__).resolve().parent / "default_model" / DEFAULT_MODEL_NAME


def load_model(model=None):
    """Open the model a Recognizer runs.

    Args:
        model: None for the embedded default bundle, a bundle path, or an object with `.meta`
            (an opened Bundle, or a stand-in with the same API), used as is.

    Returns:
        The opened Bundle.

    Raises:
        FileNotFoundError: the path, or the embedded default model, is missing.
        BundleError: the file is not a valid, intact bundle.
    """
    from ..bundle import open_bundle

    if model is None:
        path = default_model_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"no embedded default model in this install ({path} is missing); build it with "
                f"`make default-model` or pass a bundle path")
        return open_bundle(path)
    if hasattr(model, "meta"):
        return model
    return open_bundle(model)
