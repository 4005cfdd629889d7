"""SQUARED_DIFFERENCE (tf.math.squared_difference), int8 and int16 (zero points 0, as TFLM
requires), with broadcasting up to 4-D, as TFLM's quantized SquaredDifference."""

from __future__ import annotations

import numpy as np

from ...model import quant
from ..operands import guard, require_quantized
from ..params import declare_struct, ints
from ..registry import EmitContext, register_op
from .elementwise import broadcast_params

DTYPES = ("int8", "int16")

declare_struct(
    "tfle_squared_difference_params",
    ints(
        "input1_offset input2_offset output_offset left_shift input1_multiplier input1_shift "
        "input2_multiplier input2_shift output_multiplier output_shift qmin qmax"
    ),
    header="tfle_squared_difference.h",
)


def squared_difference_params(s1, z1, s2, z2, so, zo, dtype) -> dict:
    """TFLM's PrepareQuantized: both inputs to twice the larger scale, in double; the output
    multiplier over (1 << 2 * left_shift) * output_scale computed in float32."""
    left_shift = 7 if np.dtype(dtype) == np.int8 else 0
    f1, f2, fo = np.float32(s1), np.float32(s2), np.float32(so)
    twice = 2.0 * float(max(f1, f2))
    m1, sh1 = quant.quantize_multiplier_smaller_than_one(float(f1) / twice)
    m2, sh2 = quant.quantize_multiplier_smaller_than_one(float(f2) / twice)
    mo, sho = quant.quantize_multiplier(
        (twice * twice) / float(np.float32(np.float32(1 << (2 * left_shift)) * fo))
    )
    info = np.iinfo(dtype)
    return {
        "input1_offset": -int(z1), "input2_offset": -int(z2), "output_offset": int(zo),
        "left_shift": left_shift, "input1_multiplier": m1, "input1_shift": sh1,
        "input2_multiplier": m2, "input2_shift": sh2, "output_multiplier": mo,
        "output_shift": sho, "qmin": int(info.min), "qmax": int(info.max),
    }  # fmt: skip


@register_op("SQUARED_DIFFERENCE", dtypes=DTYPES)
def _emit_squared_difference(ctx: EmitContext) -> str:
    a, b = (ctx.inputs + [None] * 2)[:2]
    y = ctx.outputs[0]
    dtype = require_quantized(ctx, a, b, y, dtypes=DTYPES)
    for v in (a, b, y):
        if np.asarray(v.quant.scale).size > 1:
            ctx.unsupported(f"per-channel quantization of {v.name!r}")
    if dtype == np.int16 and any(v.zero_point != 0 for v in (a, b, y)):
        ctx.unsupported("int16 zero points other than 0 (TFLM requires 0)")
    if max(len(a.shape), len(b.shape), len(y.shape)) > 4:
        ctx.unsupported("more than 4 dimensions (TFLM broadcasts SQUARED_DIFFERENCE up to 4-D)")
    try:
        want = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        ctx.unsupported(f"shapes {tuple(a.shape)} and {tuple(b.shape)} that do not broadcast")
    if tuple(want) != tuple(y.shape):
        ctx.unsupported(f"an output {tuple(y.shape)} for inputs {a.shape} and {b.shape}")
    bc = guard(ctx, broadcast_params, tuple(a.shape), tuple(b.shape), tuple(y.shape))
    values = squared_difference_params(
        a.scale, a.zero_point, b.scale, b.zero_point, y.scale, y.zero_point, dtype
    )
    p = ctx.param_struct("sqdiff", "tfle_squared_difference_params", values)
    bp = ctx.param_struct("bcast", "tfle_bcast", bc)
    suffix = "s8" if dtype.itemsize == 1 else "s16"
    return f"tfle_squared_difference_{suffix}(&{p}, &{bp}, {a.expr}, {b.expr}, {y.expr});"
