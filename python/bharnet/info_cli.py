"""`bharnet info`: a model bundle's metadata (after the same validation as loading it), or a
training config's parameters and FLOPs; `bharnet keygen`: a key pair for signing bundles."""
from __future__ import annotations

import json
import pathlib
import zipfile

_CONFIG_SUFFIXES = (".yaml", ".yml")
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def register(sub) -> None:
    p = sub.add_parser("info", help="describe a model bundle (.bharnet) or a training config (.yaml)",
                       description="For a bundle: verify it as the SDK would load it (seal, "
                                   "manifest, signature with --trusted-key, spec, classes, graphs) "
                                   "and print its metadata; exit 2 if the SDK could not load it.")
    p.add_argument("target", help="model bundle or training config")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--trusted-key", action="append", default=None, metavar="PUB",
                   help="require a signature by this public key (repeatable)")
    p.set_defaults(func=_run)

    k = sub.add_parser("keygen", help="make an Ed25519 key pair for signing bundles",
                       description="Writes KEY (private, mode 600) and KEY with suffix .pub "
                                   "(public: give it to Recognizer(trusted_keys=[...])).")
    k.add_argument("--out", required=True, type=pathlib.Path, help="private key file to write")
    k.set_defaults(func=_keygen)


def _is_checkpoint(path: pathlib.Path) -> bool:
    """torch.save files: a zip with a data.pkl record, or a bare pickle (legacy format)."""
    if path.suffix in _CHECKPOINT_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        if head[:1] == b"\x80":
            return True
        if head == b"PK" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return any(n.endswith("/data.pkl") or n == "data.pkl" for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def bundle_info(target, trusted_keys=None) -> dict:
    """Open the bundle and build what the SDK builds (spec, classes, graph sessions); its metadata.
    Raises (BundleError and other ValueErrors) on anything the SDK could not load."""
    from .backends.base import BackendUnavailable
    from .bundle import BundleError, open_bundle
    from .container import signer_of
    from .sdk import Recognizer
    from .signing import fingerprint

    b = open_bundle(target, trusted_keys=trusted_keys)
    try:
        rec = Recognizer(b, backend="onnxruntime")
    except (BundleError, BackendUnavailable):
        raise
    except Exception as e:   # noqa: BLE001 - anything the SDK would trip on is this bundle's fault
        raise BundleError(f"{target}: the SDK cannot load this bundle ({type(e).__name__}: {e})") from None
    rec.close()
    signer = signer_of(target)
    # the signature is checked only against trusted keys; without them its key is only a claim
    who = fingerprint(bytes.fromhex(signer)) if signer else None
    if who and not trusted_keys:
        who += " (not verified: pass --trusted-key)"
    return {**b.metadata, "bundle_sha256": b.sha256, "signed_by": who}


DESCRIBERS = "bharnet.describers"


def _describe_config(path: str) -> dict:
    """A training config's cost, from the training side (the "bharnet.describers" entry point)."""
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group=DESCRIBERS, name="config"):
        return ep.load()(path)
    raise ValueError(f"{path}: describing a training config needs the training code "
                     f"(pip install 'bharnet[train]'); `bharnet info` reads .bharnet bundles without it")


def _run(args) -> int:
    target = pathlib.Path(args.target)
    if not target.exists():
        raise FileNotFoundError(f"not found: {target}")
    if target.is_dir():
        raise ValueError(f"{target} is a directory; give a .bharnet bundle or a .yaml config")
    if target.suffix in _CONFIG_SUFFIXES:
        info = _describe_config(str(target))
    elif _is_checkpoint(target):
        raise ValueError(f"{target} is a training checkpoint, not a bundle; export it first: "
                         f"bharnet export {target} --out model.bharnet")
    else:
        info = bundle_info(target, args.trusted_key)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:>24}: {v if not isinstance(v, (dict, list)) else json.dumps(v)}")
    return 0


def _keygen(args) -> int:
    from .signing import fingerprint, generate_key_files, public_raw

    key, pub = generate_key_files(args.out)
    print(f"private key {key} (keep it secret), public key {pub} "
          f"(fingerprint {fingerprint(public_raw(pub))})")
    return 0
