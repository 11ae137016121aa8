"""Models: the BHaRNet family (vanilla, pam, expertized, noisy_or) and its baselines."""
from .backbone import BackboneConfig, GCNBackbone
from .bharnet import BASELINES, BHARNET_VARIANTS, VARIANTS, BHaRNet, experts_of, hand_presence
from .losses import ensemble_loss

__all__ = ["BHaRNet", "BackboneConfig", "GCNBackbone", "VARIANTS", "BHARNET_VARIANTS", "BASELINES",
           "experts_of", "hand_presence", "ensemble_loss"]
