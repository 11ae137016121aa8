"""bharnet.export: torch -> ONNX (portable, FP16, plugin-mode), TensorRT lint and engines, bundles.

Modules (each imports torch/onnx lazily or only where it must):
  onnx_export  dynamo export of the portable graph (standard ops, fixed T, dynamic batch)
  fp16         FP16 cast pass (FP32 I/O)
  plugin       plugin-mode graph with bharnet::GraphConv / PoolAttention nodes for TensorRT
  ort_plugins  runs a plugin-mode graph on ONNX Runtime with bharnet._C kernels
  trt_lint     TensorRT 10.3 readiness lint (data/trt10_3_onnx_ops.json)
  trt          TensorRT engine builder and cache (unverified: no TensorRT in the dev workplace)
  builder      checkpoint -> bundle;  cli: `bharnet export`
"""
