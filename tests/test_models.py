import pytest
import torch

from bharnet.training.config import build_model, example_inputs, load_config
from bharnet.training.models import VARIANTS, BHaRNet, ensemble_loss, hand_presence
from bharnet.training.models.heads import masked_gap

SMALL = {"base_channels": 8, "num_stages": 4, "inflate_stages": [3], "down_stages": [3]}


def small_cfg(variant, **data):
    return load_config({"model": {"variant": variant, "backbone": SMALL, "pam": {"dim": 8, "heads": 2},
                                  "branch_stages": 2, "use_kernels": False},
                        "data": {"window": 16, **data}})


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_runs_forward_and_backward(variant):
    cfg = small_cfg(variant)
    model = build_model(cfg, num_classes=7)
    inp = example_inputs(cfg, batch=3)
    assert tuple(inp) == model.input_names
    out = model(**inp)
    assert out["logits"].shape == (3, 7)
    assert (out["body"] is not None) == ("body_logits" in model.output_names)
    assert (out["hand"] is not None) == ("hand_logits" in model.output_names)
    loss, terms = ensemble_loss(out, torch.tensor([0, 1, 2]), variant,
                                hand_present=inp.get("hand_mask"))
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    if variant in ("vanilla", "pam", "expertized", "noisy_or"):
        assert set(terms) == {"body", "hand", "cpl"}
    if variant == "late_fusion":
        assert set(terms) == {"body", "hand"}


def test_absent_hands_do_not_reach_the_hand_expert():
    torch.manual_seed(0)
    model = build_model(small_cfg("vanilla"), num_classes=5).eval()
    inp = example_inputs(small_cfg("vanilla"), batch=2)
    inp["hand_mask"][:, :, 1] = 0  # right hand never seen
    base = model(**inp)["hand"]
    inp["hand"][..., 1] += 100.0
    torch.testing.assert_close(model(**inp)["hand"], base)


def test_pam_starts_as_average_pooling():
    model = BHaRNet(4, "pam", backbone=SMALL, pam={"dim": 8, "heads": 2}, use_kernels=False).eval()
    f = torch.randn(2, model.body.out_channels, 4, 17, 1)
    ctx = torch.randn(2, model.hand.out_channels, 4, 21, 2)
    present = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(model.body_pam(f, ctx, None, present), masked_gap(f))


def test_noisy_or_is_a_distribution_and_not_vetoed():
    model = BHaRNet(3, "noisy_or", backbone=SMALL, use_kernels=False)
    from bharnet.training.models.bharnet import probability_fusion

    zb = torch.tensor([[8.0, 0.0, 0.0]])      # confident body
    zh = torch.tensor([[0.0, 0.5, 0.4]])      # unsure hand
    p = probability_fusion([zb, zh], "noisy_or").exp()
    torch.testing.assert_close(p.sum(-1), torch.ones(1))
    assert p.argmax() == 0
    assert model.output_names == ("logits", "body_logits", "hand_logits")


def test_hand_presence_and_loss_masking():
    mask = torch.zeros(2, 5, 2)
    mask[0, 2, 1] = 1
    torch.testing.assert_close(hand_presence(mask), torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
    out = {"logits": torch.zeros(2, 3), "body": torch.zeros(2, 3),
           "hand": torch.tensor([[0.0, 0.0, 0.0], [-50.0, 50.0, 0.0]])}
    # the second sample never saw a hand: its terrible hand logits must not count
    _, terms = ensemble_loss(out, torch.tensor([0, 0]), "vanilla", hand_present=mask)
    assert terms["hand"] == pytest.approx(torch.log(torch.tensor(3.0)).item(), rel=1e-5)


def test_config_errors_are_named():
    with pytest.raises(ValueError, match="unknown variant"):
        build_model(load_config({"model": {"variant": "bogus"}}), num_classes=3)
    with pytest.raises(ValueError, match="unknown backbone option"):
        build_model(load_config({"model": {"backbone": {"widht": 3}}}), num_classes=3)
    with pytest.raises(ValueError, match="unknown config section"):
        load_config({"modle": {}})


def test_default_backbone_matches_stgcnpp_size():
    # ST-GCN++ on COCO-17 is 1.39M parameters with a 120-class head (PYSKL's published figure)
    from bharnet.training.cost import count_params

    m = build_model(load_config({"model": {"variant": "body_only"}}), num_classes=120, use_kernels=False)
    assert abs(count_params(m) / 1e6 - 1.39) < 0.03
