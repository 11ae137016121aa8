"""Data: readers and converters, the shared NumPy preprocessing pipeline, and synthetic data.

Everything here is NumPy-only (no torch), because the SDK uses the same pipeline. The optional
torch Dataset wrapper lives in `bharnet.data.torch_dataset` and imports torch lazily.
"""
from __future__ import annotations

from .spec import InputSpec
from .dataset import Clip, Dataset, SkeletonDataset, load, save
from .pipeline import (NORMALISATION, Augment, CausalPreparer, adapt, collate, normalisation_metadata,
                       prepare, prepare_clip, prepare_stream, take_steps)
from .sampling import sample_indices, take_frames

__all__ = ["InputSpec", "Clip", "Dataset", "SkeletonDataset", "load", "save", "NORMALISATION", "Augment", "adapt", "prepare", "prepare_clip", "collate",
           "normalisation_metadata", "sample_indices", "take_frames", "prepare_stream", "CausalPreparer",
           "take_steps"]
