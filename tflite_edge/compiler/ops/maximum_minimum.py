"""MAXIMUM and MINIMUM, int8 and int16, with broadcasting (up to 5-D, as TFLM's
MaximumMinimumBroadcastSlow): TFLM compares the raw quantized values without rescaling, so
we do too, whatever the operands' scales and zero points."""

from __future__ import annotations

from ..operands import require_quantized
from ..registry import EmitContext, register_op
from .elementwise import broadcast_struct

DTYPES = ("int8", "int16")


def _emit(ctx: EmitContext, name: str) -> str:
    a, b = (ctx.inputs + [None] * 2)[:2]
    y = ctx.outputs[0]
    dtype = require_quantized(ctx, a, b, y, dtypes=DTYPES)
    p = broadcast_struct(ctx, a, b, y, max_dims=5)
    ctx.require_header("tfle_maximum_minimum.h")
    suffix = "s8" if dtype.itemsize == 1 else "s16"
    return f"tfle_{name}_{suffix}(&{p}, {a.expr}, {b.expr}, {y.expr});"


@register_op("MAXIMUM", dtypes=DTYPES)
def _emit_maximum(ctx: EmitContext) -> str:
    return _emit(ctx, "maximum")


@register_op("MINIMUM", dtypes=DTYPES)
def _emit_minimum(ctx: EmitContext) -> str:
    return _emit(ctx, "minimum")
