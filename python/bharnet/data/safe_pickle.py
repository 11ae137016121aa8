"""Reading PYSKL pickles without running code from them.

`pickle.load` calls whatever global a file names (os.system, subprocess.Popen, ...). PYSKL
annotation files only ever hold dicts, lists, tuples, strings, numbers and NumPy arrays, so the
unpickler here resolves exactly the globals those need and refuses every other one, naming it.

Admitted globals (as NumPy 1.x and 2.x write them):
  * numpy's array reconstructor `_reconstruct` (numpy.core / numpy._core .multiarray), only with
    ndarray as the type and a tiny initial shape (the array's data comes in the following state);
  * `numpy.ndarray` (only as that argument: it cannot be called to allocate), `numpy.dtype`;
  * `scalar` (NumPy scalars) and `_frombuffer` (protocol-5 arrays), under both module names;
  * `_codecs.encode` restricted to latin-1 text (how protocol-2 pickles store bytes),
    `collections.OrderedDict`, and builtins set, frozenset, complex, slice.
Every failure, refused global or damaged file, is an UnsafePickleError or a ValueError.
"""
from __future__ import annotations

import importlib
import io
import pickle

import numpy as np

# (module, name) pairs as they appear in pickles -> the candidate modules that define the object
_NUMPY_MODULES = ("numpy._core", "numpy.core")   # NumPy 2 moved numpy.core to numpy._core
_NUMPY_FUNCS = {("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer")}
# no bytearray: bytearray(n) would allocate n bytes on the file's say-so
_BUILTINS = {"set": set, "frozenset": frozenset, "complex": complex, "slice": slice}
# the initial allocation of _reconstruct: NumPy always writes shape (0,); allow a little slack
_MAX_RECONSTRUCT_BYTES = 1 << 16
_HINT = ("PYSKL files hold only dicts, lists, strings, numbers and NumPy arrays; if you trust this "
         "file, re-save it as plain data in the tool that made it (bharnet never unpickles other "
         "objects), then `bharnet data convert FILE.pkl OUT.npz` keeps it in the safe .npz form")


class UnsafePickleError(ValueError):
    """A pickle that names a global outside the data-only allow-list, or cannot be read."""


class _NdarrayToken:
    """Stands for numpy.ndarray inside a pickle: accepted by _reconstruct, not callable, so a
    pickle cannot allocate an arbitrary array by calling the class."""

    __slots__ = ()


_NDARRAY = _NdarrayToken()


def _numpy_func(sub: str, name: str):
    for mod in _NUMPY_MODULES:
        try:
            return getattr(importlib.import_module(f"{mod}.{sub}"), name)
        except (ImportError, AttributeError):
            continue
    raise UnsafePickleError(f"this NumPy has no {sub}.{name}")


def _reconstruct(subtype, shape, dtype):
    # numpy writes _reconstruct(ndarray, (0,), b'b') and fills the array from the BUILD state
    if subtype is not _NDARRAY:
        raise UnsafePickleError(f"array reconstruction with type {type(subtype).__name__!r} refused")
    try:
        n = int(np.prod(np.asarray(shape, dtype=np.int64)))
        nbytes = n * np.dtype(dtype).itemsize
    except (TypeError, ValueError, OverflowError) as e:
        raise UnsafePickleError(f"malformed array header ({e})") from None
    if n < 0 or nbytes > _MAX_RECONSTRUCT_BYTES:
        raise UnsafePickleError(f"array header asks for {nbytes} bytes up front; refused")
    return _numpy_func("multiarray", "_reconstruct")(np.ndarray, shape, dtype)


def _latin1_encode(obj, encoding="utf-8", errors="strict"):
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise UnsafePickleError("_codecs.encode is admitted only for latin-1 text")
    return obj.encode("latin1")


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        mod_parts = module.split(".")
        if module == "numpy" and name == "ndarray":
            return _NDARRAY
        if module == "numpy" and name == "dtype":
            return np.dtype
        if len(mod_parts) == 3 and ".".join(mod_parts[:2]) in _NUMPY_MODULES \
                and (mod_parts[2], name) in _NUMPY_FUNCS:
            if name == "_reconstruct":
                return _reconstruct
            return _numpy_func(mod_parts[2], name)
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        if module == "collections" and name == "OrderedDict":
            from collections import OrderedDict

            return OrderedDict
        if module in ("builtins", "__builtin__") and name in _BUILTINS:
            return _BUILTINS[name]
        raise UnsafePickleError(f"refused to load global {module}.{name}: not data. {_HINT}")

    def persistent_load(self, pid):
        raise UnsafePickleError(f"refused a persistent reference ({pid!r}): not data. {_HINT}")


def loads(data: bytes, source: str = "<bytes>"):
    """Unpickle data-only content; UnsafePickleError (a ValueError) for anything else."""
    try:
        return _DataOnlyUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError as e:
        raise UnsafePickleError(f"{source}: {e}") from None
    except RecursionError:
        raise UnsafePickleError(f"{source}: pickle nests too deeply") from None
    except MemoryError:
        raise UnsafePickleError(f"{source}: pickle asks for more memory than is available") from None
    except Exception as e:   # noqa: BLE001 - any damage in the stream is one documented error
        raise UnsafePickleError(f"{source}: not a readable pickle ({type(e).__name__}: {e})") from None


def load(path):
    """Unpickle a data-only file (see the module docstring)."""
    with open(path, "rb") as f:
        return loads(f.read(), str(path))


__all__ = ["UnsafePickleError", "load", "loads"]
