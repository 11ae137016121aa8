"""The training loop: the method's recipe, exact resume, AMP on CUDA, DistributedDataParallel.

Recipe (bharnet-method.md): SGD momentum 0.9 Nesterov, lr 0.1 x batch/64 (global batch), weight
decay 5e-4, linear warm-up for `warmup_epochs` then cosine to zero, stepped per iteration; the
ensemble loss with weights 1:1:1.

Distributed: launch with `torchrun --nproc_per_node=N -m bharnet.cli train ...` (multi-node:
add --nnodes/--node-rank/--master-addr as usual). Each rank gets
batch_size/world samples per step from a DistributedSampler, so the global batch (and the recipe)
does not depend on the number of processes. Only rank 0 prints, evaluates and writes files.
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import random
import time

import numpy as np
import torch
import torch.distributed as dist

from bharnet.progress import progress

from . import distill, warm_start
from .checkpoint import load_checkpoint, save_checkpoint
from .config import apply_overrides, build_model, input_spec, load_config
from .evaluate import (have_matplotlib, loss_of_scores, metrics_from_scores, plot_confusion,
                       plot_curves, predict, summary_line, write_metrics)
from .loader import AugmentOptions, TrainSet, check_compatible, prepare_test, read_dataset, torch_collate
from .models import ensemble_loss

LAST = "last.pt"


# ---- distributed helpers ------------------------------------------------------------------

def dist_setup(device: str):
    """(rank, world, local_rank) and init the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    return rank, world, local


def _barrier(world: int):
    if world > 1:
        dist.barrier()


# ---- schedule and AMP ----------------------------------------------------------------------

def lr_lambda(total_steps: int, warmup_steps: int):
    """Linear warm-up then cosine to zero, as a multiplier of the base lr."""
    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        prog = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, prog)))
    return f


def amp_dtype(mode: str, device: str):
    """None (full precision) on CPU or when off; bf16 where the GPU supports it, else fp16."""
    if device != "cuda" or mode in ("off", False, None):
        return None
    if mode == "fp16":
        return torch.float16
    if mode == "bf16" or (mode == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


# ---- RNG state (exact resume) ------------------------------------------------------------------

def rng_state() -> dict:
    st = {"torch": torch.get_rng_state(),
          "numpy": json.dumps(_np_state_to_json(np.random.get_state())),
          "python": json.dumps(random.getstate())}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _np_state_to_json(s):
    return [s[0], s[1].tolist(), *s[2:]]


def set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["torch"])
    n = json.loads(st["numpy"])
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), *n[2:]))
    p = json.loads(st["python"])
    random.setstate((p[0], tuple(p[1]), p[2]))
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---- the run ----------------------------------------------------------------------------------

def train(config, work_dir, data=None, epochs=None, seed=None, device: str = "cpu",
          resume: bool = False, stop_after: int | None = None, variant: str | None = None,
          threads: int | None = None, quiet: bool = False, on_end=None) -> dict:
    """Train a config; returns the final metrics (rank 0) or {} (other ranks).

    stop_after: leave after this many epochs *of this run's schedule* (the cosine still spans
    train.epochs), which is how a run is split into pieces that resume into the same result.
    on_end(model, rank): called on every rank with the trained (unwrapped) model.
    """
    cfg = apply_overrides(load_config(config), data, epochs, seed, variant)
    if cfg["model"]["variant"] == "rgb":
        raise ValueError("model.variant 'rgb' (BHaRNet-M) trains in two stages: use "
                         "`bharnet train` (which hands it over) or bharnet.training.rgb_train.train_rgb")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda but no CUDA device is available")
    own_group = not dist.is_initialized()
    rank, world, local = dist_setup(device)
    try:
        return _run(cfg, work_dir, device, rank, world, local, resume, stop_after, threads, quiet, on_end)
    finally:
        if world > 1 and own_group and dist.is_initialized():
            dist.destroy_process_group()


def _run(cfg, work_dir, device, rank, world, local, resume, stop_after, threads, quiet, on_end):
    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(f"cuda:{local}" if device == "cuda" else "cpu")
    if device == "cuda":
        torch.cuda.set_device(dev)
    main = rank == 0
    say = (lambda *a: print(*a, flush=True)) if main and not quiet else (lambda *a: None)
    # what would surprise a user is said even with quiet, one line each, after the run's header
    notes = []
    work = pathlib.Path(work_dir)

    tc, dc = cfg["train"], cfg["data"]
    if not dc["path"]:
        raise ValueError("no dataset: give --data PATH or data.path in the config")
    t_read = time.perf_counter()
    ds = read_dataset(dc["path"], dc.get("layout"))
    spec = input_spec(cfg)
    check_compatible(ds, spec, cfg["model"]["variant"])
    num_classes = cfg["model"]["num_classes"] or len(ds.classes)
    cfg["model"]["num_classes"] = num_classes

    seed_everything(tc["seed"])
    model = build_model(cfg, num_classes=num_classes, device=dev.type).to(dev)
    if tc.get("init") and not resume:  # a resumed run's weights come from its own last.pt
        started = warm_start.warm_start(model, warm_start.load_init(tc["init"], cfg["model"], spec.to_dict()),
                                        list(ds.classes))
        notes.append(f"weights start from {tc['init']}: {started['copied']} tensors copied"
                     + (f", classifier rows by class name (new: {', '.join(started['new_classes'])})"
                        if started["class_rows"] else "")
                     + (f"; fresh: {', '.join(started['fresh'])}" if started["fresh"] else ""))
    batch = int(tc["batch_size"])
    if batch % world:
        raise ValueError(f"train.batch_size {batch} is not divisible by the {world} processes")
    base_lr = tc["lr"] * batch / 64
    opt = torch.optim.SGD(model.parameters(), lr=base_lr, momentum=tc["momentum"],
                          nesterov=tc["nesterov"], weight_decay=tc["weight_decay"])

    train_set = TrainSet(ds.split(tc.get("train_split", "train")), ds.layout, spec,
                         AugmentOptions.from_config(dc["augment"]), dc.get("sample", "uniform"), tc["seed"])
    kd = distill.Distill.from_config(tc.get("distill"))
    if kd is not None:  # each training clip also carries its teacher's logits (computed once)
        train_set = distill.WithTeacher(train_set, kd.teacher_logits(ds, tc.get("train_split", "train"),
                                                                     str(dev), quiet or not main))
    sampler = torch.utils.data.DistributedSampler(train_set, num_replicas=world, rank=rank,
                                                  shuffle=True, seed=tc["seed"], drop_last=True)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch // world, sampler=sampler,
                                         num_workers=int(tc.get("num_workers", 0)),
                                         collate_fn=distill.collate if kd else torch_collate,
                                         drop_last=True)
    steps_per_epoch = len(loader)
    if steps_per_epoch == 0:
        raise ValueError(f"{len(train_set)} training clips are fewer than one batch ({batch})")
    total_epochs = int(tc["epochs"])
    dropped = len(train_set) - steps_per_epoch * batch
    if dropped:
        notes.append(f"{dropped} of {len(train_set)} training clips do not fill a batch of {batch} and "
                     f"are left out of each epoch (drop_last; a different random {dropped} each epoch)")
    warmup = int(tc["warmup_epochs"])
    if warmup >= total_epochs:
        reached = f"only {base_lr * total_epochs / warmup:.3g} of " if warmup > total_epochs else ""
        notes.append(f"the run ({total_epochs} epoch{'s' * (total_epochs != 1)}) is no longer than its "
                     f"warm-up (train.warmup_epochs {warmup}): the learning rate rises linearly to "
                     f"{reached}{base_lr:.3g} and never decays")
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lr_lambda(total_epochs * steps_per_epoch, warmup * steps_per_epoch))
    dtype = amp_dtype(tc.get("amp", "auto"), device)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)

    start, history = 0, []
    last = work / LAST
    if resume:
        ck = load_checkpoint(last)
        if ck["config"]["model"] != cfg["model"] or ck["config"]["train"]["epochs"] != total_epochs:
            raise ValueError(f"{last} was written by a different model config or epoch count; "
                             f"resume with the same config and --epochs")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        if "scaler" in ck:
            scaler.load_state_dict(ck["scaler"])
        start, history = int(ck["epoch"]), json.loads(ck.get("history", "[]"))
        set_rng_state(ck["rng"])
        say(f"resumed from {last} at epoch {start}")

    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[local] if device == "cuda" else None)

    test_inputs = test_labels = None
    timing = {"read_s": time.perf_counter() - t_read, "prepare_test_s": 0.0, "data_s": 0.0,
              "step_s": 0.0, "eval_s": 0.0}
    if main:
        t0 = time.perf_counter()
        test_split = tc.get("test_split", "test")
        test_inputs, test_labels = prepare_test(ds.split(test_split), ds.layout, spec,
                                                int(tc.get("test_clips", 1)), dc.get("sample", "uniform"),
                                                bool(tc.get("test_flip", False)))
        timing["prepare_test_s"] = time.perf_counter() - t0
        # the folder is made only now: a start that fails (data, layout, config) leaves none behind
        work.mkdir(parents=True, exist_ok=True)
    can_plot = main and have_matplotlib()
    if main and not can_plot:
        notes.append("matplotlib is not installed: no curves.png or confusion.png (pip install matplotlib)")
    say(f"{cfg['model']['variant']} on {ds.source}: {len(train_set)} train clips, "
        f"{steps_per_epoch} steps/epoch x {total_epochs} epochs, batch {batch} over {world} "
        f"process(es), lr {base_lr:g}, device {dev}{', amp ' + str(dtype) if dtype else ''}")
    for text in notes if main else ():
        print("note:", text, flush=True)

    eval_every = int(tc.get("eval_every", 1))
    end = total_epochs if stop_after is None else min(total_epochs, start + int(stop_after))
    t_train = time.perf_counter()
    final_scores = None
    for epoch in range(start, end):
        model.train()
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        tot_loss, correct, seen = 0.0, 0, 0
        t_data = time.perf_counter()
        for x, y in progress(loader, desc=f"epoch {epoch + 1}/{total_epochs}", unit="step",
                             quiet=quiet or not main):
            x = {k: v.to(dev, non_blocking=True) for k, v in x.items()}
            if kd is not None:
                y, soft = y
                soft = soft.to(dev, non_blocking=True)
            y = y.to(dev, non_blocking=True)
            t_step = time.perf_counter()
            timing["data_s"] += t_step - t_data
            with torch.autocast(device_type=dev.type, dtype=dtype, enabled=dtype is not None):
                out = net(**x)
                loss, _ = ensemble_loss(out, y, cfg["model"]["variant"], tc["loss_weights"],
                                        x.get("hand_mask"), tc.get("label_smoothing", 0.0))
                if kd is not None:
                    loss = kd.loss(loss, out["logits"], soft)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            tot_loss += float(loss.detach()) * len(y)
            correct += int((out["logits"].detach().argmax(1) == y).sum())
            seen += len(y)
            t_data = time.perf_counter()
            timing["step_s"] += t_data - t_step
        if world > 1:  # the epoch's training statistics over all ranks' shards
            agg = torch.tensor([tot_loss, correct, seen], dtype=torch.float64, device=dev)
            dist.all_reduce(agg)
            tot_loss, correct, seen = agg[0].item(), agg[1].item(), agg[2].item()
        rec = {"epoch": epoch + 1, "train_loss": tot_loss / seen, "train_top1": correct / seen,
               "lr": sched.get_last_lr()[0]}
        if main and ((epoch + 1) % eval_every == 0 or epoch + 1 == total_epochs):
            t0 = time.perf_counter()
            scores = predict(model, test_inputs, device=dev, amp_dtype=dtype,
                             desc=f"test after epoch {epoch + 1}", quiet=quiet)
            if epoch + 1 == total_epochs:
                final_scores = scores  # the final model's: _finish needs not run it again
            rec["test_loss"] = loss_of_scores(scores, test_labels)
            rec["test_top1"] = float((scores.argmax(1) == test_labels).mean())
            timing["eval_s"] += time.perf_counter() - t0
        history.append(rec)
        say(f"epoch {epoch + 1}/{total_epochs}  loss {rec['train_loss']:.4f}  train {rec['train_top1']:.3f}"
            + (f"  test {rec['test_top1']:.3f}" if "test_top1" in rec else "")
            + f"  lr {rec['lr']:.4g}  [{time.perf_counter() - t_train:.0f}s]")
        if world > 1:
            # DDP keeps parameters in sync but each rank's BatchNorm running statistics drift on
            # its own shard after the last forward; take rank 0's so every rank holds one model
            for b in model.buffers():
                dist.broadcast(b, 0)
        if main:
            _save(last, model, opt, sched, scaler, cfg, ds, spec, epoch + 1, history)
            if can_plot:  # cheap (~0.2 s): a long run can be watched
                plot_curves(history, work / "curves.png", total_epochs)
        _barrier(world)
    train_s = time.perf_counter() - t_train

    result = {}
    if main and end == total_epochs:
        result = _finish(model, cfg, ds, spec, test_inputs, test_labels, history, work, dev, dtype,
                         {**timing, "train_s": train_s}, say, final_scores, can_plot, quiet)
    _barrier(world)
    if on_end is not None:
        on_end(model, rank)
    return result


def _save(path, model, opt, sched, scaler, cfg, ds, spec, epoch, history, metrics=None):
    content = dict(config=cfg, num_classes=cfg["model"]["num_classes"], classes=list(ds.classes),
                   hand_intensive=list(ds.hand_intensive), source_layout=ds.layout,
                   spec=spec.to_dict(), model=model.state_dict(), epoch=epoch,
                   history=json.dumps(history))
    if opt is not None:
        content.update(optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                       scaler=scaler.state_dict(), rng=rng_state())
    if metrics is not None:
        content["metrics"] = json.dumps(metrics)
    save_checkpoint(path, **content)


def _finish(model, cfg, ds, spec, test_inputs, test_labels, history, work, dev, dtype, timing, say,
            scores=None, can_plot=True, quiet=False):
    t_end = time.perf_counter()
    if scores is None:  # a resumed run that had nothing left to train
        scores = predict(model, test_inputs, device=dev, amp_dtype=dtype, desc="final evaluation",
                         quiet=quiet)
    metrics = metrics_from_scores(scores, test_labels, ds.classes, ds.hand_intensive)
    tc = cfg["train"]
    if tc.get("mlp_floor"):
        from .floor import mlp_floor_top1

        t0 = time.perf_counter()
        metrics["mlp_floor_top1"] = mlp_floor_top1(ds.split(tc.get("train_split", "train")),
                                                   ds.split(tc.get("test_split", "test")),
                                                   ds.layout, cfg["model"]["num_classes"], tc["seed"],
                                                   quiet=quiet)
        timing["mlp_floor_s"] = time.perf_counter() - t0
    metrics.update(variant=cfg["model"]["variant"], stream=spec.stream, data=ds.source,
                   test={"test_clips": int(tc.get("test_clips", 1)), "test_flip": bool(tc.get("test_flip", False))},
                   epochs=cfg["train"]["epochs"], seed=tc["seed"],
                   timing={k: round(v, 2) for k, v in timing.items()}, history=history)
    write_metrics(work / "metrics.json", metrics)
    if can_plot:
        plot_confusion(metrics["confusion"], ds.classes, work / "confusion.png",
                       f"{cfg['model']['variant']} ({spec.stream}) top-1 {metrics['top1']:.3f}")
        plot_curves(history, work / "curves.png", cfg["train"]["epochs"])
    # an inference-only checkpoint next to the resumable one: what eval/export consume
    _save(work / "final.pt", model, None, None, None, cfg, ds, spec, cfg["train"]["epochs"], history, metrics)
    say(summary_line(metrics))
    floor = f" (MLP floor {timing['mlp_floor_s']:.0f}s)" if "mlp_floor_s" in timing else ""
    say(f"time: train {timing['train_s']:.0f}s (data {timing['data_s']:.0f}s, steps {timing['step_s']:.0f}s,"
        f" eval {timing['eval_s']:.0f}s), after training {time.perf_counter() - t_end:.0f}s{floor}  -> {work}")
    return metrics
