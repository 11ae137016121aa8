"""Run folders: where `bharnet train` and `bharnet train-rgb` write, and when they refuse to.

Policy (docs/guides/command-line.md, "Run folders"):
- A work dir that already holds files is never written into silently: the command refuses in one
  line, unless --resume (continue the run there, `bharnet train` only) or --force (delete that
  earlier run first; only a folder a bharnet run wrote is deleted, recognised by its run.json or
  checkpoints).
- A start that fails (bad config, missing or unsuitable data, an error before the first
  checkpoint) leaves nothing behind.
- Every run folder holds config.yaml (the config after defaults and command-line overrides),
  run.json (command line, working directory, versions, start and end, status) and train.log
  (everything the command printed, one timestamped line each; appended to on --resume).

The checks live here, not in train(): the library function is also called by benchmarks and by
the RGB recipe for its skeleton/ stage, which manage their own folders.
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import platform
import shlex
import shutil
import sys
import time
import traceback

LOG, CONFIG, RUN = "train.log", "config.yaml", "run.json"
# files whose presence says "a bharnet run wrote this folder" (older runs have no run.json)
_RUN_MARKERS = (RUN, "last.pt", "final.pt")


def is_rank0() -> bool:
    """Under torchrun only rank 0 owns the run folder."""
    return int(os.environ.get("RANK", "0")) == 0


def check(work, force: bool = False, resume: bool = False, resume_file: str = "last.pt") -> None:
    """Refuse (ValueError, one line) what the policy does not allow, before anything is written."""
    work = pathlib.Path(work)
    if force and resume:
        raise ValueError("--force starts afresh and --resume continues: give one of them")
    if work.exists() and not work.is_dir():
        raise ValueError(f"work dir {work} is a file")
    if resume:
        if not (work / resume_file).is_file():
            raise ValueError(f"{work / resume_file} not found: nothing to resume (drop --resume to "
                             f"start a new run)")
        return
    if not work.is_dir() or not any(work.iterdir()):
        return
    if not force:
        held = sorted(p.name for p in work.iterdir())
        shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
        raise ValueError(f"work dir {work} already holds a run ({shown}): pass --resume to continue "
                         f"it, --force to replace it, or choose another --work-dir")
    if not any((work / m).exists() for m in _RUN_MARKERS):
        raise ValueError(f"--force: {work} holds files that no bharnet run wrote (no "
                         f"{', '.join(_RUN_MARKERS)}); not deleting them, choose another --work-dir")


def _versions() -> dict:
    from bharnet import __version__

    out = {"bharnet": __version__, "python": platform.python_version()}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = torch.__version__
    return out


def _write_json(path: pathlib.Path, obj: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    tmp.replace(path)


def _has_checkpoint(work: pathlib.Path) -> bool:
    return any(work.rglob("*.pt"))


@contextlib.contextmanager
def run_folder(work, cfg: dict, force: bool = False, resume: bool = False, argv=None,
               resume_file: str = "last.pt"):
    """The context of one command's run in `work` (see the module docstring). Yields the Path.

    Call check() first if the refusal must come before slow setup; it is repeated here."""
    from bharnet.progress import OutputLog

    import yaml

    work = pathlib.Path(work)
    check(work, force, resume, resume_file)
    existed = work.is_dir()
    argv = list(sys.argv if argv is None else argv)
    log = OutputLog().start()
    try:
        if force and existed and any(work.iterdir()):
            shutil.rmtree(work)
            existed = False
            print(f"--force: deleted the earlier run in {work}", file=sys.stderr)
        work.mkdir(parents=True, exist_ok=True)
        record = {"command": " ".join(shlex.quote(a) for a in argv), "cwd": os.getcwd(),
                  "versions": _versions(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "status": "running"}
        if resume and (work / RUN).is_file():
            previous = json.loads((work / RUN).read_text())
            record["previous"] = previous.get("previous", []) + [
                {k: v for k, v in previous.items() if k != "previous"}]
        (work / CONFIG).write_text(yaml.safe_dump(cfg, sort_keys=False))
        _write_json(work / RUN, record)
        log.attach(work / LOG, append=resume)
    except BaseException:
        log.stop()
        raise
    try:
        yield work
    except BaseException as e:
        failed = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        if not resume and not _has_checkpoint(work):
            # a failed start: take back everything this command created
            log.stop()
            if existed:
                for name in (LOG, CONFIG, RUN):
                    (work / name).unlink(missing_ok=True)
            else:
                shutil.rmtree(work, ignore_errors=True)
        else:
            if not isinstance(e, (KeyboardInterrupt, ValueError, FileNotFoundError)):
                for line in traceback.format_exc().splitlines():
                    log.write_line(line)
            log.write_line(f"error: {failed}")
            log.stop()
            _write_json(work / RUN, {**record, "status": f"failed: {failed}",
                                     "ended": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        raise
    log.stop()
    record["versions"] = _versions()   # torch is imported by now
    _write_json(work / RUN, {**record, "status": "finished",
                             "ended": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
