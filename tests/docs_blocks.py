"""The code blocks of the README and the docs pages, as the docs-test convention reads them
(docs/contributing/tests.md):

- every fenced ```python and ```bash block at the start of a line is run, in page order;
- unless the line right before its fence is `<!-- docs-test: skip REASON -->`, REASON one of
  SKIP_REASONS (what CI's main environment lacks, or `long`: a run over 5 minutes);
- any other fence language (text, json, yaml, ...) is output or a file format and is not run.
"""
from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

REPO = pathlib.Path(__file__).resolve().parents[1]
RUN_LANGS = ("python", "bash")
# what CI's main environment lacks; ros and video are prereq.MACHINE_KINDS that CI runs in venvs of
# their own (tests/smoke/ros_smoke.sh, no_torch_smoke.sh); long: a run over 5 minutes
SKIP_REASONS = ("gpu", "tensorrt", "jetson", "camera", "ros", "video", "long")
MARKER = re.compile(r"(?<!`)<!--\s*docs-test:(.*?)-->")   # not one quoted in `code`
SKIP = re.compile(r"<!-- docs-test: skip (\w+) -->")
# an opening fence (CommonMark: a backtick fence's info string holds no backtick, so a line that
# starts with inline code such as ```` ```bash ```` is prose)
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)[^`]*$")


@dataclass
class Block:
    path: pathlib.Path
    line: int            # 1-based line of the opening fence
    lang: str
    code: str
    skip: str | None     # the skip reason, None: run

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def pages() -> list[pathlib.Path]:
    """README.md and every Markdown page of the site."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def blocks(path: pathlib.Path) -> list[Block]:
    """Every fenced block of a page, whatever its language, with its skip reason."""
    lines = path.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.groups()
        j = i + 1
        closing = re.compile(rf"{re.escape(fence[0])}{{{len(fence)},}}\s*")
        while j < len(lines) and not closing.fullmatch(lines[j].strip()):
            j += 1
        if j == len(lines):
            raise ValueError(f"{path.relative_to(REPO)}:{i + 1}: a ``` fence is never closed")
        before = lines[i - 1].strip() if i else ""
        skip = SKIP.fullmatch(before)
        code = "\n".join(ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[i + 1:j])
        out.append(Block(path, i + 1, lang.lower(), code + "\n", skip.group(1) if skip else None))
        i = j + 1
    return out


def marker_problems(path: pathlib.Path) -> list[str]:
    """Markers that are not `skip REASON` with an allowed reason right before a run block."""
    lines = path.read_text().splitlines()
    fences = {b.line: b for b in blocks(path)}
    rel = path.relative_to(REPO)
    problems = []
    for n, line in enumerate(lines, 1):
        for m in MARKER.finditer(line):
            skip = SKIP.fullmatch(line.strip())
            if not skip:
                problems.append(f"{rel}:{n}: malformed marker {m.group(0)!r} (the only form is "
                                f"'<!-- docs-test: skip REASON -->' alone on its line)")
            elif skip.group(1) not in SKIP_REASONS:
                problems.append(f"{rel}:{n}: skip reason {skip.group(1)!r} is not one of "
                                f"{', '.join(SKIP_REASONS)}")
            elif n + 1 not in fences or fences[n + 1].lang not in RUN_LANGS:
                problems.append(f"{rel}:{n}: a skip marker must stand right before a ```python "
                                f"or ```bash fence")
    return problems
