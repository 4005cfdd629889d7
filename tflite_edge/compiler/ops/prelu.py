"""PRELU (Keras PReLU): int8, and int16 activations with an int8 alpha (TFLM's two quantized
paths), alpha constant or not, broadcast to the input (numpy rules, up to 6-D)."""

from __future__ import annotations

import numpy as np

from ...model import quant
from ..operands import require_quantized
from ..params import declare_struct, ints
from ..registry import EmitContext, register_op
from .elementwise import broadcast_struct

DTYPES = ("int8", "int16")

declare_struct(
    "tfle_prelu_params",
    ints("input_offset alpha_offset output_offset mult1 shift1 mult2 shift2 qmin qmax"),
    header="tfle_prelu.h",
)


def prelu_params(x_scale, x_zp, a_scale, a_zp, y_scale, y_zp, dtype) -> dict:
    """tfle_prelu_params as TFLM's CalculatePreluParams: double products of float32 scales."""
    xs, as_, ys = (float(np.float32(s)) for s in (x_scale, a_scale, y_scale))
    m1, s1 = quant.quantize_multiplier(xs / ys)
    m2, s2 = quant.quantize_multiplier(xs * as_ / ys)
    info = np.iinfo(dtype)
    return {
        "input_offset": -int(x_zp), "alpha_offset": -int(a_zp), "output_offset": int(y_zp),
        "mult1": m1, "shift1": s1, "mult2": m2, "shift2": s2,
        "qmin": int(info.min), "qmax": int(info.max),
    }  # fmt: skip


@register_op("PRELU", dtypes=DTYPES)
def _emit_prelu(ctx: EmitContext) -> str:
    x, alpha = (ctx.inputs + [None] * 2)[:2]
    y = ctx.outputs[0]
    dtype = require_quantized(ctx, x, y, dtypes=DTYPES)
    require_quantized(ctx, alpha, dtypes=("int8",))  # TFLM reads alpha as int8 in both paths
    for v in (x, alpha, y):
        if np.asarray(v.quant.scale).size > 1:
            ctx.unsupported(f"per-channel quantization of {v.name!r} (TFLM uses one scale)")
    b = broadcast_struct(ctx, x, alpha, y)
    values = prelu_params(
        x.scale, x.zero_point, alpha.scale, alpha.zero_point, y.scale, y.zero_point, dtype
    )
    p = ctx.param_struct("prelu", "tfle_prelu_params", values)
    suffix = "s8" if dtype.itemsize == 1 else "s16"
    return f"tfle_prelu_{suffix}(&{p}, &{b}, {x.expr}, {alpha.expr}, {y.expr});"
