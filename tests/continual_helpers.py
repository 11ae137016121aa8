"""Streaming programs for tests, without training: a small model's layer program with every
temporal op made valid (no padding) at the window that ends on `steps` final elements. By the
program's contract (taps centred on each block's half-span) that is exactly the network a
`temporal_padding: valid` backbone computes with the same weights."""
import numpy as np


def small_config(variant: str, tcn: str = "conv", window: int = 16, persons: int = 1) -> dict:
    from bharnet.training.config import load_config

    return load_config({"model": {"variant": variant, "use_kernels": False, "branch_stages": 1,
                                  "backbone": {"base_channels": 8, "num_stages": 4, "inflate_stages": [3],
                                               "down_stages": [2, 3], "tcn": tcn},
                                  "pam": {"dim": 16, "heads": 2}},
                        "data": {"body_layout": "coco17", "window": window, "num_person": persons}})


def random_model(cfg: dict, seed: int = 0, classes: int = 5):
    """Eval model with non-trivial BatchNorm statistics and attention (so the checks mean something)."""
    import torch

    from bharnet.training.config import build_model

    torch.manual_seed(seed)
    m = build_model(cfg, num_classes=classes, use_kernels=False).eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)
        for name, p in m.named_parameters():
            if name.endswith("pam.wo"):    # PAM starts as plain GAP (wo = 0): make it attend
                p.normal_(0, 0.5)
    return m


def valid_program(model, cfg, steps: int = 3):
    """(program, weights) of `model` with valid temporal ops, at the window of `steps` final steps."""
    from bharnet.export.program_export import _set_collect_steps, program_of
    from bharnet.training.config import input_spec

    prog, w = program_of(model, input_spec(cfg))
    for o in prog.ops:
        if o.op == "temporal":
            o.attrs["pad"] = 0
    prog.padding = "valid"
    prog.window = window = prog.window_for(steps)
    for name, s in prog.inputs.items():
        s[0 if name == "hand_mask" else 1] = window
    _set_collect_steps(prog)
    prog.validate()
    return prog, w


def window_runner(program, weights):
    """window inputs (numpy) -> outputs, through the program's torch window forward."""
    import torch

    from bharnet.export.program_torch import ProgramModule

    mod = ProgramModule(program, weights)

    def run(x):
        with torch.no_grad():
            out = mod(*(torch.as_tensor(np.asarray(x[k], np.float32)) for k in program.inputs))
        return dict(zip(program.outputs, (o.numpy() for o in out)))
    return run


def streaming_checkpoint(path, variant: str = "vanilla", seed: int = 0, classes: int = 5,
                         persons: int = 1):
    """A training checkpoint of a small streaming model (valid 3x1 convs, causal-v1, stream
    sampling) with random weights and non-trivial BatchNorm statistics: what `bharnet train`
    writes for a streaming recipe, without the training."""
    from bharnet.training.checkpoint import save_checkpoint
    from bharnet.training.config import input_spec, load_config

    cfg = load_config({"model": {"variant": variant, "use_kernels": False, "branch_stages": 1,
                                 "backbone": {"base_channels": 8, "num_stages": 4, "inflate_stages": [3],
                                              "down_stages": [2, 3], "tcn": "conv", "tcn_kernel": 3,
                                              "temporal_padding": "valid"},
                                 "pam": {"dim": 16, "heads": 2}},
                       "data": {"layout": "coco_wholebody", "body_layout": "coco17", "num_person": persons,
                                "sample": "stream", "normalisation": "causal-v1", "norm_horizon": 16,
                                "pool_steps": 3}})
    model = random_model(cfg, seed=seed, classes=classes)
    return save_checkpoint(path, config=cfg, num_classes=classes,
                           classes=[f"action_{i}" for i in range(classes)], hand_intensive=[1],
                           source_layout="coco_wholebody", spec=input_spec(cfg).to_dict(),
                           model=model.state_dict())
