"""Keypoint layouts: one registry, each layout defined once (see definitions.py)."""
from __future__ import annotations

from .graph import MISSING, Layout
from . import definitions as _defs

_REGISTRY: dict[str, Layout] = {}


def register(layout: Layout) -> Layout:
    if layout.name in _REGISTRY and _REGISTRY[layout.name] is not layout:
        raise ValueError(f"layout {layout.name!r} is already registered")
    _REGISTRY[layout.name] = layout
    return layout


def get_layout(name: str | Layout) -> Layout:
    if isinstance(name, Layout):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown layout {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def available_layouts() -> list[str]:
    return sorted(_REGISTRY)


for _layout in _defs.ALL_LAYOUTS:
    register(_layout)

HAND21 = _defs.HAND21

__all__ = ["Layout", "MISSING", "HAND21", "get_layout", "register", "available_layouts"]
