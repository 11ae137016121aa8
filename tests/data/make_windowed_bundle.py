"""Writes tests/data/windowed.bharnet: a small windowed (same-padded, window-normalised) vanilla
bundle with random weights, for the SDK tests of what only windowed bundles do (resampling to
another window, the window mode as the only mode). The embedded default model streams.

    python tests/data/make_windowed_bundle.py        (needs the [train] extra; rerun after a
                                                      bundle format change)
"""
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    from continual_helpers import random_model

    from bharnet.export.builder import export_checkpoint
    from bharnet.training.checkpoint import save_checkpoint
    from bharnet.training.config import input_spec, load_config

    cfg = load_config({"model": {"variant": "vanilla", "use_kernels": False,
                                 "backbone": {"base_channels": 8, "num_stages": 4, "inflate_stages": [3],
                                              "down_stages": [3], "tcn": "conv"}},
                       "data": {"layout": "coco_wholebody", "window": 32, "sample": "crop"}})
    classes = [f"action_{i}" for i in range(6)]
    ckpt = save_checkpoint(HERE / "windowed.pt", config=cfg, num_classes=len(classes), classes=classes,
                           hand_intensive=[1], source_layout="coco_wholebody",
                           spec=input_spec(cfg).to_dict(), model=random_model(cfg, seed=7, classes=6).state_dict())
    export_checkpoint(str(ckpt), HERE / "windowed.bharnet", fp16=False, quiet=True,
                      name="windowed-test-model", description="random weights; tests only")
    ckpt.unlink()


if __name__ == "__main__":
    main()
