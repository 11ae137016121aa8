"""Third-party warnings that tell our users nothing, silenced at the source, once.

Each entry names what it hides and why it is noise for someone running `bharnet`: they are about
the internals of torch's ONNX exporter and the libraries around it, not about the user's model,
data or command, and the user can do nothing about them. Our own warnings (bharnet.*) and every
other third-party warning stay visible. `install()` is called by the command-line handlers; a
library user who imports bharnet keeps Python's default warning behaviour.
"""
from __future__ import annotations

import logging
import warnings

# (category, message regex): matched against the start of the warning's message
_WARNINGS = (
    # torch.export's pytree internals, raised inside torch.onnx.export (dynamo) on every export
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),
    # the exporter merging two names of our one dynamic batch axis: the graph is correct
    (UserWarning, r"# The axis name: .* will not be used, since it shares the same shape constraints"),
)

# (logger, message substring): lines that torch writes through `logging`, not `warnings`
_LOG_LINES = (
    # torch.onnx's registry looks for torchvision's ops (nms, roi_align, ...); we use none of them
    ("torch.onnx._internal.exporter._registration", "torchvision is not installed"),
)


class _DropMessages(logging.Filter):
    def __init__(self, fragments):
        super().__init__()
        self.fragments = tuple(fragments)

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(f in msg for f in self.fragments)


_installed = False


def add_warning_filters() -> None:
    """Put the `warnings` filters in front of the current ones (install() does it once)."""
    for category, pattern in _WARNINGS:
        warnings.filterwarnings("ignore", message=pattern, category=category)


def install() -> None:
    """Install the filters (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    add_warning_filters()
    by_logger: dict[str, list[str]] = {}
    for name, fragment in _LOG_LINES:
        by_logger.setdefault(name, []).append(fragment)
    for name, fragments in by_logger.items():
        logging.getLogger(name).addFilter(_DropMessages(fragments))
