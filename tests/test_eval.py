import json

import numpy as np
import pytest
import torch

from bharnet.cli import main
from bharnet.training.evaluate import evaluate_checkpoints, fuse_scores, metrics_from_scores, softmax
from bharnet.training.train import train

from train_helpers import tiny_config, tiny_synth


def test_metrics_by_hand():
    scores = np.array([[3, 1, 0], [0, 2, 1], [0, 3, 1], [1, 0, 2]], float)
    labels = np.array([0, 1, 2, 2])
    m = metrics_from_scores(scores, labels, ["a", "b", "c"], hand_intensive=[2])
    assert m["top1"] == 0.75
    assert m["per_class"] == {"a": 1.0, "b": 1.0, "c": 0.5}
    assert m["mean_class_acc"] == pytest.approx(2.5 / 3)
    assert m["hand_intensive_top1"] == 0.5 and m["non_hand_intensive_top1"] == 1.0
    assert m["top5"] == 1.0
    assert m["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_fusion_is_weighted_softmax_sum():
    a, b = np.array([[2.0, 0.0]]), np.array([[0.0, 5.0]])
    np.testing.assert_allclose(fuse_scores([a, b], [1.0, 0.5]), softmax(a) + 0.5 * softmax(b))
    with pytest.raises(ValueError, match="weights"):
        fuse_scores([a, b], [1.0])


@pytest.fixture(scope="module")
def two_streams(tmp_path_factory):
    root = tmp_path_factory.mktemp("ens")
    data = tiny_synth(root / "tiny.pkl")
    torch.set_num_threads(1)
    for stream in ("j", "b"):
        train(tiny_config("vanilla", data={"stream": stream}, train={"epochs": 1}), root / stream,
              data=data, quiet=True)
    return root, data


def test_eval_reproduces_training_metrics(two_streams, capsys):
    root, data = two_streams
    assert main(["eval", str(root / "j/final.pt"), "--data", str(data), "--out", str(root / "ej")]) == 0
    got = json.loads((root / "ej/metrics.json").read_text())
    want = json.loads((root / "j/metrics.json").read_text())
    for k in ("top1", "top5", "mean_class_acc", "hand_intensive_top1"):
        assert got[k] == pytest.approx(want[k]), k
    assert (root / "ej/confusion.png").is_file()
    assert "top1" in capsys.readouterr().out


def test_ensemble_of_streams(two_streams, capsys):
    root, data = two_streams
    m = evaluate_checkpoints([root / "j/final.pt", root / "b/final.pt"], data, weights=[1.0, 2.0])
    assert [x["stream"] for x in m["ensemble"]["members"]] == ["j", "b"]
    assert m["ensemble"]["weights"] == [1.0, 2.0]
    assert 0.0 <= m["top1"] <= 1.0
    assert main(["eval", "--ensemble", str(root / "j/final.pt"), str(root / "b/last.pt"),
                 "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "(vanilla, j)" in out and "(vanilla, b)" in out
    # a weight count that does not match is a user error, not a traceback
    assert main(["eval", str(root / "j/final.pt"), str(root / "b/final.pt"), "--weights", "1",
                 "--data", str(data)]) == 2


def test_eval_refuses_a_dataset_the_model_cannot_read(two_streams, shared_dir, capsys):
    root, _ = two_streams
    jh = shared_dir / "data/jhmdb14/jhmdb14_split1.pkl"
    assert main(["eval", str(root / "j/final.pt"), "--data", str(jh)]) == 2
    assert "no hands" in capsys.readouterr().err


def test_flip_test_views_double_the_views_and_mirror_them(two_streams):
    from bharnet.data.pipeline import InputSpec
    from bharnet.training.loader import prepare_test, read_dataset

    _, data = two_streams
    ds = read_dataset(data)
    spec = InputSpec(body_layout="coco17", window=8)
    plain, y = prepare_test(ds.split("test"), ds.layout, spec, num_clips=2)
    both, y2 = prepare_test(ds.split("test"), ds.layout, spec, num_clips=2, flip=True)
    assert (y == y2).all()
    for k in plain:
        assert both[k].shape[1] == 2 * plain[k].shape[1]
        np.testing.assert_array_equal(both[k][:, :2], plain[k])
    assert not np.allclose(both["body"][:, 2:], plain["body"])
