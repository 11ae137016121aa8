"""`bharnet export CKPT --out model.bharnet [--trt]`: torch is imported only inside the handler."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint to a model bundle (.bharnet)")
    p.add_argument("checkpoint", help="training checkpoint (.pt)")
    p.add_argument("--out", required=True, help="bundle path to write (model.bharnet)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (>= 17)")
    p.add_argument("--no-fp16", action="store_true", help="do not add the FP16 graph")
    p.add_argument("--plugin", action="store_true",
                   help="also add model.plugin.onnx with bharnet GraphConv/PoolAttention plugin nodes")
    p.add_argument("--trt", action="store_true", help="also build a TensorRT engine (needs tensorrt)")
    p.add_argument("--trt-precision", choices=("fp32", "fp16"), default="fp16")
    p.add_argument("--trt-max-batch", type=int, default=8)
    p.add_argument("--trt-cache", default=None, help="engine cache folder (default ~/.cache/bharnet/trt)")
    p.add_argument("--sign", metavar="KEY", default=None,
                   help="sign the bundle with this Ed25519 private key (see `bharnet keygen`)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import sys

    from bharnet.bundle import open_bundle

    from .builder import export_checkpoint

    key = None
    if args.sign:   # a bad key fails before the (slow) export, not after
        from bharnet.signing import load_private_key

        key = load_private_key(args.sign)
    try:
        path = export_checkpoint(args.checkpoint, args.out, opset=args.opset, fp16=not args.no_fp16,
                                 plugin=args.plugin)
    except RuntimeError as e:  # parity refused, kernels missing for --plugin: no traceback
        print(f"bharnet export: error: {e}", file=sys.stderr)
        return 2
    if key is not None:
        from bharnet.container import sign_sealed
        from bharnet.signing import fingerprint, public_raw

        sign_sealed(path, key)
        print(f"signed {path} with key {fingerprint(public_raw(key.public_key()))}")
    b = open_bundle(path)
    meta = b.meta
    diff = meta.export_check["ort_vs_torch_max_abs"]
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, sha256 {b.sha256[:12]}); "
          f"variant {meta.variant}, {meta.num_classes} classes, window {meta.window}; "
          f"ORT vs torch max-abs {max(diff.values()):.2e} (logit scale "
          f"{meta.export_check['logit_scale']:.3g})")
    if args.trt:
        from .trt import TrtUnavailable, build_engine

        try:
            engine = build_engine(path, precision=args.trt_precision, max_batch=args.trt_max_batch,
                                  cache_dir=args.trt_cache)
        except TrtUnavailable as e:
            print(f"bharnet export: bundle written, but no TensorRT engine: {e}", file=sys.stderr)
            return 2
        print(f"TensorRT engine: {engine}")
    return 0
