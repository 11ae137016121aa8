"""`bharnet info`: a model bundle's metadata, or a training config's parameters and FLOPs."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("info", help="describe a model bundle (.bharnet) or a training config (.yaml)")
    p.add_argument("target", help="model bundle or training config")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_run)


DESCRIBERS = "bharnet.describers"


def _describe_config(path: str) -> dict:
    """A training config's cost, from the training side (the "bharnet.describers" entry point)."""
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group=DESCRIBERS, name="config"):
        return ep.load()(path)
    raise ValueError(f"{path}: describing a training config needs the training code "
                     f"(pip install 'bharnet[train]'); `bharnet info` reads .bharnet bundles without it")


def _run(args) -> int:
    if args.target.endswith(".bharnet"):
        from .bundle import read_metadata

        info = read_metadata(args.target)
    else:
        info = _describe_config(args.target)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:>24}: {v if not isinstance(v, (dict, list)) else json.dumps(v)}")
    return 0
