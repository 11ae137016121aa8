"""Building TensorRT engines from a bundle's ONNX graph, into the cache the tensorrt backend reads
(bharnet.backends.trt_engine: cache key, member choice, loading).

UNVERIFIED: TensorRT cannot be installed in the workplace where this was written (PyPI's
`tensorrt` is a stub that downloads from NVIDIA at install time). The code follows the documented
Python API of TensorRT 10.3 ... 11.x and has never been run against a real TensorRT.
"""
from __future__ import annotations

import json
import pathlib

from bharnet.backends.trt_engine import (TrtUnavailable, engine_key, engine_path, import_tensorrt,
                                         load_plugin_library, strongly_typed)


def _parse(trt, network, logger, onnx_bytes: bytes):
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RuntimeError("TensorRT could not parse the ONNX graph:\n  " + "\n  ".join(errors))
    return parser


def build_engine(bundle, precision: str = "fp16", max_batch: int = 8, opt_batch: int | None = None,
                 min_batch: int = 1, cache_dir=None, plugin: bool = False, plugin_library=None,
                 workspace_mb: int = 1024, device: int = 0, rebuild: bool = False) -> pathlib.Path:
    """Build (or reuse from the cache) a serialized engine for a bundle; returns its path.

    bundle: path or opened Bundle. One optimisation profile covers batch min..max (opt: the most
    frequent batch, default max). plugin=True builds from model.plugin.onnx and needs our
    TensorRT plugin library (libbharnet_trt_plugins.so), loaded into the plugin registry.
    """
    from bharnet.bundle import open_bundle

    trt = import_tensorrt()
    b = bundle if hasattr(bundle, "meta") else open_bundle(bundle)
    opt_batch = opt_batch or max_batch
    member, key = engine_key(b, precision, max_batch, opt_batch, min_batch, plugin, device,
                             trt.__version__)
    path = engine_path(cache_dir, key)
    if path.is_file() and not rebuild:
        return path

    logger = trt.Logger(trt.Logger.WARNING)
    if plugin:
        load_plugin_library(trt, plugin_library)
    builder = trt.Builder(logger)
    flags = 0
    if strongly_typed(trt.__version__):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)  # explicit batch is the only mode in 10.x+
    _parse(trt, network, logger, b.onnx_bytes(member))

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    if precision == "fp16" and not strongly_typed(trt.__version__):
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    from bharnet.data import InputSpec

    shapes = InputSpec.from_dict(b.meta.spec).input_shapes()
    for i in range(network.num_inputs):
        t = network.get_input(i)
        per = tuple(shapes[t.name])
        profile.set_shape(t.name, (min_batch,) + per, (opt_batch,) + per, (max_batch,) + per)
    config.add_optimization_profile(profile)

    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError("TensorRT engine build failed (see the TensorRT log above)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(bytes(plan))
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(key, indent=2))
    return path


__all__ = ["TrtUnavailable", "build_engine"]
