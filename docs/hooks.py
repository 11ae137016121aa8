"""MkDocs hooks (mkdocs.yml `hooks:`): pages that are generated at build time so they cannot drift.

- reference/cli.md: every `bharnet` command, read from the argparse parser the CLI itself builds
  (bharnet.cli.build_parser, the torch side's commands included where they are installed).
- results/img/*.png: the plots the benchmarks wrote to bench/results/, served beside the pages that
  show them (the site never keeps a copy that could go stale).
"""
from __future__ import annotations

import argparse
import os
import pathlib

from mkdocs.structure.files import File

REPO = pathlib.Path(__file__).resolve().parents[1]
CLI_PAGE = "reference/cli.md"
PLOTS = REPO / "bench/results"


def on_files(files, config):
    files.append(File.generated(config, CLI_PAGE, content=cli_reference()))
    for png in sorted(PLOTS.glob("*.png")):
        files.append(File.generated(config, f"results/img/{png.name}", abs_src_path=str(png)))
    return files


# ---- the CLI reference ---------------------------------------------------------------------
def cli_reference() -> str:
    """The Markdown of every command and option, from the parser `bharnet` runs."""
    os.environ["COLUMNS"] = "100"   # argparse wraps usage lines to the terminal width
    from bharnet.cli import build_parser

    parser = build_parser()
    out = ["# Command line reference", "",
           "Generated from the `bharnet` argument parser at build time "
           "(`docs/hooks.py`), so it always matches the installed commands. "
           "Every command also answers `--help`. A user error is one line on stderr and exit "
           "code 2.", ""]
    out += _command(parser, "bharnet", level=2)
    return "\n".join(out) + "\n"


def _subparsers(parser: argparse.ArgumentParser):
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return a
    return None


def _command(parser: argparse.ArgumentParser, name: str, level: int) -> list[str]:
    out = [f"{'#' * level} `{name}`", ""]
    if parser.description:
        out += [_escape(parser.description), ""]
    out += ["```text", parser.format_usage().strip(), "```", ""]
    rows = [_row(a) for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
    if rows:
        out += ["| argument | default | description |", "|---|---|---|", *rows, ""]
    sub = _subparsers(parser)
    if sub is not None:
        helps = {c.dest: c.help for c in sub._choices_actions}
        out += ["| command | what it does |", "|---|---|"]
        out += [f"| `{name} {cmd}` | {_escape(helps.get(cmd) or '')} |" for cmd in sub.choices]
        out.append("")
        for cmd, child in sub.choices.items():
            out += _command(child, f"{name} {cmd}", min(level + 1, 4))
    return out


def _row(action: argparse.Action) -> str:
    if action.option_strings:
        flags = ", ".join(action.option_strings)
        if action.nargs != 0:
            flags += f" {_metavar(action)}"
    else:
        flags = _metavar(action)
    default = action.default
    shown = "" if default in (None, False, argparse.SUPPRESS) or action.nargs == 0 \
        else f"`{default}`"
    text = action.help or ""
    if action.help == argparse.SUPPRESS:
        text = ""
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        text += f" (one of: {', '.join(f'`{c}`' for c in action.choices)})"
    if action.required and action.option_strings:
        text = "required. " + text
    text = text % {"default": default, "prog": ""} if "%(" in text else text
    return f"| `{flags}` | {shown} | {_escape(text.strip())} |"


def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        m = action.metavar if isinstance(action.metavar, str) else " ".join(action.metavar)
    elif action.option_strings:
        m = action.dest.upper()
    else:
        m = action.dest
    if action.nargs in ("+", "*"):
        m += " ..."
    return m


def _escape(text: str) -> str:
    """One table cell / paragraph: no pipes, no line breaks."""
    return " ".join(str(text).split()).replace("|", "\\|")
