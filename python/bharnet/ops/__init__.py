"""Torch operations for the models: native kernels where built, plain PyTorch otherwise."""
from .reference import graph_conv_ref, pool_attention_ref

graph_conv = graph_conv_ref
pool_attention = pool_attention_ref


def kernels_available() -> bool:
    return False


__all__ = ["graph_conv", "pool_attention", "graph_conv_ref", "pool_attention_ref", "kernels_available"]
