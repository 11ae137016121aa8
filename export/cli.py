"""`bharnet export CKPT --out model.bharnet [--trt]`: torch is imported only inside the handler."""
from __future__ import annotations


def register(sub) -> None:
    from bharnet.program import SCHEDULES

    p = sub.add_parser("export", help="export a checkpoint to a model bundle (.bharnet)")
    p.add_argument("checkpoint", help="training checkpoint (.pt)")
    p.add_argument("--out", required=True, help="bundle path to write (model.bharnet)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (>= 17)")
    p.add_argument("--no-fp16", action="store_true", help="do not add the FP16 graph")
    p.add_argument("--plugin", action="store_true",
                   help="also add model.plugin.onnx with bharnet GraphConv/PoolAttention plugin nodes")
    p.add_argument("--stride", type=int, default=None,
                   help="frames between recognitions the SDK uses by default (default: 8, or a "
                        "streaming model's total temporal stride)")
    p.add_argument("--schedules", nargs="+", choices=SCHEDULES, default=None,
                   help="streaming models: which step graphs to add (default both: native predicts "
                        "every total-stride frames with the least work, atrous every frame)")
    p.add_argument("--name", default="", help="a name for the model, stored in the bundle")
    p.add_argument("--description", default="", help="what the model is, stored in the bundle")
    p.add_argument("--trt", action="store_true", help="also build a TensorRT engine (needs tensorrt)")
    p.add_argument("--trt-precision", choices=("fp32", "fp16"), default="fp16")
    p.add_argument("--trt-max-batch", type=int, default=8, help="largest batch the engine accepts")
    p.add_argument("--trt-cache", default=None, help="engine cache folder (default ~/.cache/bharnet/trt)")
    p.add_argument("--sign", metavar="KEY", default=None,
                   help="sign the bundle with this Ed25519 private key (see `bharnet keygen`)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import sys

    from bharnet.bundle import open_bundle
    from bharnet.progress import stage
    from bharnet.warnings_filter import install

    from .builder import export_checkpoint

    install()
    key = None
    if args.sign:   # a bad key fails before the (slow) export, not after
        from bharnet.signing import load_private_key

        key = load_private_key(args.sign)
    try:
        with stage(f"export {args.checkpoint} -> {args.out}"):
            path = export_checkpoint(args.checkpoint, args.out, opset=args.opset,
                                     fp16=not args.no_fp16, plugin=args.plugin, stride=args.stride,
                                     name=args.name, description=args.description,
                                     schedules=args.schedules, signing_key=key)
    except RuntimeError as e:  # parity refused, kernels missing for --plugin: no traceback
        print(f"bharnet export: error: {e}", file=sys.stderr)
        return 2
    if key is not None:
        from bharnet.signing import fingerprint, public_raw

        print(f"signed {path} with key {fingerprint(public_raw(key.public_key()))}")
    b = open_bundle(path)
    meta = b.meta
    diff = meta.export_check["ort_vs_torch_max_abs"]
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, sha256 {b.sha256[:12]}); "
          f"variant {meta.variant}, {meta.num_classes} classes, window {meta.window}; "
          f"ORT vs torch max-abs {max(diff.values()):.2e} (logit scale "
          f"{meta.export_check['logit_scale']:.3g})"
          + (f"; step graphs {', '.join(meta.continual['schedules'])}" if meta.continual else ""))
    if args.trt:
        from .trt import TrtUnavailable, build_engine

        try:
            with stage(f"TensorRT engine ({args.trt_precision}, max batch {args.trt_max_batch})"):
                engine = build_engine(path, precision=args.trt_precision,
                                      max_batch=args.trt_max_batch, cache_dir=args.trt_cache)
        except TrtUnavailable as e:
            print(f"bharnet export: bundle written, but no TensorRT engine: {e}", file=sys.stderr)
            return 2
        print(f"TensorRT engine: {engine}")
    return 0
