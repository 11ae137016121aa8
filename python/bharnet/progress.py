"""One progress facility for every long job: training, evaluation, export, conversion, the demo.

On a terminal a job shows a live tqdm bar. Anywhere else (a log file, CI, a pipe) it writes plain
lines with the count, the rate and the ETA, one every `interval` seconds of work, so that a log
shows that the job is alive and how far it has got, without one endless carriage-return line.
A job that runs longer than one interval also gets a closing line with its total time.

    for x, y in progress(loader, desc="epoch 3/40", unit="step"):
        ...
    with stage("exporting the ONNX graph"):     # "... done in 4.1 s"; a line per interval meanwhile
        ...

Settings, from the environment or `configure()` (the commands' --quiet calls configure(quiet=True)):
    BHARNET_PROGRESS           auto (bar on a terminal, lines otherwise) | bar | lines | off
    BHARNET_PROGRESS_INTERVAL  seconds between plain lines (default 15)

`OutputLog` copies what a command prints into a log file (a run folder's train.log).

Everything goes to stderr, so stdout stays clean for results (`bharnet run` writes JSON lines
there). Torch-free: the SDK's commands use it too.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time

MODES = ("auto", "bar", "lines", "off")
DEFAULT_INTERVAL = 15.0

_settings: dict = {"quiet": False, "mode": None, "interval": None}
_write_lock = threading.RLock()
_log_sinks: list = []     # active OutputLogs: in bar mode they still get the plain lines


def configure(*, quiet: bool | None = None, mode: str | None = None,
              interval: float | None = None) -> None:
    """Process-wide settings; None leaves a setting as it is (the environment decides by default)."""
    if mode is not None and mode not in MODES:
        raise ValueError(f"progress mode must be one of {MODES}, got {mode!r}")
    if interval is not None and not interval > 0:
        raise ValueError(f"progress interval must be positive, got {interval!r}")
    for key, value in (("quiet", quiet), ("mode", mode), ("interval", interval)):
        if value is not None:
            _settings[key] = value


def reset() -> None:
    """Back to the defaults (tests, and commands run one after another in one process)."""
    _settings.update(quiet=False, mode=None, interval=None)


def interval() -> float:
    if _settings["interval"] is not None:
        return float(_settings["interval"])
    env = os.environ.get("BHARNET_PROGRESS_INTERVAL")
    try:
        value = float(env) if env else DEFAULT_INTERVAL
    except ValueError:
        value = DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


def mode_for(stream) -> str:
    """'bar', 'lines' or 'off' for output written to `stream`."""
    if _settings["quiet"]:
        return "off"
    mode = _settings["mode"] or os.environ.get("BHARNET_PROGRESS", "auto").strip().lower()
    if mode not in MODES:
        mode = "auto"
    if mode != "auto":
        return mode
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return "bar" if tty and os.environ.get("TERM") != "dumb" and _has_width(stream) else "lines"


def _has_width(stream) -> bool:
    """False for a terminal of zero columns (a bare pty): a bar there shows nothing at all."""
    try:
        return os.get_terminal_size(stream.fileno()).columns > 0
    except (AttributeError, ValueError, OSError):
        return True  # not a real file descriptor (e.g. a test double): trust isatty()


def hms(seconds: float) -> str:
    """0:07, 3:21, 1:02:03."""
    s = int(round(max(0.0, seconds)))
    h, m = divmod(s, 3600)
    m, s = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _rate(n: float, elapsed: float, unit: str) -> str:
    if n <= 0 or elapsed <= 0:
        return ""
    r = n / elapsed
    return f"{r:.3g} {unit}s/s" if r >= 1 else f"{1 / r:.3g} s/{unit}"


def _units(count: float, unit: str) -> str:
    return unit if count == 1 else unit + "s"


def _emit(stream, line: str) -> None:
    with _write_lock:
        stream.write(line + "\n")
        stream.flush()


class _Ticker(threading.Thread):
    """Calls fn every `every` seconds until stopped (a daemon: it never holds the process up)."""

    def __init__(self, every: float, fn):
        super().__init__(daemon=True, name="bharnet-progress")
        self.every, self.fn = every, fn
        self._halt = threading.Event()

    def run(self):
        while not self._halt.wait(self.every):
            self.fn()

    def stop(self):
        self._halt.set()
        if self is not threading.current_thread():
            self.join()


class Progress:
    """Progress of one job: an iterable wrapper, or a counter advanced with update(n).

    desc names the job ("epoch 3/40"); unit is singular ("step", "clip", "frame"). announce: also
    write a line when the job starts and one when it ends, whatever it took (stage() uses it).
    """

    def __init__(self, iterable=None, total: int | None = None, desc: str = "", unit: str = "item",
                 quiet: bool = False, announce: bool = False, file=None):
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.file = file if file is not None else sys.stderr
        self.mode = "off" if quiet else mode_for(self.file)
        # a stage has nothing to count: no bar, its start and end lines say it all
        if self.mode == "bar" and iterable is None and total is None:
            self.mode = "lines"
        self.announce = announce
        self.n = 0
        self.lines = 0
        self.closed = False
        self.t0 = time.monotonic()
        self._bar = self._ticker = None
        if self.mode == "off":
            return
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True,
                             file=self.file)
        if announce:
            self._line(f"{desc} ...")
        if self.mode == "lines" or _log_sinks:
            self._ticker = _Ticker(interval(), self._tick)
            self._ticker.start()

    # ---- what a line says ------------------------------------------------------------------

    def status(self) -> str:
        elapsed = time.monotonic() - self.t0
        if self.total is None and self.n == 0:
            return f"{self.desc}: still running, {hms(elapsed)} elapsed"
        count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        parts = [f"{count} {_units(self.total or self.n, self.unit)}"
                 + (f" ({100 * self.n / self.total:.0f}%)" if self.total else "")]
        rate = _rate(self.n, elapsed, self.unit)
        if rate:
            parts.append(rate)
        parts.append(f"elapsed {hms(elapsed)}")
        if self.total and self.n:
            parts.append(f"ETA {hms((self.total - self.n) * elapsed / self.n)}")
        return f"{self.desc}: " + ", ".join(parts)

    def summary(self) -> str:
        elapsed = time.monotonic() - self.t0
        if self.n == 0:
            return f"{self.desc}: done in {elapsed:.1f} s"
        rate = _rate(self.n, elapsed, self.unit)
        return (f"{self.desc}: {self.n} {_units(self.n, self.unit)} in {hms(elapsed)}"
                + (f" ({rate})" if rate else ""))

    # ---- output ------------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        """A plain line: to the stream in lines mode; in bar mode only to the log files."""
        self.lines += 1
        if self.mode == "lines":
            _emit(self.file, text)
        else:
            for sink in list(_log_sinks):
                sink.write_line(text)

    def _tick(self) -> None:
        if not self.closed:
            self._line(self.status())

    # ---- the job -------------------------------------------------------------------------------

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._ticker is not None:
            self._ticker.stop()
        if self._bar is not None:
            self._bar.close()
        # a job that showed progress lines says that it ended; a short one leaves no trace
        if self.mode != "off" and (self.announce or self.lines):
            self._line(self.summary())

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:  # the error is the caller's to report; just stop the ticker and the bar
            self.closed = True
            if self._ticker is not None:
                self._ticker.stop()
            if self._bar is not None:
                self._bar.close()


def progress(iterable=None, total: int | None = None, desc: str = "", unit: str = "item",
             quiet: bool = False, file=None) -> Progress:
    """A Progress over `iterable` (or a counter: call update(n)); see the module docstring."""
    return Progress(iterable, total=total, desc=desc, unit=unit, quiet=quiet, file=file)


@contextlib.contextmanager
def stage(msg: str, quiet: bool = False, announce: bool = True, file=None):
    """A step without a count: "msg ..." now, "msg: still running, 0:30 elapsed" every interval,
    "msg: done in 4.1 s" at the end (nothing more if it raises: the caller reports the error).
    announce=False: silent unless it outlasts an interval (for steps that are usually quick)."""
    with Progress(desc=msg, quiet=quiet, announce=announce, file=file) as p:
        yield p


# ---- copying a command's output into a log file --------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class _Tee:
    """A text stream that writes through to `orig` and feeds the same text to an OutputLog."""

    def __init__(self, orig, log: "OutputLog", name: str):
        self._orig, self._log, self._name = orig, log, name

    def write(self, s: str) -> int:
        n = self._orig.write(s)
        self._log.feed(self._name, s)
        return n if n is not None else len(s)

    def flush(self) -> None:
        self._orig.flush()

    def isatty(self) -> bool:
        return self._orig.isatty()

    def __getattr__(self, name):  # encoding, fileno, ... of the real stream
        return getattr(self._orig, name)


class OutputLog:
    """Copies what the process prints to stdout and stderr into a log file, line by line, with a
    timestamp per line. A terminal bar's carriage-return redraws are dropped (the log gets the
    plain progress lines instead). Lines printed before `attach()` names the file are kept and
    written then, so a run's log starts with its first line even though its folder is made later.

        with OutputLog() as log:
            ...                              # prints are buffered
            log.attach(work / "train.log")   # ... and written from here on
    """

    def __init__(self):
        self._lock = threading.RLock()
        self._pending: list[str] = []
        self._partial = {"stdout": "", "stderr": ""}
        self._file = None
        self._saved = None
        self.path = None

    def start(self) -> "OutputLog":
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, self, "stdout")
        sys.stderr = _Tee(sys.stderr, self, "stderr")
        _log_sinks.append(self)
        return self

    def attach(self, path, append: bool = False) -> None:
        with self._lock:
            self.path = path
            self._file = open(path, "a" if append else "w", encoding="utf-8")
            for line in self._pending:
                self._file.write(line)
            self._pending.clear()
            self._file.flush()

    def detach(self) -> None:
        """Stop writing to the file (and forget what was buffered): a failed start removes it."""
        with self._lock:
            if self._file is not None:
                self._file.close()
            self._file, self.path = None, None
            self._pending.clear()

    def feed(self, name: str, text: str) -> None:
        with self._lock:
            buf = self._partial[name] + text
            *lines, self._partial[name] = buf.split("\n")
            for line in lines:
                self._store(line)

    def write_line(self, text: str) -> None:
        """A line for the log only (not shown on the terminal)."""
        with self._lock:
            self._store(text)

    def _store(self, line: str) -> None:
        line = _ANSI.sub("", line.rsplit("\r", 1)[-1]).rstrip()
        if not line:
            return
        stamped = f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {line}\n"
        if self._file is not None:
            self._file.write(stamped)
            self._file.flush()
        else:
            self._pending.append(stamped)

    def stop(self) -> None:
        if self._saved is None:
            return
        for name in self._partial:
            with self._lock:
                rest, self._partial[name] = self._partial[name], ""
                self._store(rest)
        sys.stdout, sys.stderr = self._saved
        self._saved = None
        if self in _log_sinks:
            _log_sinks.remove(self)
        self.detach()

    def __enter__(self) -> "OutputLog":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
