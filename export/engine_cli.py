"""`bharnet build-engine BUNDLE`: the TensorRT engine of a bundle, built once on the target GPU and
cached where the tensorrt backend looks (UNVERIFIED: TensorRT cannot be installed where this was
written; see export/trt.py)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("build-engine", help="build the TensorRT engine of a bundle on this GPU "
                                            "(what backend='tensorrt' runs)")
    p.add_argument("bundle", help="model bundle (.bharnet)")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp16")
    p.add_argument("--max-batch", type=int, default=8, help="largest batch the engine accepts")
    p.add_argument("--plugin", action="store_true", help="build from model.plugin.onnx (our kernels)")
    p.add_argument("--cache", default=None, help="engine cache folder (default ~/.cache/bharnet/trt)")
    p.add_argument("--device", type=int, default=0, help="CUDA device index")
    p.add_argument("--rebuild", action="store_true", help="build even if the cache has the engine")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import sys

    from bharnet.backends.trt_engine import TrtUnavailable

    from .trt import build_engine

    try:
        path = build_engine(args.bundle, precision=args.precision, max_batch=args.max_batch,
                            cache_dir=args.cache, plugin=args.plugin, device=args.device,
                            rebuild=args.rebuild)
    except TrtUnavailable as e:
        print(f"bharnet build-engine: error: {e}", file=sys.stderr)
        return 2
    print(f"TensorRT engine: {path}")
    return 0
