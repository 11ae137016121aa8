"""Data files shipped with the package (read with importlib.resources, so wheels work too)."""
from __future__ import annotations

import json
from importlib import resources


def read_text(name: str) -> str:
    return resources.files(__package__).joinpath("resources", name).read_text(encoding="utf-8")


def read_lines(name: str) -> list[str]:
    """Non-empty, non-comment lines of a shipped text file."""
    return [ln.strip() for ln in read_text(name).splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def read_json(name: str):
    return json.loads(read_text(name))
