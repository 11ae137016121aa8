"""Run the torch-free test suite (torch_free_tests.txt) strictly: exit 1 if torch is importable,
if a selected test fails, errors or skips, or if a deselect line matches no test.

    python tests/aarch64/run_torch_free.py [--list FILE] [pytest args...]

Node ids are relative to the repository root, where it runs pytest (against the installed
bharnet: the source tree's python/ is not on the path).
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]


def read_list(path: pathlib.Path) -> tuple[list[str], dict[str, str]]:
    """(paths/node ids to run, {deselected node id: why})."""
    selected, deselected = [], {}
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            parts = line[1:].split(None, 1)
            if not parts:
                raise SystemExit(f"{path}:{n}: '-' without a node id")
            deselected[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
        else:
            selected.append(line.split()[0])
    if not selected:
        raise SystemExit(f"{path}: no tests selected")
    return selected, deselected


class Strict:
    """Deselects the listed node ids (and their parametrisations); records skips."""

    def __init__(self, deselected: dict[str, str]):
        self.deselected = deselected
        self.unmatched = set(deselected)
        self.skipped: list[str] = []
        self.counts: dict[str, int] = {}

    def _match(self, nodeid: str) -> str | None:
        for d in self.deselected:
            if nodeid == d or nodeid.startswith(d + "["):
                return d
        return None

    def pytest_collection_modifyitems(self, config, items):
        keep, drop = [], []
        for item in items:
            d = self._match(item.nodeid)
            (keep if d is None else drop).append(item)
            self.unmatched.discard(d)
        items[:] = keep
        self.counts["deselected"] = len(drop)
        if drop:
            config.hook.pytest_deselected(items=drop)

    def pytest_runtest_logreport(self, report):
        if hasattr(report, "wasxfail"):
            self.skipped.append(f"{report.nodeid} ({report.when}): xfail {report.wasxfail}")
        elif report.skipped:
            reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            self.skipped.append(f"{report.nodeid} ({report.when}): {reason}")

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        for key in ("passed", "failed", "error", "skipped", "xfailed", "xpassed"):
            self.counts[key] = len(tr.stats.get(key, []))
        for s in self.skipped:
            tr.write_line(f"STRICT: skipped or xfail, which counts as a failure here: {s}")
        for d in sorted(self.unmatched):
            tr.write_line(f"STRICT: deselect line matches no test (stale list?): {d}")

    def pytest_sessionfinish(self, session, exitstatus):
        if self.skipped or self.unmatched:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def main(argv: list[str]) -> int:
    path = HERE / "torch_free_tests.txt"
    if argv[:1] == ["--list"]:
        path, argv = pathlib.Path(argv[1]).resolve(), argv[2:]
    if importlib.util.find_spec("torch") is not None:
        print("ERROR: torch is importable here; the torch-free suite must run without it", file=sys.stderr)
        return 1
    selected, deselected = read_list(path)
    os.chdir(REPO)
    strict = Strict(deselected)
    code = pytest.main(["-q", "-p", "no:cacheprovider", *selected, *argv], plugins=[strict])
    c = strict.counts
    print("torch-free suite: " + ", ".join(f"{v} {k}" for k, v in c.items() if v or k == "passed")
          + f"; exit {int(code)}")
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
