"""The RGB branch (BHaRNet-M): spatio-temporal ROI images, a synthetic renderer and video decoding.

NumPy only (OpenCV optional, for decoding video): the torch-free SDK builds ROI images with it.
"""
from __future__ import annotations

from .roi import (BLANK, FALLBACK, FOUND, PARTS, ROIConfig, assemble, crop_tile, frame_positions,
                  frame_tiles, guess_coords, part_boxes, roi_image, to_model_input)

__all__ = ["PARTS", "BLANK", "FOUND", "FALLBACK", "ROIConfig", "frame_positions", "part_boxes",
           "crop_tile", "frame_tiles", "assemble", "roi_image", "guess_coords", "to_model_input"]
