"""bharnet.training: the PyTorch side (models, losses, data loading, train/eval loops). Needs torch."""
