"""The progress facility (bharnet.progress) and the third-party warnings filter: torch-free."""
import io
import logging
import re
import subprocess
import sys
import time
import warnings

import pytest

from bharnet import progress as P


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    for k in ("BHARNET_PROGRESS", "BHARNET_PROGRESS_INTERVAL", "TERM"):
        monkeypatch.delenv(k, raising=False)
    P.reset()
    yield
    P.reset()


def _slow(n, dt):
    for i in range(n):
        time.sleep(dt)
        yield i


def test_lines_mode_in_a_log_gives_count_rate_eta_and_a_closing_line():
    P.configure(interval=0.05)
    out = io.StringIO()
    assert list(P.progress(_slow(8, 0.03), total=8, desc="epoch 1/2", unit="step", file=out)) == list(range(8))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    periodic = [ln for ln in lines if "ETA" in ln]
    assert periodic, lines
    assert re.match(r"epoch 1/2: \d/8 steps \(\d+%\), [\d.]+ (steps/s|s/step), elapsed 0:00, ETA 0:\d\d$",
                    periodic[0]), periodic[0]
    assert re.match(r"epoch 1/2: 8 steps in 0:00 \([\d.]+ (steps/s|s/step)\)$", lines[-1]), lines[-1]


def test_a_job_shorter_than_the_interval_writes_nothing_in_a_log():
    out = io.StringIO()
    for _ in P.progress(range(100), desc="quick", unit="item", file=out):
        pass
    assert out.getvalue() == ""


def test_terminal_gets_a_live_bar_and_quiet_gets_nothing():
    tty = _Tty()
    for _ in P.progress(range(5), desc="bar job", unit="frame", file=tty):
        pass
    assert "bar job" in tty.getvalue() and "\r" in tty.getvalue()
    P.configure(quiet=True)
    for f in (io.StringIO(), _Tty()):
        with P.stage("silent", file=f):
            for _ in P.progress(_slow(3, 0.01), total=3, desc="silent", file=f):
                pass
        assert f.getvalue() == ""


def test_environment_chooses_mode_and_interval(monkeypatch):
    monkeypatch.setenv("BHARNET_PROGRESS", "lines")
    assert P.mode_for(_Tty()) == "lines"
    monkeypatch.setenv("BHARNET_PROGRESS", "off")
    assert P.mode_for(io.StringIO()) == "off"
    monkeypatch.setenv("BHARNET_PROGRESS", "nonsense")
    assert P.mode_for(io.StringIO()) == "lines" and P.mode_for(_Tty()) == "bar"
    monkeypatch.setenv("TERM", "dumb")
    assert P.mode_for(_Tty()) == "lines"
    monkeypatch.setenv("BHARNET_PROGRESS_INTERVAL", "7")
    assert P.interval() == 7.0
    monkeypatch.setenv("BHARNET_PROGRESS_INTERVAL", "-1")
    assert P.interval() == P.DEFAULT_INTERVAL
    with pytest.raises(ValueError, match="mode"):
        P.configure(mode="loud")


def test_stage_says_start_heartbeat_and_end_even_for_one_long_call():
    P.configure(interval=0.05)
    out = _Tty()  # a stage has nothing to count: plain lines on a terminal too
    with P.stage("exporting the ONNX graph", file=out):
        time.sleep(0.18)  # one call that never reports progress itself
    lines = out.getvalue().splitlines()
    assert lines[0] == "exporting the ONNX graph ..."
    assert any(ln.startswith("exporting the ONNX graph: still running, 0:00 elapsed") for ln in lines)
    assert re.match(r"exporting the ONNX graph: done in 0\.\d s$", lines[-1])
    quick = io.StringIO()
    with P.stage("writing x.npz", announce=False, file=quick):
        pass
    assert quick.getvalue() == ""


def test_a_failing_stage_stops_its_heartbeat():
    P.configure(interval=0.02)
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        with P.stage("doomed", file=out):
            raise RuntimeError("boom")
    n = len(out.getvalue())
    time.sleep(0.1)
    assert len(out.getvalue()) == n and "done" not in out.getvalue()


def test_output_log_buffers_until_attached_and_drops_bar_redraws(tmp_path, capsys):
    log_path = tmp_path / "train.log"
    with P.OutputLog() as log:
        print("before the folder exists")
        sys.stderr.write("\r 10%|#  |\r 50%|#####|\r")     # a terminal bar's redraws
        log.attach(log_path)
        print("after")
        sys.stderr.write("note: from stderr\n")
        log.write_line("only in the log")
    assert sys.stdout is not log and "after" in capsys.readouterr().out
    lines = log_path.read_text().splitlines()
    assert [ln.split("  ", 1)[1] for ln in lines] == [
        "before the folder exists", "after", "note: from stderr", "only in the log"]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ", lines[0])


def test_bar_mode_still_writes_plain_progress_lines_into_the_log(tmp_path):
    P.configure(interval=0.05)
    tty = _Tty()
    with P.OutputLog() as log:
        log.attach(tmp_path / "train.log")
        for _ in P.progress(_slow(6, 0.03), total=6, desc="epoch 1/1", unit="step", file=tty):
            pass
    text = (tmp_path / "train.log").read_text()
    assert "epoch 1/1: " in text and "ETA" in text and "epoch 1/1: 6 steps in" in text
    assert "ETA" not in tty.getvalue().replace("\r", "\n").split("\n")[-1]  # the terminal got the bar


def test_warnings_filter_hides_named_third_party_noise_only():
    from bharnet.warnings_filter import add_warning_filters, install

    install()
    install()  # idempotent
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        add_warning_filters()  # in front of "always", as install() puts them in front of the defaults
        warnings.warn("# The axis name: batch will not be used, since it shares the same shape "
                      "constraints with another axis: batch.", UserWarning)
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning)
        warnings.warn("bharnet: our own warning", UserWarning)
        warnings.warn("some other library's FutureWarning", FutureWarning)
    assert [str(w.message) for w in seen] == ["bharnet: our own warning",
                                             "some other library's FutureWarning"]
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    lg = logging.getLogger("torch.onnx._internal.exporter._registration")
    lg.addHandler(handler)
    try:
        lg.warning("torchvision is not installed. Skipping torchvision::nms")
        lg.warning("something else")
    finally:
        lg.removeHandler(handler)
    assert [r.getMessage() for r in records] == ["something else"]


def test_progress_and_the_filter_import_no_torch():
    code = ("import sys, bharnet.progress, bharnet.warnings_filter; "
            "bharnet.warnings_filter.install(); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
