"""The documentation is checked like code (issue 21):

- the site builds with `mkdocs build --strict` (a broken link or anchor, a nav entry without its
  page, an API reference that does not resolve: all fail), and the check itself can fail;
- every ```python and ```bash block of README.md and docs/ runs (docs_blocks.py says how they are
  found), except those marked `<!-- docs-test: skip REASON -->`, and only the allowed reasons;
- the README stays short, keeps the two set-up commands, and CI runs its test command.

Blocks run as a reader runs them: a page's blocks in order, from the repository root, with
.venv/bin first on PATH and BHARNET_DOCS_TMP a scratch folder of the page's own.
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from docs_blocks import REPO, RUN_LANGS, SKIP_REASONS, blocks, marker_problems, pages
from prereq import missing

BLOCK_TIMEOUT_S = 300
README_MAX_LINES = 150
SETUP_COMMANDS = ("make demo", "make test")


def _mkdocs() -> list[str]:
    try:
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
        import material  # noqa: F401
    except ImportError as e:
        missing(f"the docs tools do not import ({e}); `make build` installs the [docs] extra")
    return [sys.executable, "-m", "mkdocs", "build", "--strict"]   # not --quiet: it hides the
    # warnings that strict mode counts, and the build passes


def _build(root: pathlib.Path, site: pathlib.Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([*_mkdocs(), "-f", str(root / "mkdocs.yml"), "-d", str(site)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


# ---- the site -------------------------------------------------------------------------------
def test_site_builds_in_strict_mode(tmp_path):
    r = _build(REPO, tmp_path / "site")
    assert r.returncode == 0, f"mkdocs build --strict failed:\n{r.stdout[-3000:]}{r.stderr[-6000:]}"
    site = tmp_path / "site"
    cli = (site / "reference/cli/index.html").read_text()
    for command in ("bharnet run", "bharnet train", "bharnet export", "bharnet data keypoints"):
        assert command in cli, f"the generated CLI reference lacks {command!r}"
    api = (site / "reference/sdk/index.html").read_text()
    for name in ("Recognizer", "RecognizerOptions", "Recognition", "push", "OptionsError"):
        assert name in api, f"the generated API reference lacks {name!r}"


def _copy_site_sources(dst: pathlib.Path) -> None:
    shutil.copy(REPO / "mkdocs.yml", dst / "mkdocs.yml")
    shutil.copytree(REPO / "docs", dst / "docs")
    (dst / "python").symlink_to(REPO / "python")
    (dst / "bench").symlink_to(REPO / "bench")


@pytest.mark.parametrize("breakage", ["a broken link", "a broken anchor", "an unknown API object"])
def test_strict_build_fails_on_a_broken_page(tmp_path, breakage):
    """The strict build is the check: it must reject each kind of breakage the issue names."""
    root = tmp_path / "src"
    root.mkdir()
    _copy_site_sources(root)
    page = root / "docs/getting-started.md"
    extra = {"a broken link": "[gone](guides/no-such-page.md)",
             "a broken anchor": "[gone](guides/sdk.md#no-such-section)",
             "an unknown API object": "::: bharnet.sdk.NoSuchThing"}[breakage]
    page.write_text(page.read_text() + f"\n\n{extra}\n")
    r = _build(root, tmp_path / "site")
    assert r.returncode != 0, f"mkdocs build --strict accepted {breakage}"


# ---- the convention's markers -----------------------------------------------------------------
def test_skip_markers_use_only_the_allowed_reasons():
    problems = [p for page in pages() for p in marker_problems(page)]
    assert not problems, "\n".join(problems)


def test_the_marker_check_can_fail(tmp_path, monkeypatch):
    import docs_blocks

    monkeypatch.setattr(docs_blocks, "REPO", tmp_path)
    page = tmp_path / "p.md"
    page.write_text("<!-- docs-test: skip slow -->\n```bash\ntrue\n```\n"
                    "<!-- docs-test: skip gpu -->\nprose\n"
                    "<!-- docs-test: skip gpu -->\n```python\npass\n```\n")
    problems = docs_blocks.marker_problems(page)
    assert len(problems) == 2, problems
    assert "'slow' is not one of" in problems[0] and "right before" in problems[1]
    assert [b.skip for b in docs_blocks.blocks(page)] == ["slow", "gpu"]


def test_skipped_blocks_are_few_and_named():
    """What is not run is listed here by reason, so a new skip is a visible change."""
    skipped = [b for page in pages() for b in blocks(page) if b.lang in RUN_LANGS and b.skip]
    assert {b.skip for b in skipped} <= set(SKIP_REASONS)
    run = [b for page in pages() for b in blocks(page) if b.lang in RUN_LANGS and not b.skip]
    assert len(run) >= 2 * len(skipped), (
        "most examples must run: " + ", ".join(f"{b.where} ({b.skip})" for b in skipped))


# ---- running the blocks -----------------------------------------------------------------------
def _pages_with_blocks() -> list[pathlib.Path]:
    return [p for p in pages() if any(b.lang in RUN_LANGS and not b.skip for b in blocks(p))]


def _env(scratch: pathlib.Path) -> dict:
    venv_bin = REPO / ".venv/bin"
    path = os.pathsep.join([str(venv_bin), str(pathlib.Path(sys.executable).parent),
                            os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "BHARNET_DOCS_TMP": str(scratch), "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "BHARNET_PROGRESS": "off", "MPLBACKEND": "Agg"}


def _run(block, scratch: pathlib.Path) -> subprocess.CompletedProcess:
    if block.lang == "python":
        script = scratch / f"_block_{block.line}.py"
        script.write_text(block.code)
        cmd = [sys.executable, str(script)]
    else:
        cmd = ["bash", "-e", "-c", block.code]
    try:
        return subprocess.run(cmd, cwd=REPO, env=_env(scratch), capture_output=True, text=True,
                              timeout=BLOCK_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.where}: the ```{block.lang} block ran past {BLOCK_TIMEOUT_S} s; "
                    f"mark it `<!-- docs-test: skip long -->` and show a quick variant", pytrace=False)


@pytest.mark.parametrize("page", _pages_with_blocks(), ids=lambda p: str(p.relative_to(REPO)))
def test_page_examples_run(page, tmp_path):
    if not (REPO / "../shared").resolve().is_dir() and "../shared" in page.read_text():
        missing("the page's examples read ../shared, which is not beside the repository")
    for block in blocks(page):
        if block.lang not in RUN_LANGS or block.skip:
            continue
        r = _run(block, tmp_path)
        assert r.returncode == 0, (f"{block.where}: the ```{block.lang} block failed (exit "
                                   f"{r.returncode}):\n{block.code}\n--- stdout\n{r.stdout[-3000:]}"
                                   f"\n--- stderr\n{r.stderr[-3000:]}")


def test_a_failing_block_fails(tmp_path):
    """The runner reports a block that fails, with its place."""
    from docs_blocks import Block

    bad = Block(REPO / "README.md", 1, "bash", "false\n", None)
    assert _run(bad, tmp_path).returncode != 0
    bad = Block(REPO / "README.md", 1, "python", "raise SystemExit(3)\n", None)
    assert _run(bad, tmp_path).returncode == 3


# ---- the README's own rules -------------------------------------------------------------------
def test_readme_is_short():
    n = len((REPO / "README.md").read_text().splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; at most {README_MAX_LINES}: move detail to docs/"


def test_readme_quickstart_is_the_two_setup_commands():
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    run = [b for b in blocks(REPO / "README.md") if b.lang == "bash" and f"\n{b.code}" in "\n" + quick]
    commands = [ln.split("#")[0].strip() for b in run for ln in b.code.splitlines() if ln.strip()]
    assert tuple(commands) == SETUP_COMMANDS, commands


def test_ci_runs_the_readmes_test_command():
    ci = (REPO / ".ci/run").read_text()
    assert re.search(r"^\s*make test\s*$", ci, re.M), ".ci/run must call the README's `make test`"


# ---- the references are complete ----------------------------------------------------------------
def test_every_cli_argument_has_help():
    """The generated CLI reference describes every argument: a new one without help= fails."""
    import argparse

    from bharnet.cli import build_parser

    def walk(parser, name):
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for cmd, child in a.choices.items():
                    yield from walk(child, f"{name} {cmd}")
            elif not isinstance(a, (argparse._HelpAction, argparse._VersionAction)) \
                    and not a.help and not a.choices:   # choices are listed: they describe it
                yield f"{name} {'/'.join(a.option_strings) or a.dest}"

    bare = list(walk(build_parser(), "bharnet"))
    assert not bare, "arguments without help= (the CLI reference shows them blank): " + ", ".join(bare)


def test_every_public_sdk_name_is_documented():
    """Everything `bharnet.sdk` exports has a docstring and is in the API reference page."""
    import inspect

    from bharnet import sdk

    page = (REPO / "docs/reference/sdk.md").read_text()
    constants = {name for name in sdk.__all__ if not callable(getattr(sdk, name))}
    for name in sdk.__all__:
        assert f"bharnet.sdk.{name}" in page or (name in constants and f"sdk.{name}" in page), (
            f"sdk.{name} is not in docs/reference/sdk.md")
        obj = getattr(sdk, name)
        if name not in constants:
            assert inspect.getdoc(obj), f"sdk.{name} has no docstring"


def test_readme_links_resolve():
    """The README is not part of the site (mkdocs does not check it): its relative links and its
    picture must name files that exist."""
    readme = (REPO / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets, "the README links nowhere"
    broken = [t for t in targets if "://" not in t and not (REPO / t.split("#")[0]).exists()]
    assert not broken, f"README.md links to missing files: {broken}"
