"""TensorRT-readiness lint of an ONNX graph, runnable where TensorRT is not installed.

Fails on: control flow (If/Loop/Scan), any dynamic dimension other than the batch, any op outside
the ONNX-TensorRT 10.3 support list (data/trt10_3_onnx_ops.json, source named there), an opset
outside the parser's range, Einsum forms the parser refuses, conv weights that are not constant,
and custom-domain nodes that are not declared TensorRT plugins.

    python -m bharnet.export.trt_lint model.onnx|model.bharnet [--member NAME]
"""
from __future__ import annotations

import functools
import json
import pathlib
import re
import sys

OPS_FILE = pathlib.Path(__file__).with_name("data") / "trt10_3_onnx_ops.json"
STANDARD_DOMAINS = ("", "ai.onnx")
PLUGIN_DOMAINS = ("bharnet",)


class TrtLintError(ValueError):
    pass


@functools.lru_cache(maxsize=1)
def support_table() -> dict:
    return json.loads(OPS_FILE.read_text())


def _batch_only(dim_param: str, batch: str) -> bool:
    """True for 'batch' or an expression over it alone ('2*batch')."""
    names = set(re.findall(r"[A-Za-z_]\w*", dim_param))
    return names == {batch}


def _check_dims(vi, where: str, batch: str, io: bool, issues: list) -> None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        if io:
            issues.append(f"{where} {vi.name!r} has no static shape")
        return
    for axis, d in enumerate(t.shape.dim):
        if d.HasField("dim_value"):
            continue
        p = d.dim_param if d.HasField("dim_param") else "?"
        if io and axis == 0 and p == batch:
            continue
        if not io and d.HasField("dim_param") and _batch_only(p, batch):
            continue  # an intermediate whose leading size is derived from the batch (N*M)
        if not io and (not d.HasField("dim_param") or p.startswith("unk__")):
            continue  # unannotated intermediate: shape inference left it open, not a dynamic input
        issues.append(f"{where} {vi.name!r} axis {axis} is dynamic ({p}); only axis 0 ({batch}) may be")


def _check_einsum(node, issues: list) -> None:
    eq = next((a.s.decode() for a in node.attribute if a.name == "equation"), "")
    lhs = eq.replace(" ", "").split("->")[0]
    if "..." in lhs:
        issues.append(f"Einsum {node.name!r} uses an ellipsis ({eq}), refused by the TensorRT parser")
    for operand in lhs.split(","):
        if len(set(operand)) != len(operand):
            issues.append(f"Einsum {node.name!r} takes a diagonal ({eq}), refused by the TensorRT parser")


def _check_nodes(nodes, constants: set, table: dict, plugin_domains, issues: list, where="graph") -> None:
    supported = set(table["operators"])
    refused = set(table["control_flow_refused"])
    for node in nodes:
        label = f"{where}: {node.op_type} node {node.name!r}"
        if any(a.g.node or a.graphs for a in node.attribute):
            issues.append(f"{label} carries a subgraph")
        if node.domain in STANDARD_DOMAINS:
            if node.op_type in refused:
                issues.append(f"{label}: control flow is not allowed in the deployable graph")
            elif node.op_type not in supported:
                issues.append(f"{label}: not in the TensorRT {table['tensorrt']} ONNX support list")
            elif node.op_type == "Einsum":
                _check_einsum(node, issues)
            elif node.op_type == "Conv" and len(node.input) > 1 and node.input[1] not in constants:
                issues.append(f"{label}: weights must be an initializer for TensorRT")
        elif node.domain in plugin_domains:
            attrs = {a.name for a in node.attribute}
            if "plugin_namespace" not in attrs:
                issues.append(f"{label}: custom-domain node without a plugin_namespace attribute")
        else:
            issues.append(f"{label}: domain {node.domain!r} is neither standard nor a bharnet plugin")
        if node.op_type == "Constant":
            constants.update(node.output)


def lint(model, batch: str = "batch", plugin_domains=PLUGIN_DOMAINS) -> list[str]:
    """The list of problems (empty when the graph is TensorRT-ready). model: ModelProto or bytes."""
    import onnx

    if isinstance(model, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(model))
    table = support_table()
    issues: list[str] = []
    lo, hi = table["opset_range"]
    for imp in model.opset_import:
        if imp.domain in STANDARD_DOMAINS and not lo <= imp.version <= hi:
            issues.append(f"opset {imp.version} is outside TensorRT {table['tensorrt']}'s range {lo}..{hi}")
    g = model.graph
    init_names = {i.name for i in g.initializer}
    for vi in g.input:
        if vi.name not in init_names:
            _check_dims(vi, "input", batch, True, issues)
    for vi in g.output:
        _check_dims(vi, "output", batch, True, issues)
    for vi in g.value_info:
        _check_dims(vi, "value", batch, False, issues)
    _check_nodes(g.node, set(init_names), table, plugin_domains, issues)
    for f in model.functions:  # the exporter inlines; lint any leftover function bodies too
        _check_nodes(f.node, set(), table, plugin_domains, issues, where=f"function {f.name}")
    return issues


def check_trt_ready(model, **kw) -> None:
    issues = lint(model, **kw)
    if issues:
        raise TrtLintError("graph is not TensorRT-ready:\n  " + "\n  ".join(issues))


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bharnet.export.trt_lint", description=__doc__.split("\n")[0])
    ap.add_argument("path")
    ap.add_argument("--member", default="model.onnx", help="graph inside a bundle")
    a = ap.parse_args(argv)
    if a.path.endswith(".bharnet"):
        from bharnet.bundle import open_bundle

        data = open_bundle(a.path).member(a.member)
    else:
        data = pathlib.Path(a.path).read_bytes()
    issues = lint(data)
    for i in issues:
        print(i)
    print("TensorRT-ready" if not issues else f"{len(issues)} problem(s)")
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
