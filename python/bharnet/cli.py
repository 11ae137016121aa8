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
    "bharnet.online.cli",
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


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the usage is one --help away). Subparsers inherit it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _user_errors() -> tuple[type, ...]:
    """Exceptions that mean "your input is wrong", printed as one line with exit code 2:
    files, values, options, backends that cannot run here, keys, YAML (when installed)."""
    from .backends.base import BackendUnavailable
    from .signing import SigningUnavailable

    errors: tuple[type, ...] = (UserError, OSError, ValueError, KeyError, BackendUnavailable,
                                SigningUnavailable)
    yaml = sys.modules.get("yaml")   # only if a command loaded it: its errors are not ValueErrors
    if yaml is not None:
        errors += (yaml.YAMLError,)
    return errors


def _message(e: BaseException) -> str:
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    text = " ".join(str(e).split()) or type(e).__name__   # one line, whatever the message
    return text


def _end_quietly_on_closed_pipe() -> int:
    """Output piped into `head` (or any reader that stops): stop without a word. stdout is
    pointed at /dev/null so the interpreter's final flush does not complain either."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `bharnet` parser with every installed command: this package's areas, then the
    "bharnet.commands" entry points (the torch side's train, eval, export, ...), each through its
    register(subparsers). An area whose module is not installed is left out. The docs' command
    reference is generated from this parser (docs/hooks.py)."""
    from . import __version__

    parser = _Parser(
        prog="bharnet", description="BHaRNet body-hand skeleton action recognition: data, training, export, SDK")
    parser.add_argument("--version", action="version", version=f"bharnet {__version__}")
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
    """Run one `bharnet` command.

    Args:
        argv: the arguments after `bharnet` (None: sys.argv[1:]).

    Returns:
        The exit status: the command's (0 on success), 2 for a user error (a bad option value,
        a missing file, a backend that cannot run here, ...: one line on stderr naming the
        problem) or for no command; 0 when the output pipe closed early (`| head`). Anything
        else is a bug and keeps its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        return _end_quietly_on_closed_pipe()
    except Exception as e:   # noqa: BLE001 - sorted just below: user errors vs bugs
        if not isinstance(e, _user_errors()):
            raise
        print(f"bharnet {args.command}: error: {_message(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # `python -m bharnet.cli` (torchrun) runs this file as __main__: use the package's module, so
    # the UserError that commands raise (bharnet.cli.UserError) is the one main() catches
    from bharnet.cli import main as _main

    sys.exit(_main())
