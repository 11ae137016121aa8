"""`bharnet` command line. Each area registers its own subcommands; heavy imports stay lazy so
that the SDK commands work where torch is not installed.

The torch side (training, export) registers its commands through the "bharnet.commands" entry
points (pyproject.toml), so this package never imports it."""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys

# the torch-free package's own areas: modules that provide register(subparsers)
_COMMAND_MODULES = (
    "bharnet.info_cli",
    "bharnet.data.cli",
    "bharnet.sdk.cli",
    "bharnet.ros.cli",
)
COMMAND_ENTRY_POINTS = "bharnet.commands"


def _registrars():
    """register(subparsers) functions: this package's areas, then the installed plug-ins."""
    for name in _COMMAND_MODULES:
        yield name, lambda name=name: importlib.import_module(name).register
    for ep in importlib.metadata.entry_points(group=COMMAND_ENTRY_POINTS):
        yield ep.value.partition(":")[0], ep.load


class UserError(Exception):
    """An error caused by the user's input: printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bharnet", description="BHaRNet body-hand skeleton action recognition: data, training, export, SDK")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, load in _registrars():
        try:
            register = load()
        except ModuleNotFoundError as e:
            if e.name and (e.name == name or name.startswith(e.name + ".")):
                continue  # area not present in this install
            raise
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"bharnet {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
