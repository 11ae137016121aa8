"""Evaluation: scores of a model on prepared test inputs, metrics, multi-stream ensembles, plots."""
from __future__ import annotations

import json
import pathlib

import numpy as np


# ---- metrics (NumPy only) -------------------------------------------------------------------

def confusion(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (labels, pred), 1)
    return cm


def metrics_from_scores(scores: np.ndarray, labels: np.ndarray, classes: list[str],
                        hand_intensive: list[int] | None = None) -> dict:
    """top1/top5/mean class accuracy/per class (and hand-intensive top-1) from [N, K] scores."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    n_cls = scores.shape[1]
    pred = scores.argmax(1)
    k = min(5, n_cls)
    topk = np.argsort(-scores, axis=1)[:, :k]
    cm = confusion(pred, labels, n_cls)
    support = cm.sum(1)
    per_acc = np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)
    out = {
        "top1": float((pred == labels).mean()),
        "top5": float((topk == labels[:, None]).any(1).mean()),
        "mean_class_acc": float(np.nanmean(per_acc)),
        "per_class": {classes[i]: (None if np.isnan(a) else float(a)) for i, a in enumerate(per_acc)},
        "num_samples": int(len(labels)),
    }
    if hand_intensive:
        sel = np.isin(labels, hand_intensive)
        if sel.any():
            out["hand_intensive_top1"] = float((pred[sel] == labels[sel]).mean())
            out["non_hand_intensive_top1"] = (float((pred[~sel] == labels[~sel]).mean())
                                             if (~sel).any() else None)
    out["confusion"] = cm.tolist()
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fuse_scores(score_list: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """Weighted sum of the models' softmax probabilities (the usual J/B/JM/BM ensemble)."""
    weights = weights or [1.0] * len(score_list)
    if len(weights) != len(score_list):
        raise ValueError(f"{len(score_list)} models but {len(weights)} weights")
    return sum(w * softmax(s) for w, s in zip(weights, score_list))


# ---- running a model (torch) --------------------------------------------------------------

def predict(model, inputs: dict, batch_size: int = 64, device="cpu", amp_dtype=None,
            desc: str = "evaluating", quiet: bool = False) -> np.ndarray:
    """Logits [N, classes] averaged over the K test clips of inputs {name: [N, K, ...]}."""
    import torch

    from bharnet.progress import progress

    model.eval()
    n, k = next(iter(inputs.values())).shape[:2]
    out = []
    bar = progress(total=n, desc=desc, unit="clip", quiet=quiet)
    with torch.no_grad(), bar:
        for s in range(0, n, batch_size):
            x = {name: torch.as_tensor(v[s:s + batch_size]).flatten(0, 1).to(device)
                 for name, v in inputs.items()}
            with torch.autocast(device_type=torch.device(device).type, dtype=amp_dtype,
                                enabled=amp_dtype is not None):
                z = model(**x)["logits"].float()
            out.append(z.view(-1, k, z.shape[-1]).mean(1).cpu().numpy())
            bar.update(len(out[-1]))
    return np.concatenate(out)


def loss_of_scores(scores: np.ndarray, labels: np.ndarray) -> float:
    p = softmax(scores)
    return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None)).mean())


# ---- outputs --------------------------------------------------------------------------------

def write_metrics(path, metrics: dict) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return path


def summary_line(m: dict) -> str:
    s = f"top1 {m['top1']:.4f}  top5 {m['top5']:.4f}  mean-class {m['mean_class_acc']:.4f}"
    if "hand_intensive_top1" in m:
        s += f"  hand-intensive {m['hand_intensive_top1']:.4f}"
    if "mlp_floor_top1" in m:
        s += f"  (MLP floor {m['mlp_floor_top1']:.4f})"
    return s


def have_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(cm, classes: list[str], path, title: str = "confusion matrix"):
    plt = _pyplot()
    cm = np.asarray(cm, float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    n = len(classes)
    size = max(4.0, 0.35 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=90, fontsize=7 if n > 20 else 9)
    ax.set_yticks(range(n), classes, fontsize=7 if n > 20 else 9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (row-normalised; numbers are clip counts)")
    ax.set_title(title)
    if n <= 30:
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(history: list[dict], path, total_epochs: int | None = None):
    """Loss, top-1 and learning rate per epoch. Every measured point is drawn with a marker (a
    1-epoch run still shows its point); test values only at the epochs where they were measured
    (train.eval_every). total_epochs fixes the x axis, so a run in progress fills it."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    ep = [h["epoch"] for h in history]
    te = [h for h in history if "test_top1" in h]
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(13, 4))
    # the two losses differ in kind: training optimises the variant's whole objective (e.g. body +
    # hand + coupling terms), the test loss is the cross-entropy of the fused logits
    a1.plot(ep, [h["train_loss"] for h in history], "o-", ms=4, label="train (training objective)")
    a2.plot(ep, [h["train_top1"] for h in history], "o-", ms=4, label="train")
    if te:
        a1.plot([h["epoch"] for h in te], [h["test_loss"] for h in te], "s--", ms=6,
                label="test (cross-entropy)")
        a2.plot([h["epoch"] for h in te], [h["test_top1"] for h in te], "s--", ms=6, label="test")
        best = max(te, key=lambda h: h["test_top1"])
        # below-left of the point: clear of the train curve, which usually runs above the test one
        a2.annotate(f"best {best['test_top1']:.3f}", (best["epoch"], best["test_top1"]),
                    textcoords="offset points", xytext=(-4, -14), ha="right", fontsize=8,
                    color="tab:orange")
    a3.plot(ep, [h["lr"] for h in history], "o-", ms=4, color="tab:gray")
    last = max(ep) if ep else 1
    hi = max(total_epochs or 0, last)
    for ax, label in ((a1, "loss"), (a2, "top-1"), (a3, "learning rate (end of epoch)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_xlim(0.5, hi + 0.5)
        if hi <= 12:
            ax.set_xticks(range(1, hi + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    a1.legend()
    a2.legend()
    a2.set_ylim(0, 1.05)
    status = f"epoch {last}" + (f" of {total_epochs}" if total_epochs else "")
    if te:
        status += f"; last test top-1 {te[-1]['test_top1']:.3f} (epoch {te[-1]['epoch']})"
    fig.suptitle(status, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- evaluating checkpoints (the `bharnet eval` command) ---------------------------------------

def checkpoint_scores(ckpt_path, data_path=None, split: str = "test", device: str = "cpu",
                      data_cache: dict | None = None, test_overrides: dict | None = None,
                      quiet: bool = False):
    """(scores, labels, ckpt) of one checkpoint on a dataset split (its own data path by default).

    test_overrides: train.test_clips / train.test_flip values replacing the checkpoint's own."""
    from bharnet.data.pipeline import InputSpec

    from .checkpoint import load_checkpoint, model_from_checkpoint
    from .loader import check_compatible, prepare_test, read_dataset

    ckpt = load_checkpoint(ckpt_path)
    cfg = ckpt["config"]
    path = data_path or recorded_data_path(cfg["data"]["path"], ckpt_path)
    cache = data_cache if data_cache is not None else {}
    if path not in cache:
        cache[path] = read_dataset(path, cfg["data"].get("layout"))
    data = cache[path]
    spec = InputSpec.from_dict(ckpt["spec"])
    check_compatible(data, spec, cfg["model"]["variant"])
    if list(data.classes) != list(ckpt["classes"]):
        raise ValueError(f"{ckpt_path}: trained on classes {ckpt['classes'][:5]}..., dataset {path} "
                         f"has {data.classes[:5]}...")
    tc = {**cfg["train"], **(test_overrides or {})}
    inputs, labels = prepare_test(data.split(split), data.layout, spec, tc.get("test_clips", 1),
                                  cfg["data"].get("sample", "uniform"), bool(tc.get("test_flip", False)))
    model = model_from_checkpoint(ckpt, use_kernels=False).to(device)
    return (predict(model, inputs, device=device, desc=f"evaluating {ckpt_path}", quiet=quiet), labels,
            ckpt, data)


def recorded_data_path(recorded, ckpt_path) -> str:
    """The dataset a checkpoint was trained on. A relative path in it is relative to where the
    training ran: tried from the working directory, then from the run's own working directory
    (run.json in the checkpoint's folder), then from the checkpoint's folder and the two above it.
    Says in one line where it found the file when that was not the working directory."""
    if not recorded:
        raise ValueError(f"{ckpt_path}: the checkpoint records no dataset; pass --data PATH")
    rel = pathlib.Path(recorded)
    if rel.is_file():
        return str(recorded)
    candidates = []
    if not rel.is_absolute():
        here = pathlib.Path(ckpt_path).resolve().parent
        run = here / "run.json"
        if run.is_file():
            cwd = json.loads(run.read_text()).get("cwd")
            if cwd:
                candidates.append(pathlib.Path(cwd) / rel)
        candidates += [d / rel for d in (here, *list(here.parents)[:2])]
    for c in candidates:
        if c.is_file():
            print(f"note: dataset {recorded} (as recorded in {ckpt_path}) resolved to {c}", flush=True)
            return str(c)
    raise FileNotFoundError(f"dataset file not found: {recorded} (the path recorded in {ckpt_path}; "
                            f"looked from here and beside the checkpoint); pass --data PATH")


def evaluate_checkpoints(paths: list, data_path=None, split: str = "test", weights=None,
                         device: str = "cpu", out_dir=None, test_overrides: dict | None = None) -> dict:
    """Metrics of one checkpoint, or of the softmax-weighted ensemble of several."""
    cache: dict = {}
    scores, labels, ckpts, data = [], None, [], None
    members = []
    for p in paths:
        s, y, ck, data = checkpoint_scores(p, data_path, split, device, cache, test_overrides)
        if labels is not None and not np.array_equal(labels, y):
            raise ValueError(f"{p}: evaluated on different samples than {paths[0]}")
        labels = y
        scores.append(s)
        ckpts.append(ck)
        m = metrics_from_scores(s, y, data.classes, data.hand_intensive)
        members.append({"checkpoint": str(p), "stream": ck["spec"]["stream"],
                        "variant": ck["config"]["model"]["variant"], "top1": m["top1"],
                        **({"hand_intensive_top1": m["hand_intensive_top1"]}
                           if "hand_intensive_top1" in m else {})})
    fused = scores[0] if len(scores) == 1 else fuse_scores(scores, weights)
    metrics = metrics_from_scores(fused, labels, data.classes, data.hand_intensive)
    metrics["split"] = split
    metrics["data"] = data.source
    if len(paths) > 1:
        metrics["ensemble"] = {"members": members, "weights": list(weights or [1.0] * len(paths))}
    if out_dir is not None:
        out = pathlib.Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_metrics(out / "metrics.json", metrics)
        if have_matplotlib():
            plot_confusion(metrics["confusion"], data.classes, out / "confusion.png")
        else:
            print("note: matplotlib is not installed: no confusion.png (pip install matplotlib)")
    return metrics
