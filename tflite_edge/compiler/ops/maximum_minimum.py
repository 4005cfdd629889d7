"""MAXIMUM and MINIMUM, int8 and int16, with broadcasting (up to 5-D, as TFLM's
MaximumMinimumBroadcastSlow): TFLM compares the raw quantized values without rescaling, so
we do too, whatever the operands' scales and zero points."""

from __future__ import annotations

import numpy as np

from ..operands import guard, require_quantized
from ..registry import EmitContext, register_op
from .elementwise import broadcast_params

DTYPES = ("int8", "int16")


def _emit(ctx: EmitContext, name: str) -> str:
    a, b = (ctx.inputs + [None] * 2)[:2]
    y = ctx.outputs[0]
    dtype = require_quantized(ctx, a, b, y, dtypes=DTYPES)
    if max(len(a.shape), len(b.shape), len(y.shape)) > 5:
        ctx.unsupported("more than 5 dimensions (TFLM broadcasts up to 5-D)")
    try:
        want = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        ctx.unsupported(f"shapes {tuple(a.shape)} and {tuple(b.shape)} that do not broadcast")
    if tuple(want) != tuple(y.shape):
        ctx.unsupported(f"an output {tuple(y.shape)} for inputs {a.shape} and {b.shape}")
    bc = guard(ctx, broadcast_params, tuple(a.shape), tuple(b.shape), tuple(y.shape))
    p = ctx.param_struct("bcast", "tfle_bcast", bc)
    ctx.require_header("tfle_maximum_minimum.h")
    suffix = "s8" if dtype.itemsize == 1 else "s16"
    return f"tfle_{name}_{suffix}(&{p}, {a.expr}, {b.expr}, {y.expr});"


@register_op("MAXIMUM", dtypes=DTYPES)
def _emit_maximum(ctx: EmitContext) -> str:
    return _emit(ctx, "maximum")


@register_op("MINIMUM", dtypes=DTYPES)
def _emit_minimum(ctx: EmitContext) -> str:
    return _emit(ctx, "minimum")
