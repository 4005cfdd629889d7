"""LOG_SOFTMAX, int8 (TFLM has no int16 LOG_SOFTMAX) over the last dimension, as TFLM's
reference LogSoftmaxQuantized; the output must be quantized as TFLM requires (16/256, 127)."""

from __future__ import annotations

import numpy as np

from ...model import quant
from ..operands import require_quantized
from ..params import declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_log_softmax_params",
    ints(
        "outer_size depth input_multiplier input_left_shift reverse_multiplier reverse_shift "
        "diff_min"
    ),
    header="tfle_log_softmax.h",
)

OUTPUT_SCALE = np.float32(16.0 / 256)
OUTPUT_ZERO_POINT = 127


def log_softmax_params(shape: tuple[int, ...], input_scale: float) -> dict:
    """TFLM's CalculateOpData: PreprocessLogSoftmaxScalingExp with beta 1 and 5 integer bits,
    diff_min = -CalculateInputRadius(5, left_shift)."""
    mult, shift, diff_min = quant.softmax_params(input_scale, 1.0)
    if shift <= 0:
        raise ValueError(f"an input scale {input_scale} too small for TFLM's scaling")
    reverse = float(1 << (31 - shift)) / float(mult)
    rmult, rshift = quant.quantize_multiplier_smaller_than_one(reverse)
    depth = int(shape[-1]) if shape else 1
    outer = int(np.prod(shape[:-1], dtype=np.int64)) if shape else 1
    return {
        "outer_size": outer, "depth": depth, "input_multiplier": mult,
        "input_left_shift": shift, "reverse_multiplier": rmult, "reverse_shift": rshift,
        "diff_min": diff_min,
    }  # fmt: skip


@register_op("LOG_SOFTMAX", dtypes=("int8",))
def _emit_log_softmax(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    require_quantized(ctx, x, y, dtypes=("int8",))
    if tuple(x.shape) != tuple(y.shape):
        ctx.unsupported(f"an output {tuple(y.shape)} for an input {tuple(x.shape)}")
    if np.float32(y.scale) != OUTPUT_SCALE or y.zero_point != OUTPUT_ZERO_POINT:
        ctx.unsupported(
            f"an output quantized as ({y.scale}, {y.zero_point}); TFLM requires (1/16, 127)"
        )
    try:
        values = log_softmax_params(tuple(x.shape), x.scale)
    except ValueError as err:
        ctx.unsupported(str(err))
    p = ctx.param_struct("log_softmax", "tfle_log_softmax_params", values)
    return f"tfle_log_softmax_s8(&{p}, {x.expr}, {y.expr});"
