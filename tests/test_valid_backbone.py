"""The valid (unpadded) backbone: same weights, same values as the padded one on interior positions,
its output lengths, and its receptive field measured by an impulse-response probe."""
import numpy as np
import pytest
import torch

from bharnet.layouts import get_layout
from bharnet.training.models import BHaRNet
from bharnet.training.models.backbone import BackboneConfig, GCNBackbone

# (backbone dict, receptive field the formula must give)
STRUCTURES = [
    ({}, 153),                                                                 # default
    ({"base_channels": 16, "num_stages": 6, "inflate_stages": [4], "down_stages": [3, 5],
      "tcn": "conv"}, 89),                                                     # the demo model
    ({"base_channels": 16, "num_stages": 6, "inflate_stages": [4], "down_stages": [3, 5],
      "tcn": "conv", "tcn_kernel": 3}, 23),
    ({"dilations": [1, 2]}, 77),
    ({"tcn": "conv", "tcn_kernel": 3}, 39),
    ({"base_channels": 8, "num_stages": 6, "inflate_stages": [4, 6], "down_stages": [4, 6],
      "dilations": [1]}, 17),
]


def _narrow(d: dict) -> dict:
    """The structure at a small width: the temporal layout (and RF) does not depend on it. (Not
    narrower: torch 2.13's oneDNN 1x1-conv weight gradient crashes for some channel counts that are
    not multiples of 16 at T around 100.)"""
    return {**d, "base_channels": 16, "use_kernels": False}


def _randomise_bn(model: torch.nn.Module, seed: int = 0) -> None:
    """Random BN statistics and affines, so that a wrong crop cannot hide behind identity BNs."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)


def _pair(d: dict, seed: int = 0):
    """(same-padded backbone, valid backbone with the same weights), both in eval mode."""
    torch.manual_seed(seed)
    A = get_layout("coco17").adjacency()
    same = GCNBackbone(3, A, BackboneConfig.from_dict(_narrow(d)))
    _randomise_bn(same, seed)
    valid = GCNBackbone(3, A, BackboneConfig.from_dict({**_narrow(d), "temporal_padding": "valid"}))
    valid.load_state_dict(same.state_dict())  # no conversion: identical parameter shapes
    return same.eval(), valid.eval()


def _phase(cfg: BackboneConfig) -> int:
    """Window start (mod total_stride) at which the valid network samples the same grid as the
    padded one: block i's output j is centred on input a + c_i + j*S_(i+1), c_i = sum_(k<=i) D*S_k,
    and the padded network's on multiples of S_(i+1)."""
    for a in range(cfg.total_stride):
        spacing, centre, ok = 1, 0, True
        for s in cfg.strides():
            centre += cfg.half_span * spacing
            spacing *= s
            ok &= (a + centre) % spacing == 0
        if ok:
            return a
    raise AssertionError("no phase aligns the two grids")


@pytest.mark.parametrize("d,rf", STRUCTURES)
def test_receptive_field_formula(d, rf):
    cfg = BackboneConfig.from_dict(d)
    assert cfg.receptive_field == rf
    assert cfg.receptive_field == 1 + 2 * sum(
        cfg.half_span * int(np.prod(cfg.strides()[:i])) for i in range(cfg.num_stages))


@pytest.mark.parametrize("d,rf", [STRUCTURES[i] for i in (1, 2, 4, 5)])
def test_receptive_field_matches_an_impulse_probe(d, rf):
    """The input frames whose gradient reaches one output step of the padded network, far from the
    edges, span exactly receptive_field frames centred on the step; the valid network's first
    output step depends on exactly frames [0, RF)."""
    same, valid = _pair(d)
    cfg = same.cfg
    s = cfg.total_stride
    length = 2 * rf + 2 * s
    p = (length // 2) // s                          # an output step in the middle

    def support(model, step):
        # a batch of random inputs: a tap whose ReLUs happen to be dead for one input is not
        x = torch.randn(16, 3, length, 17, 1, requires_grad=True)
        model(x)[:, :, step].sum().backward()
        return np.flatnonzero(x.grad.abs().sum((0, 1, 3, 4)).numpy() > 0)

    hit = support(same, p)
    assert hit.size == rf and hit[0] == p * s - (rf - 1) // 2 and hit[-1] == p * s + (rf - 1) // 2
    hit = support(valid, 0)
    assert hit[0] == 0 and hit[-1] == rf - 1 and hit.size == rf


@pytest.mark.parametrize("d,rf", STRUCTURES)
def test_valid_output_lengths(d, rf):
    _, valid = _pair(d)
    cfg = valid.cfg
    lengths = []
    hooks = [b.register_forward_hook(lambda m, i, o: lengths.append((i[0].shape[2], o.shape[2])))
             for b in valid.blocks]
    for t in (rf, rf + 1, rf + cfg.total_stride - 1, rf + 3 * cfg.total_stride + 1):
        lengths.clear()
        out = valid(torch.randn(1, 3, t, 17, 1))
        assert out.shape[2] == (t - rf) // cfg.total_stride + 1
        for (t_in, t_out), stride in zip(lengths, cfg.strides()):
            assert t_out == (t_in - 2 * cfg.half_span - 1) // stride + 1
    for h in hooks:
        h.remove()
    with pytest.raises(ValueError, match="receptive field"):
        valid(torch.randn(1, 3, rf - 1, 17, 1))


@pytest.mark.parametrize("d,rf", STRUCTURES)
def test_valid_equals_same_on_interior_positions(d, rf):
    same, valid = _pair(d, seed=1)
    cfg = same.cfg
    s, n = cfg.total_stride, 3
    t_v = rf + s * (n - 1)
    length = t_v + 2 * rf + 4 * s
    x = torch.randn(2, 3, length, 17, 2)
    with torch.no_grad():
        ref = same(x)
        a = _phase(cfg) + s * ((rf // s) + 1)          # a window well inside the clip
        out = valid(x[:, :, a:a + t_v])
    assert out.shape[2] == n
    first = (a + (rf - 1) // 2) // s                   # the padded step centred where valid's 0 is
    assert (a + (rf - 1) // 2) % s == 0
    err = (out - ref[:, :, first:first + n]).abs().max().item()
    assert err < 1e-5, err
    assert ref.abs().max().item() > 0.1                # not a vacuous comparison


def test_default_padding_keeps_todays_model():
    """Same parameters for both paddings (a same-padded checkpoint loads into a valid model)."""
    a = BHaRNet(5, "expertized", backbone={"base_channels": 8, "num_stages": 4}, use_kernels=False)
    b = BHaRNet(5, "expertized", backbone={"base_channels": 8, "num_stages": 4,
                                           "temporal_padding": "valid"}, use_kernels=False)
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}
    assert BackboneConfig().temporal_padding == "same"


@pytest.mark.parametrize("bad,match", [
    ({"gcn": "ctrgcn", "temporal_padding": "valid"}, "averages over the whole window"),
    ({"temporal_padding": "causal"}, "temporal_padding"),
    ({"tcn": "conv", "tcn_kernel": 4}, "odd"),
    ({"tcn_kernel": 3}, "tcn 'conv' only"),
    ({"tcn": "conv", "dilations": [1, 2]}, "tcn 'mstcn' only"),
    ({"dilations": []}, "dilations"),
    ({"dilations": [0, 1]}, "dilations"),
])
def test_bad_temporal_options_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        BackboneConfig.from_dict(bad)


def test_multiscale_branches_follow_the_dilations():
    cfg = BackboneConfig.from_dict({"base_channels": 12, "dilations": [1, 2], "use_kernels": False})
    bb = GCNBackbone(3, get_layout("coco17").adjacency(), cfg)
    assert len(bb.blocks[1].tcn.branches) == 4 and cfg.half_span == 2
    assert BackboneConfig.from_dict({"dilations": [1]}).half_span == 1
