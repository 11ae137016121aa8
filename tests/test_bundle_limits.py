"""Bundles are bounded before anything is inflated: zip bombs cost neither time nor memory."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zlib

import pytest

from bharnet import container
from bharnet.container import BundleError

BOMB_BYTES = 1536 << 20          # 1.5 GiB of zeros, as in the report
_BLOCK = 1 << 24


def _deflate_zeros(n: int) -> bytes:
    """Raw deflate of n zero bytes, built from one repeated full-flush block (fast, ~1000:1)."""
    assert n % _BLOCK == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(_BLOCK)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * (n // _BLOCK) + c.flush()


def _zip(entries, member_count: int | None = None) -> bytes:
    """A sealed zip from (name, compressed bytes, method, crc, declared size) entries, by hand, so
    that headers can lie."""
    local, central = bytearray(), bytearray()
    for name, data, method, crc, size in entries:
        n = name.encode()
        off = len(local)
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data),
                             size, len(n), 0) + n + data
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc,
                               len(data), size, len(n), 0, 0, 0, 0, 0, off) + n
    count = len(entries) if member_count is None else member_count
    body = bytes(local + central) + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count,
                                                len(central), len(local), container.SEAL_LEN)
    return body + container.SEAL_PREFIX + container.sha256(body).encode()


def _entry(name: str, data: bytes):
    return (name, zlib.compress(data, 9)[2:-4], 8, zlib.crc32(data), len(data))


def _meta(members: dict[str, tuple[str, int]]) -> bytes:
    return json.dumps({"format": "bharnet-bundle", "format_version": 1,
                       "members": {n: {"sha256": h, "size": s} for n, (h, s) in members.items()}}).encode()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _deflate_zeros(BOMB_BYTES)


def _bundles(bomb: bytes) -> dict[str, bytes]:
    onnx = b"graph" * 100
    ok = {"model.onnx": (container.sha256(onnx), len(onnx))}
    big = ("bomb.bin", bomb, 8, 0, BOMB_BYTES)
    return {
        # the case: an unlisted 1.5 GiB member
        "unlisted": _zip([_entry("metadata.json", _meta(ok)), _entry("model.onnx", onnx), big]),
        # listed in the manifest with its true size: over the total budget
        "over budget": _zip([_entry("metadata.json", _meta({**ok, "bomb.bin": ("0" * 64, BOMB_BYTES)})),
                             _entry("model.onnx", onnx), big]),
        # headers and manifest both say 1 KiB, the data inflates to 1.5 GiB
        "lying size": _zip([_entry("metadata.json", _meta({**ok, "bomb.bin": ("0" * 64, 1024)})),
                            _entry("model.onnx", onnx), ("bomb.bin", bomb, 8, 0, 1024)]),
        # an end record announcing a million members (the directory is never parsed)
        "many members": _zip([_entry("metadata.json", _meta(ok)), _entry("model.onnx", onnx)],
                             member_count=60000),
    }


@pytest.mark.parametrize("case,message", [("unlisted", "unlisted member"), ("over budget", "budget"),
                                          ("lying size", "corrupted"),
                                          ("many members", "members")])
def test_zip_bombs_refused_fast_in_bounded_memory(tmp_path, bomb, case, message):
    p = tmp_path / "bomb.bharnet"
    p.write_bytes(_bundles(bomb)[case])
    assert p.stat().st_size < 3 << 20
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(BundleError, match=message):
        container.read_sealed(p)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0, elapsed
    assert peak < 100 << 20, peak


def test_zip_bomb_peak_rss_of_a_fresh_process(tmp_path, bomb):
    """The same refusal measured as the whole process sees it (peak RSS), not only Python's heap.
    VmHWM, not ru_maxrss: the latter keeps the forking pytest process's peak across exec."""
    p = tmp_path / "bomb.bharnet"
    p.write_bytes(_bundles(bomb)["unlisted"])
    code = textwrap.dedent(f"""
        import json, time
        from bharnet import container
        t0 = time.perf_counter()
        try:
            container.read_sealed({str(p)!r})
        except container.BundleError as e:
            msg = str(e)
        hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        print(json.dumps({{"s": time.perf_counter() - t0, "msg": msg,
                          "peak_rss_mb": int(hwm.split()[1]) / 1024}}))
    """)
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout)
    assert "unlisted" in out["msg"] and out["s"] < 1.0 and out["peak_rss_mb"] < 100, out


def test_a_good_handmade_zip_passes_the_same_reader(tmp_path):
    """Guards the tests above: the hand-made zip is a valid bundle when it does not lie."""
    onnx = b"graph" * 100
    p = tmp_path / "ok.bharnet"
    p.write_bytes(_zip([_entry("metadata.json", _meta({"model.onnx": (container.sha256(onnx), len(onnx))})),
                        _entry("model.onnx", onnx)]))
    meta, data, _ = container.read_sealed(p)
    assert data == {"model.onnx": onnx} and meta["format_version"] == 1


def test_oversized_file_refused_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "big.bharnet"
    p.write_bytes(b"x" * 2048)
    monkeypatch.setattr(container, "MAX_FILE_BYTES", 1024)
    with pytest.raises(BundleError, match="larger than any bundle"):
        container.read_sealed(p)
