"""Training configs: YAML files with `model`, `data` and `train` sections, merged over defaults.

Every choice the paper leaves open is a key here and ends up in the bundle metadata.
"""
from __future__ import annotations

import copy
import pathlib

DEFAULTS: dict = {
    "model": {
        "variant": "vanilla",
        "num_classes": None,          # taken from the dataset when None
        "backbone": {},               # BackboneConfig fields (see models/backbone.py)
        "hand_backbone": {},          # overrides for the hand expert (it may be narrower)
        "pam": {"dim": 128, "heads": 4},
        "branch_stages": 3,           # expertized: how many final blocks are duplicated
        "dropout": 0.0,
        "use_kernels": "auto",        # auto (the path measured faster, KERNELS_FASTER) | true | false
    },
    "data": {
        "path": None,
        "layout": None,               # source layout; None: the dataset file's own
        "body_layout": "coco17",
        "stream": "j",
        "coords": 2,
        "with_score": True,
        "window": 64,
        "num_person": 1,
        "score_threshold": 0.3,
        "sample": "uniform",          # uniform | crop | stretch | stream (temporal sampling to the window)
        "augment": {},
        # streaming models (see bharnet.data.causal and models/backbone.py "valid"):
        "normalisation": "window",    # window | causal-v1 (causal needs sample: stream)
        "norm_horizon": 32,           # causal-v1: frames of trailing statistics
        "pool_steps": None,           # valid backbone: window = RF + total_stride * (pool_steps - 1)
        "hand_routing": "both",       # both | one (one tracked hand: bharnet.data.spec.HAND_ROUTINGS)
        "hand_frame": "wrist",        # wrist | body: the hands' own frame or the body's (spec.HAND_FRAMES)
    },
    "train": {
        "epochs": 60,
        "batch_size": 32,
        "lr": 0.1,                    # at batch 64; scaled linearly with the batch size
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 5e-4,
        "warmup_epochs": 5,
        "loss_weights": {"body": 1.0, "hand": 1.0, "cpl": 1.0},
        "label_smoothing": 0.0,
        "test_clips": 1,
        "test_flip": False,           # also average each test clip with its mirror image
        "train_split": "train",       # the split trained on (e.g. val_train, to choose a recipe on val)
        "test_split": "test",
        "eval_every": 1,
        "mlp_floor": False,           # also train the MLP floor on the same split (metrics.json)
        "distill": {},                # {teacher, alpha, temperature}: soft targets (training/distill.py)
        "init": None,                 # a checkpoint whose weights start the run (training/warm_start.py)
        "amp": "auto",                # CUDA autocast: auto | bf16 | fp16 | off
        "num_workers": 0,
        "seed": 0,
    },
}
# sections whose keys are checked against DEFAULTS (model holds free-form sub-dicts such as rgb)
_STRICT = ("data", "train")
# keys that accept more than their default's type says (the rest are typed by their default)
_TYPES = {
    "model.num_classes": (int, type(None)),
    "data.path": (str, type(None)),
    "data.layout": (str, type(None)),
    "data.pool_steps": (int, type(None)),
    "train.init": (str, type(None)),
    "train.amp": (str, bool),        # YAML reads `amp: off` as false
    "model.use_kernels": None,       # not checked here: its reader decides what it accepts
}
_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               dict: "a mapping", type(None): "null"}


def merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and out[k]:
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(path_or_dict) -> dict:
    """A config file (or dict) merged over DEFAULTS; unknown top-level sections are refused."""
    if isinstance(path_or_dict, dict):
        raw = path_or_dict
    else:
        import yaml

        p = pathlib.Path(path_or_dict)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p}")
        raw = yaml.safe_load(p.read_text()) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{p}: a config must be a mapping with model/data/train sections")
    unknown = set(raw) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown config section(s) {sorted(unknown)}; expected {sorted(DEFAULTS)}")
    for section in _STRICT:
        bad = set(raw.get(section) or {}) - set(DEFAULTS[section])
        if bad:
            raise ValueError(f"unknown {section} option(s) {sorted(bad)}; known: {sorted(DEFAULTS[section])}")
    cfg = merge(DEFAULTS, raw)
    for section in DEFAULTS:
        _check_types(cfg[section], DEFAULTS[section], section)
    resolve_window(cfg, window_given="window" in (raw.get("data") or {}))
    if not isinstance(path_or_dict, dict):
        cfg["data"]["path"] = _resolve_data_path(cfg["data"]["path"], pathlib.Path(path_or_dict).parent)
    return cfg


def _expected_types(key: str, default) -> tuple | None:
    if key in _TYPES:
        return _TYPES[key]
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, int):
        return (int,)
    if isinstance(default, float):
        return (float, int)
    if isinstance(default, (str, dict)):
        return (type(default),)
    return None


def _check_types(values: dict, defaults: dict, prefix: str) -> None:
    """Every key with a default must hold a value of that default's type ("train.epochs: expected
    an integer, got 'ten'"); free-form sub-mappings (backbone, augment, model.rgb) are checked by
    their own readers. Numbers written as YAML 1.1 reads them as strings ("1e-3") are converted."""
    if not isinstance(values, dict):
        raise ValueError(f"{prefix}: expected a mapping, got {values!r}")
    for key, default in defaults.items():
        name, value = f"{prefix}.{key}", values.get(key)
        types = _expected_types(name, default)
        if types is None or key not in values:
            continue
        if float in types and isinstance(value, str):
            try:
                values[key] = value = float(value)
            except ValueError:
                pass
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            expected = " or ".join(dict.fromkeys(_TYPE_NAMES[t] for t in types if t is not int or
                                                 float not in types))
            raise ValueError(f"{name}: expected {expected}, got {value!r}")
        if isinstance(default, dict) and default:
            _check_types(value, default, name)


def apply_overrides(cfg: dict, data=None, epochs=None, seed=None, variant=None) -> dict:
    if data is not None:
        cfg["data"]["path"] = str(data)
    if epochs is not None:
        cfg["train"]["epochs"] = int(epochs)
    if seed is not None:
        cfg["train"]["seed"] = int(seed)
    if variant is not None:
        cfg["model"]["variant"] = variant
        resolve_window(cfg)  # another variant may have other backbones
    return cfg


def _resolve_data_path(path, config_dir: pathlib.Path):
    """A relative data path means the working directory if it exists there, else the config's
    folder, so shipped configs can point at data beside the repository from any directory."""
    if not path or pathlib.Path(path).is_absolute() or pathlib.Path(path).exists():
        return path
    beside = config_dir / path
    return str(beside.resolve()) if beside.exists() else path


def temporal_plan(cfg: dict) -> tuple[str, int, int]:
    """(temporal padding, receptive field, total stride) shared by the model's backbones."""
    from .models import BackboneConfig, experts_of

    m = cfg["model"]
    has_body, has_hand, unified = experts_of(m["variant"])
    body = BackboneConfig.from_dict(m["backbone"])
    cfgs = [body] if (has_body or unified) else []
    if has_hand and not unified:
        cfgs.append(BackboneConfig.from_dict({**m["backbone"], **(m["hand_backbone"] or {})}))
    plans = {(c.temporal_padding, c.receptive_field, c.total_stride) for c in cfgs}
    if len(plans) > 1:
        raise ValueError(f"the body and hand backbones differ in temporal padding, receptive field "
                         f"or stride {sorted(plans)}; a window must suit both")
    return plans.pop()


def resolve_window(cfg: dict, window_given: bool = True) -> None:
    """Check the streaming data keys against the model and derive data.window from pool_steps.

    A valid (unpadded) backbone gives (window - RF) / total_stride + 1 output steps, so its window
    must be RF + total_stride * (n - 1) for n pooled steps: `data.pool_steps: n` sets it.
    """
    d, variant = cfg["data"], cfg["model"]["variant"]
    steps = d.get("pool_steps")
    causal = d.get("normalisation", "window") != "window"
    if causal and d.get("sample") != "stream":
        raise ValueError(f"data.normalisation {d['normalisation']!r} prepares each frame once from "
                         f"its past: it needs data.sample: stream (got {d.get('sample')!r})")
    if variant == "rgb":
        valid = (cfg["model"].get("backbone") or {}).get("temporal_padding") == "valid"
        if causal or valid or steps is not None:
            raise ValueError("model.variant 'rgb' (BHaRNet-M) stays windowed: its RGB branch samples "
                             "frames across a window; streaming options are for skeleton variants")
        return
    if steps is None and (cfg["model"].get("backbone") or {}).get("temporal_padding") != "valid" \
            and (cfg["model"].get("hand_backbone") or {}).get("temporal_padding") != "valid":
        return  # nothing streaming about this model (and no backbone to build for the check)
    padding, rf, stride = temporal_plan(cfg)
    if steps is not None:
        if padding != "valid":
            raise ValueError("data.pool_steps needs model.backbone.temporal_padding: valid (a padded "
                             "backbone keeps the window's length)")
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"data.pool_steps must be an integer >= 1, got {steps!r}")
        t_v = rf + stride * (steps - 1)
        if window_given and d["window"] != t_v:
            raise ValueError(f"data.window {d['window']} does not match data.pool_steps {steps}: the "
                             f"backbone (receptive field {rf}, stride {stride}) needs "
                             f"{rf} + {stride} * ({steps} - 1) = {t_v} frames; drop data.window or set it to {t_v}")
        d["window"] = t_v
    elif padding == "valid":
        w = d["window"]
        if w < rf or (w - rf) % stride:
            raise ValueError(f"data.window {w} does not suit the valid backbone (receptive field {rf}, "
                             f"stride {stride}): it must be {rf} + {stride} * (n - 1); set "
                             f"data.pool_steps: n instead")


def input_spec(cfg: dict):
    """The pipeline InputSpec this config's model consumes."""
    from bharnet.data.pipeline import InputSpec

    from .models import experts_of

    has_body, has_hand, unified = experts_of(cfg["model"]["variant"])
    d = cfg["data"]
    return InputSpec(body_layout=d["body_layout"], hands=has_hand, body=has_body, unified=unified,
                     stream=d["stream"], coords=d["coords"], with_score=d["with_score"],
                     window=d["window"], num_person=d["num_person"],
                     score_threshold=d["score_threshold"], normalisation=d["normalisation"],
                     norm_horizon=d["norm_horizon"], hand_routing=d["hand_routing"],
                     hand_frame=d["hand_frame"])


# What `model.use_kernels: auto` picks per device type: the path bench/kernels.py measured faster
# for a training epoch (model_epoch: synth.yaml, variant pam, 6 batches of 32, kernels on vs
# off; the ratio is off/on, > 1 means the kernels train faster).
#   cpu:  plain PyTorch. 0.91x (1 thread, CPU clock, bench/results/kernels_cpu_1t.json),
#         0.96x (2 threads, wall clock, kernels_cpu.json); rerun 2026-12-03: 0.90x (kernels on
#         2.13 s, off 1.92 s; 1 thread, CPU clock, kernels_cpu_1t_epoch.json) with
#         python bench/kernels.py --only model --threads 1 --clock cpu --epoch-reps 7 \
#             --out bench/results/kernels_cpu_1t_epoch.json
#   cuda: plain PyTorch until measured: `make gpu-check` writes the CUDA epoch, kernels on/off, to
#         bench/results/kernels_cuda.json: set True if its model_epoch_amp ratio (bf16 autocast,
#         what training's amp: auto runs) is > 1.
# true/false in a config force a path; the kernels stay built and tested either way.
KERNELS_FASTER = {"cpu": False, "cuda": False}


def resolve_use_kernels(value, device: str = "cpu") -> bool:
    """model.use_kernels (true, false or auto) for a model that trains on `device` ("cpu"/"cuda")."""
    if isinstance(value, bool):
        return value
    if value != "auto":
        raise ValueError(f"model.use_kernels must be true, false or auto, got {value!r}")
    from bharnet import ops

    # auto only picks the kernels where they were measured faster and are built for the device
    return KERNELS_FASTER.get(device, False) and ops.kernels_available(device)


def build_model(cfg: dict, num_classes: int | None = None, use_kernels: bool | None = None,
                device: str = "cpu"):
    """The model of a config. `device`: where it will train ("cpu"/"cuda"); it decides
    use_kernels: auto and which kernels must be built (a missing one fails here, not mid-epoch)."""
    from bharnet import ops

    from .models import BHaRNet

    m, d = cfg["model"], cfg["data"]
    n = num_classes or m["num_classes"]
    if not n:
        raise ValueError("num_classes is unknown: set model.num_classes or give a dataset")
    kernels = resolve_use_kernels(m["use_kernels"] if use_kernels is None else use_kernels, device)
    if kernels and device != "cpu":
        ops.require_kernels(device)  # the units check the CPU kernels; CUDA needs a CUDA build too
    return BHaRNet(
        num_classes=n, variant=m["variant"], body_layout=d["body_layout"],
        in_channels=d["coords"] + int(d["with_score"]), backbone=m["backbone"],
        hand_backbone=m["hand_backbone"], pam=m["pam"], branch_stages=m["branch_stages"],
        dropout=m["dropout"], use_kernels=kernels)


def example_inputs(cfg: dict, batch: int = 1, seed: int = 0) -> dict:
    """Random model inputs of the right shapes (for tracing, FLOP counting, export checks)."""
    import torch

    from .models import experts_of

    d = cfg["data"]
    has_body, has_hand, unified = experts_of(cfg["model"]["variant"])
    from bharnet.layouts import get_layout

    c, t, m = d["coords"] + int(d["with_score"]), d["window"], d["num_person"]
    g = torch.Generator().manual_seed(seed)
    out = {}
    if unified:
        out["joints"] = torch.randn(batch, c, t, get_layout("unified").num_joints, m, generator=g)
        return out
    if has_body:
        out["body"] = torch.randn(batch, c, t, get_layout(d["body_layout"]).num_joints, m, generator=g)
    if has_hand:
        out["hand"] = torch.randn(batch, c, t, 21, 2 * m, generator=g)
        out["hand_mask"] = (torch.rand(batch, t, 2 * m, generator=g) > 0.2).float()
    return out
