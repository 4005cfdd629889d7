"""FULLY_CONNECTED: packed GEMM, sparse, or weights in their own OI layout (int8); int16
activations with int8 weights (16x8) take tfle_fully_connected_s16."""

from __future__ import annotations

import numpy as np

from ..operands import activation_range, channel_multipliers, require_int8, require_quantized
from ..packing import bias_s64, fits_gather, folded_bias, maybe_sparse, pack_pairs
from ..params import S16_HEADER
from ..registry import EmitContext, register_op


def _fully_connected_s16(ctx: EmitContext) -> str:
    x, w, b = (ctx.inputs + [None])[:3]
    y = ctx.outputs[0]
    require_quantized(ctx, x, y, dtypes=("int16",))
    if w is None or w.dtype != np.int8 or w.quant is None:
        ctx.unsupported("int16 activations with weights that are not quantized int8")
    if not w.is_constant:
        ctx.unsupported("weights that are not a constant")
    if ctx.options.get("weightsFormat", 0) != 0:
        ctx.unsupported("shuffled weights (weightsFormat != DEFAULT)")
    if len(w.shape) != 2:
        ctx.unsupported(f"weights of shape {w.shape}")
    if np.any(np.asarray(w.quant.zero_point) != 0):
        ctx.unsupported("int8 weights with a nonzero zero point (TFLM's use 0)")
    out_depth, in_depth = w.shape
    if (
        x.size % in_depth != 0
        or y.size % out_depth != 0
        or y.size // out_depth != x.size // in_depth
    ):
        ctx.unsupported(f"weights {w.shape} for input {x.shape} and output {y.shape}")
    amin, amax = activation_range(ctx.options.get("fusedActivationFunction"), y)
    mult, shift, per_channel = channel_multipliers(ctx, x, w, y, out_depth)
    bias = bias_s64(ctx, b, out_depth)
    params = ctx.param_struct(
        "params",
        "tfle_fc_params",
        {
            "batches": x.size // in_depth, "in_depth": in_depth, "out_depth": out_depth,
            "input_offset": -x.zero_point, "filter_offset": 0,
            "output_offset": y.zero_point, "act_min": amin, "act_max": amax,
            "per_channel": per_channel,
        },
    )  # fmt: skip
    ctx.require_header(S16_HEADER)
    return (
        f"tfle_fully_connected_s16(&{params}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, "
        f"{y.expr});"
    )


@register_op("FULLY_CONNECTED", dtypes=("int8", "int16"))
def _fully_connected(ctx: EmitContext) -> str:
    x, w, b = (ctx.inputs + [None])[:3]
    y = ctx.outputs[0]
    if x is not None and x.dtype == np.int16:
        return _fully_connected_s16(ctx)
    require_int8(ctx, x, w, y)
    if not w.is_constant:
        ctx.unsupported("weights that are not a constant")
    if ctx.options.get("weightsFormat", 0) != 0:
        ctx.unsupported("shuffled weights (weightsFormat != DEFAULT)")
    if len(w.shape) != 2:
        ctx.unsupported(f"weights of shape {w.shape}")
    out_depth, in_depth = w.shape
    if x.size % in_depth != 0 or y.size % out_depth != 0:
        ctx.unsupported(f"weights {w.shape} for input {x.shape} and output {y.shape}")
    batches = x.size // in_depth
    amin, amax = activation_range(ctx.options.get("fusedActivationFunction"), y)
    if w.zero_point != 0:
        ctx.unsupported(f"weights with zero point {w.zero_point} (TFLM's int8 weights use 0)")
    mult, shift, per_channel = channel_multipliers(ctx, x, w, y, out_depth)
    bias = folded_bias(ctx, b, x, np.asarray(w.data))
    sparse = maybe_sparse(ctx, np.asarray(w.data))
    params = ctx.param_struct(
        "params",
        "tfle_fc_params",
        {
            "batches": batches, "in_depth": in_depth, "out_depth": out_depth,
            "input_offset": -x.zero_point, "filter_offset": -w.zero_point,
            "output_offset": y.zero_point, "act_min": amin, "act_max": amax,
            "per_channel": per_channel,
        },
    )  # fmt: skip
    if sparse:
        return (
            f"tfle_fully_connected_sparse_s8(&{params}, {x.expr}, &{sparse}, {bias}, "
            f"{mult}, {shift}, {y.expr});"
        )
    if in_depth % 4 == 0 or fits_gather(in_depth):
        packed = ctx.const_array("weights", pack_pairs(np.asarray(w.data)), align=4)
        return (
            f"tfle_fully_connected_packed_s8(&{params}, {x.expr}, {packed}, {bias}, {mult}, "
            f"{shift}, {y.expr});"
        )
    return (
        f"tfle_fully_connected_s8(&{params}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, "
        f"{y.expr});"
    )
