"""The MAC counter: multiply-accumulates of one inference, from the model's tensor shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .reader import Model, load_model

# The ops whose multiply-accumulates are counted (their input 1 is the weight tensor).
MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def count_macs(model: str | Path | bytes | Model) -> int:
    """Multiply-accumulates of one inference over CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED."""
    return sum(row["macs"] for row in macs_by_op(model))


def macs_by_op(model: str | Path | bytes | Model) -> list[dict[str, Any]]:
    """MACs of each CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED operator, from tensor shapes.

    conv: every output element sums kh * kw * (input channels per group) products;
    depthwise: kh * kw per output element; fully connected: the weights' input width per output.
    """
    m = load_model(model)
    rows = []
    for op in m.operators:
        if op.op not in MAC_OPS:
            continue
        out = m.tensors[op.outputs[0]]
        w = m.tensors[op.inputs[1]]
        outputs = int(np.prod(out.shape, dtype=np.int64))
        if op.op == "CONV_2D":
            per_output = int(np.prod(w.shape[1:], dtype=np.int64))  # [out_c, kh, kw, in_c/group]
        elif op.op == "DEPTHWISE_CONV_2D":
            per_output = int(w.shape[1] * w.shape[2])  # [1, kh, kw, in_c * multiplier]
        else:
            per_output = int(w.shape[-1])  # [units, in_features]
        rows.append({"op_index": op.index, "op": op.op, "macs": outputs * per_output})
    return rows
